"""Claim 6: the seed's 1-D flow is increasing, bounded, and a sub-probability model.

With Φ_{μ,σ} the N(μ, σ²) CDF and θ = (w, μ, τ) ∈ ℝ^{3n},

    f(x) = Σᵢ e^{wᵢ} (Φ((x − μᵢ)/e^{τᵢ}) − ½),    S = Σᵢ e^{wᵢ}.

Checked for the seed's n = 5 with fully symbolic w, μ, τ:

* f′(x) = Σᵢ e^{wᵢ−τᵢ} φ((x − μᵢ)/e^{τᵢ}) > 0;
* f(x) → ±S/2 as x → ±∞ (each term through the increasing affine change
  u = (x − μᵢ)/e^{τᵢ});
* ∫ φ(f(x)) f′(x) dx = 2Φ(S/2) − 1 by the substitution u = f(x) (Φ∘f is an
  antiderivative), so the model density φ(f(x)) f′(x) has total mass
  erf(S/(2√2)) < 1: a sub-probability density.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

import mpmath
import sympy as sp

from klmath.proofs._record import claim, require, require_zero

__all__ = ["flow1d_facts", "flow1d_reference", "flow1d_symbols"]

N_TERMS = 5
_HALF = sp.Rational(1, 2)


def _cdf(z: sp.Expr) -> sp.Expr:
    return (1 + sp.erf(z / sp.sqrt(2))) / 2


def _pdf(z: sp.Expr) -> sp.Expr:
    return sp.exp(-(z**2) / 2) / sp.sqrt(2 * sp.pi)


@functools.cache
def flow1d_symbols(n: int = N_TERMS) -> dict[str, Any]:
    """Return the symbolic flow with n terms.

    Keys: ``"x"``, ``"w"``, ``"mu"``, ``"tau"`` (tuples of real symbols),
    ``"f"`` (the map), ``"df"`` (its x-derivative), ``"S"`` (Σ e^{wᵢ}),
    ``"mass"`` (2Φ(S/2) − 1), ``"log_prob"`` (log φ(f(x)) + log f′(x)).
    """
    x = sp.Symbol("x", real=True)
    w = sp.symbols(f"w1:{n + 1}", real=True)
    mu = sp.symbols(f"mu1:{n + 1}", real=True)
    tau = sp.symbols(f"tau1:{n + 1}", real=True)
    f = sum(
        (sp.exp(w[i]) * (_cdf((x - mu[i]) * sp.exp(-tau[i])) - _HALF) for i in range(n)),
        sp.Integer(0),
    )
    df = sp.diff(f, x)
    s = sum((sp.exp(wi) for wi in w), sp.Integer(0))
    return {
        "x": x,
        "w": w,
        "mu": mu,
        "tau": tau,
        "f": f,
        "df": df,
        "S": s,
        "mass": 2 * _cdf(s / 2) - 1,
        "log_prob": sp.log(_pdf(f)) + sp.log(df),
    }


def _expression() -> sp.Basic:
    x = sp.Symbol("x", real=True)
    i, n = sp.symbols("i n", integer=True, positive=True)
    w, mu, tau = sp.IndexedBase("w"), sp.IndexedBase("mu"), sp.IndexedBase("tau")
    big_phi, small_phi = sp.Function("Phi"), sp.Function("phi")
    f = sp.Sum(sp.exp(w[i]) * (big_phi((x - mu[i]) / sp.exp(tau[i])) - _HALF), (i, 1, n))
    s = sp.Sum(sp.exp(w[i]), (i, 1, n))
    return sp.And(
        sp.Gt(sp.Derivative(f, x), 0),
        sp.Eq(sp.Limit(f, x, sp.oo), s / 2),
        sp.Eq(sp.Limit(f, x, -sp.oo), -s / 2),
        sp.Eq(
            sp.Integral(small_phi(f) * sp.Derivative(f, x), (x, -sp.oo, sp.oo)),
            2 * big_phi(s / 2) - 1,
        ),
    )


@claim(
    "for f(x) = Σ e^{wᵢ}(Φ((x−μᵢ)/e^{τᵢ}) − ½): f′ > 0, f(±∞) = ±S/2 with S = Σe^{wᵢ}, and "
    "∫φ(f(x))f′(x)dx = 2Φ(S/2) − 1 < 1 (a sub-probability density)",
    _expression,
)
def flow1d_facts() -> Iterator[str]:
    """Check claim 6 (seed problem 2) for n = 5 symbolic terms."""
    sym = flow1d_symbols()
    x, w, mu, tau, f, df, s = (sym[k] for k in ("x", "w", "mu", "tau", "f", "df", "S"))
    n = len(w)
    terms = [sp.exp(w[i] - tau[i]) * _pdf((x - mu[i]) * sp.exp(-tau[i])) for i in range(n)]
    yield require_zero(
        sp.powsimp(df - sp.Add(*terms)),
        f"n={n}: f′(x) = Σ e^(wᵢ−τᵢ) φ((x−μᵢ)/e^τᵢ) (chain rule, Φ′ = φ)",
    )
    yield require(
        sp.Add(*terms).is_positive,
        "f′(x) > 0 for all real x, w, μ, τ: a sum of products of exponentials, each positive",
    )
    u = sp.Symbol("u", real=True)
    erf_limits = (
        sp.limit(sp.erf(u / sp.sqrt(2)), u, sp.oo),
        sp.limit(sp.erf(u / sp.sqrt(2)), u, -sp.oo),
    )
    affine_slope = [sp.diff((x - mu[i]) * sp.exp(-tau[i]), x) for i in range(n)]
    yield require(
        erf_limits == (1, -1) and all(a.is_positive for a in affine_slope),
        "u = (x−μᵢ)/e^τᵢ is increasing affine (du/dx = e^−τᵢ > 0), so u → ±∞ with x; "
        "erf(u/√2) → ±1",
    )
    for sign, limit in ((1, erf_limits[0]), (-1, erf_limits[1])):
        # Each term is e^{wᵢ}(Φ(uᵢ) − ½) = e^{wᵢ} erf(uᵢ/√2)/2; substitute the limit of erf.
        at_limit = sp.Add(*[sp.exp(w[i]) * (((1 + limit) / 2) - _HALF) for i in range(n)])
        yield require_zero(
            at_limit - sign * s / 2,
            f"lim_(x→{'+' if sign > 0 else '−'}∞) f(x) = {'+' if sign > 0 else '−'}S/2",
        )
    g = sp.Function("g", real=True)(x)
    yield require_zero(
        sp.diff(_cdf(g), x) - _pdf(g) * sp.diff(g, x),
        "substitution u = f(x): d/dx Φ(f(x)) = φ(f(x)) f′(x) for any differentiable f",
    )
    yield require_zero(
        sp.diff(_cdf(f), x) - _pdf(f) * df,
        "… and for this f: Φ∘f is an antiderivative of φ(f(x)) f′(x)",
    )
    big_s = sp.Symbol("S", positive=True)
    yield require_zero(
        _cdf(big_s / 2) - _cdf(-big_s / 2) - (2 * _cdf(big_s / 2) - 1),
        "∫φ(f)f′ dx = Φ(f(∞)) − Φ(f(−∞)) = Φ(S/2) − Φ(−S/2) = 2Φ(S/2) − 1 (Φ(−a) = 1 − Φ(a))",
    )
    yield require_zero(
        sp.integrate(_pdf(u), (u, -big_s / 2, big_s / 2)) - (2 * _cdf(big_s / 2) - 1),
        "the same value as ∫_(−S/2)^(S/2) φ(u) du, integrated by SymPy",
    )
    tail = sp.integrate(_pdf(u), (u, big_s / 2, sp.oo))
    yield require(
        sp.expand(2 * tail - (1 - (2 * _cdf(big_s / 2) - 1))) == 0 and _pdf(u).is_positive,
        "1 − (2Φ(S/2) − 1) = 2∫_(S/2)^∞ φ(u) du > 0 (positive integrand), so the model "
        "density has mass < 1: a sub-probability density",
    )


@functools.cache
def flow1d_reference(n: int = N_TERMS, modules: str = "mpmath") -> dict[str, Callable[..., Any]]:
    """Return the symbolic flow's pieces as numeric functions (lambdified).

    Keys ``"transform"``, ``"derivative"``, ``"log_prob"`` take
    ``(x, w, mu, tau)`` with x a number and w, mu, tau sequences of length n;
    ``"mass"`` takes ``w``. With ``modules="mpmath"`` (the default) inputs are
    converted to ``mpf`` and everything evaluates at the current
    ``mpmath.mp.dps``: a high-precision reference for :mod:`klmath.flow1d`.
    """
    sym = flow1d_symbols(n)
    args = [sym["x"], list(sym["w"]), list(sym["mu"]), list(sym["tau"])]
    # mpmath only sees numbers that are already mpf: Python floats would be
    # combined in float64 before any mpmath function is reached.
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

    out: dict[str, Callable[..., Any]] = {}
    for key, name in (("f", "transform"), ("df", "derivative"), ("log_prob", "log_prob")):
        out[name] = wrap(sp.lambdify(args, sym[key], modules=modules))
    out["mass"] = wrap(sp.lambdify([list(sym["w"])], sym["mass"], modules=modules))
    return out
