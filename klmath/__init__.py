"""klmath: a verified math library for the KL divergence and the models built on it.

Every formula is derived in SymPy (:mod:`klmath.proofs`), checked against mpmath
and attacked by Hypothesis property tests. The public API:

* Gaussian KL in closed form: :func:`gaussian_kl`, :func:`gaussian_kl_diag`,
  :func:`gaussian_kl_tril` (NumPy or torch, batched, differentiable), and between
  every pair of two sets, :func:`gaussian_kl_matrix`.
* Monte Carlo KL with error bars and one entry point: :func:`mc_kl`, :func:`kl`,
  :func:`register_kl`; bounds for Gaussian mixtures: :func:`gaussian_mixture_kl_bounds`.
* Affine coupling with an arbitrary mask: :class:`AffineCoupling`.
* The 1-D normalizing flow of seed problem 2: ``flow1d_*``.
* The lower-bound argmax lemma on finite tables: :func:`check_argmax_lemma`.

``import klmath`` imports NumPy only: neither torch nor SymPy. klmath computes
in torch, so the first call that computes (``gaussian_kl`` on NumPy arrays
included) imports torch then, once; the torch-only names (``AffineCoupling``,
``flow1d_*``, ``gaussian_mixture_kl_bounds``) import it on first access, and
SymPy is loaded only by :mod:`klmath.proofs`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from klmath.discrete import discrete_entropy, discrete_kl
from klmath.divergence import EntropyResult, KLMonteCarloWarning, KLResult, entropy, kl
from klmath.gaussian import gaussian_kl, gaussian_kl_diag, gaussian_kl_tril
from klmath.gaussian_matrix import gaussian_kl_matrix
from klmath.knn import knn_kl
from klmath.lemma import ArgmaxLemmaResult, check_argmax_lemma
from klmath.montecarlo import (
    ESTIMATORS,
    KLEstimatorWarning,
    MCResult,
    SupportsSampleLogProb,
    mc_kl,
)
from klmath.pareto import pareto_khat
from klmath.penalty import kl_penalty
from klmath.registry import KLAmbiguityWarning, register_entropy, register_kl

if TYPE_CHECKING:  # loaded on first use, by __getattr__ below
    from klmath.coupling import (
        AffineCoupling,
        CouplingJacobianBlocks,
        coupling_jacobian_blocks,
        coupling_permutation,
    )
    from klmath.flow1d import (
        Flow1dInverse,
        flow1d_derivative,
        flow1d_inverse,
        flow1d_log_derivative,
        flow1d_log_prob,
        flow1d_mass,
        flow1d_missing_mass,
        flow1d_transform,
    )
    from klmath.mixture import MixtureKLBounds, gaussian_mixture_kl_bounds

# Names whose modules import torch at their top (a class subclassing nn.Module, or
# module-level tensors): imported on first access, so that ``import klmath`` and the
# NumPy functions above load neither torch nor SymPy (PEP 562). A module named here
# may import torch at its top; every other module imports it inside the function
# that needs it, through klmath._backend (tests/test_import_cost.py enforces both).
_LAZY = {
    "AffineCoupling": "klmath.coupling",
    "CouplingJacobianBlocks": "klmath.coupling",
    "coupling_jacobian_blocks": "klmath.coupling",
    "coupling_permutation": "klmath.coupling",
    "Flow1dInverse": "klmath.flow1d",
    "flow1d_derivative": "klmath.flow1d",
    "flow1d_inverse": "klmath.flow1d",
    "flow1d_log_derivative": "klmath.flow1d",
    "flow1d_log_prob": "klmath.flow1d",
    "flow1d_mass": "klmath.flow1d",
    "flow1d_missing_mass": "klmath.flow1d",
    "flow1d_transform": "klmath.flow1d",
    "MixtureKLBounds": "klmath.mixture",
    "gaussian_mixture_kl_bounds": "klmath.mixture",
}


def __getattr__(name: str) -> Any:
    """Import the module of a public name on first access (PEP 562)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'klmath' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__version__ = "0.1.0"

__all__ = [  # noqa: RUF022 - grouped by seed problem, not sorted
    # Gaussian KL (seed problem 5)
    "gaussian_kl",
    "gaussian_kl_diag",
    "gaussian_kl_matrix",
    "gaussian_kl_tril",
    # Monte Carlo KL and the kl() entry point (seed problem 4)
    "ESTIMATORS",
    "KLAmbiguityWarning",
    "KLEstimatorWarning",
    "KLMonteCarloWarning",
    "KLResult",
    "EntropyResult",
    "MCResult",
    "MixtureKLBounds",
    "SupportsSampleLogProb",
    "gaussian_mixture_kl_bounds",
    "kl",
    "entropy",
    "discrete_kl",
    "discrete_entropy",
    "mc_kl",
    "register_kl",
    "register_entropy",
    # Monte Carlo diagnostics, RL penalties, sample-based KL (issue 15)
    "kl_penalty",
    "knn_kl",
    "pareto_khat",
    # Affine coupling with an arbitrary mask (seed problem 3)
    "AffineCoupling",
    "CouplingJacobianBlocks",
    "coupling_jacobian_blocks",
    "coupling_permutation",
    # The 1-D flow (seed problem 2)
    "Flow1dInverse",
    "flow1d_derivative",
    "flow1d_inverse",
    "flow1d_log_derivative",
    "flow1d_log_prob",
    "flow1d_mass",
    "flow1d_missing_mass",
    "flow1d_transform",
    # The lower-bound argmax lemma (seed problem 6)
    "ArgmaxLemmaResult",
    "check_argmax_lemma",
]
