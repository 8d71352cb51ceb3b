"""Identities between matrix expressions of symbolic size, decided by SymPy.

A scalar built from matrices of symbolic size d (traces, 1 × 1 quadratic forms,
determinants) is put in a canonical form by :func:`canonical`:

* every trace is split over the sum inside it, and each ``tr(F₁⋯Fₖ)`` is replaced
  by the shortest of its cyclic rotations and of the rotations of its transpose
  (both facts, ``tr(XY) = tr(YX)`` and ``tr(Xᵀ) = tr(X)``, are proved for symbolic
  sizes by :func:`trace_lemmas`), after SymPy's own rules for the product
  (``A⁻¹A = I``, ``(AB)⁻¹ = B⁻¹A⁻¹``, ``(AB)ᵀ = BᵀAᵀ``) and the assumptions given
  (e.g. ``QᵀQ = I`` for an orthogonal Q);
* every determinant is expanded by ``det(AB) = det A det B``, ``det Aᵀ = det A``,
  ``det A⁻¹ = 1/det A`` and replaced by a positive symbol for the logs to split.

Two expressions are equal when their canonical forms differ by exactly 0.
"""

from __future__ import annotations

import functools
import itertools
from typing import Any

import sympy as sp
from sympy.matrices.expressions import MatAdd, MatMul, MatrixExpr

__all__ = ["canonical", "determinant", "trace_lemmas"]


def _variants(factors: list[Any]) -> list[list[Any]]:
    k = len(factors)
    rotations = [factors[i:] + factors[:i] for i in range(k)]
    transposed = [sp.Transpose(f).doit() for f in reversed(factors)]
    return rotations + [transposed[i:] + transposed[:i] for i in range(k)]


def _unpow(expr: MatrixExpr) -> MatrixExpr:
    """(cI)ᵏ = cᵏI for a scalar c (SymPy keeps the power of a scaled identity unevaluated)."""

    def scaled_identity(e: Any) -> bool:
        if not (isinstance(e, sp.MatPow) and e.exp.is_Integer and e.exp > 0):
            return False
        _, rest = e.base.as_coeff_mmul()
        return isinstance(rest, sp.Identity) or (
            isinstance(rest, MatMul)
            and len(rest.args) == 1
            and isinstance(rest.args[0], sp.Identity)
        )

    def expand(e: Any) -> Any:
        coeff, rest = e.base.as_coeff_mmul()
        identity = rest if isinstance(rest, sp.Identity) else rest.args[0]
        return coeff ** int(e.exp) * identity

    return expr.replace(scaled_identity, expand)


def _reduce(product: MatrixExpr, assumptions: Any) -> MatrixExpr:
    out = _unpow(product.doit()).doit()
    if assumptions is not True:
        out = sp.refine(out, assumptions).doit()
    return out


def _trace_atom(term: MatrixExpr, assumptions: Any) -> sp.Expr:
    coeff, product = term.as_coeff_mmul()
    factors = list(product.args) if isinstance(product, MatMul) else [product]
    best: tuple[int, str, Any] | None = None
    for variant in _variants(factors):
        reduced = _reduce(MatMul(*variant), assumptions)
        if isinstance(reduced, MatAdd):  # a rule produced a sum: trace it term by term
            return coeff * _trace(reduced, assumptions)
        args = list(reduced.args) if isinstance(reduced, MatMul) else [reduced]
        if len(args) < len(factors):  # something cancelled: canonicalise what is left
            return coeff * _trace(reduced, assumptions)
        key = (len(args), sp.srepr(reduced))
        if best is None or key < best[:2]:
            best = (key[0], key[1], reduced)
    assert best is not None
    reduced = best[2]
    if isinstance(reduced, sp.Identity):
        return coeff * reduced.rows
    if isinstance(reduced, sp.ZeroMatrix):
        return sp.Integer(0)
    return coeff * sp.Trace(reduced)


def _trace(arg: MatrixExpr, assumptions: Any) -> sp.Expr:
    expanded = _unpow(sp.expand(_reduce(arg, assumptions)))
    total = sp.Integer(0)
    for term in MatAdd.make_args(expanded):
        if isinstance(term, sp.ZeroMatrix):
            continue
        if isinstance(term, sp.Identity):
            total += term.rows
            continue
        total += _trace_atom(term, assumptions)
    return total


@functools.cache
def _det_symbol(name: str) -> sp.Symbol:
    return sp.Symbol(f"det({name})", positive=True)


def _det(arg: MatrixExpr) -> sp.Expr:
    """det by det(cA) = cᵈ det A, det(AB) = det A det B, det Aᵀ = det A, det A⁻¹ = 1/det A."""
    arg = arg.doit()
    if isinstance(arg, sp.Identity):
        return sp.Integer(1)
    if isinstance(arg, MatMul):
        coeff, product = arg.as_coeff_mmul()
        factors = product.args if isinstance(product, MatMul) else (product,)
        return coeff**arg.rows * sp.Mul(*[_det(f) for f in factors])
    if isinstance(arg, sp.Transpose):
        return _det(arg.arg)
    if isinstance(arg, sp.Inverse):
        return 1 / _det(arg.arg)
    if isinstance(arg, sp.MatPow) and arg.exp == -1:
        return 1 / _det(arg.base)
    return _det_symbol(sp.sstr(arg))


def canonical(expr: sp.Expr, assumptions: Any = True) -> sp.Expr:
    """Return ``expr`` with every trace and determinant in canonical form (see module doc).

    Determinants are taken to be positive (the matrices here are covariances and
    their Cholesky factors), so ``log det`` of a product splits into a sum.
    """
    expr = expr.replace(lambda e: isinstance(e, sp.Trace), lambda e: _trace(e.arg, assumptions))
    expr = expr.replace(lambda e: isinstance(e, sp.Determinant), lambda e: _det(e.arg))
    return sp.expand(sp.expand_log(expr))


def _same_sum(a: sp.Expr, b: sp.Expr) -> bool:
    """True if the finite sums a and b agree after reordering and renaming their indices."""
    if not (isinstance(a, sp.Sum) and isinstance(b, sp.Sum)) or len(a.limits) != len(b.limits):
        return False
    for order in itertools.permutations(range(len(b.limits))):
        limits = [b.limits[o] for o in order]
        if [lim[1:] for lim in limits] != [lim[1:] for lim in a.limits]:
            continue
        # Finite sums may be taken in any order (Fubini for finite sums); then rename.
        rename = {lim[0]: new[0] for lim, new in zip(limits, a.limits, strict=True)}
        if sp.expand(b.function.xreplace(rename) - a.function) == 0:
            return True
    return False


def trace_lemmas() -> tuple[bool, bool]:
    """Prove tr(XY) = tr(YX) and tr(Xᵀ) = tr(X) for X, Y of symbolic sizes (n×k, k×n).

    Each trace is rewritten as its defining index sum; the two sums must agree
    after swapping the (finite) order of summation and renaming the indices.
    """
    n, k = sp.symbols("n k", integer=True, positive=True)
    x, y = sp.MatrixSymbol("X", n, k), sp.MatrixSymbol("Y", k, n)
    cyclic = _same_sum(sp.Trace(x * y).rewrite(sp.Sum), sp.Trace(y * x).rewrite(sp.Sum))
    z = sp.MatrixSymbol("Z", n, n)
    transpose = _same_sum(sp.Trace(z.T).rewrite(sp.Sum), sp.Trace(z).rewrite(sp.Sum))
    return cyclic, transpose


def determinant(arg: MatrixExpr) -> sp.Expr:
    """det of a product of matrices of symbolic size, factor by factor (see :func:`canonical`)."""
    return _det(arg)
