"""Claims 2 and 3: KL ≥ 0 with its equality case, and additivity (seed problem 4).

Claim 2, for any densities p, q (no finite support, no Gaussian special case), by
the pointwise route: with u = q/p on {p > 0},

    −log u = ψ(u) − (u − 1),   ψ(u) = u − 1 − log u ≥ 0,

so KL(p ‖ q) = ∫_{p>0} p·(−log(q/p)) = E_p[ψ(q/p)] + (1 − ∫_{p>0} q), a sum of two
non-negative terms (∫_{p>0} p = 1 and ∫_{p>0} q ≤ ∫ q = 1). KL = 0 forces both to
vanish: ψ(q/p) = 0 p-a.e., i.e. q = p on {p > 0} (ψ(u) = 0 ⇔ u = 1), and
∫_{p>0} q = 1, so q = 0 a.e. off {p > 0}: p = q a.e.

Claim 3, for every d by induction: the base case d = 1 is the definition; the step
splits x = (x′, y) with p = P(x′)f(y), q = Q(x′)g(y): the log of the ratio splits,
each term's integral factors (Fubini–Tonelli) and ∫P = ∫f = 1 leave
KL(P ‖ Q) + KL(f ‖ g); the induction hypothesis turns KL(P ‖ Q) into the sum over
the first d coordinates.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

import sympy as sp

from klmath.proofs._record import ProofFailure, Step, by_induction, claim, require, require_zero

__all__ = ["additivity_step", "kl_additivity", "kl_nonnegative"]

_INF = (-sp.oo, sp.oo)


def _psi(u: sp.Expr) -> sp.Expr:
    return u - 1 - sp.log(u)


def nonnegative_statement() -> sp.Basic:
    """The stored statement of claim 2: KL(p ‖ q) ≥ 0 for any densities p, q."""
    return sp.Ge(sp.Symbol("KL(p‖q)"), 0)


@claim(
    "KL(p ‖ q) = ∫ p log(p/q) ≥ 0 for any densities p, q, with equality iff p = q almost "
    "everywhere",
    nonnegative_statement,
    generality="all densities p, q (any dimension, any supports)",
    uses=(
        "linearity and monotonicity of the integral",
        "a non-negative function with integral 0 vanishes almost everywhere",
    ),
)
def kl_nonnegative(statement: sp.Basic) -> Iterator[Step]:
    """Check claim 2 (seed problem 4a) by the pointwise route; see the module docstring."""
    u = sp.Symbol("u", positive=True)
    psi = _psi(u)
    yield require_zero(
        -sp.log(u) - (psi - (u - 1)), "pointwise: −log u = ψ(u) − (u − 1) with ψ(u) = u − 1 − log u"
    )
    open_pos = sp.Interval.open(0, sp.oo)
    yield require(
        sp.solveset(sp.diff(psi, u) < 0, u, open_pos) == sp.Interval.open(0, 1)
        and sp.solveset(sp.diff(psi, u) > 0, u, open_pos) == sp.Interval.open(1, sp.oo)
        and psi.subs(u, 1) == 0
        and sp.limit(psi, u, 0, "+") == sp.oo,
        "ψ decreases on (0, 1), increases on (1, ∞), ψ(1) = 0 and ψ(0⁺) = ∞: ψ ≥ 0 on [0, ∞]",
    )
    p, q = sp.symbols("p q", positive=True)  # p(x) > 0, q(x) > 0 at a point of {p > 0}
    yield require_zero(
        p * (-sp.log(q / p)) - (p * _psi(q / p) + (p - q)),
        "integrand on {p > 0}: p·(−log(q/p)) = p·ψ(q/p) + (p − q)",
    )
    # Integrating over {p > 0}: ∫p = 1, so KL = E_p[ψ(q/p)] + (1 − ∫_{p>0} q) =: A + B.
    mass_inside = sp.Symbol("∫_{p>0} q", nonnegative=True)
    mass_outside = sp.Symbol("∫_{p=0} q", nonnegative=True)
    yield require(
        sp.Ge(1 - mass_inside, 0).subs(mass_inside, 1 - mass_outside) == sp.true,
        "B = 1 − ∫_{p>0} q = ∫_{p=0} q ≥ 0 since ∫q = ∫_{p>0} q + ∫_{p=0} q = 1 and q ≥ 0",
    )
    a_term = sp.Symbol("E_p[ψ(q/p)]", nonnegative=True)  # the integral of p·ψ ≥ 0
    b_nonneg = sp.Symbol("B", nonnegative=True)
    lhs = statement.lhs if isinstance(statement, sp.core.relational.Relational) else None
    if lhs is None:
        raise ProofFailure(f"the statement {statement} is not a relation")
    verdict = statement.subs(lhs, a_term + b_nonneg)
    yield require(
        verdict,
        "KL = E_p[ψ(q/p)] + (1 − ∫_{p>0} q), a sum of two non-negative terms: the stated "
        f"relation {statement} follows",
    )
    decreasing = sp.solveset(sp.diff(psi, u) < 0, u, open_pos) == sp.Interval.open(0, 1)
    increasing = sp.solveset(sp.diff(psi, u) > 0, u, open_pos) == sp.Interval.open(1, sp.oo)
    yield require(
        decreasing and increasing and psi.subs(u, 1) == 0,
        "equality: KL = 0 forces E_p[ψ(q/p)] = 0, so ψ(q/p) = 0 p-a.e.; ψ is strictly monotone on "
        "(0, 1) and on (1, ∞) with ψ(1) = 0, so ψ(u) = 0 ⇔ u = 1: q = p on {p > 0}; and B = 0 "
        "gives ∫_{p=0} q = 0: p = q a.e.",
    )
    yield require_zero(
        psi.subs(u, 1),
        "conversely p = q gives u = q/p = 1, ψ(1) = 0 and B = 0: KL(p ‖ p) = 0",
    )
    from klmath.proofs.library import nonnegativity_library_checks

    yield from nonnegativity_library_checks()


# --- claim 3 ------------------------------------------------------------------------


def additivity_statement() -> sp.Basic:
    """The stored statement of claim 3: KL(X ‖ Y) = Σᵢ₌₁ᵈ KL(Xᵢ ‖ Yᵢ)."""
    d = sp.Symbol("d", integer=True, positive=True)
    i = sp.Symbol("i", integer=True, positive=True)
    kl = sp.Function("D_KL")
    x, y = sp.IndexedBase("X"), sp.IndexedBase("Y")
    whole = kl(sp.Symbol("X_{1..d}"), sp.Symbol("Y_{1..d}"))
    return sp.Eq(whole, sp.Sum(kl(x[i], y[i]), (i, 1, d)))


def _split_integral(expr: sp.Expr, xs: tuple[sp.Symbol, ...]) -> sp.Expr:
    """Return ∫ expr dx as a sum of products of one-block integrals (linearity + Fubini).

    Each summand of the expanded integrand must separate into one factor per
    variable; the integral of such a product is the product of the integrals
    (Fubini–Tonelli, for integrable factors).
    """
    total = sp.Integer(0)
    for term in sp.Add.make_args(sp.expand(expr)):
        parts = sp.separatevars(term, symbols=list(xs), dict=True)
        if parts is None:
            raise ProofFailure(f"integrand term {term} does not separate in {xs}")
        factor = parts.pop("coeff")
        for var in xs:
            factor *= sp.Integral(parts.get(var, sp.Integer(1)), (var, *_INF))
        total += factor
    return total


def _two_block_lemma() -> Step:
    """KL(P⊗f ‖ Q⊗g) = KL(P ‖ Q) + KL(f ‖ g) for any positive densities of two blocks."""
    xb, y = sp.symbols("x' y", real=True)  # x′ stands for the block of the first d coordinates
    big_p, big_q = sp.Function("P", positive=True)(xb), sp.Function("Q", positive=True)(xb)
    f, g = sp.Function("f", positive=True)(y), sp.Function("g", positive=True)(y)
    joint = big_p * f
    log_ratio = sp.expand_log(sp.log(joint / (big_q * g)))
    total = _split_integral(joint * log_ratio, (xb, y))
    normalised = total.subs({sp.Integral(big_p, (xb, *_INF)): 1, sp.Integral(f, (y, *_INF)): 1})

    def kl(a: sp.Expr, b: sp.Expr, var: sp.Symbol) -> sp.Expr:
        return sp.Add(
            *[
                sp.Integral(t, (var, *_INF))
                for t in sp.Add.make_args(sp.expand(a * sp.expand_log(sp.log(a / b))))
            ]
        )

    return require_zero(
        normalised - kl(big_p, big_q, xb) - kl(f, g, y),
        "two blocks: log(P f/(Q g)) splits, each term's integral factors (Fubini), and "
        "∫P = ∫f = 1 leave KL(P ‖ Q) + KL(f ‖ g)",
    )


def _peel(expr: sp.Expr, d: sp.Symbol) -> sp.Expr:
    """Rewrite each Σᵢ₌ₐ^{d+1} as Σᵢ₌ₐ^d + (term at d+1): the recursive definition of Σ."""

    def peel(s: sp.Sum) -> sp.Expr:
        ((i, lo, hi),) = s.limits
        return sp.Sum(s.function, (i, lo, hi - 1)) + s.function.subs(i, hi)

    return expr.replace(
        lambda e: isinstance(e, sp.Sum) and len(e.limits) == 1 and e.limits[0][2] == d + 1, peel
    )


def _induction(statement: sp.Eq) -> list[Step]:
    d = statement.rhs.free_symbols & {s for s in statement.free_symbols if s.name == "d"}
    if len(d) != 1:
        raise ProofFailure(f"the statement {statement} has no single size symbol d")
    (dim,) = d
    kl = sp.Function("D_KL")
    x, y = sp.IndexedBase("X"), sp.IndexedBase("Y")
    # Base: one coordinate, KL_1 = KL(X₁ ‖ Y₁) by definition.
    base = require_zero(
        statement.rhs.subs(dim, 1).doit() - kl(x[1], y[1]),
        "d=1: the stated sum with one term is KL(X₁ ‖ Y₁)",
    )
    lemma = _two_block_lemma()
    # Step: KL_{d+1} = KL_d + KL(X_{d+1} ‖ Y_{d+1}) (two-block lemma), KL_d = stated sum (IH).
    step = require_zero(
        _peel(statement.rhs.subs(dim, dim + 1), dim) - (statement.rhs + kl(x[dim + 1], y[dim + 1])),
        "d → d+1: by the two-block lemma with P, Q the first d coordinates and the hypothesis "
        "for d, the stated sum gains exactly KL(X_{d+1} ‖ Y_{d+1})",
    )
    result = by_induction(base, step, "KL(X ‖ Y) = Σᵢ KL(Xᵢ ‖ Yᵢ) for every d ≥ 1")
    return [base, lemma, step, result]


@functools.cache
def additivity_step() -> Step:
    """Claim 3's induction, as one checked step (claim 1 uses it)."""
    return _induction(additivity_statement())[-1]


@claim(
    "for independent coordinates, KL(X ‖ Y) = Σᵢ₌₁ᵈ KL(Xᵢ ‖ Yᵢ)",
    additivity_statement,
    generality="all d ≥ 1",
    uses=("Fubini–Tonelli for products of densities",),
)
def kl_additivity(statement: sp.Eq) -> Iterator[Step]:
    """Check claim 3 (seed problem 4b) for every d by induction."""
    yield from _induction(statement)
    from klmath.proofs.library import additivity_library_checks

    yield from additivity_library_checks()
