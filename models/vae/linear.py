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

Training and the report: :mod:`models.vae.linear_run` (``python -m models.vae --linear``).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

import klmath

__all__ = [
    "LinearGaussianVAE",
    "elbo",
    "exact_posterior",
    "marginal_log_prob",
    "posterior_kl",
    "ppca_closed_form",
    "sample_ppca_data",
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
