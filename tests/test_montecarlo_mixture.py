"""Gaussian mixtures: Monte Carlo KL inside the deterministic bounds.

The bounds (klmath.mixture) and mc_kl are independent computations: one from
component closed forms and Jensen's inequality, the other from samples. The
Monte Carlo estimate must lie in [lower, upper] up to its standard error.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import gaussian_mixtures
from torch.distributions import (
    Categorical,
    Independent,
    MixtureSameFamily,
    MultivariateNormal,
    Normal,
    kl_divergence,
)

from klmath import KLMonteCarloWarning, kl
from klmath.mixture import gaussian_mixture_kl_bounds
from klmath.montecarlo import mc_kl

Z = 4.0  # Monte Carlo error judged at 4 standard errors


def mvn_mixture(params: tuple[np.ndarray, ...]) -> MixtureSameFamily:
    logits, mean, tril = (torch.from_numpy(a) for a in params)
    return MixtureSameFamily(Categorical(logits=logits), MultivariateNormal(mean, scale_tril=tril))


@settings(max_examples=6, deadline=None)
@given(data=st.data(), d=st.integers(1, 3))
def test_monte_carlo_lies_between_the_bounds(data: Any, d: int) -> None:
    p = mvn_mixture(data.draw(gaussian_mixtures(d, batch_shape=(3,))))
    q = mvn_mixture(data.draw(gaussian_mixtures(d, batch_shape=(3,))))
    bounds = gaussian_mixture_kl_bounds(p, q)
    # k1: its variance is finite for any pair of Gaussian mixtures (log r grows
    # quadratically), while k3's need not be (q may be wider than p).
    res = mc_kl(p, q, 3_000, estimator="k1", seed=data.draw(st.integers(0, 2**31)))
    assert bool(torch.isfinite(bounds.lower).all() & torch.isfinite(bounds.upper).all())
    assert bool((0.0 <= bounds.lower).all() & (bounds.lower <= bounds.upper).all())
    assert bool((bounds.lower <= res.value + Z * res.stderr).all()), (bounds, res)
    assert bool((res.value - Z * res.stderr <= bounds.upper).all()), (bounds, res)


def test_one_component_each_is_exact() -> None:
    # With K = L = 1 the variational approximation and upper bound are KL itself.
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(4, 1, 3, 3, generator=gen, dtype=torch.float64)
    cov = a @ a.mT + 0.3 * torch.eye(3, dtype=torch.float64)
    comp_p = MultivariateNormal(torch.randn(4, 1, 3, generator=gen, dtype=torch.float64), cov)
    comp_q = MultivariateNormal(torch.randn(4, 1, 3, generator=gen, dtype=torch.float64), 2 * cov)
    one = Categorical(logits=torch.zeros(4, 1, dtype=torch.float64))
    bounds = gaussian_mixture_kl_bounds(
        MixtureSameFamily(one, comp_p), MixtureSameFamily(one, comp_q)
    )
    exact = kl_divergence(comp_p, comp_q)[..., 0]
    torch.testing.assert_close(bounds.variational, exact, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(bounds.upper, exact, rtol=1e-12, atol=1e-12)
    assert bool((bounds.lower <= exact).all())


def test_component_types_and_the_README_example() -> None:
    # Seed problem 2's target: N(−1, ¼²), N(0.2, ¼²), N(1.5, ¼²) mixed 1:1:2, against a
    # unit Gaussian written three ways (Normal, Independent(Normal, 1), MVN).
    w = Categorical(torch.tensor([0.25, 0.25, 0.5], dtype=torch.float64))
    loc = torch.tensor([-1.0, 0.2, 1.5], dtype=torch.float64)
    p = MixtureSameFamily(w, Normal(loc, 0.25))
    one = Categorical(torch.ones(1, dtype=torch.float64))
    q = MixtureSameFamily(one, Normal(torch.zeros(1, dtype=torch.float64), 1.0))
    b = gaussian_mixture_kl_bounds(p, q)
    res = mc_kl(p, q, 30_000, seed=0)
    assert b.lower - Z * res.stderr <= res.value <= b.upper + Z * res.stderr
    p_vec = MixtureSameFamily(w, Independent(Normal(loc[:, None], 0.25), 1))
    q_vec = MixtureSameFamily(
        one, MultivariateNormal(torch.zeros(1, 1, dtype=torch.float64), torch.eye(1)[None].double())
    )
    b_vec = gaussian_mixture_kl_bounds(p_vec, q_vec)
    for x, y in [
        (b.lower, b_vec.lower),
        (b.upper, b_vec.upper),
        (b.variational, b_vec.variational),
    ]:
        torch.testing.assert_close(x, y, rtol=1e-13, atol=0.0)


def test_kl_falls_back_to_monte_carlo_and_points_to_the_bounds() -> None:
    w = Categorical(torch.tensor([0.5, 0.5], dtype=torch.float64))
    p = MixtureSameFamily(w, Normal(torch.tensor([-1.0, 1.0], dtype=torch.float64), 0.5))
    q = MixtureSameFamily(w, Normal(torch.tensor([-1.0, 2.0], dtype=torch.float64), 0.7))
    with pytest.warns(KLMonteCarloWarning, match=r"gaussian_mixture_kl_bounds brackets it"):
        res = kl(p, q, n=20_000, seed=0)
    b = gaussian_mixture_kl_bounds(p, q)
    assert not res.exact
    assert b.lower - Z * res.stderr <= res.value <= b.upper + Z * res.stderr


def test_more_iterations_never_loosen_the_upper_bound() -> None:
    gen = torch.Generator().manual_seed(1)
    comps = Normal(torch.randn(5, 4, generator=gen, dtype=torch.float64), 0.7)
    p = MixtureSameFamily(Categorical(logits=torch.randn(5, 4, generator=gen).double()), comps)
    q = MixtureSameFamily(
        Categorical(logits=torch.randn(5, 3, generator=gen).double()),
        Normal(torch.randn(5, 3, generator=gen, dtype=torch.float64), 1.1),
    )
    uppers = [gaussian_mixture_kl_bounds(p, q, iterations=i).upper for i in (0, 1, 5, 50)]
    for a, b in itertools.pairwise(uppers):
        assert bool((b <= a + 1e-12).all())


MIX = MixtureSameFamily(Categorical(torch.ones(2)), Normal(torch.zeros(2), 1.0))
BAD_CALLS = [
    pytest.param(
        Normal(0.0, 1.0),
        MIX,
        {},
        TypeError,
        r"p must be .*MixtureSameFamily.*got Normal",
        id="p-not-a-mixture",
    ),
    pytest.param(
        MIX,
        MixtureSameFamily(
            Categorical(torch.ones(2)), torch.distributions.Gamma(torch.ones(2), 1.0)
        ),
        {},
        TypeError,
        r"q's components must be Normal, .* got Gamma$",
        id="non-gaussian-components",
    ),
    pytest.param(
        MIX,
        MixtureSameFamily(
            Categorical(torch.ones(2)), Independent(Normal(torch.zeros(2, 3), 1.0), 1)
        ),
        {},
        ValueError,
        r"same event shape: p has \(\), q has \(3,\)",
        id="event-shapes",
    ),
    pytest.param(
        MIX,
        MIX,
        {"iterations": -1},
        ValueError,
        r"iterations must be an int >= 0",
        id="negative-iterations",
    ),
]


@pytest.mark.parametrize(("p", "q", "kwargs", "error", "match"), BAD_CALLS)
def test_bad_calls_raise(
    p: Any, q: Any, kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        gaussian_mixture_kl_bounds(p, q, **kwargs)
