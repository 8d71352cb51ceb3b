r"""KL divergence between every pair of two sets of Gaussians, at matrix-product speed.

For a set of N Gaussians N(μ₀ₐ, Σ₀ₐ) and a set of M Gaussians N(μ₁ᵦ, Σ₁ᵦ) in ℝᵈ,
write Pᵦ = Σ₁ᵦ⁻¹. Since tr(PΣ) = ⟨P, Σ⟩_F for symmetric P and
(μ₁ − μ₀)ᵀP(μ₁ − μ₀) = ⟨P, μ₀μ₀ᵀ⟩_F − 2μ₀ᵀPμ₁ + μ₁ᵀPμ₁,

.. math::

    D_{ab} = \tfrac12 \big[ \langle P_b,\, Σ_{0a} + μ_{0a}μ_{0a}^T \rangle_F
        - 2 μ_{0a}^T P_b μ_{1b} + μ_{1b}^T P_b μ_{1b} - d
        + \log\det Σ_{1b} - \log\det Σ_{0a} \big]

(:func:`klmath.proofs.gaussian_matrix_identity` proves it). Storing a symmetric
matrix as its lower triangle with the off-diagonal entries weighted 2, every
term is one entry of one matrix product of an (N, K) by a (K, M) matrix,
K = d(d+1)/2 + d + 1: the N × M matrix costs O((N + M)d³ + NMd²) instead of the
O(NMd³) of evaluating the pairs one by one.

**Accuracy.** That sum cancels: for nearly equal pairs its terms are O(d) while
the result is tiny, so the product alone can even be negative. Each entry gets
a first-order bound on its error from the magnitudes of the terms,

.. math::

    E_{ab} = 4ε \big[ (k_c + \lceil K/k_c \rceil + 2) \|A_a\| \|B_b\|
        + (κ_b + d) \|P_b\|_F \|S_a\|_F + κ_b (2\|P_b μ_{1b}\| \|μ_{0a}\|
        + μ_{1b}^T P_b μ_{1b}) \big],

with A, B the two factors of the product (row a, row b), Sₐ = Σ₀ₐ + μ₀ₐμ₀ₐᵀ and
κᵦ = ‖Σ₁ᵦ‖_F ‖Pᵦ‖_F ≥ κ₂(Σ₁ᵦ). The first term bounds the rounding of the
product, whose inner dimension is summed in pieces of k_c ≈ √K (so the bound
grows like √K, not K); the others the error of the computed inverse Pᵦ (to
first order, κ standing in for the factor d of the worst-case inversion bound)
and the rounding of Sₐ. Every entry with E > rtol · D, where D is the fast value,
is recomputed by the non-negative Cholesky form of :func:`klmath.gaussian_kl_tril`
from the factors already at hand. So every entry is ≥ 0, exactly 0 for a
Gaussian that appears identically in both sets, and either within rtol
(relative) of the KL of its pair's factors or computed as
:func:`klmath.gaussian_kl` computes it; the tests check
|D − gaussian_kl| ≤ rtol · D + (gaussian_kl's own conditioning bound).

Memory: the rows are processed in chunks of at most :data:`CHUNK_ENTRIES`
entries of the output, so beyond the inputs and the result itself the work
space is bounded (a 2000 × 2000 matrix at d = 16 needs ~50 MB in all).
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from klmath._backend import as_tensors, from_torch
from klmath._validation import (
    check_event_size,
    check_finite,
    check_lower_triangular,
    check_min_ndim,
    check_positive,
    check_square,
    check_symmetric,
    cholesky_factor,
)

if TYPE_CHECKING:
    import torch

__all__ = ["CHUNK_ENTRIES", "gaussian_kl_matrix"]

ArrayT = TypeVar("ArrayT")
Form = Literal["cov", "tril", "diag"]

CHUNK_ENTRIES = 1 << 21
"""Output entries per chunk of rows (2²¹: 16 MiB of float64 per work array)."""

# Shortest piece of the inner dimension summed by one matrix product (see _product).
_INNER_BLOCK_MIN = 256
# Pairs recomputed by the careful form per batch (bounded memory for the gathered factors).
_RECOMPUTE_BYTES = 32 << 20


def _set_shapes(
    mean: torch.Tensor, mat: torch.Tensor, form: str, names: tuple[str, str]
) -> tuple[int, int]:
    """Check one set: means (..., n, d), matrices (..., n, d, d) or variances (..., n, d)."""
    mean_name, mat_name = names
    check_min_ndim(mean, mean_name, 2, "(..., n, d)")
    d = mean.shape[-1]
    n = mean.shape[-2]
    if form == "diag":
        check_min_ndim(mat, mat_name, 2, "(..., n, d)")
        check_event_size(mat_name, mat, d, mean_name)
        rows = mat.shape[-2]
    else:
        check_square(mat, mat_name)
        check_min_ndim(mat, mat_name, 3, "(..., n, d, d)")
        check_event_size(mat_name, mat, d, mean_name)
        rows = mat.shape[-3]
    if rows != n:
        raise ValueError(
            f"{mat_name} holds {rows} Gaussians (shape {tuple(mat.shape)}) "
            f"but {mean_name} holds {n} (shape {tuple(mean.shape)})"
        )
    return n, d


def _factor(mat: torch.Tensor, form: str, name: str, target: bool) -> dict[str, Any]:
    """Everything the product form needs about one set, after the set's input checks.

    Returns the covariances (matrices, or variances for the diagonal form), the
    Cholesky factors (lower; absent for the diagonal form) and log-determinants;
    for the target set (``target``, the q of KL(p ‖ q)) also the inverses and
    κ = ‖Σ‖_F ‖Σ⁻¹‖_F.
    """
    import torch

    if form == "diag":
        check_positive(mat, name)
        check_finite(mat, name, event_dims=1)
        out = {"var": mat, "logdet": torch.log(mat).sum(-1)}
        if target:
            out["inv"] = 1.0 / mat
            with torch.no_grad():
                norms = torch.linalg.vector_norm(mat, dim=-1)
                out["kappa"] = norms * torch.linalg.vector_norm(out["inv"], dim=-1)
        return out
    if form == "cov":
        check_symmetric(mat, name)
        tril = cholesky_factor(mat, name)
        cov = mat
    else:
        check_lower_triangular(mat, name)
        tril = mat
        cov = mat @ mat.mT
    out = {
        "cov": cov,
        "tril": tril,
        "logdet": 2 * torch.log(tril.diagonal(dim1=-2, dim2=-1)).sum(-1),
    }
    if target:
        out["inv"] = torch.cholesky_inverse(tril)
        with torch.no_grad():
            # κ₂ ≤ ‖Σ‖_F ‖Σ⁻¹‖_F (and ‖·‖_F costs one pass, ‖·‖₂ a decomposition).
            out["kappa"] = torch.linalg.matrix_norm(cov) * torch.linalg.matrix_norm(out["inv"])
    return out


@functools.cache
def _packing(d: int, device: torch.device, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """Flat indices of the lower triangle of a d × d matrix, and weights 1 (diagonal) or 2."""
    import torch

    rows, cols = torch.tril_indices(d, d, device=device)
    weights = torch.where(rows == cols, 1.0, 2.0).to(dtype)
    return rows * d + cols, weights


def _packed(sym: torch.Tensor, weighted: bool) -> torch.Tensor:
    """Lower triangles of symmetric (..., d, d) as (..., d(d+1)/2), off-diagonal entries × 2."""
    d = sym.shape[-1]
    index, weights = _packing(d, sym.device, sym.dtype)
    flat = sym.reshape(*sym.shape[:-2], d * d)[..., index]
    return flat * weights if weighted else flat


def _inner_block(k: int) -> int:
    """Length of the pieces the inner dimension K of the product is summed in (see _product)."""
    return max(_INNER_BLOCK_MIN, math.isqrt(k - 1) + 1)


def _product(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a @ bᵀ, the inner dimension summed in pieces of :func:`_inner_block` length.

    Each piece is one matrix product of inner length ≤ k_c, the pieces are added
    one after another: whatever order the product uses inside, each entry's
    rounding error is at most γ_{k_c + ⌈K/k_c⌉} Σₖ |aₖ||bₖ| (γₙ ≈ nε), instead of
    γ_K for one product of inner length K = d(d+1)/2 + d + 1 (131 841 at d = 512).
    """
    k = a.shape[-1]
    kc = _inner_block(k)
    out = a[..., :kc] @ b[..., :kc].mT
    for start in range(kc, k, kc):
        out = out + a[..., start : start + kc] @ b[..., start : start + kc].mT
    return out


def _terms(
    m0: torch.Tensor, f0: dict[str, Any], m1: torch.Tensor, f1: dict[str, Any], form: str
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The operands of the product and of its error bound.

    Returns A (..., N, K) and B (..., M, K) with D = ½(A Bᵀ − log det Σ₀) (the
    log-determinant folded into A's last column), and the row and column
    factors (..., N, 5), (..., M, 5) of E = rows @ colsᵀ (module docstring):
    (k_c + ⌈K/k_c⌉ + 2)‖Aₐ‖‖Bᵦ‖ bounds the rounding of the product
    (:func:`_product`; Cauchy–Schwarz for Σₖ|Aₐₖ||Bᵦₖ|); κᵦ(‖Pᵦ‖‖Sₐ‖ + ‖Pᵦμᵦ‖ · 2‖μₐ‖ +
    μᵦᵀPᵦμᵦ) the error of the inverse Pᵦ to first order; d‖Pᵦ‖‖Sₐ‖ the rounding of
    Sₐ = Σₐ + μₐμₐᵀ.
    """
    import torch

    d = m0.shape[-1]
    inv1 = f1["inv"]
    if form == "diag":
        p1_mean = inv1 * m1
        second0 = torch.addcmul(f0["var"], m0, m0)
        packed0, packed1 = second0, inv1
    else:
        p1_mean = (inv1 @ m1.unsqueeze(-1)).squeeze(-1)
        second0 = torch.addcmul(f0["cov"], m0.unsqueeze(-1), m0.unsqueeze(-2))
        packed0, packed1 = _packed(second0, False), _packed(inv1, True)
    quad1 = (p1_mean * m1).sum(-1, keepdim=True)
    # D = ½ A·B: A = [Sₐ | μₐ | −log det Σ₀ₐ | 1], B = [Pᵦ | −2Pᵦμᵦ | 1 | μᵦᵀPᵦμᵦ + log det Σ₁ᵦ − d]
    a = torch.cat([packed0, m0, -f0["logdet"].unsqueeze(-1), torch.ones_like(m0[..., :1])], dim=-1)
    b = torch.cat(
        [packed1, -2 * p1_mean, torch.ones_like(quad1), quad1 + (f1["logdet"].unsqueeze(-1) - d)],
        dim=-1,
    )
    with torch.no_grad():
        k = a.shape[-1]
        kc = _inner_block(k)
        if form == "diag":
            p_norm = torch.linalg.vector_norm(inv1, dim=-1)
            s_norm = torch.linalg.vector_norm(second0, dim=-1)
        else:
            p_norm = torch.linalg.matrix_norm(inv1)
            s_norm = torch.linalg.matrix_norm(second0)
        kappa = f1["kappa"]
        rows = torch.stack(
            [
                (kc + -(-k // kc) + 2) * torch.linalg.vector_norm(a.detach(), dim=-1),
                s_norm.detach(),
                2 * torch.linalg.vector_norm(m0.detach(), dim=-1),
            ],
            -1,
        )
        cols = torch.stack(
            [
                torch.linalg.vector_norm(b.detach(), dim=-1),
                (kappa + d) * p_norm.detach(),
                kappa * torch.linalg.vector_norm(p1_mean.detach(), dim=-1),
            ],
            -1,
        )
        # κᵦ μᵦᵀPᵦμᵦ belongs to column b alone: a row factor of 1.
        rows = torch.cat([rows, torch.ones_like(rows[..., :1])], -1)
        cols = torch.cat([cols, kappa.unsqueeze(-1) * quad1.detach().abs()], -1)
    return a, b, rows, cols


def _careful_pairs(
    m0: torch.Tensor,
    f0: dict[str, Any],
    m1: torch.Tensor,
    f1: dict[str, Any],
    form: str,
    index0: tuple[torch.Tensor, ...],
    index1: tuple[torch.Tensor, ...],
) -> torch.Tensor:
    """KL of the selected pairs by the non-negative form of :mod:`klmath.gaussian`."""
    import torch

    from klmath.gaussian import _diag_kl_careful, _kl_from_factors

    if form == "diag":
        args = (m0[index0], f0["var"][index0], m1[index1], f1["var"][index1])
        return _diag_kl_careful(*args, tuple(args[0].shape))
    args = (m0[index0], f0["tril"][index0], m1[index1], f1["tril"][index1])
    careful = torch.is_grad_enabled() and any(t.requires_grad for t in args)
    return _kl_from_factors(*args, careful=careful)


def gaussian_kl_matrix(
    mean0: ArrayT,
    cov0: ArrayT,
    mean1: ArrayT,
    cov1: ArrayT,
    *,
    form: Form = "cov",
    rtol: float | None = None,
) -> ArrayT:
    r"""Return the matrix of KL(N(mean0[a], cov0[a]) ‖ N(mean1[b], cov1[b])) over all pairs (a, b).

    Evaluated as matrix products (see :mod:`klmath.gaussian_matrix`): for N
    Gaussians against M, O((N + M)d³ + NMd²) operations, with every entry whose
    error bound exceeds ``rtol`` relative recomputed by the careful form.

    Parameters
    ----------
    mean0 : array of shape (..., N, d)
        Means of the first set (the "p" of KL(p ‖ q)).
    cov0 : array
        Its covariances, shape (..., N, d, d) for ``form="cov"``; lower-triangular
        Cholesky factors L (Σ = LLᵀ), shape (..., N, d, d), for ``form="tril"``;
        variances (diagonal covariances), shape (..., N, d), for ``form="diag"``.
    mean1, cov1 : arrays of shape (..., M, d) and as ``cov0`` with M
        The second set (the "q").
    form : {"cov", "tril", "diag"}
        How both sets give their covariances (default ``"cov"``).
    rtol : float, optional
        Relative accuracy every entry keeps; entries the product form cannot
        guarantee to it are recomputed. Default √ε of the dtype (1.5e-8 for
        float64, 3.5e-4 for float32).

    All four are NumPy arrays or all torch tensors; the leading batch dimensions
    (``...``) broadcast. Covariances must be symmetric (as in
    :func:`klmath.gaussian_kl`) and positive definite, factors lower triangular
    with a positive diagonal, variances positive.

    Returns
    -------
    array of shape (..., N, M)
        Entry (a, b) is KL(p_a ‖ q_b) ≥ 0; NumPy for NumPy inputs, otherwise a
        tensor differentiable by autograd.

    Raises
    ------
    TypeError
        Mixed NumPy and torch inputs; unsupported dtypes.
    ValueError
        Shapes that do not fit, ``form`` or ``rtol`` not valid, NaN or inf, or a
        covariance that is not symmetric positive definite (naming the argument
        and the first bad index).

    Examples
    --------
    >>> import numpy as np
    >>> from klmath import gaussian_kl_matrix
    >>> means = np.array([[0.0, 0.0], [1.0, 0.0]])
    >>> covs = np.stack([np.eye(2), 2 * np.eye(2)])
    >>> np.round(gaussian_kl_matrix(means, covs, means, covs), 6)
    array([[0.      , 0.443147],
           [0.806853, 0.      ]])
    """
    import torch

    if form not in ("cov", "tril", "diag"):
        raise ValueError(f"form must be 'cov', 'tril' or 'diag', got {form!r}")
    # Errors name the arguments as the caller passed them, whatever the form.
    names0 = ("mean0", "cov0")
    names1 = ("mean1", "cov1")
    kind, (m0, c0, m1, c1) = as_tensors(
        **{names0[0]: mean0, names0[1]: cov0, names1[0]: mean1, names1[1]: cov1}
    )
    _, d = _set_shapes(m0, c0, form, names0)
    _, d1 = _set_shapes(m1, c1, form, names1)
    if d1 != d:
        raise ValueError(f"mean1 has event size {d1} but mean0 has d = {d}")
    if rtol is None:
        rtol = float(torch.finfo(m0.dtype).eps) ** 0.5
    if not (isinstance(rtol, float | int) and 0 < rtol < 1):
        raise ValueError(f"rtol must be a number in (0, 1), got {rtol!r}")
    check_finite(m0, names0[0], event_dims=1)
    check_finite(m1, names1[0], event_dims=1)
    f0 = _factor(c0, form, names0[1], target=False)
    f1 = _factor(c1, form, names1[1], target=True)
    a, b, rows, cols = _terms(m0, f0, m1, f1, form)
    rows.mul_(4 * float(torch.finfo(m0.dtype).eps))
    n = a.shape[-2]
    m = b.shape[-2]
    step = max(1, CHUNK_ENTRIES // max(m, 1))
    parts = []
    flagged = []
    for start in range(0, n, step):
        stop = min(n, start + step)
        a_c = a[..., start:stop, :]
        value = 0.5 * _product(a_c, b)
        with torch.no_grad():
            bound = rows[..., start:stop, :] @ cols.mT
            # Untrustworthy: the bound exceeds rtol of the value (which includes value ≤ 0).
            bad = torch.le(bound, value.detach() * rtol).logical_not_()
        parts.append(value)
        flagged.append(bad)
    kl = torch.cat(parts, dim=-2) if len(parts) > 1 else parts[0]
    bad = torch.cat(flagged, dim=-2) if len(flagged) > 1 else flagged[0]
    index = torch.nonzero(bad, as_tuple=True)
    if index[0].numel():
        kl = _recompute(kl, index, m0, f0, m1, f1, form)
    return from_torch(kl, kind)


def _recompute(
    kl: torch.Tensor,
    index: tuple[torch.Tensor, ...],
    m0: torch.Tensor,
    f0: dict[str, Any],
    m1: torch.Tensor,
    f1: dict[str, Any],
    form: str,
) -> torch.Tensor:
    """Replace the entries at ``index`` (batch..., a, b) by the careful form, in bounded batches."""
    import torch

    batch = kl.shape[:-2]
    nb = len(batch)

    def expand(x: torch.Tensor, core: int) -> torch.Tensor:
        return x.expand(*batch, *x.shape[x.ndim - core :])

    core = 2 if form == "diag" else 3
    s0 = {
        "mean": expand(m0, 2),
        "var" if form == "diag" else "tril": expand(f0["var" if form == "diag" else "tril"], core),
    }
    s1 = {
        "mean": expand(m1, 2),
        "var" if form == "diag" else "tril": expand(f1["var" if form == "diag" else "tril"], core),
    }
    key = "var" if form == "diag" else "tril"
    d = m0.shape[-1]
    per_pair = 2 * (d * d + d) * kl.element_size()
    step = max(1, _RECOMPUTE_BYTES // per_pair)
    total = index[0].numel()
    values = []
    for start in range(0, total, step):
        part = tuple(i[start : start + step] for i in index)
        i0 = (*part[:nb], part[nb])
        i1 = (*part[:nb], part[nb + 1])
        values.append(
            _careful_pairs(s0["mean"], {key: s0[key]}, s1["mean"], {key: s1[key]}, form, i0, i1)
        )
    new = torch.cat(values) if len(values) > 1 else values[0]
    return kl.index_put(index, new.to(kl.dtype))
