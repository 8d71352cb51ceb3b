"""A small convolutional VAE on dynamically binarised MNIST, and the linear-Gaussian VAE.

Model (Bernoulli decoder, diagonal-Gaussian encoder, z ∈ R^L):

.. math::

    p(z) = N(0, I_L), \\quad p_θ(x | z) = \\prod_{i=1}^{784} \\mathrm{Bern}(x_i; π_θ(z)_i),
    \\quad q_φ(z | x) = N(μ_φ(x), \\operatorname{diag} σ²_φ(x)),

    \\mathrm{ELBO}(x) = E_q[\\log p_θ(x | z)] − \\mathrm{KL}(q_φ(z|x) ‖ N(0, I)),

where the KL term is :func:`klmath.gaussian_kl_diag` (closed form) and the first term
is estimated with reparameterised samples z = μ + σ ε. Training images are binarised
afresh at every step (x ~ Bern(pixel / 255), "dynamic binarisation"); evaluation
images are binarised once with a fixed seed so every number is reproducible.

Reported (``report.json``): the test ELBO in nats and bits/dim (nats / (784 ln 2));
the importance-weighted bound (Burda et al., 2016)

.. math:: \\mathcal L_k(x) = E\\Big[\\log \\frac1k \\sum_{j=1}^k
          \\frac{p_θ(x, z_j)}{q_φ(z_j | x)}\\Big] ≤ \\log p_θ(x), \\quad z_j \\sim q_φ(z|x),

with k = ``--iwae-k`` (5000 by default, the IWAE paper's protocol) on the first
``--iwae-subset`` test images in canonical order; and −ELBO as an anomaly score for
MNIST (normal) vs KMNIST (anomalous) with the autoencoder's rule (threshold = mean +
k std of the scores on a validation split never trained on, ``--k``), type I/II errors
and AUROC (:func:`models.kit.detection.detection_report`).

Run ``python -m models.vae`` (MNIST) or ``python -m models.vae --linear`` (the exact
linear-Gaussian model of :mod:`models.vae.linear`).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

import klmath
from models.kit.progress import bar

__all__ = [
    "IWAE_PAPER_VAE_NATS",
    "ConvVAE",
    "binarize",
    "elbo_scores",
    "iw_bound",
    "iw_scores",
    "nats_to_bits_per_dim",
]

N_PIXELS = 28 * 28
# The IWAE paper (Burda et al., 2016, table 1): one stochastic layer VAE, k = 5000.
IWAE_PAPER_VAE_NATS = 86.76
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def nats_to_bits_per_dim(nats: float, dims: int = N_PIXELS) -> float:
    """Return a negative log-likelihood in bits per dimension: nats / (dims · ln 2)."""
    return nats / (dims * math.log(2.0))


def binarize(images: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Return a Bernoulli sample x ~ Bern(p) per pixel, p = pixel / 255, as float 0/1."""
    p = images.float() / 255.0
    return torch.bernoulli(p, generator=generator)


class ConvVAE(nn.Module):
    """A small convolutional VAE for 1 × 28 × 28 binary images.

    Encoder: conv 1→16 (4×4, stride 2) → conv 16→32 (4×4, stride 2) → dense 256 →
    (μ, log σ²) ∈ R^L × R^L. Decoder: dense L→256→32·7·7 → transposed convs back to
    1 × 28 × 28 Bernoulli logits. Small on purpose: a k = 5000 importance-weighted
    bound runs the decoder 5000 times per image.
    """

    def __init__(self, latent_dim: int = 32, hidden: int = 256) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 16, 4, 2, 1),
            nn.ReLU(),
            nn.Conv2d(16, 32, 4, 2, 1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(32 * 7 * 7, hidden),
            nn.ReLU(),
            nn.Linear(hidden, 2 * latent_dim),
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, hidden),
            nn.ReLU(),
            nn.Linear(hidden, 32 * 7 * 7),
            nn.ReLU(),
            nn.Unflatten(1, (32, 7, 7)),
            nn.ConvTranspose2d(32, 16, 4, 2, 1),
            nn.ReLU(),
            nn.ConvTranspose2d(16, 1, 4, 2, 1),
        )

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Return the posterior mean and variance, each (B, L), for x of shape (B, 1, 28, 28)."""
        mean, log_var = self.encoder(x).chunk(2, dim=-1)
        # Bounded log-variance: exp never overflows and the KL stays finite early on.
        log_var = 10.0 * torch.tanh(log_var / 10.0)
        return mean, torch.exp(log_var)

    def decode(self, z: Tensor) -> Tensor:
        """Return Bernoulli logits of shape (..., 1, 28, 28) for z of shape (..., L)."""
        lead = z.shape[:-1]
        logits = self.decoder(z.reshape(-1, self.latent_dim))
        return logits.reshape(*lead, 1, 28, 28)

    def kl_prior(self, mean: Tensor, var: Tensor) -> Tensor:
        """Return KL(N(mean, diag var) ‖ N(0, I)) per row, via :func:`klmath.gaussian_kl_diag`."""
        zeros = torch.zeros_like(mean)
        return klmath.gaussian_kl_diag(mean, var, zeros, torch.ones_like(var))

    def elbo(self, x: Tensor, n_samples: int = 1) -> tuple[Tensor, Tensor, Tensor]:
        """Return (ELBO, expected log-likelihood, KL) per image, each of shape (B,).

        The expected log-likelihood is the mean over ``n_samples`` reparameterised
        draws; the KL is exact.
        """
        mean, var = self.encode(x)
        eps = torch.randn((n_samples, *mean.shape), dtype=mean.dtype, device=mean.device)
        z = mean + var.sqrt() * eps  # (S, B, L)
        logits = self.decode(z)  # (S, B, 1, 28, 28)
        target = x.expand_as(logits)
        loglik = -F.binary_cross_entropy_with_logits(logits, target, reduction="none")
        loglik = loglik.flatten(2).sum(-1).mean(0)
        kl = self.kl_prior(mean, var)
        return loglik - kl, loglik, kl


@torch.no_grad()
def iw_bound(model: ConvVAE, x: Tensor, k: int, *, chunk: int = 500) -> Tensor:
    """Return the importance-weighted bound log (1/k) Σ_j p(x, z_j) / q(z_j | x), shape (B,).

    The k log-weights are computed in chunks of ``chunk`` samples (memory stays at
    chunk × B images) and combined with ``torch.logsumexp``, which never forms the
    weights themselves (they underflow: log-weights are about −90 nats).
    """
    mean, var = model.encode(x)
    std = var.sqrt()
    log_w = []
    for start in range(0, k, chunk):
        s = min(chunk, k - start)
        eps = torch.randn((s, *mean.shape), dtype=mean.dtype, device=mean.device)
        z = mean + std * eps
        logits = model.decode(z)
        loglik = (
            -F.binary_cross_entropy_with_logits(logits, x.expand_as(logits), reduction="none")
            .flatten(2)
            .sum(-1)
        )
        log_prior = -0.5 * (z * z).sum(-1) - model.latent_dim * _HALF_LOG_2PI
        log_q = (-0.5 * eps * eps - torch.log(std) - _HALF_LOG_2PI).sum(-1)
        log_w.append(loglik + log_prior - log_q)
    return torch.logsumexp(torch.cat(log_w, 0), dim=0) - math.log(k)


@torch.no_grad()
def elbo_scores(
    model: ConvVAE,
    images: Tensor,
    *,
    n_samples: int,
    seed: int,
    batch_size: int = 500,
    device: torch.device | None = None,
    desc: str = "ELBO",
    progress: bool = True,
) -> np.ndarray:
    """Return the per-image ELBO (nats) of a fixed-seed binarisation, float64 (N,).

    The expected log-likelihood is averaged over ``n_samples`` draws of z, so the
    score's noise shrinks like 1/√n_samples; the KL term is exact.
    """
    device = device or torch.device("cpu")
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    out = []
    for start in bar(
        range(0, images.shape[0], batch_size), desc=desc, unit="batch", enabled=progress
    ):
        x = binarize(images[start : start + batch_size], gen).to(device)
        out.append(model.elbo(x, n_samples)[0].double().cpu())
    return torch.cat(out).numpy()


@torch.no_grad()
def iw_scores(
    model: ConvVAE,
    images: Tensor,
    *,
    k: int,
    seed: int,
    n_elbo_samples: int = 4,
    batch_size: int = 10,
    device: torch.device | None = None,
    progress: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Return the per-image k-sample bound L_k and the ELBO (nats), each float64 (N,).

    Both are computed on the same fixed-seed binarisation of ``images``, so they
    bound log p(x) of the same binary images; the ELBO averages ``n_elbo_samples``
    draws of z.
    """
    device = device or torch.device("cpu")
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    binary = binarize(images, gen)
    out, elbos = [], []
    steps = range(0, images.shape[0], batch_size)
    for start in bar(steps, desc=f"IW k={k}", unit="batch", enabled=progress):
        x = binary[start : start + batch_size].to(device)
        out.append(iw_bound(model, x, k).double().cpu())
        with torch.no_grad():
            elbos.append(model.elbo(x, n_elbo_samples)[0].double().cpu())
    return torch.cat(out).numpy(), torch.cat(elbos).numpy()
