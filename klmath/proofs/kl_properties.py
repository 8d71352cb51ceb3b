"""Claims 2 and 3: KL ≥ 0 with its equality case, and additivity (seed problem 4).

Claim 2 reduces Jensen's inequality for the convex function −log to one scalar
fact, ψ(u) = u − 1 − log u ≥ 0 on u > 0 with equality only at u = 1: the tangent
line of −log at m gives −log t ≥ −log m − (t − m)/m, and the gap is exactly
ψ(t/m). Averaging the tangent inequality with m = E[X] is Jensen's inequality;
with X = q/p under p, E_p[q/p] = ∫_{p>0} q ≤ 1 and −log is decreasing.

Claim 3 splits the log of a product density into a sum of logs and factors the
d-fold integral of each summand into one-variable integrals (Fubini–Tonelli);
every other factor is ∫f_k = 1.
"""

from __future__ import annotations

from collections.abc import Iterator

import sympy as sp

from klmath.proofs._record import ProofFailure, claim, require, require_zero
from klmath.proofs.gaussian import derived_gaussian_kl, gaussian_1d_integrals

__all__ = ["kl_additivity", "kl_nonnegative"]

_HALF = sp.Rational(1, 2)
_INF = (-sp.oo, sp.oo)


def _psi(u: sp.Expr) -> sp.Expr:
    return u - 1 - sp.log(u)


def _nonneg_expression() -> sp.Basic:
    x = sp.Symbol("x", real=True)
    p, q = sp.Function("p"), sp.Function("q")
    return sp.Ge(sp.Integral(p(x) * sp.log(p(x) / q(x)), (x, *_INF)), 0)


@claim(
    "KL(p ‖ q) = ∫ p log(p/q) ≥ 0, with equality if and only if p = q almost everywhere",
    _nonneg_expression,
)
def kl_nonnegative() -> Iterator[str]:
    """Check claim 2 (seed problem 4a): the Jensen step and the equality case."""
    u = sp.Symbol("u", positive=True)
    psi = _psi(u)
    yield require(
        sp.diff(-sp.log(u), u, 2).is_positive,
        "−log is strictly convex on u > 0: (−log u)″ = 1/u² > 0",
    )
    open_pos = sp.Interval.open(0, sp.oo)
    yield require(
        sp.solveset(sp.diff(psi, u) < 0, u, open_pos) == sp.Interval.open(0, 1)
        and sp.solveset(sp.diff(psi, u) > 0, u, open_pos) == sp.Interval.open(1, sp.oo)
        and psi.subs(u, 1) == 0,
        "ψ(u) = u − 1 − log u decreases on (0, 1), increases on (1, ∞) and ψ(1) = 0: "
        "so ψ ≥ 0 with equality only at u = 1",
    )
    t, m = sp.symbols("t m", positive=True)
    tangent = -sp.log(m) - (t - m) / m
    yield require_zero(
        sp.expand_log(-sp.log(t) - tangent - _psi(t / m)),
        "tangent line of −log at m: −log t − (−log m − (t − m)/m) = ψ(t/m) ≥ 0",
    )
    # Jensen on a 3-point distribution with symbolic weights and values: averaging
    # the tangent inequality at m = E[X] leaves exactly E[−log X] + log E[X].
    w = sp.symbols("w0:3", positive=True)
    xs = sp.symbols("X0:3", positive=True)
    weights = [w[0], w[1], 1 - w[0] - w[1]]
    mean = sum(wk * xk for wk, xk in zip(weights, xs, strict=True))
    gap = sum(wk * _psi(xk / mean) for wk, xk in zip(weights, xs, strict=True))
    jensen = sum(wk * -sp.log(xk) for wk, xk in zip(weights, xs, strict=True)) + sp.log(mean)
    yield require_zero(
        sp.expand(sp.expand_log(gap - jensen, force=True)),
        "Jensen: Σ wₖψ(Xₖ/E[X]) = E[−log X] − (−log E[X]) for Σwₖ = 1, so E[−log X] ≥ −log E[X]",
    )
    ints = gaussian_1d_integrals()
    _, m0, m1, s0, s1 = ints["symbols"]
    yield require_zero(
        ints["ratio_mass"] - 1,
        "E_p[q/p] = ∫q = 1 for Gaussians p, q (integrated by SymPy), −log 1 = 0",
    )
    x = sp.Symbol("x", real=True)
    partial = sp.integrate(sp.exp(-x), (x, 0, 1))  # p = U(0,1), q = Exp(1): support of p ⊊ R₊
    yield require(
        sp.Lt(partial, 1) == sp.true and sp.diff(-sp.log(u), u).is_negative,
        "E_p[q/p] = ∫_{p>0} q ≤ 1 (e.g. 1 − 1/e for p = U(0,1), q = Exp(1)) and −log is "
        "decreasing, so −log E_p[q/p] ≥ 0",
    )
    yield require(
        sp.solveset(sp.diff(psi, u), u, open_pos) == sp.FiniteSet(1),
        "equality: ψ(q/p) = 0 p-a.e. forces q/p = 1 (the only critical point, strict "
        "convexity), then ∫_{p>0} q = 1, so q = p almost everywhere",
    )
    closed_1d = sp.log(s1 / s0) + (s0**2 + (m0 - m1) ** 2) / (2 * s1**2) - _HALF
    yield require_zero(
        sp.expand_log(closed_1d - (_HALF * _psi(s0**2 / s1**2) + (m0 - m1) ** 2 / (2 * s1**2))),
        "Gaussian instance: KL = ½ψ(σ0²/σ1²) + (μ0−μ1)²/(2σ1²) ≥ 0, zero iff σ0 = σ1, μ0 = μ1",
    )
    for d in (2, 3):
        kl, (mean0, cov0, mean1, cov1) = derived_gaussian_kl(d)
        same = dict(zip(list(mean1) + list(cov1), list(mean0) + list(cov0), strict=True))
        yield require_zero(
            sp.expand_log(kl.subs(same), force=True), f"d={d}: KL(N(μ,Σ) ‖ N(μ,Σ)) = 0 exactly"
        )


def _additivity_expression() -> sp.Basic:
    d = sp.Symbol("d", integer=True, positive=True)
    i = sp.Symbol("i", integer=True, positive=True)
    kl = sp.Function("D_KL")
    x, y, xi, yi = sp.symbols("X Y X_i Y_i")
    return sp.Eq(kl(x, y), sp.Sum(kl(xi, yi), (i, 1, d)))


def _split_integral(expr: sp.Expr, xs: tuple[sp.Symbol, ...]) -> sp.Expr:
    """Return ∫_{R^d} expr dx as a sum of products of 1-D integrals (linearity + Fubini).

    Each summand of the expanded integrand must separate into one factor per
    variable; the d-fold integral of such a product is the product of the 1-D
    integrals (Fubini–Tonelli, for integrable factors).
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


def _one_dim_linear(expr: sp.Expr, var: sp.Symbol) -> sp.Expr:
    """Return ∫ expr d var split by linearity into one Integral per term."""
    return sp.Add(*[sp.Integral(t, (var, *_INF)) for t in sp.Add.make_args(sp.expand(expr))])


@claim(
    "for independent coordinates, KL(X ‖ Y) = Σᵢ KL(Xᵢ ‖ Yᵢ)",
    _additivity_expression,
)
def kl_additivity() -> Iterator[str]:
    """Check claim 3 (seed problem 4b) for general factored densities and Gaussians."""
    for d in (2, 3):
        xs = sp.symbols(f"x1:{d + 1}", real=True)
        fs = [sp.Function(f"f{k + 1}", positive=True)(xs[k]) for k in range(d)]
        gs = [sp.Function(f"g{k + 1}", positive=True)(xs[k]) for k in range(d)]
        density = sp.Mul(*fs)
        log_ratio = sp.expand_log(sp.log(density / sp.Mul(*gs)))
        split = sum((sp.log(f) - sp.log(g) for f, g in zip(fs, gs, strict=True)), sp.Integer(0))
        yield require_zero(
            log_ratio - split, f"d={d}: log(Πfᵢ/Πgᵢ) = Σ(log fᵢ − log gᵢ) for positive densities"
        )
        total = _split_integral(density * log_ratio, xs)
        normalised = total.subs(
            {sp.Integral(f, (v, *_INF)): 1 for f, v in zip(fs, xs, strict=True)}
        )
        target = sum(
            (
                _one_dim_linear(f * sp.expand_log(sp.log(f / g)), v)
                for f, g, v in zip(fs, gs, xs, strict=True)
            ),
            sp.Integer(0),
        )
        yield require_zero(
            normalised - target,
            f"d={d}: each term's {d}-fold integral factors into 1-D integrals (Fubini) and "
            "∫fₖ = 1 leaves Σ ∫fᵢ log(fᵢ/gᵢ)",
        )
    # Discrete densities on a 3 × 3 grid, normalisation imposed by substitution.
    a, b, c, e = (sp.symbols(f"{n}0:3", positive=True) for n in "abcd")
    norm = {a[2]: 1 - a[0] - a[1], b[2]: 1 - b[0] - b[1]}
    joint = sum(
        a[i] * b[j] * sp.expand_log(sp.log(a[i] * b[j] / (c[i] * e[j])))
        for i in range(3)
        for j in range(3)
    )
    marginals = sum(a[i] * sp.expand_log(sp.log(a[i] / c[i])) for i in range(3)) + sum(
        b[j] * sp.expand_log(sp.log(b[j] / e[j])) for j in range(3)
    )
    yield require_zero(
        (joint - marginals).subs(norm),
        "discrete 3 × 3 grid: Σᵢⱼ aᵢbⱼ log(aᵢbⱼ/(cᵢdⱼ)) = Σ aᵢ log(aᵢ/cᵢ) + Σ bⱼ log(bⱼ/dⱼ)",
    )
    # Gaussians: the factored integrals evaluated by SymPy, against the d = 2 derivation.
    ints = gaussian_1d_integrals()
    kl_1d, (_, m0, m1, s0, s1) = ints["kl"], ints["symbols"]
    kl2, (mean0, cov0, mean1, cov1) = derived_gaussian_kl(2)
    diagonal = {cov0[0, 1]: 0, cov1[0, 1]: 0}
    per_axis = [
        kl_1d.subs({m0: mean0[k], m1: mean1[k], s0: sp.sqrt(cov0[k, k]), s1: sp.sqrt(cov1[k, k])})
        for k in range(2)
    ]
    yield require_zero(
        sp.expand_log(kl2.subs(diagonal) - per_axis[0] - per_axis[1], force=True),
        "Gaussians, d=2 diagonal: the derived KL equals the sum of the two 1-D KL integrals",
    )
