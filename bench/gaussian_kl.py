"""Benchmark: klmath's Gaussian KL against torch.distributions, in one process.

    python bench/gaussian_kl.py [--device cpu|cuda] [--repeats N] [--threads N] [--quick]

For each (batch, d) and dtype it times

* ``gaussian_kl(mean0, cov0, mean1, cov1)`` (validation included), against
* ``kl_divergence(MultivariateNormal(mean0, covariance_matrix=cov0), MultivariateNormal(...))``,
  distribution construction included (that is what a user holding covariances
  pays; torch validates arguments by default), and against
* ``kl_divergence(p, q)`` alone on prebuilt distributions (a lower bound for torch),

and the diagonal form ``gaussian_kl_diag(mean0, var0, mean1, var1)`` against
``kl_divergence(Independent(Normal(mean0, var0.sqrt()), 1), ...)``. Timings are
the best of interleaved repeats, so load on a shared machine hits both sides
alike; the ratios are what to read. Both sides run without autograd (plain
tensors), which is klmath's in-place fast path; with ``requires_grad`` klmath
uses its out-of-place path (not timed here). At (50, 512) it also prints a FLOP-count
bound (derivation in :func:`flop_bound`) turned into time with the measured
GFLOP/s of a plain batched matmul, and checks klmath is within 2× of it.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch.distributions import Independent, MultivariateNormal, Normal, kl_divergence

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from klmath import gaussian_kl, gaussian_kl_diag

SHAPES = [(100_000, 2), (10_000, 16), (1_000, 64), (50, 512)]
TARGET = {torch.float64: 3.0, torch.float32: 2.0}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_interleaved(
    fns: dict[str, Callable[[], object]], repeats: int, device: torch.device
) -> dict[str, float]:
    """Best seconds per call of each function, run round-robin after one warm-up each.

    The minimum, since load on a shared machine only ever adds time.
    """
    for fn in fns.values():
        fn()
    _sync(device)
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            _sync(device)
            samples[name].append(time.perf_counter() - start)
    return {name: min(s) for name, s in samples.items()}


def random_spd(
    batch: int, d: int, dtype: torch.dtype, device: torch.device, gen: torch.Generator
) -> torch.Tensor:
    a = torch.randn(batch, d, d, generator=gen, dtype=torch.float64)
    spd = a @ a.mT / d + torch.eye(d, dtype=torch.float64)
    return spd.to(dtype=dtype, device=device)


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
    """Measured GFLOP/s of a batched d × d matmul (2d³ flops each) in this dtype."""
    gen = torch.Generator().manual_seed(1)
    a = torch.randn(batch, d, d, generator=gen, dtype=dtype).to(device)
    b = torch.randn(batch, d, d, generator=gen, dtype=dtype).to(device)
    seconds = time_interleaved({"mm": lambda: a @ b}, repeats=5, device=device)["mm"]
    return 2 * batch * d**3 / seconds / 1e9


def full_cases(m0, s0, m1, s1) -> dict[str, Callable[[], object]]:
    """klmath, torch with construction, torch's KL alone on prebuilt distributions."""
    p = MultivariateNormal(m0, covariance_matrix=s0)
    q = MultivariateNormal(m1, covariance_matrix=s1)
    return {
        "ours": lambda: gaussian_kl(m0, s0, m1, s1),
        "torch": lambda: kl_divergence(
            MultivariateNormal(m0, covariance_matrix=s0),
            MultivariateNormal(m1, covariance_matrix=s1),
        ),
        "torch_kl": lambda: kl_divergence(p, q),
    }


def diag_cases(m0, v0, m1, v1) -> dict[str, Callable[[], object]]:
    """klmath's diagonal form against Independent(Normal) built from the variances."""
    return {
        "ours": lambda: gaussian_kl_diag(m0, v0, m1, v1),
        "torch": lambda: kl_divergence(
            Independent(Normal(m0, v0.sqrt()), 1), Independent(Normal(m1, v1.sqrt()), 1)
        ),
    }


def run(device: torch.device, repeats: int, shapes: list[tuple[int, int]]) -> int:
    gen = torch.Generator().manual_seed(0)
    print(f"torch {torch.__version__}, device {device}, threads {torch.get_num_threads()}")
    print()
    print(
        "| batch | d | dtype | klmath ms | torch ms (build + KL) | speed-up | torch KL-only ms | "
        "speed-up vs KL-only | target | met |"
    )
    print("|---:|---:|---|---:|---:|---:|---:|---:|---:|---|")
    failures = 0
    diag_rows = []
    bound_rows = []
    for batch, d in shapes:
        for dtype in (torch.float64, torch.float32):
            s0, s1 = (random_spd(batch, d, dtype, device, gen) for _ in range(2))
            m0, m1 = (
                torch.randn(batch, d, generator=gen).to(dtype=dtype, device=device)
                for _ in range(2)
            )
            reps = repeats if batch * d**3 < 1e9 else max(3, repeats // 2)
            t = time_interleaved(full_cases(m0, s0, m1, s1), reps, device)
            speedup, speedup_kl = t["torch"] / t["ours"], t["torch_kl"] / t["ours"]
            met = speedup >= TARGET[dtype]
            failures += not met
            name = str(dtype).removeprefix("torch.")
            print(
                f"| {batch} | {d} | {name} | {1e3 * t['ours']:.2f} | {1e3 * t['torch']:.2f} | "
                f"{speedup:.1f}× | {1e3 * t['torch_kl']:.2f} | {speedup_kl:.1f}× | "
                f"≥ {TARGET[dtype]:.0f}× | {'yes' if met else 'NO'} |",
                flush=True,
            )
            if d == 512:
                rate = matmul_gflops(batch, d, dtype, device)
                bound = batch * flop_bound(d) / (rate * 1e9)
                bound_rows.append((name, rate, bound, t["ours"]))
            v0, v1 = (
                torch.rand(batch, d, generator=gen).to(dtype=dtype, device=device) + 0.1
                for _ in range(2)
            )
            td = time_interleaved(diag_cases(m0, v0, m1, v1), repeats, device)
            diag_rows.append((batch, d, name, td["ours"], td["torch"]))

    print()
    print(
        "Diagonal covariances: gaussian_kl_diag vs "
        "kl_divergence(Independent(Normal(m, v.sqrt()), 1), ...)"
    )
    print()
    print("| batch | d | dtype | klmath ms | torch ms (build + KL) | speed-up |")
    print("|---:|---:|---|---:|---:|---:|")
    for batch, d, name, ours, theirs in diag_rows:
        print(
            f"| {batch} | {d} | {name} | {1e3 * ours:.3f} | {1e3 * theirs:.3f} | "
            f"{theirs / ours:.1f}× |"
        )

    if bound_rows:
        print()
        print("FLOP-count bound at (50, 512): d³ flops per pair (2 Cholesky d³/3 + triangular-RHS")
        print("solve d³/3), at the measured rate of a plain batched matmul of the same size.")
        print()
        print("| dtype | matmul GFLOP/s | bound ms | klmath ms | klmath / bound | within 2× |")
        print("|---|---:|---:|---:|---:|---|")
        for name, rate, bound, ours in bound_rows:
            ok = ours <= 2 * bound
            failures += not ok
            print(
                f"| {name} | {rate:.1f} | {1e3 * bound:.1f} | {1e3 * ours:.1f} | "
                f"{ours / bound:.2f} | {'yes' if ok else 'NO'} |"
            )
    print()
    print("all targets met" if not failures else f"{failures} target(s) missed")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="torch device (default cpu)")
    parser.add_argument("--repeats", type=int, default=7, help="timed repeats per function")
    parser.add_argument("--quick", action="store_true", help="smaller shapes, for a smoke test")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    shapes = [(b // 100 or 1, d) for b, d in SHAPES[:3]] + [(2, 64)] if args.quick else SHAPES
    return run(device, args.repeats, shapes)


if __name__ == "__main__":
    raise SystemExit(main())
