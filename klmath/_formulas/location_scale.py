r"""Same-family closed forms for Laplace, Cauchy, half-Cauchy, Gumbel, uniform, Pareto and
continuous Bernoulli (torch and scipy), each a sum of terms ≥ 0 that vanish at p = q.

Notation: g(r) = r − 1 − log r ≥ 0 (:func:`~klmath._formulas._careful.ratio_term`) and
h(t) = eᵗ − 1 − t ≥ 0 (:func:`~klmath._formulas._careful.expm1_minus_x`).

*Laplace(μ₁, s₁) ‖ Laplace(μ₂, s₂).* With d = |μ₁ − μ₂|, E|x − μ₂| = d + s₁e^{−d/s₁}
under p, so KL = log(s₂/s₁) + d/s₂ + (s₁/s₂)e^{−d/s₁} − 1. With r = s₁/s₂ and t = d/s₁
(so d/s₂ = rt):

.. math:: \mathrm{KL} = g(r) + r\,h(-t).

*Cauchy(μ₁, s₁) ‖ Cauchy(μ₂, s₂)* (Chyzak & Nielsen 2019):
log(((s₁ + s₂)² + (μ₁ − μ₂)²)/(4s₁s₂)) = log1p(((s₁ − s₂)² + (μ₁ − μ₂)²)/(4s₁s₂)).
*HalfCauchy(s₁) ‖ HalfCauchy(s₂)* is the same with μ = 0: folding a density symmetric
about 0 doubles both densities, and the 2 cancels in the log-ratio (torch has no
formula: its ``TransformedDistribution`` rule refuses the non-bijective fold).

*Gumbel(μ₁, β₁) ‖ Gumbel(μ₂, β₂).* log q = −log β₂ − z − e^{−z}, z = (x − μ₂)/β₂; under
p, x = μ₁ + β₁G with E G = γ and E e^{−cG} = Γ(1 + c). With r = β₁/β₂, t = (μ₁ − μ₂)/β₂
and L = lnΓ(1 + r), KL = −log r + t + γ(r − 1) − 1 + e^{L − t}, which regroups, using
ψ(2) = 1 − γ, as

.. math:: \mathrm{KL} = h(L - t) + D(2 → 1 + r) + g(r),

D the lnΓ Bregman divergence (:func:`~klmath._formulas._careful.lgamma_bregman`).

*Uniform(a₁, b₁) ‖ Uniform(a₂, b₂)*: log((b₂ − a₂)/(b₁ − a₁)) if [a₁, b₁] ⊆ [a₂, b₂],
else ∞ (boundaries may touch: they have probability 0).

*Pareto(m₁, α₁) ‖ Pareto(m₂, α₂)* (density α mᵅ/x^{α+1} on [m, ∞)): with
E log x = log m₁ + 1/α₁, KL = α₂ log(m₁/m₂) + g(α₂/α₁) for m₁ ≥ m₂, else ∞.

*ContinuousBernoulli(λ₁) ‖ ContinuousBernoulli(λ₂).* The density is exp(ηx − A(η)) on
[0, 1] with η = logit λ and A(η) = log((e^η − 1)/η)
(:func:`~klmath._formulas._careful.cb_log_normalizer`), so KL is the Bregman divergence
A(η₂) − A(η₁) − A'(η₁)(η₂ − η₁), A'(η) = E x. (torch's own evaluation switches to a
Taylor approximation of the normalizer for λ in (0.499, 0.501); klmath's series of
log(sinh h/h) has full accuracy there.) For |η₂ − η₁| ≤ 1 it is evaluated as
δ² ∫₀¹ (1 − t) A''(η₁ + tδ) dt (Taylor's remainder; A'' = Var x > 0) by 12-point
Gauss–Legendre, so a KL of 1e−21 keeps its relative accuracy.

Entropies: Laplace 1 + log 2s; Cauchy log 4πs; half-Cauchy log 2πs; Gumbel
log β + γ + 1; uniform log(b − a); Pareto log(m/α) + 1/α + 1; continuous Bernoulli
A(η) − ηA'(η).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from klmath._formulas._careful import (
    cb_log_normalizer,
    cb_mean,
    cb_variance,
    expm1_minus_x,
    lgamma_bregman,
    log_ratio,
    ratio_term,
)
from klmath._formulas._params import Params, family_keys, out, read, read_pair
from klmath.registry import ClosedForm, register_entropy, register_kl

if TYPE_CHECKING:
    import torch

__all__: list[str] = []

_EULER_GAMMA = 0.57721566490153286060651209008240243


def _kl(p: Any, q: Any) -> Any:
    import torch

    pair = read_pair(p, q)
    if pair is None or pair[0].family != pair[1].family:
        return NotImplemented
    pp, qq = pair
    family, reason = pp.family, None
    if family == "laplace":
        r_log = log_ratio(pp["scale"], qq["scale"])
        t = (pp["loc"] - qq["loc"]).abs() / pp["scale"]
        value = expm1_minus_x(r_log) + torch.exp(r_log) * expm1_minus_x(-t)
    elif family in ("cauchy", "halfcauchy"):
        s1, s2 = pp["scale"], qq["scale"]
        d2 = (pp["loc"] - qq["loc"]) ** 2 if family == "cauchy" else 0.0
        value = torch.log1p(((s1 - s2) ** 2 + d2) / (4 * s1 * s2))
    elif family == "gumbel":
        r = pp["scale"] / qq["scale"]
        t = (pp["loc"] - qq["loc"]) / qq["scale"]
        big_l = torch.lgamma(1 + r)
        two = torch.full_like(r, 2.0)
        g = ratio_term(pp["scale"], qq["scale"])
        value = expm1_minus_x(big_l - t) + lgamma_bregman(two, 1 + r) + g
    elif family == "uniform":
        a1, b1, a2, b2 = pp["low"], pp["high"], qq["low"], qq["high"]
        inside = (a2 <= a1) & (b1 <= b2)
        value = log_ratio(b2 - a2, b1 - a1)
        value = torch.where(inside, value, torch.full_like(value, math.inf))
        if bool((~inside).any()):
            reason = _reason(a1, b1, a2, b2, ~inside)
    elif family == "pareto":
        m1, a1, m2, a2 = pp["scale"], pp["alpha"], qq["scale"], qq["alpha"]
        inside = m1 >= m2
        value = a2 * log_ratio(m1, m2) + ratio_term(a2, a1)
        value = torch.where(inside, value, torch.full_like(value, math.inf))
        if bool((~inside).any()):
            inf = torch.full_like(m1, math.inf)
            reason = _reason(m1, inf, m2, inf, ~inside)
    elif family == "cb":
        value = _cb_bregman(pp["eta"], qq["eta"])
    else:
        return NotImplemented
    return ClosedForm(out(value.clamp_min(0.0), pp), reason, f"klmath {family} closed form")


# Gauss–Legendre nodes and weights on [0, 1]: 12 points integrate (1 − t)A''(η + tδ)
# to ~(|δ|/2π)²⁴ relative error for |δ| ≤ 1 (A'' is analytic within 2π of the real axis).
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(12)
_GL_NODES = (_GL_NODES + 1) / 2
_GL_WEIGHTS = _GL_WEIGHTS / 2  # leggauss weights sum to 2 on [−1, 1]; on [0, 1] to 1


def _cb_bregman(e1: torch.Tensor, e2: torch.Tensor) -> torch.Tensor:
    """A(η₂) − A(η₁) − A'(η₁)δ, δ = η₂ − η₁, as δ² ∫₀¹ (1 − t) A''(η₁ + tδ) dt for |δ| ≤ 1.

    The Taylor remainder in integral form: A'' = Var > 0, so the integrand is positive
    and the result keeps its relative accuracy however small δ is (the direct
    difference of O(1) terms would leave ~1e−16 of noise on a KL of 1e−21).
    """
    import torch

    delta = e2 - e1
    near = delta.abs() <= 1
    ds = torch.where(near, delta, torch.zeros_like(delta))
    acc = torch.zeros_like(ds)
    for t, w in zip(_GL_NODES.tolist(), _GL_WEIGHTS.tolist(), strict=True):
        acc = acc + (w * (1 - t)) * cb_variance(e1 + t * ds)
    direct = cb_log_normalizer(e2) - cb_log_normalizer(e1) - cb_mean(e1) * delta
    return torch.where(near, acc * ds * ds, direct)


def _reason(a1: Any, b1: Any, a2: Any, b2: Any, bad: Any) -> str:
    from klmath._validation import first_index

    idx = first_index(bad) if bad.ndim else ()

    def at(x: Any) -> float:
        return float(x.expand(bad.shape)[idx]) if bad.ndim else float(x)

    return (
        f"q has zero density on part of p's support: p lives on [{at(a1)!r}, {at(b1)!r}], "
        f"q on [{at(a2)!r}, {at(b2)!r}]"
    )


def _entropy(p: Any) -> Any:
    pp = read(p, "p")
    if pp is None:
        return NotImplemented
    h = entropy_tensor(pp)
    return NotImplemented if h is None else out(h, pp)


def entropy_tensor(pp: Params) -> torch.Tensor | None:
    """The entropy of a family of this module, as a tensor (None for other families)."""
    import torch

    family = pp.family
    if family == "laplace":
        h = 1 + torch.log(2 * pp["scale"])
    elif family == "cauchy":
        h = torch.log(4 * math.pi * pp["scale"])
    elif family == "halfcauchy":
        h = torch.log(2 * math.pi * pp["scale"])
    elif family == "gumbel":
        h = torch.log(pp["scale"]) + _EULER_GAMMA + 1
    elif family == "uniform":
        h = torch.log(pp["high"] - pp["low"])
    elif family == "pareto":
        h = torch.log(pp["scale"] / pp["alpha"]) + 1 / pp["alpha"] + 1
    elif family == "cb":
        eta = pp["eta"]
        h = cb_log_normalizer(eta) - eta * cb_mean(eta)
    else:
        return None
    return h


_entropy._klmath_formula = "klmath location-scale entropy"  # type: ignore[attr-defined]


def _register() -> None:
    for family in ("laplace", "cauchy", "halfcauchy", "gumbel", "uniform", "pareto", "cb"):
        keys = family_keys(family)
        for kp in keys:
            for kq in keys:
                register_kl(kp, kq)(_kl)
            register_entropy(kp)(_entropy)


_register()
