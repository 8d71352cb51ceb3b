"""mc_kl on chosen log-ratios: every zero density and every overflow is counted, per batch
element, whatever the chunking, on NumPy and on torch (issue 14's montecarlo survivors).

p "draws" an array of log-ratio values t chosen by Hypothesis (tests/scripted_draws.py),
so each batch element has an exact answer: KL(p ‖ q) = ∞ with standard error 0 where
q has zero density at a draw (t = −∞), whether one draw or many, in any chunk; the value
∞ with standard error ∞ where a term overflows float64 and no density is zero; else the
mean of the terms and sqrt(s²/n), here at 50 digits. The reason names how many draws (or
which batch elements: the first five in row-major order, then ", ...") for each cause.
Where the value is ∞ the skewness is 0, and where KL = ∞ exactly k̂ is NaN, the result
is reliable and no warning covers it.
"""

from __future__ import annotations

import math
import re
import warnings
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from scripted_draws import FLOAT64_MAX, Draws, LogRatioIs, exact_column

from klmath import KLEstimatorWarning, mc_kl
from klmath.montecarlo import estimator_terms

SHAPES = [(), (1,), (3,), (7,), (2, 4)]
# A log-ratio whose term overflows float64: k3 = eᵗ − 1 − t (e^800), k2 = t²/2 ((2e154)²/2).
OVERFLOW = {"k2": 2e154, "k3": 800.0}

Case = tuple[str, str, np.ndarray, int]


@st.composite
def scripted(draw: st.DrawFn) -> Case:
    """(backend, estimator, t of shape (n, *batch), chunk_size): finite t in [−3, 3], a few
    draws made zero-density (−∞) or, for k2 and k3, overflowing."""
    backend = draw(st.sampled_from(["numpy", "torch"]))
    estimator = draw(st.sampled_from(["k1", "k2", "k3"]))
    shape = draw(st.sampled_from(SHAPES))
    n = draw(st.integers(2, 30))
    size = n * math.prod(shape)
    t = np.array(draw(st.lists(st.floats(-3.0, 3.0), min_size=size, max_size=size)))
    kinds = ["zero", "over"] if estimator in OVERFLOW else ["zero"]
    marks = draw(st.lists(st.tuples(st.integers(0, size - 1), st.sampled_from(kinds)), max_size=8))
    for at, kind in marks:
        t[at] = -math.inf if kind == "zero" else OVERFLOW[estimator]
    return backend, estimator, t.reshape(n, *shape), draw(st.integers(1, n))


def _where(elements: list[tuple[int, ...]], count: int, batched: bool) -> str:
    """How the reason names where a cause held: a count of draws unbatched, else the first
    five batch indices (row-major), then ", ..." if there are more."""
    if not batched:
        return str(count)
    shown = ", ".join(str(e) for e in elements[:5]) + (", ..." if len(elements) > 5 else "")
    return f"some (batch indices {shown})"


def _kind(res: Any, backend: str, device: torch.device) -> None:
    """Every array field has the kind of p: torch float64 tensors (bool for the flags) for a
    torch p; for a NumPy p a np.float64 (np.bool_) when unbatched, else float64 arrays."""
    floats = (res.value, res.stderr, res.skewness, res.khat)
    flags = (res.reliable, res.warned)
    if backend == "torch":
        assert all(isinstance(v, torch.Tensor) and v.dtype == torch.float64 for v in floats)
        assert all(isinstance(v, torch.Tensor) and v.dtype == torch.bool for v in flags)
        assert all(v.device == device for v in (*floats, *flags))
    else:
        unbatched = np.ndim(res.value) == 0
        float_type = np.float64 if unbatched else np.ndarray
        assert all(type(v) is float_type and v.dtype == np.float64 for v in floats), floats
        flag_type = np.bool_ if unbatched else np.ndarray
        assert all(type(v) is flag_type and v.dtype == bool for v in flags), flags


@given(case=scripted())
# One zero-density draw, one overflowing draw: each alone decides the value.
@example(case=("numpy", "k3", np.array([0.1, -math.inf, 0.2, 0.3]), 2))
@example(case=("torch", "k1", np.array([0.1, 0.2, -math.inf]), 3))
@example(case=("numpy", "k3", np.array([0.1, 800.0, 0.2, 0.3]), 2))
@example(case=("torch", "k2", np.array([0.1, 0.2, 2e154]), 1))
# Element 1 overflows in two chunks (counts add, never cancel); element 0 stays finite.
@example(case=("numpy", "k3", np.array([[0.1, 800.0], [0.3, 0.2], [-0.2, 800.0], [0.5, 0.1]]), 2))
# Zero density in element 0 and overflow in element 1: both reasons, joined.
@example(case=("numpy", "k2", np.array([[-math.inf, 0.3], [0.2, 2e154], [1.5, 0.1]]), 3))
# Zero density where the other draws are skewed: the skewness is still 0.
@example(case=("numpy", "k3", np.array([2.9, 0.0, 0.1, -math.inf, 0.05]), 5))
# Five, six and seven of seven batch elements with a zero density (", ..." after five).
@example(case=("numpy", "k1", np.array([[-math.inf] * 5 + [0.5, 0.2], [0.1] * 7]), 1))
@example(case=("numpy", "k1", np.array([[-math.inf] * 6 + [0.5], [0.1] * 7]), 2))
@example(case=("torch", "k3", np.array([[-math.inf] * 7, [0.1] * 7]), 1))
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])  # device: read only
def test_every_zero_density_and_overflow_is_counted_per_element(
    case: Case, device: torch.device
) -> None:
    backend, estimator, t, chunk = case
    n, shape = t.shape[0], t.shape[1:]
    device = torch.empty(0, device=device).device  # "cuda" -> "cuda:0"
    p, q = Draws(t, backend, device), LogRatioIs(shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", KLEstimatorWarning)  # k2 always warns
        warnings.simplefilter("error", RuntimeWarning)  # an overflow is reported, not warned
        res = mc_kl(p, q, n, estimator=estimator, chunk_size=chunk)
    _kind(res, backend, device)
    value, stderr, skew, khat, reliable, warned = (
        np.asarray(torch.as_tensor(v).cpu()) if backend == "torch" else np.asarray(v)
        for v in (res.value, res.stderr, res.skewness, res.khat, res.reliable, res.warned)
    )
    assert value.shape == shape
    zeros: list[tuple[int, ...]] = []
    overs: list[tuple[int, ...]] = []
    for j in np.ndindex(*shape):
        exact = exact_column(t[(slice(None), *j)], estimator)
        if exact["zero"]:
            zeros.append(j)
            assert value[j] == math.inf and stderr[j] == 0.0, j
            assert math.isnan(khat[j]) and reliable[j] and not warned[j], j
        elif exact["over"]:
            overs.append(j)
            assert value[j] == math.inf and stderr[j] == math.inf, j
        else:
            # Terms are at most e³ here; a few ulp of that per draw bounds the error.
            assert abs(value[j] - exact["mean"]) <= 1e-13 * (1.0 + exact["scale"]), j
            assert abs(stderr[j] - exact["stderr"]) <= 1e-13 * (1.0 + exact["scale"]), j
            continue
        assert skew[j] == 0.0, j
    batched = bool(shape)
    parts = []
    if zeros:
        count = int(np.sum(t == -math.inf))
        where = re.escape(_where(zeros, count, batched))
        parts.append(
            rf"q \(LogRatioIs\) has zero density at {where} of the {n} draws of p \(Draws\), "
            r"so KL\(p ‖ q\) = inf"
        )
    if overs:
        count = 0 if batched else exact_column(t, estimator)["overs"]
        where = re.escape(_where(overs, count, batched))
        parts.append(
            rf"the {estimator} terms overflowed float64 \([^)]*\) at {where} draws; "
            r"estimator='k1' does not overflow"
        )
    if parts:
        assert res.reason is not None and re.fullmatch("; ".join(parts), res.reason), res.reason
    else:
        assert res.reason is None


@pytest.mark.parametrize("estimator", ["k2", "k3"])
def test_the_stated_overflow_threshold_is_where_terms_overflow(estimator: str) -> None:
    # k3 = eᵗ − 1 − t exceeds float64 iff r = eᵗ > e^709.78 (the reason says e^709);
    # k2 = t²/2 iff |t| > √2·√max = 1.896e154 (the reason says 1.9e154).
    edge = math.log(FLOAT64_MAX) if estimator == "k3" else math.sqrt(2.0) * math.sqrt(FLOAT64_MAX)
    terms = estimator_terms(np.array([0.999 * edge, 1.001 * edge]), estimator)
    assert math.isfinite(terms[0]) and terms[1] == math.inf
    res = mc_kl(Draws([0.1, 1.001 * edge, 0.2]), LogRatioIs(()), 3, estimator=estimator)
    assert res.value == math.inf and res.reason is not None
    if estimator == "k3":
        stated = re.search(r"\(r = q/p beyond e\^(\d+)\)", res.reason)
        assert stated is not None and int(stated.group(1)) == math.floor(edge)
    else:
        stated = re.search(r"\(\|log r\| beyond ([0-9.]+e\+?\d+)\)", res.reason)
        assert stated is not None and float(stated.group(1)) == float(f"{edge:.2g}")
