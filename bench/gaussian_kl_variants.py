"""What was tried for the Gaussian KL's speed, measured: the variants klmath does *not* use.

    python bench/gaussian_kl_variants.py [--repeats N] [--no-record]

Each row times one building block two ways in the same process (interleaved
rounds, best time, CPU, float64), the way klmath does it and an alternative
that lost, so the reasons in docs/performance.md are numbers, not opinions:

* ``cholesky, batch-last``: a Cholesky factorization vectorized over the batch
  (the batch as the last, contiguous axis; d column steps of whole-batch
  operations), including the transposed copy into that layout, against
  LAPACK's per-matrix factorization (``torch.linalg.cholesky_ex``).
* ``solve, batched products``: forward substitution row by row with batched
  matrix products (tiny ``baddbmm``), against LAPACK's triangular solve.
* ``cholesky, blocked``: a left-looking blocked factorization (LAPACK on
  64 × 64 diagonal blocks, matrix products elsewhere, in place) against
  LAPACK's in place, on 1 and on 2 threads.
* ``solve, MKL threads``: LAPACK's triangular solve of a 16 × 17 right-hand side
  with MKL's threads against MKL on one thread (2 threads).
* ``chunks``: ``gaussian_kl`` with its 2 MiB chunks against one chunk for the
  whole batch (page faults on fresh large buffers, cache misses).

Writes the record ``bench_gaussian_kl_variants``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import klmath._gaussian_fast as fast
from klmath import gaussian_kl
from klmath._records import write_record


def best_ms(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    for fn in fns.values():
        fn()
    samples: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            start = time.perf_counter()
            fn()
            samples[k].append(time.perf_counter() - start)
    return {k: 1e3 * min(v) for k, v in samples.items()}


def spd(batch: int, d: int, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    a = torch.randn(batch, d, d, generator=gen, dtype=torch.float64)
    s = a @ a.mT / d + torch.eye(d, dtype=torch.float64)
    return 0.5 * (s + s.mT)


def cholesky_batch_last(cov: torch.Tensor) -> torch.Tensor:
    """Right-looking Cholesky with the batch as the last axis (rank-1 updates over the batch)."""
    t = cov.permute(1, 2, 0).contiguous()
    d = t.shape[0]
    for j in range(d):
        t[j, j].sqrt_()
        if j + 1 < d:
            col = t[j + 1 :, j].div_(t[j, j])
            t[j + 1 :, j + 1 :].addcmul_(col[:, None], col[None, :], value=-1)
    return t


def solve_by_products(tril: torch.Tensor, rhs: torch.Tensor) -> torch.Tensor:
    """Forward substitution, one row at a time, each a batched product over the batch."""
    x = rhs.clone()
    inv_diag = 1 / tril.diagonal(dim1=-2, dim2=-1)
    for i in range(tril.shape[-1]):
        if i:
            x[:, i : i + 1, :].baddbmm_(tril[:, i : i + 1, :i], x[:, :i, :], alpha=-1)
        x[:, i, :].mul_(inv_diag[:, i, None])
    return x


def cholesky_blocked(a: torch.Tensor, block: int = 64) -> None:
    """Left-looking blocked Cholesky in place on (c, n, n), any layout; zeros above the diagonal."""
    n = a.shape[-1]
    for j in range(0, n, block):
        e = min(n, j + block)
        if j:
            a[:, j:, j:e].baddbmm_(a[:, j:, :j], a[:, j:e, :j].mT, alpha=-1)
            a[:, :j, j:e].zero_()
        diag = a[:, j:e, j:e]
        factor, _ = torch.linalg.cholesky_ex(diag)
        diag.copy_(factor)
        if e < n:
            panel = a[:, e:, j:e]
            panel.copy_(torch.linalg.solve_triangular(factor.mT, panel, upper=True, left=False))


def _blocked_into(
    buf: torch.Tensor, src: torch.Tensor, spare: torch.Tensor, info: torch.Tensor
) -> torch.Tensor:
    """klmath._gaussian_fast._cholesky_into with the blocked factorization instead of LAPACK's."""
    buf.copy_(src)
    asym = torch.sub(buf.mT, src, out=spare).abs_().amax((-2, -1))
    info.zero_()
    cholesky_blocked(buf)
    return asym


def rows(repeats: int) -> list[dict[str, Any]]:
    out = []
    threads = torch.get_num_threads()

    def add(name: str, shape: str, t: int, ours: str, theirs: str, ms: dict[str, float]) -> None:
        out.append(
            {
                "variant": name,
                "shape": shape,
                "threads": t,
                "klmath_way": ours,
                "alternative": theirs,
                "klmath_ms": ms[ours],
                "alternative_ms": ms[theirs],
            }
        )
        print(f"{name} {shape} {t} threads: {ms}", flush=True)

    torch.set_num_threads(1)
    for batch, d in ((10_000, 8), (10_000, 16), (1_000, 64)):
        s = spd(batch, d)
        ms = best_ms(
            {
                "LAPACK": lambda s=s: torch.linalg.cholesky_ex(s),
                "batch-last": lambda s=s: cholesky_batch_last(s),
            },
            repeats,
        )
        add("cholesky, batch-last", f"({batch}, {d})", 1, "LAPACK", "batch-last", ms)
    for batch, d in ((10_000, 8), (10_000, 16)):
        tril = torch.linalg.cholesky(spd(batch, d))
        rhs = torch.randn(batch, d, d + 1, dtype=torch.float64)
        rhs_f = rhs.mT.contiguous().mT
        ms = best_ms(
            {
                "LAPACK": lambda t=tril, r=rhs_f: torch.linalg.solve_triangular(t, r, upper=False),
                "products": lambda t=tril, r=rhs: solve_by_products(t, r),
            },
            repeats,
        )
        add("solve, batched products", f"({batch}, {d})", 1, "LAPACK", "products", ms)
    s = spd(4, 512)
    buf = torch.empty_like(s)
    info = torch.empty(4, dtype=torch.int32)
    s0, s1 = spd(50, 512, 1), spd(50, 512, 2)
    m0, m1 = torch.zeros(50, 512, dtype=torch.float64), torch.ones(50, 512, dtype=torch.float64)
    lapack_into = fast._cholesky_into

    def kl_blocked() -> None:
        fast._cholesky_into = _blocked_into
        try:
            gaussian_kl(m0, s0, m1, s1)
        finally:
            fast._cholesky_into = lapack_into

    for t in (1, 2):
        torch.set_num_threads(t)
        # The factorization alone, both from the same column-major copy ...
        ms = best_ms(
            {
                "LAPACK in place": lambda: (
                    buf.mT.copy_(s),
                    torch.linalg.cholesky_ex(buf.mT, out=(buf.mT, info)),
                ),
                "blocked": lambda: (buf.mT.copy_(s), cholesky_blocked(buf.mT)),
            },
            repeats,
        )
        add("cholesky, blocked", "(4, 512)", t, "LAPACK in place", "blocked", ms)
        # ... and inside gaussian_kl (chunks, symmetry checks, solve).
        ms = best_ms(
            {"LAPACK in place": lambda: gaussian_kl(m0, s0, m1, s1), "blocked": kl_blocked},
            max(3, repeats // 2),
        )
        add("gaussian_kl, blocked Cholesky", "(50, 512)", t, "LAPACK in place", "blocked", ms)
    torch.set_num_threads(2)
    tril = torch.linalg.cholesky(spd(10_000, 16))
    rhs = torch.randn(10_000, 17, 16, dtype=torch.float64).mT

    def serial() -> None:
        with fast._serial_blas(True):
            torch.linalg.solve_triangular(tril, rhs, upper=False)

    if fast._mkl_local_threads() is not None:
        ms = best_ms(
            {
                "MKL 1 thread": serial,
                "MKL threads": lambda: torch.linalg.solve_triangular(tril, rhs, upper=False),
            },
            repeats,
        )
        add("solve, MKL threads", "(10000, 16)", 2, "MKL 1 thread", "MKL threads", ms)
    for t in (1, threads):
        torch.set_num_threads(t)
        for batch, d in ((10_000, 16), (1_000, 64), (50, 512)):
            s0, s1 = spd(batch, d, 1), spd(batch, d, 2)
            m0 = torch.zeros(batch, d, dtype=torch.float64)
            m1 = torch.ones(batch, d, dtype=torch.float64)

            def one_chunk(
                s0: Any = s0,
                s1: Any = s1,
                m0: Any = m0,
                m1: Any = m1,
                chunk: int = fast.CHUNK_BYTES,
            ) -> None:
                fast.CHUNK_BYTES = 1 << 40
                try:
                    gaussian_kl(m0, s0, m1, s1)
                finally:
                    fast.CHUNK_BYTES = chunk

            ms = best_ms(
                {
                    "2 MiB chunks": lambda s0=s0, s1=s1, m0=m0, m1=m1: gaussian_kl(m0, s0, m1, s1),
                    "one chunk": one_chunk,
                },
                max(3, repeats // 2) if d == 512 else repeats,
            )
            add("chunks", f"({batch}, {d})", t, "2 MiB chunks", "one chunk", ms)
    torch.set_num_threads(threads)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args(argv)
    results = rows(args.repeats)
    print(
        "\n| variant | shape | threads | klmath's way ms | alternative ms | alternative / klmath |"
    )
    print("|---|---|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['variant']} ({r['alternative']}) | {r['shape']} | {r['threads']} | "
            f"{r['klmath_ms']:.2f} | {r['alternative_ms']:.2f} | "
            f"{r['alternative_ms'] / r['klmath_ms']:.2f} |"
        )
    if not args.no_record:
        path = write_record(
            "bench_gaussian_kl_variants",
            {"rows": results},
            notes="best of interleaved rounds; float64; CPU",
        )
        print(f"record: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
