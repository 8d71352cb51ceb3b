"""klmath: a verified math library for the KL divergence and the models built on it.

Every formula is derived in SymPy (:mod:`klmath.proofs`), checked against mpmath
and attacked by Hypothesis property tests. The public API:

* Gaussian KL in closed form: :func:`gaussian_kl`, :func:`gaussian_kl_diag`,
  :func:`gaussian_kl_tril` (NumPy or torch, batched, differentiable).
* Monte Carlo KL with error bars and one entry point: :func:`mc_kl`, :func:`kl`,
  :func:`register_kl`; bounds for Gaussian mixtures: :func:`gaussian_mixture_kl_bounds`.
* Affine coupling with an arbitrary mask: :class:`AffineCoupling`.
* The 1-D normalizing flow of seed problem 2: ``flow1d_*``.
* The lower-bound argmax lemma on finite tables: :func:`check_argmax_lemma`.
"""

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
from klmath.gaussian import gaussian_kl, gaussian_kl_diag, gaussian_kl_tril
from klmath.gaussian_matrix import gaussian_kl_matrix
from klmath.lemma import ArgmaxLemmaResult, check_argmax_lemma
from klmath.mixture import MixtureKLBounds, gaussian_mixture_kl_bounds
from klmath.montecarlo import (
    ESTIMATORS,
    KLEstimatorWarning,
    MCResult,
    SupportsSampleLogProb,
    mc_kl,
)
from klmath.registry import KLAmbiguityWarning, KLMonteCarloWarning, KLResult, kl, register_kl

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
    "MCResult",
    "MixtureKLBounds",
    "SupportsSampleLogProb",
    "gaussian_mixture_kl_bounds",
    "kl",
    "mc_kl",
    "register_kl",
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
