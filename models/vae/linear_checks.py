"""The checks of the linear-Gaussian VAE: the ELBO identity, PPCA, and the argmax lemma."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import Tensor

import klmath
from models.vae.linear import (
    LinearGaussianVAE,
    elbo,
    exact_posterior,
    marginal_log_prob,
    posterior_kl,
    ppca_closed_form,
)

__all__ = [
    "compare_with_ppca",
    "lemma_tables",
    "posterior_phi",
    "random_identity_check",
    "run_lemma_check",
]


def lemma_tables(x: Tensor, w_grid: Tensor, sigma2: float, phi: Tensor) -> dict[str, Tensor]:
    """Return the finite tables f[θ], g[θ, φ], h[θ, φ] of a 1-D linear-Gaussian VAE.

    θ = w (scalar decoder weight: p(x|z) = N(w z, σ²), σ² fixed), φ = (v, τ²)
    (encoder q(z|x) = N(v x, τ²)). With data x₁..x_N:

    * f(θ) = Σₙ log p_θ(xₙ) (exact marginal N(0, w² + σ²)),
    * g(θ, φ) = Σₙ ELBO(xₙ; θ, φ),
    * h(θ, φ) = Σₙ KL(q_φ(z|xₙ) ‖ p_θ(z|xₙ)).

    The exact posterior of θ = w is φ_w = (w / (w² + σ²), σ² / (w² + σ²)), so the
    lemma's hypothesis min_φ h(θ, φ) = 0 holds exactly when ``phi`` contains φ_w for
    every w in ``w_grid`` (see :func:`posterior_phi`).

    Parameters
    ----------
    x : Tensor, shape (N,)
    w_grid : Tensor, shape (T,)
    sigma2 : float
    phi : Tensor, shape (P, 2), rows (v, τ²) with τ² > 0.

    Returns
    -------
    dict with ``f`` (T,), ``g`` (T, P), ``h`` (T, P), float64 tensors.
    """
    x2 = x.reshape(-1, 1)
    b = torch.zeros(1, dtype=x.dtype)
    m = (phi[:, :1] * x2.T).unsqueeze(-1)  # (P, N, 1): encoder means v xₙ
    S = phi[:, 1].reshape(-1, 1, 1, 1)  # (P, 1, 1, 1): encoder variances τ²
    g_rows, h_rows, f_rows = [], [], []
    for w in w_grid:
        W = w.reshape(1, 1)
        g_rows.append(elbo(x2, W, b, sigma2, m, S).sum(-1))
        h_rows.append(posterior_kl(x2, W, b, sigma2, m, S).sum(-1))
        f_rows.append(marginal_log_prob(x2, W, b, sigma2).sum())
    return {"f": torch.stack(f_rows), "g": torch.stack(g_rows), "h": torch.stack(h_rows)}


def posterior_phi(w_grid: Tensor, sigma2: float) -> Tensor:
    """Return the exact-posterior encoder parameters φ_w = (w/(w²+σ²), σ²/(w²+σ²)), (T, 2)."""
    denom = w_grid * w_grid + sigma2
    return torch.stack([w_grid / denom, sigma2 / denom], dim=-1)


def random_identity_check(
    n_models: int = 200, *, n_points: int = 20, seed: int = 0
) -> dict[str, float]:
    """Check log p(x) = ELBO + KL(q ‖ posterior) and ELBO ≤ log p(x) on random models.

    Each model draws D ∈ [1, 8], K ∈ [1, 5], W, b ~ N(0, 1), σ² log-uniform in
    [1e-2, 1e1], a random encoder (means ~ N(0, 1), S = A Aᵀ + 0.1 I) and n_points
    data points from the model. Returns the largest |log p − ELBO − KL| (absolute
    and relative to |log p|), the smallest log p − ELBO, and the largest |log p −
    ELBO| when the encoder is the exact posterior.
    """
    gen = torch.Generator().manual_seed(seed)
    dt = torch.float64
    worst_abs = worst_rel = worst_tight = 0.0
    min_gap = math.inf

    def randn(*shape: int) -> Tensor:
        return torch.randn(*shape, generator=gen, dtype=dt)

    for _ in range(n_models):
        D = int(torch.randint(1, 9, (), generator=gen))
        K = int(torch.randint(1, 6, (), generator=gen))
        W, b = randn(D, K), randn(D)
        sigma2 = float(10 ** (3 * torch.rand((), generator=gen, dtype=dt) - 2))
        x = randn(n_points, K) @ W.T + b + math.sqrt(sigma2) * randn(n_points, D)
        A = randn(K, K)
        S = A @ A.T + 0.1 * torch.eye(K, dtype=dt)
        m = randn(n_points, K)
        lp = marginal_log_prob(x, W, b, sigma2)
        e = elbo(x, W, b, sigma2, m, S)
        kl = posterior_kl(x, W, b, sigma2, m, S)
        err = (lp - e - kl).abs()
        worst_abs = max(worst_abs, err.max().item())
        worst_rel = max(worst_rel, (err / lp.abs().clamp(min=1.0)).max().item())
        min_gap = min(min_gap, (lp - e).min().item())
        pm, pc = exact_posterior(x, W, b, sigma2)
        worst_tight = max(worst_tight, (lp - elbo(x, W, b, sigma2, pm, pc)).abs().max().item())
    return {
        "n_models": n_models,
        "n_points_per_model": n_points,
        "max_abs_error_logp_minus_elbo_minus_kl": worst_abs,
        "max_rel_error_logp_minus_elbo_minus_kl": worst_rel,
        "min_logp_minus_elbo": min_gap,
        "max_abs_gap_at_exact_posterior": worst_tight,
    }


def _c_matrix(W: Tensor, sigma2: Tensor) -> Tensor:
    return W @ W.T + sigma2 * torch.eye(W.shape[0], dtype=W.dtype, device=W.device)


def compare_with_ppca(model: LinearGaussianVAE, x: Tensor) -> dict[str, float]:
    """Return how close a trained linear VAE is to the closed-form PPCA estimate."""
    K = model.K
    W_ml, b_ml, s2_ml = ppca_closed_form(x, K)
    with torch.no_grad():
        C, C_ml = _c_matrix(model.W, model.sigma2), _c_matrix(W_ml, s2_ml)
        loglik_ml = marginal_log_prob(x, W_ml, b_ml, s2_ml).mean().item()
        e = model.elbo(x).mean().item()
        lp = model.log_prob(x).mean().item()
        gap = model.gap_kl(x).mean().item()
        return {
            "rel_frobenius_error_C": ((C - C_ml).norm() / C_ml.norm()).item(),
            "rel_error_sigma2": (abs(model.sigma2 - s2_ml) / s2_ml).item(),
            "max_abs_error_b": (model.b - b_ml).abs().max().item(),
            "sigma2_vae": model.sigma2.item(),
            "sigma2_ppca": s2_ml.item(),
            "mean_elbo": e,
            "mean_log_prob": lp,
            "mean_log_prob_ppca": loglik_ml,
            "mean_gap_kl": gap,
            "elbo_minus_ppca_log_prob": e - loglik_ml,
        }


def run_lemma_check(*, seed: int = 0, n: int = 100, sigma2: float = 0.5) -> dict[str, Any]:
    """Tables of the 1-D linear VAE and :func:`klmath.check_argmax_lemma` on three φ-grids.

    * ``posterior_in_grid``: φ = exact posteriors of every grid θ plus 40 random
      encoders: all hypotheses hold, so the conclusion must hold;
    * ``posterior_removed``: only the 40 random encoders: min_φ h > 0;
    * ``collapsed_encoder``: q(z|x) = N(0, τ²) ignores x (v = 0): the ELBO prefers
      w = 0 (posterior collapse), so argmax g misses the maximum-likelihood w.
    """
    gen = torch.Generator().manual_seed(seed)
    dt = torch.float64
    x = 1.5 * torch.randn(n, generator=gen, dtype=dt)
    w_grid = torch.linspace(-3.0, 3.0, 41, dtype=dt)
    extra = torch.stack(
        [
            2.0 * torch.rand(40, generator=gen, dtype=dt) - 1.0,
            0.05 + torch.rand(40, generator=gen, dtype=dt),
        ],
        dim=-1,
    )
    collapsed = torch.stack(
        [torch.zeros(20, dtype=dt), torch.linspace(0.05, 2.0, 20, dtype=dt)], dim=-1
    )
    tables = lemma_tables(x, w_grid, sigma2, torch.cat([posterior_phi(w_grid, sigma2), extra]))
    f = tables["f"].numpy()
    # Absolute tolerance: g + h reproduces f to ~1e-12 here (|f| ≈ 2e2, so a few
    # thousand ulps); 1e-9 is far above that and far below the smallest gap between
    # distinct grid values of f (≈ 1e-2), so argmax sets are not blurred.
    atol = 1e-9
    cases: dict[str, Any] = {}
    col_sets = {
        "posterior_in_grid": slice(None),
        "posterior_removed": slice(len(w_grid), None),
    }
    for name, cols in col_sets.items():
        g, h = tables["g"].numpy()[:, cols], tables["h"].numpy()[:, cols]
        cases[name] = _lemma_summary(klmath.check_argmax_lemma(g, h, atol=atol), w_grid)
    tc = lemma_tables(x, w_grid, sigma2, collapsed)
    r = klmath.check_argmax_lemma(tc["g"].numpy(), tc["h"].numpy(), atol=atol)
    cases["collapsed_encoder"] = _lemma_summary(r, w_grid)
    g_all, h_all = tables["g"].numpy(), tables["h"].numpy()
    return {
        "setup": {
            "model": "p(z) = N(0,1), p(x|z) = N(w z, σ²), q(z|x) = N(v x, τ²)",
            "theta": "w on linspace(-3, 3, 41)",
            "sigma2": sigma2,
            "n_data": n,
            "atol": atol,
            "w_ml_closed_form": math.sqrt(max(float((x * x).mean()) - sigma2, 0.0)),
        },
        "max_abs_f_minus_g_minus_h": float(np.abs(g_all + h_all - f[:, None]).max()),
        "cases": cases,
        "_plot": {
            "w": w_grid.numpy(),
            "f": f,
            "max_g_posterior": g_all.max(1),
            "max_g_removed": g_all[:, len(w_grid) :].max(1),
            "max_g_collapsed": tc["g"].numpy().max(1),
        },
    }


def _lemma_summary(r: Any, w_grid: Tensor) -> dict[str, Any]:
    return {
        "hypotheses_hold": r.hypotheses_hold,
        "conclusion_holds": r.conclusion_holds,
        "argmax_f_w": [round(float(w_grid[i]), 12) + 0.0 for i in r.argmax_f],
        "argmax_g_w": [round(float(w_grid[i]), 12) + 0.0 for i in r.argmax_g_theta],
        "failures": list(r.failures),
    }
