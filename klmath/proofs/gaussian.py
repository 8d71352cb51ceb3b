"""Claim 1: the Gaussian KL closed form for every dimension d (seed problem 5).

.. math::

    D_{KL}(\\mathcal N(\\mu_0,\\Sigma_0)\\,\\|\\,\\mathcal N(\\mu_1,\\Sigma_1))
    = \\tfrac12\\big(\\operatorname{tr}(\\Sigma_1^{-1}\\Sigma_0)
      + (\\mu_1-\\mu_0)^T\\Sigma_1^{-1}(\\mu_1-\\mu_0) - d
      + \\log\\tfrac{\\det\\Sigma_1}{\\det\\Sigma_0}\\big)

Proved for symbolic d, with SymPy matrix expressions of symbolic size
(``MatrixSymbol``, block matrices):

(a) d = 1: the integral ∫p log(p/q) done by SymPy.
(b) KL is invariant under an invertible affine map x ↦ Ax + b of both arguments:
    the Jacobian of the map is A (SymPy's matrix derivative), T⁻¹(T(x)) = x, and the
    pushed-forward densities p(A⁻¹(y − b))/|det A| have the same ratio; the change of
    variables theorem (used, not checked) then equates the integrals. N(μ, Σ) is
    pushed to N(Aμ + b, AΣAᵀ) (its log-density, checked as an identity).
(c) Whitening by Σ₁ = L₁L₁ᵀ (A = L₁⁻¹) sends the pair to (N(m, C), N(0, I)); an
    orthogonal Q with C = QΛQᵀ (spectral theorem, used) sends it to
    (N(ν, Λ), N(0, I)) with Λ diagonal; a Gaussian with diagonal covariance is the
    product of its 1-D marginals (induction on d with block matrices).
(d) Additivity (claim 3, proved for every d) sums d one-dimensional KLs from (a);
    Σᵢ ½(λᵢ + νᵢ² − 1 − log λᵢ) = ½(tr Λ + νᵀν − d − log det Λ) by induction on d;
    back in the original coordinates this is the statement (traces compared up to
    the cyclic rotations proved in :func:`klmath.proofs._matrix.trace_lemmas`).
(e) The form :func:`klmath.gaussian_kl` evaluates: with Σₖ = LₖLₖᵀ, M = L₁⁻¹L₀,
    X = L₁⁻¹(L₀ − L₁) = M − I and δ = L₁⁻¹(μ₁ − μ₀), the statement equals
    ½(‖X‖²_F + ‖δ‖²) + Σᵢ(e^{vᵢ} − 1 − vᵢ), vᵢ = log(L₀ᵢᵢ/L₁ᵢᵢ) (det and diagonal of
    triangular matrices by induction on d), with the library's log1p and series
    forms of eᵛ − 1 − v and its constants checked against their error bounds.
(f) The library itself: every path of gaussian_kl, gaussian_kl_tril and
    gaussian_kl_diag is evaluated and compared with the statement evaluated at 50
    digits (:mod:`klmath.proofs.library`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator
from fractions import Fraction
from typing import Any

import sympy as sp
from sympy import BlockDiagMatrix, BlockMatrix, Identity, MatrixSymbol, ZeroMatrix, block_collapse

from klmath.proofs._matrix import canonical, determinant, trace_lemmas
from klmath.proofs._record import Step, by_induction, claim, require, require_zero

__all__ = [
    "gaussian_1d_integrals",
    "gaussian_kl_closed_form",
    "gaussian_kl_reference",
    "gaussian_statement",
    "statement_parts",
]

_HALF = sp.Rational(1, 2)


@functools.cache
def statement_parts() -> dict[str, Any]:
    """The symbols of the statement: ``d``, ``mu_0``, ``Sigma_0``, ``mu_1``, ``Sigma_1``."""
    d = sp.Symbol("d", integer=True, positive=True)
    return {
        "d": d,
        "mu_0": MatrixSymbol("mu_0", d, 1),
        "Sigma_0": MatrixSymbol("Sigma_0", d, d),
        "mu_1": MatrixSymbol("mu_1", d, 1),
        "Sigma_1": MatrixSymbol("Sigma_1", d, d),
    }


def gaussian_statement() -> sp.Eq:
    """The stored statement: KL(N(μ₀,Σ₀) ‖ N(μ₁,Σ₁)) = ½(tr(Σ₁⁻¹Σ₀) + … ) for symbolic d."""
    p = statement_parts()
    d, m0, s0, m1, s1 = (p[k] for k in ("d", "mu_0", "Sigma_0", "mu_1", "Sigma_1"))
    normal = sp.Function("N")
    kl = sp.Function("D_KL")(normal(m0, s0), normal(m1, s1))
    rhs = _HALF * (
        sp.Trace(s1.I * s0)
        # A 1 × 1 matrix: its trace is the quadratic form (the seed's trace trick).
        + sp.Trace((m1 - m0).T * s1.I * (m1 - m0))
        - d
        + sp.log(sp.Determinant(s1) / sp.Determinant(s0))
    )
    return sp.Eq(kl, rhs, evaluate=False)


# --- (a) one dimension, by integration ------------------------------------------------


@functools.cache
def gaussian_1d_integrals() -> dict[str, Any]:
    """Return the 1-D Gaussian integrals the claims use, computed once by SymPy.

    Keys: ``"symbols"`` (x, μ0, μ1, σ0, σ1), ``"mass"`` ∫p, ``"kl"`` ∫p log(p/q), with
    p = N(μ0, σ0²), q = N(μ1, σ1²), over the real line.
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
        "kl": sp.integrate(p * log_ratio, line),
    }


def _kl_1d() -> tuple[sp.Expr, tuple[sp.Symbol, ...]]:
    ints = gaussian_1d_integrals()
    return ints["kl"], ints["symbols"][1:]


def _one_dimensional() -> Iterator[Step]:
    ints = gaussian_1d_integrals()
    _, m0, m1, s0, s1 = ints["symbols"]
    yield require_zero(ints["mass"] - 1, "d=1: ∫N(x; μ0, σ0²) dx = 1 (SymPy integrates)")
    closed = sp.log(s1 / s0) + (s0**2 + (m0 - m1) ** 2) / (2 * s1**2) - _HALF
    yield require_zero(
        sp.expand_log(ints["kl"] - closed, force=True),
        "(a) d=1: ∫p log(p/q) dx, integrated by SymPy, = log(σ1/σ0) + (σ0²+(μ0−μ1)²)/(2σ1²) − ½",
    )


# --- (b) affine invariance and the Gaussian push-forward --------------------------------


def _inv(m: Any) -> Any:
    return m.inv() if isinstance(m, sp.MatrixBase) else m.I


def _logdet(m: Any) -> sp.Expr:
    return sp.log(m.det() if isinstance(m, sp.MatrixBase) else sp.Determinant(m))


def _trace(m: Any) -> sp.Expr:
    return m.trace() if isinstance(m, sp.MatrixBase) else sp.Trace(m)


def _log_normal(x: Any, mean: Any, cov: Any, d: sp.Expr) -> sp.Expr:
    """log N(x; mean, cov) = −d/2 log 2π − ½ log det cov − ½ (x − mean)ᵀ cov⁻¹ (x − mean)."""
    diff = x - mean
    return (
        -d / 2 * sp.log(2 * sp.pi)
        - _HALF * _logdet(cov)
        - _HALF * _trace(diff.T * _inv(cov) * diff)
    )


def _affine_invariance() -> Iterator[Step]:
    d = sp.Symbol("d", integer=True, positive=True)
    a, x, b = MatrixSymbol("A", d, d), MatrixSymbol("x", d, 1), MatrixSymbol("b", d, 1)
    y = a * x + b
    yield require(
        sp.diff(y, x) == a.T and (a.I * (y - b)).doit() == x,
        "(b) T(x) = Ax + b has Jacobian matrix A (SymPy's matrix derivative, denominator "
        "layout Aᵀ) and T⁻¹(T(x)) = A⁻¹(Ax + b − b) = x, d symbolic",
    )
    p, q = sp.Function("p", positive=True), sp.Function("q", positive=True)
    abs_det = sp.Symbol("|det A|", positive=True)

    def pushed(dens: sp.Function) -> Callable[[Any], sp.Expr]:
        return lambda point: dens((a.I * (point - b)).doit()) / abs_det

    p_t, q_t = pushed(p), pushed(q)
    integrand_t = p_t(y) * sp.log(p_t(y) / q_t(y)) * abs_det
    yield require_zero(
        sp.expand_log(integrand_t - p(x) * sp.log(p(x) / q(x)), force=True),
        "(b) for any densities p, q: with (T#p)(y) = p(T⁻¹y)/|det A|, the integrand of "
        "KL(T#p ‖ T#q) at y = T(x) times |det A| is p(x) log(p(x)/q(x)); so KL(T#p ‖ T#q) = "
        "KL(p ‖ q) by the change of variables y = T(x)",
    )
    mu, sigma = MatrixSymbol("mu", d, 1), MatrixSymbol("Sigma", d, d)
    yv = MatrixSymbol("y", d, 1)
    # |det A| = det(AAᵀ)^½: only det(A)² enters, so the sign of det A never matters.
    lhs = _log_normal((a.I * (yv - b)), mu, sigma, d) - _HALF * sp.log(sp.Determinant(a * a.T))
    rhs = _log_normal(yv, a * mu + b, a * sigma * a.T, d)
    yield require_zero(
        canonical(lhs) - canonical(rhs),
        "(b) log N(A⁻¹(y − b); μ, Σ) − log|det A| = log N(y; Aμ + b, AΣAᵀ): the push-forward "
        "of a Gaussian is Gaussian (matrix expressions of symbolic size d)",
    )


# --- (c) whitening, diagonalisation, product form ---------------------------------------


def _whitening() -> Iterator[Step]:
    p = statement_parts()
    d, m0, s0, m1 = (p[k] for k in ("d", "mu_0", "Sigma_0", "mu_1"))
    l1 = MatrixSymbol("L_1", d, d)
    a, b = l1.I, -(l1.I * m1)
    yield require(
        sp.expand((a * m1 + b).doit()) == ZeroMatrix(d, 1)
        and (a * (l1 * l1.T) * a.T).doit() == Identity(d),
        "(c) whitening x ↦ L1⁻¹(x − μ1), Σ1 = L1L1ᵀ: N(μ1, Σ1) ↦ N(0, I) "
        "(L1⁻¹μ1 − L1⁻¹μ1 = 0, L1⁻¹L1L1ᵀL1⁻ᵀ = I), N(μ0, Σ0) ↦ N(L1⁻¹(μ0 − μ1), L1⁻¹Σ0L1⁻ᵀ)",
    )
    q, lam = MatrixSymbol("Q", d, d), MatrixSymbol("Lambda", d, d)
    orth = sp.Q.orthogonal(q)
    c = q * lam * q.T  # the spectral theorem: C = QΛQᵀ, Q orthogonal, Λ diagonal
    yield require(
        sp.refine((q.T * Identity(d) * q).doit(), orth).doit() == Identity(d)
        and sp.refine((q.T * c * q).doit(), orth).doit() == lam,
        "(c) rotation x ↦ Qᵀx with C = QΛQᵀ, QᵀQ = I: N(0, I) ↦ N(0, QᵀQ) = N(0, I) and "
        "N(m, C) ↦ N(Qᵀm, QᵀQΛQᵀQ) = N(ν, Λ), Λ diagonal",
    )
    del s0, m0


def _factorisation_lemma() -> Step:
    """log N(x; ν, Λ) = Σᵢ log N(xᵢ; νᵢ, λᵢ) for diagonal Λ, by induction on d."""
    one = sp.Integer(1)
    x1, n1 = sp.symbols("t nu", real=True)
    l1 = sp.Symbol("lam", positive=True)

    def log_n1(t: sp.Expr, m: sp.Expr, v: sp.Expr) -> sp.Expr:
        return -sp.log(2 * sp.pi) / 2 - sp.log(v) / 2 - (t - m) ** 2 / (2 * v)

    base_x, base_m = sp.Matrix([[x1]]), sp.Matrix([[n1]])
    base = require_zero(
        _log_normal(base_x, base_m, sp.Matrix([[l1]]), one).doit() - log_n1(x1, n1, l1),
        "d=1: log N(x; ν, [λ]) is the 1-D log-density",
    )
    d = sp.Symbol("d", integer=True, positive=True)
    xd, nd, ld = MatrixSymbol("x", d, 1), MatrixSymbol("nu", d, 1), MatrixSymbol("Lambda", d, d)
    x_next = BlockMatrix([[xd], [Identity(1) * x1]])
    m_next = BlockMatrix([[nd], [Identity(1) * n1]])
    cov_next = BlockDiagMatrix(ld, Identity(1) * l1)
    diff = block_collapse(x_next - m_next)
    quad = block_collapse(diff.T * cov_next.I * diff)
    log_next = (
        -(d + 1) / 2 * sp.log(2 * sp.pi)
        - _HALF * sp.log(sp.Determinant(cov_next).doit())
        - _HALF * sp.Trace(quad)
    )
    step = require_zero(
        canonical(log_next) - canonical(_log_normal(xd, nd, ld, d)) - log_n1(x1, n1, l1),
        "d → d+1: with x = [x′; t], ν = [ν′; n], Λ = diag(Λ′, λ) (blocks of symbolic size d), "
        "log N(x; ν, Λ) = log N(x′; ν′, Λ′) + log N(t; n, λ)",
    )
    return by_induction(
        base,
        step,
        "(c) for every d, a Gaussian with diagonal covariance Λ is the product of its d "
        "one-dimensional marginals N(νᵢ, λᵢ)",
    )


def _diagonal_sum_lemma() -> Step:
    """Σᵢ≤d ½(λᵢ + νᵢ² − 1 − log λᵢ) = ½(tr Λ + νᵀν − d − log det Λ), by induction on d."""
    n1 = sp.Symbol("nu", real=True)
    l1 = sp.Symbol("lam", positive=True)

    def term(m: sp.Expr, v: sp.Expr) -> sp.Expr:
        return _HALF * (v + m**2 - 1 - sp.log(v))

    def closed(nu: Any, lam: Any, d: sp.Expr) -> sp.Expr:
        return _HALF * (_trace(lam) + _trace(nu.T * nu) - d - _logdet(lam))

    base = require_zero(
        closed(sp.Matrix([[n1]]), sp.Matrix([[l1]]), sp.Integer(1)).doit() - term(n1, l1),
        "d=1: ½(λ + ν² − 1 − log λ) is the closed form with 1 × 1 matrices",
    )
    d = sp.Symbol("d", integer=True, positive=True)
    nd, ld = MatrixSymbol("nu", d, 1), MatrixSymbol("Lambda", d, d)
    nu_next = BlockMatrix([[nd], [Identity(1) * n1]])
    lam_next = BlockDiagMatrix(ld, Identity(1) * l1)
    next_closed = _HALF * (
        sp.Trace(lam_next).doit()
        + sp.Trace(block_collapse(nu_next.T * nu_next))
        - (d + 1)
        - sp.log(sp.Determinant(lam_next).doit())
    )
    step = require_zero(
        canonical(next_closed) - canonical(closed(nd, ld, d)) - term(n1, l1),
        "d → d+1: tr, νᵀν and det of the blocks [ν′; n], diag(Λ′, λ) add the d+1-th term",
    )
    return by_induction(
        base, step, "(d) Σᵢ ½(λᵢ + νᵢ² − 1 − log λᵢ) = ½(tr Λ + νᵀν − d − log det Λ) for every d"
    )


def _derived_rhs() -> Iterator[Step | sp.Expr]:
    """Steps (d): the KL of the whitened, rotated pair, back in the original coordinates."""
    kl1, (m0, m1, s0, s1) = _kl_1d()
    nu, lam = sp.Symbol("nu", real=True), sp.Symbol("lam", positive=True)
    yield require_zero(
        sp.expand_log(
            kl1.subs({m0: nu, s0: sp.sqrt(lam), m1: 0, s1: 1})
            - _HALF * (lam + nu**2 - 1 - sp.log(lam)),
            force=True,
        ),
        "(d) each coordinate: KL(N(νᵢ, λᵢ) ‖ N(0, 1)) = ½(λᵢ + νᵢ² − 1 − log λᵢ) from (a)",
    )
    yield _diagonal_sum_lemma()
    p = statement_parts()
    d, mu0, sig0, mu1 = (p[k] for k in ("d", "mu_0", "Sigma_0", "mu_1"))
    l1, q = MatrixSymbol("L_1", d, d), MatrixSymbol("Q", d, d)
    orth = sp.Q.orthogonal(q)
    c = l1.I * sig0 * l1.I.T
    m = l1.I * (mu0 - mu1)
    lam_m, nu_m = q.T * c * q, q.T * m
    yield require(
        sp.expand(canonical(sp.Trace(lam_m), orth) - canonical(sp.Trace(c))) == 0
        and sp.expand(canonical(sp.Trace(nu_m.T * nu_m), orth) - canonical(sp.Trace(m.T * m))) == 0,
        "(d) tr Λ = tr(QᵀCQ) = tr C and νᵀν = mᵀQQᵀm = mᵀm (cyclic trace, QQᵀ = I)",
    )
    yield require(
        determinant(q.T * q) == determinant(q) ** 2
        and sp.refine((q.T * q).doit(), orth).doit() == Identity(d)
        and sp.expand(determinant(lam_m) - determinant(q) ** 2 * determinant(c)) == 0,
        "(d) det Λ = det(Q)² det C and det(Q)² = det(QᵀQ) = det I = 1, so log det Λ = log det C",
    )
    yield _HALF * (sp.Trace(c) + sp.Trace(m.T * m) - d - sp.log(sp.Determinant(c)))


# --- (e) the form the library evaluates --------------------------------------------------


def _triangular_lemmas() -> Iterator[Step]:
    """det L = Π Lᵢᵢ and (L₁⁻¹L₀)ᵢᵢ = L₀ᵢᵢ/L₁ᵢᵢ, lower triangular, for every d (induction)."""
    a0, a1, c0 = sp.symbols("a0 a1 c0", positive=True)
    base_det = require(sp.Matrix([[a1]]).det() == a1, "d=1: det [l] = l")
    base_diag = require(
        (sp.Matrix([[a1]]).inv() * sp.Matrix([[a0]]))[0, 0] == a0 / a1, "d=1: l₁⁻¹l₀ = l₀/l₁"
    )
    d = sp.Symbol("d", integer=True, positive=True)
    big_a, big_c = MatrixSymbol("A", d, d), MatrixSymbol("C", d, d)
    b, c = MatrixSymbol("b", d, 1), MatrixSymbol("c", d, 1)
    l1 = BlockMatrix([[big_a, ZeroMatrix(d, 1)], [b.T, Identity(1) * a1]])
    l0 = BlockMatrix([[big_c, ZeroMatrix(d, 1)], [c.T, Identity(1) * c0]])
    with sp.assuming(sp.Q.invertible(big_a)):
        det_next = sp.Determinant(l1).doit()
    step_det = require(
        sp.expand(canonical(det_next) - canonical(sp.Determinant(big_a)) * a1) == 0,
        "d → d+1: det [[A, 0], [bᵀ, l]] = det(A)·l (block determinant, A of symbolic size d)",
    )
    yield by_induction(
        base_det, step_det, "(e) det L = Πᵢ Lᵢᵢ for every lower-triangular L of any size d"
    )
    inverse = BlockMatrix([[big_a.I, ZeroMatrix(d, 1)], [-(b.T * big_a.I) / a1, Identity(1) / a1]])
    check = block_collapse(inverse * l1)
    product = block_collapse(inverse * l0)
    blocks_ok = (
        (check.blocks[0, 0].doit() == Identity(d))
        and sp.expand(check.blocks[1, 0].doit()) == ZeroMatrix(1, d)
        and check.blocks[1, 1].doit() == Identity(1)
        and product.blocks[0, 1].doit() == ZeroMatrix(d, 1)
        and product.blocks[0, 0].doit() == big_a.I * big_c
        and sp.simplify(product.blocks[1, 1].doit() - Identity(1) * c0 / a1) == ZeroMatrix(1, 1)
    )
    step_diag = require(
        blocks_ok,
        "d → d+1: [[A⁻¹, 0], [−bᵀA⁻¹/l₁, 1/l₁]] is the inverse of [[A, 0], [bᵀ, l₁]], and times "
        "[[C, 0], [cᵀ, l₀]] it gives [[A⁻¹C, 0], [*, l₀/l₁]]",
    )
    yield by_induction(
        base_diag,
        step_diag,
        "(e) M = L1⁻¹L0 is lower triangular with Mᵢᵢ = L0ᵢᵢ/L1ᵢᵢ, for every d",
    )


def _code_form(statement_rhs: sp.Expr) -> Iterator[Step]:
    p = statement_parts()
    d, mu0, mu1, s0, s1 = (p[k] for k in ("d", "mu_0", "mu_1", "Sigma_0", "Sigma_1"))
    l0, l1 = MatrixSymbol("L_0", d, d), MatrixSymbol("L_1", d, d)
    m = l1.I * l0
    x = l1.I * (l0 - l1)
    delta = l1.I * (mu1 - mu0)
    yield require(
        sp.expand(x.doit()).doit() == sp.expand((m - Identity(d)).doit()),
        "(e) X = L1⁻¹(L0 − L1) = L1⁻¹L0 − I = M − I (the solve the code does, d symbolic)",
    )
    yield from _triangular_lemmas()
    # With Σₖ = LₖLₖᵀ: tr M − d − log det M = Σᵢ(Mᵢᵢ − 1 − log Mᵢᵢ) by the lemmas.
    code = (
        _HALF * (sp.Trace(x.T * x) + sp.Trace(delta.T * delta))
        + sp.Trace(m)
        - d
        - sp.log(sp.Determinant(m))
    )
    stated = statement_rhs.subs({s0: l0 * l0.T, s1: l1 * l1.T})
    yield require_zero(
        canonical(stated) - canonical(code),
        "(e) with Σk = LkLkᵀ the statement equals ½(‖X‖²_F + ‖δ‖²) + tr M − d − log det M "
        "(‖X‖²_F = tr XᵀX, ‖δ‖² = δᵀδ = (μ1−μ0)ᵀΣ1⁻¹(μ1−μ0), tr(Σ1⁻¹Σ0) = tr MᵀM; d symbolic)",
    )
    i = sp.Symbol("i", integer=True, positive=True)
    diag = sp.IndexedBase("M", positive=True)
    per_term = sp.Sum(diag[i] - 1 - sp.log(diag[i]), (i, 1, d))
    yield require_zero(
        sp.expand(per_term).doit()
        - (sp.Sum(diag[i], (i, 1, d)) - d - sp.expand_log(sp.log(sp.Product(diag[i], (i, 1, d))))),
        "(e) tr M − d − log det M = Σᵢ (Mᵢᵢ − 1 − log Mᵢᵢ) (tr M = ΣMᵢᵢ, det M = ΠMᵢᵢ; d symbolic)",
    )
    yield from _scalar_forms()


def _scalar_forms() -> Iterator[Step]:
    """The scalar identities behind the code's diagonal terms (``klmath.gaussian``)."""
    a, b = sp.symbols("a b", positive=True)  # L0ᵢᵢ and L1ᵢᵢ (or σ0², σ1²)
    v = sp.Symbol("v", real=True)
    r = (a - b) / b
    yield require_zero(
        sp.expand_log(sp.log(sp.together(1 + r)) - sp.log(a / b), force=True),
        "(e) r = Mᵢᵢ − 1 = (L0ᵢᵢ − L1ᵢᵢ)/L1ᵢᵢ and v = log Mᵢᵢ = log1p(r) = log(L0ᵢᵢ/L1ᵢᵢ)",
    )
    big_m = sp.exp(v)
    yield require_zero(
        (big_m - 1 - sp.log(big_m)) - (sp.exp(v) - 1 - v),
        "(e) Mᵢᵢ − 1 − log Mᵢᵢ = eᵛ − 1 − v with v = log Mᵢᵢ",
    )
    # The no-grad path: u = sign(a − b)·log1p(|a − b|/min(a, b)), both orders.
    ge = sp.log(sp.together(1 + (a - b) / b)) - sp.log(a / b)
    lt = -sp.log(sp.together(1 + (b - a) / a)) - sp.log(a / b)
    yield require(
        sp.expand_log(ge, force=True) == 0 and sp.expand_log(lt, force=True) == 0,
        "(e) fast path: log(a/b) = log1p((a − b)/b) for a ≥ b and −log1p((b − a)/a) for a < b, "
        "i.e. sign(a − b)·log1p(|a − b|/min(a, b))",
    )
    u = sp.log(a / b)
    yield require_zero(
        sp.expand(((a - b) / b - u) - (sp.exp(u) - 1 - u)),
        "(e) beyond the series: r − u = (a − b)/b − u = eᵘ − 1 − u",
    )
    k = sp.Symbol("k", integer=True, nonnegative=True)
    series = sp.Sum(v ** (k + 2) / sp.factorial(k + 2), (k, 0, sp.oo)).doit()
    yield require_zero(
        sp.simplify(series - (sp.exp(v) - 1 - v)),
        "(e) eᵛ − 1 − v = Σ_{k≥0} v^(k+2)/(k+2)! (SymPy sums the series)",
    )
    yield from _library_constants()
    # The diagonal form: KL of N(μ0, σ0²) ‖ N(μ1, σ1²) per coordinate, as gaussian_kl_diag has it.
    kl1, (m0, m1, s0, s1) = _kl_1d()
    ratio = s0**2 / s1**2
    yield require_zero(
        sp.expand_log(
            kl1 - _HALF * (ratio - 1 - sp.log(ratio) + (m1 - m0) ** 2 / s1**2), force=True
        ),
        "(e) diagonal form: each coordinate is ½(s − 1 − log s + (μ1 − μ0)²/σ1²), s = σ0²/σ1² "
        "(so gaussian_kl_diag = Σᵢ of these by (c), (d))",
    )


def _library_constants() -> Iterator[Step]:
    """The constants of klmath.gaussian against the error bounds they are chosen for."""
    from klmath import gaussian as lib

    coeffs = lib._SERIES_COEFFS
    exact = [Fraction(1, int(sp.factorial(k + 2))) for k in range(len(coeffs))]
    # Each float is the nearest double to 1/(k+2)!: within half an ulp.
    nearest = all(
        abs(Fraction(c) - e) <= Fraction(math.ulp(c)) / 2
        for c, e in zip(coeffs, exact, strict=True)
    )
    yield require(
        nearest and len(coeffs) >= 1,
        f"(e) the library's {len(coeffs)} series coefficients are 1/(k+2)!, "
        f"k = 0..{len(coeffs) - 1}, each to half an ulp",
    )
    rho = Fraction(lib._SERIES_RADIUS)

    def truncation(terms: int) -> Fraction:
        # For |v| ≤ ρ: |omitted terms| / (eᵛ − 1 − v) ≤ 2ρ^K/(K+2)! / ((1 − ρ/(K+3))(1 − ρ/3)).
        head = 2 * rho**terms / Fraction(int(sp.factorial(terms + 2)))
        return head / ((1 - rho / (terms + 3)) * (1 - rho / 3))

    float64_ok = truncation(len(coeffs)) < Fraction(2) ** -53
    float32_ok = truncation(lib._SERIES_TERMS_FLOAT32) < Fraction(2) ** -24
    yield require(
        float64_ok and float32_ok and lib._SERIES_TERMS_FLOAT32 <= len(coeffs),
        f"(e) truncation for |v| < {float(rho)}: {len(coeffs)} terms leave < 2⁻⁵³ relative "
        f"(float64), {lib._SERIES_TERMS_FLOAT32} terms < 2⁻²⁴ (float32)",
    )
    yield require(
        0 < rho < 1 and rho.numerator == 1 and (rho.denominator & (rho.denominator - 1)) == 0,
        "(e) the series radius is a power of 2 below 1 (the no-grad path selects by floor(|u|/ρ))",
    )
    log1p_radius = Fraction(lib._LOG1P_RADIUS)
    t = sp.Symbol("t")
    cond = sp.Abs(t / ((1 + t) * sp.log(1 + t)))
    worst = max(float(cond.subs(t, sp.Rational(s) * log1p_radius)) for s in (-1, 1))
    yield require(
        0 < log1p_radius < 1 and worst <= 1.5,
        f"(e) log1p(r) is used for |r| < {float(log1p_radius)}, where its condition number "
        f"|r/((1+r) log1p r)| ≤ {worst:.3f} ≤ 1.5 (far from r = −1)",
    )


@claim(
    "KL(N(μ0,Σ0) ‖ N(μ1,Σ1)) = ½(tr(Σ1⁻¹Σ0) + (μ1−μ0)ᵀΣ1⁻¹(μ1−μ0) − d + log(det Σ1/det Σ0)),"
    " equal to the Cholesky form klmath evaluates, which the library's paths match",
    gaussian_statement,
    generality="all d ≥ 1",
    uses=(
        "change of variables for integrals under an invertible affine map",
        "spectral theorem (a symmetric matrix is QΛQᵀ, Q orthogonal)",
        "Cholesky factorisation of a positive-definite matrix",
    ),
)
def gaussian_kl_closed_form(statement: sp.Eq) -> Iterator[Step]:
    """Check claim 1 (seed problem 5) for symbolic d; see the module docstring."""
    from klmath.proofs.kl_properties import additivity_step
    from klmath.proofs.library import fast_paths_covered, gaussian_library_checks

    yield from _one_dimensional()
    yield from _affine_invariance()
    yield from _whitening()
    yield _factorisation_lemma()
    yield additivity_step()
    derived: sp.Expr | None = None
    for item in _derived_rhs():
        if isinstance(item, Step):
            yield item
        else:
            derived = item
    assert derived is not None
    cyclic, transpose = trace_lemmas()
    yield require(cyclic and transpose, "tr(XY) = tr(YX) and tr(Xᵀ) = tr(X) at symbolic sizes")
    p = statement_parts()
    l1 = MatrixSymbol("L_1", p["d"], p["d"])
    stated = statement.rhs.subs(p["Sigma_1"], l1 * l1.T)
    yield require_zero(
        canonical(derived) - canonical(stated),
        "(d) the derived KL ½(tr C + mᵀm − d − log det C), C = L1⁻¹Σ0L1⁻ᵀ, m = L1⁻¹(μ0 − μ1), "
        "equals the stated right-hand side with Σ1 = L1L1ᵀ",
    )
    yield from _code_form(statement.rhs)
    yield fast_paths_covered()
    yield from gaussian_library_checks(statement.rhs)


def gaussian_kl_reference(d: int) -> Callable[..., Any]:
    """Return the stated closed form for dimension d as an mpmath function.

    The function takes ``(mean0, cov0, mean1, cov1)`` as nested sequences of numbers
    (shapes (d,) and (d, d)), converts them to ``mpf`` exactly and evaluates the
    statement of :func:`gaussian_kl_closed_form` at the current ``mpmath.mp.dps``:
    the proved expression itself, not a re-typed copy.
    """
    from klmath.proofs.library import evaluate_gaussian_statement

    rhs = gaussian_statement().rhs

    def kl(mean0: Any, cov0: Any, mean1: Any, cov1: Any) -> Any:
        return evaluate_gaussian_statement(rhs, mean0, cov0, mean1, cov1)

    del d
    return kl
