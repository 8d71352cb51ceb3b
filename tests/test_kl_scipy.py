"""scipy frozen objects: closed forms for norm, laplace, uniform, gamma, expon, beta,
bernoulli, binom, poisson, geom (and cauchy, halfcauchy, gumbel_r, pareto, halfnorm,
dirichlet), with ``loc`` and ``scale`` mapped onto the same formulas as torch's objects.

Checked against the independent reference of ``kl_reference`` (which takes loc and
scale itself), against the same pair built from torch objects, and in mixed pairs.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import kl_reference as ref
import numpy as np
import pytest
import scipy.integrate
import scipy.stats as st
import torch
from hypothesis import given, settings
from hypothesis import strategies as hst
from torch import distributions as D

from klmath import KLEstimatorWarning, KLMonteCarloWarning, kl

# (scipy p, scipy q, reference KL) with loc/scale in play.
CASES = [
    pytest.param(
        st.gamma(2.5, loc=1.0, scale=3.0),
        st.gamma(0.7, loc=1.0, scale=0.5),
        lambda: ref.kl_density(ref.gamma(2.5, 1 / 3.0, 1.0), ref.gamma(0.7, 2.0, 1.0)),
        id="gamma-loc-scale",
    ),
    pytest.param(
        st.expon(loc=2.0, scale=0.5),
        st.expon(loc=1.0, scale=2.0),
        lambda: ref.kl_density(ref.gamma(1.0, 2.0, 2.0), ref.gamma(1.0, 0.5, 1.0)),
        id="expon-shifted-inside",
    ),
    pytest.param(
        st.beta(0.5, 2.0, loc=-1.0, scale=3.0),
        st.beta(3.0, 1.5, loc=-1.0, scale=3.0),
        lambda: ref.kl_density(ref.beta(0.5, 2.0, -1.0, 3.0), ref.beta(3.0, 1.5, -1.0, 3.0)),
        id="beta-loc-scale",
    ),
    pytest.param(
        st.uniform(0.2, 0.3),
        st.uniform(0.0, 1.0),
        lambda: math.log(1 / 0.3),
        id="uniform-issue-example",
    ),
    pytest.param(
        st.laplace(0.5, 2.0),
        st.norm(-1.0, 3.0),
        lambda: ref.kl_density(ref.laplace(0.5, 2.0), ref.normal(-1.0, 3.0)),
        id="laplace-norm",
    ),
    pytest.param(
        st.uniform(1.0, 2.0),
        st.expon(loc=0.5, scale=2.0),
        lambda: ref.kl_density(ref.uniform(1.0, 3.0), ref.gamma(1.0, 0.5, 0.5)),
        id="uniform-expon-loc",
    ),
    pytest.param(
        st.uniform(-1.0, 3.0),
        st.beta(2.0, 3.0, loc=-1.0, scale=3.0),
        lambda: ref.kl_density(ref.uniform(-1.0, 2.0), ref.beta(2.0, 3.0, -1.0, 3.0)),
        id="uniform-beta-touching",
    ),
    pytest.param(
        st.binom(6, 0.3, loc=2),
        st.binom(9, 0.5, loc=1),
        lambda: ref.kl_mass(ref.binomial(6, 0.3, 2), ref.binomial(9, 0.5, 1)),
        id="binom-shifted",
    ),
    pytest.param(
        st.bernoulli(0.3, loc=3),
        st.poisson(2.0, loc=2),
        lambda: ref.kl_mass(ref.binomial(1, 0.3, 3), ref.poisson(2.0, 2)),
        id="bernoulli-poisson-shifted",
    ),
    pytest.param(
        st.poisson(0.0, loc=3),
        st.poisson(2.0, loc=1),
        lambda: ref.kl_mass(ref.poisson(0.0, 3), ref.poisson(2.0, 1)),
        id="poisson-point-mass-above",
    ),
    pytest.param(
        st.geom(0.3, loc=2),
        st.geom(0.6),
        lambda: ref.kl_mass(ref.geometric(0.3, 3), ref.geometric(0.6, 1)),
        id="geom-shifted",
    ),
    pytest.param(
        st.gumbel_r(1.0, 2.0),
        st.norm(0.0, 1.5),
        lambda: ref.kl_density(ref.gumbel(1.0, 2.0), ref.normal(0.0, 1.5)),
        id="gumbel-norm",
    ),
    pytest.param(
        st.pareto(3.0, scale=0.5),
        st.gamma(2.0, scale=1.5),
        lambda: ref.kl_density(ref.pareto(0.5, 3.0), ref.gamma(2.0, 1 / 1.5)),
        id="pareto-gamma",
    ),
    pytest.param(
        st.halfnorm(scale=2.0),
        st.halfnorm(scale=0.5),
        lambda: ref.kl_density(ref.half_normal(2.0), ref.half_normal(0.5)),
        id="halfnorm",
    ),
    pytest.param(
        st.halfcauchy(scale=2.0),
        st.halfcauchy(scale=0.5),
        lambda: ref.kl_density(ref.half_cauchy(2.0), ref.half_cauchy(0.5)),
        id="halfcauchy",
    ),
    pytest.param(
        st.cauchy(1.0, 2.0),
        st.cauchy(-1.0, 0.5),
        lambda: ref.kl_density(ref.cauchy(1.0, 2.0), ref.cauchy(-1.0, 0.5)),
        id="cauchy",
    ),
    pytest.param(
        st.dirichlet([0.5, 1.0, 2.0]),
        st.dirichlet([2.0, 2.0, 1.0]),
        lambda: ref.kl_dirichlet3([0.5, 1.0, 2.0], [2.0, 2.0, 1.0]),
        id="dirichlet",
    ),
    pytest.param(
        st.gamma(2.0, loc=0.0),
        st.gamma(2.0, loc=0.5),
        lambda: math.inf,
        id="gamma-p-starts-below-q",
    ),
    pytest.param(
        st.norm(0.0, 1.0),
        st.uniform(-5.0, 10.0),
        lambda: math.inf,
        id="norm-uniform",
    ),
]


@pytest.mark.parametrize(("p", "q", "expected"), CASES)
def test_scipy_closed_forms_match_the_reference(p: Any, q: Any, expected: Any) -> None:
    res = kl(p, q, method="exact")
    want = expected()
    assert res.exact and isinstance(res.value, np.float64)
    if math.isinf(want):
        assert res.value == math.inf and res.reason
    else:
        assert res.value == pytest.approx(want, rel=1e-10, abs=1e-13)


# The same distribution as a scipy object and as a torch object.
SAME = [
    (lambda a, b: st.norm(a, b), lambda a, b: D.Normal(a, b)),
    (lambda a, b: st.laplace(a, b), lambda a, b: D.Laplace(a, b)),
    (lambda a, b: st.uniform(a, b), lambda a, b: D.Uniform(a, a + b)),
    (lambda a, b: st.gamma(a, scale=1 / b), lambda a, b: D.Gamma(a, b)),
    (lambda a, b: st.expon(scale=1 / b), lambda a, b: D.Exponential(b)),
    (lambda a, b: st.beta(a, b), lambda a, b: D.Beta(a, b)),
    (lambda a, b: st.gumbel_r(a, b), lambda a, b: D.Gumbel(a, b)),
    (lambda a, b: st.bernoulli(b / (1 + b)), lambda a, b: D.Bernoulli(b / (1 + b))),
    (lambda a, b: st.poisson(b), lambda a, b: D.Poisson(b)),
]


@settings(max_examples=20, deadline=None)
@given(
    i=hst.integers(0, len(SAME) - 1),
    j=hst.integers(0, len(SAME) - 1),
    a=hst.floats(0.5, 3.0),
    b=hst.floats(0.5, 3.0),
    c=hst.floats(0.5, 3.0),
    d=hst.floats(0.5, 3.0),
)
def test_scipy_torch_and_mixed_pairs_agree(
    i: int, j: int, a: float, b: float, c: float, d: float
) -> None:
    (sp, tp), (sq, tq) = SAME[i], SAME[j]

    def t(x: float) -> torch.Tensor:
        return torch.tensor(x, dtype=torch.float64)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", KLMonteCarloWarning)
        torch_res = _exact_or_none(tp(t(a), t(b)), tq(t(c), t(d)))
        if torch_res is None:
            return  # no closed form for this family pair (e.g. discrete against continuous)
        scipy_res = kl(sp(a, b), sq(c, d), method="exact")
        mixed = kl(tp(t(a), t(b)), sq(c, d), method="exact")
        mixed_back = kl(sp(a, b), tq(t(c), t(d)), method="exact")
    want = float(torch_res.value)
    for res in (scipy_res, mixed, mixed_back):
        assert float(res.value) == pytest.approx(want, rel=1e-13, abs=1e-15) or (
            math.isinf(want) and float(res.value) == want
        )
    assert isinstance(scipy_res.value, np.float64) and isinstance(mixed.value, torch.Tensor)
    assert isinstance(mixed_back.value, np.float64)


def _exact_or_none(p: Any, q: Any) -> Any:
    try:
        return kl(p, q, method="exact")
    except NotImplementedError:
        return None


def test_geom_shift() -> None:
    # scipy geom(π) on {1, 2, ...} is torch's Geometric(π) on {0, 1, ...} moved by 1.
    p, q = st.geom(0.3), st.geom(0.6)
    tp = D.Geometric(torch.tensor(0.3, dtype=torch.float64))
    tq = D.Geometric(torch.tensor(0.6, dtype=torch.float64))
    assert float(kl(p, q).value) == pytest.approx(float(kl(tp, tq).value), rel=1e-12)
    # {1, 2, ...} ⊂ {0, 1, ...}: finite one way, infinite the other.
    inside = kl(p, tq)
    assert inside.value == pytest.approx(
        ref.kl_mass(ref.geometric(0.3, 1), ref.geometric(0.6)), rel=1e-12
    )
    outside = kl(tp, q)
    assert float(outside.value) == math.inf and outside.reason


def test_a_shifted_gamma_above_q_has_no_closed_form() -> None:
    # E log(x − loc_q) under a gamma shifted by loc_p > loc_q has no closed form.
    with pytest.raises(NotImplementedError, match=r"p = scipy gamma, q = scipy gamma"):
        kl(st.gamma(2.0, loc=1.0), st.gamma(2.0, loc=0.0), method="exact")


def test_monte_carlo_fallback_is_unbiased_when_q_has_mass_outside_p() -> None:
    # No closed form for uniform ‖ logistic; q has mass outside p's support [0.2, 0.5],
    # so k3 is biased (E[k3] = KL − Q(x ∉ [0.2, 0.5])). kl() must not return it.
    p, q = st.uniform(0.2, 0.3), st.logistic(0.0, 1.0)
    truth, _ = scipy.integrate.quad(lambda x: 1 / 0.3 * (math.log(1 / 0.3) - q.logpdf(x)), 0.2, 0.5)
    with pytest.warns(KLMonteCarloWarning, match="no closed form"):
        res = kl(p, q, n=20_000, seed=1)
    assert res.formula == "klmath.mc_kl(estimator='k1')" and "k3 was not used" in res.diagnostic
    assert abs(float(res.value) - truth) <= 4 * float(res.stderr)
    assert float(res.stderr) > 1e-4  # an honest error bar, not 1e−19
    # Asked for k3 explicitly, the user gets it, with the warning that it is biased.
    with pytest.warns(KLEstimatorWarning):
        biased = kl(p, q, method="mc", n=20_000, seed=1, estimator="k3")
    assert abs(float(biased.value) - truth) > 10 * float(biased.stderr)


def test_monte_carlo_keeps_k3_when_its_check_passes() -> None:
    p, q = st.logistic(0.0, 1.0), st.logistic(0.5, 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", KLEstimatorWarning)
        res = kl(p, q, method="mc", n=20_000, seed=0)
    assert res.formula == "klmath.mc_kl(estimator='k3')" and res.diagnostic is None
