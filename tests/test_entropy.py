"""entropy(p): klmath's closed forms against quadrature and exact sums, and the fallbacks.

For every family with a klmath formula, H(p) = −∫ p log p by 25-digit quadrature (or
−Σ p log p by exact summation) from ``kl_reference``; the binomial and Poisson
entropies, which have no closed form, are exact sums in klmath too (checked here
against mpmath's and scipy's). Then torch's ``entropy()`` and Monte Carlo fallbacks.
"""

from __future__ import annotations

import math
from typing import Any

import kl_reference as ref
import numpy as np
import pytest
import scipy.stats as st
import torch
from hypothesis import given, settings
from hypothesis import strategies as hst
from strategies import distribution_parameters
from test_kl_reference import REFERENCE, TORCH
from torch import distributions as D

from klmath import KLMonteCarloWarning, entropy

FAMILIES = sorted(REFERENCE)


@pytest.mark.parametrize("name", FAMILIES)
@settings(max_examples=2, deadline=None)
@given(data=hst.data())
def test_entropy_agrees_with_quadrature_or_sums(name: str, data: hst.DataObject) -> None:
    params = data.draw(distribution_parameters(name))
    r = REFERENCE[name](params)
    want = ref.entropy_mass(r) if isinstance(r, ref.Mass) else ref.entropy_density(r)
    res = entropy(TORCH[name](params), method="exact")
    assert res.exact and not res.formula.startswith("torch")
    assert float(res.value) == pytest.approx(want, rel=1e-10, abs=1e-12)


SCIPY = [
    st.norm(1.0, 2.0),
    st.laplace(0.0, 0.5),
    st.uniform(-1.0, 3.0),
    st.gamma(2.5, loc=1.0, scale=3.0),
    st.expon(scale=2.0),
    st.beta(0.5, 2.0, loc=-1.0, scale=3.0),
    st.gumbel_r(0.0, 2.0),
    st.pareto(3.0, scale=2.0),
    st.cauchy(0.0, 2.0),
    st.halfnorm(scale=2.0),
    st.bernoulli(0.3),
    st.binom(20, 0.3, loc=4),
    st.poisson(7.5),
    st.geom(0.2),
    st.dirichlet([0.5, 1.0, 2.0]),
    st.multivariate_normal([0.0, 1.0], [[2.0, 0.5], [0.5, 1.0]]),
]


@pytest.mark.parametrize(
    "p", SCIPY, ids=lambda d: d.dist.name if hasattr(d, "dist") else type(d).__name__
)
def test_scipy_entropies_match_scipys(p: Any) -> None:
    res = entropy(p, method="exact")
    assert res.exact and isinstance(res.value, np.float64)
    assert float(res.value) == pytest.approx(float(np.asarray(p.entropy())), rel=1e-9, abs=1e-12)


def test_poisson_entropy_for_a_large_rate() -> None:
    # scipy 1.17's poisson(2e4).entropy() is 4.2224 ("sum did not converge"); the exact
    # sum over λ ± 20√λ + 60 at 25 digits is 6.370678...; klmath uses the asymptotic series.
    want = ref.entropy_mass(ref.poisson(2e4))
    assert float(entropy(st.poisson(2e4)).value) == pytest.approx(want, rel=1e-14)


def test_point_masses_have_entropy_exactly_zero() -> None:
    for p in (
        D.Bernoulli(torch.tensor(1.0)),
        D.Poisson(torch.tensor(0.0)),
        D.Geometric(torch.tensor(1.0)),
    ):
        assert float(entropy(p).value) == 0.0


def test_torch_entropy_then_monte_carlo() -> None:
    # No klmath formula for a Weibull: torch's closed form is used.
    weibull = D.Weibull(
        torch.tensor(2.0, dtype=torch.float64), torch.tensor(1.5, dtype=torch.float64)
    )
    res = entropy(weibull)
    assert res.exact and res.formula == "torch.distributions.Weibull.entropy"
    # A mixture of two equal normals is that normal: Monte Carlo must find ½ log(2πe).
    mix = D.MixtureSameFamily(
        D.Categorical(torch.tensor([0.3, 0.7], dtype=torch.float64)),
        D.Normal(torch.zeros(2, dtype=torch.float64), torch.ones(2, dtype=torch.float64)),
    )
    with pytest.warns(KLMonteCarloWarning, match="entropy of p = torch MixtureSameFamily"):
        est = entropy(mix, n=20_000, seed=0)
    assert not est.exact and est.method == "mc"
    assert abs(float(est.value) - 0.5 * math.log(2 * math.pi * math.e)) <= 4 * float(est.stderr)
    with pytest.raises(NotImplementedError, match="register_entropy"):
        entropy(mix, method="exact")
