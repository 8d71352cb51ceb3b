"""Machine-checked proofs of every claim klmath relies on, at their true generality.

Each claim is a :class:`~klmath.proofs._record.ClaimFunction`: calling it checks
the stored statement (or one passed in) and returns a :class:`ProofResult` (the
statement, its generality, status, time, the checked steps, the steps checked only
at concrete sizes, and the theorems used without checking):

1. :func:`gaussian_kl_closed_form` — seed problem 5, all d ≥ 1.
2. :func:`kl_nonnegative` — seed problem 4a, all densities p, q.
3. :func:`kl_additivity` — seed problem 4b, all d ≥ 1.
4. :func:`coupling_log_det` — seed problem 3, all n, all masks Ω.
5. :func:`argmax_lemma` — seed problem 6, all sets Θ, Φ (z3).
6. :func:`flow1d_facts` — seed problem 2, all n ≥ 1.
7. :func:`kl_penalty_expectations` — the value and gradient table of
   :func:`klmath.kl_penalty`, all K ≥ 2.
8. :func:`gaussian_matrix_identity` — the matrix-product form of the Gaussian KL that
   :func:`klmath.gaussian_kl_matrix` evaluates, all d ≥ 1 (the library's packing and
   row layout checked for d ≤ 64).

Every claim ends by evaluating klmath's own functions on every code path against
its statement at 50 digits (:mod:`klmath.proofs.library`), so the run fails when
the library is wrong. ``python -m klmath.proofs`` runs them all; the exit code is
non-zero if any claim fails.

To add a claim: write ``klmath/proofs/<name>.py`` with a function decorated by
:func:`klmath.proofs._record.claim` (its body yields only checked steps) and append
it to :data:`CLAIMS`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from klmath.proofs._record import ClaimFunction, ProofFailure, ProofResult
from klmath.proofs.coupling import (
    coupling_jacobian,
    coupling_jacobian_reference,
    coupling_log_det,
    coupling_log_det_reference,
)
from klmath.proofs.flow1d import flow1d_facts, flow1d_reference
from klmath.proofs.gaussian import gaussian_kl_closed_form, gaussian_kl_reference
from klmath.proofs.gaussian_matrix import gaussian_matrix_identity
from klmath.proofs.kl_penalty import kl_penalty_expectations
from klmath.proofs.kl_properties import kl_additivity, kl_nonnegative
from klmath.proofs.lemma import argmax_lemma, exhaustive_argmax_check

__all__ = [
    "CLAIMS",
    "ClaimFunction",
    "ProofFailure",
    "ProofResult",
    "argmax_lemma",
    "coupling_jacobian",
    "coupling_jacobian_reference",
    "coupling_log_det",
    "coupling_log_det_reference",
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

CLAIMS: tuple[ClaimFunction, ...] = (
    gaussian_kl_closed_form,
    kl_nonnegative,
    kl_additivity,
    coupling_log_det,
    argmax_lemma,
    flow1d_facts,
    kl_penalty_expectations,
    gaussian_matrix_identity,
)
"""The six claims of the seed problems (5, 4a, 4b, 3, 6, 2), then the KL penalty table;
append new ones."""


def run_all(
    claims: Sequence[ClaimFunction] = CLAIMS,
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
