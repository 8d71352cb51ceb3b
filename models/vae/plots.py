"""Plots of the MNIST VAE: image grids, training curves, anomaly-score histograms."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from models.kit.plotting import pyplot, save

__all__ = ["plot_curves", "plot_grid", "plot_scores"]


def plot_grid(images: np.ndarray, path: Path, title: str, nrow: int) -> str:
    plt = pyplot()
    n = images.shape[0]
    ncol = math.ceil(n / nrow)
    fig, axes = plt.subplots(nrow, ncol, figsize=(ncol * 0.8, nrow * 0.8 + 0.4))
    for ax, im in zip(np.ravel(axes), images, strict=False):
        ax.imshow(im, cmap="gray", vmin=0.0, vmax=1.0)
    for ax in np.ravel(axes):
        ax.axis("off")
    fig.suptitle(title, fontsize=9)
    return save(fig, path, bbox_inches="tight")


def plot_curves(history: list[dict[str, float]], path: Path) -> str:
    plt = pyplot()
    ep = np.arange(1, len(history) + 1)
    fig, ax = plt.subplots(1, 2, figsize=(8, 3))
    ax[0].plot(ep, [h["elbo"] for h in history], "o-")
    ax[0].set(xlabel="epoch", ylabel="train ELBO (nats)", title="ELBO")
    ax[1].plot(ep, [h["kl"] for h in history], "o-")
    ax[1].set(xlabel="epoch", ylabel="nats", title="KL(q ‖ p(z))")
    fig.tight_layout()
    return save(fig, path)


def plot_scores(
    val: np.ndarray, mnist: np.ndarray, kmnist: np.ndarray, thr: float, k: float, path: Path
) -> str:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    hi = np.quantile(np.concatenate([mnist, kmnist]), 0.995)
    bins = np.linspace(min(val.min(), mnist.min()), hi, 80).tolist()
    ax.hist(mnist, bins, alpha=0.5, density=True, label="MNIST test")
    ax.hist(kmnist, bins, alpha=0.5, density=True, label="KMNIST test")
    ax.hist(val, bins, histtype="step", density=True, label="MNIST validation")
    ax.axvline(thr, color="k", ls="--", label=f"mean + {k:g} std (validation)")
    ax.set(xlabel="−ELBO (nats)", ylabel="density", title="VAE anomaly score")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return save(fig, path)
