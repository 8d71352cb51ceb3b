r"""RealNVP: a stack of :class:`klmath.AffineCoupling` layers trained by maximum likelihood.

The flow maps data x to latent z = f(x) through couplings with alternating masks and scores
x by the change of variables with a standard normal base,

.. math:: \log q(x) = \log \mathcal N(f(x); 0, I) + \sum_\ell \mathbf 1^\top s_\ell(\cdot),

each layer's log-determinant coming from the coupling itself (seed problem 3).

Toy 2-D densities (``--dataset moons|rings|checkerboard``), drawn with NumPy and built so
that their density p is known exactly:

* ``moons``: two half circles, each an equal mixture of 100 isotropic Gaussians
  (σ = 0.1) with centres evenly spaced along the arc;
* ``rings``: three concentric circles (radii 0.6, 1.3, 2.0, mass ∝ radius), each a mixture
  of Gaussians (σ = 0.08) with centres every ~0.03 along the circle;
* ``checkerboard``: uniform on the 8 dark unit squares of a 4 × 4 board on [-2, 2]².

In 2-D a mask must select one coordinate, so the masks alternate (1, 0), (0, 1), ...
(``--masks checkerboard``) or pick a random coordinate per layer (``--masks random``). The
report holds the test negative log-likelihood in nats and KL(p ‖ q) estimated with
:func:`klmath.mc_kl` from draws of the true p; KL = NLL − H(p) is checked alongside.

MNIST (``--dataset mnist``) is modelled in logit space. Bits per dimension are an honest
upper bound on the discrete model's code length, accounted as follows for pixel values
k ∈ {0..255}^D, D = 784:

1. Dequantise: v = k + u, u ~ U[0, 1)^D. For any density p on [0, 256)^D, P(k) =
   ∫_{[0,1)^D} p(k + u) du ≥ exp E_u log p(k + u) (Jensen), so −E_u log₂ p(k + u) / D
   bounds the bits per dimension of the discrete model from above.
2. Scale: x = v / 256 ∈ [0, 1): log p_V(v) = log p_X(x) − D log 256.
3. Logit: y = logit(α + (1 − 2α) x), α = 0.05, so
   log p_X(x) = log p_Y(y) + Σ_i [log(1 − 2α) − log s_i − log(1 − s_i)], s = σ(y),
   with log s = −softplus(−y) and log(1 − s) = −softplus(y) (no cancellation).
4. Flow: log p_Y(y) = log N(f(y); 0, I) + Σ log-dets.

bits/dim = −log p_V(v) / (D ln 2), averaged over the MNIST test set with one fixed-seed
dequantisation draw per image (training uses fresh noise every step).

The script is :mod:`models.flows.realnvp_cli` (``python -m models.realnvp``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy.special import logsumexp
from torch import Tensor, nn

from klmath import AffineCoupling

__all__ = [
    "LOGIT_ALPHA",
    "TOY_DATASETS",
    "Checkerboard2D",
    "FlowDensity",
    "GaussianMixture2D",
    "RealNVP",
    "make_masks",
    "mlp",
    "mnist_log_prob_bits",
    "toy_density",
]

TOY_DATASETS = ("moons", "rings", "checkerboard")
LOGIT_ALPHA = 0.05


# --- toy densities with an exact log density ----------------------------------------------


@dataclass(frozen=True)
class GaussianMixture2D:
    """Equal-variance isotropic Gaussian mixture in 2-D: exact sampling and log density."""

    name: str
    centers: np.ndarray  # (M, 2)
    weights: np.ndarray  # (M,), sums to 1
    sigma: float

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """n draws, shape (n, 2), float64."""
        idx = rng.choice(len(self.weights), size=n, p=self.weights)
        return self.centers[idx] + self.sigma * rng.standard_normal((n, 2))

    def log_prob(self, x: Any) -> np.ndarray:
        """log p(x) for x of shape (..., 2), by logsumexp over the components."""
        x = np.asarray(x, dtype=np.float64)
        flat = x.reshape(-1, 2)
        log_w = np.log(self.weights) - math.log(2 * math.pi * self.sigma**2)
        out = np.empty(len(flat))
        # Chunks of 4096 points keep the (points × components) table near 30 MB.
        for i in range(0, len(flat), 4096):
            sq = ((flat[i : i + 4096, None, :] - self.centers) ** 2).sum(-1)
            out[i : i + 4096] = logsumexp(log_w - sq / (2 * self.sigma**2), axis=-1)
        return out.reshape(x.shape[:-1])


@dataclass(frozen=True)
class Checkerboard2D:
    """Uniform density 1/8 on the dark squares of a 4 × 4 unit board on [-2, 2]²."""

    name: str = "checkerboard"

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        col = rng.integers(0, 4, size=n)
        row = 2 * rng.integers(0, 2, size=n) + (col % 2)  # dark: (row + col) even
        return np.stack([col, row], axis=-1) - 2.0 + rng.random((n, 2))

    def log_prob(self, x: Any) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        cell = np.floor(x + 2.0)
        inside = np.all((cell >= 0) & (cell <= 3), axis=-1)
        dark = (cell.sum(-1) % 2) == 0
        return np.where(inside & dark, -math.log(8.0), -np.inf)


def toy_density(name: str) -> GaussianMixture2D | Checkerboard2D:
    """The true density of a toy dataset (see the module docstring)."""
    if name == "moons":
        theta = np.linspace(0.0, math.pi, 100)
        upper = np.stack([np.cos(theta), np.sin(theta)], -1)
        lower = np.stack([1.0 - np.cos(theta), 0.5 - np.sin(theta)], -1)
        centers = np.concatenate([upper, lower]) - np.array([0.5, 0.25])
        return GaussianMixture2D("moons", centers, np.full(200, 1 / 200), 0.1)
    if name == "rings":
        parts, weights = [], []
        for radius in (0.6, 1.3, 2.0):
            m = int(2 * math.pi * radius / 0.03)
            theta = np.linspace(0.0, 2 * math.pi, m, endpoint=False)
            parts.append(radius * np.stack([np.cos(theta), np.sin(theta)], -1))
            weights.append(np.full(m, radius / m))
        w = np.concatenate(weights)
        return GaussianMixture2D("rings", np.concatenate(parts), w / w.sum(), 0.08)
    if name == "checkerboard":
        return Checkerboard2D()
    raise ValueError(f"dataset must be one of {(*TOY_DATASETS, 'mnist')}, got {name!r}")


# --- the flow ------------------------------------------------------------------------------


def mlp(d_in: int, hidden: int, d_out: int) -> nn.Sequential:
    """Two hidden layers; the last layer starts at zero so each coupling starts as identity."""
    net = nn.Sequential(
        nn.Linear(d_in, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(),
        nn.Linear(hidden, d_out),
    )  # fmt: skip
    nn.init.zeros_(net[-1].weight)
    nn.init.zeros_(net[-1].bias)
    return net


def make_masks(dim: int, layers: int, kind: str, gen: torch.Generator) -> list[Tensor]:
    """Masks per layer: ``checkerboard`` alternates a parity pattern and its complement;
    ``random`` draws an independent half (one coordinate in 2-D) per layer."""
    if kind == "checkerboard":
        if dim == 784:
            i, j = torch.meshgrid(torch.arange(28), torch.arange(28), indexing="ij")
            base = ((i + j) % 2 == 0).flatten()
        else:
            base = torch.arange(dim) % 2 == 0
        return [base if ell % 2 == 0 else ~base for ell in range(layers)]
    if kind == "random":
        out = []
        for _ in range(layers):
            mask = torch.zeros(dim, dtype=torch.bool)
            mask[torch.randperm(dim, generator=gen)[: dim // 2]] = True
            out.append(mask)
        return out
    raise ValueError(f"masks must be 'checkerboard' or 'random', got {kind!r}")


class RealNVP(nn.Module):
    """x ↦ z through AffineCoupling layers, with a standard normal base density."""

    def __init__(self, masks: list[Tensor], hidden: int, clamp: float | None) -> None:
        super().__init__()
        self.dim = int(masks[0].shape[0])
        self.layers = nn.ModuleList()
        for mask in masks:
            k = int(mask.sum())
            self.layers.append(
                AffineCoupling(
                    mask, mlp(k, hidden, self.dim - k), mlp(k, hidden, self.dim - k), clamp=clamp
                )
            )

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Return (z, Σ log-dets), shapes (..., dim) and (...)."""
        log_det = x.new_zeros(x.shape[:-1])
        for layer in self.layers:
            x, ld = layer(x)
            log_det = log_det + ld
        return x, log_det

    def log_prob(self, x: Tensor) -> Tensor:
        """log q(x) = log N(f(x); 0, I) + log|det ∂f/∂x|, shape (...)."""
        z, log_det = self(x)
        base = -0.5 * (z.square().sum(-1) + self.dim * math.log(2 * math.pi))
        return base + log_det

    @torch.no_grad()
    def sample(self, n: int, gen: torch.Generator | None = None) -> Tensor:
        """n draws x = f⁻¹(z), z ~ N(0, I), shape (n, dim)."""
        p = next(self.parameters())
        z = torch.randn(n, self.dim, generator=gen, dtype=p.dtype).to(p.device)
        for layer in reversed(self.layers):
            z = layer.inverse(z)
        return z


class FlowDensity:
    """Adapter exposing a trained flow's log density to :func:`klmath.mc_kl` (NumPy in/out)."""

    def __init__(self, flow: RealNVP, device: torch.device) -> None:
        self.flow, self.device = flow, device

    @torch.no_grad()
    def log_prob(self, x: Any) -> np.ndarray:
        t = torch.as_tensor(np.asarray(x), dtype=torch.float32, device=self.device)
        return self.flow.log_prob(t).double().cpu().numpy()


def mnist_log_prob_bits(flow: RealNVP, pixels: Tensor, gen: torch.Generator | None) -> Tensor:
    """−log₂ p_V(k + u) / D per image, the accounting of the module docstring (steps 1-4)."""
    d = pixels.shape[-1]
    u = torch.rand(pixels.shape, generator=gen, dtype=torch.float32).to(pixels.device)
    x = (pixels + u) / 256.0
    y = torch.logit(LOGIT_ALPHA + (1 - 2 * LOGIT_ALPHA) * x)
    log_dy_dx = (
        math.log(1 - 2 * LOGIT_ALPHA) + nn.functional.softplus(-y) + nn.functional.softplus(y)
    )
    log_p_v = flow.log_prob(y) + log_dy_dx.sum(-1) - d * math.log(256.0)
    return -log_p_v / (d * math.log(2.0))
