"""kl() against torch.distributions.kl_divergence on every pair both support.

klmath computes these with its own closed forms (klmath.gaussian), torch with its
textbook formulas, so agreement is a real cross-check. Pairs torch lacks (MVN
against Independent(Normal), scipy objects) are compared with torch on the same
Gaussians rewritten as types torch supports. Parameters are random (Hypothesis) but
moderate (κ(Σ) ≤ 1e4, scales in [1e-2, 1e2]) because torch's own formula loses
accuracy by cancellation beyond that (klmath's does not; see test_gaussian_*).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import scipy.stats
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import batch_shapes, dimensions, means, spd_matrices, variances
from torch.distributions import Independent, MultivariateNormal, Normal, kl_divergence

from klmath import kl

# torch's formula cancels terms of size O(d κ) down to the result: allow that
# much, in units of eps (measured: agreement to ~1e-13 on these draws).
TOL = 1e4 * np.finfo(np.float64).eps


def t(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x))


@st.composite
def diag_pair(draw: Any) -> tuple[np.ndarray, ...]:
    d = draw(dimensions(max_d=5))
    batch = draw(batch_shapes(max_dims=2))
    mean = means(d, batch_shape=batch, max_scale=10.0)
    var = variances(d, batch_shape=batch, min_value=1e-2, max_value=1e2)
    return draw(mean), draw(var), draw(mean), draw(var)


@st.composite
def full_pair(draw: Any) -> tuple[np.ndarray, ...]:
    d = draw(dimensions(max_d=5))
    batch = draw(batch_shapes(max_dims=2))
    mean = means(d, batch_shape=batch, max_scale=10.0)
    cov = spd_matrices(d, batch_shape=batch, max_condition=1e4, min_scale=1e-2, max_scale=1e2)
    return draw(mean), draw(cov), draw(mean), draw(cov)


def normals(m0: Any, v0: Any, m1: Any, v1: Any) -> tuple[Any, Any, Any, Any]:
    """Univariate: the first coordinate only, as torch Normal (klmath and torch)."""
    p = Normal(t(m0[..., 0]), t(np.sqrt(v0[..., 0])))
    q = Normal(t(m1[..., 0]), t(np.sqrt(v1[..., 0])))
    return p, q, p, q


def scipy_norms(m0: Any, v0: Any, m1: Any, v1: Any) -> tuple[Any, Any, Any, Any]:
    _, q, tp, tq = normals(m0, v0, m1, v1)
    sp = scipy.stats.norm(m0[..., 0], np.sqrt(v0[..., 0]))
    return sp, q, tp, tq


def independents(m0: Any, v0: Any, m1: Any, v1: Any) -> tuple[Any, Any, Any, Any]:
    p = Independent(Normal(t(m0), t(np.sqrt(v0))), 1)
    q = Independent(Normal(t(m1), t(np.sqrt(v1))), 1)
    return p, q, p, q


def independents_2d(m0: Any, v0: Any, m1: Any, v1: Any) -> tuple[Any, Any, Any, Any]:
    # Two reinterpreted axes: (..., d) -> event (d, 1).
    p = Independent(Normal(t(m0[..., None]), t(np.sqrt(v0[..., None]))), 2)
    q = Independent(Normal(t(m1[..., None]), t(np.sqrt(v1[..., None]))), 2)
    return p, q, p, q


def mvn_vs_independent(m0: Any, v0: Any, m1: Any, v1: Any) -> tuple[Any, Any, Any, Any]:
    p = MultivariateNormal(t(m0), scale_tril=torch.diag_embed(t(np.sqrt(v0))))
    q = Independent(Normal(t(m1), t(np.sqrt(v1))), 1)
    tq = MultivariateNormal(t(m1), scale_tril=torch.diag_embed(t(np.sqrt(v1))))
    return p, q, p, tq


def independent_vs_mvn(m0: Any, v0: Any, m1: Any, v1: Any) -> tuple[Any, Any, Any, Any]:
    p, q, tp, tq = mvn_vs_independent(m1, v1, m0, v0)
    return q, p, tq, tp


def mvns(m0: Any, c0: Any, m1: Any, c1: Any) -> tuple[Any, Any, Any, Any]:
    p = MultivariateNormal(t(m0), covariance_matrix=t(c0))
    q = MultivariateNormal(t(m1), covariance_matrix=t(c1))
    return p, q, p, q


def scipy_mvn_vs_mvn(m0: Any, c0: Any, m1: Any, c1: Any) -> tuple[Any, Any, Any, Any]:
    # scipy's multivariate_normal has no batch: use the first batch element.
    idx = (0,) * (m0.ndim - 1)
    _, q, tp, tq = mvns(m0[idx], c0[idx], m1[idx], c1[idx])
    return scipy.stats.multivariate_normal(m0[idx], c0[idx]), q, tp, tq


DIAG_PAIRS = [
    pytest.param(normals, "klmath.gaussian_kl_diag", id="Normal-Normal"),
    pytest.param(scipy_norms, "klmath.gaussian_kl_diag", id="scipy.norm-Normal"),
    pytest.param(independents, "klmath.gaussian_kl_diag", id="Independent-Independent"),
    pytest.param(independents_2d, "klmath.gaussian_kl_diag", id="Independent2-Independent2"),
    pytest.param(mvn_vs_independent, "klmath.gaussian_kl_tril", id="MVN-Independent"),
    pytest.param(independent_vs_mvn, "klmath.gaussian_kl_tril", id="Independent-MVN"),
]
FULL_PAIRS = [
    pytest.param(mvns, "klmath.gaussian_kl_tril", id="MVN-MVN"),
    pytest.param(scipy_mvn_vs_mvn, "klmath.gaussian_kl", id="scipy.mvn-MVN"),
]


def check_agreement(build: Callable[..., Any], formula: str, params: tuple[Any, ...]) -> None:
    p, q, tp, tq = build(*params)
    res = kl(p, q)
    expected = kl_divergence(tp, tq)
    assert res.exact and res.method == "exact" and res.formula == formula
    value = torch.as_tensor(np.asarray(res.value)) if not torch.is_tensor(res.value) else res.value
    assert value.shape == expected.shape
    assert not bool(torch.isnan(value).any())
    torch.testing.assert_close(value, expected, rtol=TOL, atol=TOL)


@pytest.mark.parametrize(("build", "formula"), DIAG_PAIRS)
@settings(max_examples=15, deadline=None)
@given(params=diag_pair())
def test_diagonal_pairs_agree_with_torch(
    build: Callable[..., Any], formula: str, params: tuple[Any, ...]
) -> None:
    check_agreement(build, formula, params)


@pytest.mark.parametrize(("build", "formula"), FULL_PAIRS)
@settings(max_examples=15, deadline=None)
@given(params=full_pair())
def test_full_covariance_pairs_agree_with_torch(
    build: Callable[..., Any], formula: str, params: tuple[Any, ...]
) -> None:
    check_agreement(build, formula, params)


# Pairs klmath has no closed form for but torch has: kl() must delegate, and the
# value passes kl()'s checks unchanged when it is already >= 0 and finite.
D = torch.distributions


def wishart(df: float, scale: float) -> Any:
    return D.Wishart(torch.tensor(df), covariance_matrix=scale * torch.eye(2))


class Shifted(D.Normal):
    """A user's subclass with its own torch registration (torch.distributions.register_kl)."""


@D.register_kl(Shifted, Shifted)
def _kl_shifted(p: Any, q: Any) -> torch.Tensor:
    return kl_divergence(D.Normal(p.loc, p.scale), D.Normal(q.loc, q.scale))


DELEGATED = [
    pytest.param(wishart(4.0, 2.0), wishart(5.0, 1.0), id="Wishart-Wishart"),
]


@pytest.mark.parametrize(("p", "q"), DELEGATED)
def test_pairs_only_torch_knows_are_delegated(p: Any, q: Any) -> None:
    res = kl(p, q)
    assert res.exact and res.formula == "torch.distributions.kl_divergence"
    torch.testing.assert_close(res.value, kl_divergence(p, q).detach(), rtol=0.0, atol=0.0)
    assert not res.value.requires_grad  # torch's Bregman rule builds a graph; kl() drops it
    assert float(torch.as_tensor(res.stderr).abs().sum()) == 0.0


def test_user_registrations_in_torch_are_used_for_user_classes() -> None:
    # Shifted is a Normal subclass: klmath's Normal formula would match by MRO, but a
    # pair of classes the user registered *in torch* is theirs. klmath's registry is
    # consulted first, so the user sees klmath's (equal) value for their Normals.
    p, q = Shifted(0.0, 1.0), Shifted(1.0, 2.0)
    res = kl(p, q)
    assert res.exact
    torch.testing.assert_close(res.value, kl_divergence(p, q), rtol=1e-12, atol=0.0)
