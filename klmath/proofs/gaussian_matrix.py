r"""Claim: the matrix-product form of the Gaussian KL that :func:`klmath.gaussian_kl_matrix` uses.

With P = Σ₁⁻¹ and S = Σ₀ + μ₀μ₀ᵀ,

.. math::

    D_{KL}(\mathcal N(μ_0, Σ_0) \,\|\, \mathcal N(μ_1, Σ_1))
    = \tfrac12 \big[\langle P, S \rangle_F - 2 μ_0^T P μ_1 + μ_1^T P μ_1 - d
      + \log\det Σ_1 - \log\det Σ_0 \big],

and for symmetric P and S the Frobenius product is the packed sum the code
forms, ⟨P, S⟩_F = Σᵢ PᵢᵢSᵢᵢ + 2 Σ_{i>j} PᵢⱼSᵢⱼ. Each pair's KL is therefore the dot
product of a row A (from the first Gaussian) and a row B (from the second),

    A = [packed S | μ₀ | −log det Σ₀ | 1],  B = [packed P, off-diagonal × 2 | −2Pμ₁ | 1 |
    μ₁ᵀPμ₁ + log det Σ₁ − d],

so the KL between every pair of two sets is ½ A Bᵀ. The check builds A and B
with the library's own packing (the indices and weights of
``klmath.gaussian_matrix._packing``) from explicit symbolic entries, P by
Cramer's rule, and compares ½ A·B with the seed's closed form
(:func:`klmath.proofs.gaussian.closed_form`), for full covariances at d = 1, 2, 3
and diagonal ones at d = 1, ..., 4: expand and cancel, exactly 0. The claim is
checked for those dimensions only; ``tests/test_gaussian_matrix.py`` compares the
library's result with :func:`klmath.gaussian_kl` numerically up to d = 16.
"""

from __future__ import annotations

from collections.abc import Iterator

import sympy as sp

from klmath.proofs._record import claim, require_zero

__all__ = ["gaussian_matrix_identity", "product_form"]

_HALF = sp.Rational(1, 2)


def _symbols(name: str, d: int, *, positive: bool = False) -> sp.Matrix:
    return sp.Matrix([sp.Symbol(f"{name}_{i}", real=True, positive=positive) for i in range(d)])


def _symmetric(name: str, d: int) -> sp.Matrix:
    return sp.Matrix(d, d, lambda i, j: sp.Symbol(f"{name}_{min(i, j)}{max(i, j)}", real=True))


def _packed(sym: sp.Matrix, weighted: bool) -> list[sp.Expr]:
    """The library's packing of a symmetric matrix (its indices and weights, exactly)."""
    from klmath.gaussian_matrix import _packing

    d = sym.shape[0]
    index, weights = _packing(d, _cpu(), _float64())
    flat = [sym[int(k) // d, int(k) % d] for k in index.tolist()]
    if not weighted:
        return flat
    return [sp.nsimplify(w) * x for w, x in zip(weights.tolist(), flat, strict=True)]


def _cpu() -> object:
    import torch

    return torch.device("cpu")


def _float64() -> object:
    import torch

    return torch.float64


def product_form(
    mean0: sp.Matrix,
    cov0: sp.Matrix,
    mean1: sp.Matrix,
    cov1: sp.Matrix,
    logdet0: sp.Expr,
    logdet1: sp.Expr,
    *,
    diagonal: bool = False,
) -> sp.Expr:
    """½ A·B as :func:`klmath.gaussian_kl_matrix` lays out A and B (module docstring).

    P = adj Σ₁ / det Σ₁ (Cramer); ``diagonal``: the covariances are diagonal and
    A, B hold their diagonals (the ``form="diag"`` layout).
    """
    d = mean0.shape[0]
    inv1 = cov1.adjugate() / cov1.det(method="berkowitz")
    second0 = cov0 + mean0 * mean0.T
    p1_mean = inv1 * mean1
    quad1 = (mean1.T * p1_mean)[0, 0]
    if diagonal:
        packed0 = [second0[i, i] for i in range(d)]
        packed1 = [inv1[i, i] for i in range(d)]
    else:
        packed0, packed1 = _packed(second0, False), _packed(inv1, True)
    a = [*packed0, *mean0, -logdet0, sp.Integer(1)]
    b = [*packed1, *(-2 * p1_mean), sp.Integer(1), quad1 + logdet1 - d]
    return _HALF * sum((x * y for x, y in zip(a, b, strict=True)), sp.Integer(0))


def _closed(mean0: sp.Matrix, cov0: sp.Matrix, mean1: sp.Matrix, cov1: sp.Matrix) -> sp.Expr:
    from klmath.proofs.gaussian import closed_form

    return closed_form(mean0, cov0, mean1, cov1)


def _full(d: int) -> str:
    mean0, mean1 = _symbols("mu0", d), _symbols("mu1", d)
    cov0, cov1 = _symmetric("S0", d), _symmetric("S1", d)
    det0, det1 = cov0.det(method="berkowitz"), cov1.det(method="berkowitz")
    ours = product_form(mean0, cov0, mean1, cov1, sp.log(det0), sp.log(det1))
    # Positive definite: both determinants are positive, so log(det1/det0) splits.
    residual = sp.expand_log(_closed(mean0, cov0, mean1, cov1) - ours, force=True)
    return require_zero(
        residual,
        f"d={d}: ½[⟨P, Σ0 + μ0μ0ᵀ⟩ − 2μ0ᵀPμ1 + μ1ᵀPμ1 − d + log det Σ1 − log det Σ0], "
        "packed as the library packs it, equals the closed form (P = adj Σ1 / det Σ1)",
    )


def _diagonal(d: int) -> str:
    mean0, mean1 = _symbols("mu0", d), _symbols("mu1", d)
    cov0 = sp.diag(*_symbols("v0", d, positive=True))
    cov1 = sp.diag(*_symbols("v1", d, positive=True))
    logdet0 = sum((sp.log(cov0[i, i]) for i in range(d)), sp.Integer(0))
    logdet1 = sum((sp.log(cov1[i, i]) for i in range(d)), sp.Integer(0))
    ours = product_form(mean0, cov0, mean1, cov1, logdet0, logdet1, diagonal=True)
    residual = sp.expand_log(_closed(mean0, cov0, mean1, cov1) - ours, force=True)
    return require_zero(
        residual,
        f"d={d}, diagonal covariances: the form='diag' layout of A and B gives the closed form",
    )


def _packing_identity(d: int) -> str:
    p, s = _symmetric("P", d), _symmetric("S", d)
    frobenius = sum((p[i, j] * s[i, j] for i in range(d) for j in range(d)), sp.Integer(0))
    packed = sum(
        (x * y for x, y in zip(_packed(p, True), _packed(s, False), strict=True)), sp.Integer(0)
    )
    trace = (p * s).trace()
    return require_zero(
        (frobenius - packed) ** 2 + (trace - frobenius) ** 2,
        f"d={d}: tr(PS) = ⟨P, S⟩_F = Σᵢ PᵢᵢSᵢᵢ + 2Σ_(i>j) PᵢⱼSᵢⱼ for symmetric P, S "
        "(the library's packing)",
    )


def _expression() -> sp.Basic:
    d = sp.Symbol("d", integer=True, positive=True)
    m0, m1 = sp.MatrixSymbol("mu_0", d, 1), sp.MatrixSymbol("mu_1", d, 1)
    s0, s1 = sp.MatrixSymbol("Sigma_0", d, d), sp.MatrixSymbol("Sigma_1", d, d)
    p = s1.I
    kl = sp.Function("D_KL")(sp.Function("N")(m0, s0), sp.Function("N")(m1, s1))
    rhs = _HALF * (
        sp.Trace(p * (s0 + m0 * m0.T))
        - 2 * sp.Trace(m0.T * p * m1)
        + sp.Trace(m1.T * p * m1)
        - d
        + sp.log(sp.Determinant(s1))
        - sp.log(sp.Determinant(s0))
    )
    return sp.Eq(kl, rhs, evaluate=False)


@claim(
    "KL(N(μ0,Σ0) ‖ N(μ1,Σ1)) = ½[⟨Σ1⁻¹, Σ0 + μ0μ0ᵀ⟩_F − 2μ0ᵀΣ1⁻¹μ1 + μ1ᵀΣ1⁻¹μ1 − d"
    " + log det Σ1 − log det Σ0], one dot product per pair as gaussian_kl_matrix packs it"
    " (full covariances d ≤ 3, diagonal d ≤ 4)",
    _expression,
)
def gaussian_matrix_identity() -> Iterator[str]:
    """Check the product form of :mod:`klmath.gaussian_matrix`; see the module docstring."""
    for d in (1, 2, 3, 4):
        yield _packing_identity(d)
    for d in (1, 2, 3):
        yield _full(d)
    for d in (1, 2, 3, 4):
        yield _diagonal(d)
