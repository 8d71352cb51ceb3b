"""The linear-Gaussian VAE: log p(x) = ELBO + KL(q ‖ posterior), and the ELBO maximiser is PPCA.

References are independent of the code under test: SciPy's multivariate normal
log-density, Gaussian conditioning of the joint (z, x) (the block formula, not the
Woodbury form the code uses), a Monte Carlo estimate of the expected
log-likelihood, autograd stationarity of the PPCA closed form.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from strategies import means, spd_matrices, variances

import klmath
from models.vae.linear import (
    elbo,
    exact_posterior,
    marginal_log_prob,
    posterior_kl,
    ppca_closed_form,
    sample_ppca_data,
)
from models.vae.linear_checks import compare_with_ppca, lemma_tables, posterior_phi
from models.vae.linear_run import train_linear_vae

EPS = float(np.finfo(np.float64).eps)
T = torch.float64


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a), dtype=T)


def _random_model(seed: int, D: int, K: int, n: int = 6):
    g = torch.Generator().manual_seed(seed)
    W = torch.randn(D, K, generator=g, dtype=T)
    b = torch.randn(D, generator=g, dtype=T)
    sigma2 = float(10 ** (2 * torch.rand((), generator=g, dtype=T) - 1))
    x = torch.randn(n, D, generator=g, dtype=T) * 2.0 + b
    A = torch.randn(K, K, generator=g, dtype=T)
    S = A @ A.T + 0.05 * torch.eye(K, dtype=T)
    m = torch.randn(n, K, generator=g, dtype=T)
    return x, W, b, sigma2, m, S


@st.composite
def linear_gaussian_vaes(draw: st.DrawFn):
    """A linear-Gaussian model, an arbitrary encoder output and data points."""
    D = draw(st.integers(1, 6))
    K = draw(st.integers(1, 4))
    n = 4
    W = _t(draw(means(K, batch_shape=(D,), min_scale=1e-2, max_scale=1e1)))
    b = _t(draw(means(D, max_scale=1e2)))
    sigma2 = float(draw(variances(1, min_value=1e-2, max_value=1e1))[0])
    S = _t(draw(spd_matrices(K, max_condition=1e4, min_scale=1e-2, max_scale=1e1)))
    m = _t(draw(means(K, batch_shape=(n,), max_scale=1e1)))
    x = _t(draw(means(D, batch_shape=(n,), max_scale=1e2)))
    return x, W, b, sigma2, m, S


@settings(max_examples=60)
@given(linear_gaussian_vaes())
def test_elbo_is_below_log_prob_and_gap_is_posterior_kl(model) -> None:
    x, W, b, sigma2, m, S = model
    lp = marginal_log_prob(x, W, b, sigma2)
    e = elbo(x, W, b, sigma2, m, S)
    kl = posterior_kl(x, W, b, sigma2, m, S)
    # Rounding in each of the three independent computations is a few ulps of the
    # largest term entering it; 1e3 · eps of that scale covers D, K ≤ 6 sums and
    # the ill-conditioned S (κ ≤ 1e4) drawn on purpose.
    scale = lp.abs() + e.abs() + kl.abs() + 1.0
    tol = 1e3 * EPS * scale * 1e4**0.5
    assert torch.isfinite(e).all() and torch.isfinite(lp).all()
    assert (lp - e >= -tol).all(), (lp - e).min()
    assert ((lp - e - kl).abs() <= tol).all(), (lp - e - kl).abs().max()


@pytest.mark.parametrize("seed", range(10))
def test_gap_equals_posterior_kl_to_1e_8(seed: int) -> None:
    x, W, b, sigma2, m, S = _random_model(seed, D=2 + seed % 5, K=1 + seed % 3)
    lp = marginal_log_prob(x, W, b, sigma2)
    gap = lp - elbo(x, W, b, sigma2, m, S)
    kl = posterior_kl(x, W, b, sigma2, m, S)
    assert (kl > 0).all()
    assert (gap - kl).abs().max().item() <= 1e-8


@pytest.mark.parametrize("seed", range(5))
def test_gap_vanishes_at_the_exact_posterior(seed: int) -> None:
    x, W, b, sigma2, _, _ = _random_model(seed, D=5, K=2)
    pm, pc = exact_posterior(x, W, b, sigma2)
    lp = marginal_log_prob(x, W, b, sigma2)
    # Tolerance: a few hundred ulps of |log p| (≈ 10-50 here).
    assert (lp - elbo(x, W, b, sigma2, pm, pc)).abs().max() <= 1e3 * EPS * lp.abs().max()
    assert posterior_kl(x, W, b, sigma2, pm, pc).abs().max() <= 1e3 * EPS * lp.abs().max()


def test_marginal_log_prob_matches_scipy() -> None:
    x, W, b, sigma2, _, _ = _random_model(3, D=6, K=3)
    C = (W @ W.T + sigma2 * torch.eye(6, dtype=T)).numpy()
    ref = stats.multivariate_normal(b.numpy(), C).logpdf(x.numpy())
    np.testing.assert_allclose(marginal_log_prob(x, W, b, sigma2).numpy(), ref, rtol=1e3 * EPS)


def test_exact_posterior_matches_joint_gaussian_conditioning() -> None:
    # (z, x) is jointly N([0, b], [[I, Wᵀ], [W, C]]); condition x with the block formula.
    x, W, b, sigma2, _, _ = _random_model(4, D=5, K=3)
    C = W @ W.T + sigma2 * torch.eye(5, dtype=T)
    mean_ref = (W.T @ torch.linalg.solve(C, (x - b).T)).T
    cov_ref = torch.eye(3, dtype=T) - W.T @ torch.linalg.solve(C, W)
    mean, cov = exact_posterior(x, W, b, sigma2)
    torch.testing.assert_close(mean, mean_ref, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(cov, cov_ref, rtol=1e-12, atol=1e-12)


def test_expected_log_likelihood_matches_monte_carlo() -> None:
    # ELBO + KL(q ‖ prior) = E_q log N(x; W z + b, σ² I); compare with a sample mean.
    x, W, b, sigma2, m, S = _random_model(5, D=4, K=2, n=3)
    g = torch.Generator().manual_seed(0)
    n = 200_000
    z = m + torch.randn(n, *m.shape, generator=g, dtype=T) @ torch.linalg.cholesky(S).T
    resid = x - z @ W.T - b
    samples = -0.5 * (4 * math.log(2 * math.pi * sigma2) + (resid * resid).sum(-1) / sigma2)
    mc, se = samples.mean(0), samples.std(0) / math.sqrt(n)
    zeros, eye = torch.zeros(2, dtype=T), torch.eye(2, dtype=T)
    exact = elbo(x, W, b, sigma2, m, S) + klmath.gaussian_kl(m, S, zeros, eye)
    assert torch.isfinite(mc).all()
    assert ((exact - mc).abs() <= 4 * se).all(), (exact - mc) / se


def test_ppca_closed_form_is_a_stationary_maximum() -> None:
    x, _ = sample_ppca_data(400, 6, 2, sigma2=0.2, seed=1)
    W, b, s2 = ppca_closed_form(x, 2)
    params = [p.clone().requires_grad_() for p in (W, b, torch.log(s2))]
    ll = marginal_log_prob(x, params[0], params[1], torch.exp(params[2])).mean()
    grads = torch.autograd.grad(ll, params)
    for grad in grads:
        assert grad.abs().max() <= 1e-10
    g = torch.Generator().manual_seed(2)
    for _ in range(5):
        W2 = W + 1e-3 * torch.randn(W.shape, generator=g, dtype=T)
        assert marginal_log_prob(x, W2, b, s2).mean() < ll


@pytest.mark.parametrize("full_cov", [True, False], ids=["full-S", "diagonal-S"])
def test_trained_linear_vae_matches_ppca(full_cov: bool) -> None:
    x, _ = sample_ppca_data(200, 5, 2, sigma2=0.1, seed=3)
    result = train_linear_vae(x, 2, full_cov=full_cov, steps=200, seed=0)
    c = compare_with_ppca(result.model, x)
    # The ELBO maximiser has zero gap and the PPCA likelihood. C = W Wᵀ + σ² I is
    # flat to second order at the optimum, so it converges as the square root of
    # the objective: 1e-5 relative against an objective at ~1e-12.
    assert c["mean_gap_kl"] <= 1e-9
    assert abs(c["elbo_minus_ppca_log_prob"]) <= 1e-9
    assert c["rel_frobenius_error_C"] <= 1e-5
    assert c["rel_error_sigma2"] <= 1e-5
    assert max(e - lp for e, lp in zip(result.elbo, result.log_prob, strict=True)) <= 0.0


def test_argmax_lemma_on_a_grid_with_and_without_the_posterior() -> None:
    g = torch.Generator().manual_seed(0)
    sigma2 = 0.5
    x = 1.5 * torch.randn(30, generator=g, dtype=T)
    w = torch.linspace(-3.0, 3.0, 13, dtype=T)
    tables = lemma_tables(x, w, sigma2, posterior_phi(w, sigma2))
    f, gt, ht = tables["f"].numpy(), tables["g"].numpy(), tables["h"].numpy()
    np.testing.assert_allclose(gt + ht, np.broadcast_to(f[:, None], gt.shape), rtol=1e2 * EPS)
    r = klmath.check_argmax_lemma(gt, ht, atol=1e-9)
    assert r.hypotheses_hold and r.conclusion_holds
    # the grid maximiser of the exact likelihood is the grid point nearest ±w_ML
    w_ml = math.sqrt(float((x * x).mean()) - sigma2)
    nearest = {int(np.argmin(np.abs(w.numpy() - s * w_ml))) for s in (-1, 1)}
    assert set(r.argmax_f) == nearest
    # A collapsed encoder q(z|x) = N(0, τ²) cannot reach the posterior: the ELBO's
    # argmax moves to w = 0 while the likelihood's does not.
    phi0 = torch.stack([torch.zeros(5, dtype=T), torch.linspace(0.1, 2.0, 5, dtype=T)], -1)
    t0 = lemma_tables(x, w, sigma2, phi0)
    r0 = klmath.check_argmax_lemma(t0["g"].numpy(), t0["h"].numpy(), atol=1e-9)
    assert not r0.min_zero and not r0.conclusion_holds
    assert [abs(float(w[i])) for i in r0.argmax_g_theta] == [0.0]


@pytest.mark.parametrize(
    ("K", "match"),
    [
        pytest.param(0, "0 < K < D", id="K-zero"),
        pytest.param(4, "0 < K < D", id="K-equals-D"),
    ],
)
def test_ppca_closed_form_rejects_bad_latent_dimension(K: int, match: str) -> None:
    x, _ = sample_ppca_data(10, 4, 1, seed=0)
    with pytest.raises(ValueError, match=match):
        ppca_closed_form(x, K)
