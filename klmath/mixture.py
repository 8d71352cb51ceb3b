r"""Bounds on the KL divergence between Gaussian mixtures (no closed form exists).

For f = Σₐ ωₐ fₐ and g = Σ_b π_b g_b with Gaussian components, KL(f ‖ g) has no
closed form; :func:`klmath.kl` estimates it by Monte Carlo. :func:`gaussian_mixture_kl_bounds`
adds deterministic brackets and an approximation, all from component-pair closed
forms (all K·L component KLs at once by :func:`klmath.gaussian_kl_matrix`, Gaussian
overlaps and entropies):

Write D_ab = KL(fₐ ‖ g_b), Hₐ the entropy of fₐ, t_ab = ∫ fₐ g_b = N(μₐ; μ_b, Σₐ + Σ_b),
and likewise D_aα, z_aα with f's own components. Jensen's inequality on
log Σ_b π_b g_b gives, for each a,

.. math::

    \log \sum_b π_b e^{-D_{ab}} - H_a \;\le\; E_{f_a}[\log g] \;\le\; \log \sum_b π_b t_{ab},

and the same with (ω, f) in place of (π, g) brackets E_{fₐ}[log f]. Since
KL(f ‖ g) = Σₐ ωₐ (E_{fₐ}[log f] − E_{fₐ}[log g]):

* ``lower`` (Durrieu, Thiran & Kelly 2012):
  Σₐ ωₐ [log Σ_α ω_α e^{−D_aα} − Hₐ − log Σ_b π_b t_ab], clipped at 0;
* ``upper``: the smaller of Durrieu et al.'s
  Σₐ ωₐ [log Σ_α ω_α z_aα − log Σ_b π_b e^{−D_ab} + Hₐ] and Hershey & Olsen's
  (2007) variational upper bound Σ_ab φ_ab (log(φ_ab/ψ_ab) + D_ab), minimised over
  couplings φ (row sums ω) and ψ (column sums π) by their alternating updates
  (each iterate is itself a valid bound, from the log-sum inequality);
* ``variational`` (Hershey & Olsen's D_var, an approximation, not a bound):
  Σₐ ωₐ log(Σ_α ω_α e^{−D_aα} / Σ_b π_b e^{−D_ab}); exact for one component each.

All sums over components are log-sum-exps, so tiny overlaps do not underflow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

__all__ = ["MixtureKLBounds", "gaussian_mixture_kl_bounds"]


@dataclass(frozen=True)
class MixtureKLBounds:
    """Deterministic facts about KL(p ‖ q) for Gaussian mixtures p, q.

    Attributes
    ----------
    lower, upper : torch.Tensor
        lower ≤ KL(p ‖ q) ≤ upper, shape = the mixtures' broadcast batch shape.
    variational : torch.Tensor
        Hershey & Olsen's variational approximation (usually, not always, in range).
    """

    lower: torch.Tensor
    upper: torch.Tensor
    variational: torch.Tensor


def gaussian_mixture_kl_bounds(p: Any, q: Any, *, iterations: int = 20) -> MixtureKLBounds:
    """Return lower and upper bounds and the variational approximation of KL(p ‖ q).

    Parameters
    ----------
    p, q : torch.distributions.MixtureSameFamily
        Gaussian mixtures: the component distribution is ``Normal`` (event shape ()),
        ``Independent(Normal, 1)`` or ``MultivariateNormal`` (event shape (d,)); the
        two may differ in component type and count but not in event shape. Batch
        shapes broadcast.
    iterations : int
        Alternating updates of the variational upper bound (each one tightens it).

    Returns
    -------
    MixtureKLBounds
        ``lower``, ``upper``, ``variational``, in p's dtype (see the module docstring
        for the formulas).

    Raises
    ------
    TypeError
        If p or q is not a ``MixtureSameFamily`` of Gaussians, or ``iterations`` is
        not an int.
    ValueError
        If the event shapes differ, ``iterations`` < 0, or a parameter of p or q is
        invalid (NaN, infinite, a scale ≤ 0 in a mixture built with
        ``validate_args=False``): the message names p or q and the parameter.

    Examples
    --------
    >>> import torch
    >>> from torch.distributions import Categorical, MixtureSameFamily, Normal
    >>> w = Categorical(torch.tensor([0.3, 0.7], dtype=torch.float64))
    >>> p = MixtureSameFamily(w, Normal(torch.tensor([-1.0, 1.0], dtype=torch.float64), 0.5))
    >>> q = MixtureSameFamily(w, Normal(torch.tensor([-1.0, 2.0], dtype=torch.float64), 0.7))
    >>> b = gaussian_mixture_kl_bounds(p, q)
    >>> bool(b.lower <= b.variational <= b.upper)
    True
    """
    if isinstance(iterations, bool) or not isinstance(iterations, int):
        raise TypeError(f"iterations must be an int >= 0, got {type(iterations).__name__}")
    if iterations < 0:
        raise ValueError(f"iterations must be an int >= 0, got {iterations!r}")
    log_w, mean_p, tril_p, event_p = _components(p, "p")
    log_pi, mean_q, tril_q, event_q = _components(q, "q")
    if event_p != event_q:
        raise ValueError(
            f"p and q must have the same event shape: p has {event_p}, q has {event_q}"
        )
    mean_q, tril_q, log_pi = (x.to(mean_p) for x in (mean_q, tril_q, log_pi))

    d_pp = _pairwise_kl(mean_p, tril_p, mean_p, tril_p)  # (..., K, K)
    d_pq = _pairwise_kl(mean_p, tril_p, mean_q, tril_q)  # (..., K, L)
    log_z = _pairwise_log_overlap(mean_p, tril_p, mean_p, tril_p)
    log_t = _pairwise_log_overlap(mean_p, tril_p, mean_q, tril_q)
    d = mean_p.shape[-1]
    entropy = 0.5 * d * math.log(2 * math.pi * math.e) + _log_diag(tril_p).sum(-1)  # (..., K)

    lse_pp = torch.logsumexp(log_w.unsqueeze(-2) - d_pp, -1)  # (..., K)
    lse_pq = torch.logsumexp(log_pi.unsqueeze(-2) - d_pq, -1)
    upper_ff = torch.logsumexp(log_w.unsqueeze(-2) + log_z, -1)
    upper_fg = torch.logsumexp(log_pi.unsqueeze(-2) + log_t, -1)
    w = log_w.exp()
    lower = (w * (lse_pp - entropy - upper_fg)).sum(-1).clamp_min(0.0)
    upper_durrieu = (w * (upper_ff - lse_pq + entropy)).sum(-1)
    variational = (w * (lse_pp - lse_pq)).sum(-1)
    upper = torch.minimum(upper_durrieu, _variational_upper(log_w, log_pi, d_pq, iterations))
    # upper ≥ KL ≥ lower holds exactly; rounding can put upper a few ulps below lower when
    # the two coincide (e.g. p = q, both 0), so keep the bracket ordered.
    upper = torch.maximum(upper, lower)
    return MixtureKLBounds(lower, upper, variational)


def _components(mix: Any, name: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, tuple]:
    """Return (log weights (..., K), means (..., K, d), Cholesky factors (..., K, d, d), event)."""
    D = torch.distributions
    if not isinstance(mix, D.MixtureSameFamily):
        raise TypeError(
            f"{name} must be a torch.distributions.MixtureSameFamily of Gaussians, "
            f"got {type(mix).__name__}"
        )
    from klmath._adapters import check_parameters
    from klmath._validation import check_finite

    # Named checks here: the component closed forms below would name their own
    # arguments (mean0, tril1) instead of the user's p or q.
    check_parameters(mix, name)
    comp = mix.component_distribution
    for attr in ("loc", "scale", "scale_tril"):
        value = getattr(comp if type(comp) is not D.Independent else comp.base_dist, attr, None)
        if isinstance(value, torch.Tensor):
            check_finite(value, f"{name}'s component {attr}", event_dims=0)
    log_w = torch.log_softmax(mix.mixture_distribution.logits, -1)
    if type(comp) is D.Normal:
        std = comp.scale.unsqueeze(-1)
        return log_w, comp.loc.unsqueeze(-1), torch.diag_embed(std), ()
    if type(comp) is D.Independent and type(comp.base_dist) is D.Normal:
        if comp.reinterpreted_batch_ndims == 1:
            base = comp.base_dist
            return log_w, base.loc, torch.diag_embed(base.scale), tuple(comp.event_shape)
    if type(comp) is D.MultivariateNormal:
        return log_w, comp.loc, comp.scale_tril, tuple(comp.event_shape)
    raise TypeError(
        f"{name}'s components must be Normal, Independent(Normal, 1) or MultivariateNormal, "
        f"got {type(comp).__name__}"
        + (f"({type(comp.base_dist).__name__})" if type(comp) is D.Independent else "")
    )


def _log_diag(tril: torch.Tensor) -> torch.Tensor:
    return tril.diagonal(dim1=-2, dim2=-1).log()


def _pairwise_kl(m0: torch.Tensor, l0: torch.Tensor, m1: torch.Tensor, l1: torch.Tensor) -> Any:
    """KL(component a of the first ‖ component b of the second), shape (..., K, L).

    By :func:`klmath.gaussian_kl_matrix`: one matrix product over all K·L pairs
    (pairs it cannot guarantee, such as a component against itself, are computed
    by the careful form, so D_aa = 0 exactly).
    """
    from klmath.gaussian_matrix import gaussian_kl_matrix

    return gaussian_kl_matrix(m0, l0, m1, l1, form="tril")


def _pairwise_log_overlap(
    m0: torch.Tensor, l0: torch.Tensor, m1: torch.Tensor, l1: torch.Tensor
) -> torch.Tensor:
    """log ∫ f_a f_b = log N(μ_a; μ_b, Σ_a + Σ_b), shape (..., K, L)."""
    cov = l0 @ l0.mT
    cov1 = l1 @ l1.mT
    total = cov.unsqueeze(-3) + cov1.unsqueeze(-4)  # (..., K, L, d, d)
    chol = torch.linalg.cholesky(total)
    diff = (m0.unsqueeze(-2) - m1.unsqueeze(-3)).unsqueeze(-1)
    sol = torch.linalg.solve_triangular(chol, diff, upper=False).squeeze(-1)
    d = m0.shape[-1]
    return -0.5 * (sol * sol).sum(-1) - _log_diag(chol).sum(-1) - 0.5 * d * math.log(2 * math.pi)


def _variational_upper(
    log_w: torch.Tensor, log_pi: torch.Tensor, d_pq: torch.Tensor, iterations: int
) -> torch.Tensor:
    """Hershey & Olsen's variational upper bound after ``iterations`` updates."""
    log_phi = log_w.unsqueeze(-1) + log_pi.unsqueeze(-2)
    log_psi = log_phi
    for _ in range(iterations):
        log_phi = log_w.unsqueeze(-1) + _log_normalized(log_psi - d_pq, -1)
        log_psi = log_pi.unsqueeze(-2) + _log_normalized(log_phi, -2)
    phi = log_phi.exp()
    # φ = 0 entries (zero weights) contribute nothing; avoid 0 · (−inf).
    terms = torch.where(phi > 0, phi * (log_phi - log_psi + d_pq), torch.zeros_like(phi))
    return terms.sum((-1, -2))


def _log_normalized(x: torch.Tensor, dim: int) -> torch.Tensor:
    """x − logsumexp(x, dim); a slice that is all −inf (a component of weight 0) stays −inf.

    (−inf − (−inf) would be NaN, and one NaN spreads through the next normalisation
    to every entry of the coupling.)
    """
    lse = torch.logsumexp(x, dim, keepdim=True)
    return x - torch.where(lse == -math.inf, 0.0, lse)
