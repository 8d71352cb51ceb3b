"""klmath: a verified math library for the KL divergence and the models built on it.

Every formula is derived in SymPy (:mod:`klmath.proofs`), checked against mpmath
and attacked by Hypothesis property tests. The public API:

* Gaussian KL in closed form: :func:`gaussian_kl`, :func:`gaussian_kl_diag`,
  :func:`gaussian_kl_tril` (NumPy or torch, batched, differentiable).
* Monte Carlo KL with error bars and one entry point: :func:`mc_kl`, :func:`kl`,
  :func:`register_kl`.
* Affine coupling with an arbitrary mask: :class:`AffineCoupling`.
* The 1-D normalizing flow of seed problem 2: :mod:`klmath.flow1d`.
* The lower-bound argmax lemma on finite tables: :func:`check_argmax_lemma`.
"""

from klmath import coupling, flow1d, gaussian, lemma, mixture, montecarlo, registry
from klmath.coupling import *  # noqa: F403
from klmath.flow1d import *  # noqa: F403
from klmath.gaussian import *  # noqa: F403
from klmath.lemma import *  # noqa: F403
from klmath.mixture import *  # noqa: F403
from klmath.montecarlo import *  # noqa: F403
from klmath.registry import *  # noqa: F403

__version__ = "0.1.0"

__all__ = [
    *gaussian.__all__,
    *montecarlo.__all__,
    *registry.__all__,
    *mixture.__all__,
    *coupling.__all__,
    *flow1d.__all__,
    *lemma.__all__,
]
