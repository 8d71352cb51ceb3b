"""Independent references for KL and entropy: mpmath densities, quadrature and exact sums.

Nothing here uses klmath, torch or scipy.stats: each family's log density is written
out in mpmath from its textbook definition, and

* continuous KL(p ‖ q) = ∫ p (log p − log q) by tanh-sinh quadrature (``mpmath.quad``)
  at 25 significant digits over p's support, split at the modes; ∞ when p's support
  interval sticks out of q's (a set of positive p-mass where q = 0);
* discrete KL by exact summation over p's support (Poisson and geometric supports up
  to where the remaining mass is below 10⁻³⁰);
* Gaussians in d dimensions by the matrix formula at 40 digits (d-dimensional
  quadrature is out of reach), Dirichlet(K = 3) by its stick-breaking split into two
  beta KLs, Wishart by its textbook formula in mpmath.

Parameters are plain Python floats (the exact float64 values the library sees).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import mpmath as mp

DPS = 25
INF = mp.inf


_F = TypeVar("_F", bound=Callable[..., Any])


def _precise(factory: _F) -> _F:
    """Build a density's constants (log normalizers) at DPS digits, not mpmath's default 15."""

    @functools.wraps(factory)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with mp.workdps(DPS):
            return factory(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


@dataclass
class Density:
    """A 1-D distribution: log density (−inf off the support), support, split points."""

    logpdf: Callable[[mp.mpf], mp.mpf]
    lo: mp.mpf
    hi: mp.mpf
    points: list[mp.mpf] = field(default_factory=list)
    heavy: bool = False  # polynomial tails: integrate them in log x and detect divergence


@dataclass
class Mass:
    """A distribution on integers: log pmf and the support as (first, last) (last may be inf)."""

    logpmf: Callable[[int], mp.mpf]
    first: int
    last: float


# --------------------------------------------------------------------------- continuous


def _ladder(m: mp.mpf, s: mp.mpf) -> list[mp.mpf]:
    """Split points m ± 2ᵏs, k = 0..6: an integrand p·log q whose bulk sits far from p's
    center (a normal p against a narrow Gumbel q peaks near m − s²/β) still meets a
    piece of its own size."""
    return [m, *(m + sign * s * 2**k for k in range(7) for sign in (-1, 1))]


@_precise
def normal(loc: float, scale: float) -> Density:
    m, s = mp.mpf(loc), mp.mpf(scale)
    c = -mp.log(s) - mp.log(2 * mp.pi) / 2
    return Density(lambda x: c - ((x - m) / s) ** 2 / 2, -INF, INF, _ladder(m, s))


@_precise
def half_normal(scale: float) -> Density:
    s = mp.mpf(scale)
    c = mp.log(2) - mp.log(s) - mp.log(2 * mp.pi) / 2
    return Density(lambda x: c - (x / s) ** 2 / 2 if x >= 0 else -INF, 0, INF, [s, 3 * s])


@_precise
def log_normal(loc: float, scale: float) -> Density:
    m, s = mp.mpf(loc), mp.mpf(scale)
    c = -mp.log(s) - mp.log(2 * mp.pi) / 2

    def lp(x: mp.mpf) -> mp.mpf:
        return c - mp.log(x) - ((mp.log(x) - m) / s) ** 2 / 2 if x > 0 else -INF

    return Density(lp, 0, INF, [mp.exp(m - 2 * s), mp.exp(m), mp.exp(m + 2 * s)])


@_precise
def laplace(loc: float, scale: float) -> Density:
    m, s = mp.mpf(loc), mp.mpf(scale)
    return Density(lambda x: -mp.log(2 * s) - abs(x - m) / s, -INF, INF, _ladder(m, s))


@_precise
def cauchy(loc: float, scale: float) -> Density:
    m, s = mp.mpf(loc), mp.mpf(scale)
    return Density(
        lambda x: -mp.log(mp.pi * s) - mp.log1p(((x - m) / s) ** 2),
        -INF,
        INF,
        [m - s, m, m + s],
        heavy=True,
    )


@_precise
def half_cauchy(scale: float) -> Density:
    s = mp.mpf(scale)

    def lp(x: mp.mpf) -> mp.mpf:
        return mp.log(2) - mp.log(mp.pi * s) - mp.log1p((x / s) ** 2) if x >= 0 else -INF

    return Density(lp, 0, INF, [s, 10 * s], heavy=True)


@_precise
def uniform(low: float, high: float) -> Density:
    a, b = mp.mpf(low), mp.mpf(high)
    c = -mp.log(b - a)
    return Density(lambda x: c if a <= x <= b else -INF, a, b)


@_precise
def gamma(shape: float, rate: float, loc: float = 0.0) -> Density:
    k, r, c0 = mp.mpf(shape), mp.mpf(rate), mp.mpf(loc)
    c = k * mp.log(r) - mp.loggamma(k)

    def lp(x: mp.mpf) -> mp.mpf:
        y = x - c0
        return c + (k - 1) * mp.log(y) - r * y if y > 0 else -INF

    mode = c0 + max(k - 1, mp.mpf("0.1") * k) / r
    return Density(lp, c0, INF, [mode, c0 + (k + 5 * mp.sqrt(k)) / r])


@_precise
def beta(a: float, b: float, loc: float = 0.0, scale: float = 1.0) -> Density:
    al, be, lo, sc = mp.mpf(a), mp.mpf(b), mp.mpf(loc), mp.mpf(scale)
    c = mp.loggamma(al + be) - mp.loggamma(al) - mp.loggamma(be) - mp.log(sc)

    def lp(x: mp.mpf) -> mp.mpf:
        y = (x - lo) / sc
        return c + (al - 1) * mp.log(y) + (be - 1) * mp.log1p(-y) if 0 < y < 1 else -INF

    return Density(lp, lo, lo + sc, [lo + sc * al / (al + be)])


@_precise
def gumbel(loc: float, scale: float) -> Density:
    m, s = mp.mpf(loc), mp.mpf(scale)

    def lp(x: mp.mpf) -> mp.mpf:
        z = (x - m) / s
        if z < -10_000:  # density below exp(−e¹⁰⁰⁰⁰): nothing to integrate (and e^{−z} is slow)
            return -INF
        return -mp.log(s) - z - mp.exp(-z)

    return Density(lp, -INF, INF, _ladder(m, s))


@_precise
def pareto(scale: float, alpha: float) -> Density:
    m, a = mp.mpf(scale), mp.mpf(alpha)
    c = mp.log(a) + a * mp.log(m)
    return Density(
        lambda x: c - (a + 1) * mp.log(x) if x >= m else -INF, m, INF, [2 * m, 10 * m], heavy=True
    )


@_precise
def continuous_bernoulli(probs: float) -> Density:
    lam = mp.mpf(probs)
    if lam == mp.mpf(1) / 2:
        log_c = mp.log(2)
    else:
        log_c = mp.log(2 * mp.atanh(1 - 2 * lam) / (1 - 2 * lam))

    def lp(x: mp.mpf) -> mp.mpf:
        return log_c + x * mp.log(lam) + (1 - x) * mp.log1p(-lam) if 0 <= x <= 1 else -INF

    return Density(lp, 0, 1)


def kl_density(p: Density, q: Density) -> float:
    """KL(p ‖ q) by quadrature; ∞ if p's support is not inside q's or the integral diverges."""
    with mp.workdps(DPS):
        if p.lo < q.lo or p.hi > q.hi:
            return math.inf

        def f(x: mp.mpf) -> mp.mpf:
            lp = p.logpdf(x)
            if lp < -10_000:  # p(x) < e^{−10⁴}: no term of log q drawn here outweighs it
                return mp.mpf(0)
            return mp.exp(lp) * (lp - q.logpdf(x))

        # Split also at q's kinks and modes (a Laplace q is not smooth at its center).
        return _integrate(f, Density(p.logpdf, p.lo, p.hi, [*p.points, *q.points], p.heavy))


def entropy_density(p: Density) -> float:
    with mp.workdps(DPS):

        def f(x: mp.mpf) -> mp.mpf:
            lp = p.logpdf(x)
            return mp.mpf(0) if lp == -INF else -mp.exp(lp) * lp

        return _integrate(f, p)


# Polynomial tails are integrated in u = log|x| up to |x| = 1e100 and 1e200: if the two
# differ by more than 1e−6 the integral diverges (it grows like a power or a log of
# the cut-off); else what lies beyond 1e200 is below 1e−20 for the tails drawn here
# (the slowest: a Pareto with alpha ≥ 1.2 against an exponential, ~x^(−1.2)).
_TAIL_CUTS = (mp.mpf(10) ** 100, mp.mpf(10) ** 200)


def _integrate(f: Callable[[mp.mpf], mp.mpf], p: Density) -> float:
    pts = _points(p)
    if not p.heavy:
        return float(_quad_near_ends(f, pts))
    inner = [x for x in pts if mp.isfinite(x)]
    lo, hi = inner[0], inner[-1]
    total = mp.quad(f, inner) if len(inner) > 1 else mp.mpf(0)
    for side, edge, infinite in ((1, hi, p.hi == INF), (-1, lo, p.lo == -INF)):
        if not infinite:
            continue
        start = max(abs(edge), mp.mpf(1))
        if side * edge < start:  # bridge from the edge to ±1 directly
            total += mp.quad(f, sorted([edge, side * start]))
        cuts = [
            mp.quad(lambda u, s=side: f(s * mp.exp(u)) * mp.exp(u), [mp.log(start), mp.log(c)])
            for c in _TAIL_CUTS
        ]
        if abs(cuts[1] - cuts[0]) > mp.mpf("1e-6"):
            return math.inf
        total += cuts[1]
    return float(total)


def _quad_near_ends(f: Callable[[mp.mpf], mp.mpf], pts: list[mp.mpf]) -> mp.mpf:
    """∫ f over pts[0]..pts[-1], the first and last pieces in the distance t to the end.

    Densities with a power singularity at a finite end (a beta with b < 1 at 1)
    put mass ~ t^(1−b) within t of it: tanh-sinh, whose nodes stop at about 10⁻²⁵,
    would miss ~10⁻⁸ of it for b = 0.3. So each end piece is integrated in u = t^(1/4)
    (t^(b−1) dt = 4u^(4b−1) du, no longer singular for b ≥ 1/4), with x = end ∓ u⁴
    formed and the integrand evaluated at 100 extra digits.
    """
    if len(pts) == 2 and mp.isfinite(pts[0]) and mp.isfinite(pts[1]):
        pts = [pts[0], (pts[0] + pts[1]) / 2, pts[1]]
    total = mp.quad(f, pts[1:-1]) if len(pts) > 3 else mp.mpf(0)
    for end, inner, sign in ((pts[0], pts[1], 1), (pts[-1], pts[-2], -1)):
        if not mp.isfinite(end):
            total += mp.quad(f, sorted([end, inner]))
            continue

        def g(u: mp.mpf, end: mp.mpf = end, sign: int = sign) -> mp.mpf:
            with mp.extradps(100):
                return +(f(end + sign * u**4) * 4 * u**3)

        total += mp.quad(g, [0, mp.root(abs(inner - end), 4)])
    return total


def _points(p: Density) -> list[mp.mpf]:
    """p's support split at the given points; points within 1e−6 (relative) of a finite
    end are dropped, so the end piece (integrated in t^(1/4)) keeps the singularity."""

    def clear(x: mp.mpf) -> bool:
        margin = mp.mpf("1e-6") * max(1, abs(x))
        return (p.lo == -INF or x > p.lo + margin) and (p.hi == INF or x < p.hi - margin)

    inner = sorted({mp.mpf(x) for x in p.points if p.lo < x < p.hi and clear(mp.mpf(x))})
    return [p.lo, *inner, p.hi]


# --------------------------------------------------------------------------- discrete


@_precise
def binomial(n: float, probs: float, shift: float = 0.0) -> Mass:
    nn, pi, s = int(n), mp.mpf(probs), int(shift)

    def lp(k: int) -> mp.mpf:
        j = k - s
        if not 0 <= j <= nn:
            return -INF
        terms = [mp.log(mp.binomial(nn, j))]
        if j:
            terms.append(j * mp.log(pi) if pi > 0 else -INF)
        if nn - j:
            terms.append((nn - j) * mp.log1p(-pi) if pi < 1 else -INF)
        return mp.fsum(terms) if all(t != -INF for t in terms) else -INF

    return Mass(lp, s, s + nn)


@_precise
def poisson(rate: float, shift: float = 0.0) -> Mass:
    lam, s = mp.mpf(rate), int(shift)

    def lp(k: int) -> mp.mpf:
        j = k - s
        if j < 0:
            return -INF
        if lam == 0:
            return mp.mpf(0) if j == 0 else -INF
        return j * mp.log(lam) - lam - mp.loggamma(j + 1)

    last = s + int(float(lam) + 20 * math.sqrt(float(lam)) + 60) if lam > 0 else s
    return Mass(lp, s, last)


@_precise
def geometric(probs: float, shift: float = 0.0) -> Mass:
    pi, s = mp.mpf(probs), int(shift)

    def lp(k: int) -> mp.mpf:
        j = k - s
        if j < 0:
            return -INF
        if pi == 1:
            return mp.mpf(0) if j == 0 else -INF
        return j * mp.log1p(-pi) + mp.log(pi)

    # (1 − π)^K < 1e−30 from K = 69 / −log(1 − π) on.
    last = s + (int(70 / -math.log1p(-float(probs))) + 1 if probs < 1 else 0)
    return Mass(lp, s, last)


def kl_mass(p: Mass, q: Mass) -> float:
    """KL(p ‖ q) = Σ p(k) (log p(k) − log q(k)) over p's support (summed to its last point)."""
    with mp.workdps(DPS):
        terms = []
        for k in range(p.first, int(p.last) + 1):
            lp = p.logpmf(k)
            if lp == -INF:
                continue
            lq = q.logpmf(k)
            if lq == -INF:
                return math.inf
            terms.append(mp.exp(lp) * (lp - lq))
        return float(mp.fsum(terms))


def entropy_mass(p: Mass) -> float:
    with mp.workdps(DPS):
        terms = []
        for k in range(p.first, int(p.last) + 1):
            lp = p.logpmf(k)
            if lp != -INF:
                terms.append(-mp.exp(lp) * lp)
        return float(mp.fsum(terms))


def kl_vectors(p: Sequence[float], q: Sequence[float]) -> float:
    """Σ pₖ log(pₖ/qₖ) with 0 log 0 = 0 and p log(p/0) = ∞, at 40 digits."""
    with mp.workdps(40):
        return float(kl_vectors_mp(p, q))


def kl_vectors_mp(p: Sequence[float], q: Sequence[float]) -> mp.mpf:
    """:func:`kl_vectors` as an mpf at the caller's precision (``mp.inf`` when infinite)."""
    terms = []
    for a, b in zip(p, q, strict=False):
        if a == 0:
            continue
        if b == 0:
            return mp.inf
        terms.append(mp.mpf(a) * mp.log(mp.mpf(a) / mp.mpf(b)))
    return mp.fsum(terms)


# --------------------------------------------------------------------------- matrices


def kl_gaussian(
    m0: Sequence[float], c0: list[list[float]], m1: Sequence[float], c1: list[list[float]]
) -> float:
    """½[tr(Σ₁⁻¹Σ₀) + δᵀΣ₁⁻¹δ − d + ln det Σ₁ − ln det Σ₀] at 40 digits."""
    with mp.workdps(40):
        s0, s1 = mp.matrix(c0), mp.matrix(c1)
        d = s0.rows
        delta = mp.matrix([mp.mpf(b) - mp.mpf(a) for a, b in zip(m0, m1, strict=False)])
        inv = s1**-1
        trace = mp.fsum((inv * s0)[i, i] for i in range(d))
        maha = (delta.T * inv * delta)[0, 0]
        return float((trace + maha - d + mp.log(mp.det(s1)) - mp.log(mp.det(s0))) / 2)


def kl_dirichlet3(a: Sequence[float], b: Sequence[float]) -> float:
    """KL between Dirichlets on 3 components, by stick-breaking: x₁ ~ Beta(a₁, a₂ + a₃) and
    x₂/(1 − x₁) ~ Beta(a₂, a₃) independently, the same bijection for p and q."""
    first = kl_density(beta(a[0], a[1] + a[2]), beta(b[0], b[1] + b[2]))
    second = kl_density(beta(a[1], a[2]), beta(b[1], b[2]))
    return first + second


def kl_wishart(n0: float, v0: list[list[float]], n1: float, v1: list[list[float]]) -> float:
    """Textbook KL between Wisharts W(n, V) on d × d matrices (Penny 2001), at 40 digits."""
    with mp.workdps(40):
        s0, s1 = mp.matrix(v0), mp.matrix(v1)
        d = s0.rows
        a0, a1 = mp.mpf(n0) / 2, mp.mpf(n1) / 2

        def log_mgamma(x: mp.mpf) -> mp.mpf:
            return d * (d - 1) / 4 * mp.log(mp.pi) + mp.fsum(
                mp.loggamma(x + mp.mpf(1 - j) / 2) for j in range(1, d + 1)
            )

        def mdigamma(x: mp.mpf) -> mp.mpf:
            return mp.fsum(mp.digamma(x + mp.mpf(1 - j) / 2) for j in range(1, d + 1))

        m = s1**-1 * s0
        trace = mp.fsum(m[i, i] for i in range(d))
        logdet = mp.log(mp.det(m))
        value = (
            -a1 * logdet
            + a0 * (trace - d)
            + log_mgamma(a1)
            - log_mgamma(a0)
            + (a0 - a1) * mdigamma(a0)
        )
        return float(value)
