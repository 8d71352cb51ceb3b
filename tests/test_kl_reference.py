"""Every pair in torch 2.13's KL registry: ``kl()`` against an independent computation.

For each of the 87 registered (P, Q) pairs, Hypothesis draws parameters (boundary
values included: probs 0 and 1, rate 0, uniforms touching 0 or 1, p = q and p near
q) and ``kl(p, q, method="exact")`` must agree with :mod:`kl_reference`: adaptive
quadrature at 25 digits for densities, exact summation for masses, the matrix
formula at 40 digits for Gaussians in d dimensions, stick-breaking for Dirichlets.
Whatever formula ``kl`` used (klmath's own for all but the exponential-family rule,
which is torch's), the value is never NaN, never negative, and infinite exactly when
the reference is, with a reason. A few examples per pair keep this test to seconds;
``bench/kl_reference.py`` sweeps many more and records torch's own errors.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import kl_reference as ref
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import distribution_parameters
from torch import distributions as D

from klmath import kl
from klmath._records import read_record

REGISTRY_PAIRS = sorted((p.__name__, q.__name__) for p, q in D.kl._KL_REGISTRY)

# Quadrature and 25-digit sums are exact to far below these; klmath's formulas are
# accurate to a few ulps of their largest term, which for pairs of different families
# (−H(p) − E_p log q, each O(1)) is an absolute error of about 1e−15.
RTOL = 1e-10
ATOL = 1e-12


def t64(x: Any) -> torch.Tensor:
    return torch.as_tensor(x, dtype=torch.float64)


# torch object and reference density/mass for each univariate family, from parameters.
TORCH: dict[str, Callable[[dict[str, Any]], Any]] = {
    "Normal": lambda a: D.Normal(t64(a["loc"]), t64(a["scale"])),
    "Laplace": lambda a: D.Laplace(t64(a["loc"]), t64(a["scale"])),
    "Cauchy": lambda a: D.Cauchy(t64(a["loc"]), t64(a["scale"])),
    "Gumbel": lambda a: D.Gumbel(t64(a["loc"]), t64(a["scale"])),
    "HalfNormal": lambda a: D.HalfNormal(t64(a["scale"])),
    "Exponential": lambda a: D.Exponential(t64(a["rate"])),
    "Gamma": lambda a: D.Gamma(t64(a["concentration"]), t64(a["rate"])),
    "Beta": lambda a: D.Beta(t64(a["concentration1"]), t64(a["concentration0"])),
    "Pareto": lambda a: D.Pareto(t64(a["scale"]), t64(a["alpha"])),
    "Uniform": lambda a: D.Uniform(t64(a["low"]), t64(a["high"])),
    "ContinuousBernoulli": lambda a: D.ContinuousBernoulli(t64(a["probs"])),
    "Bernoulli": lambda a: D.Bernoulli(t64(a["probs"])),
    "Binomial": lambda a: D.Binomial(t64(a["total_count"]), t64(a["probs"])),
    "Poisson": lambda a: D.Poisson(t64(a["rate"])),
    "Geometric": lambda a: D.Geometric(t64(a["probs"])),
    "Categorical": lambda a: D.Categorical(t64(a["probs"])),
    "OneHotCategorical": lambda a: D.OneHotCategorical(t64(a["probs"])),
    "Dirichlet": lambda a: D.Dirichlet(t64(a["concentration"])),
}

REFERENCE: dict[str, Callable[[dict[str, Any]], Any]] = {
    "Normal": lambda a: ref.normal(a["loc"], a["scale"]),
    "Laplace": lambda a: ref.laplace(a["loc"], a["scale"]),
    "Cauchy": lambda a: ref.cauchy(a["loc"], a["scale"]),
    "Gumbel": lambda a: ref.gumbel(a["loc"], a["scale"]),
    "HalfNormal": lambda a: ref.half_normal(a["scale"]),
    "Exponential": lambda a: ref.gamma(1.0, a["rate"]),
    "Gamma": lambda a: ref.gamma(a["concentration"], a["rate"]),
    "Beta": lambda a: ref.beta(a["concentration1"], a["concentration0"]),
    "Pareto": lambda a: ref.pareto(a["scale"], a["alpha"]),
    "Uniform": lambda a: ref.uniform(a["low"], a["high"]),
    "ContinuousBernoulli": lambda a: ref.continuous_bernoulli(a["probs"]),
    "Bernoulli": lambda a: ref.binomial(1, a["probs"]),
    "Binomial": lambda a: ref.binomial(a["total_count"], a["probs"]),
    "Poisson": lambda a: ref.poisson(a["rate"]),
    "Geometric": lambda a: ref.geometric(a["probs"]),
}


def _near(params: dict[str, Any], data: st.DataObject) -> dict[str, Any]:
    """params moved by a relative 1e−7 (probabilities: towards 1/2, staying valid)."""
    out = {}
    for key, value in params.items():
        if isinstance(value, list):
            out[key] = value
        elif key == "total_count":
            out[key] = value
        elif key == "probs":
            out[key] = value + 1e-7 * (0.5 - value)
        else:
            out[key] = value * (1 + data.draw(st.sampled_from([-1e-7, 1e-7]), label=f"near {key}"))
    if "low" in out:
        out["high"] = max(out["high"], out["low"] + 1e-3)
    return out


def _q_params(p_name: str, q_name: str, pp: dict[str, Any], data: st.DataObject) -> dict[str, Any]:
    if p_name != q_name:
        return data.draw(distribution_parameters(q_name), label="q")
    how = data.draw(st.sampled_from(["free", "same", "near"]), label="q is")
    if how == "same":
        return dict(pp)
    if how == "near":
        return _near(pp, data)
    return data.draw(distribution_parameters(q_name), label="q")


def univariate_case(p_name: str, q_name: str, data: st.DataObject) -> tuple[Any, Any, float]:
    pp = data.draw(distribution_parameters(p_name), label="p")
    qq = _q_params(p_name, q_name, pp, data)
    rp, rq = REFERENCE[p_name](pp), REFERENCE[q_name](qq)
    value = ref.kl_mass(rp, rq) if isinstance(rp, ref.Mass) else ref.kl_density(rp, rq)
    return TORCH[p_name](pp), TORCH[q_name](qq), value


# --------------------------------------------------------------------------- the others


@st.composite
def _spd(draw: st.DrawFn, d: int) -> np.ndarray:
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    a = rng.standard_normal((d, d))
    return a @ a.T + draw(st.sampled_from([0.1, 1.0])) * np.eye(d)


@st.composite
def _gaussian(draw: st.DrawFn, name: str, d: int) -> tuple[Any, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    mean = rng.standard_normal(d)
    if name == "MultivariateNormal":
        cov = draw(_spd(d))
        return D.MultivariateNormal(t64(mean), covariance_matrix=t64(cov)), mean, cov
    rank = draw(st.integers(1, 2))
    w = rng.standard_normal((d, rank))
    diag = rng.uniform(0.2, 2.0, d)
    dist = D.LowRankMultivariateNormal(t64(mean), t64(w), t64(diag))
    return dist, mean, w @ w.T + np.diag(diag)


def gaussian_case(p_name: str, q_name: str, data: st.DataObject) -> tuple[Any, Any, float]:
    d = data.draw(st.integers(1, 3), label="d")
    p, m0, c0 = data.draw(_gaussian(p_name, d), label="p")
    if p_name == q_name and data.draw(st.booleans(), label="q = p's parameters"):
        q, m1, c1 = (
            type(p)(p.loc, scale_tril=p.scale_tril)
            if q_name == "MultivariateNormal"
            else (D.LowRankMultivariateNormal(p.loc, p.cov_factor, p.cov_diag)),
            m0,
            c0,
        )
    else:
        q, m1, c1 = data.draw(_gaussian(q_name, d), label="q")
    return p, q, ref.kl_gaussian(list(m0), c0.tolist(), list(m1), c1.tolist())


def vector_case(name: str, data: st.DataObject) -> tuple[Any, Any, float]:
    pp = data.draw(distribution_parameters(name), label="p")
    qq = data.draw(st.one_of(st.just(pp), distribution_parameters(name)), label="q")
    if name == "Dirichlet":
        value = ref.kl_dirichlet3(pp["concentration"], qq["concentration"])
    else:
        value = ref.kl_vectors(pp["probs"], qq["probs"])
    return TORCH[name](pp), TORCH[name](qq), value


def independent_case(data: st.DataObject) -> tuple[Any, Any, float]:
    base = data.draw(st.sampled_from(["Normal", "Exponential", "Beta"]), label="base")
    pps = [data.draw(distribution_parameters(base), label="p") for _ in range(2)]
    qqs = [_q_params(base, base, pp, data) for pp in pps]

    def stacked(params: list[dict[str, Any]]) -> Any:
        keys = params[0].keys()
        return TORCH[base]({k: [a[k] for a in params] for k in keys})

    pairs = zip(pps, qqs, strict=True)
    value = sum(ref.kl_density(REFERENCE[base](a), REFERENCE[base](b)) for a, b in pairs)
    return D.Independent(stacked(pps), 1), D.Independent(stacked(qqs), 1), value


def transformed_case(data: st.DataObject) -> tuple[Any, Any, float]:
    pp = data.draw(distribution_parameters("Normal"), label="p")
    qq = _q_params("Normal", "Normal", pp, data)

    def log_normal(a: dict[str, Any]) -> Any:
        base = D.Normal(t64(a["loc"]), t64(a["scale"]))
        return D.TransformedDistribution(base, [D.ExpTransform()])

    value = ref.kl_density(
        ref.log_normal(pp["loc"], pp["scale"]), ref.log_normal(qq["loc"], qq["scale"])
    )
    return log_normal(pp), log_normal(qq), value


def wishart_case(data: st.DataObject) -> tuple[Any, Any, float]:
    n0, n1 = (data.draw(st.floats(min_value=2.0, max_value=12.0), label="df") for _ in range(2))
    v0, v1 = (data.draw(_spd(2), label="scale") for _ in range(2))
    p = D.Wishart(t64(n0), covariance_matrix=t64(v0))
    q = D.Wishart(t64(n1), covariance_matrix=t64(v1))
    return p, q, ref.kl_wishart(n0, v0.tolist(), n1, v1.tolist())


def draw_case(p_name: str, q_name: str, data: st.DataObject) -> tuple[Any, Any, float]:
    gaussians = ("MultivariateNormal", "LowRankMultivariateNormal")
    if p_name in gaussians:
        return gaussian_case(p_name, q_name, data)
    if p_name in ("Dirichlet", "Categorical", "OneHotCategorical"):
        return vector_case(p_name, data)
    if p_name == "Independent":
        return independent_case(data)
    if p_name == "TransformedDistribution":
        return transformed_case(data)
    if p_name == "ExponentialFamily":
        return wishart_case(data)
    return univariate_case(p_name, q_name, data)


def check_against_reference(res: Any, expected: float) -> None:
    value = float(res.value)
    assert res.exact and res.method == "exact"
    assert not math.isnan(value), f"NaN from {res.formula}"
    assert value >= 0.0, f"{value} < 0 from {res.formula}"
    if math.isinf(expected):
        assert value == math.inf, f"{res.formula} gave {value}, the reference ∞"
        assert res.reason, f"{res.formula}: inf without a reason"
        return
    assert math.isfinite(value), f"{res.formula} gave {value} ({res.reason}), reference {expected}"
    assert abs(value - expected) <= RTOL * abs(expected) + ATOL, (
        f"{res.formula}: {value!r} vs reference {expected!r} (error {abs(value - expected):.3g})"
    )


def test_the_registry_is_torch_2_13s() -> None:
    assert len(REGISTRY_PAIRS) == 87


def test_the_docs_table_has_a_checked_row_for_every_registry_pair() -> None:
    # docs/topics/kl-registry.md renders one row per pair of the record kl_reference_sweep
    # (tests/test_results_tables.py keeps the page equal to the record): every pair of
    # torch's registry must be there, with the formula used, the reference it was
    # checked against, draws, and no disagreement of klmath's value.
    pairs = read_record("kl_reference_sweep")["values"]["pairs"]
    assert sorted(pairs) == sorted(f"{p}-{q}" for p, q in REGISTRY_PAIRS)
    for name, row in pairs.items():
        assert row["klmath_formulas"] and row["reference"], name
        assert row["examples"] >= 3 and not row["klmath_failures"], name


@pytest.mark.parametrize(
    ("p_name", "q_name"), REGISTRY_PAIRS, ids=[f"{p}-{q}" for p, q in REGISTRY_PAIRS]
)
@settings(max_examples=3, deadline=None)
@given(data=st.data())
def test_kl_agrees_with_an_independent_computation(
    p_name: str, q_name: str, data: st.DataObject
) -> None:
    p, q, expected = draw_case(p_name, q_name, data)
    check_against_reference(kl(p, q, method="exact"), expected)
