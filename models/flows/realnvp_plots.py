"""Plots of RealNVP runs: toy densities side by side, the loss curve, MNIST samples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from models.flows.realnvp import LOGIT_ALPHA, Checkerboard2D, GaussianMixture2D, RealNVP
from models.kit.plotting import pyplot, save

__all__ = ["plot_losses", "plot_mnist_samples", "plot_toy"]


def plot_toy(
    flow: RealNVP,
    true: GaussianMixture2D | Checkerboard2D,
    x_test: np.ndarray,
    device: torch.device,
    gen: torch.Generator,
    path: Path,
) -> str:
    """Data | true density | learned density | flow samples | test data in z-space."""
    lim, res = 3.0, 200
    g = np.linspace(-lim, lim, res)
    grid = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
    with torch.no_grad():
        lq = flow.log_prob(torch.tensor(grid, dtype=torch.float32, device=device)).cpu().numpy()
        samples = flow.sample(len(x_test), gen).cpu().numpy()
        z = flow(torch.tensor(x_test, dtype=torch.float32, device=device))[0].cpu().numpy()
    plt = pyplot()
    fig, axes = plt.subplots(1, 5, figsize=(20, 4.2))
    hist = {"bins": 150, "range": [[-lim, lim], [-lim, lim]], "cmap": "viridis"}
    axes[0].hist2d(x_test[:, 0], x_test[:, 1], **hist)
    axes[0].set_title("test data")
    extent = (-lim, lim, -lim, lim)
    axes[1].imshow(np.exp(true.log_prob(grid)).reshape(res, res), origin="lower", extent=extent)
    axes[1].set_title("true density p")
    axes[2].imshow(np.exp(lq).reshape(res, res), origin="lower", extent=extent)
    axes[2].set_title("learned density q")
    axes[3].hist2d(samples[:, 0], samples[:, 1], **hist)
    axes[3].set_title("samples x = f⁻¹(z)")
    axes[4].hist2d(z[:, 0], z[:, 1], bins=100, range=[[-4, 4], [-4, 4]], cmap="viridis")
    axes[4].add_patch(plt.Circle((0, 0), 2.0, fill=False, color="w", ls="--"))
    axes[4].set_title("test data in z-space (2σ circle)")
    for ax in axes:
        ax.set_aspect("equal")
    fig.suptitle(f"RealNVP ({len(flow.layers)} couplings) on {true.name}")
    fig.tight_layout()
    return save(fig, path, dpi=80)


def plot_losses(losses: list[float], label: str, path: Path) -> str:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(losses, lw=0.6)
    ax.set_xlabel("step")
    ax.set_ylabel(label)
    fig.tight_layout()
    return save(fig, path, dpi=80)


def plot_mnist_samples(flow: RealNVP, gen: torch.Generator, path: Path) -> str:
    """64 samples, mapped back from logit space to [0, 1]."""
    y = flow.sample(64, gen).cpu()
    x = ((torch.sigmoid(y) - LOGIT_ALPHA) / (1 - 2 * LOGIT_ALPHA)).clamp(0, 1)
    grid = x.reshape(8, 8, 28, 28).permute(0, 2, 1, 3).reshape(8 * 28, 8 * 28).numpy()
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.imshow(grid, cmap="gray")
    ax.axis("off")
    fig.tight_layout()
    return save(fig, path, dpi=80)
