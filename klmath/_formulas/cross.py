r"""Pairs of *different* continuous families, from p's moments and q's log-density.

For densities p, q with supp p ⊆ supp q,

.. math:: \mathrm{KL}(p \,\|\, q) = -H(p) - E_p[\log q(x)],

and for every q here log q(x) is a linear combination of a few functions of x whose
expectations under p are known in closed form; otherwise (p has mass where q has
none) KL = ∞. Supports are compared as closed intervals: a uniform touching 0 or 1
is inside [0, 1] (torch's ContinuousBernoulli ‖ Uniform and Uniform ‖
ContinuousBernoulli treat touching as outside and return ∞).

==================  =====================================  =======================================
q                   −E_p[log q]                            needs from p
==================  =====================================  =======================================
Normal(μ, σ)        ½ log 2πσ² + (Var + (E x − μ)²)/2σ²    mean, variance
Laplace(μ, s)       log 2s + E|x − μ|/s                    mean absolute deviation about μ
Uniform(a, b)       log(b − a)                             (support only)
Gamma(a, b, c)      −a log b + lnΓ(a) − (a−1)E log(x−c)    E log(x − c) (not for a = 1), mean
                    + b(E x − c)
Beta(α, β) on       ln B(α, β) + log s                     E log(x − l), E log(l + s − x)
[l, l + s]          − (α−1)E log((x−l)/s)                  (each not needed when its
                    − (β−1)E log((l+s−x)/s)                exponent is 1)
Gumbel(μ, β)        log β + (E x − μ)/β + E e^{−(x−μ)/β}    mean, E e^{−(x−μ)/β}
Pareto(m, α)        −log α − α log m + (α+1) E log x       E log x
ContinuousBern.(η)  A(η) − η E x                           mean
==================  =====================================  =======================================

p's side, with H(p) from the family modules:

* Normal(μ, σ): E|x − m| = σ√(2/π) e^{−d²/2σ²} + d erf(d/σ√2) (d = μ − m);
  E e^{−(x−m)/β} = e^{−(μ−m)/β + σ²/2β²}.
* Laplace(μ, s): variance 2s²; E|x − m| = |d| + s e^{−|d|/s}; E e^{−(x−m)/β} =
  e^{−(μ−m)/β}/(1 − s²/β²) for s < β, else ∞.
* Uniform(a, b), w = b − a: variance w²/12; E log(x − c) = log(b − c) − 1 −
  (1 − v) log(1 − v)/v with v = w/(b − c) (c ≤ a; the form keeps accuracy when w ≪ b − c),
  E log(c − x) likewise; E|x − m| piecewise; E e^{−(x−m)/β} = e^{−(a−m)/β}(1 − e^{−w/β})β/w.
* Gamma(a, b, c): E log(x − c) = ψ(a) − log b; variance a/b²;
  E|x − m| = a/b − m' + 2[m' P(a, bm') − (a/b) P(a + 1, bm')] for m' = m − c > 0, P the
  regularized lower incomplete gamma; E e^{−(x−m)/β} = e^{−(c−m)/β}(1 + 1/bβ)^{−a}.
* Beta(α, β) on [l, l + s]: E log(x − l) = log s + ψ(α) − ψ(α + β), E log(l + s − x) =
  log s + ψ(β) − ψ(α + β); variance s²αβ/((α + β)²(α + β + 1)).
* ContinuousBernoulli(η): E x = A'(η), Var x = A''(η), E e^{−(x−m)/β} = e^{m/β + A(η − 1/β) − A(η)}.
* Gumbel(μ, β): E x = μ + γβ, Var x = π²β²/6, E e^{−(x−m)/β'} = e^{−(μ−m)/β'} Γ(1 + β/β').
* Pareto(m, α): E x = αm/(α − 1) (∞ for α ≤ 1), Var x = m²α/((α − 1)²(α − 2))
  (∞ for α ≤ 2), E log x = log m + 1/α.

A moment with no closed form here (E log(x − c) for a shifted beta, E|x − m| for a
Gumbel, ...) makes the pair decline, and :func:`klmath.kl` falls back to Monte Carlo.
These differences do cancel when p nearly equals q in distribution (Uniform(0, 1) and
Beta(1, 1), a Gamma of large shape and its moment-matched normal); then the result is
accurate to about ε · (|H(p)| + |E_p log q|) absolutely, not relative to itself.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from klmath._formulas import gamma_beta, location_scale
from klmath._formulas._careful import cb_log_normalizer, cb_mean, cb_variance
from klmath._formulas._params import Params, family_keys, out, read_pair
from klmath.registry import ClosedForm, register_kl

if TYPE_CHECKING:
    import torch

__all__: list[str] = []

_EULER_GAMMA = 0.57721566490153286060651209008240243
_LOG_2PI = math.log(2.0 * math.pi)
FAMILIES = ("normal", "laplace", "uniform", "gamma", "beta", "gumbel", "pareto", "cb")

_Maybe = Any  # torch.Tensor | None


@dataclass
class _Moments:
    """What a p family offers: support, entropy, and moment functions (None: no closed form)."""

    lo: torch.Tensor
    hi: torch.Tensor
    entropy: torch.Tensor
    mean: torch.Tensor
    var: torch.Tensor
    e_log_shift: Callable[[torch.Tensor], _Maybe]  # c ↦ E log(x − c), c ≤ lo
    e_log_reflect: Callable[[torch.Tensor], _Maybe]  # c ↦ E log(c − x), c ≥ hi
    e_abs: Callable[[torch.Tensor], _Maybe]  # m ↦ E|x − m|
    e_exp_neg: Callable[[torch.Tensor, torch.Tensor], _Maybe]  # (m, β) ↦ E e^{−(x−m)/β}
    note: str | None = None  # which moments are infinite, for the reason


def _none(*_: Any) -> None:
    return None


def _moments(pp: Params) -> _Moments | None:
    builder = _MOMENT_BUILDERS.get(pp.family)
    return None if builder is None else builder(pp)


def _entropy(pp: Params) -> torch.Tensor:
    h = location_scale.entropy_tensor(pp)
    if h is None:
        h = gamma_beta.entropy_tensor(pp)
    assert h is not None, pp.family
    return h


def _normal(pp: Params) -> _Moments:
    import torch

    mu, s = pp["loc"], pp["scale"]

    def e_abs(m: torch.Tensor) -> _Maybe:
        d = mu - m
        gauss = s * math.sqrt(2 / math.pi) * torch.exp(-0.5 * (d / s) ** 2)
        return gauss + d * torch.erf(d / (s * math.sqrt(2.0)))

    def e_exp(m: torch.Tensor, beta: torch.Tensor) -> _Maybe:
        return torch.exp(-(mu - m) / beta + 0.5 * (s / beta) ** 2)

    full = torch.full_like(mu, math.inf)
    h = 0.5 * math.log(2 * math.pi * math.e) + torch.log(s)
    return _Moments(-full, full, h, mu, s * s, _none, _none, e_abs, e_exp)


def _laplace(pp: Params) -> _Moments:
    import torch

    mu, s = pp["loc"], pp["scale"]

    def e_abs(m: torch.Tensor) -> _Maybe:
        d = (mu - m).abs()
        return d + s * torch.exp(-d / s)

    def e_exp(m: torch.Tensor, beta: torch.Tensor) -> _Maybe:
        ok = s < beta
        val = torch.exp(-(mu - m) / beta) / torch.where(ok, 1 - (s / beta) ** 2, 1.0)
        return torch.where(ok, val, torch.full_like(val, math.inf))

    full = torch.full_like(mu, math.inf)
    return _Moments(-full, full, _entropy(pp), mu, 2 * s * s, _none, _none, e_abs, e_exp)


def _uniform(pp: Params) -> _Moments:
    import torch

    a, b = pp["low"], pp["high"]
    w = b - a

    def e_log_shift(c: torch.Tensor) -> _Maybe:
        v = w / (b - c)
        return torch.log(b - c) - 1 - torch.special.xlog1py(1 - v, -v) / v

    def e_log_reflect(c: torch.Tensor) -> _Maybe:
        v = w / (c - a)
        return torch.log(c - a) - 1 - torch.special.xlog1py(1 - v, -v) / v

    def e_abs(m: torch.Tensor) -> _Maybe:
        mid = ((m - a) ** 2 + (b - m) ** 2) / (2 * w)
        center = 0.5 * (a + b)
        return torch.where(m <= a, center - m, torch.where(m >= b, m - center, mid))

    def e_exp(m: torch.Tensor, beta: torch.Tensor) -> _Maybe:
        z = w / beta
        return torch.exp(-(a - m) / beta) * (-torch.expm1(-z)) / z

    mean, var = 0.5 * (a + b), w * w / 12
    return _Moments(a, b, torch.log(w), mean, var, e_log_shift, e_log_reflect, e_abs, e_exp)


def _gamma(pp: Params) -> _Moments:
    import torch

    k, rate, c = pp["shape"], pp["rate"], pp["loc"]

    def e_log_shift(c2: torch.Tensor) -> _Maybe:
        if not bool((c2 == c).all()):
            return None
        return torch.digamma(k) - torch.log(rate)

    def e_abs(m: torch.Tensor) -> _Maybe:
        m1 = m - c
        mean = k / rate
        pos = m1.clamp_min(0.0)
        below = pos * torch.special.gammainc(k, rate * pos)
        below = below - mean * torch.special.gammainc(k + 1, rate * pos)
        return mean - m1 + 2 * below

    def e_exp(m: torch.Tensor, beta: torch.Tensor) -> _Maybe:
        return torch.exp(-(c - m) / beta - k * torch.log1p(1 / (rate * beta)))

    hi = torch.full_like(c, math.inf)
    mean, var = c + k / rate, k / rate**2
    return _Moments(c, hi, _entropy(pp), mean, var, e_log_shift, _none, e_abs, e_exp)


def _beta(pp: Params) -> _Moments:
    import torch

    al, be, loc, sc = pp["a"], pp["b"], pp["loc"], pp["scale"]
    tot = al + be

    def e_log_shift(c: torch.Tensor) -> _Maybe:
        if not bool((c == loc).all()):
            return None
        return torch.log(sc) + torch.digamma(al) - torch.digamma(tot)

    def e_log_reflect(c: torch.Tensor) -> _Maybe:
        if not bool((c == loc + sc).all()):
            return None
        return torch.log(sc) + torch.digamma(be) - torch.digamma(tot)

    mean = loc + sc * al / tot
    var = sc**2 * al * be / (tot**2 * (tot + 1))
    h = _entropy(pp)
    return _Moments(loc, loc + sc, h, mean, var, e_log_shift, e_log_reflect, _none, _none)


def _cb(pp: Params) -> _Moments:
    import torch

    eta = pp["eta"]

    def e_exp(m: torch.Tensor, beta: torch.Tensor) -> _Maybe:
        return torch.exp(m / beta + cb_log_normalizer(eta - 1 / beta) - cb_log_normalizer(eta))

    zero = torch.zeros_like(eta)
    mean, var = cb_mean(eta), cb_variance(eta)
    return _Moments(zero, zero + 1, _entropy(pp), mean, var, _none, _none, _none, e_exp)


def _gumbel(pp: Params) -> _Moments:
    import torch

    mu, s = pp["loc"], pp["scale"]

    def e_exp(m: torch.Tensor, beta: torch.Tensor) -> _Maybe:
        return torch.exp(-(mu - m) / beta + torch.lgamma(1 + s / beta))

    full = torch.full_like(mu, math.inf)
    mean, var = mu + _EULER_GAMMA * s, (math.pi * s) ** 2 / 6
    return _Moments(-full, full, _entropy(pp), mean, var, _none, _none, _none, e_exp)


def _pareto(pp: Params) -> _Moments:
    import torch

    m, al = pp["scale"], pp["alpha"]

    def e_log_shift(c: torch.Tensor) -> _Maybe:
        if not bool((c == 0).all()):
            return None
        return torch.log(m) + 1 / al

    inf = torch.full_like(m, math.inf)
    mean = torch.where(al > 1, al * m / torch.where(al > 1, al - 1, 1.0), inf)
    var = torch.where(al > 2, m**2 * al / torch.where(al > 2, (al - 1) ** 2 * (al - 2), 1.0), inf)
    note = "the Pareto's mean is infinite for alpha <= 1, its variance for alpha <= 2"
    h = _entropy(pp)
    return _Moments(m, inf, h, mean, var, e_log_shift, _none, _none, _none, note)


_MOMENT_BUILDERS: dict[str, Callable[[Params], _Moments]] = {
    "normal": _normal,
    "laplace": _laplace,
    "uniform": _uniform,
    "gamma": _gamma,
    "beta": _beta,
    "cb": _cb,
    "gumbel": _gumbel,
    "pareto": _pareto,
}


def _support(qq: Params) -> tuple[torch.Tensor, torch.Tensor]:
    import torch

    f = qq.family
    any_t = next(iter(qq.t.values()))
    inf = torch.full_like(any_t, math.inf)
    if f == "uniform":
        return qq["low"], qq["high"]
    if f == "gamma":
        return qq["loc"], inf
    if f == "beta":
        return qq["loc"], qq["loc"] + qq["scale"]
    if f == "pareto":
        return qq["scale"], inf
    if f == "cb":
        zero = torch.zeros_like(any_t)
        return zero, zero + 1
    return -inf, inf


def _cross_entropy(m: _Moments, qq: Params) -> _Maybe:
    """−E_p[log q(x)], or None when a needed moment of p has no closed form here."""
    import torch

    f = qq.family
    if f == "normal":
        mu, s = qq["loc"], qq["scale"]
        return 0.5 * _LOG_2PI + torch.log(s) + (m.var + (m.mean - mu) ** 2) / (2 * s * s)
    if f == "laplace":
        mu, s = qq["loc"], qq["scale"]
        dev = m.e_abs(mu)
        return None if dev is None else torch.log(2 * s) + dev / s
    if f == "uniform":
        return torch.log(qq["high"] - qq["low"]) + torch.zeros_like(m.entropy)
    if f == "gamma":
        k, rate, c = qq["shape"], qq["rate"], qq["loc"]
        base = -k * torch.log(rate) + torch.lgamma(k) + rate * (m.mean - c)
        if bool((k == 1).all()):
            return base
        elog = m.e_log_shift(c)
        if elog is None:
            return None
        return base - torch.where(k == 1, torch.zeros_like(elog), (k - 1) * elog)
    if f == "beta":
        al, be, loc, sc = qq["a"], qq["b"], qq["loc"], qq["scale"]
        log_sc = torch.log(sc)
        ce = torch.lgamma(al) + torch.lgamma(be) - torch.lgamma(al + be) + log_sc
        for expo, moment in ((al, m.e_log_shift(loc)), (be, m.e_log_reflect(loc + sc))):
            if bool((expo == 1).all()):
                continue
            if moment is None:
                return None
            ce = ce - torch.where(
                expo == 1, torch.zeros_like(moment), (expo - 1) * (moment - log_sc)
            )
        return ce
    if f == "gumbel":
        mu, beta = qq["loc"], qq["scale"]
        mgf = m.e_exp_neg(mu, beta)
        return None if mgf is None else torch.log(beta) + (m.mean - mu) / beta + mgf
    if f == "pareto":
        sc, al = qq["scale"], qq["alpha"]
        elog = m.e_log_shift(torch.zeros_like(sc))
        if elog is None:
            return None
        return -torch.log(al) - al * torch.log(sc) + (al + 1) * elog
    if f == "cb":
        eta = qq["eta"]
        return cb_log_normalizer(eta) - eta * m.mean
    return None


def _kl(p: Any, q: Any) -> Any:
    import torch

    pair = read_pair(p, q)
    if pair is None or pair[0].family == pair[1].family:
        return NotImplemented
    pp, qq = pair
    m = _moments(pp)
    if m is None or qq.family not in FAMILIES:
        return NotImplemented
    lo_q, hi_q = _support(qq)
    inside = (lo_q <= m.lo) & (m.hi <= hi_q)
    batch = torch.broadcast_shapes(inside.shape, m.entropy.shape, *(v.shape for v in qq.t.values()))
    inside = inside.expand(batch)
    if not bool(inside.any()):
        value = torch.full(batch, math.inf, dtype=m.entropy.dtype, device=m.entropy.device)
    else:
        ce = _cross_entropy(m, qq)
        if ce is None:
            return NotImplemented
        value = torch.where(inside, (ce - m.entropy).clamp_min(0.0), math.inf).expand(batch)
    reason = None
    if bool((value == math.inf).any()):
        reason = _reason(pp, qq, m, lo_q, hi_q, inside, value)
    name = f"klmath cross entropy − entropy ({pp.family} ‖ {qq.family})"
    return ClosedForm(out(value, pp), reason, name)


def _reason(
    pp: Params,
    qq: Params,
    m: _Moments,
    lo_q: torch.Tensor,
    hi_q: torch.Tensor,
    inside: torch.Tensor,
    value: torch.Tensor,
) -> str:
    from klmath._validation import first_index

    bad = value == math.inf
    idx = first_index(bad) if bad.ndim else ()

    def at(x: torch.Tensor) -> float:
        return float(x.expand(bad.shape)[idx]) if bad.ndim else float(x)

    if not bool(inside.expand(bad.shape)[idx] if bad.ndim else inside):
        return (
            f"q has zero density on part of p's support: p ({pp.source}) lives on "
            f"[{at(m.lo)!r}, {at(m.hi)!r}], q ({qq.source}) on [{at(lo_q)!r}, {at(hi_q)!r}]"
        )
    return (
        f"E_p[log q] = −∞: a moment of p ({pp.source}) that log q ({qq.source}) needs is "
        f"infinite{'; ' + m.note if m.note else ''}"
    )


def _register() -> None:
    for fp in FAMILIES:
        for fq in FAMILIES:
            if fp == fq:
                continue
            for kp in family_keys(fp):
                for kq in family_keys(fq):
                    register_kl(kp, kq)(_kl)


_register()
