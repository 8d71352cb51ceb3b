"""Benchmark: klmath's Gaussian KL against torch.distributions, in one process, one table.

    python bench/gaussian_kl.py [--device cpu|cuda] [--threads N] [--repeats N] [--quick]
                                [--no-record] [--plot PATH]

What it times (best and median of interleaved rounds, so load on a shared
machine hits both sides alike; each round's ratio klmath/torch is kept, and
its quartiles are the spread):

1. **Covariances**, every (batch, d) of ``SHAPES`` in float64 and float32:
   ``gaussian_kl(m0, S0, m1, S1)`` (validation included) against
   ``kl_divergence(MultivariateNormal(m0, covariance_matrix=S0), MultivariateNormal(...))``
   with construction (what a user holding covariances pays; torch validates
   by default). Target ≥ 3× (float64), ≥ 2× (float32).
2. **Cholesky factors**, same shapes: ``gaussian_kl_tril(m0, L0, m1, L1)`` against
   ``kl_divergence(p, q)`` on prebuilt ``MultivariateNormal(scale_tril=...)``: the
   arithmetic alone. Target ≥ 1.5×.
3. **FLOP bound** beside each row: the least work of the non-negative form, d³
   flops per pair (:func:`flop_bound`), at the measured rate of a plain batched
   d × d matmul of the same batch; target within 2× at (50, 512).
4. **Diagonal form**, same shapes: ``gaussian_kl_diag`` against
   ``kl_divergence(Independent(Normal(m, v.sqrt()), 1), ...)``.
5. **Small calls** (the VAE case), 1 thread, float64, without autograd and with
   it (forward and backward): diagonal at (128, 32) and (1000, 2) (target ≥ 1.5×),
   covariances at (100, 16) (target ≥ 2×).
6. **KL matrices**: ``gaussian_kl_matrix`` for N × M pairs against torch
   broadcasting the pairs, float64, at (300, 300, 16) (target ≥ 100×),
   (100, 100, 64), (20, 20, 512), with a FLOP bound, and (2000, 2000, 16) alone
   with its peak memory (broadcasting it through torch would need ~16 GB).
7. **Sweep** of d at a fixed input size, for the plot of time against d
   (klmath, torch, bound), written to ``--plot``.

The numbers go to the record ``bench_gaussian_kl`` (``docs/results/``; a CUDA
run writes ``bench_gaussian_kl_cuda``), from which docs/tables/gaussian_speed.py
renders the README's and the docs' tables.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch.distributions import Independent, MultivariateNormal, Normal, kl_divergence

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from klmath import gaussian_kl, gaussian_kl_diag, gaussian_kl_matrix, gaussian_kl_tril
from klmath._records import write_record

SHAPES = [(100_000, 2), (10_000, 16), (1_000, 64), (50, 512)]
TARGET = {"float64": 3.0, "float32": 2.0}
TRIL_TARGET = 1.5
BOUND_TARGET = 2.0  # at (50, 512)
SMALL = [("diag", 128, 32, 1.5), ("diag", 1000, 2, 1.5), ("full", 100, 16, 2.0)]
MATRIX = [(300, 300, 16), (100, 100, 64), (20, 20, 512)]
MATRIX_TARGET = 100.0  # at (300, 300, 16)
LARGE_MATRIX = (2000, 2000, 16)
SWEEP_D = [2, 4, 8, 16, 32, 64, 128, 256, 512]
SWEEP_ELEMENTS = 1 << 22  # batch × d² per covariance tensor in the sweep


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# Fast cases get more rounds: as many as fit in this many seconds, up to MAX_ROUNDS.
ROUND_BUDGET_S = 2.0
MAX_ROUNDS = 31


def time_interleaved(
    fns: dict[str, Callable[[], object]], repeats: int, device: torch.device
) -> dict[str, list[float]]:
    """Seconds per call of each function over round-robin rounds (after a warm-up).

    At least ``repeats`` rounds; more (up to MAX_ROUNDS) when a round is short, so
    that a brief disturbance on a shared machine cannot decide the best time.
    """
    start = time.perf_counter()
    for fn in fns.values():
        fn()
    _sync(device)
    one_round = time.perf_counter() - start
    rounds = max(repeats, min(MAX_ROUNDS, int(ROUND_BUDGET_S / max(one_round, 1e-9))))
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            _sync(device)
            samples[name].append(time.perf_counter() - start)
    return samples


def summary(seconds: list[float]) -> dict[str, float]:
    """Best and median milliseconds, and the number of rounds."""
    return {
        "min_ms": 1e3 * min(seconds),
        "median_ms": 1e3 * statistics.median(seconds),
        "n": len(seconds),
    }


def ratio(theirs: list[float], ours: list[float]) -> dict[str, float]:
    """Speed-up theirs/ours: of the best times, and quartiles of the per-round ratios."""
    per_round = sorted(t / o for t, o in zip(theirs, ours, strict=True))
    q = statistics.quantiles(per_round, n=4) if len(per_round) > 1 else per_round * 3
    return {"best": min(theirs) / min(ours), "q1": q[0], "median": q[1], "q3": q[2]}


def random_spd(
    batch: int, d: int, dtype: torch.dtype, device: torch.device, gen: torch.Generator
) -> torch.Tensor:
    a = torch.randn(batch, d, d, generator=gen, dtype=torch.float64)
    spd = a @ a.mT / d + torch.eye(d, dtype=torch.float64)
    return (0.5 * (spd + spd.mT)).to(dtype=dtype, device=device)


def flop_bound(d: int) -> float:
    """Flops per pair for the least work the non-negative form needs, d³.

    Two Cholesky factorizations (d³/3 each) and M = L₁⁻¹L₀ with a triangular
    right-hand side (column j of M solves a system of order d − j: Σⱼ (d − j)² ≈ d³/3);
    the O(d²) Mahalanobis solve and sums are dropped. (A general triangular solve
    with a full d × d right-hand side costs d³, and torch.distributions does two
    more factorizations to validate, 4·d³/3 + d³ = 7d³/3 in all.)
    """
    return float(d) ** 3


def matmul_gflops(batch: int, d: int, dtype: torch.dtype, device: torch.device) -> float:
    """Measured GFLOP/s of a batched d × d matmul (2d³ flops each), best of 5."""
    gen = torch.Generator().manual_seed(1)
    a = torch.randn(batch, d, d, generator=gen, dtype=dtype).to(device)
    b = torch.randn(batch, d, d, generator=gen, dtype=dtype).to(device)
    out = torch.empty_like(a)
    seconds = min(time_interleaved({"mm": lambda: torch.matmul(a, b, out=out)}, 5, device)["mm"])
    return 2 * batch * d**3 / seconds / 1e9


def gaussians(
    batch: int, d: int, dtype: torch.dtype, device: torch.device, gen: torch.Generator
) -> dict[str, torch.Tensor]:
    out = {
        "s0": random_spd(batch, d, dtype, device, gen),
        "s1": random_spd(batch, d, dtype, device, gen),
    }
    for k in ("m0", "m1"):
        out[k] = torch.randn(batch, d, generator=gen, dtype=torch.float64).to(
            dtype=dtype, device=device
        )
    for k in ("v0", "v1"):
        var = torch.rand(batch, d, generator=gen, dtype=torch.float64) + 0.1
        out[k] = var.to(dtype=dtype, device=device)
    out["l0"] = torch.linalg.cholesky(out["s0"])
    out["l1"] = torch.linalg.cholesky(out["s1"])
    return out


def shape_row(
    batch: int, d: int, dtype: torch.dtype, device: torch.device, repeats: int, gen: torch.Generator
) -> dict[str, Any]:
    """Covariance, factor and diagonal forms at one (batch, d, dtype), and the FLOP bound."""
    g = gaussians(batch, d, dtype, device, gen)
    m0, s0, m1, s1, l0, l1 = (g[k] for k in ("m0", "s0", "m1", "s1", "l0", "l1"))
    p, q = MultivariateNormal(m0, scale_tril=l0), MultivariateNormal(m1, scale_tril=l1)
    reps = repeats if batch * d**3 < 1e9 else max(3, repeats // 2)
    t = time_interleaved(
        {
            "cov_klmath": lambda: gaussian_kl(m0, s0, m1, s1),
            "cov_torch": lambda: kl_divergence(
                MultivariateNormal(m0, covariance_matrix=s0),
                MultivariateNormal(m1, covariance_matrix=s1),
            ),
            "tril_klmath": lambda: gaussian_kl_tril(m0, l0, m1, l1),
            "tril_torch": lambda: kl_divergence(p, q),
        },
        reps,
        device,
    )
    v0, v1 = g["v0"], g["v1"]
    td = time_interleaved(
        {
            "klmath": lambda: gaussian_kl_diag(m0, v0, m1, v1),
            "torch": lambda: kl_divergence(
                Independent(Normal(m0, v0.sqrt()), 1), Independent(Normal(m1, v1.sqrt()), 1)
            ),
        },
        repeats,
        device,
    )
    rate = matmul_gflops(batch, d, dtype, device)
    bound_ms = 1e3 * batch * flop_bound(d) / (rate * 1e9)
    name = str(dtype).removeprefix("torch.")
    return {
        "batch": batch,
        "d": d,
        "dtype": name,
        "cov": {
            "klmath": summary(t["cov_klmath"]),
            "torch": summary(t["cov_torch"]),
            "speedup": ratio(t["cov_torch"], t["cov_klmath"]),
            "target": TARGET[name],
        },
        "tril": {
            "klmath": summary(t["tril_klmath"]),
            "torch": summary(t["tril_torch"]),
            "speedup": ratio(t["tril_torch"], t["tril_klmath"]),
            "target": TRIL_TARGET,
        },
        "diag": {
            "klmath": summary(td["klmath"]),
            "torch": summary(td["torch"]),
            "speedup": ratio(td["torch"], td["klmath"]),
        },
        "bound": {
            "matmul_gflops": rate,
            "ms": bound_ms,
            "klmath_over_bound": summary(t["cov_klmath"])["min_ms"] / bound_ms,
            "target": BOUND_TARGET if d == 512 else None,
        },
    }


def small_row(form: str, batch: int, d: int, target: float, repeats: int) -> dict[str, Any]:
    """One small call on 1 thread, float64, without and with autograd (forward + backward)."""
    gen = torch.Generator().manual_seed(7)
    g = gaussians(batch, d, torch.float64, torch.device("cpu"), gen)
    names = ("m0", "v0", "m1", "v1") if form == "diag" else ("m0", "s0", "m1", "s1")
    out: dict[str, Any] = {"form": form, "batch": batch, "d": d, "target": target}
    for grad in (False, True):
        args = [g[k].clone().requires_grad_(grad) for k in names]

        def ours(args: list[torch.Tensor] = args, grad: bool = grad) -> None:
            fn = gaussian_kl_diag if form == "diag" else gaussian_kl
            kl = fn(*args)
            if grad:
                kl.sum().backward()

        def theirs(args: list[torch.Tensor] = args, grad: bool = grad) -> None:
            a, b, c, e = args
            if form == "diag":
                kl = kl_divergence(
                    Independent(Normal(a, b.sqrt()), 1), Independent(Normal(c, e.sqrt()), 1)
                )
            else:
                kl = kl_divergence(
                    MultivariateNormal(a, covariance_matrix=b),
                    MultivariateNormal(c, covariance_matrix=e),
                )
            if grad:
                kl.sum().backward()

        # Many calls per timing: a call takes ~0.1 ms.
        calls = max(1, int(2e4 // (batch * d)) * 10)

        def many(fn: Callable[[], None], calls: int = calls) -> Callable[[], None]:
            return lambda: [fn() for _ in range(calls)] and None

        t = time_interleaved(
            {"klmath": many(ours), "torch": many(theirs)}, repeats, torch.device("cpu")
        )
        t = {k: [x / calls for x in v] for k, v in t.items()}
        out["grad" if grad else "no_grad"] = {
            "klmath": summary(t["klmath"]),
            "torch": summary(t["torch"]),
            "speedup": ratio(t["torch"], t["klmath"]),
        }
    return out


def _peak_rss_reset() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def matrix_rows(device: torch.device, repeats: int, quick: bool) -> dict[str, Any]:
    """gaussian_kl_matrix against torch broadcasting, with the FLOP bound; the large case alone."""
    gen = torch.Generator().manual_seed(11)
    rows = []
    for n, m, d in [(30, 30, 16), (10, 10, 64)] if quick else MATRIX:
        g0 = gaussians(n, d, torch.float64, device, gen)
        g1 = gaussians(m, d, torch.float64, device, gen)
        m0, s0, m1, s1 = g0["m0"], g0["s0"], g1["m0"], g1["s0"]

        def theirs(m0: Any = m0, s0: Any = s0, m1: Any = m1, s1: Any = s1) -> object:
            return kl_divergence(
                MultivariateNormal(m0[:, None], covariance_matrix=s0[:, None]),
                MultivariateNormal(m1[None], covariance_matrix=s1[None]),
            )

        ours_value = gaussian_kl_matrix(m0, s0, m1, s1)
        agree = float(((ours_value - theirs()).abs() / ours_value.clamp_min(1e-300)).max())
        t = time_interleaved(
            {
                "klmath": lambda m0=m0, s0=s0, m1=m1, s1=s1: gaussian_kl_matrix(m0, s0, m1, s1),
                "torch": theirs,
            },
            max(3, repeats // 2) if d >= 512 else repeats,
            device,
        )
        k = d * (d + 1) // 2 + d + 2
        flops = (n + m) * d**3 / 3 + m * 2 * d**3 / 3 + 2 * n * m * k
        a = torch.randn(n, k, dtype=torch.float64, device=device)
        b = torch.randn(m, k, dtype=torch.float64, device=device)
        gemm = min(time_interleaved({"mm": lambda a=a, b=b: a @ b.mT}, 5, device)["mm"])
        rate = 2 * n * m * k / gemm / 1e9
        rows.append(
            {
                "n": n,
                "m": m,
                "d": d,
                "klmath": summary(t["klmath"]),
                "torch": summary(t["torch"]),
                "speedup": ratio(t["torch"], t["klmath"]),
                "max_rel_diff": agree,
                "bound_ms": 1e3 * flops / (rate * 1e9),
                "gemm_gflops": rate,
                "target": MATRIX_TARGET if (n, m, d) == MATRIX[0] else None,
            }
        )
    n, m, d = (200, 200, 16) if quick else LARGE_MATRIX
    g0 = gaussians(n, d, torch.float64, device, gen)
    g1 = gaussians(m, d, torch.float64, device, gen)
    args = (g0["m0"], g0["s0"], g1["m0"], g1["s0"])
    before = _peak_rss_mb() if _peak_rss_reset() else float("nan")
    start = time.perf_counter()
    gaussian_kl_matrix(*args)
    _sync(device)
    seconds = time.perf_counter() - start
    peak = _peak_rss_mb() - before
    large = {
        "n": n,
        "m": m,
        "d": d,
        "klmath_ms": 1e3 * seconds,
        "peak_extra_mb": peak,
        "result_mb": n * m * 8 / 2**20,
        "torch_pairs_gb": 2 * n * m * d * d * 8 / 2**30,
    }
    return {"rows": rows, "large": large}


def sweep(device: torch.device, repeats: int, quick: bool) -> list[dict[str, Any]]:
    """Time against d at batch × d² = SWEEP_ELEMENTS: klmath, torch (build + KL), the bound."""
    gen = torch.Generator().manual_seed(3)
    out = []
    dims = [2, 16, 64] if quick else SWEEP_D
    for d in dims:
        batch = max(8, (SWEEP_ELEMENTS >> (6 if quick else 0)) // (d * d))
        g = gaussians(batch, d, torch.float64, device, gen)
        args = (g["m0"], g["s0"], g["m1"], g["s1"])

        def theirs(m0: Any, s0: Any, m1: Any, s1: Any) -> object:
            return kl_divergence(
                MultivariateNormal(m0, covariance_matrix=s0),
                MultivariateNormal(m1, covariance_matrix=s1),
            )

        t = time_interleaved(
            {
                "klmath": lambda args=args: gaussian_kl(*args),
                "torch": lambda args=args: theirs(*args),
            },
            max(3, repeats // 2),
            device,
        )
        rate = matmul_gflops(batch, d, torch.float64, device)
        out.append(
            {
                "d": d,
                "batch": batch,
                "klmath_ms": summary(t["klmath"])["min_ms"],
                "torch_ms": summary(t["torch"])["min_ms"],
                "bound_ms": 1e3 * batch * flop_bound(d) / (rate * 1e9),
            }
        )
        print(f"  sweep d = {d}: {out[-1]}", flush=True)
    return out


def plot(points: list[dict[str, Any]], path: Path, title: str) -> None:
    """Time per call against d (log-log): klmath, torch.distributions, the FLOP bound."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d = [p["d"] for p in points]
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    ax.loglog(d, [p["torch_ms"] for p in points], "s-", label="torch.distributions (build + KL)")
    ax.loglog(d, [p["klmath_ms"] for p in points], "o-", label="klmath gaussian_kl")
    ax.loglog(
        d, [p["bound_ms"] for p in points], "k--", label="FLOP bound (d³ per pair at matmul rate)"
    )
    ax.set_xlabel("d (batch × d² fixed)")
    ax.set_ylabel("ms per call")
    ax.set_xticks(d, [str(x) for x in d])
    ax.set_title(title, fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _fmt(x: float) -> str:
    return f"{x:.3g}" if x < 10 else f"{x:.1f}"


def print_tables(values: dict[str, Any]) -> int:
    """Print the tables; return the number of missed targets."""
    missed = 0
    print()
    print(
        "| batch | d | dtype | klmath ms | torch ms (build + KL) | speed-up | target | "
        "tril ms | torch KL-only ms | speed-up | target | bound ms | klmath / bound |"
    )
    print("|---:|---:|---|---:|---:|---:|---|---:|---:|---:|---|---:|---:|")
    for r in values["rows"]:
        cov, tril, bound = r["cov"], r["tril"], r["bound"]
        ok_cov = cov["speedup"]["best"] >= cov["target"]
        ok_tril = tril["speedup"]["best"] >= tril["target"]
        ok_bound = bound["target"] is None or bound["klmath_over_bound"] <= bound["target"]
        missed += (not ok_cov) + (not ok_tril) + (not ok_bound)
        print(
            f"| {r['batch']} | {r['d']} | {r['dtype']} | {_fmt(cov['klmath']['min_ms'])} | "
            f"{_fmt(cov['torch']['min_ms'])} | {cov['speedup']['best']:.2f}× | "
            f"{'yes' if ok_cov else 'NO'} | {_fmt(tril['klmath']['min_ms'])} | "
            f"{_fmt(tril['torch']['min_ms'])} | {tril['speedup']['best']:.2f}× | "
            f"{'yes' if ok_tril else 'NO'} | {_fmt(bound['ms'])} | "
            f"{bound['klmath_over_bound']:.2f}{'' if ok_bound else ' NO'} |"
        )
    print("\nDiagonal form: | batch | d | dtype | klmath ms | torch ms | speed-up |")
    for r in values["rows"]:
        g = r["diag"]
        print(
            f"| {r['batch']} | {r['d']} | {r['dtype']} | {_fmt(g['klmath']['min_ms'])} | "
            f"{_fmt(g['torch']['min_ms'])} | {g['speedup']['best']:.2f}× |"
        )
    print("\nSmall calls (1 thread, float64):")
    print("| form | batch | d | autograd | klmath µs | torch µs | speed-up | target |")
    for r in values["small"]:
        for key, label in (("no_grad", "no"), ("grad", "fwd + bwd")):
            s = r[key]
            ok = s["speedup"]["best"] >= r["target"]
            missed += not ok
            print(
                f"| {r['form']} | {r['batch']} | {r['d']} | {label} | "
                f"{1e3 * s['klmath']['min_ms']:.0f} | {1e3 * s['torch']['min_ms']:.0f} | "
                f"{s['speedup']['best']:.2f}× | {'yes' if ok else 'NO'} |"
            )
    print("\nKL matrices (float64):")
    print("| N | M | d | klmath ms | torch ms | speed-up | bound ms | max rel diff |")
    for r in values["matrix"]["rows"]:
        ok = r["target"] is None or r["speedup"]["best"] >= r["target"]
        missed += not ok
        print(
            f"| {r['n']} | {r['m']} | {r['d']} | {_fmt(r['klmath']['min_ms'])} | "
            f"{_fmt(r['torch']['min_ms'])} | {r['speedup']['best']:.0f}×{'' if ok else ' NO'} | "
            f"{_fmt(r['bound_ms'])} | {r['max_rel_diff']:.1e} |"
        )
    large = values["matrix"]["large"]
    print(
        f"\n{large['n']} × {large['m']} × {large['d']}: {large['klmath_ms']:.0f} ms, peak memory "
        f"+{large['peak_extra_mb']:.0f} MB (result {large['result_mb']:.0f} MB; torch pairs "
        f"{large['torch_pairs_gb']:.1f} GB)"
    )
    print("\nall targets met" if not missed else f"\n{missed} target(s) missed")
    return missed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="torch device (default cpu)")
    parser.add_argument("--repeats", type=int, default=7, help="interleaved rounds per timing")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's)")
    parser.add_argument("--quick", action="store_true", help="small shapes: a smoke test")
    parser.add_argument("--no-record", action="store_true", help="print only")
    parser.add_argument(
        "--plot", type=Path, default=Path("docs/_static/figures/gaussian_kl_speed.png")
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    threads = torch.get_num_threads()
    print(f"torch {torch.__version__}, device {device}, threads {threads}", flush=True)
    gen = torch.Generator().manual_seed(0)
    shapes = [(b // 100 or 1, d) for b, d in SHAPES[:3]] + [(2, 64)] if args.quick else SHAPES
    rows = []
    for batch, d in shapes:
        for dtype in (torch.float64, torch.float32):
            rows.append(shape_row(batch, d, dtype, device, args.repeats, gen))
            c = rows[-1]["cov"]["speedup"]["best"]
            print(f"  ({batch}, {d}) {str(dtype)[6:]}: covariances {c:.2f}×", flush=True)
    small = []
    if device.type == "cpu":
        torch.set_num_threads(1)
        small = [small_row(f, b, d, t, args.repeats) for f, b, d, t in SMALL]
        torch.set_num_threads(threads)
    matrix = matrix_rows(device, args.repeats, args.quick)
    points = sweep(device, args.repeats, args.quick)
    values = {
        "threads": threads,
        "rows": rows,
        "small": small,
        "matrix": matrix,
        "sweep": points,
    }
    missed = print_tables(values)
    values["missed"] = missed
    if not args.no_record and not args.quick:
        cuda = device.type == "cuda"
        name = "bench_gaussian_kl_cuda" if cuda else "bench_gaussian_kl"
        label = f"cuda: {torch.cuda.get_device_name(device)}" if cuda else "cpu"
        path = write_record(
            name,
            values,
            device=label,
            notes=f"{threads} threads; times are the best of interleaved rounds",
        )
        print(f"record: {path}")
        plot(points, args.plot, f"Gaussian KL, float64, {threads} threads, {label}")
        print(f"plot: {args.plot}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
