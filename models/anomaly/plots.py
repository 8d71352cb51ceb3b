"""Plots of a detector's results: score histograms, ROC curves, reconstruction grids."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from models.kit.detection import auroc, roc_curve
from models.kit.plotting import pyplot, save

__all__ = ["plot_results"]


def plot_results(
    out: Path,
    scores: dict[str, np.ndarray],
    report: dict[str, Any],
    grids: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
) -> list[str]:
    """Write the score histograms, ROC curve and reconstruction grids; return file names.

    ``scores``: 1-D score arrays keyed "validation", "mnist_test", "kmnist_test"
    and optionally "fashion_test"; ``grids``: per test set, (inputs, reconstructions,
    scores) of the images to show, inputs and reconstructions (n, 28, 28) in [0, 1].
    """
    plt = pyplot()
    k = report["k"]
    written = []
    fig, ax = plt.subplots(figsize=(8, 4.5))
    # scores span two orders of magnitude (MNIST ~5, KMNIST ~100): log-spaced bins
    everything = np.concatenate(list(scores.values()))
    low = max(float(everything.min()), 1e-3)
    bins = np.geomspace(low, float(everything.max()) * 1.001, 100)
    names = {
        "validation": "MNIST validation",
        "mnist_test": "MNIST test",
        "kmnist_test": "KMNIST test",
        "fashion_test": "Fashion-MNIST test",
    }
    for key, label in names.items():
        if key in scores:
            ax.hist(np.maximum(scores[key], low), bins=bins, histtype="step", lw=1.4, label=label)
    ax.axvline(
        report["threshold"], color="k", ls="--", lw=1.2, label=f"mean + {k:g} std (validation)"
    )
    ax.axvline(
        report["quantile_threshold"]["threshold"],
        color="grey",
        ls=":",
        lw=1.2,
        label=f"conformal quantile, α={report['quantile_threshold']['alpha']:g}",
    )
    ax.set(xlabel="score s(X) = ‖X − D(E(X))‖²", ylabel="images per bin")
    ax.set_xscale("log")
    ax.set_yscale("log")  # the overlap that sets the errors is in the tails
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title(
        f"type I {report['type_i_error']:.2%} (MNIST test), "
        f"type II {report['type_ii_error']:.2%} (KMNIST test)"
    )
    fig.tight_layout()
    written.append(save(fig, out / "score_histograms.png"))

    fig, ax = plt.subplots(figsize=(5, 5))
    lowest = 1.0  # smallest true positive rate drawn right of fpr = 0, to zoom the y axis
    for key, label in (("kmnist_test", "KMNIST"), ("fashion_test", "Fashion-MNIST")):
        if key in scores:
            labels = np.r_[np.zeros(scores["mnist_test"].size), np.ones(scores[key].size)]
            fpr, tpr, _ = roc_curve(labels, np.r_[scores["mnist_test"], scores[key]])
            auc = auroc(labels, np.r_[scores["mnist_test"], scores[key]])
            ax.plot(fpr, tpr, label=f"{label} (AUROC {auc:.5f})")
            lowest = min(lowest, float(tpr[np.argmax(fpr > 0)]))
    ax.plot(
        report["type_i_error"],
        1 - report["type_ii_error"],
        "ko",
        label=f"{k:g}-σ threshold (KMNIST)",
    )
    ax.set_xscale("symlog", linthresh=1e-3)
    ax.set(xlabel="false positive rate (MNIST test flagged)", ylabel="true positive rate")
    ax.set_xlim(0, 1)
    ax.set_ylim(max(0.0, lowest - 0.02), 1.002)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title("ROC, MNIST test vs anomalies")
    fig.tight_layout()
    written.append(save(fig, out / "roc_curve.png"))

    for key, (orig, recon, s) in grids.items():
        # first half of the picks: lowest scores; second half: highest
        half = orig.shape[0] // 2
        fig, axes = plt.subplots(4, half, figsize=(1.15 * half, 5.4), squeeze=False)
        rows = [
            ("lowest: input", orig[:half], s[:half]),
            ("D(E(X))", recon[:half], None),
            ("highest: input", orig[half:], s[half:]),
            ("D(E(X))", recon[half:], None),
        ]
        for r, (label, images, row_scores) in enumerate(rows):
            for j in range(half):
                ax = axes[r, j]
                ax.imshow(images[j], cmap="gray", vmin=0, vmax=1)
                ax.set_xticks([])
                ax.set_yticks([])
                if row_scores is not None:
                    ax.set_title(f"s = {row_scores[j]:.1f}", fontsize=7)
            axes[r, 0].set_ylabel(label, fontsize=8)
        fig.suptitle(
            f"{names[key]}: {half} lowest and {half} highest scores "
            f"(threshold {report['threshold']:.1f})",
            fontsize=9,
        )
        fig.tight_layout()
        written.append(save(fig, out / f"reconstructions_{key}.png"))
    return written
