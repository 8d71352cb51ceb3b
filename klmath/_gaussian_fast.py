r"""No-autograd kernels of the Gaussian KL: Cholesky factors and one triangular solve, in chunks.

:func:`factor_kl` computes, for a batch of pairs given by covariances or by
Cholesky factors, the non-negative sum :mod:`klmath.gaussian` evaluates,

.. math::

    D = \tfrac12 \|L_1^{-1} [\,μ_1 - μ_0 \mid L_0 - L_1\,]\|_F^2
        + \sum_i (e^{u_i} - 1 - u_i), \quad u_i = \log(L_{0,ii} / L_{1,ii}),

together with two numbers that say whether every input check passed (symmetry
within tolerance, a successful factorization, factors with nothing above the
diagonal and a positive diagonal). Nothing synchronizes with the device here:
the caller reads those numbers once, together with the finiteness of the
result, and on failure reruns the careful path of :mod:`klmath.gaussian`, which
raises the documented error.

How (each choice measured by ``bench/gaussian_kl.py`` and its notes in
docs/performance.md):

* **Chunks of the batch through reused buffers.** On the CPU the batch is
  processed a few MiB at a time (:data:`CHUNK_BYTES`) in three buffers
  allocated once per call. Fresh large temporaries cost page faults on every
  call (a 100 MiB buffer: ~50 ms before any arithmetic on the project's
  machine), and a chunk stays in cache between the factorization, the solve and
  the sums. On other devices the whole batch is one chunk.
* **Lower triangle, column-major, in place.** Each covariance is copied once,
  transposed, into a column-major buffer (what LAPACK reads; the copy is what
  ``torch.linalg.cholesky`` does internally), the symmetry check compares that
  copy with the input as two contiguous arrays, and the factorization and the
  solve overwrite the buffer (``out=`` the input): no other copy.
* **One solve.** The mean difference and L₀ − L₁ form one column-major
  right-hand side [δ | L₀ − L₁], solved by one LAPACK call per chunk; the
  diagonal terms are computed per chunk too, while the chunk is in cache.
* **Triangular right-hand side.** From :data:`SPLIT_SOLVE_MIN_D` on, the solve
  :math:`L_1^{-1}(L_0 - L_1)` is split once into 2 × 2 blocks so that the zero
  upper block of the right-hand side is never solved (5d³/8 flops instead of d³).

Measured and dropped: a Cholesky factorization vectorized over the batch
(batch-last layout, d column steps of whole-batch operations: the transposed
copy alone costs as much as LAPACK's factorization at d = 16, and its steps run
at ~1 element/ns), a forward substitution by batched matrix products (10× slower
than LAPACK's solve at d = 16), and blocked factorizations (left-looking,
right-looking, recursive; LAPACK on 64 × 64 diagonal blocks, matrix products
elsewhere): as fast as LAPACK's on 1 thread at d = 512, but 20–100 % slower on
2 threads, where MKL's own factorization threads well and the blocked one's
many small products do not (docs/performance.md).
"""

from __future__ import annotations

import contextlib
import functools
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

__all__ = [
    "CHUNK_BYTES",
    "CHUNK_MIN_PAIRS",
    "SERIAL_BLAS_MAX_D",
    "SPLIT_SOLVE_MIN_D",
    "factor_kl",
]

CHUNK_BYTES = 2 << 20
"""Bytes per buffer and chunk on the CPU (2 MiB: measured best of 2, 8 MiB and one chunk)."""

SERIAL_BLAS_MAX_D = 32
"""Below this d (CPU, MKL) LAPACK runs on one thread inside :func:`factor_kl`.

MKL spreads each small matrix's solve over the threads: for 16 × 17 right-hand
sides that costs 2–5× CPU time with 2 threads (measured with torch 2.13's MKL),
more under load; from d ≈ 64 on its threading pays off.
"""

CHUNK_MIN_PAIRS = 4
"""Fewest pairs per chunk (large d: a few matrices per call keep LAPACK's threads busy)."""

SPLIT_SOLVE_MIN_D = 64
"""From this d the solve skips the zero upper block of the triangular right-hand side."""


@functools.cache
def _mkl_local_threads() -> Callable[[int], int] | None:
    """MKL's thread-local thread count setter, C interface, from torch's own MKL; or None.

    ``MKL_Set_Num_Threads_Local(n)`` sets the number of threads MKL uses in the
    calling thread only and returns the previous setting (0: the global one).
    Looked up in ``libtorch_cpu`` (Linux builds link MKL into it); None where
    torch has no MKL or the symbol is absent, and then nothing changes.
    """
    import ctypes

    import torch

    if not sys.platform.startswith("linux") or not torch.backends.mkl.is_available():
        return None
    try:
        lib = ctypes.CDLL(str(Path(torch.__file__).parent / "lib" / "libtorch_cpu.so"))
        setter = lib.MKL_Set_Num_Threads_Local
    except (OSError, AttributeError):
        return None
    setter.restype = ctypes.c_int
    setter.argtypes = [ctypes.c_int]
    return setter


@contextlib.contextmanager
def _serial_blas(enabled: bool) -> Iterator[None]:
    """Run MKL on one thread (in this thread only) inside the block, if ``enabled``."""
    setter = _mkl_local_threads() if enabled else None
    if setter is None:
        yield
        return
    previous = setter(1)
    try:
        yield
    finally:
        setter(previous)


def _chunk_size(batch: int, columns: int, dtype: torch.dtype, device: torch.device) -> int:
    """Pairs per chunk on the CPU: a right-hand side of ``columns`` columns per pair fills
    CHUNK_BYTES, but at least CHUNK_MIN_PAIRS pairs (one LAPACK call does that many)."""
    if device.type != "cpu":
        return max(batch, 1)
    pairs = CHUNK_BYTES // (dtype.itemsize * columns * columns)
    return max(1, min(batch, max(CHUNK_MIN_PAIRS, pairs)))


def _cholesky_into(
    buf: torch.Tensor, src: torch.Tensor, spare: torch.Tensor, info: torch.Tensor
) -> torch.Tensor:
    """Factor the covariances ``src`` (c, d, d) into ``buf``; return max|Σ − Σᵀ| per matrix.

    ``buf`` is a column-major view; copying ``src`` into it is the transposed copy
    LAPACK needs, after which ``buf.mT`` (row-major) holds Σᵀ and the symmetry check
    is a comparison of two contiguous arrays.
    """
    import torch

    buf.copy_(src)
    asym = torch.sub(buf.mT, src, out=spare).abs_().amax((-2, -1))
    torch.linalg.cholesky_ex(buf, out=(buf, info))
    return asym


def _solve_in_place(tril1: torch.Tensor, rhs: torch.Tensor) -> None:
    """rhs ← L₁⁻¹ rhs for rhs = [δ | L₀ − L₁] (column-major views), skipping the zero block.

    From SPLIT_SOLVE_MIN_D on, with L₁ = [A 0; B C] and the triangular part of the
    right-hand side [P 0; Q R] (δ = [a; b] in front): [a | P] ← A⁻¹[a | P], then
    [b | Q | R] ← C⁻¹([b | Q] − B[a | P] | R); the zero upper block is never solved.
    """
    import torch

    d = tril1.shape[-1]
    if d < SPLIT_SOLVE_MIN_D:
        torch.linalg.solve_triangular(tril1, rhs, upper=False, out=rhs)
        return
    h = d // 2
    top = rhs[:, :h, : h + 1]
    torch.linalg.solve_triangular(tril1[:, :h, :h], top, upper=False, out=top)
    rhs[:, h:, : h + 1].sub_(tril1[:, h:, :h] @ top)
    bottom = rhs[:, h:, :]
    torch.linalg.solve_triangular(tril1[:, h:, h:], bottom, upper=False, out=bottom)


def _strict_upper(x: torch.Tensor, buf: torch.Tensor) -> torch.Tensor:
    """The strict upper triangle of ``x`` (zeros elsewhere) in ``buf``, row-major.

    For a column-major ``x`` (what ``torch.linalg.cholesky`` returns) it is read as
    the strict lower triangle of the row-major xᵀ: measured 1.5–3× faster than a
    write across layouts.
    """
    import torch

    if x.mT.is_contiguous() and not x.is_contiguous():
        return torch.tril(x.mT, -1, out=buf)
    return torch.triu(x, 1, out=buf)


DiagonalTerms = Callable[["torch.Tensor", "torch.Tensor"], tuple["torch.Tensor", "torch.Tensor"]]


def factor_kl(
    mean0: torch.Tensor,
    mat0: torch.Tensor,
    mean1: torch.Tensor,
    mat1: torch.Tensor,
    *,
    covariances: bool,
    diagonal_terms: DiagonalTerms,
    tolerance: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """KL = ½ squares + Σ diagonal terms for a batch of pairs, and the checks; no autograd.

    Parameters
    ----------
    mean0, mean1 : torch.Tensor
        Means, shape (B, d).
    mat0, mat1 : torch.Tensor
        Covariances (``covariances=True``) or lower-triangular Cholesky factors,
        shape (B, d, d), any strides.
    diagonal_terms : callable
        ``(diag L₀, diag L₁) -> (Σᵢ (eᵘ − 1 − u) per row, min over all entries)``
        for u = log(L₀ᵢᵢ/L₁ᵢᵢ) (:mod:`klmath.gaussian` passes its fast kernel).
    tolerance : float
        Covariances: the relative asymmetry allowed, |Σᵢⱼ − Σⱼᵢ| ≤ tolerance · maxₖ Σₖₖ.

    Returns
    -------
    (kl, checks)
        kl of shape (B,); checks, shape (2,): the largest violation of any input
        check (≤ 0 when all pass; NaN counts as failed) and the smallest diagonal
        entry of the factors (must be > 0).
    """
    import torch

    batch, d = mean0.shape
    dtype, device = mat0.dtype, mat0.device
    c = _chunk_size(batch, d + 1, dtype, device)
    # Row-major storage; the working matrices are column-major views (.mT). The
    # right-hand side [δ | L₀ − L₁] is one (d, d + 1) column-major block per pair.
    rhs_buf = torch.empty((c, d + 1, d), dtype=dtype, device=device)
    spare = torch.empty((c, d, d), dtype=dtype, device=device)
    if covariances:
        work0 = torch.empty((c, d, d), dtype=dtype, device=device)
        work1 = torch.empty((c, d, d), dtype=dtype, device=device)
        info0 = torch.empty(c, dtype=torch.int32, device=device)
        info1 = torch.empty(c, dtype=torch.int32, device=device)
    kl = torch.empty(batch, dtype=dtype, device=device)
    chunks = -(-batch // c)
    worst = torch.empty(chunks, dtype=dtype, device=device)
    smallest = torch.empty(chunks, dtype=dtype, device=device)
    dmean = torch.sub(mean1, mean0)
    with _serial_blas(device.type == "cpu" and d < SERIAL_BLAS_MAX_D):
        for k, start in enumerate(range(0, batch, c)):
            stop = min(batch, start + c)
            b = stop - start
            rhs = rhs_buf[:b].mT
            if covariances:
                s0, s1 = mat0[start:stop], mat1[start:stop]
                t0, t1 = work0[:b].mT, work1[:b].mT
                asym0 = _cholesky_into(t0, s0, spare[:b], info0[:b])
                asym1 = _cholesky_into(t1, s1, spare[:b], info1[:b])
                # |Σᵢⱼ − Σⱼᵢ| − tol · maxₖ Σₖₖ, and the factorization's failure flags.
                excess0 = asym0.sub_(s0.diagonal(dim1=-2, dim2=-1).amax(-1), alpha=tolerance)
                excess1 = asym1.sub_(s1.diagonal(dim1=-2, dim2=-1).amax(-1), alpha=tolerance)
                failed = torch.maximum(info0[:b], info1[:b]).amax().to(dtype)
                worst[k] = torch.maximum(torch.maximum(excess0, excess1).amax(), failed)
            else:
                t0, t1 = mat0[start:stop], mat1[start:stop]
                # A factor has nothing above its diagonal: the largest |entry| there must be
                # 0 (exact; a norm would square entries below √(smallest subnormal) to 0).
                upper0 = _strict_upper(t0, spare[:b]).abs_().amax()
                upper1 = _strict_upper(t1, spare[:b]).abs_().amax()
                worst[k] = torch.maximum(upper0, upper1)
            rhs[..., 0].copy_(dmean[start:stop])
            torch.sub(t0, t1, out=rhs[..., 1:])
            _solve_in_place(t1, rhs)
            diag0, diag1 = t0.diagonal(dim1=-2, dim2=-1), t1.diagonal(dim1=-2, dim2=-1)
            terms, low = diagonal_terms(diag0, diag1)
            smallest[k] = low
            squares = torch.linalg.vector_norm(rhs_buf[:b], dim=(-2, -1), out=kl[start:stop])
            squares.square_().mul_(0.5).add_(terms)
    return kl, torch.stack([worst.amax(), smallest.amin()])
