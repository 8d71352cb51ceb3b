"""The claims of klmath.proofs are verified in general, and each one can fail.

The whole proof run happens once (module-scoped fixture). The other tests are the
proof checks' own mutation test: each claim is fed a wrong statement and must
report failure; a step that is not the result of a check is refused.
"""

from __future__ import annotations

import json

import pytest
import sympy as sp

from klmath import proofs
from klmath.proofs import ProofFailure, ProofResult, run_all
from klmath.proofs import __main__ as cli
from klmath.proofs._record import Step, by_induction, claim, require, require_zero
from klmath.proofs.coupling import coupling_statement
from klmath.proofs.flow1d import PHI, flow1d_statement
from klmath.proofs.gaussian import gaussian_statement, statement_parts
from klmath.proofs.gaussian_matrix import matrix_statement
from klmath.proofs.kl_penalty import (
    HALF_ELL2,
    KL_PQ,
    KL_QP,
    LOSS,
    NABLA,
    PENALTIES,
    REWARD,
    VALUE,
    penalty_statement,
)
from klmath.proofs.kl_properties import additivity_statement, nonnegative_statement
from klmath.proofs.lemma import LemmaStatement

GENERALITY = {
    "gaussian_kl_closed_form": "all d ≥ 1",
    "kl_nonnegative": "all densities p, q (any dimension, any supports)",
    "kl_additivity": "all d ≥ 1",
    "coupling_log_det": "all n ≥ 1, all masks Ω",
    "argmax_lemma": "all sets Θ, Φ and real functions f, g, h",
    "flow1d_facts": "all n ≥ 1",
    "kl_penalty_expectations": "all K ≥ 2 softmax categories",  # issue 15
    "gaussian_matrix_identity": "all d ≥ 1 (library packing and layout checked d ≤ 64)",
}
SEED_CLAIMS = list(GENERALITY)[:6]  # the six seed problems
# Each of these ends by checking the library's own code against its statement.
LIBRARY_CLAIMS = [*SEED_CLAIMS, "kl_penalty_expectations"]


@pytest.fixture(scope="module")
def results() -> dict[str, ProofResult]:
    return {r.name: r for r in run_all()}


def test_claims_in_issue_order() -> None:
    assert [c.__name__ for c in proofs.CLAIMS] == list(GENERALITY)


@pytest.mark.parametrize("name", list(GENERALITY))
def test_claim_verified_in_general(results: dict[str, ProofResult], name: str) -> None:
    result = results[name]
    assert result.status == "verified", result.detail
    assert result.generality == GENERALITY[name]
    assert result.claim and len(result.steps) >= 3
    if name in LIBRARY_CLAIMS:  # each ends by checking the library against it
        assert any(step.startswith("library:") for step in result.steps), name
        assert result.steps[-1].startswith("library:"), name
    assert 0.0 < result.seconds


def test_concrete_size_steps_are_reported(results: dict[str, ProofResult]) -> None:
    # Cross-checks at concrete sizes are named as such, and the general claims do not rest on
    # them: the Gaussian, additivity, flow and non-negativity proofs have none.
    assert any("n = 5" in c for c in results["coupling_log_det"].concrete)
    assert any("|Θ|, |Φ| ≤ 3" in c for c in results["argmax_lemma"].concrete)
    matrix = results["gaussian_matrix_identity"].concrete
    assert any(c.startswith("d ≤ 64:") and "_packing" in c for c in matrix)
    assert any(c.startswith("d ≤ 64:") and "_terms" in c for c in matrix)
    for name in ("gaussian_kl_closed_form", "kl_additivity", "flow1d_facts", "kl_nonnegative"):
        assert results[name].concrete == (), name
    # The penalty table: every relation at symbolic K, K = 2, 3, 4 only as the cross-check.
    penalty = results["kl_penalty_expectations"]
    assert [c.split(":")[0] for c in penalty.concrete] == ["K = 2", "K = 3", "K = 4"]
    symbolic = [s for s in penalty.steps if "for every K ≥ 2" in s]
    assert len(symbolic) == len(penalty_statement().args)


def test_gaussian_steps_are_at_symbolic_size(results: dict[str, ProofResult]) -> None:
    steps = "\n".join(results["gaussian_kl_closed_form"].steps)
    for part in ("(a)", "(b)", "(c)", "(d)", "(e)"):
        assert part in steps
    assert "for every d" in steps and "d symbolic" in steps
    assert "library: gaussian_kl [LAPACK split solve" in steps


# --- every claim can fail: wrong statements -----------------------------------------------


def _wrong_gaussian_half() -> sp.Eq:
    stated = gaussian_statement()
    return sp.Eq(stated.lhs, stated.rhs.subs(sp.Rational(1, 2), sp.Rational(1, 4)))


def _wrong_gaussian_sign() -> sp.Eq:
    p = statement_parts()
    stated = gaussian_statement()
    return sp.Eq(stated.lhs, stated.rhs + p["d"])  # − d → + 0·d: the "−d" term dropped


def _wrong_matrix(which: str) -> sp.And:
    stated = matrix_statement()
    if which == "half":
        return stated.subs(sp.Rational(1, 2), sp.Rational(1, 4))
    if which == "weight":  # off-diagonal entries weighted 1 instead of 2
        return stated.replace(
            lambda e: isinstance(e, sp.Mul) and e.args[0] == 2 and isinstance(e.args[1], sp.Sum),
            lambda e: e.args[1],
        )
    if which == "cross-term":  # + 2μ0ᵀPμ1 instead of − 2μ0ᵀPμ1
        p = statement_parts()
        cross = sp.Trace(p["mu_0"].T * p["Sigma_1"].I * p["mu_1"])
        assert stated.has(-cross)
        return stated.xreplace({-cross: cross})
    # "diagonal": the off-diagonal sum runs over j ≤ i, so the diagonal is counted three times
    return stated.replace(
        lambda e: isinstance(e, sp.Sum) and len(e.limits) == 2,
        lambda e: sp.Sum(e.function, (e.limits[0][0], 0, e.limits[1][0]), e.limits[1]),
    )


def _wrong_additivity() -> sp.Eq:
    stated = additivity_statement()
    return sp.Eq(stated.lhs, 2 * stated.rhs)


def _wrong_coupling() -> sp.Eq:
    stated = coupling_statement()
    ((j, lo, hi),) = stated.rhs.limits
    return sp.Eq(stated.lhs, sp.Sum(stated.rhs.function, (j, lo, hi - 1)))  # one term missing


def _wrong_flow(which: str) -> sp.And:
    stated = flow1d_statement()
    parts = []
    for part in stated.args:
        lhs = part.lhs
        if which == "mass" and isinstance(lhs, sp.Integral):
            total = next(iter(part.rhs.atoms(sp.Sum)))
            part = sp.Eq(lhs, 2 * PHI(total) - 1)  # 2Φ(S) − 1 instead of 2Φ(S/2) − 1
        if which == "offset" and isinstance(lhs, sp.Derivative):
            f = lhs.expr
            new_f = f.replace(lambda e: e == -sp.Rational(1, 2), lambda e: -sp.Rational(2, 5))
            return flow1d_statement().xreplace({f: new_f})
        parts.append(part)
    return sp.And(*parts, evaluate=False)


def _wrong_penalty(old: sp.Rel, new: sp.Rel) -> sp.And:
    """The penalty statement with ``old`` replaced by ``new``; a stated part that ``new``
    contradicts is dropped (And would fold X ∧ ¬X to False before the claim sees it)."""
    parts = penalty_statement().args
    assert old in parts
    wrong = sp.And(*[new if p == old else p for p in parts if p != new.negated])
    assert isinstance(wrong, sp.And) and new in wrong.args
    return wrong


K1, K2, K3 = PENALTIES.values()
WRONG_PENALTY = {
    # k2 as a loss claimed to give the forward-KL gradient (it gives the reverse one)
    "k2-loss-is-forward-kl": (sp.Eq(LOSS(K2), NABLA(KL_QP)), sp.Eq(LOSS(K2), NABLA(KL_PQ))),
    # k3's value with a wrong sign
    "k3-value-minus-kl": (sp.Eq(VALUE(K3), KL_QP), sp.Eq(VALUE(K3), -KL_QP)),
    # k1 as a loss claimed to give ∇KL(q‖p) (its expected gradient is 0)
    "k1-loss-is-reverse-kl": (sp.Eq(LOSS(K1), 0), sp.Eq(LOSS(K1), NABLA(KL_QP))),
    # the REINFORCE gradient of k2 with the two terms' signs swapped
    "k2-reward-signs-swapped": (
        sp.Eq(REWARD(K2), NABLA(HALF_ELL2) - NABLA(KL_QP)),
        sp.Eq(REWARD(K2), NABLA(KL_QP) - NABLA(HALF_ELL2)),
    ),
    # a false inequality: the values of k1 and k3 stated to differ (both are KL(q‖p))
    "k1-value-not-k3-value": (sp.Ne(VALUE(K2), KL_QP), sp.Ne(VALUE(K1), VALUE(K3))),
    # k2's value stated to be KL (it is ½E_q[ℓ²])
    "k2-value-is-kl": (sp.Eq(VALUE(K2), HALF_ELL2), sp.Eq(VALUE(K2), KL_QP)),
}


WRONG = [
    pytest.param(
        proofs.gaussian_kl_closed_form, _wrong_gaussian_half, id="gaussian-half-to-quarter"
    ),
    pytest.param(
        proofs.gaussian_kl_closed_form, _wrong_gaussian_sign, id="gaussian-without-minus-d"
    ),
    *[
        pytest.param(
            proofs.gaussian_matrix_identity, lambda w=w: _wrong_matrix(w), id=f"matrix-{w}"
        )
        for w in ("half", "weight", "cross-term", "diagonal")
    ],
    pytest.param(proofs.kl_nonnegative, lambda: sp.Le(nonnegative_statement().lhs, 0), id="kl-le"),
    pytest.param(proofs.kl_nonnegative, lambda: sp.Gt(nonnegative_statement().lhs, 0), id="kl-gt"),
    pytest.param(proofs.kl_additivity, _wrong_additivity, id="additivity-twice"),
    pytest.param(proofs.coupling_log_det, _wrong_coupling, id="log-det-one-term-missing"),
    pytest.param(
        proofs.argmax_lemma,
        lambda: LemmaStatement(("decomposition", "nonnegative")),
        id="lemma-without-attainment",
    ),
    pytest.param(proofs.flow1d_facts, lambda: _wrong_flow("mass"), id="flow-wrong-mass"),
    pytest.param(proofs.flow1d_facts, lambda: _wrong_flow("offset"), id="flow-offset-2/5"),
]


@pytest.mark.parametrize(("check", "wrong"), WRONG)
def test_a_wrong_statement_fails_its_claim(
    results: dict[str, ProofResult], check: proofs.ClaimFunction, wrong: object
) -> None:
    assert results[check.__name__].verified  # the stored statement passes ...
    result = check(wrong())  # type: ignore[operator]
    assert result.status == "failed", (check.__name__, result.steps[-1:])  # ... a wrong one fails
    assert result.detail
    assert not any(s.startswith("library:") for s in result.steps)  # caught before the library


@pytest.mark.parametrize("name", list(WRONG_PENALTY))
def test_a_wrong_penalty_statement_fails_at_symbolic_k(
    results: dict[str, ProofResult], name: str
) -> None:
    assert results["kl_penalty_expectations"].verified  # the stored statement passes ...
    # ... a wrong one fails in the general proof, before the K = 2, 3, 4 cross-check.
    result = proofs.kl_penalty_expectations(_wrong_penalty(*WRONG_PENALTY[name]))
    assert result.status == "failed"
    assert "for every K ≥ 2" in result.detail, result.detail
    assert not result.concrete


def test_a_penalty_statement_missing_a_cell_fails() -> None:
    parts = [p for p in penalty_statement().args if p.lhs != REWARD(K3)]
    result = proofs.kl_penalty_expectations(sp.And(*parts, evaluate=False))
    assert result.status == "failed" and "E_q[k3·∇log q]" in result.detail


def test_penalty_cross_check_alone_catches_a_wrong_statement() -> None:
    # The explicit K = 2, 3, 4 expansion is an independent check of the same statement.
    from klmath.proofs.kl_penalty import _explicit_checks

    old, new = WRONG_PENALTY["k2-loss-is-forward-kl"]
    with pytest.raises(ProofFailure, match=r"K=2, j=1: E_q\[∇k2\] = ∇KL\(p‖q\)"):
        list(_explicit_checks(_wrong_penalty(old, new)))


# --- the checking machinery ------------------------------------------------------------


def test_a_free_text_step_is_refused() -> None:
    @claim("a claim with a bare string step", lambda: sp.true, generality="nothing")
    def chatty(statement: object) -> object:
        yield require(True, "a real check")
        yield "the rest is obvious"

    result = chatty()
    assert result.status == "failed" and result.steps == ("a real check",)
    assert "free text" in result.detail


def test_a_claim_that_checks_nothing_fails() -> None:
    @claim("empty", lambda: sp.true, generality="nothing")
    def empty(statement: object) -> object:
        yield from ()

    assert empty().status == "failed"


def test_require_zero_rejects_a_nonzero_residual() -> None:
    x = sp.Symbol("x")
    assert isinstance(require_zero((x + 1) ** 2 - x**2 - 2 * x - 1, "binomial"), Step)
    with pytest.raises(ProofFailure, match="off by one: residual 1 is not 0"):
        require_zero((x + 1) ** 2 - x**2 - 2 * x, "off by one")


def test_require_treats_undecided_and_numpy_bools_as_failure() -> None:
    import numpy as np

    x = sp.Symbol("x", real=True)  # sign unknown: SymPy answers None
    with pytest.raises(ProofFailure, match="answered None"):
        require(x.is_positive, "x > 0")
    with pytest.raises(ProofFailure):
        require(np.bool_(True), "a NumPy bool must be converted explicitly")


def test_induction_needs_two_checked_steps() -> None:
    base = require(True, "base")
    with pytest.raises(ProofFailure, match="not a checked step"):
        by_induction(base, "step", "claim")  # type: ignore[arg-type]
    assert "[base: base; step: step]" in by_induction(base, require(True, "step"), "claim")


def test_claim_reports_unexpected_exceptions() -> None:
    @claim("division", lambda: sp.Symbol("q"), generality="nothing")
    def broken(statement: object) -> object:
        yield require(1 / 0 == 0, "never")

    result = broken()
    assert result.status == "failed" and result.detail.startswith("ZeroDivisionError")


# --- the command line -------------------------------------------------------------------


def test_cli_prints_generality_and_json_has_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: object
) -> None:
    @claim("true", lambda: sp.true, generality="all n ≥ 1")
    def fine(statement: object) -> object:
        yield require(True, "trivially")

    @claim("false", lambda: sp.false, generality="all d ≥ 1")
    def bad(statement: object) -> object:
        yield require(sp.false, "false is true")

    monkeypatch.setattr(cli, "CLAIMS", (fine, bad))
    out_json = tmp_path / "proofs.json"  # type: ignore[operator]
    assert cli.main(["--json", str(out_json)]) == 1
    out = capsys.readouterr().out
    assert "all n ≥ 1" in out and "all d ≥ 1" in out
    assert "false is true" in out and "1/2 claims verified" in out
    data = json.loads(out_json.read_text())
    assert [c["generality"] for c in data["claims"]] == ["all n ≥ 1", "all d ≥ 1"]
    assert data["claims"][0]["steps"] == ["trivially"] and data["verified"] == 1

    monkeypatch.setattr(cli, "CLAIMS", (fine,))
    assert cli.main(["--steps", "--claim", "fine"]) == 0
    assert "✓ trivially" in capsys.readouterr().out
