"""Claim 6: the 1-D flow is increasing, bounded, and a sub-probability model, for every n.

With Φ the standard normal CDF, φ = Φ′, and θ = (w, μ, τ) ∈ ℝ^{3n},

    f(x) = Σᵢ₌₁ⁿ e^{wᵢ} (Φ((x − μᵢ)/e^{τᵢ}) − ½),    S = Σᵢ₌₁ⁿ e^{wᵢ}.

Checked with n symbolic (SymPy sums over indexed symbols wᵢ, μᵢ, τᵢ), every piece
derived from the f of the stored statement:

* f′(x) = Σᵢ e^{wᵢ−τᵢ} φ((x − μᵢ)/e^{τᵢ}) (SymPy differentiates the sum), a sum of n
  positive terms: f′ > 0;
* the limit of each term as x → ±∞ is computed by SymPy; the limit of the finite
  sum is the sum of the limits, ±S/2, compared with the stated limits;
* Φ∘f is an antiderivative of φ(f)f′, so ∫φ(f(x))f′(x)dx = Φ(S/2) − Φ(−S/2)
  = 2Φ(S/2) − 1, compared with the stated mass, and 1 − mass = 2Φ(−S/2) > 0;
* the library: :mod:`klmath.flow1d` against the statement at 50 digits.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

import mpmath
import sympy as sp

from klmath.proofs._record import ProofFailure, Step, claim, require, require_zero

__all__ = ["flow1d_facts", "flow1d_parts", "flow1d_reference", "flow1d_statement"]

_HALF = sp.Rational(1, 2)
_Z = sp.Symbol("z", real=True)
PHI = sp.Function("Phi")
"""Φ, the standard normal CDF, as it appears in the statement."""
SMALL_PHI = sp.Function("phi")
"""φ, the standard normal density, as it appears in the statement."""
DEFINITIONS = {
    PHI: sp.Lambda(_Z, (1 + sp.erf(_Z / sp.sqrt(2))) / 2),
    SMALL_PHI: sp.Lambda(_Z, sp.exp(-(_Z**2) / 2) / sp.sqrt(2 * sp.pi)),
}
"""Φ(z) = (1 + erf(z/√2))/2 and φ(z) = e^{−z²/2}/√(2π)."""


@functools.cache
def _symbols() -> dict[str, Any]:
    return {
        "x": sp.Symbol("x", real=True),
        "n": sp.Symbol("n", integer=True, positive=True),
        "i": sp.Symbol("i", integer=True, positive=True),
        "w": sp.IndexedBase("w", real=True),
        "mu": sp.IndexedBase("mu", real=True),
        "tau": sp.IndexedBase("tau", real=True),
    }


def flow1d_statement() -> sp.And:
    """The stored statement: f′ > 0, f(±∞) = ±S/2, ∫φ(f)f′ = 2Φ(S/2) − 1, n symbolic."""
    s = _symbols()
    x, n, i, w, mu, tau = (s[k] for k in ("x", "n", "i", "w", "mu", "tau"))
    f = sp.Sum(sp.exp(w[i]) * (PHI((x - mu[i]) / sp.exp(tau[i])) - _HALF), (i, 1, n))
    total = sp.Sum(sp.exp(w[i]), (i, 1, n))
    return sp.And(
        sp.Gt(sp.Derivative(f, x), 0),
        sp.Eq(sp.Limit(f, x, sp.oo), total / 2),
        sp.Eq(sp.Limit(f, x, -sp.oo), -total / 2),
        sp.Eq(
            sp.Integral(SMALL_PHI(f) * sp.Derivative(f, x), (x, -sp.oo, sp.oo)),
            2 * PHI(total / 2) - 1,
        ),
        evaluate=False,
    )


def _define(expr: sp.Expr) -> sp.Expr:
    for func, definition in DEFINITIONS.items():
        expr = expr.replace(func, definition)
    return expr


def flow1d_parts(statement: sp.And) -> dict[str, Any]:
    """The statement's pieces: f, the stated limits and mass (Φ, φ defined), and the symbols."""
    # And() orders its arguments canonically: find each part by what it is about.
    found: dict[str, Any] = {}
    for part in statement.args:
        lhs = getattr(part, "lhs", None)
        if isinstance(lhs, sp.Derivative):
            found["derivative"] = part
        elif isinstance(lhs, sp.Limit) and isinstance(part, sp.Eq):
            found["upper" if lhs.args[2] == sp.oo else "lower"] = part
        elif isinstance(lhs, sp.Integral) and isinstance(part, sp.Eq):
            found["mass"] = part
    if set(found) != {"derivative", "upper", "lower", "mass"}:
        raise ProofFailure(f"the statement {statement} does not have the four stated parts")
    derivative, upper, lower, mass = (found[k] for k in ("derivative", "upper", "lower", "mass"))
    f = derivative.lhs.expr
    s = _symbols()
    f_def = _define(f)
    return {
        **s,
        "relation": derivative,
        "f": f_def,
        "df": sp.diff(f_def, s["x"]),
        "upper": _define(upper.rhs),
        "lower": _define(lower.rhs),
        "mass": _define(mass.rhs),
        "limit_lhs": (upper.lhs, lower.lhs),
        "integral": mass.lhs,
    }


@claim(
    "for f(x) = Σᵢ₌₁ⁿ e^{wᵢ}(Φ((x−μᵢ)/e^{τᵢ}) − ½): f′ > 0, f(±∞) = ±S/2 with S = Σe^{wᵢ}, "
    "and ∫φ(f(x))f′(x)dx = 2Φ(S/2) − 1 < 1 (a sub-probability density)",
    flow1d_statement,
    generality="all n ≥ 1",
    uses=(
        "the limit of a finite sum is the sum of the limits",
        "fundamental theorem of calculus for the improper integral of a continuous derivative",
    ),
)
def flow1d_facts(statement: sp.And) -> Iterator[Step]:
    """Check claim 6 (seed problem 2) for symbolic n; see the module docstring."""
    parts = flow1d_parts(statement)
    x, i, w, mu, tau = (parts[k] for k in ("x", "i", "w", "mu", "tau"))
    z = sp.Symbol("z", real=True)
    yield require_zero(
        sp.diff(_define(PHI(z)), z) - _define(SMALL_PHI(z)), "Φ′ = φ for Φ(z) = (1 + erf(z/√2))/2"
    )
    df = parts["df"]
    u = (x - mu[i]) * sp.exp(-tau[i])
    term = sp.exp(w[i] - tau[i]) * _define(SMALL_PHI(u))
    if not isinstance(df, sp.Sum):
        raise ProofFailure(f"f′ = {df} is not a sum over the n terms")
    yield require_zero(
        sp.powsimp(sp.expand(df.function - term)),
        "f′(x) = Σᵢ e^{wᵢ−τᵢ} φ((x−μᵢ)/e^{τᵢ}) (SymPy differentiates the sum of n terms)",
    )
    yield require(
        term.is_positive is True
        and df.is_positive is True
        and parts["relation"].func(df, parts["relation"].rhs) == sp.true,
        "each of the n terms is positive for all real x, w, μ, τ, so the sum is: the stated "
        f"{parts['relation'].func.__name__}(f′, 0) holds for every n ≥ 1",
    )
    if not isinstance(parts["f"], sp.Sum):
        raise ProofFailure("f is not a sum over the n terms")
    summand = parts["f"].function
    limits = [sp.limit(summand, x, sp.oo), sp.limit(summand, x, -sp.oo)]
    n, (lo, hi) = parts["n"], parts["f"].limits[0][1:]
    derived = [sp.Sum(lim, (i, lo, hi)) for lim in limits]
    yield require(
        all(lim.is_finite for lim in limits),
        f"lim_(x→±∞) of each term e^{{wᵢ}}(Φ(uᵢ) − ½) = {limits[0]}, {limits[1]} (SymPy), "
        "u = (x − μᵢ)e^{−τᵢ} increasing in x",
    )
    for label, got, stated in (
        ("+", derived[0], parts["upper"]),
        ("−", derived[1], parts["lower"]),
    ):
        yield require_zero(
            sp.simplify(got - stated),
            f"lim_(x→{label}∞) f(x) = Σᵢ lim(term) = {label}S/2: equals the stated limit",
        )
    g = sp.Function("g", real=True)(x)
    yield require_zero(
        sp.diff(_define(PHI(g)), x) - _define(SMALL_PHI(g)) * sp.diff(g, x),
        "substitution u = f(x): d/dx Φ(f(x)) = φ(f(x)) f′(x) for any differentiable f",
    )
    yield require_zero(
        sp.diff(_define(PHI(parts["f"])), x) - _define(SMALL_PHI(parts["f"])) * df,
        "… and for this f (a sum of n terms): Φ∘f is an antiderivative of φ(f)f′",
    )
    mass = _define(PHI(derived[0])) - _define(PHI(derived[1]))
    yield require_zero(
        sp.simplify(mass - parts["mass"]),
        "∫φ(f)f′ dx = Φ(f(∞)) − Φ(f(−∞)) = Φ(S/2) − Φ(−S/2), equal to the stated mass 2Φ(S/2) − 1",
    )
    total = sp.Sum(sp.exp(w[i]), (i, lo, hi))
    missing = sp.simplify(1 - parts["mass"])
    yield require(
        total.is_positive is True
        and sp.simplify((missing - sp.erfc(total / (2 * sp.sqrt(2)))).rewrite(sp.erf)) == 0,
        "1 − (2Φ(S/2) − 1) = erfc(S/(2√2)) = 2Φ(−S/2) > 0 with S = Σe^{wᵢ} > 0: mass < 1, a "
        "sub-probability density, for every n",
    )
    del n
    from klmath.proofs.library import flow1d_library_checks

    yield from flow1d_library_checks(parts)


@functools.cache
def flow1d_reference(n: int = 5, modules: str = "mpmath") -> dict[str, Callable[..., Any]]:
    """Return the stated flow with n terms as numeric functions (lambdified).

    Keys ``"transform"``, ``"derivative"``, ``"log_prob"`` take ``(x, w, mu, tau)`` with x
    a number and w, mu, tau sequences of length n; ``"mass"`` takes ``w``. Built from
    the statement of :func:`flow1d_facts` with n substituted; with ``modules="mpmath"``
    inputs are converted to ``mpf`` and everything evaluates at ``mpmath.mp.dps``.
    """
    parts = flow1d_parts(flow1d_statement())
    x, w, mu, tau = (parts[k] for k in ("x", "w", "mu", "tau"))
    ws, mus, taus = (sp.symbols(f"{name}1:{n + 1}", real=True) for name in ("w", "mu", "tau"))
    flat = {w[k + 1]: ws[k] for k in range(n)} | {mu[k + 1]: mus[k] for k in range(n)}
    flat |= {tau[k + 1]: taus[k] for k in range(n)}

    def explicit(expr: sp.Expr) -> sp.Expr:
        return expr.subs(parts["n"], n).doit().xreplace(flat)

    f, df = explicit(parts["f"]), explicit(parts["df"])
    log_prob = sp.log(_define(SMALL_PHI(f))) + sp.log(df)
    args = [x, list(ws), list(mus), list(taus)]
    convert: Callable[[Any], Any] = mpmath.mpmathify if modules == "mpmath" else float

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        def numeric(*values: Any) -> Any:
            return fn(
                *[
                    [convert(v) for v in value] if hasattr(value, "__len__") else convert(value)
                    for value in values
                ]
            )

        return numeric

    out = {
        name: wrap(sp.lambdify(args, expr, modules=modules))
        for name, expr in (("transform", f), ("derivative", df), ("log_prob", log_prob))
    }
    out["mass"] = wrap(sp.lambdify([list(ws)], explicit(parts["mass"]), modules=modules))
    return out
