"""The autoencoders of seed problem 1, and the conversion every detector input goes through."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

__all__ = ["ARCHITECTURES", "IMAGE_SHAPE", "ConvAutoencoder", "DenseAutoencoder", "as_images"]

IMAGE_SHAPE = (28, 28)
N_PIXELS = 28 * 28


class DenseAutoencoder(nn.Module):
    """Fully connected autoencoder 784 → hidden → latent → hidden → 784.

    Input and output: (N, 28, 28) float in [0, 1] (sigmoid output).
    """

    def __init__(self, latent_dim: int = 128, hidden: int = 256) -> None:
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Flatten(), nn.Linear(N_PIXELS, hidden), nn.ReLU(), nn.Linear(hidden, latent_dim)
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, hidden),
            nn.ReLU(),
            nn.Linear(hidden, N_PIXELS),
            nn.Sigmoid(),
            nn.Unflatten(1, IMAGE_SHAPE),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


class ConvAutoencoder(nn.Module):
    """Small conv autoencoder: two stride-2 convolutions (28 → 14 → 7), a linear bottleneck.

    Input and output: (N, 28, 28) float in [0, 1] (sigmoid output).
    """

    def __init__(self, latent_dim: int = 16, hidden: int = 32) -> None:
        super().__init__()
        c1, c2 = hidden // 2, hidden
        self.encoder = nn.Sequential(
            nn.Flatten(1),
            nn.Unflatten(1, (1, *IMAGE_SHAPE)),
            nn.Conv2d(1, c1, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(c1, c2, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(c2 * 49, latent_dim),
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, c2 * 49),
            nn.ReLU(),
            nn.Unflatten(1, (c2, 7, 7)),
            nn.ConvTranspose2d(c2, c1, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(c1, 1, 4, stride=2, padding=1),
            nn.Sigmoid(),
            nn.Flatten(1, 2),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


ARCHITECTURES: dict[str, type[nn.Module]] = {"mlp": DenseAutoencoder, "conv": ConvAutoencoder}


def as_images(X: object, name: str = "X") -> torch.Tensor:
    """(N, 28, 28) or (N, 784) uint8 (scaled by 1/255) or float in [0, 1] -> float32 (N, 28, 28)."""
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    a = np.asarray(X)
    if a.ndim == 2 and a.shape[1] == N_PIXELS:
        a = a.reshape(-1, *IMAGE_SHAPE)
    if a.ndim != 3 or a.shape[1:] != IMAGE_SHAPE:
        raise ValueError(f"{name} must have shape (N, 28, 28) or (N, 784), got {a.shape}")
    if a.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one image, got shape {a.shape}")
    if a.dtype == np.uint8:
        return torch.from_numpy(a.astype(np.float32) / np.float32(255))
    if not np.issubdtype(a.dtype, np.floating):
        raise TypeError(f"{name} must be uint8 (0..255) or float (0..1), got dtype {a.dtype}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or infinite pixels")
    if a.min() < 0.0 or a.max() > 1.0:
        raise ValueError(
            f"{name}: float pixels must be in [0, 1], got [{a.min()}, {a.max()}] "
            "(pass uint8 images, or divide by 255)"
        )
    return torch.from_numpy(a.astype(np.float32))
