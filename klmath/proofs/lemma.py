"""Claim 5: maximising a tight lower bound maximises the objective (seed problem 6).

For arbitrary sets Θ, Φ and real functions f on Θ, g, h on Θ × Φ with the hypotheses

* (decomposition) f(θ) = g(θ, φ) + h(θ, φ) for all θ, φ,
* (non-negative gap) h(θ, φ) ≥ 0 for all θ, φ,
* (attained zero) for every θ there is φ with h(θ, φ) = 0,

the conclusion is argmax f = {θ : (θ, φ) ∈ argmax g for some φ}. This is a first-order
statement, checked by the SMT solver z3: Θ and Φ are uninterpreted sorts (any sets,
finite or not), f, g, h uninterpreted functions into the reals, the hypotheses
quantified axioms; for each inclusion the negated conclusion together with the
axioms is unsatisfiable. With the attained zero dropped, z3 *finds* a counterexample.

Second, independent checks: every finite table with |Θ|, |Φ| ≤ 3 and values in
{0, 1, 2} (NumPy, exact integers), and on an infinite Φ = [1, ∞) an infimum 0 that is
not attained (SymPy limits) leaves argmax g empty.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import sympy as sp

from klmath.proofs._record import (
    ProofFailure,
    Step,
    claim,
    concrete,
    require,
    require_sat,
    require_unsat,
    require_zero,
)

__all__ = [
    "HYPOTHESES",
    "LemmaStatement",
    "argmax_lemma",
    "exhaustive_argmax_check",
    "lemma_statement",
]

VALUES = (0, 1, 2)
MAX_SIDE = 3


HYPOTHESES = {
    "decomposition": "∀θ,φ: f(θ) = g(θ,φ) + h(θ,φ)",
    "nonnegative": "∀θ,φ: h(θ,φ) ≥ 0",
    "attained_zero": "∀θ ∃φ: h(θ,φ) = 0",
}
"""The hypotheses a lemma statement may name, in words."""


@dataclass(frozen=True)
class LemmaStatement:
    """A first-order statement of the lemma: its hypotheses (names from HYPOTHESES).

    The conclusion is always argmax f = {θ : (θ, φ) ∈ argmax g}, both inclusions.
    """

    hypotheses: tuple[str, ...] = ("decomposition", "nonnegative", "attained_zero")

    def __str__(self) -> str:
        hyps = "; ".join(HYPOTHESES.get(h, h) for h in self.hypotheses)
        return f"{hyps} ⊢ argmax_θ f = {{θ : (θ, φ) ∈ argmax g}}"


def lemma_statement() -> LemmaStatement:
    """The stored statement of claim 5 (all three hypotheses)."""
    return LemmaStatement()


def _z3_problem(hypotheses: tuple[str, ...]) -> tuple[list[Any], Any, Any]:
    """The axioms for ``hypotheses`` and the negations of the two inclusions (z3 formulas)."""
    try:
        import z3
    except ImportError:
        raise ProofFailure(
            "the first-order proof needs the SMT solver z3: pip install 'klmath[proofs]' "
            "(or z3-solver)"
        ) from None

    theta_sort, phi_sort = z3.DeclareSort("Theta"), z3.DeclareSort("Phi")
    real = z3.RealSort()
    f = z3.Function("f", theta_sort, real)
    g = z3.Function("g", theta_sort, phi_sort, real)
    h = z3.Function("h", theta_sort, phi_sort, real)
    t, t2 = z3.Consts("t t2", theta_sort)
    p, p2 = z3.Consts("p p2", phi_sort)
    formulas = {
        "decomposition": z3.ForAll([t, p], f(t) == g(t, p) + h(t, p)),
        "nonnegative": z3.ForAll([t, p], h(t, p) >= 0),
        "attained_zero": z3.ForAll([t], z3.Exists([p], h(t, p) == 0)),
    }
    unknown = [name for name in hypotheses if name not in formulas]
    if unknown:
        raise ProofFailure(f"unknown hypotheses {unknown}; known: {sorted(formulas)}")
    theta0 = z3.Const("theta0", theta_sort)

    def in_argmax_f(x: Any) -> Any:
        return z3.ForAll([t2], f(t2) <= f(x))

    def in_argmax_g(x: Any, y: Any) -> Any:
        return z3.ForAll([t2, p2], g(t2, p2) <= g(x, y))

    subset = z3.Not(z3.Implies(in_argmax_f(theta0), z3.Exists([p], in_argmax_g(theta0, p))))
    superset = z3.Not(z3.Implies(z3.Exists([p], in_argmax_g(theta0, p)), in_argmax_f(theta0)))
    return [formulas[name] for name in hypotheses], subset, superset


def _solver(*formulas: Any) -> Any:
    import z3

    solver = z3.Solver()
    solver.set("timeout", 10_000)
    solver.add(*formulas)
    return solver


def _first_order(statement: LemmaStatement) -> Iterator[Step]:
    axioms, subset, superset = _z3_problem(statement.hypotheses)
    yield require_unsat(
        _solver(*axioms, superset),
        "(⊇) z3: the hypotheses and (θ₀, φ) ∈ argmax g with θ₀ ∉ argmax f are unsatisfiable",
    )
    yield require_unsat(
        _solver(*axioms, subset),
        "(⊆) z3: the hypotheses and θ₀ ∈ argmax f with no φ making (θ₀, φ) a maximiser of g are "
        "unsatisfiable, for uninterpreted sorts Θ, Φ (all sets) and functions f, g, h",
    )
    weaker = tuple(h for h in statement.hypotheses if h != "attained_zero")
    axioms, _, superset = _z3_problem(weaker)
    step, model = require_sat(
        _solver(*axioms, superset),
        "attainment matters: without ∀θ ∃φ h(θ,φ) = 0, z3 finds a model with (θ₀, φ) ∈ argmax g "
        "and θ₀ ∉ argmax f",
    )
    yield require(
        len(model.decls()) > 0,
        f"{step} (a counterexample with {len(model.decls())} interpreted symbols)",
    )


def _tables(n_theta: int, n_phi: int, h_values: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Every (f, h) with f ∈ VALUES^Θ and h ∈ h_values^(Θ×Φ): arrays (N, Θ) and (N, Θ, Φ)."""
    f = np.array(list(itertools.product(VALUES, repeat=n_theta)), dtype=np.int64)
    rows = np.array(list(itertools.product(h_values, repeat=n_phi)), dtype=np.int64)
    h = rows[np.array(list(itertools.product(range(len(rows)), repeat=n_theta)))]
    nf, nh = len(f), len(h)
    return np.repeat(f, nh, axis=0), np.tile(h, (nf, 1, 1))


def exhaustive_argmax_check(
    n_theta: int, n_phi: int, h_values: tuple[int, ...] = VALUES
) -> dict[str, int]:
    """Count tables by hypothesis and conclusion over every finite table of one size.

    All tables f ∈ {0,1,2}^Θ, h ∈ h_values^(Θ×Φ) with g = f − h (so g + h is
    constant in φ by construction) are enumerated, with integer arithmetic so
    ties are exact.

    Returns
    -------
    dict
        ``"tables"``; ``"hypotheses"`` (h ≥ 0 and every row has a 0);
        ``"hypotheses_and_conclusion"``; ``"violating"`` (some hypothesis fails);
        ``"violating_and_conclusion_fails"``.
    """
    f, h = _tables(n_theta, n_phi, h_values)
    g = f[:, :, None] - h
    argmax_f = f == f.max(axis=1, keepdims=True)
    g_max = g.reshape(len(g), -1).max(axis=1)
    argmax_g_theta = (g == g_max[:, None, None]).any(axis=2)
    conclusion = (argmax_f == argmax_g_theta).all(axis=1)
    hypotheses = (h >= 0).all(axis=(1, 2)) & (h.min(axis=2) == 0).all(axis=1)
    return {
        "tables": len(f),
        "hypotheses": int(hypotheses.sum()),
        "hypotheses_and_conclusion": int((hypotheses & conclusion).sum()),
        "violating": int((~hypotheses).sum()),
        "violating_and_conclusion_fails": int((~hypotheses & ~conclusion).sum()),
    }


def _counterexample_infinite() -> Step:
    # Θ = {a, b}, Φ = [1, ∞): f(a) = 1, f(b) = 0, h(a, φ) = 1/φ (inf 0, never attained),
    # h(b, φ) = 0. Then g(a, φ) = 1 − 1/φ < 1 = sup g, so argmax g = ∅ ≠ {a} = argmax f.
    phi = sp.Symbol("phi", positive=True)
    g_a = 1 - 1 / phi
    domain = sp.Interval(1, sp.oo)
    require_zero(sp.limit(1 / phi, phi, sp.oo), "inf_φ h(a, φ) = 0")
    require_zero(sp.limit(g_a, phi, sp.oo) - 1, "sup_φ g(a, φ) = 1")
    return require(
        sp.solveset(sp.Eq(1 / phi, 0), phi, domain) == sp.EmptySet
        and sp.solveset(sp.Eq(g_a, 1), phi, domain) == sp.EmptySet,
        "attainment matters: Φ = [1, ∞), f = (1, 0), h(a, φ) = 1/φ, h(b, φ) = 0 has "
        "inf h(a, ·) = 0 unattained, sup g = 1 unattained, so argmax g = ∅ ≠ {a} = argmax f",
    )


def _finite_tables() -> Iterator[Step]:
    total = hyp = violating_fail = negative_fail = 0
    for n_theta in range(1, MAX_SIDE + 1):
        for n_phi in range(1, MAX_SIDE + 1):
            counts = exhaustive_argmax_check(n_theta, n_phi)
            if counts["hypotheses_and_conclusion"] != counts["hypotheses"]:
                raise ProofFailure(
                    f"|Θ|={n_theta}, |Φ|={n_phi}: conclusion fails on "
                    f"{counts['hypotheses'] - counts['hypotheses_and_conclusion']} tables "
                    "that satisfy the hypotheses"
                )
            total += counts["tables"]
            hyp += counts["hypotheses"]
            violating_fail += counts["violating_and_conclusion_fails"]
    yield concrete(
        require(
            hyp > 0 and total > hyp,
            f"cross-check: all {hyp} tables with |Θ|, |Φ| ≤ {MAX_SIDE}, f, h ∈ {{0,1,2}} that "
            f"satisfy the hypotheses satisfy the conclusion (of {total} tables enumerated)",
        ),
        f"|Θ|, |Φ| ≤ {MAX_SIDE}",
    )
    yield concrete(
        require(
            violating_fail > 0,
            f"cross-check: {violating_fail} of the enumerated tables with some min_φ h(θ, φ) > 0 "
            "break the conclusion",
        ),
        f"|Θ|, |Φ| ≤ {MAX_SIDE}",
    )
    for n_theta, n_phi in ((2, 1), (2, 2)):
        negative_fail += exhaustive_argmax_check(n_theta, n_phi, h_values=(-1, 0, 1))[
            "violating_and_conclusion_fails"
        ]
    yield concrete(
        require(
            negative_fail > 0,
            f"cross-check: a negative gap breaks it too: {negative_fail} tables with "
            "h ∈ {−1, 0, 1} and |Θ| = 2 have some h < 0 and a wrong argmax",
        ),
        "|Θ| = 2, |Φ| ≤ 2",
    )


@claim(
    "if f(θ) = g(θ,φ) + h(θ,φ) with h ≥ 0 and min_φ h(θ,φ) = 0 attained for every θ, then "
    "argmax f = {θ : (θ,φ) ∈ argmax g}; without attainment the conclusion can fail",
    lemma_statement,
    generality="all sets Θ, Φ and real functions f, g, h",
    uses=("z3's decision for the quantified formulas (unsat is a proof)",),
)
def argmax_lemma(statement: LemmaStatement) -> Iterator[Step]:
    """Check claim 5 (seed problem 6): z3 for all sets, tables and a limit as cross-checks."""
    if not isinstance(statement, LemmaStatement):
        raise ProofFailure(f"the statement {statement!r} is not a LemmaStatement")
    yield from _first_order(statement)
    yield from _finite_tables()
    yield _counterexample_infinite()
    from klmath.proofs.library import lemma_library_checks

    yield from lemma_library_checks()
