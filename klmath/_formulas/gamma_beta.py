r"""Gamma, exponential, beta and Dirichlet: the log-gamma family (torch and scipy).

All four are exponential families whose log-normalizer is built from lnΓ, so KL
within each is a Bregman divergence and can be written with
D(x → y) = lnΓ(y) − lnΓ(x) − ψ(x)(y − x) ≥ 0 (:func:`~klmath._formulas._careful.lgamma_bregman`,
exactly 0 for x = y and accurate near it).

*Gamma(a₁, b₁) ‖ Gamma(a₂, b₂)* (shape a, rate b; an exponential is a = 1; scipy's
``loc`` must be equal). With E log x = ψ(a₁) − log b₁ and E x = a₁/b₁ under p,

.. math::

    \mathrm{KL} = (a_1 - a_2)ψ(a_1) - \ln Γ(a_1) + \ln Γ(a_2)
        + a_2 \log\frac{b_1}{b_2} + a_1 \frac{b_2 - b_1}{b_1}
      = D(a_1 → a_2) + a_1 (u - 1 - \log u) + (a_1 - a_2) \log u,

u = b₂/b₁: every term is 0 at p = q, the first two ≥ 0, u − 1 − log u from
:func:`~klmath._formulas._careful.ratio_term`. For an exponential pair only
u − 1 − log u remains. p's support starting below q's (loc₁ < loc₂) gives ∞; above
it there is a closed form only for an exponential q, whose log density is linear,
−H(p) − log b₂ + b₂(loc₁ + a₁/b₁ − loc₂) (E log(x − loc₂) under a shifted gamma has none).

*Beta(α₁, β₁) ‖ Beta(α₂, β₂)* on the same interval (scipy's ``loc``, ``scale``):
with E log x = ψ(α₁) − ψ(s₁), E log(1 − x) = ψ(β₁) − ψ(s₁), s = α + β,

.. math::

    \mathrm{KL} = \ln\frac{B(α_2, β_2)}{B(α_1, β_1)} + (α_1 - α_2)ψ(α_1)
        + (β_1 - β_2)ψ(β_1) + (s_2 - s_1)ψ(s_1)
      = D(α_1 → α_2) + D(β_1 → β_2) - D(s_1 → s_2),

(the ψ(s₁) terms collect into −D(s₁ → s₂)). *Dirichlet(α) ‖ Dirichlet(β)* likewise:
Σᵢ D(αᵢ → βᵢ) − D(Σα → Σβ). torch's textbook forms of the same quantities subtract
lnΓ values of size up to a ln a and leave rounding noise of that size near p = q.

Entropies: Gamma a − log b + lnΓ(a) + (1 − a)ψ(a); Beta ln B(α, β) − (α − 1)ψ(α)
− (β − 1)ψ(β) + (s − 2)ψ(s) + log scale; Dirichlet ln B(α) + (α₀ − K)ψ(α₀) − Σ(αᵢ − 1)ψ(αᵢ).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from klmath._formulas._careful import lgamma_bregman, log_ratio, ratio_term
from klmath._formulas._params import Params, family_keys, out, read, read_pair
from klmath.registry import ClosedForm, register_entropy, register_kl

if TYPE_CHECKING:
    import torch

__all__: list[str] = []


def _support_reason(lo_p: Any, hi_p: Any, lo_q: Any, hi_q: Any, inf: Any) -> str | None:
    if not bool(inf.any()):
        return None
    from klmath._validation import first_index

    idx = first_index(inf) if inf.ndim else ()

    def at(x: Any) -> float:
        return float(x.expand(inf.shape)[idx]) if inf.ndim else float(x)

    return (
        f"q has zero density on part of p's support: p lives on [{at(lo_p)!r}, {at(hi_p)!r}], "
        f"q on [{at(lo_q)!r}, {at(hi_q)!r}]"
    )


def _kl_gamma(p: Any, q: Any) -> Any:
    import torch

    pair = read_pair(p, q)
    if pair is None:
        return NotImplemented
    pp, qq = pair
    a1, b1, c1 = pp["shape"], pp["rate"], pp["loc"]
    a2, b2, c2 = qq["shape"], qq["rate"], qq["loc"]
    below, above = c1 < c2, c1 > c2
    if bool((above & (a2 != 1)).any()):
        return NotImplemented
    log_u = log_ratio(b2, b1)
    value = lgamma_bregman(a1, a2) + a1 * ratio_term(b2, b1)
    value = value + torch.where(a1 == a2, torch.zeros_like(log_u), (a1 - a2) * log_u)
    if bool(above.any()):
        # An exponential q below p: −E log q = −log b₂ + b₂(E x − c₂), E x = c₁ + a₁/b₁.
        shifted = -torch.log(b2) + b2 * (c1 - c2 + a1 / b1) - entropy_tensor(pp)  # type: ignore[operator]
        value = torch.where(above, shifted, value)
    value = torch.where(below, torch.full_like(value, math.inf), value.clamp_min(0.0))
    inf = torch.full_like(c1, math.inf)
    reason = _support_reason(c1, inf, c2, inf, value == math.inf)
    return ClosedForm(out(value, pp), reason)


def _kl_beta(p: Any, q: Any) -> Any:
    import torch

    pair = read_pair(p, q)
    if pair is None:
        return NotImplemented
    pp, qq = pair
    lo1, hi1 = pp["loc"], pp["loc"] + pp["scale"]
    lo2, hi2 = qq["loc"], qq["loc"] + qq["scale"]
    same = (pp["loc"] == qq["loc"]) & (pp["scale"] == qq["scale"])
    outside = (lo1 < lo2) | (hi1 > hi2)
    if not bool((same | outside).all()):
        return NotImplemented
    a1, b1, a2, b2 = pp["a"], pp["b"], qq["a"], qq["b"]
    value = lgamma_bregman(a1, a2) + lgamma_bregman(b1, b2) - lgamma_bregman(a1 + b1, a2 + b2)
    value = torch.where(outside, torch.full_like(value, math.inf), value.clamp_min(0.0))
    reason = _support_reason(lo1, hi1, lo2, hi2, value == math.inf)
    return ClosedForm(out(value, pp), reason)


def _kl_dirichlet(p: Any, q: Any) -> Any:
    pair = read_pair(p, q)
    if pair is None:
        return NotImplemented
    pp, qq = pair
    a, b = pp["concentration"], qq["concentration"]
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(
            f"p and q must have the same number of components, got {a.shape[-1]} "
            f"({pp.source}) and {b.shape[-1]} ({qq.source})"
        )
    value = lgamma_bregman(a, b).sum(-1) - lgamma_bregman(a.sum(-1), b.sum(-1))
    return out(value.clamp_min(0.0), pp)


def _entropy(p: Any) -> Any:
    pp = read(p, "p")
    if pp is None:
        return NotImplemented
    h = entropy_tensor(pp)
    return NotImplemented if h is None else out(h, pp)


def entropy_tensor(pp: Params) -> torch.Tensor | None:
    """The entropy of a family of this module, as a tensor (None for other families)."""
    import torch

    lg, dg = torch.lgamma, torch.digamma
    if pp.family == "gamma":
        a, b = pp["shape"], pp["rate"]
        return a - torch.log(b) + lg(a) + (1 - a) * dg(a)
    if pp.family == "beta":
        a, b, s = pp["a"], pp["b"], pp["a"] + pp["b"]
        log_beta = lg(a) + lg(b) - lg(s)
        h = log_beta - (a - 1) * dg(a) - (b - 1) * dg(b) + (s - 2) * dg(s)
        return h + torch.log(pp["scale"])
    if pp.family == "dirichlet":
        a = pp["concentration"]
        a0, k = a.sum(-1), a.shape[-1]
        log_beta = lg(a).sum(-1) - lg(a0)
        return log_beta + (a0 - k) * dg(a0) - ((a - 1) * dg(a)).sum(-1)
    return None


_kl_gamma._klmath_formula = "klmath gamma closed form"  # type: ignore[attr-defined]
_kl_beta._klmath_formula = "klmath beta closed form"  # type: ignore[attr-defined]
_kl_dirichlet._klmath_formula = "klmath Dirichlet closed form"  # type: ignore[attr-defined]
_entropy._klmath_formula = "klmath gamma/beta entropy"  # type: ignore[attr-defined]


def _register() -> None:
    for family, fn in (("gamma", _kl_gamma), ("beta", _kl_beta), ("dirichlet", _kl_dirichlet)):
        keys = family_keys(family)
        for kp in keys:
            for kq in keys:
                register_kl(kp, kq)(fn)
            register_entropy(kp)(_entropy)


_register()
