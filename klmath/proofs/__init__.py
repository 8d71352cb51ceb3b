"""Machine-checked derivations of every claim klmath relies on (SymPy).

Each claim is a function with no arguments returning a :class:`ProofResult`
(claim in words, the SymPy expression, status, seconds, proof steps):

1. :func:`gaussian_kl_closed_form` — seed problem 5, the Gaussian KL closed form
   and the Cholesky sum klmath evaluates.
2. :func:`kl_nonnegative` — seed problem 4a, KL ≥ 0 and its equality case.
3. :func:`kl_additivity` — seed problem 4b, additivity over independent coordinates.
4. :func:`coupling_log_det` — seed problem 3, the coupling Jacobian for every mask.
5. :func:`argmax_lemma` — seed problem 6, the lower-bound argmax lemma.
6. :func:`flow1d_facts` — seed problem 2, the 1-D flow is increasing, bounded,
   and a sub-probability model.
7. :func:`kl_penalty_expectations` — the value and gradient table of :func:`klmath.kl_penalty`.
8. :func:`gaussian_matrix_identity` — the matrix-product form of the Gaussian KL
   that :func:`klmath.gaussian_kl_matrix` evaluates.

``python -m klmath.proofs`` runs them all and prints a table; the exit code is
non-zero if any claim fails. The ``*_reference`` functions lambdify the proved
expressions for the numeric tests.
"""

from __future__ import annotations

from collections.abc import Callable

from klmath.proofs._record import ProofFailure, ProofResult
from klmath.proofs.coupling import (
    coupling_jacobian,
    coupling_jacobian_reference,
    coupling_log_det,
    coupling_log_det_reference,
)
from klmath.proofs.flow1d import flow1d_facts, flow1d_reference
from klmath.proofs.gaussian import (
    derived_gaussian_kl,
    gaussian_kl_closed_form,
    gaussian_kl_reference,
)
from klmath.proofs.gaussian_matrix import gaussian_matrix_identity
from klmath.proofs.kl_penalty import kl_penalty_expectations
from klmath.proofs.kl_properties import kl_additivity, kl_nonnegative
from klmath.proofs.lemma import argmax_lemma, exhaustive_argmax_check

__all__ = [
    "CLAIMS",
    "ProofFailure",
    "ProofResult",
    "argmax_lemma",
    "coupling_jacobian",
    "coupling_jacobian_reference",
    "coupling_log_det",
    "coupling_log_det_reference",
    "derived_gaussian_kl",
    "exhaustive_argmax_check",
    "flow1d_facts",
    "flow1d_reference",
    "gaussian_kl_closed_form",
    "gaussian_kl_reference",
    "gaussian_matrix_identity",
    "kl_additivity",
    "kl_nonnegative",
    "kl_penalty_expectations",
    "run_all",
]

CLAIMS: tuple[Callable[[], ProofResult], ...] = (
    gaussian_kl_closed_form,
    kl_nonnegative,
    kl_additivity,
    coupling_log_det,
    argmax_lemma,
    flow1d_facts,
    kl_penalty_expectations,
    gaussian_matrix_identity,
)
"""The six claims of the seed problems (5, 4a, 4b, 3, 6, 2), the KL penalty table, the KL matrix."""


def run_all(
    claims: tuple[Callable[[], ProofResult], ...] = CLAIMS,
    progress: Callable[[ProofResult], None] | None = None,
) -> list[ProofResult]:
    """Run every claim in order and return their results (``progress`` sees each one)."""
    results = []
    for check in claims:
        result = check()
        if progress is not None:
            progress(result)
        results.append(result)
    return results
