"""The three Monte Carlo estimators side by side on Gaussian pairs, and k3's support caveat.

    python bench/mc_estimators.py [--n 1000000] [--seed 0] [--no-record]

1. p = N(0, 1) against five Gaussians q (as wide as p, narrower, wider), one call of
   :func:`klmath.mc_kl` per estimator with n draws and one seed: the value ± its
   standard error beside the exact KL(p ‖ q) (closed form) and the exact mean of k2,
   E_p[½(log r)²] (closed form, ``bench/mc_coverage.py``'s ``iso_gauss``), which is what
   k2 estimates; whether the call warned, and its k̂.
2. k3 when q has mass outside p's support: p = Uniform(0, 1), q = N(0, 1). Then
   E_p[r] = Q([0, 1]) < 1 and E[k3] = KL − Q(x ∉ [0, 1]): k3 is biased, and its
   E_p[r] = 1 check warns. Exact values: KL = ½ log 2π + E[x²]/2 = ½ log 2π + ⅙.

Writes the record ``mc_estimators`` (docs/results/mc_estimators.json).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import scipy.stats as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from mc_coverage import iso_gauss

from klmath import KLEstimatorWarning, mc_kl
from klmath._records import write_record

# q = N(mu, s²) against p = N(0, 1).
GAUSSIANS = [(0.1, 1.0), (0.5, 1.0), (1.0, 1.0), (0.5, 1.3), (0.0, 0.8)]


def estimate(p: Any, q: Any, n: int, estimator: str, seed: int) -> dict[str, Any]:
    """One mc_kl call: value, standard error, k̂, and whether (and why) it warned."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", KLEstimatorWarning)
        res = mc_kl(p, q, n, estimator=estimator, seed=seed)
    return {
        "value": float(res.value),
        "stderr": float(res.stderr),
        "khat": float(res.khat),
        "reliable": bool(res.reliable),
        "warned": bool(caught),
        "diagnostic": res.diagnostic,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10**6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-record", action="store_true", help="print only")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    rows = []
    for mu, s in GAUSSIANS:
        kl, k2_mean = iso_gauss(1, mu, s)
        cells = {
            e: estimate(st.norm(0, 1), st.norm(mu, s), args.n, e, args.seed)
            for e in ("k1", "k2", "k3")
        }
        rows.append({"mu": mu, "sigma": s, "kl": kl, "k2_mean": k2_mean, "cells": cells})
        print(
            f"q = N({mu:g}, {s:g}²): KL {kl:.5f}, E[k2] {k2_mean:.5f} | "
            + " | ".join(f"{e} {c['value']:.5f} ± {c['stderr']:.5f}" for e, c in cells.items())
        )
    kl_u = 0.5 * math.log(2 * math.pi) + 1 / 6
    outside = 1.0 - (st.norm.cdf(1.0) - st.norm.cdf(0.0))
    support = {
        "kl": kl_u,
        "q_mass_outside": outside,
        "k3_mean": kl_u - outside,
        "k3": estimate(st.uniform(0, 1), st.norm(0, 1), args.n, "k3", args.seed),
        "k1": estimate(st.uniform(0, 1), st.norm(0, 1), args.n, "k1", args.seed),
    }
    print(
        f"Uniform(0,1) ‖ N(0,1): KL {kl_u:.4f}, E[k3] {kl_u - outside:.4f}; k3 "
        f"{support['k3']['value']:.4f} (warned: {support['k3']['warned']}), k1 "
        f"{support['k1']['value']:.4f}"
    )
    seconds = time.perf_counter() - start
    print(f"{seconds:.0f} s")
    if not args.no_record:
        write_record(
            "mc_estimators",
            {
                "n": args.n,
                "seed": args.seed,
                "rows": rows,
                "support": support,
                "seconds": seconds,
            },
            notes="one mc_kl call per cell with scipy.stats p and q; exact KL and E_p[k2] "
            "in closed form",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
