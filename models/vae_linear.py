"""The linear-Gaussian VAE, where every term of the ELBO identity is closed-form.

Model (decoder, parameters θ = (W, b, σ²)) and encoder (parameters φ = (V, c, S)):

.. math::

    p_θ(z) = N(0, I_K), \\quad p_θ(x | z) = N(W z + b, σ² I_D), \\quad
    q_φ(z | x) = N(V x + c, S).

Everything is exact here:

* the marginal is p_θ(x) = N(b, C) with C = W Wᵀ + σ² I_D;
* the posterior is p_θ(z | x) = N(M⁻¹ Wᵀ (x − b), σ² M⁻¹) with M = Wᵀ W + σ² I_K;
* the ELBO is E_q[log p_θ(x | z)] − KL(q_φ(z | x) ‖ p(z)) with
  E_q[log p_θ(x | z)] = −D/2 log(2πσ²) − (‖x − W m − b‖² + tr(W S Wᵀ)) / (2σ²), m = V x + c.

So the identity of seed problem 6, log p_θ(x) = ELBO(θ, φ) + KL(q_φ(z|x) ‖ p_θ(z|x)),
can be checked term by term: the ELBO uses :func:`klmath.gaussian_kl` against the
prior, the gap uses it against the posterior, and log p_θ(x) is a Cholesky-based
Gaussian log-density; three independent computations. The posterior covariance does
not depend on x and its mean is affine in x, so with a full covariance S the encoder
family contains the posterior, the gap can reach 0, and by the argmax lemma the ELBO
maximiser is the maximum-likelihood estimate, which for this model is probabilistic
PCA (Tipping & Bishop, 1999) in closed form (:func:`ppca_closed_form`).

Run ``python -m models.vae --linear --out DIR`` for the report and plots.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

import klmath

__all__ = [
    "LinearGaussianVAE",
    "compare_with_ppca",
    "elbo",
    "exact_posterior",
    "lemma_tables",
    "marginal_log_prob",
    "posterior_kl",
    "posterior_phi",
    "ppca_closed_form",
    "random_identity_check",
    "run_lemma_check",
    "run_linear",
    "sample_ppca_data",
    "train_linear_vae",
]

_LOG_2PI = math.log(2.0 * math.pi)


def marginal_log_prob(x: Tensor, W: Tensor, b: Tensor, sigma2: Tensor | float) -> Tensor:
    """Return log p_θ(x) = log N(x; b, W Wᵀ + σ² I), one value per row of ``x``.

    Parameters
    ----------
    x : Tensor, shape (N, D)
    W : Tensor, shape (D, K)
    b : Tensor, shape (D,)
    sigma2 : Tensor (scalar) or float, the decoder variance σ² > 0.

    Returns
    -------
    Tensor, shape (N,), in the dtype and on the device of ``x``.

    Notes
    -----
    One Cholesky factor L of C, then a triangular solve for the Mahalanobis term and
    2 Σ log L_ii for log det C: no inverse, no ``logdet`` of an ill-conditioned C.
    """
    D = x.shape[-1]
    C = W @ W.T + sigma2 * torch.eye(D, dtype=x.dtype, device=x.device)
    L = torch.linalg.cholesky(C)
    r = torch.linalg.solve_triangular(L, (x - b).T, upper=False)  # (D, N)
    logdet = 2.0 * torch.log(torch.diagonal(L)).sum()
    return -0.5 * (D * _LOG_2PI + logdet + (r * r).sum(0))


def exact_posterior(
    x: Tensor, W: Tensor, b: Tensor, sigma2: Tensor | float
) -> tuple[Tensor, Tensor]:
    """Return the posterior p_θ(z | x) = N(M⁻¹ Wᵀ (x − b), σ² M⁻¹), M = Wᵀ W + σ² I.

    Returns
    -------
    mean : Tensor, shape (N, K)
    cov : Tensor, shape (K, K), the same for every x (it does not depend on x).
    """
    K = W.shape[-1]
    M = W.T @ W + sigma2 * torch.eye(K, dtype=W.dtype, device=W.device)
    L = torch.linalg.cholesky(M)
    mean = torch.cholesky_solve(W.T @ (x - b).T, L).T
    cov = sigma2 * torch.cholesky_inverse(L)
    # cholesky_inverse is symmetric up to rounding; symmetrise so a later Cholesky
    # (inside gaussian_kl) sees an exactly symmetric matrix.
    return mean, 0.5 * (cov + cov.T)


def elbo(
    x: Tensor,
    W: Tensor,
    b: Tensor,
    sigma2: Tensor | float,
    enc_mean: Tensor,
    enc_cov: Tensor,
) -> Tensor:
    """Return the exact ELBO E_q[log p_θ(x|z)] − KL(q ‖ N(0, I)), one value per row of ``x``.

    .. math::

        \\mathrm{ELBO} = -\\tfrac{D}{2}\\log(2πσ²)
            - \\frac{‖x − W m − b‖² + \\operatorname{tr}(W S Wᵀ)}{2σ²}
            - \\mathrm{KL}(N(m, S) ‖ N(0, I)).

    Parameters
    ----------
    x : Tensor, shape (N, D)
    W, b, sigma2 : decoder parameters, shapes (D, K), (D,), scalar.
    enc_mean : Tensor, shape (N, K), the encoder means m = V x + c.
    enc_cov : Tensor, shape (K, K) or (N, K, K), the encoder covariance S.

    The KL term is :func:`klmath.gaussian_kl`; the expected log-likelihood is the
    Gaussian identity E‖x − W z − b‖² = ‖x − W m − b‖² + tr(W S Wᵀ).
    """
    D = x.shape[-1]
    K = W.shape[-1]
    sigma2_t = torch.as_tensor(sigma2, dtype=x.dtype, device=x.device)
    resid = x - enc_mean @ W.T - b
    trace = torch.einsum("dk,...kl,dl->...", W, enc_cov, W)
    expected_loglik = (
        -0.5 * D * (_LOG_2PI + torch.log(sigma2_t))
        - 0.5 * ((resid * resid).sum(-1) + trace) / sigma2_t
    )
    zeros = torch.zeros(K, dtype=x.dtype, device=x.device)
    eye = torch.eye(K, dtype=x.dtype, device=x.device)
    kl_prior = klmath.gaussian_kl(enc_mean, enc_cov, zeros, eye)
    return expected_loglik - kl_prior


def posterior_kl(
    x: Tensor,
    W: Tensor,
    b: Tensor,
    sigma2: Tensor | float,
    enc_mean: Tensor,
    enc_cov: Tensor,
) -> Tensor:
    """Return KL(q(z|x) ‖ p_θ(z|x)) via :func:`klmath.gaussian_kl`, shape (N,)."""
    post_mean, post_cov = exact_posterior(x, W, b, sigma2)
    return klmath.gaussian_kl(enc_mean, enc_cov, post_mean, post_cov)


def ppca_closed_form(x: Tensor, K: int) -> tuple[Tensor, Tensor, Tensor]:
    """Return the probabilistic-PCA maximum-likelihood estimate (W_ML, b_ML, σ²_ML).

    Tipping & Bishop (1999): with the sample covariance (1/N normalisation)
    S_x = U Λ Uᵀ, eigenvalues λ₁ ≥ … ≥ λ_D,

    .. math::

        b_{ML} = \\bar x, \\quad σ²_{ML} = \\frac{1}{D - K} \\sum_{j > K} λ_j, \\quad
        W_{ML} = U_K (Λ_K − σ²_{ML} I)^{1/2}

    (unique up to a rotation R on the right; W Wᵀ + σ² I is unique). Requires K < D.
    """
    N, D = x.shape
    if not 0 < K < D:
        raise ValueError(f"K must satisfy 0 < K < D = {D}; got K = {K}")
    mean = x.mean(0)
    xc = x - mean
    cov = xc.T @ xc / N
    evals, evecs = torch.linalg.eigh(cov)  # ascending
    evals, evecs = evals.flip(0), evecs.flip(1)
    sigma2 = evals[K:].mean()
    W = evecs[:, :K] * torch.sqrt(torch.clamp(evals[:K] - sigma2, min=0.0))
    return W, mean, sigma2


def sample_ppca_data(
    n: int, D: int, K: int, *, sigma2: float = 0.1, seed: int = 0
) -> tuple[Tensor, dict[str, Tensor]]:
    """Return n float64 samples of a random PPCA model and the model's parameters."""
    g = torch.Generator().manual_seed(seed)
    W = torch.randn(D, K, generator=g, dtype=torch.float64)
    b = torch.randn(D, generator=g, dtype=torch.float64)
    z = torch.randn(n, K, generator=g, dtype=torch.float64)
    eps = torch.randn(n, D, generator=g, dtype=torch.float64)
    x = z @ W.T + b + math.sqrt(sigma2) * eps
    return x, {"W": W, "b": b, "sigma2": torch.tensor(sigma2, dtype=torch.float64)}


class LinearGaussianVAE(nn.Module):
    """Linear-Gaussian VAE: decoder N(W z + b, σ² I), encoder N(V x + c, S).

    ``full_cov=True`` parametrises S = L Lᵀ with L lower-triangular with a positive
    (exp) diagonal: this family contains the exact posterior. ``full_cov=False``
    uses a diagonal S = diag(exp(s)). σ² = exp(log_sigma2) keeps σ² > 0.
    """

    def __init__(self, D: int, K: int, *, full_cov: bool = True, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        dt = torch.float64
        self.D, self.K, self.full_cov = D, K, full_cov
        self.W = nn.Parameter(0.1 * torch.randn(D, K, generator=g, dtype=dt))
        self.b = nn.Parameter(torch.zeros(D, dtype=dt))
        self.log_sigma2 = nn.Parameter(torch.zeros((), dtype=dt))
        self.V = nn.Parameter(torch.zeros(K, D, dtype=dt))
        self.c = nn.Parameter(torch.zeros(K, dtype=dt))
        self.enc_log_diag = nn.Parameter(torch.zeros(K, dtype=dt))
        self.enc_offdiag = nn.Parameter(torch.zeros(K, K, dtype=dt)) if full_cov else None

    @property
    def sigma2(self) -> Tensor:
        return torch.exp(self.log_sigma2)

    def encoder_cov(self) -> Tensor:
        """The encoder covariance S, shape (K, K)."""
        diag = torch.exp(self.enc_log_diag)
        if self.enc_offdiag is None:
            return torch.diag(diag)
        L = torch.tril(self.enc_offdiag, diagonal=-1) + torch.diag(
            torch.exp(0.5 * self.enc_log_diag)
        )
        return L @ L.T

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Return the encoder mean (N, K) and covariance (K, K)."""
        return x @ self.V.T + self.c, self.encoder_cov()

    def elbo(self, x: Tensor) -> Tensor:
        """Exact per-row ELBO, shape (N,)."""
        m, S = self.encode(x)
        return elbo(x, self.W, self.b, self.sigma2, m, S)

    def log_prob(self, x: Tensor) -> Tensor:
        """Exact per-row log p_θ(x), shape (N,)."""
        return marginal_log_prob(x, self.W, self.b, self.sigma2)

    def gap_kl(self, x: Tensor) -> Tensor:
        """Per-row KL(q(z|x) ‖ p_θ(z|x)), shape (N,)."""
        m, S = self.encode(x)
        return posterior_kl(x, self.W, self.b, self.sigma2, m, S)


@dataclass
class LinearTrainResult:
    """A trained linear VAE and its per-step training curves (mean over data)."""

    model: LinearGaussianVAE
    elbo: list[float]
    log_prob: list[float]
    gap: list[float]


@contextmanager
def _single_thread() -> Iterator[None]:
    # These tensors are tiny: with several threads the time goes to thread
    # synchronisation (5x slower on a busy 2-core machine), so use one.
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


def train_linear_vae(
    x: Tensor,
    K: int,
    *,
    full_cov: bool = True,
    steps: int = 300,
    lr: float = 0.05,
    polish_steps: int = 1500,
    seed: int = 0,
    progress: bool = False,
) -> LinearTrainResult:
    """Maximise the mean exact ELBO by full-batch gradient ascent: Adam, then L-BFGS.

    Adam (cosine-decayed learning rate) does the bulk of the climb; L-BFGS, in rounds
    of 100 iterations up to ``polish_steps`` in all, takes the optimum to near machine
    precision, so the comparison with PPCA measures the mathematics and not the
    optimiser's stopping point. The diagonal encoder needs the long polish: its ELBO
    fixes the rotation of W (it makes Wᵀ W diagonal) only through a weakly curved
    direction. Curves record mean ELBO, mean log p_θ(x) and their difference at every
    Adam step and every L-BFGS function evaluation.
    """
    D = x.shape[1]
    model = LinearGaussianVAE(D, K, full_cov=full_cov, seed=seed)
    curves: dict[str, list[float]] = {"elbo": [], "log_prob": [], "gap": []}

    def record(e: Tensor) -> None:
        with torch.no_grad():
            lp = model.log_prob(x).mean().item()
        curves["elbo"].append(e.item())
        curves["log_prob"].append(lp)
        curves["gap"].append(lp - e.item())

    with _single_thread():
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
        it: Any = range(steps)
        if progress:
            from tqdm import tqdm

            it = tqdm(it, desc=f"linear VAE, {'full' if full_cov else 'diagonal'} S", leave=False)
        for _ in it:
            opt.zero_grad()
            e = model.elbo(x).mean()
            (-e).backward()
            opt.step()
            sched.step()
            record(e.detach())
        lbfgs = torch.optim.LBFGS(
            model.parameters(),
            lr=1.0,
            max_iter=100,
            history_size=50,
            tolerance_grad=1e-14,
            tolerance_change=1e-16,
            line_search_fn="strong_wolfe",
        )

        def closure() -> Tensor:
            lbfgs.zero_grad()
            e = model.elbo(x).mean()
            (-e).backward()
            record(e.detach())
            return -e

        done = 0
        best = curves["elbo"][-1]
        while done < polish_steps:
            before = lbfgs.state[lbfgs._params[0]].get("n_iter", 0)
            lbfgs.step(closure)
            done += max(lbfgs.state[lbfgs._params[0]]["n_iter"] - before, 1)
            now = max(curves["elbo"][-lbfgs.defaults["max_iter"] :])
            if now <= best:
                break  # a whole round without progress: converged in float64
            best = now
    return LinearTrainResult(model, curves["elbo"], curves["log_prob"], curves["gap"])


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


def _to_np(t: Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


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
    return W @ W.T + sigma2 * torch.eye(W.shape[0], dtype=W.dtype)


def compare_with_ppca(result: LinearTrainResult, x: Tensor) -> dict[str, float]:
    """Return how close a trained linear VAE is to the closed-form PPCA estimate."""
    model = result.model
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


def _plot_linear(curves: dict[str, LinearTrainResult], lemma: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 3, figsize=(14, 3.8))
    for (name, res), color in zip(curves.items(), ["C0", "C1"], strict=False):
        steps = np.arange(1, len(res.elbo) + 1)
        ax[0].plot(steps, res.log_prob, color=color, label=f"log p(x), {name} S")
        ax[0].plot(steps, res.elbo, color=color, ls="--", label=f"ELBO, {name} S")
        gap = np.maximum(np.asarray(res.gap), 1e-17)
        ax[1].semilogy(steps, gap, color=color, label=f"{name} S")
    lo = min(min(r.elbo[len(r.elbo) // 20 :]) for r in curves.values())
    hi = max(max(r.log_prob) for r in curves.values())
    ax[0].set_ylim(lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo))
    ax[0].set(
        xlabel="step (Adam, then L-BFGS)",
        ylabel="mean nats per point",
        title="ELBO ≤ log p(x) during training",
    )
    ax[0].legend(fontsize=7)
    ax[1].set(
        xlabel="step", ylabel="log p(x) − ELBO = KL(q ‖ p(z|x))", title="the gap (floored at 1e-17)"
    )
    ax[1].legend(fontsize=7)
    d = lemma["_plot"]
    ax[2].plot(d["w"], d["f"], "k-", lw=2, label="f(w) = Σ log p_w(x)")
    ax[2].plot(d["w"], d["max_g_posterior"], "C0--", label="max_φ g, posterior in grid")
    ax[2].plot(d["w"], d["max_g_removed"], "C1:", label="max_φ g, posterior removed")
    ax[2].plot(d["w"], d["max_g_collapsed"], "C3-.", label="max_φ g, collapsed q = N(0, τ²)")
    top = float(np.max(d["f"]))
    ax[2].set_ylim(float(np.max(d["max_g_collapsed"])) - 40, top + 15)
    ax[2].set(xlabel="w", ylabel="nats", title="argmax lemma on a grid")
    ax[2].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_linear(
    out: Path,
    *,
    seed: int = 0,
    n: int = 500,
    D: int = 8,
    K: int = 3,
    steps: int = 300,
    progress: bool = True,
) -> dict[str, Any]:
    """Run every linear-Gaussian experiment, write ``report.json`` and ``linear_vae.png``.

    1. the identity log p = ELBO + KL(q ‖ posterior) on 200 random models;
    2. gradient ascent on the exact ELBO for n synthetic PPCA points (D, K), with a
       full and a diagonal encoder covariance, compared with closed-form PPCA;
    3. the argmax lemma on a discretised 1-D model (:func:`run_lemma_check`).
    """
    from models._common import run_metadata, timer, write_json

    out.mkdir(parents=True, exist_ok=True)
    with timer() as t:
        identity = random_identity_check(seed=seed)
        x, truth = sample_ppca_data(n, D, K, sigma2=0.1, seed=seed)
        results: dict[str, LinearTrainResult] = {}
        training: dict[str, Any] = {}
        for name, full in (("full", True), ("diagonal", False)):
            res = train_linear_vae(x, K, full_cov=full, steps=steps, seed=seed, progress=progress)
            results[name] = res
            training[name] = {
                **compare_with_ppca(res, x),
                "steps_adam": steps,
                "evaluations_lbfgs": len(res.elbo) - steps,
                "max_elbo_minus_log_prob_over_training": max(
                    e - lp for e, lp in zip(res.elbo, res.log_prob, strict=True)
                ),
            }
        lemma = run_lemma_check(seed=seed)
    report: dict[str, Any] = {
        "identity_random_models": identity,
        "training": {
            "data": {"n": n, "D": D, "K": K, "true_sigma2": float(truth["sigma2"])},
            "optimizer": f"Adam lr 0.05 (cosine) for {steps} steps, then L-BFGS to convergence "
            "(at most 1500 iterations)",
            **training,
        },
        "argmax_lemma": {k: v for k, v in lemma.items() if not k.startswith("_")},
        "seconds": t["seconds"],
        "meta": run_metadata(torch.device("cpu")),
        "seed": seed,
    }
    write_json(out / "report.json", report)
    _plot_linear(results, lemma, out / "linear_vae.png")
    return report
