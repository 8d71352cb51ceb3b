"""k3's check E_p[r] = 1: where it fails, what it says, and what it changes.

k3 = (r − 1) − log r is unbiased only if E_p[r − 1] = 0; mc_kl averages r − 1 on the
same draws and fails the check where that mean is *more than* 5 standard errors from 0.
On draws of chosen log-ratios (tests/scripted_draws.py) the mean and standard error of
r − 1 are known exactly: the check is tested at its threshold, its message against them
(to the digits it quotes) and at the first failing batch element, and a failed check
makes that element unreliable and covered by the warning, on NumPy and torch.
"""

from __future__ import annotations

import math
import re
import warnings
from typing import Any

import numpy as np
import pytest
import scipy.stats
import torch
from scripted_draws import Draws, LogRatioIs, exact_column
from torch.distributions import Uniform

from klmath import KLEstimatorWarning, mc_kl

MESSAGE = re.compile(
    r"k3 assumes E_p\[r\] = 1 for r = q/p, but the mean of r − 1 is (?P<mean>\S+) ± (?P<se>\S+)"
    r"(?: at batch index (?P<at>\([\d, ]*\)))? \((?P<z>\S+) standard errors\)\. (?P<why>.*)"
)
# The two ways the check fails, and the remedy (module docstring, mc_kl Notes).
CAUSES = (
    "q has mass where p has none (then E[k3] = KL − that mass: biased)",
    "r has infinite variance (q heavier-tailed than p: the standard error is unreliable)",
    "Use estimator='k1'",
)


def _log1p_exact(v: float) -> float:
    """t with eᵗ − 1 = v exactly in float64 (NumPy and torch), so r − 1 = v at that draw."""
    t = math.log1p(v)
    assert np.expm1(t) == v and torch.expm1(torch.tensor(t, dtype=torch.float64)).item() == v
    return t


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("chunk", [1, 2])
@pytest.mark.parametrize(("b", "fails"), [(0.999, False), (1.0, False), (1.001, True)])
def test_the_check_fails_only_beyond_five_standard_errors(
    b: float, fails: bool, chunk: int, backend: str
) -> None:
    # r − 1 ∈ {3/2, b}: mean (3/2 + b)/2, standard error |3/2 − b|/2, so the mean is
    # (3/2 + b)/(3/2 − b) standard errors: exactly 5 at b = 1 (every step exact in
    # float64), just under at 0.999, just over at 1.001. Only "more than 5" fails.
    t = np.array([_log1p_exact(1.5), _log1p_exact(b) if b == 1.0 else math.log1p(b)])
    exact = exact_column(t, "k3")
    assert exact["check_mean"] / exact["check_stderr"] == pytest.approx((1.5 + b) / (1.5 - b))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = mc_kl(Draws(t, backend), LogRatioIs(()), 2, chunk_size=chunk)
    ours = [w for w in caught if issubclass(w.category, KLEstimatorWarning)]
    assert (res.diagnostic is not None) == fails
    assert len(ours) == int(fails) and (not fails or str(ours[0].message) == res.diagnostic)


def _batched_draws() -> np.ndarray:
    """30 evenly spaced log-ratios per element (a bounded, light tail: k̂ < ⅓), centred at
    0, 0.3 and 0.5: E[r − 1] ≈ 0 in element 0, far from it in elements 1 and 2."""
    spread = 0.01 * (np.arange(30) - 14.5)
    return np.stack([spread, 0.5 + spread, 0.3 + spread], axis=1)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("batched", [False, True])
def test_a_failed_check_is_quoted_unreliable_and_warned(
    batched: bool, backend: str, device: torch.device
) -> None:
    t = _batched_draws() if batched else _batched_draws()[:, 2]
    shape = t.shape[1:]
    with pytest.warns(KLEstimatorWarning) as caught:
        res = mc_kl(Draws(t, backend, device), LogRatioIs(shape), 30, chunk_size=7)
    assert res.diagnostic is not None and str(caught[0].message) == res.diagnostic
    quoted = MESSAGE.fullmatch(res.diagnostic)
    assert quoted is not None, res.diagnostic
    assert all(cause in quoted["why"] for cause in CAUSES)
    columns = t.reshape(30, -1)  # unbatched: the one column
    exact = [exact_column(columns[:, j], "k3") for j in range(columns.shape[1])]
    failing = [abs(c["check_mean"]) > 5 * c["check_stderr"] for c in exact]
    assert failing == ([False, True, True] if batched else [True])
    mean, se = exact[failing.index(True)]["check_mean"], exact[failing.index(True)]["check_stderr"]
    assert float(quoted["mean"]) == pytest.approx(mean, rel=5e-3)  # 3 digits quoted
    assert float(quoted["se"]) == pytest.approx(se, rel=5e-2)  # 2 digits
    assert abs(float(quoted["z"]) - mean / se) <= 0.05 + 1e-9 * mean / se  # 1 decimal
    assert quoted["at"] == ("(1,)" if batched else None)  # the first failing element
    reliable = np.asarray(torch.as_tensor(res.reliable).cpu()).reshape(-1)
    warned = np.asarray(torch.as_tensor(res.warned).cpu()).reshape(-1)
    np.testing.assert_array_equal(reliable, ~np.array(failing))
    np.testing.assert_array_equal(warned, np.array(failing))
    khat = np.asarray(torch.as_tensor(res.khat).cpu()).reshape(-1)
    assert bool(np.all(khat <= 1 / 3))  # only the check makes them unreliable


P_Q = [
    pytest.param(scipy.stats.uniform(0, 1), scipy.stats.uniform(0, 2), id="scipy"),
    pytest.param(
        Uniform(torch.tensor(0.0, dtype=torch.float64), 1.0),
        Uniform(torch.tensor(0.0, dtype=torch.float64), 2.0),
        id="torch",
    ),
]


@pytest.mark.parametrize(("p", "q"), P_Q)
def test_missing_mass_with_a_constant_ratio_is_infinitely_many_standard_errors(
    p: Any, q: Any
) -> None:
    # p = U(0, 1), q = U(0, 2): r = ½ at every draw, so r − 1 = −½ with standard error
    # 0: the check fails by infinitely many standard errors. q's mass ½ outside [0, 1]
    # is missed: E[k3] = −½ + log 2 = KL(p ‖ q) − ½, exactly what every draw gives.
    with pytest.warns(KLEstimatorWarning):
        res = mc_kl(p, q, 100, seed=0)
    assert float(res.value) == pytest.approx(math.log(2.0) - 0.5, rel=1e-15)
    assert float(res.stderr) <= 1e-16  # equal terms, up to the rounding of their mean
    quoted = MESSAGE.fullmatch(res.diagnostic or "")
    assert quoted is not None, res.diagnostic
    assert (float(quoted["mean"]), float(quoted["se"]), quoted["z"]) == (-0.5, 0.0, "inf")
    assert quoted["at"] is None and all(cause in quoted["why"] for cause in CAUSES)
