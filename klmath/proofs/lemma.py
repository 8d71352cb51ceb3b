"""Claim 5: maximising a tight lower bound maximises the objective (seed problem 6).

Hypotheses: f(θ) = g(θ, φ) + h(θ, φ) for all φ, h ≥ 0, and for every θ the
minimum min_φ h(θ, φ) = 0 is attained. Conclusion:
argmax f = {θ : (θ, φ) ∈ argmax g}.

Proof steps (each checked below):

1. g(θ, φ) = f(θ) − h(θ, φ) ≤ f(θ), so sup g ≤ sup f.
2. At a minimiser φ_θ of h(θ, ·), g(θ, φ_θ) = f(θ), so sup_φ g(θ, φ) = f(θ) and
   sup g = sup_θ sup_φ g = sup f (checked with SymPy's ``Max`` on symbolic grids).
3. (⊆) θ* ∈ argmax f ⇒ g(θ*, φ_θ*) = f(θ*) = max f = max g.
   (⊇) (θ, φ) ∈ argmax g ⇒ max f = g(θ, φ) ≤ f(θ) ≤ max f, so θ ∈ argmax f.

The finite statement is then checked exhaustively on every table with
|Θ|, |Φ| ≤ 3 and values in {0, 1, 2}, and the hypothesis is shown to matter:
tables where min_φ h > 0 for some θ (or h < 0 somewhere) break the conclusion,
and on an infinite Φ an infimum 0 that is not attained leaves argmax g empty.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import numpy as np
import sympy as sp

from klmath.proofs._record import ProofFailure, claim, require, require_zero

__all__ = ["argmax_lemma", "exhaustive_argmax_check"]

VALUES = (0, 1, 2)
MAX_SIDE = 3


def _expression() -> sp.Basic:
    theta, phi = sp.symbols("theta phi")
    f, g = sp.Function("f"), sp.Function("g")
    return sp.Eq(
        sp.Function("argmax")(f(theta)),
        sp.Function("proj_theta")(sp.Function("argmax")(g(theta, phi))),
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


def _symbolic_sup_steps() -> Iterator[str]:
    f_vals = sp.symbols(f"f0:{MAX_SIDE}", real=True)
    h = sp.Symbol("h", nonnegative=True)
    f = sp.Symbol("f", real=True)
    yield require(
        sp.Le(f - h, f) == sp.true,
        "step 1: g(θ, φ) = f(θ) − h(θ, φ) ≤ f(θ) for h ≥ 0 (SymPy decides f − h ≤ f)",
    )
    checked = 0
    for n_theta in range(1, MAX_SIDE + 1):
        for n_phi in range(1, MAX_SIDE + 1):
            # Where in each row the attained zero of h sits; all other h entries are
            # arbitrary non-negative symbols (which may be 0 too).
            for zeros in itertools.product(range(n_phi), repeat=n_theta):
                g = [
                    f_vals[i] - (0 if zeros[i] == j else sp.Symbol(f"h{i}{j}", nonnegative=True))
                    for i in range(n_theta)
                    for j in range(n_phi)
                ]
                if sp.Max(*g) != sp.Max(*f_vals[:n_theta]):
                    raise ProofFailure(
                        f"step 2: max g ≠ max f for |Θ|={n_theta}, |Φ|={n_phi}, zeros at {zeros}"
                    )
                checked += 1
    yield (
        f"step 2: max_(θ,φ) g = max_θ f for symbolic real f and symbolic h ≥ 0 with an attained "
        f"zero in each row, every |Θ|, |Φ| ≤ {MAX_SIDE} and every zero position ({checked} grids)"
    )
    yield (
        "step 3: (⊆) θ* ∈ argmax f, h(θ*, φ*) = 0 ⇒ g(θ*, φ*) = f(θ*) = max f = max g; "
        "(⊇) (θ, φ) ∈ argmax g ⇒ max f = max g = g(θ, φ) ≤ f(θ) ≤ max f"
    )


def _counterexample_infinite() -> str:
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


@claim(
    "if f(θ) = g(θ,φ) + h(θ,φ) with h ≥ 0 and min_φ h(θ,φ) = 0 attained for every θ, then "
    "argmax f = {θ : (θ,φ) ∈ argmax g}; without the hypothesis the conclusion can fail",
    _expression,
)
def argmax_lemma() -> Iterator[str]:
    """Check claim 5 (seed problem 6): proof steps, exhaustive grids, counterexamples."""
    yield from _symbolic_sup_steps()
    total = hyp = 0
    violating_fail = 0
    negative_fail = 0
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
    yield (
        f"exhaustive: all {hyp} tables with |Θ|, |Φ| ≤ {MAX_SIDE}, f, h ∈ {{0,1,2}} that satisfy "
        f"the hypotheses satisfy the conclusion (of {total} tables enumerated)"
    )
    yield require(
        violating_fail > 0,
        f"the hypothesis matters: {violating_fail} of the enumerated tables with some "
        "min_φ h(θ, φ) > 0 break the conclusion",
    )
    f = np.array([2, 1])
    h = np.array([[2], [0]])
    g = f[:, None] - h
    yield require(
        bool(np.argmax(f) == 0 and np.argmax(g[:, 0]) == 1 and h.min(axis=1)[0] > 0),
        "counterexample: Θ = {0, 1}, Φ = {0}, f = (2, 1), h = (2, 0): min h(0, ·) = 2 > 0, "
        "argmax f = {0} but argmax g = {(1, 0)}",
    )
    for n_theta, n_phi in ((2, 1), (2, 2)):
        negative_fail += exhaustive_argmax_check(n_theta, n_phi, h_values=(-1, 0, 1))[
            "violating_and_conclusion_fails"
        ]
    yield require(
        negative_fail > 0,
        f"a negative gap breaks it too: {negative_fail} tables with h ∈ {{−1, 0, 1}} and "
        "|Θ| = 2 have some h < 0 (so min_φ h < 0) and a wrong argmax",
    )
    yield _counterexample_infinite()
