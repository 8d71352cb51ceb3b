"""Coverage of mc_kl's 95 % intervals, and how often its tail warning fires (issue 15).

    python bench/mc_coverage.py [--reps 1000] [--n 2000] [--plot PNG] [--no-record]

For each pair (p, q) of a grid (Normal, Student-t, Laplace, Gamma, Gaussian
mixtures, d = 1 … 10; q narrower than, as wide as, or wider than p) and each
estimator k1, k2, k3: ``reps`` independent estimates with n draws each, as ONE call
of ``mc_kl`` on a p batched ``reps`` times (every batch element draws its own
independent sample, so this equals ``reps`` seeds, vectorised). Per cell it records
how often ``ci(0.95)`` covers the exact value of the estimand (KL for k1, k3;
E_p[k2] for k2, and separately how often k2's interval covers KL), and how often the
result is flagged unreliable (``reliable == False``; an unbatched call warns with
:class:`KLEstimatorWarning` exactly then), with the median k̂.

Exact values: closed forms (Gaussian, Laplace, Gamma KL; E_p[k2] for isotropic
Gaussians), else 1-D adaptive quadrature (scipy.integrate.quad on scipy.stats
densities). Whether each estimator's variance is finite is stated per pair from the
tail of r = q/p (see the comments), not measured.

Writes the record ``mc_coverage`` (docs/results/mc_coverage.json).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.integrate
import scipy.special as sc
import scipy.stats as st
import torch
from torch.distributions import (
    Categorical,
    Gamma,
    Independent,
    Laplace,
    MixtureSameFamily,
    Normal,
    StudentT,
)

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from klmath import KLEstimatorWarning, mc_kl
from klmath._records import write_record

F64 = torch.float64


@dataclass
class Pair:
    """One (p, q) of the grid: how to build it batched, its exact values, its tails."""

    name: str
    family: str
    width: str  # q narrower / equal / wider than p
    d: int
    make: Callable[[int], tuple[Any, Any]]  # reps -> (p batched, q)
    kl: float
    k2_mean: float
    finite: dict[str, bool]  # estimator -> variance finite
    why: str


def t(x: float) -> torch.Tensor:
    return torch.tensor(x, dtype=F64)


def quad(f: Callable[[float], float]) -> float:
    val, _ = scipy.integrate.quad(f, -np.inf, np.inf, limit=500, epsabs=1e-13, epsrel=1e-12)
    return float(val)


def quad_pos(f: Callable[[float], float]) -> float:
    val, _ = scipy.integrate.quad(f, 0, np.inf, limit=500, epsabs=1e-13, epsrel=1e-12)
    return float(val)


def moments_1d(logp: Callable, logq: Callable, half_line: bool = False) -> tuple[float, float]:
    """KL(p ‖ q) and E_p[½(log q/p)²] by quadrature on the real (or half) line."""
    integrate = quad_pos if half_line else quad

    def kl_term(x: float) -> float:
        lp = logp(x)
        return 0.0 if lp < -745 else math.exp(lp) * (lp - logq(x))

    def k2_term(x: float) -> float:
        lp = logp(x)
        return 0.0 if lp < -745 else math.exp(lp) * 0.5 * (logq(x) - lp) ** 2

    return integrate(kl_term), integrate(k2_term)


def iso_gauss(d: int, mu: float, s: float) -> tuple[float, float]:
    """KL(N(0, I) ‖ N(mu·1, s² I)) and E_p[½(log r)²] in closed form.

    log r = A + b·x + c‖x‖², A = −d log s − d mu²/(2s²), b = mu/s² · 1, c = ½ − 1/(2s²);
    with x ~ N(0, I): E = A + cd, E[(log r)²] = A² + ‖b‖² + c²(d² + 2d) + 2Acd.
    """
    a = -d * math.log(s) - d * mu**2 / (2 * s**2)
    b2 = d * mu**2 / s**4
    c = 0.5 - 1 / (2 * s**2)
    kl = -(a + c * d)
    return kl, 0.5 * (a**2 + b2 + c**2 * (d**2 + 2 * d) + 2 * a * c * d)


def normal_pair(mu: float, s: float, d: int = 1) -> Callable[[int], tuple[Any, Any]]:
    def make(reps: int) -> tuple[Any, Any]:
        if d == 1:
            return Normal(torch.zeros(reps, dtype=F64), 1.0), Normal(t(mu), s)
        p = Independent(Normal(torch.zeros(reps, d, dtype=F64), 1.0), 1)
        return p, Independent(Normal(torch.full((d,), mu, dtype=F64), s), 1)

    return make


ALL = {"k1": True, "k2": True, "k3": True}


def grid() -> list[Pair]:
    pairs = []
    # Gaussians: with q = N(·, s²) wider than p = N(0, 1), r = q/p has a Pareto tail
    # of shape 1 − 1/s² under p (any d): k3's variance is infinite iff s² ≥ 2... for
    # the tail shape ≥ ½, i.e. s ≥ √2. k1, k2 are polynomials in a Gaussian.
    for name, width, d, mu, s, k3_finite, why in [
        ("N(0,1) ‖ N(1,1)", "equal", 1, 1.0, 1.0, True, "r log-normal: all moments"),
        ("N(0,1) ‖ N(0.5,0.8²)", "narrower", 1, 0.5, 0.8, True, "r bounded"),
        ("N(0,1) ‖ N(1,1.5²)", "wider", 1, 1.0, 1.5, False, "r tail shape 0.56"),
        ("N(0,1) ‖ N(0,2²)", "wider", 1, 0.0, 2.0, False, "r tail shape 0.75"),
        ("N(0,I₅) ‖ N(0.3·1,I₅)", "equal", 5, 0.3, 1.0, True, "r log-normal"),
        ("N(0,I₁₀) ‖ N(0.1·1,0.9²I₁₀)", "narrower", 10, 0.1, 0.9, True, "r bounded"),
        ("N(0,I₂) ‖ N(0,1.6²I₂)", "wider", 2, 0.0, 1.6, False, "r tail shape 0.61"),
    ]:
        kl, k2m = iso_gauss(d, mu, s)
        finite = {"k1": True, "k2": True, "k3": k3_finite}
        pairs.append(Pair(name, "Normal", width, d, normal_pair(mu, s, d), kl, k2m, finite, why))

    # Student-t.
    t5, t5s = st.t(5), st.t(5, loc=1.0)
    kl, k2m = moments_1d(t5.logpdf, t5s.logpdf)
    pairs.append(
        Pair(
            "t₅ ‖ t₅(loc 1)",
            "Student-t",
            "equal",
            1,
            lambda reps: (
                StudentT(5.0, torch.zeros(reps, dtype=F64), 1.0),
                StudentT(5.0, t(1.0), 1.0),
            ),
            kl,
            k2m,
            ALL,
            "r → 1 in both tails: bounded",
        )
    )
    t3, n01 = st.t(3), st.norm()
    kl, k2m = moments_1d(t3.logpdf, n01.logpdf)
    pairs.append(
        Pair(
            "t₃ ‖ N(0,1)",
            "Student-t",
            "narrower",
            1,
            lambda reps: (StudentT(3.0, torch.zeros(reps, dtype=F64), 1.0), Normal(t(0.0), 1.0)),
            kl,
            k2m,
            {"k1": False, "k2": False, "k3": False},
            "log r ≈ −x²/2 under t₃: E[x⁴] = ∞ (k1, k3), E[x⁸] = ∞ (k2)",
        )
    )
    kl, k2m = moments_1d(n01.logpdf, t3.logpdf)
    pairs.append(
        Pair(
            "N(0,1) ‖ t₃",
            "Student-t",
            "wider",
            1,
            lambda reps: (Normal(torch.zeros(reps, dtype=F64), 1.0), StudentT(3.0, t(0.0), 1.0)),
            kl,
            k2m,
            {"k1": True, "k2": True, "k3": False},
            "r ~ e^{x²/2}/x⁴: tail shape 1",
        )
    )

    # Laplace: KL(L(0, 1) ‖ L(m, b)) = log b + |m|/b + e^{−|m|}/b − 1.
    m, b = 0.5, 1.2
    kl = math.log(b) + m / b + math.exp(-m) / b - 1
    _, k2m = moments_1d(st.laplace().logpdf, st.laplace(m, b).logpdf)
    pairs.append(
        Pair(
            "Laplace(0,1) ‖ Laplace(0.5,1.2)",
            "Laplace",
            "wider",
            1,
            lambda reps: (Laplace(torch.zeros(reps, dtype=F64), 1.0), Laplace(t(m), b)),
            kl,
            k2m,
            ALL,
            "r tail shape 1 − 1/1.2 = 0.17",
        )
    )
    kl, k2m = moments_1d(n01.logpdf, st.laplace().logpdf)
    pairs.append(
        Pair(
            "N(0,1) ‖ Laplace(0,1)",
            "Laplace",
            "wider",
            1,
            lambda reps: (Normal(torch.zeros(reps, dtype=F64), 1.0), Laplace(t(0.0), 1.0)),
            kl,
            k2m,
            {"k1": True, "k2": True, "k3": False},
            "r ~ e^{x²/2 − |x|}: tail shape 1",
        )
    )

    # Gamma (shape a, scale θ): KL = (a₁−a₂)ψ(a₁) − lnΓ(a₁) + lnΓ(a₂) + a₂ ln(θ₂/θ₁)
    # + a₁(θ₁ − θ₂)/θ₂; with equal shapes r ∝ e^{x(1/θ₁ − 1/θ₂)}: tail shape 1 − θ₁/θ₂.
    def gamma_kl(a1: float, s1: float, a2: float, s2: float) -> float:
        return float(
            (a1 - a2) * sc.digamma(a1)
            - sc.gammaln(a1)
            + sc.gammaln(a2)
            + a2 * math.log(s2 / s1)
            + a1 * (s1 - s2) / s2
        )

    for a2, s2, width, k3_finite, why in [
        (3.0, 0.8, "narrower", True, "r ∝ x e^{−x/4}: bounded"),
        (2.0, 1.5, "wider", True, "r tail shape 1/3"),
        (2.0, 3.0, "wider", False, "r tail shape 2/3"),
    ]:
        _, k2m = moments_1d(st.gamma(2.0).logpdf, st.gamma(a2, scale=s2).logpdf, half_line=True)

        def make(reps: int, a2: float = a2, s2: float = s2) -> tuple[Any, Any]:
            p = Gamma(torch.full((reps,), 2.0, dtype=F64), 1.0)
            return p, Gamma(t(a2), 1.0 / s2)

        pairs.append(
            Pair(
                f"Gamma(2,1) ‖ Gamma({a2:g},{s2:g})",
                "Gamma",
                width,
                1,
                make,
                gamma_kl(2.0, 1.0, a2, s2),
                k2m,
                {"k1": True, "k2": True, "k3": k3_finite},
                why,
            )
        )

    # Gaussian mixtures.
    def mix_logpdf(w: list[float], mus: list[float], s: float) -> Callable[[float], float]:
        def f(x: float) -> float:
            return float(
                sc.logsumexp(
                    [math.log(wi) + st.norm.logpdf(x, mi, s) for wi, mi in zip(w, mus, strict=True)]
                )
            )

        return f

    def mixture(reps: int, mus: list[float], s: float) -> MixtureSameFamily:
        w = Categorical(torch.full((reps, len(mus)), 1.0 / len(mus), dtype=F64))
        return MixtureSameFamily(w, Normal(torch.tensor(mus, dtype=F64).expand(reps, -1), s))

    kl, k2m = moments_1d(mix_logpdf([0.5, 0.5], [-1.0, 1.0], 0.7), st.norm(0, 1.2).logpdf)
    pairs.append(
        Pair(
            "½N(±1,0.7²) ‖ N(0,1.2²)",
            "mixture",
            "wider",
            1,
            lambda reps: (mixture(reps, [-1.0, 1.0], 0.7), Normal(t(0.0), 1.2)),
            kl,
            k2m,
            {"k1": True, "k2": True, "k3": False},
            "r tail shape 1 − 0.49/1.44 = 0.66",
        )
    )
    kl, k2m = moments_1d(n01.logpdf, mix_logpdf([0.5, 0.5], [-0.5, 0.5], 0.8))

    def narrow_q(reps: int) -> tuple[Any, Any]:
        w = Categorical(torch.tensor([0.5, 0.5], dtype=F64))
        q = MixtureSameFamily(w, Normal(torch.tensor([-0.5, 0.5], dtype=F64), 0.8))
        return Normal(torch.zeros(reps, dtype=F64), 1.0), q

    pairs.append(
        Pair(
            "N(0,1) ‖ ½N(±0.5,0.8²)",
            "mixture",
            "narrower",
            1,
            narrow_q,
            kl,
            k2m,
            ALL,
            "r bounded",
        )
    )
    return pairs


def run_cell(pair: Pair, estimator: str, reps: int, n: int, seed: int) -> dict[str, Any]:
    p, q = pair.make(reps)
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", KLEstimatorWarning)
        res = mc_kl(p, q, n, estimator=estimator, seed=seed, chunk_size=n)
    seconds = time.perf_counter() - start
    low, high = (x.cpu().numpy() for x in res.ci(0.95))
    target = pair.k2_mean if estimator == "k2" else pair.kl
    covered = (low <= target) & (target <= high)
    reliable = res.reliable.cpu().numpy()
    khat = res.khat.cpu().numpy()
    cell = {
        "estimator": estimator,
        "variance_finite": pair.finite[estimator],
        "target": target,
        "coverage": float(covered.mean()),
        "coverage_unflagged": float(covered[reliable].mean()) if reliable.any() else None,
        "flagged": float((~reliable).mean()),
        "khat_median": float(np.median(khat)),
        "khat_q05": float(np.quantile(khat, 0.05)),
        "khat_q95": float(np.quantile(khat, 0.95)),
        "mean": float(res.value.mean()),
        "sd_of_estimates": float(res.value.std()),
        "median_stderr": float(res.stderr.median()),
        "batch_warned": bool(caught),
        "seconds": seconds,
    }
    if estimator == "k2":
        cell["coverage_of_kl"] = float(((low <= pair.kl) & (pair.kl <= high)).mean())
    return cell


def contract(cell: dict[str, Any]) -> bool:
    """Issue 15: finite variance -> coverage in [0.93, 0.97]; infinite -> flagged >= 95 %."""
    if cell["variance_finite"]:
        return 0.93 <= cell["coverage"] <= 0.97
    return cell["flagged"] >= 0.95


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 6), sharey=True)
    names = [r["pair"] for r in rows]
    y = np.arange(len(rows))
    for ax, est in zip(axes, ("k1", "k2", "k3"), strict=True):
        cells = [r["cells"][est] for r in rows]
        cov = [c["coverage"] for c in cells]
        flag = [c["flagged"] for c in cells]
        colors = ["tab:blue" if c["variance_finite"] else "tab:red" for c in cells]
        ax.barh(y - 0.2, cov, height=0.4, color=colors, label="95 % CI coverage")
        ax.barh(y + 0.2, flag, height=0.4, color="0.6", label="flagged unreliable")
        ax.axvspan(0.93, 0.97, color="tab:green", alpha=0.2)
        ax.axvline(0.95, color="tab:green", lw=0.8)
        ax.set_title(f"{est} (target: {'E[k2]' if est == 'k2' else 'KL'})")
        ax.set_xlim(0, 1)
        ax.set_yticks(y, names, fontsize=8)
        ax.invert_yaxis()
    axes[0].legend(loc="lower left", fontsize=8)
    fig.suptitle(
        "mc_kl, n = 2000, 1000 replicates per cell: coverage (blue: finite variance, "
        "red: infinite) and how often the result is flagged (grey)",
        fontsize=10,
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=1000)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", type=Path, default=Path("docs/_static/figures/mc_coverage.png"))
    parser.add_argument("--no-record", action="store_true", help="print only")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    start = time.perf_counter()
    rows = []
    for i, pair in enumerate(grid()):
        cells = {
            est: run_cell(pair, est, args.reps, args.n, args.seed + i) for est in ("k1", "k2", "k3")
        }
        rows.append(
            {
                "pair": pair.name,
                "family": pair.family,
                "q_width": pair.width,
                "d": pair.d,
                "kl": pair.kl,
                "k2_mean": pair.k2_mean,
                "tail": pair.why,
                "cells": cells,
            }
        )
        line = " | ".join(
            f"{e}: cov {c['coverage']:.3f} flag {c['flagged']:.3f} k̂ {c['khat_median']:.2f}"
            f"{'' if c['variance_finite'] else ' (inf var)'}{' OK' if contract(c) else ' MISS'}"
            for e, c in cells.items()
        )
        print(f"{pair.name:<34} KL {pair.kl:.4f} | {line}", flush=True)
    seconds = time.perf_counter() - start
    held = sum(contract(c) for r in rows for c in r["cells"].values())
    total = 3 * len(rows)
    print(f"contract held in {held}/{total} cells; {seconds:.0f} s")
    if not args.no_record:
        write_record(
            "mc_coverage",
            {
                "n": args.n,
                "reps": args.reps,
                "rows": rows,
                "held": held,
                "cells": total,
                "seconds": seconds,
            },
            notes="reps replicates = one batched mc_kl call per cell (independent draws per "
            "batch element); flagged = reliable is False (an unbatched call warns then)",
        )
        plot(rows, args.plot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
