r"""No-autograd kernels of the Gaussian KL: Cholesky factors and one triangular solve, in chunks.

:func:`factor_squares` computes, for a batch of pairs given by covariances or by
Cholesky factors, the quantities :mod:`klmath.gaussian` sums into the KL,

.. math::

    s = \|L_1^{-1}(L_0 - L_1)\|_F^2 + \|L_1^{-1}(μ_1 - μ_0)\|^2, \quad
    \operatorname{diag} L_0, \quad \operatorname{diag} L_1,

together with one number that is ≤ 0 exactly when every input check passed
(symmetry within tolerance, a successful factorization, factors with nothing
above the diagonal). Nothing synchronizes with the device here: the caller
reads that number once, together with the finiteness of its result, and on
failure reruns the careful path of :mod:`klmath.gaussian`, which raises the
documented error.

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
* **Triangular right-hand side.** From :data:`SPLIT_SOLVE_MIN_D` on, the solve
  :math:`L_1^{-1}(L_0 - L_1)` is split once into 2 × 2 blocks so that the zero
  upper block of the right-hand side is never solved (5d³/8 flops instead of d³).
* **Blocked factorization for large d.** From :data:`BLOCKED_MIN_D` on (CPU),
  the Cholesky factorization is a left-looking blocked one: LAPACK on
  :data:`BLOCK` × :data:`BLOCK` diagonal blocks and matrix products for the rest,
  which run at matmul speed.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

__all__ = [
    "BLOCK",
    "BLOCKED_MIN_D",
    "CHUNK_BYTES",
    "SPLIT_SOLVE_MIN_D",
    "Factored",
    "factor_squares",
]

CHUNK_BYTES = 2 << 20
"""Bytes per buffer and chunk on the CPU (2 MiB: measured best of 2, 8 MiB and one chunk)."""

SPLIT_SOLVE_MIN_D = 64
"""From this d the solve skips the zero upper block of the triangular right-hand side."""

BLOCKED_MIN_D = 256
"""From this d (CPU) the Cholesky factorization is blocked, with matrix products."""

BLOCK = 64
"""Order of the diagonal blocks the blocked factorization hands to LAPACK."""


@dataclass
class Factored:
    """What :func:`factor_squares` returns (see the module docstring).

    Attributes
    ----------
    squares : torch.Tensor
        ‖L₁⁻¹(L₀ − L₁)‖² + ‖L₁⁻¹(μ₁ − μ₀)‖², shape (B,).
    diag0, diag1 : torch.Tensor
        Diagonals of L₀ and L₁, shape (B, d).
    worst : torch.Tensor
        0-d; ≤ 0 exactly when every input check passed (NaN otherwise, or > 0).
    """

    squares: torch.Tensor
    diag0: torch.Tensor
    diag1: torch.Tensor
    worst: torch.Tensor


def _chunk_size(batch: int, d: int, dtype: torch.dtype, device: torch.device) -> int:
    if device.type != "cpu":
        return max(batch, 1)
    return max(1, min(batch, CHUNK_BYTES // (dtype.itemsize * d * d)))


@functools.cache
def _upper_indices(d: int, device: torch.device) -> torch.Tensor:
    """Flat indices of the entries above the diagonal of a row-major d × d matrix."""
    import torch

    rows, cols = torch.triu_indices(d, d, 1, device=device)
    return rows * d + cols


def _blocked_cholesky_(a: torch.Tensor, info: torch.Tensor) -> None:
    """Overwrite the lower triangle of ``a`` (c, n, n) with its Cholesky factor; blocked.

    Left-looking: block column j is first updated by one matrix product with
    the finished columns to its left, then its diagonal block is factored by
    LAPACK and the panel below is solved against it. Only the lower triangle is
    read; the strict upper triangle is set to 0, as LAPACK's own routine leaves it.
    ``info`` (c,) receives the largest LAPACK failure code over the diagonal blocks
    (0: success).
    """
    import torch

    n = a.shape[-1]
    info.zero_()
    for j in range(0, n, BLOCK):
        e = min(n, j + BLOCK)
        if j:
            a[:, j:, j:e].baddbmm_(a[:, j:, :j], a[:, j:e, :j].mT, alpha=-1)
        diag = a[:, j:e, j:e]
        factor, block_info = torch.linalg.cholesky_ex(diag)
        diag.copy_(factor)
        torch.maximum(info, block_info, out=info)
        if j:
            a[:, :j, j:e].zero_()
        if e < n:
            panel = a[:, e:, j:e]
            panel.copy_(torch.linalg.solve_triangular(factor.mT, panel, upper=True, left=False))


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
    if buf.shape[-1] >= BLOCKED_MIN_D and buf.device.type == "cpu":
        _blocked_cholesky_(buf, info)
    else:
        torch.linalg.cholesky_ex(buf, out=(buf, info))
    return asym


def _solve_in_place(tril1: torch.Tensor, rhs: torch.Tensor) -> None:
    """rhs ← L₁⁻¹ rhs for a lower-triangular rhs (column-major views), skipping its zero block."""
    import torch

    d = tril1.shape[-1]
    if d < SPLIT_SOLVE_MIN_D:
        torch.linalg.solve_triangular(tril1, rhs, upper=False, out=rhs)
        return
    # L₁ = [A 0; B C], rhs = [P 0; Q R]: X₁₁ = A⁻¹P, then [X₂₁ X₂₂] = C⁻¹[Q − B X₁₁ | R].
    h = d // 2
    top = rhs[:, :h, :h]
    torch.linalg.solve_triangular(tril1[:, :h, :h], top, upper=False, out=top)
    rhs[:, h:, :h].sub_(tril1[:, h:, :h] @ top)
    bottom = rhs[:, h:, :]
    torch.linalg.solve_triangular(tril1[:, h:, h:], bottom, upper=False, out=bottom)


def factor_squares(
    mean0: torch.Tensor,
    mat0: torch.Tensor,
    mean1: torch.Tensor,
    mat1: torch.Tensor,
    *,
    covariances: bool,
    tolerance: float = 0.0,
) -> Factored:
    """The squares, diagonals and check of the module docstring, without autograd.

    Parameters
    ----------
    mean0, mean1 : torch.Tensor
        Means, shape (B, d).
    mat0, mat1 : torch.Tensor
        Covariances (``covariances=True``) or lower-triangular Cholesky factors,
        shape (B, d, d), any strides.
    tolerance : float
        Covariances: the relative asymmetry allowed, |Σᵢⱼ − Σⱼᵢ| ≤ tolerance · maxₖ Σₖₖ.
    """
    import torch

    batch, d = mean0.shape
    dtype, device = mat0.dtype, mat0.device
    c = _chunk_size(batch, d, dtype, device)
    # Row-major storage; the working matrices are their column-major views (.mT).
    work0 = torch.empty((c, d, d), dtype=dtype, device=device)
    work1 = torch.empty((c, d, d), dtype=dtype, device=device)
    spare = torch.empty((c, d, d), dtype=dtype, device=device)
    info0 = torch.empty(c, dtype=torch.int32, device=device)
    info1 = torch.empty(c, dtype=torch.int32, device=device)
    squares = torch.empty(batch, dtype=dtype, device=device)
    diag0 = torch.empty((batch, d), dtype=dtype, device=device)
    diag1 = torch.empty((batch, d), dtype=dtype, device=device)
    # Per chunk: the largest violation of any check (≤ 0 when all pass).
    worst = torch.empty(-(-batch // c), dtype=dtype, device=device)
    dmean = torch.sub(mean1, mean0).unsqueeze_(-1)
    for k, start in enumerate(range(0, batch, c)):
        stop = min(batch, start + c)
        b = stop - start
        t0, t1 = work0[:b].mT, work1[:b].mT
        if covariances:
            s0, s1 = mat0[start:stop], mat1[start:stop]
            asym0 = _cholesky_into(t0, s0, spare[:b], info0[:b])
            asym1 = _cholesky_into(t1, s1, spare[:b], info1[:b])
            # |Σᵢⱼ − Σⱼᵢ| − tol · maxₖ Σₖₖ, and the factorization's failure flags.
            scale0 = s0.diagonal(dim1=-2, dim2=-1).amax(-1)
            scale1 = s1.diagonal(dim1=-2, dim2=-1).amax(-1)
            excess0 = asym0.sub_(scale0, alpha=tolerance)
            excess1 = asym1.sub_(scale1, alpha=tolerance)
            failed = torch.maximum(info0[:b], info1[:b]).amax().to(dtype)
            bad = torch.maximum(torch.maximum(excess0, excess1).amax(), failed)
        else:
            s0, s1 = mat0[start:stop], mat1[start:stop]
            # A factor has nothing above its diagonal: gather those entries, any nonzero fails.
            upper = _upper_indices(d, device)
            bad = torch.logical_or(
                s0.reshape(b, d * d).index_select(1, upper).any(),
                s1.reshape(b, d * d).index_select(1, upper).any(),
            ).to(dtype)
            # L₁ is only read: LAPACK takes it in any layout; L₀ − L₁ is the right-hand side.
            torch.sub(s0, s1, out=t0)
            t1 = s1
        worst[k] = bad
        if covariances:
            diag0[start:stop] = t0.diagonal(dim1=-2, dim2=-1)
            t0.sub_(t1)
        else:
            diag0[start:stop] = s0.diagonal(dim1=-2, dim2=-1)
        diag1[start:stop] = t1.diagonal(dim1=-2, dim2=-1)
        delta = torch.linalg.solve_triangular(t1, dmean[start:stop], upper=False)
        _solve_in_place(t1, t0)
        torch.linalg.vector_norm(work0[:b], dim=(-2, -1), out=squares[start:stop])
        squares[start:stop].square_().add_(delta.square_().sum((-2, -1)))
    return Factored(squares, diag0, diag1, worst.amax())
