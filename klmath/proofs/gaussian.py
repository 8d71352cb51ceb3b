"""Claim 1: the Gaussian KL closed form, derived from the definition (seed problem 5).

.. math::

    D_{KL}(\\mathcal N(\\mu_0,\\Sigma_0)\\,\\|\\,\\mathcal N(\\mu_1,\\Sigma_1))
    = \\tfrac12\\big(\\operatorname{tr}(\\Sigma_1^{-1}\\Sigma_0)
      + (\\mu_1-\\mu_0)^T\\Sigma_1^{-1}(\\mu_1-\\mu_0) - d
      + \\log\\tfrac{\\det\\Sigma_1}{\\det\\Sigma_0}\\big)

The derivation is checked three ways:

* d = 1: the integral :math:`\\int p\\log(p/q)\\,dx` is done by SymPy.
* d = 2, 3: with explicit symbolic entries, the expectation of the log-density
  ratio is taken by the linear functional that knows only
  :math:`E[x]=\\mu_0` and :math:`E[xx^T]=\\Sigma_0+\\mu_0\\mu_0^T`; the identity
  :math:`E[(x-m)^TA(x-m)] = \\operatorname{tr}(A\\Sigma_0)+(\\mu_0-m)^TA(\\mu_0-m)`
  is itself proved for a generic symmetric A first.
* d = 2, 3: the closed form equals the non-negative Cholesky sum that
  :func:`klmath.gaussian_kl` evaluates,
  :math:`\\tfrac12[\\sum_i(M_{ii}^2-1-\\log M_{ii}^2)+\\sum_{i>j}M_{ij}^2+\\|\\delta\\|^2]`
  with :math:`M=L_1^{-1}L_0`, :math:`\\delta=L_1^{-1}(\\mu_1-\\mu_0)`.

Every comparison is "expand (and cancel) the difference, get exactly 0".
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

import mpmath
import sympy as sp

from klmath.proofs._record import ProofFailure, claim, require, require_zero

__all__ = [
    "cholesky_kl_sum",
    "derived_gaussian_kl",
    "gaussian_1d_integrals",
    "gaussian_expectation",
    "gaussian_kl_closed_form",
    "gaussian_kl_reference",
]

_HALF = sp.Rational(1, 2)


def _vector(name: str, d: int) -> sp.Matrix:
    return sp.Matrix([sp.Symbol(f"{name}_{i}", real=True) for i in range(d)])


def _symmetric(name: str, d: int) -> sp.Matrix:
    def entry(i: int, j: int) -> sp.Symbol:
        i, j = min(i, j), max(i, j)
        return sp.Symbol(f"{name}_{i}{j}", real=True)

    return sp.Matrix(d, d, entry)


def _lower_triangular(name: str, d: int) -> sp.Matrix:
    # Positive diagonal: the Cholesky factor of a positive-definite matrix.
    def entry(i: int, j: int) -> sp.Expr:
        if j > i:
            return sp.Integer(0)
        return (
            sp.Symbol(f"{name}_{i}{j}", positive=True)
            if i == j
            else sp.Symbol(f"{name}_{i}{j}", real=True)
        )

    return sp.Matrix(d, d, entry)


def gaussian_expectation(expr: sp.Expr, x: sp.Matrix, mean: sp.Matrix, cov: sp.Matrix) -> sp.Expr:
    """Return E[expr] for x ~ N(mean, cov), expr a polynomial of degree ≤ 2 in x.

    The expectation is the linear functional fixed by E[1] = 1,
    E[x_i] = mean_i and E[x_i x_j] = cov_ij + mean_i mean_j: the only facts about
    the Gaussian the derivation uses.

    Raises
    ------
    ProofFailure
        If ``expr`` has degree > 2 in x (the functional would need more moments).
    """
    poly = sp.Poly(sp.expand(expr), *x)
    total = sp.Integer(0)
    for monomial, coeff in poly.terms():
        powers = [(i, k) for i, k in enumerate(monomial) if k]
        degree = sum(k for _, k in powers)
        if degree == 0:
            moment: sp.Expr = sp.Integer(1)
        elif degree == 1:
            moment = mean[powers[0][0]]
        elif degree == 2:
            i, j = (
                (powers[0][0], powers[0][0]) if len(powers) == 1 else (powers[0][0], powers[1][0])
            )
            moment = cov[i, j] + mean[i] * mean[j]
        else:
            raise ProofFailure(f"monomial of degree {degree} > 2 in x: {monomial}")
        total += coeff * moment
    return total


def _log_density(x: sp.Matrix, mean: sp.Matrix, cov: sp.Matrix) -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    """Return (det Σ, log det Σ, (x−μ)ᵀ adj(Σ) (x−μ)) for log N(x; μ, Σ).

    log N = −d/2 log 2π − ½ log det Σ − ½ (x−μ)ᵀ adj(Σ) (x−μ) / det Σ, since
    Σ⁻¹ = adj Σ / det Σ (Cramer's rule). The quadratic form is returned without
    the 1/det Σ factor so it stays a polynomial with integer coefficients.
    """
    det = cov.det(method="berkowitz")
    diff = x - mean
    return det, sp.log(det), (diff.T * cov.adjugate() * diff)[0, 0]


def closed_form(mean0: sp.Matrix, cov0: sp.Matrix, mean1: sp.Matrix, cov1: sp.Matrix) -> sp.Expr:
    """Return the seed's closed form with explicit entries, Σ₁⁻¹ = adj Σ₁ / det Σ₁ (Cramer)."""
    d = cov0.shape[0]
    det1 = cov1.det(method="berkowitz")
    adj1 = cov1.adjugate()
    delta = mean1 - mean0
    return _HALF * (
        (adj1 * cov0).trace() / det1
        + (delta.T * adj1 * delta)[0, 0] / det1
        - d
        + sp.log(det1 / cov0.det(method="berkowitz"))
    )


@functools.cache
def _derived(d: int) -> tuple[sp.Expr, tuple[sp.Matrix, ...]]:
    x = _vector("x", d)
    mean0, mean1 = _vector("mu0", d), _vector("mu1", d)
    cov0, cov1 = _symmetric("S0", d), _symmetric("S1", d)
    det0, logdet0, quad0 = _log_density(x, mean0, cov0)
    det1, logdet1, quad1 = _log_density(x, mean1, cov1)
    # log p(x) − log q(x): the (2π)^(d/2) constants cancel; E is linear, so the
    # constant factors 1/det Σ come out of the expectation.
    quad_part = _HALF * (
        -gaussian_expectation(quad0, x, mean0, cov0) / det0
        + gaussian_expectation(quad1, x, mean0, cov0) / det1
    )
    kl = _HALF * (logdet1 - logdet0) + quad_part
    return kl, (mean0, cov0, mean1, cov1)


def derived_gaussian_kl(d: int) -> tuple[sp.Expr, tuple[sp.Matrix, ...]]:
    """Return the KL derived from the definition with explicit entries, and its symbols.

    Parameters
    ----------
    d : int
        Dimension, 1 ≤ d ≤ 3 (larger d works but the expressions grow fast).

    Returns
    -------
    (expr, (mean0, cov0, mean1, cov1))
        ``expr`` is E_p[log p - log q] with the expectation taken by
        :func:`gaussian_expectation`; the matrices hold the symbols it uses
        (covariances symmetric, entry ``S0_ij`` with i ≤ j).
    """
    if d not in (1, 2, 3):
        raise ValueError(f"d must be 1, 2 or 3, got {d!r}")
    return _derived(d)


def cholesky_kl_sum(
    mean0: sp.Matrix, tril0: sp.Matrix, mean1: sp.Matrix, tril1: sp.Matrix
) -> sp.Expr:
    """Return ½[Σᵢ(Mᵢᵢ²−1−log Mᵢᵢ²) + Σ_{i>j} Mᵢⱼ² + ‖δ‖²], M = L₁⁻¹L₀, δ = L₁⁻¹(μ₁−μ₀).

    Each summand is non-negative (t − 1 − log t ≥ 0 for t > 0), which is why the
    numeric code evaluates this form: no cancellation can make it negative.
    """
    m = tril1.lower_triangular_solve(tril0)
    delta = tril1.lower_triangular_solve(mean1 - mean0)
    d = m.shape[0]
    diag = sum((m[i, i] ** 2 - 1 - sp.log(m[i, i] ** 2) for i in range(d)), sp.Integer(0))
    off = sum((m[i, j] ** 2 for i in range(d) for j in range(i)), sp.Integer(0))
    return _HALF * (diag + off + (delta.T * delta)[0, 0])


def _expression() -> sp.Basic:
    d = sp.Symbol("d", integer=True, positive=True)
    m0, m1 = sp.MatrixSymbol("mu_0", d, 1), sp.MatrixSymbol("mu_1", d, 1)
    s0, s1 = sp.MatrixSymbol("Sigma_0", d, d), sp.MatrixSymbol("Sigma_1", d, d)
    x = sp.MatrixSymbol("x", d, 1)
    kl = sp.Function("D_KL")(sp.Function("N")(m0, s0), sp.Function("N")(m1, s1))
    definition = sp.Function("E_p")(sp.log(sp.Function("p")(x) / sp.Function("q")(x)))
    rhs = _HALF * (
        sp.Trace(s1.I * s0)
        # A 1 × 1 matrix: its trace is the quadratic form (the seed's trace trick).
        + sp.Trace((m1 - m0).T * s1.I * (m1 - m0))
        - d
        + sp.log(sp.Determinant(s1) / sp.Determinant(s0))
    )
    return sp.Eq(kl, sp.Eq(definition, rhs, evaluate=False), evaluate=False)


@functools.cache
def gaussian_1d_integrals() -> dict[str, Any]:
    """Return the 1-D Gaussian integrals the claims use, computed once by SymPy.

    Keys: ``"symbols"`` (x, μ0, μ1, σ0, σ1), ``"mass"`` ∫p, ``"mean"`` ∫x p,
    ``"second"`` ∫x² p, ``"ratio_mass"`` ∫p·(q/p), ``"kl"`` ∫p log(p/q), with
    p = N(μ0, σ0²), q = N(μ1, σ1²), all over the real line.
    """
    x = sp.Symbol("x", real=True)
    m0, m1 = sp.symbols("mu0 mu1", real=True)
    s0, s1 = sp.symbols("sigma0 sigma1", positive=True)

    def density(m: sp.Expr, s: sp.Expr) -> sp.Expr:
        return sp.exp(-((x - m) ** 2) / (2 * s**2)) / (sp.sqrt(2 * sp.pi) * s)

    p, q = density(m0, s0), density(m1, s1)
    line = (x, -sp.oo, sp.oo)
    # With σ > 0 the log of the density ratio is a quadratic polynomial in x.
    log_ratio = sp.expand(sp.expand_log(sp.log(p / q), force=True))
    return {
        "symbols": (x, m0, m1, s0, s1),
        "mass": sp.integrate(p, line),
        "mean": sp.integrate(x * p, line),
        "second": sp.integrate(x**2 * p, line),
        "ratio_mass": sp.integrate(sp.cancel(p * (q / p)), line),
        "kl": sp.integrate(p * log_ratio, line),
    }


def _one_dimensional() -> Iterator[str]:
    ints = gaussian_1d_integrals()
    _, m0, m1, s0, s1 = ints["symbols"]
    yield require_zero(ints["mass"] - 1, "d=1: ∫p dx = 1")
    yield require_zero(ints["mean"] - m0, "d=1: E[x] = μ0 by integration")
    yield require_zero(ints["second"] - (s0**2 + m0**2), "d=1: E[x²] = σ0² + μ0² by integration")
    closed = sp.log(s1 / s0) + (s0**2 + (m0 - m1) ** 2) / (2 * s1**2) - _HALF
    yield require_zero(
        sp.expand_log(ints["kl"] - closed, force=True),
        "d=1: ∫p log(p/q) dx, integrated by SymPy, equals log(σ1/σ0) + (σ0²+(μ0−μ1)²)/(2σ1²) − ½",
    )
    derived, (mean0, cov0, mean1, cov1) = derived_gaussian_kl(1)
    sub = {mean0[0]: m0, mean1[0]: m1, cov0[0, 0]: s0**2, cov1[0, 0]: s1**2}
    yield require_zero(
        sp.expand_log(derived.subs(sub) - closed, force=True),
        "d=1: the moment-functional derivation agrees with the integral",
    )


def _identity(d: int) -> str:
    x, m, mean0 = _vector("x", d), _vector("m", d), _vector("mu0", d)
    cov0, a = _symmetric("S0", d), _symmetric("A", d)
    lhs = gaussian_expectation(((x - m).T * a * (x - m))[0, 0], x, mean0, cov0)
    rhs = (a * cov0).trace() + ((mean0 - m).T * a * (mean0 - m))[0, 0]
    return require_zero(
        lhs - rhs, f"d={d}: E[(x−m)ᵀA(x−m)] = tr(AΣ0) + (μ0−m)ᵀA(μ0−m) for symmetric A"
    )


def _moments(d: int) -> str:
    x, mean0, cov0 = _vector("x", d), _vector("mu0", d), _symmetric("S0", d)
    centred = (x - mean0) * (x - mean0).T
    residual = [
        gaussian_expectation(centred[i, j], x, mean0, cov0) - cov0[i, j]
        for i in range(d)
        for j in range(d)
    ]
    return require_zero(
        sp.Add(*[r**2 for r in residual]),  # real entries: a sum of squares is 0 iff each is
        f"d={d}: E[xxᵀ] = Σ0 + μ0μ0ᵀ is consistent with E[(x−μ0)(x−μ0)ᵀ] = Σ0",
    )


def _cramer(d: int) -> str:
    cov = _symmetric("S1", d)
    product = cov * cov.adjugate() - cov.det(method="berkowitz") * sp.eye(d)
    return require_zero(
        sp.Add(*[e**2 for e in product]),  # real entries: a sum of squares is 0 iff each is
        f"d={d}: Σ adj(Σ) = det(Σ) I, so Σ⁻¹ = adj Σ / det Σ (Cramer) in both forms",
    )


def _matches_closed_form(d: int) -> str:
    derived, (mean0, cov0, mean1, cov1) = derived_gaussian_kl(d)
    closed = closed_form(mean0, cov0, mean1, cov1)
    # Positive definiteness makes both determinants positive, so the logs split.
    # Both sides carry the same 1/det factors, so expanding cancels every term
    # except d/2 − tr(adj Σ0 · Σ0)/(2 det Σ0), which ``cancel`` reduces to 0.
    residual = sp.cancel(sp.expand(sp.expand_log(derived - closed, force=True)))
    if residual != 0:
        raise ProofFailure(
            f"d={d}: derived KL minus closed form is {sp.sstr(residual)[:200]}, not 0"
        )
    return f"d={d}: E_p[log p − log q] with explicit entries equals the closed form"


def _matches_cholesky_sum(d: int) -> str:
    mean0, mean1 = _vector("mu0", d), _vector("mu1", d)
    l0, l1 = _lower_triangular("L0", d), _lower_triangular("L1", d)
    cov0, cov1 = l0 * l0.T, l1 * l1.T
    closed = closed_form(mean0, cov0, mean1, cov1)
    chol = cholesky_kl_sum(mean0, l0, mean1, l1)
    # Diagonal entries are positive symbols, so expand_log needs no force here.
    residual = sp.expand_log(sp.factor_terms(closed - chol))
    num, _ = sp.fraction(sp.together(residual))
    if sp.expand(num) != 0:
        raise ProofFailure(f"d={d}: closed form minus Cholesky sum is not 0")
    return (
        f"d={d}: with Σ = LLᵀ (L lower triangular, positive diagonal) the closed form "
        "equals ½[Σ(Mᵢᵢ²−1−log Mᵢᵢ²) + Σ_{i>j}Mᵢⱼ² + ‖δ‖²]"
    )


@claim(
    "KL(N(μ0,Σ0) ‖ N(μ1,Σ1)) = ½(tr(Σ1⁻¹Σ0) + (μ1−μ0)ᵀΣ1⁻¹(μ1−μ0) − d + log(det Σ1/det Σ0)),"
    " derived from the definition, and equal to the Cholesky sum klmath evaluates",
    _expression,
)
def gaussian_kl_closed_form() -> Iterator[str]:
    """Check claim 1 (seed problem 5); see the module docstring."""
    yield from _one_dimensional()
    for d in (2, 3):
        yield _moments(d)
        yield _identity(d)
        yield _cramer(d)
        yield _matches_closed_form(d)
    for d in (1, 2, 3):
        yield _matches_cholesky_sum(d)
    t = sp.Symbol("t", positive=True)
    psi = t - 1 - sp.log(t)
    yield require(
        sp.diff(psi, t, 2).is_positive and psi.subs(t, 1) == 0 and sp.diff(psi, t).subs(t, 1) == 0,
        "each diagonal summand t − 1 − log t (t = Mᵢᵢ²) is convex with minimum 0 at t = 1",
    )


@functools.cache
def gaussian_kl_reference(d: int, modules: str = "mpmath") -> Callable[..., Any]:
    """Return the derived KL for dimension d as a numeric function (lambdified).

    The function takes ``(mean0, cov0, mean1, cov1)`` as nested sequences of
    numbers (shapes (d,) and (d, d)); only the upper triangle of each covariance
    is read. With ``modules="mpmath"`` (the default) every input is converted to
    ``mpf`` and the whole expression evaluates at the current ``mpmath.mp.dps``:
    an independent high-precision reference for :func:`klmath.gaussian_kl`.
    """
    expr, (mean0, cov0, mean1, cov1) = derived_gaussian_kl(d)
    upper0 = [cov0[i, j] for i in range(d) for j in range(i, d)]
    upper1 = [cov1[i, j] for i in range(d) for j in range(i, d)]
    flat = sp.lambdify([*mean0, *upper0, *mean1, *upper1], expr, modules=modules)

    # mpmath only sees numbers that are already mpf: Python floats would be
    # multiplied in float64 before any mpmath function is reached.
    convert: Callable[[Any], Any] = mpmath.mpmathify if modules == "mpmath" else float

    def kl(mean0: Any, cov0: Any, mean1: Any, cov1: Any) -> Any:
        u0 = [cov0[i][j] for i in range(d) for j in range(i, d)]
        u1 = [cov1[i][j] for i in range(d) for j in range(i, d)]
        return flat(*[convert(v) for v in [*list(mean0), *u0, *list(mean1), *u1]])

    return kl
