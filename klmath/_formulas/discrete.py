r"""Discrete families: Bernoulli/binomial, Poisson, geometric, categorical (torch and scipy).

Parameters as in :mod:`klmath._formulas._params` (a support starts at ``shift``).
Notation: kl(a, b) = a log(a/b) − a + b ≥ 0 (:func:`~klmath._formulas._careful.rel_entr_term`,
0 log 0 = 0, a log(a/0) = ∞) and B(π ‖ ρ) = kl(π, ρ) + kl(1 − π, 1 − ρ), the Bernoulli
KL as a sum of two non-negative terms (the −a + b parts cancel between them).

*Binomial(n, π) ‖ Binomial(n, ρ)*, same n and shift. The log-ratio of the pmfs is
k log(π/ρ) + (n − k) log((1−π)/(1−ρ)) (the binomial coefficients cancel); its mean
under E k = nπ is n B(π ‖ ρ). Bernoulli is n = 1.

*Finite support, by exact summation.* Any other p with finite support (binomials of
any n and shift, Poisson(0), Geometric(1), i.e. point masses) against a binomial,
Poisson or geometric q: Σₖ p(k)[log p(k) − log q(k)] over p's support, k by k (at
most 2²⁴ terms over the batch, else no closed form is claimed). torch refuses
Binomial ‖ Binomial with different total counts, and gives NaN for probs 0 or 1.

*Poisson(λ) ‖ Poisson(μ)*, same shift: Σₖ p(k)[k log(λ/μ) − λ + μ] = λ log(λ/μ) − λ + μ
= kl(λ, μ): 0 for λ = μ, μ for λ = 0, ∞ for μ = 0 < λ (torch: NaN at λ = 0). p's
support starting below q's gives ∞; above it, only a point mass has a closed form.
A Poisson with λ > 0 against a finite-support q is ∞ (torch says ∞ even for λ = 0,
a point mass: klmath gives −log q(shift)).

*Geometric(π) ‖ Geometric(ρ)* (pmf (1−π)ᵏπ on k = shift, shift + 1, ...): the
log-ratio is log(π/ρ) + (k − s) log((1−π)/(1−ρ)), with mean (1−π)/π of k − s, so

.. math:: \mathrm{KL} = \frac{B(π \,\|\, ρ)}{π} + (s_p - s_q)\,(-\log(1 - ρ)),

for s_p ≥ s_q (∞ below). torch's −H(p) − log(1−ρ)/π − logit ρ gives −1.1e−16 for p = q.

*Categorical*: :func:`klmath.discrete_kl` on the probability vectors.

Entropies: Bernoulli entr(π) + entr(1−π); geometric (entr(π) + entr(1−π))/π; binomial
and Poisson by exact summation (Poisson over λ ± 40√λ + 40, whose tails hold less
than e⁻¹⁰⁰ of the mass, and by the asymptotic series ½ log(2πeλ) − 1/(12λ) − 1/(24λ²)
− 19/(360λ³) beyond λ = 10⁴, where the next term is below 10⁻¹⁶); categorical
:func:`klmath.discrete_entropy`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from klmath._formulas._careful import rel_entr_term
from klmath._formulas._params import Params, family_keys, out, read, read_pair
from klmath.registry import ClosedForm, register_entropy, register_kl

if TYPE_CHECKING:
    import torch

__all__: list[str] = []

# Most terms an exact summation may take (grid points × batch elements).
_MAX_TERMS = 2**24
_POISSON_WIDTH = 40.0
_POISSON_ASYMPTOTIC = 1e4


def _bernoulli(pi: torch.Tensor, rho: torch.Tensor) -> torch.Tensor:
    """B(π ‖ ρ) = kl(π, ρ) + kl(1 − π, 1 − ρ) ≥ 0."""
    return rel_entr_term(pi, rho) + rel_entr_term(1 - pi, 1 - rho)


# --------------------------------------------------------------------------- log pmfs


def _log_pmf(q: Params, k: torch.Tensor) -> torch.Tensor:
    """log q(k) at integer points k (−inf off the support); k broadcasts with q's batch."""
    import torch

    j = k - q["shift"]
    whole = j == torch.round(j)
    neg_inf = torch.full_like(j, -math.inf)
    if q.family == "binomial":
        n, pi = q["n"], q["probs"]
        inside = whole & (j >= 0) & (j <= n)
        js = torch.where(inside, j, torch.zeros_like(j))
        comb = torch.lgamma(n + 1) - torch.lgamma(js + 1) - torch.lgamma(n - js + 1)
        lp = comb + torch.special.xlogy(js, pi) + torch.special.xlog1py(n - js, -pi)
    elif q.family == "poisson":
        lam = q["rate"]
        inside = whole & (j >= 0)
        js = torch.where(inside, j, torch.zeros_like(j))
        lp = torch.special.xlogy(js, lam) - lam - torch.lgamma(js + 1)
    else:  # geometric
        pi = q["probs"]
        inside = whole & (j >= 0)
        js = torch.where(inside, j, torch.zeros_like(j))
        lp = torch.special.xlog1py(js, -pi) + torch.log(pi)
    return torch.where(inside, lp, neg_inf)


def _point_mass(p: Params) -> torch.Tensor | None:
    """Where p is a point mass (Poisson(0), Geometric(1)), else None if it never is."""
    if p.family == "poisson":
        return p["rate"] == 0
    if p.family == "geometric":
        return p["probs"] == 1
    return None


# --------------------------------------------------------------------------- KL


def _kl_binomial_any(p: Any, q: Any) -> Any:
    """Binomial-family p against a binomial, Poisson or geometric q."""
    import torch

    pair = read_pair(p, q)
    if pair is None:
        return NotImplemented
    pp, qq = pair
    if qq.family == "binomial":
        same = (pp["n"] == qq["n"]) & (pp["shift"] == qq["shift"])
        if bool(same.all()):
            value = pp["n"] * _bernoulli(pp["probs"], qq["probs"])
            value = torch.where(pp["n"] == 0, torch.zeros_like(value), value)
            return ClosedForm(out(value, pp), _reason(value), "klmath binomial closed form")
    summed = _summed(pp, qq)
    if summed is None:
        return NotImplemented
    return ClosedForm(out(summed, pp), _reason(summed), "klmath exact summation")


def _summed(p: Params, q: Params) -> torch.Tensor | None:
    """Σₖ p(k) [log p(k) − log q(k)] over the finite support of a binomial p."""
    import torch

    n, pi, shift = torch.broadcast_tensors(p["n"], p["probs"], p["shift"])
    batch = torch.broadcast_shapes(n.shape, *(v.shape for v in q.t.values()))
    top = int(n.max()) if n.numel() else 0
    if (top + 1) * max(1, math.prod(batch)) > _MAX_TERMS:
        return None
    j = torch.arange(top + 1, dtype=n.dtype, device=n.device).reshape(-1, *([1] * len(batch)))
    inside = j <= n
    js = torch.where(inside, j, torch.zeros_like(j))
    comb = torch.lgamma(n + 1) - torch.lgamma(js + 1) - torch.lgamma(n - js + 1)
    log_p = comb + torch.special.xlogy(js, pi) + torch.special.xlog1py(n - js, -pi)
    log_p = torch.where(inside, log_p, torch.full_like(log_p, -math.inf))
    log_q = _log_pmf(q, shift + j)
    mass = torch.exp(log_p)
    terms = torch.where(
        mass > 0,
        torch.where(log_q == -math.inf, torch.full_like(log_p, math.inf), mass * (log_p - log_q)),
        torch.zeros_like(log_p),
    )
    return terms.sum(0).expand(batch).clamp_min(0.0)


def _kl_poisson_any(p: Any, q: Any) -> Any:
    import torch

    pair = read_pair(p, q)
    if pair is None:
        return NotImplemented
    pp, qq = pair
    lam, s = pp["rate"], pp["shift"]
    point = -_log_pmf(qq, s)  # KL of a point mass at s
    if qq.family == "poisson":
        same = s == qq["shift"]
        lower = s < qq["shift"]
        if not bool((same | lower | (lam == 0)).all()):
            return NotImplemented  # a shifted Poisson above q's start: no closed form
        value = torch.where(same, rel_entr_term(lam, qq["rate"].expand_as(lam)), point)
        value = torch.where(lower & (lam > 0), torch.full_like(value, math.inf), value)
        value = torch.where((lam == 0) & ~same, point, value)
        return ClosedForm(out(value, pp), _reason(value), "klmath Poisson closed form")
    # q has finite support: ∞ unless p is a point mass
    value = torch.where(lam == 0, point, torch.full_like(point, math.inf))
    return ClosedForm(out(value, pp), _reason(value), "klmath Poisson closed form")


def _kl_geometric_any(p: Any, q: Any) -> Any:
    import torch

    pair = read_pair(p, q)
    if pair is None:
        return NotImplemented
    pp, qq = pair
    pi, s = pp["probs"], pp["shift"]
    point = -_log_pmf(qq, s)
    if qq.family == "geometric":
        rho, t = qq["probs"], qq["shift"]
        gap = s - t
        aligned = gap == torch.round(gap)
        extra = torch.where(gap == 0, torch.zeros_like(gap), gap * -torch.log1p(-rho))
        value = _bernoulli(pi, rho) / pi + extra
        value = torch.where(aligned & (gap >= 0), value, torch.full_like(value, math.inf))
        return ClosedForm(out(value, pp), _reason(value), "klmath geometric closed form")
    value = torch.where(pi == 1, point, torch.full_like(point, math.inf))
    return ClosedForm(out(value, pp), _reason(value), "klmath geometric closed form")


def _kl_categorical(p: Any, q: Any) -> Any:
    from klmath._formulas._careful import rel_entr_term as term

    pair = read_pair(p, q)
    if pair is None:
        return NotImplemented
    pp, qq = pair
    a, b = pp["probs"], qq["probs"]
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(
            f"p and q must have the same number of categories, got {a.shape[-1]} "
            f"({pp.source}) and {b.shape[-1]} ({qq.source})"
        )
    a = a / a.sum(-1, keepdim=True)
    b = b / b.sum(-1, keepdim=True)
    value = term(a, b).sum(-1)
    return ClosedForm(out(value, pp), _reason(value), "klmath.discrete_kl")


def _reason(value: torch.Tensor) -> str | None:
    if bool((value == math.inf).any()):
        return "q gives probability 0 to an outcome p gives positive probability"
    return None


# --------------------------------------------------------------------------- entropy


def _entropy(p: Any) -> Any:
    import torch

    pp = read(p, "p")
    if pp is None:
        return NotImplemented
    entr = torch.special.entr
    if pp.family == "binomial":
        n, pi = torch.broadcast_tensors(pp["n"], pp["probs"])
        if bool((n == 1).all()):
            return out(entr(pi) + entr(1 - pi), pp)
        return _entropy_by_sum(pp, n, pi)
    if pp.family == "geometric":
        pi = pp["probs"]
        return out((entr(pi) + entr(1 - pi)) / pi, pp)
    if pp.family == "poisson":
        return _poisson_entropy(pp)
    if pp.family == "categorical":
        a = pp["probs"]
        return out(entr(a / a.sum(-1, keepdim=True)).sum(-1), pp)
    return NotImplemented


def _entropy_by_sum(pp: Params, n: torch.Tensor, pi: torch.Tensor) -> Any:
    import torch

    top = int(n.max()) if n.numel() else 0
    if (top + 1) * max(1, n.numel()) > _MAX_TERMS:
        return NotImplemented
    j = torch.arange(top + 1, dtype=n.dtype, device=n.device).reshape(-1, *([1] * n.ndim))
    inside = j <= n
    js = torch.where(inside, j, torch.zeros_like(j))
    comb = torch.lgamma(n + 1) - torch.lgamma(js + 1) - torch.lgamma(n - js + 1)
    log_p = comb + torch.special.xlogy(js, pi) + torch.special.xlog1py(n - js, -pi)
    mass = torch.where(inside, torch.exp(log_p), torch.zeros_like(log_p))
    terms = torch.where(mass > 0, -mass * log_p, torch.zeros_like(log_p))
    return ClosedForm(out(terms.sum(0).clamp_min(0.0), pp), None, "klmath exact summation")


def _poisson_entropy(pp: Params) -> Any:
    import torch

    lam = pp["rate"]
    small = lam <= _POISSON_ASYMPTOTIC
    ls = torch.where(small, lam, torch.zeros_like(lam))
    hi = ls + _POISSON_WIDTH * torch.sqrt(ls) + _POISSON_WIDTH
    lo = (ls - _POISSON_WIDTH * torch.sqrt(ls) - _POISSON_WIDTH).clamp_min(0.0).floor()
    width = int((hi - lo).max()) + 1 if lam.numel() else 1
    if width * max(1, lam.numel()) > _MAX_TERMS:
        return NotImplemented
    k = lo + torch.arange(width, dtype=lam.dtype, device=lam.device).reshape(-1, *([1] * lam.ndim))
    log_p = torch.special.xlogy(k, ls) - ls - torch.lgamma(k + 1)
    mass = torch.exp(log_p)
    summed = torch.where(mass > 0, -mass * log_p, torch.zeros_like(log_p)).sum(0)
    big = torch.where(small, torch.ones_like(lam), lam)
    asym = (
        0.5 * torch.log(2 * math.pi * math.e * big)
        - 1 / (12 * big)
        - 1 / (24 * big**2)
        - 19 / (360 * big**3)
    )
    value = torch.where(small, summed, asym).clamp_min(0.0)
    return ClosedForm(out(value, pp), None, "klmath exact summation (Poisson)")


def _register() -> None:
    binomial, poisson = family_keys("binomial"), family_keys("poisson")
    geometric, categorical = family_keys("geometric"), family_keys("categorical")
    for kp in binomial:
        for kq in [*binomial, *poisson, *geometric]:
            register_kl(kp, kq)(_kl_binomial_any)
    for kp in poisson:
        for kq in [*poisson, *binomial]:
            register_kl(kp, kq)(_kl_poisson_any)
    for kp in geometric:
        for kq in [*geometric, *binomial]:
            register_kl(kp, kq)(_kl_geometric_any)
    for kp in categorical:
        for kq in categorical:
            register_kl(kp, kq)(_kl_categorical)
    for key in [*binomial, *poisson, *geometric, *categorical]:
        register_entropy(key)(_entropy)


_register()
