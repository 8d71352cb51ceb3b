"""Convergence of knn_kl to the exact KL on Gaussian pairs (issue 15).

    python bench/mc_knn.py [--plot PNG] [--no-record]

p = N(0, I_d), q = N(0.3·1, 1.2² I_d), exact KL = d (log 1.2 + (1 + 0.09)/(2·1.44) − ½),
for d = 1, 2, 5, 10 and n = m = 10³ … 10⁵ draws (d = 10 up to 3·10⁴: a 10-D KD-tree
query of 10⁵ points takes minutes here), k = 1 and 5 from one batched query. Each
cell repeats with fresh draws (5 times, 3 at the largest n) and records the mean
estimate, its sd, the relative error of the mean and the seconds per call.
Writes the record ``mc_knn`` (docs/results/mc_knn.json) and the error-vs-n plot.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from klmath import knn_kl
from klmath._records import write_record

SHIFT, SCALE = 0.3, 1.2
KS = (1, 5)
GRID = {1: (1000, 10_000, 100_000), 2: (1000, 10_000, 100_000), 5: (1000, 10_000, 100_000),
        10: (1000, 10_000, 30_000)}  # fmt: skip


def exact_kl(d: int) -> float:
    return d * (math.log(SCALE) + (1 + SHIFT**2) / (2 * SCALE**2) - 0.5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--plot", type=Path, default=Path("docs/_static/figures/mc_knn.png"))
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(20240915)
    rows = []
    start = time.perf_counter()
    for d, ns in GRID.items():
        kl = exact_kl(d)
        for n in ns:
            reps = 3 if n >= 30_000 else 5
            est, secs = [], []
            for _ in range(reps):
                x = rng.standard_normal((n, d))
                y = SHIFT + SCALE * rng.standard_normal((n, d))
                t0 = time.perf_counter()
                est.append(knn_kl(x, y, k=list(KS)))
                secs.append(time.perf_counter() - t0)
            e = np.array(est)  # (reps, len(KS))
            cells = {
                f"k{k}": {
                    "mean": float(e[:, j].mean()),
                    "sd": float(e[:, j].std(ddof=1)),
                    "rel_error": float((e[:, j].mean() - kl) / kl),
                }
                for j, k in enumerate(KS)
            }
            rows.append({"d": d, "n": n, "reps": reps, "kl": kl, "seconds": float(np.mean(secs)),
                         **cells})  # fmt: skip
            print(
                f"d={d:>2} n={n:>6} KL={kl:.4f} "
                + " ".join(
                    f"k={k}: {c['mean']:.4f} ± {c['sd']:.4f} ({100 * c['rel_error']:+.1f} %)"
                    for k, c in zip(KS, cells.values(), strict=True)
                )
                + f"  {np.mean(secs):.2f} s/call",
                flush=True,
            )
    seconds = time.perf_counter() - start
    met = all(abs(r["k1"]["rel_error"]) <= 0.05 for r in rows if r["n"] == 100_000 and r["d"] <= 5)
    print(f"|relative error| <= 5 % at n = 1e5, d <= 5 (k = 1): {met}; {seconds:.0f} s")
    if args.no_record:
        return 0
    write_record(
        "mc_knn",
        {"rows": rows, "ks": list(KS), "shift": SHIFT, "scale": SCALE, "met_k1": met,
         "seconds": seconds},
        notes="p = N(0, I_d), q = N(0.3·1, 1.2² I_d); n = m; mean ± sd over reps fresh draws",
    )  # fmt: skip
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, k in zip(axes, KS, strict=True):
        for d in GRID:
            sel = [r for r in rows if r["d"] == d]
            ax.errorbar(
                [r["n"] for r in sel],
                [100 * r[f"k{k}"]["rel_error"] for r in sel],
                yerr=[100 * r[f"k{k}"]["sd"] / r["kl"] for r in sel],
                marker="o",
                capsize=3,
                label=f"d = {d}",
            )
        ax.axhspan(-5, 5, color="tab:green", alpha=0.15)
        ax.axhline(0, color="k", lw=0.6)
        ax.set_xscale("log")
        ax.set_xlabel("n = m draws")
        ax.set_title(f"knn_kl, k = {k}")
    axes[0].set_ylabel("relative error of the mean estimate, % (bars: sd of one estimate)")
    axes[0].legend()
    fig.tight_layout()
    args.plot.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.plot, dpi=80)
    return 0


if __name__ == "__main__":
    sys.exit(main())
