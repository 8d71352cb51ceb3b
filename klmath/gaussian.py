r"""Closed-form KL divergence between Gaussians: full, diagonal and Cholesky-factor forms.

For P = N(μ₀, Σ₀) and Q = N(μ₁, Σ₁) in ℝᵈ (seed problem 5),

.. math::

    D_{KL}(P \| Q) = \tfrac12 \big[ \operatorname{tr}(Σ_1^{-1} Σ_0)
        + (μ_1 - μ_0)^T Σ_1^{-1} (μ_1 - μ_0) - d + \log(\det Σ_1 / \det Σ_0) \big].

That textbook form subtracts d and a log-determinant from a trace: near P = Q
all three are O(d) while the result is tiny, so the cancellation leaves
rounding noise, which is how ``torch.distributions`` returns small negative
values. klmath evaluates the same quantity as a sum of non-negative terms.
With Σ₀ = L₀L₀ᵀ, Σ₁ = L₁L₁ᵀ (Cholesky), M = L₁⁻¹L₀ (lower triangular) and
δ = L₁⁻¹(μ₁ − μ₀),

.. math::

    D_{KL} = \tfrac12 \Big[ \sum_i (M_{ii}^2 - 1 - \log M_{ii}^2)
        + \sum_{i>j} M_{ij}^2 + \|δ\|^2 \Big],

each term ≥ 0 (x − 1 − log x ≥ 0). Two further steps keep it accurate when P
and Q are close. First, X = M − I = L₁⁻¹(L₀ − L₁) is computed by one
triangular solve on the difference of the factors, so its entries carry
relative (not absolute) rounding errors however small they are. Second, with
r = Mᵢᵢ − 1 = (L₀ᵢᵢ − L₁ᵢᵢ)/L₁ᵢᵢ and v = log Mᵢᵢ = log1p(r),
Mᵢᵢ² − 1 − log Mᵢᵢ² = rᵢ² + 2(eᵛ − 1 − v), and eᵛ − 1 − v is summed from its
Taylor series for |v| < 1/4 (:func:`_expm1_minus_x`). Hence

.. math::

    D_{KL} = \tfrac12 \big( \|X\|_F^2 + \|δ\|^2 \big) + \sum_i (e^{v_i} - 1 - v_i),

exactly 0 for identical inputs and accurate to a few ulps *relative to the
result* given the Cholesky factors. :func:`gaussian_kl_diag` and
:func:`gaussian_kl_tril` round nothing before that point, so KL ≈ 1e-12 comes
out to ~1e-15 (diagonal) or ~d·ε·κ(L₁) (factors) relative error. For full
covariances the Cholesky factorizations themselves perturb Σ by ~d·ε·‖Σ‖, which
bounds the relative error by about d·ε·κ(Σ₁)/√KL (stated and tested in
``tests/test_gaussian_reference.py``): that is the conditioning of the problem
under input perturbations of that size, not a loss in the formula.

Implementation choice: everything is computed in torch; NumPy inputs go
through :func:`torch.from_numpy` and back (``klmath._backend``), so each formula
is written once and NumPy float64 results are bit-identical to torch's.

Speed: each public function has *careful* paths (the reference: out-of-place,
differentiable, every check raising its documented error) and *fast* paths, listed
with the inputs that select them in :data:`FAST_PATHS`. The fast paths compute the
same non-negative sum with every input check deferred to one synchronization at the
end; if any check fails (or the KL overflows) the call is redone on the careful
path, which names the problem. Without autograd the matrix forms run through
:mod:`klmath._gaussian_fast` (chunks of the batch in reused buffers, in-place
LAPACK, one solve per chunk); with autograd the covariance and
diagonal forms run the same forward pass inside an autograd Function whose
backward is the closed-form gradient. The fast eᵘ − 1 − u of the diagonal terms
(:func:`_expm1_minus_log_ratio`) uses one log1p per ratio (≤ 7 ulp measured
against mpmath). ``tests/test_gaussian_fast_paths.py`` ties every fast path to
the careful one.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from klmath._backend import as_tensors, from_torch
from klmath._validation import (
    broadcast_batch_shapes,
    check_event_size,
    check_finite,
    check_lower_triangular,
    check_min_ndim,
    check_positive,
    check_square,
    check_symmetric,
    cholesky_factor,
    first_index,
    symmetry_tolerance,
)

if TYPE_CHECKING:
    import torch

__all__ = ["FAST_PATHS", "FastPath", "gaussian_kl", "gaussian_kl_diag", "gaussian_kl_tril"]

ArrayT = TypeVar("ArrayT")


@dataclass(frozen=True)
class FastPath:
    """One fast path of a Gaussian KL function, and the inputs that select it.

    Attributes
    ----------
    function : str
        ``"gaussian_kl"``, ``"gaussian_kl_tril"`` or ``"gaussian_kl_diag"``.
    path : str
        What the path does, in words.
    when : str
        The condition that selects it (besides valid input).
    dims : tuple of int
        Dimensions d at which it is selected (with ``batch`` and ``grad``).
    batch : tuple of int
        A batch shape of the four arguments (all equal unless ``broadcast``).
    grad : bool
        Whether the inputs require grad (True: the autograd Function path).
    broadcast : bool
        The second Gaussian unbatched, broadcasting against the first.
    """

    function: str
    path: str
    when: str
    dims: tuple[int, ...]
    batch: tuple[int, ...] = (3,)
    grad: bool = False
    broadcast: bool = False


FAST_PATHS: tuple[FastPath, ...] = (
    FastPath("gaussian_kl", "unrolled Cholesky and substitution", "d ≤ 3, no grad", (1, 2, 3)),
    FastPath(
        "gaussian_kl",
        "chunked in-place LAPACK Cholesky and solve",
        "4 ≤ d < 64, equal batch shapes, no grad",
        (4, 16),
    ),
    FastPath(
        "gaussian_kl",
        "chunked in-place LAPACK, split solve (zero block skipped)",
        "d ≥ 64, equal batch shapes, no grad",
        (64, 100, 256),
    ),
    FastPath(
        "gaussian_kl",
        "whole-batch in-place LAPACK (broadcast batch shapes)",
        "d ≥ 4, batch shapes differ, no grad",
        (4, 64),
        broadcast=True,
    ),
    FastPath(
        "gaussian_kl",
        "autograd Function: a fast forward, closed-form gradients",
        "any input requires grad",
        (2, 16),
        grad=True,
    ),
    FastPath("gaussian_kl_tril", "unrolled substitution", "d ≤ 3, no grad", (1, 2, 3)),
    FastPath(
        "gaussian_kl_tril",
        "chunked in-place LAPACK solve",
        "d ≥ 4, equal batch shapes, no grad",
        (4, 16, 64),
    ),
    FastPath(
        "gaussian_kl_tril",
        "whole-batch in-place LAPACK (broadcast batch shapes)",
        "d ≥ 4, batch shapes differ, no grad",
        (5,),
        broadcast=True,
    ),
    FastPath("gaussian_kl_diag", "fused elementwise kernel", "no grad", (1, 2, 32)),
    FastPath(
        "gaussian_kl_diag",
        "autograd Function: the fused forward, closed-form gradients",
        "any input requires grad",
        (1, 32),
        grad=True,
    ),
)
"""Every fast path of the Gaussian KL functions, with inputs that select it.

Inputs that fail a check, KLs that overflow, empty batches and covariances that need
rescaling (outside the range of :func:`_in_rescale_range`) always end on the careful path.
``gaussian_kl_matrix`` (:mod:`klmath.gaussian_matrix`) has its own product form
and recomputes the entries it cannot guarantee with the careful Cholesky form.
"""

# Below this |v| the Taylor series of eᵛ − 1 − v is used; above it, expm1(v) − v
# loses at most ~16 ulp to cancellation ((|eᵛ − 1| + |v|)/(eᵛ − 1 − v) ≤ 16.4).
_SERIES_RADIUS = 0.25
# 1/(k+2)! for k = 0..11: eᵛ − 1 − v = v² Σₖ vᵏ/(k+2)!; the first omitted term is
# below 1.5e-18 of the sum for |v| ≤ 1/4.
_SERIES_COEFFS = tuple(1.0 / math.factorial(k + 2) for k in range(12))
# float32 needs 6 terms: the first omitted one is below 1.3e-8 of the sum.
_SERIES_TERMS_FLOAT32 = 6
# |r| below this: v = log1p(r) is accurate; above it log(L₀ᵢᵢ/L₁ᵢᵢ) is (|v| ≥ log 1.5,
# so the quotient's rounding is ≤ 1.24 ulp of v), and it avoids log1p(r) near r = −1
# where r has lost its relative accuracy.
_LOG1P_RADIUS = 0.5
# From this d on the triangular solve is split once in 2 × 2 blocks to skip the
# zero upper block of the right-hand side (5d³/8 flops instead of d³).
_SPLIT_SOLVE_MIN_D = 64
# Up to this d the factorization and solve run as unrolled elementwise formulas
# over the batch: for tiny matrices a LAPACK call per batch element costs more.
_UNROLLED_MAX_D = 3


def _expm1_minus_x(v: torch.Tensor) -> torch.Tensor:
    """eᵛ − 1 − v ≥ 0, accurate to a few ulps relative to the result for every v."""
    import torch

    small = v.abs() < _SERIES_RADIUS
    # The unused branch of where() still gets a gradient of 0 · f'(x); feed the
    # series only small arguments so that product is never 0 · inf.
    vs = torch.where(small, v, 0.0)
    coeffs = _SERIES_COEFFS if v.dtype == torch.float64 else _SERIES_COEFFS[:_SERIES_TERMS_FLOAT32]
    acc = torch.full_like(vs, coeffs[-1])
    for c in reversed(coeffs[:-1]):
        acc = torch.addcmul(torch.tensor(c, dtype=vs.dtype, device=vs.device), acc, vs)
    return torch.where(small, vs * vs * acc, torch.expm1(v) - v)


def _log_ratio(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """log(a/b) for a, b > 0, accurate to a few ulps relative to itself at any magnitude.

    log1p((a − b)/b) when |a/b − 1| < ½; beyond, log(a/b) of the rounded quotient
    (≤ ε/2 absolute error, ≤ 1.3 ulp relative as |log(a/b)| ≥ log 1.5), and
    log a − log b only where the quotient leaves the normal range (then |log(a/b)|
    > 700 and the ~ε·|log a| absolute error of the difference is a few ulps of it;
    at 1e±300 with a ratio near 2 the difference alone errs by ~1000 ulps). The
    gradient is that of log a − log b throughout: the quotient's value enters as a
    detached correction, and since the difference is within a factor of 2 of
    log(a/b), difference + (log(a/b) − difference) is log(a/b) exactly (Sterbenz).
    """
    import torch

    r = (a - b) / b
    near = r.abs() < _LOG1P_RADIUS
    difference = torch.log(a) - torch.log(b)
    with torch.no_grad():
        q = a / b
        finfo = torch.finfo(q.dtype)
        normal = (q >= finfo.tiny) & (q <= finfo.max)
        correction = torch.where(normal, torch.log(torch.where(normal, q, 1.0)) - difference, 0.0)
    return torch.where(near, torch.log1p(torch.where(near, r, 0.0)), difference + correction)


def _solved_squares(tril1: torch.Tensor, diff: torch.Tensor, dmean: torch.Tensor) -> torch.Tensor:
    """‖X‖² + ‖δ‖² for [X | δ] = L₁⁻¹ [L₀ − L₁ | μ₁ − μ₀], diff lower triangular.

    Below _SPLIT_SOLVE_MIN_D one triangular solve does both. From there on, with
    L₁ = [A 0; B C], diff = [P 0; Q R], μ₁ − μ₀ = [a; b]: [X₁₁ | δ₁] = A⁻¹[P | a],
    then C⁻¹[Q − B X₁₁ | R | b − B δ₁] gives X₂₁, X₂₂, δ₂: the zero block is never solved.
    """
    import torch

    d = tril1.shape[-1]
    batch = torch.broadcast_shapes(tril1.shape[:-2], diff.shape[:-2], dmean.shape[:-2])
    diff = diff.expand(*batch, d, d)
    dmean = dmean.expand(*batch, d, 1)
    if d < _SPLIT_SOLVE_MIN_D:
        # Built transposed so the right-hand side is column-major, as LAPACK wants it
        # (Cholesky factors from torch are column-major too): no copy inside the solve.
        rhs = torch.cat([diff.mT, dmean.mT], dim=-2).mT
        solved = torch.linalg.solve_triangular(tril1, rhs, upper=False)
        return torch.linalg.vector_norm(solved, dim=(-2, -1)).square()
    h = d // 2
    a, b, c = tril1[..., :h, :h], tril1[..., h:, :h], tril1[..., h:, h:]
    top_rhs = torch.cat([diff[..., :h, :h].mT, dmean[..., :h, :].mT], dim=-2).mT
    top = torch.linalg.solve_triangular(a, top_rhs, upper=False)
    update = b @ top
    lower_left = diff[..., h:, :h] - update[..., :h]
    lower_mean = dmean[..., h:, :] - update[..., h:]
    rhs = torch.cat([lower_left.mT, diff[..., h:, h:].mT, lower_mean.mT], dim=-2).mT
    bottom = torch.linalg.solve_triangular(c, rhs, upper=False)
    norms = torch.stack(
        [
            torch.linalg.vector_norm(top, dim=(-2, -1)),
            torch.linalg.vector_norm(bottom, dim=(-2, -1)),
        ]
    )
    return norms.square().sum(0)


def _solved_squares_in_place(
    tril1: torch.Tensor, tril0: torch.Tensor, dmean: torch.Tensor, *, overwrite_tril0: bool = False
) -> torch.Tensor:
    """‖X‖² + ‖δ‖² as :func:`_solved_squares`, without autograd, in one buffer.

    The right-hand side [μ₁ − μ₀ | L₀ − L₁] is written straight into a column-major
    buffer (no concatenation, no separate difference) and LAPACK solves in place in
    it, bit for bit the same numbers as the out-of-place solve; on CPU the fresh
    temporaries this avoids cost as much as the solve at small d. From
    _SPLIT_SOLVE_MIN_D on the zero upper block is skipped as in :func:`_solved_squares`.
    Below it, one L₁ shared by the whole batch is one solve with all the pairs'
    columns (measured ~2× faster than a solve per pair at d = 4 to 32, 1000 pairs).
    """
    import torch

    d = tril1.shape[-1]
    batch = torch.broadcast_shapes(tril1.shape[:-2], tril0.shape[:-2], dmean.shape[:-1])
    if (
        overwrite_tril0
        and d >= _SPLIT_SOLVE_MIN_D
        and tril0.shape[:-2] == batch
        and tril0.mT.is_contiguous()
    ):
        # Large d: L₀'s own column-major storage becomes the right-hand side L₀ − L₁,
        # saving a d × d temporary per pair; δ is then a separate (cheap) solve.
        h = d // 2
        diff = tril0.sub_(tril1)
        top = diff[..., :h, :h]
        torch.linalg.solve_triangular(tril1[..., :h, :h], top, upper=False, out=top)
        diff[..., h:, :h].sub_(tril1[..., h:, :h] @ top)
        bottom = diff[..., h:, :]
        torch.linalg.solve_triangular(tril1[..., h:, h:], bottom, upper=False, out=bottom)
        delta = torch.linalg.solve_triangular(tril1, dmean.unsqueeze(-1), upper=False)
        norms = torch.linalg.vector_norm(diff.mT, dim=(-2, -1)).square_()
        return norms.add_(torch.linalg.vector_norm(delta, dim=(-2, -1)).square_())
    buf = torch.empty((*batch, d + 1, d), dtype=tril1.dtype, device=tril1.device)
    rhs = buf.mT  # column k of the right-hand side is buf[..., k, :]
    rhs[..., 0].copy_(dmean)
    # Expanded so that the difference has the output's full batch shape (out= never resizes).
    torch.sub(tril0.expand(*batch, d, d), tril1, out=rhs[..., 1:])
    if d < _SPLIT_SOLVE_MIN_D and batch and math.prod(tril1.shape[:-2]) == 1:
        # One L₁ for the whole batch: one solve with every pair's d + 1 columns side by
        # side (buf is row-major (..., d + 1, d), so all of it is one column-major d × n).
        columns = buf.view(-1, d).mT
        torch.linalg.solve_triangular(tril1.reshape(d, d), columns, upper=False, out=columns)
    elif d < _SPLIT_SOLVE_MIN_D:
        torch.linalg.solve_triangular(tril1, rhs, upper=False, out=rhs)
    else:
        h = d // 2
        top = rhs[..., :h, : h + 1]
        torch.linalg.solve_triangular(tril1[..., :h, :h], top, upper=False, out=top)
        rhs[..., h:, : h + 1].sub_(tril1[..., h:, :h] @ top)
        bottom = rhs[..., h:, :]
        torch.linalg.solve_triangular(tril1[..., h:, h:], bottom, upper=False, out=bottom)
    return torch.linalg.vector_norm(buf, dim=(-2, -1)).square()


def _kl_from_factors(
    mean0: torch.Tensor,
    tril0: torch.Tensor,
    mean1: torch.Tensor,
    tril1: torch.Tensor,
    *,
    careful: bool = False,
    own_tril0: bool = False,
) -> torch.Tensor:
    """KL from validated Cholesky factors: ½(‖X‖² + ‖δ‖²) + Σ (eᵛ − 1 − v).

    ``careful`` (or inputs that need a gradient): the reference evaluation, out of
    place and differentiable. Otherwise the same quantities in place, for any
    broadcast of batch shapes. ``own_tril0``: tril0 is a temporary of the caller's
    (a fresh Cholesky factor) that the in-place evaluation may overwrite.
    """
    import torch

    diag0 = tril0.diagonal(dim1=-2, dim2=-1).contiguous()
    diag1 = tril1.diagonal(dim1=-2, dim2=-1).contiguous()
    if careful or (
        torch.is_grad_enabled() and any(t.requires_grad for t in (mean0, tril0, mean1, tril1))
    ):
        squares = _solved_squares(tril1, tril0 - tril1, (mean1 - mean0).unsqueeze(-1))
        return 0.5 * squares + _expm1_minus_x(_log_ratio(diag0, diag1)).sum(-1)
    squares = _solved_squares_in_place(tril1, tril0, mean1 - mean0, overwrite_tril0=own_tril0)
    return squares.mul_(0.5).add_(_diagonal_terms(diag0, diag1))


def _unrolled_factor(cov: torch.Tensor) -> tuple[list[list[torch.Tensor]], torch.Tensor]:
    """Cholesky factor of small matrices (d ≤ _UNROLLED_MAX_D) as entries L[i][j], i ≥ j.

    The column-by-column algorithm of LAPACK's unblocked potrf, vectorized over
    the batch. Also returns, per matrix, the order of the first pivot that is not
    > 0 (or NaN), 0 if none: the factor is valid where that is 0.
    """
    import torch

    d = cov.shape[-1]
    rows: list[list[torch.Tensor]] = [[] for _ in range(d)]
    failed_order = torch.zeros(cov.shape[:-2], dtype=torch.int64, device=cov.device)
    for j in range(d):
        pivot = cov[..., j, j]
        for k in range(j):
            pivot = pivot - rows[j][k].square()
        bad = ~(pivot > 0)
        failed_order = torch.where((failed_order == 0) & bad, j + 1, failed_order)
        diag = torch.sqrt(pivot)
        rows[j].append(diag)
        for i in range(j + 1, d):
            entry = cov[..., i, j]
            for k in range(j):
                entry = entry - rows[i][k] * rows[j][k]
            rows[i].append(entry / diag)
    return rows, failed_order


def _unrolled_cholesky(cov: torch.Tensor, name: str) -> list[list[torch.Tensor]]:
    """:func:`_unrolled_factor`, raising the error of :func:`klmath._validation.cholesky_factor`."""
    rows, failed_order = _unrolled_factor(cov)
    if bool((failed_order != 0).any()):
        check_finite(cov, name, event_dims=2)
        bad = failed_order != 0
        where = f" at batch index {first_index(bad)}" if bad.ndim else ""
        order = int(failed_order[first_index(bad)] if bad.ndim else failed_order)
        raise ValueError(
            f"{name} is not positive definite{where} "
            f"(its leading minor of order {order} is not positive)"
        )
    return rows


def _unrolled_kl(
    mean0: torch.Tensor,
    l0: list[list[torch.Tensor]],
    mean1: torch.Tensor,
    l1: list[list[torch.Tensor]],
) -> torch.Tensor:
    """The same sum as :func:`_kl_from_factors`, by forward substitution entry by entry.

    Differentiable; without autograd the diagonal terms take the fast form.
    """
    import torch

    d = len(l1)
    dmean = mean1 - mean0
    squares: torch.Tensor | int = 0
    # Column c of X = L₁⁻¹(L₀ − L₁) (rows ≥ c), then δ = L₁⁻¹(μ₁ − μ₀) as column d.
    for c in range(d + 1):
        col: dict[int, torch.Tensor] = {}
        for i in range(c if c < d else 0, d):
            rhs = l0[i][c] - l1[i][c] if c < d else dmean[..., i]
            for k in range(c if c < d else 0, i):
                rhs = rhs - l1[i][k] * col[k]
            col[i] = rhs / l1[i][i]
            squares = squares + col[i].square()
    diag0 = torch.stack([l0[i][i] for i in range(d)], dim=-1)
    diag1 = torch.stack([l1[i][i] for i in range(d)], dim=-1)
    return 0.5 * squares + _diagonal_terms(diag0, diag1)


def _diagonal_terms(diag0: torch.Tensor, diag1: torch.Tensor) -> torch.Tensor:
    """Σᵢ (eᵛ − 1 − v), v = log(L₀ᵢᵢ/L₁ᵢᵢ): the fast form without autograd, else the careful one."""
    import torch

    if not (torch.is_grad_enabled() and (diag0.requires_grad or diag1.requires_grad)):
        terms = _expm1_minus_log_ratio(diag0, diag1)[0].sum(-1)
        if bool(torch.isfinite(terms).all()):
            return terms
        # A ratio of diagonal entries beyond the float range: the careful form gives inf.
    return _expm1_minus_x(_log_ratio(diag0, diag1)).sum(-1)


@functools.cache
def _series_coeff_tensors(dtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, ...]:
    """The series coefficients as 0-d tensors on ``device``, made once per dtype and device.

    On the device of the data: ``torch.addcmul(c, a, b, out=...)`` does not accept a CPU
    scalar tensor ``c`` with CUDA operands (seen with torch 2.11 on an H200).
    """
    import torch

    return tuple(torch.tensor(c, dtype=dtype, device=device) for c in _SERIES_COEFFS)


def _expm1_minus_log_ratio(
    a: torch.Tensor, b: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """eᵘ − 1 − u for u = log(a/b), without autograd and in few passes; a, b > 0.

    Returns that tensor, a spare buffer of the same shape (free for the caller's
    use) and min(a, b) over all entries. Valid only where that minimum is > 0 and
    the result is finite (callers check). u is computed as ±log1p(|a − b| / min(a, b)):
    the argument of log1p is ≥ 0 and carries one rounding, so |u| is accurate
    relative to itself both near a = b and far from it, with one transcendental
    call. eᵘ − 1 − u is the series of :func:`_expm1_minus_x` for |u| < 1/4 and
    r − u with r = (a − b)/b = eᵘ − 1 beyond (the same ≤ 16-ulp cancellation
    bound as expm1(u) − u). :func:`torch.lerp` with a weight of exactly 0 or 1
    selects one of the two bit for bit (start + 0·(end − start), end − (end − start)·0)
    and is several times faster than :func:`torch.where` on CPU; the other operand
    is finite for valid inputs. Every step writes into one of three buffers: on CPU a
    fresh large temporary costs more in page faults than the arithmetic done in it.
    """
    import torch

    diff = a - b
    buf = torch.minimum(a, b)
    smallest = buf.amin()
    abs_u = torch.div(diff, buf, out=buf).abs_().log1p_()
    u = torch.copysign(abs_u, diff)
    c = _series_coeff_tensors(u.dtype, u.device)
    n = len(c) if u.dtype == torch.float64 else _SERIES_TERMS_FLOAT32
    acc = torch.addcmul(c[n - 2], u, c[n - 1])
    for k in range(n - 3, -1, -1):
        torch.addcmul(c[k], acc, u, out=acc)
    series = acc.mul_(u).mul_(u)
    # 1.0 where |u| ≥ ρ, 0.0 below: the in-place comparison writes the weight as a float.
    far = abs_u.ge_(_SERIES_RADIUS)
    r_minus_u = torch.div(diff, b, out=diff).sub_(u)
    return torch.lerp(series, r_minus_u, far, out=series), u, smallest


# Up to this size of the last axis, sums over it are a matrix-vector product with a
# constant vector: torch's reduction over a short contiguous axis is slow on CPU
# (measured 17 µs for 1000 x 2 against 2 µs, and 1.5 ms against 0.09 ms for 100000 x 2).
_SUM_BY_MATMUL_MAX = 32


@functools.cache
def _filled(d: int, value: float, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    import torch

    return torch.full((d,), value, dtype=dtype, device=device)


def _half_sum_last(x: torch.Tensor) -> torch.Tensor:
    """½ Σ over the last axis, without autograd.

    Every summand is ≥ 0 where this is used, so any summation order is accurate
    to a few ulps; multiplying by ½ is exact.
    """
    d = x.shape[-1]
    if d > _SUM_BY_MATMUL_MAX:
        return x.sum(-1).mul_(0.5)
    return x @ _filled(d, 0.5, x.dtype, x.device)


def _plain_tensors(*args: object) -> list[torch.Tensor] | None:
    """The arguments if they are float32/float64 tensors of one dtype and device, else None.

    The common case of every call: it skips the general conversion in
    :func:`klmath._backend.as_tensors`, which handles NumPy arrays, numbers and
    mixed dtypes (and raises the errors for bad kinds).
    """
    import torch

    first = args[0]
    if not isinstance(first, torch.Tensor) or first.dtype not in (torch.float64, torch.float32):
        return None
    dtype, device = first.dtype, first.device
    for x in args[1:]:
        if not isinstance(x, torch.Tensor) or x.dtype != dtype or x.device != device:
            return None
    return list(args)  # type: ignore[arg-type]


def _diag_kl_values(
    m0: torch.Tensor, v0: torch.Tensor, m1: torch.Tensor, v1: torch.Tensor, shape: tuple[int, ...]
) -> tuple[torch.Tensor, bool]:
    """½ Σ (eᵘ − 1 − u + Δμ²/σ₁²) without autograd, and whether it is valid.

    Valid means every variance is > 0 and the result is finite; otherwise the
    caller redoes the work on the careful path, which names a bad argument or
    returns inf (a finite input whose KL overflows). See
    :func:`_expm1_minus_log_ratio` for eᵘ − 1 − u; one synchronization at the end.
    """
    import torch

    g, spare, smallest = _expm1_minus_log_ratio(v0, v1)
    # Broadcasting is rare here: compare shapes directly (torch.broadcast_shapes costs ~10 µs).
    dmean = torch.sub(m1, m0, out=spare) if m0.shape == m1.shape == spare.shape else m1 - m0
    dmean.square_()
    if dmean.shape == g.shape and v1.shape == g.shape:
        terms = g.addcdiv_(dmean, v1)
    else:
        terms = torch.addcdiv(g, dmean, v1)
    if terms.shape != shape:
        terms = terms.expand(shape)
    kl = _half_sum_last(terms) if shape else terms.mul_(0.5)
    # kl.sum() is finite iff every entry is (an overflowing sum only sends valid input
    # to the careful path, which returns the same values).
    return kl, math.isfinite(kl.sum().item()) and smallest.item() > 0


def _diag_kl_grads(
    grad: torch.Tensor,
    m0: torch.Tensor,
    v0: torch.Tensor,
    m1: torch.Tensor,
    v1: torch.Tensor,
    summed: bool,
    needs: tuple[bool, ...],
) -> tuple[torch.Tensor | None, ...]:
    """Gradients of ½ Σᵢ (s − 1 − log s + Δ²/σ₁²), s = σ₀²/σ₁², Δ = μ₁ − μ₀, by their closed forms.

    ∂/∂μ₀ = −Δ/σ₁², ∂/∂μ₁ = Δ/σ₁², ∂/∂σ₀² = (σ₀² − σ₁²)/(2σ₀²σ₁²) and
    ∂/∂σ₁² = (σ₁² − σ₀² − Δ²)/(2σ₁⁴), each times the incoming gradient and summed
    back to its argument's shape (broadcasting). Differences of variances are
    formed first, so the gradients stay accurate for nearly equal Gaussians.
    Written with differentiable operations: second derivatives work too.
    """
    g = grad.unsqueeze(-1) if summed else grad
    dmean = m1 - m0
    out: list[torch.Tensor | None] = [None, None, None, None]
    if needs[0] or needs[2]:
        gm = g * dmean / v1
        out[0] = (-gm).sum_to_size(m0.shape) if needs[0] else None
        out[2] = gm.sum_to_size(m1.shape) if needs[2] else None
    if needs[1]:
        out[1] = (g * (v0 - v1) / (2 * v0 * v1)).sum_to_size(v0.shape)
    if needs[3]:
        out[3] = (g * (v1 - v0 - dmean * dmean) / (2 * v1 * v1)).sum_to_size(v1.shape)
    return tuple(out)


@functools.cache
def _diag_kl_function() -> Any:
    """The autograd Function of the diagonal form (made on first use: torch loads lazily)."""
    import torch

    class DiagKL(torch.autograd.Function):
        """Forward by the no-grad kernel, backward by the closed-form gradients."""

        @staticmethod
        def forward(ctx: Any, m0: Any, v0: Any, m1: Any, v1: Any, shape: Any, status: Any) -> Any:
            kl, valid = _diag_kl_values(m0, v0, m1, v1, shape)
            status.append(valid)
            ctx.save_for_backward(m0, v0, m1, v1)
            ctx.summed = bool(shape)
            return kl

        @staticmethod
        def backward(ctx: Any, grad: Any) -> Any:
            m0, v0, m1, v1 = ctx.saved_tensors
            grads = _diag_kl_grads(grad, m0, v0, m1, v1, ctx.summed, ctx.needs_input_grad[:4])
            return (*grads, None, None)

    return DiagKL


def _diag_kl_careful(
    m0: torch.Tensor, v0: torch.Tensor, m1: torch.Tensor, v1: torch.Tensor, shape: tuple[int, ...]
) -> torch.Tensor:
    """The reference evaluation of the diagonal form: checks first, then out-of-place terms."""
    import torch

    check_positive(v0, "var0")
    check_positive(v1, "var1")
    terms = _expm1_minus_x(_log_ratio(v0, v1)) + (m1 - m0).square() / v1
    if terms.shape != torch.Size(shape):
        terms = terms.expand(shape)
    return 0.5 * (terms.sum(-1) if shape else terms)


def _needs_grad(*tensors: torch.Tensor) -> bool:
    import torch

    return torch.is_grad_enabled() and any(t.requires_grad for t in tensors)


def _same_batch(m0: torch.Tensor, a0: torch.Tensor, m1: torch.Tensor, a1: torch.Tensor) -> bool:
    """Whether the four batch shapes are equal (no broadcasting); empty batches never get here."""
    batch = a0.shape[:-2]
    return batch == a1.shape[:-2] == m0.shape[:-1] == m1.shape[:-1]


def _empty_batch(*tensors: torch.Tensor) -> bool:
    """Whether the broadcast batch is empty: the fast paths' reductions over the whole
    batch (min, max) have no value there. With d ≥ 1 and batch shapes that broadcast,
    that is an argument with no entries."""
    return any(t.numel() == 0 for t in tensors)


def _sum_last(x: torch.Tensor) -> torch.Tensor:
    """Σ over the last axis without autograd (summands ≥ 0, so any order is accurate)."""
    d = x.shape[-1]
    if d > _SUM_BY_MATMUL_MAX:
        return x.sum(-1)
    return x @ _filled(d, 1.0, x.dtype, x.device)


def _fast_diagonal_terms(
    diag0: torch.Tensor, diag1: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Σᵢ (eᵘ − 1 − u) per row, u = log(diag0/diag1), and min(diag0, diag1) over all entries.

    The fast kernel :func:`_expm1_minus_log_ratio`; its values are valid where the
    minimum is > 0 and the result is finite (callers check both).
    """
    g, _, smallest = _expm1_minus_log_ratio(diag0, diag1)
    return _sum_last(g), smallest


def _fast_factor_kl(
    m0: torch.Tensor, a0: torch.Tensor, m1: torch.Tensor, a1: torch.Tensor, covariances: bool
) -> torch.Tensor | None:
    """:func:`klmath._gaussian_fast.factor_kl` over equal batch shapes; None if a check fails
    or covariances need rescaling (:func:`_in_rescale_range`)."""
    import torch

    from klmath._gaussian_fast import factor_kl

    d = a1.shape[-1]
    batch = tuple(a0.shape[:-2])
    kl, checks = factor_kl(
        m0.reshape(-1, d),
        a0.reshape(-1, d, d),
        m1.reshape(-1, d),
        a1.reshape(-1, d, d),
        covariances=covariances,
        diagonal_terms=_fast_diagonal_terms,
        tolerance=symmetry_tolerance(a0.dtype) if covariances else 0.0,
    )
    extra = [kl.sum(), _scale_top(a1)] if covariances else [kl.sum()]
    worst, smallest, total, *top = torch.cat([checks, torch.stack(extra)]).tolist()
    in_range = _in_rescale_range(top[0], a1.dtype) if covariances else True
    if worst <= 0 and smallest > 0 and math.isfinite(total) and in_range:
        return kl.reshape(batch)
    return None


def _unrolled_asymmetry_excess(cov: torch.Tensor) -> torch.Tensor:
    """max over the batch of maxᵢ₍ⱼ |Σᵢⱼ − Σⱼᵢ| − √ε · maxₖ Σₖₖ (≤ 0: symmetric enough), d ≤ 3."""
    import torch

    d = cov.shape[-1]
    scale = cov.diagonal(dim1=-2, dim2=-1).abs().amax(-1)
    tol = symmetry_tolerance(cov.dtype)
    if d == 1:
        return -tol * scale.amax()
    pairs = [(i, j) for i in range(d) for j in range(i)]
    asym = torch.stack([cov[..., i, j] - cov[..., j, i] for i, j in pairs]).abs_().amax(0)
    return asym.sub_(scale, alpha=tol).amax()


def _full_kl_no_grad(
    m0: torch.Tensor, s0: torch.Tensor, m1: torch.Tensor, s1: torch.Tensor
) -> torch.Tensor | None:
    """KL for covariances by the fast paths of :data:`FAST_PATHS`; None if any check fails.

    No autograd and one synchronization (for every check and the result at once);
    on None the caller reruns :func:`_full_kl_careful`, which names the problem.
    An empty batch, and covariances that need rescaling (:func:`_in_rescale_range`),
    also get None: the careful path returns the empty result, or rescales.
    """
    import torch

    if _empty_batch(m0, s0, m1, s1):
        return None
    d = s1.shape[-1]
    if d <= _UNROLLED_MAX_D:
        l0, failed0 = _unrolled_factor(s0)
        l1, failed1 = _unrolled_factor(s1)
        kl = _unrolled_kl(m0, l0, m1, l1)
        worst = _unrolled_asymmetry_excess(s0).maximum(_unrolled_asymmetry_excess(s1))
        failed = failed0.amax().maximum(failed1.amax()).to(worst.dtype)
        checks = torch.stack([worst, failed, kl.sum(), _scale_top(s1)]).tolist()
        valid = (
            checks[0] <= 0
            and checks[1] == 0
            and math.isfinite(checks[2])
            and _in_rescale_range(checks[3], s1.dtype)
        )
        return kl if valid else None
    if not _same_batch(m0, s0, m1, s1):
        # Broadcast batch shapes: whole-batch evaluation in place (checks raise here,
        # so a scale that needs rescaling goes to the careful path first).
        if not _in_rescale_range(float(_scale_top(s1)), s1.dtype):
            return None
        check_symmetric(s0, "cov0")
        check_symmetric(s1, "cov1")
        factor0 = cholesky_factor(s0, "cov0")
        factor1 = cholesky_factor(s1, "cov1")
        kl = _kl_from_factors(m0, factor0, m1, factor1, own_tril0=True)
        return kl if _all_finite(kl) else None
    return _fast_factor_kl(m0, s0, m1, s1, covariances=True)


def _all_finite(x: torch.Tensor) -> bool:
    import torch

    return bool(torch.isfinite(x).all())


def _full_kl_careful(
    m0: torch.Tensor, s0: torch.Tensor, m1: torch.Tensor, s1: torch.Tensor
) -> torch.Tensor:
    """The reference evaluation for covariances: each check raises, out-of-place, differentiable.

    Covariances far from 1 are first rescaled by a power of two (:func:`_rescaled`).
    """
    check_symmetric(s0, "cov0")
    check_symmetric(s1, "cov1")
    m0, s0, m1, s1 = _rescaled(m0, s0, m1, s1)
    if s1.shape[-1] <= _UNROLLED_MAX_D:
        return _unrolled_kl_careful(
            m0, _unrolled_cholesky(s0, "cov0"), m1, _unrolled_cholesky(s1, "cov1")
        )
    t0 = cholesky_factor(s0, "cov0")
    t1 = cholesky_factor(s1, "cov1")
    return _kl_from_factors(m0, t0, m1, t1, careful=True)


def _unrolled_kl_careful(
    m0: torch.Tensor, l0: list[list[torch.Tensor]], m1: torch.Tensor, l1: list[list[torch.Tensor]]
) -> torch.Tensor:
    """:func:`_unrolled_kl` with the careful diagonal terms, via the factors as tensors."""
    import torch

    d = len(l1)

    def matrix(rows: list[list[torch.Tensor]]) -> torch.Tensor:
        zero = torch.zeros_like(rows[0][0])
        full = [[rows[i][j] if j <= i else zero for j in range(d)] for i in range(d)]
        return torch.stack([torch.stack(r, dim=-1) for r in full], dim=-2)

    return _kl_from_factors(m0, matrix(l0), m1, matrix(l1), careful=True)


def _full_kl_grads(
    grad: torch.Tensor,
    m0: torch.Tensor,
    s0: torch.Tensor,
    m1: torch.Tensor,
    s1: torch.Tensor,
    needs: tuple[bool, ...],
) -> tuple[torch.Tensor | None, ...]:
    """Gradients of the Gaussian KL by their closed forms, Δ = μ₁ − μ₀, Pₖ = Σₖ⁻¹:

    ∂/∂μ₀ = −P₁Δ, ∂/∂μ₁ = P₁Δ, ∂/∂Σ₀ = ½(P₁ − P₀), ∂/∂Σ₁ = ½(P₁ − P₁(Σ₀ + ΔΔᵀ)P₁),

    the symmetric gradients (as for a symmetric-matrix argument), each times the
    incoming gradient and summed back to its argument's shape. Pₖ come from a
    Cholesky factorization; written with differentiable operations, so second
    derivatives work too.
    """
    import torch

    g = grad[..., None]
    p1 = torch.cholesky_inverse(torch.linalg.cholesky(s1))
    dmean = (m1 - m0).unsqueeze(-1)
    p1_delta = (p1 @ dmean).squeeze(-1)
    out: list[torch.Tensor | None] = [None, None, None, None]
    if needs[0] or needs[2]:
        gm = g * p1_delta
        out[0] = (-gm).sum_to_size(m0.shape) if needs[0] else None
        out[2] = gm.sum_to_size(m1.shape) if needs[2] else None
    g2 = g[..., None]
    if needs[1]:
        p0 = torch.cholesky_inverse(torch.linalg.cholesky(s0))
        out[1] = (0.5 * g2 * (p1 - p0)).sum_to_size(s0.shape)
    if needs[3]:
        outer = p1_delta.unsqueeze(-1) * p1_delta.unsqueeze(-2)
        inner = p1 @ s0 @ p1
        out[3] = (0.5 * g2 * (p1 - 0.5 * (inner + inner.mT) - outer)).sum_to_size(s1.shape)
    return tuple(out)


@functools.cache
def _full_kl_function() -> Any:
    """The autograd Function of the covariance form (made on first use: torch loads lazily)."""
    import torch

    class FullKL(torch.autograd.Function):
        """Forward by the no-grad fast paths, backward by the closed-form gradients."""

        @staticmethod
        def forward(ctx: Any, m0: Any, s0: Any, m1: Any, s1: Any, status: Any) -> Any:
            kl = _full_kl_no_grad(m0, s0, m1, s1)
            status.append(kl is not None)
            ctx.save_for_backward(m0, s0, m1, s1)
            if kl is None:
                return torch.zeros((), dtype=m0.dtype, device=m0.device)
            return kl

        @staticmethod
        def backward(ctx: Any, grad: Any) -> Any:
            m0, s0, m1, s1 = ctx.saved_tensors
            return (*_full_kl_grads(grad, m0, s0, m1, s1, ctx.needs_input_grad[:4]), None)

    return FullKL


def _tril_kl_no_grad(
    m0: torch.Tensor, t0: torch.Tensor, m1: torch.Tensor, t1: torch.Tensor
) -> torch.Tensor | None:
    """KL from Cholesky factors by the fast paths of :data:`FAST_PATHS`; None if a check fails
    or the batch is empty (the careful path returns the empty result)."""
    import torch

    if _empty_batch(m0, t0, m1, t1):
        return None
    d = t1.shape[-1]
    if d <= _UNROLLED_MAX_D:
        rows0 = [[t0[..., i, j] for j in range(i + 1)] for i in range(d)]
        rows1 = [[t1[..., i, j] for j in range(i + 1)] for i in range(d)]
        kl = _unrolled_kl(m0, rows0, m1, rows1)
        # Entries above the diagonal must be 0 and the diagonal > 0.
        zero = kl.new_zeros(())
        upper = [t[..., j, i].abs().amax() for t in (t0, t1) for i in range(d) for j in range(i)]
        smallest = torch.stack([rows[i][i].amin() for rows in (rows0, rows1) for i in range(d)])
        top = torch.stack(upper).amax() if upper else zero
        checks = torch.stack([top, smallest.amin(), kl.sum()]).tolist()
        valid = checks[0] == 0 and checks[1] > 0 and math.isfinite(checks[2])
        return kl if valid else None
    if not _same_batch(m0, t0, m1, t1):
        check_lower_triangular(t0, "tril0")
        check_lower_triangular(t1, "tril1")
        kl = _kl_from_factors(m0, _positive_diagonal(t0), m1, _positive_diagonal(t1))
        return kl if _all_finite(kl) else None
    return _fast_factor_kl(m0, t0, m1, t1, covariances=False)


def _tril_kl_careful(
    m0: torch.Tensor, t0: torch.Tensor, m1: torch.Tensor, t1: torch.Tensor
) -> torch.Tensor:
    """The reference evaluation from factors: each check raises, out-of-place, differentiable."""
    check_lower_triangular(t0, "tril0")
    check_lower_triangular(t1, "tril1")
    return _kl_from_factors(m0, _positive_diagonal(t0), m1, _positive_diagonal(t1), careful=True)


def _finish(kl: torch.Tensor, kind: Any, checks: dict[str, tuple[torch.Tensor, int]]) -> Any:
    """Return ``kl`` in the caller's kind, after blaming an argument for any NaN in it.

    Inputs are checked for NaN and inf only when the result is not finite, so the
    common case pays one reduction over the batch. A finite input can still give
    +inf (e.g. variance ratios beyond the float range), which is returned as is.
    """
    import torch

    if not bool(torch.isfinite(kl.detach()).all()):
        for name, (x, event_dims) in checks.items():
            check_finite(x, name, event_dims)
    return from_torch(kl, kind)


# Covariances whose largest diagonal entry (of Σ₁, over the batch) lies outside
# [2⁻⁶⁰, 2⁶⁰] (float32) or [2⁻⁵⁰⁰, 2⁵⁰⁰] (float64), closed intervals, are rescaled
# before factoring: products of factor entries would underflow to subnormals (float32
# 1e−38·I is refused by LAPACK's potrf as not positive definite; float64 2⁻¹⁰⁷⁰·Σ
# factors to entries with a few bits) or overflow. The fast paths leave such input
# to the careful path (:func:`_in_rescale_range`).
_RESCALE_EXPONENT = {4: 60, 8: 500}


def _scale_top(s1: torch.Tensor) -> torch.Tensor:
    """The largest |diagonal entry| of the covariances ``s1`` over the batch (0-d, no grad)."""
    return s1.detach().diagonal(dim1=-2, dim2=-1).abs().amax()


def _in_rescale_range(top: float, dtype: torch.dtype) -> bool:
    """Whether ``top`` (from :func:`_scale_top`) needs no rescaling: 2⁻ᵏ ≤ top ≤ 2ᵏ,
    k = _RESCALE_EXPONENT (False for NaN)."""
    limit = _RESCALE_EXPONENT[dtype.itemsize]
    return 2.0**-limit <= top <= 2.0**limit


def _rescaled(
    m0: torch.Tensor, s0: torch.Tensor, m1: torch.Tensor, s1: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The same KL with covariances scaled by 4ᵏ and means by 2ᵏ (exact: powers of two).

    KL is invariant under x ↦ cx for both Gaussians. Only when the largest diagonal
    entry of Σ₁ (over the batch) is outside the range of :func:`_in_rescale_range`,
    k is chosen so that it becomes one in [¼, 1).
    """
    if s1.numel() == 0:
        return m0, s0, m1, s1  # an empty batch: nothing to scale
    top = float(_scale_top(s1))
    if not math.isfinite(top) or not top > 0 or _in_rescale_range(top, s1.dtype):
        return m0, s0, m1, s1  # in range, or the checks that follow name the problem
    _, exponent = math.frexp(top)
    c = 2.0 ** (-exponent // 2)  # 2ʲ, |j| ≤ 75 (float32) or 537 (float64): exact in the dtype
    return m0 * c, s0 * c * c, m1 * c, s1 * c * c


def _positive_diagonal(tril: torch.Tensor) -> torch.Tensor:
    """L with the columns under negative diagonal entries negated: the same LLᵀ, and
    a positive diagonal (exact: only signs change; differentiable)."""
    import torch

    diagonal = tril.diagonal(dim1=-2, dim2=-1)
    negative = diagonal < 0
    if not bool(negative.any()):
        return tril
    return tril * torch.where(negative, -1.0, 1.0).unsqueeze(-2).to(tril.dtype)


def _check_matrix_pair_shapes(
    m0: torch.Tensor, a0: torch.Tensor, m1: torch.Tensor, a1: torch.Tensor, names: tuple[str, str]
) -> int:
    """Check means (..., d) and square matrices (..., d, d) named ``names``; return d.

    Shared by the covariance and the Cholesky-factor forms: d is taken from the second
    matrix, every other argument must match it, and the four batch shapes must broadcast.
    """
    name0, name1 = names
    check_square(a0, name0)
    check_square(a1, name1)
    d = a1.shape[-1]
    check_event_size(name0, a0, d, name1)
    for name, m in (("mean0", m0), ("mean1", m1)):
        check_min_ndim(m, name, 1, "(..., d)")
        check_event_size(name, m, d, name1)
    if a0.shape[:-2] == a1.shape[:-2] == m0.shape[:-1] == m1.shape[:-1]:
        return d  # equal batch shapes (the common case) broadcast trivially
    broadcast_batch_shapes(
        **{
            "mean0": tuple(m0.shape[:-1]),
            name0: tuple(a0.shape[:-2]),
            "mean1": tuple(m1.shape[:-1]),
            name1: tuple(a1.shape[:-2]),
        }
    )
    return d


def gaussian_kl(mean0: ArrayT, cov0: ArrayT, mean1: ArrayT, cov1: ArrayT) -> ArrayT:
    r"""Return KL(N(mean0, cov0) ‖ N(mean1, cov1)) for full covariance matrices.

    .. math::

        \tfrac12 \big[ \operatorname{tr}(Σ_1^{-1}Σ_0) + (μ_1-μ_0)^T Σ_1^{-1}(μ_1-μ_0)
            - d + \log\det Σ_1 - \log\det Σ_0 \big],

    evaluated as the sum of non-negative terms described in :mod:`klmath.gaussian`:
    never negative, exactly 0 when the two Gaussians are given identically.

    Parameters
    ----------
    mean0, mean1 : array of shape (..., d)
        Means.
    cov0, cov1 : array of shape (..., d, d)
        Symmetric positive definite covariances. Only the lower triangle is
        used by the factorization; the matrix must be symmetric up to
        |Σᵢⱼ − Σⱼᵢ| ≤ √ε · maxₖ Σₖₖ (ε = 2.2e-16 in float64, 1.2e-7 in float32).

    All four are NumPy arrays or all are torch tensors; batch dimensions (the
    ``...``) broadcast against each other. Integer inputs are promoted to
    float64 (NumPy) or the default dtype (torch); float32 with float64 gives
    float64.

    Returns
    -------
    array of the broadcast batch shape
        A NumPy array for NumPy inputs; for torch inputs, a tensor on the
        inputs' device, differentiable by autograd with respect to all four.

    Raises
    ------
    TypeError
        Mixed NumPy and torch inputs; non-real or half-precision dtypes.
    ValueError
        Shapes that do not fit (naming the arguments), NaN or inf, a covariance
        that is not square, not symmetric or not positive definite (naming the
        argument and the first failing batch index).

    Examples
    --------
    >>> import numpy as np
    >>> from klmath import gaussian_kl
    >>> mean, cov = np.zeros(2), np.array([[2.0, 0.5], [0.5, 1.0]])
    >>> float(gaussian_kl(mean, cov, mean, cov))
    0.0
    >>> round(float(gaussian_kl(mean, np.eye(2), np.ones(2), 2 * np.eye(2))), 6)
    0.693147
    """
    plain = _plain_tensors(mean0, cov0, mean1, cov1)
    if plain is None:
        kind, (m0, s0, m1, s1) = as_tensors(mean0=mean0, cov0=cov0, mean1=mean1, cov1=cov1)
    else:
        kind, (m0, s0, m1, s1) = "torch", plain
    _check_matrix_pair_shapes(m0, s0, m1, s1, ("cov0", "cov1"))
    if _needs_grad(m0, s0, m1, s1):
        status: list[bool] = []
        kl = _full_kl_function().apply(m0, s0, m1, s1, status)
        if status[0]:
            return from_torch(kl, kind)
    else:
        fast = _full_kl_no_grad(m0, s0, m1, s1)
        if fast is not None:
            return from_torch(fast, kind)
    # A check failed, or the KL overflows: the careful path names the problem or gives inf.
    kl = _full_kl_careful(m0, s0, m1, s1)
    checks = {"mean0": (m0, 1), "cov0": (s0, 2), "mean1": (m1, 1), "cov1": (s1, 2)}
    return _finish(kl, kind, checks)


def gaussian_kl_tril(mean0: ArrayT, tril0: ArrayT, mean1: ArrayT, tril1: ArrayT) -> ArrayT:
    r"""Return KL(N(mean0, L₀L₀ᵀ) ‖ N(mean1, L₁L₁ᵀ)) from lower-triangular factors.

    The same non-negative sum as :func:`gaussian_kl`, without the Cholesky
    factorizations: for callers that already hold the factors (e.g. a
    ``scale_tril``). Since the factors are taken as exact, the result is
    accurate relative to itself even for nearly equal Gaussians.

    Parameters
    ----------
    mean0, mean1 : array of shape (..., d)
        Means.
    tril0, tril1 : array of shape (..., d, d)
        Invertible lower-triangular matrices L (the covariance is LLᵀ): entries
        above the diagonal exactly zero, none on the diagonal zero. Negative
        diagonal entries are taken as TFP takes them: the columns they sit in
        are negated first, which leaves LLᵀ unchanged (so log det LLᵀ = 2 Σ log|Lᵢᵢ|).

    Batch dimensions broadcast; NumPy in gives NumPy out, torch in gives a
    differentiable tensor on the same device (as for :func:`gaussian_kl`).

    Raises
    ------
    TypeError
        Mixed NumPy and torch inputs; unsupported dtypes.
    ValueError
        Shapes that do not fit, NaN or inf, a factor that is not lower
        triangular or has a zero diagonal entry (naming the argument and index).

    Examples
    --------
    >>> import torch
    >>> from klmath import gaussian_kl_tril
    >>> tril = torch.tensor([[1.0, 0.0], [0.5, 2.0]], dtype=torch.float64)
    >>> float(gaussian_kl_tril(torch.zeros(2), tril, torch.zeros(2), tril))
    0.0
    """
    plain = _plain_tensors(mean0, tril0, mean1, tril1)
    if plain is None:
        kind, (m0, t0, m1, t1) = as_tensors(mean0=mean0, tril0=tril0, mean1=mean1, tril1=tril1)
    else:
        kind, (m0, t0, m1, t1) = "torch", plain
    _check_matrix_pair_shapes(m0, t0, m1, t1, ("tril0", "tril1"))
    # (Sign handling of the factors' diagonals belongs in the two checks: the fast one in
    # _tril_kl_no_grad / _gaussian_fast.factor_kl, the careful one in check_lower_triangular.)
    if not _needs_grad(m0, t0, m1, t1):
        fast = _tril_kl_no_grad(m0, t0, m1, t1)
        if fast is not None:
            return from_torch(fast, kind)
    kl = _tril_kl_careful(m0, t0, m1, t1)
    return _finish(kl, kind, {"mean0": (m0, 1), "mean1": (m1, 1)})


def gaussian_kl_diag(mean0: ArrayT, var0: ArrayT, mean1: ArrayT, var1: ArrayT) -> ArrayT:
    r"""Return KL(N(mean0, diag var0) ‖ N(mean1, diag var1)), summed over the last axis.

    .. math::

        \tfrac12 \sum_i \Big[ \frac{σ_{0,i}^2}{σ_{1,i}^2} - 1 - \log\frac{σ_{0,i}^2}{σ_{1,i}^2}
            + \frac{(μ_{1,i} - μ_{0,i})^2}{σ_{1,i}^2} \Big],

    with s − 1 − log s evaluated as eᵘ − 1 − u, u = log(σ₀²/σ₁²) = log1p((σ₀² − σ₁²)/σ₁²)
    when the variances are close (a series for small u, :func:`_expm1_minus_x`):
    non-negative, exactly 0 for identical inputs and accurate to a few ulps
    relative to the result, also when it is 1e-12.

    Parameters
    ----------
    mean0, mean1 : array of shape (..., d)
        Means.
    var0, var1 : array of shape (..., d)
        Positive variances (not standard deviations).

    All four broadcast together (a Python number or 0-d array works anywhere,
    e.g. ``gaussian_kl_diag(mu, var, 0.0, 1.0)`` for the KL to N(0, I)); the
    last axis of the broadcast shape is the event axis and is summed over. If
    every argument is 0-d, d = 1 and the result is 0-d. NumPy in gives NumPy
    out, torch in gives a differentiable tensor on the same device.

    Raises
    ------
    TypeError
        Mixed NumPy and torch inputs; unsupported dtypes.
    ValueError
        Shapes that do not broadcast, NaN or inf, or a variance ≤ 0 (naming the
        argument and the index).

    Examples
    --------
    >>> import numpy as np
    >>> from klmath import gaussian_kl_diag
    >>> round(float(gaussian_kl_diag(np.zeros(3), np.ones(3), np.ones(3), np.ones(3))), 12)
    1.5
    >>> float(gaussian_kl_diag(0.0, 2.0, 0.0, 2.0))
    0.0
    """
    import torch

    plain = _plain_tensors(mean0, var0, mean1, var1)
    if plain is None:
        kind, (m0, v0, m1, v1) = as_tensors(mean0=mean0, var0=var0, mean1=mean1, var1=var1)
    else:
        kind, (m0, v0, m1, v1) = "torch", plain
    if m0.shape == v0.shape == m1.shape == v1.shape:
        shape = tuple(m0.shape)
    else:
        shape = broadcast_batch_shapes(
            mean0=tuple(m0.shape), var0=tuple(v0.shape), mean1=tuple(m1.shape), var1=tuple(v1.shape)
        )
    if math.prod(shape):
        if torch.is_grad_enabled() and (
            m0.requires_grad or v0.requires_grad or m1.requires_grad or v1.requires_grad
        ):
            status: list[bool] = []
            kl = _diag_kl_function().apply(m0, v0, m1, v1, shape, status)
            if status[0]:
                return from_torch(kl, kind)
        else:
            kl, valid = _diag_kl_values(m0, v0, m1, v1, shape)
            if valid:
                return from_torch(kl, kind)
    # Bad input, a KL that overflows, or an empty batch: the careful path names the
    # culprit (or gives inf) and is differentiable by plain autograd.
    kl = _diag_kl_careful(m0, v0, m1, v1, shape)
    checks = {"mean0": (m0, 0), "var0": (v0, 0), "mean1": (m1, 0), "var1": (v1, 0)}
    return _finish(kl, kind, checks)
