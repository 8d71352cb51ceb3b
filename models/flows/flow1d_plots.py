"""Plots and the summary table of the 1-D flow runs."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from klmath.flow1d import flow1d_log_prob, flow1d_transform
from models.flows.flow1d import Flow1d, data_log_pdf
from models.kit.plotting import pyplot, save

__all__ = ["plot_flow", "print_table"]


def plot_flow(
    path: Path, flow: Flow1d, data: torch.Tensor, samples: dict[str, Any], title: str
) -> str:
    """Four panels: densities, f_θ, histogram of f_θ(X) over N(0,1), samples f_θ^{-1}(Z)."""
    plt = pyplot()
    p = flow.numpy()
    a = p.get("a")
    grid = np.linspace(-3.0, 3.5, 1200)
    data_np = data.cpu().numpy()
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))

    ax = axes[0, 0]
    ax.hist(
        data_np,
        bins=80,
        density=True,
        histtype="stepfilled",
        alpha=0.3,
        color="gray",
        label="training data",
    )
    ax.plot(grid, np.exp(data_log_pdf(grid)), "k--", lw=1.5, label="true density")
    ax.plot(
        grid,
        np.exp(flow1d_log_prob(grid, p["w"], p["mu"], p["tau"], a=a)),
        "C0",
        lw=2,
        label=r"learned $p_\theta$",
    )
    ax.set(title="density", xlabel="x")
    ax.legend(fontsize=8)

    ax = axes[0, 1]
    s_half = 0.5 * float(np.exp(p["w"]).sum())
    wide = np.linspace(-4.0, 4.5, 1200)
    ax.plot(wide, flow1d_transform(wide, p["w"], p["mu"], p["tau"], a=a), "C0", lw=2)
    if a is None:
        for y in (-s_half, s_half):
            ax.axhline(y, color="C3", ls=":", lw=1)
        ax.text(wide[0], s_half, f"  S/2 = {s_half:.4f}", color="C3", va="top", fontsize=8)
    ax.set(title=r"$f_\theta$", xlabel="x", ylabel="z")

    ax = axes[1, 0]
    z = flow1d_transform(data_np, p["w"], p["mu"], p["tau"], a=a)
    zgrid = np.linspace(-4, 4, 400)
    ax.hist(
        z,
        bins=80,
        density=True,
        histtype="stepfilled",
        alpha=0.4,
        color="C0",
        label=r"$z = f_\theta(X)$",
    )
    ax.plot(zgrid, np.exp(-0.5 * zgrid**2) / math.sqrt(2 * math.pi), "k--", label="N(0, 1)")
    ax.set(title="data pushed forward", xlabel="z")
    ax.legend(fontsize=8)

    ax = axes[1, 1]
    ax.hist(
        data_np,
        bins=80,
        range=(-3, 3.5),
        density=True,
        histtype="stepfilled",
        alpha=0.3,
        color="gray",
        label="training data",
    )
    ax.hist(
        samples["x"],
        bins=80,
        range=(-3, 3.5),
        density=True,
        histtype="step",
        color="C1",
        lw=1.5,
        label=r"$f_\theta^{-1}(Z)$",
    )
    far = int(((samples["x"] < -3) | (samples["x"] > 3.5)).sum())
    ax.set(
        title=(
            f"samples: {samples['n_no_preimage']} of {samples['n_draws']} draws Z "
            f"had no preimage (expected {samples['expected_no_preimage']:.1f});\n"
            f"{far} samples fall outside the plotted range"
        ),
        xlabel="x",
    )
    ax.title.set_fontsize(9)
    ax.legend(fontsize=8)

    fig.suptitle(title)
    fig.tight_layout()
    return save(fig, path)


def print_table(results: dict[str, Any], meta: dict[str, Any]) -> None:
    """The side-by-side summary, Markdown-ready."""
    print(
        "| model | KL(p_data‖p_θ) nats, mean ± sd (min–max) over seeds "
        "| mass 2Φ(S/2)−1, first seed | mass by quad, first seed "
        "| missing mass 2Φ(−S/2), first seed "
        "| max abs. diff. of missing mass, closed vs quad | test NLL, mean |"
    )
    print("|---|---|---|---|---|---|---|")
    for variant, m in results["models"].items():
        kl = m["kl_nats"]
        r0 = m["runs"][0]
        print(
            f"| {variant} | {kl['mean']:.4f} ± {kl['std']:.4f} ({kl['min']:.4f}–{kl['max']:.4f})"
            f" | {r0['mass_closed_form']:.9f} | {r0['mass_quad']:.9f} "
            f"| {r0['missing_mass_closed_form']:.6e} | {m['max_missing_mass_abs_diff']:.1e} "
            f"| {m['test_nll']['mean']:.4f} |"
        )
    print(
        f"total {meta['seconds']:.1f} s wall, {meta['cpu_seconds']:.1f} s CPU; "
        f"data entropy {results['data_entropy_nats']:.4f} nats"
    )
