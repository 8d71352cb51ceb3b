"""The six claims of klmath.proofs are verified, and the checker rejects false claims.

The whole proof run happens once (module-scoped fixture); the other tests feed
the checking machinery deliberately wrong mathematics and expect "failed".
"""

from __future__ import annotations

import pytest
import sympy as sp

from klmath import proofs
from klmath.proofs import ProofFailure, ProofResult, run_all
from klmath.proofs import __main__ as cli
from klmath.proofs import coupling as cj
from klmath.proofs import gaussian as gk
from klmath.proofs._record import claim, require, require_zero

CLAIM_NAMES = [
    "gaussian_kl_closed_form",
    "kl_nonnegative",
    "kl_additivity",
    "coupling_log_det",
    "argmax_lemma",
    "flow1d_facts",
    "kl_penalty_expectations",  # issue 15: klmath/proofs/kl_penalty.py
    "gaussian_matrix_identity",  # issue 19: klmath/proofs/gaussian_matrix.py
]


@pytest.fixture(scope="module")
def results() -> dict[str, ProofResult]:
    return {r.name: r for r in run_all()}


def test_six_claims_in_issue_order() -> None:
    assert [c.__name__ for c in proofs.CLAIMS] == CLAIM_NAMES


@pytest.mark.parametrize("name", CLAIM_NAMES)
def test_claim_verified(results: dict[str, ProofResult], name: str) -> None:
    result = results[name]
    assert result.status == "verified", result.detail
    assert result.verified and result.detail == ""
    assert isinstance(result.expression, sp.Basic)
    assert result.claim and len(result.steps) >= 3
    assert 0.0 < result.seconds and 0.0 <= result.cpu_seconds


def test_gaussian_claim_covers_every_dimension(results: dict[str, ProofResult]) -> None:
    steps = "\n".join(results["gaussian_kl_closed_form"].steps)
    for d in (2, 3):
        assert f"d={d}: E[(x−m)ᵀA(x−m)]" in steps
        assert f"d={d}: E_p[log p − log q]" in steps
    for d in (1, 2, 3):
        assert f"d={d}: with Σ = LLᵀ" in steps


def test_coupling_claim_covers_all_62_masks(results: dict[str, ProofResult]) -> None:
    masks = cj.coupling_jacobian_for_all_masks()
    assert len(masks) == sum(2**n for n in range(1, 6)) == 62
    assert len(set(masks)) == 62
    assert (False,) * 3 in masks and (True,) * 5 in masks
    steps = results["coupling_log_det"].steps
    assert any("n=5: all 32 masks" in s for s in steps)


# --- the checker must be able to say "failed" -------------------------------


def test_require_zero_rejects_a_nonzero_residual() -> None:
    x = sp.Symbol("x")
    assert require_zero((x + 1) ** 2 - x**2 - 2 * x - 1, "binomial") == "binomial"
    with pytest.raises(ProofFailure, match="off by one: residual 1 is not 0"):
        require_zero((x + 1) ** 2 - x**2 - 2 * x, "off by one")


def test_require_treats_undecided_as_failure() -> None:
    x = sp.Symbol("x", real=True)  # sign unknown: SymPy answers None
    with pytest.raises(ProofFailure, match="answered None"):
        require(x.is_positive, "x > 0")


def test_claim_reports_failure_instead_of_raising() -> None:
    @claim("1 = 2", lambda: sp.Eq(1, 2, evaluate=False))
    def wrong() -> object:
        yield "a true step"
        yield require_zero(sp.Integer(1), "1 − 0 = 0")

    result = wrong()
    assert result.status == "failed" and not result.verified
    assert result.steps == ("a true step",)
    assert "1 − 0 = 0" in result.detail


def test_claim_reports_unexpected_exceptions() -> None:
    @claim("division", lambda: sp.Symbol("q"))
    def broken() -> object:
        yield str(1 / 0)

    result = broken()
    assert result.status == "failed" and result.detail.startswith("ZeroDivisionError")


def test_wrong_gaussian_moment_breaks_the_derivation(monkeypatch: pytest.MonkeyPatch) -> None:
    # A functional that forgets the μμᵀ part of E[xxᵀ] must fail against the closed form.
    def forgetful(expr: sp.Expr, x: sp.Matrix, mean: sp.Matrix, cov: sp.Matrix) -> sp.Expr:
        total = sp.Integer(0)
        for monomial, coeff in sp.Poly(sp.expand(expr), *x).terms():
            index = [i for i, k in enumerate(monomial) for _ in range(k)]
            if not index:
                total += coeff
            elif len(index) == 1:
                total += coeff * mean[index[0]]
            else:
                total += coeff * cov[index[0], index[1]]
        return total

    monkeypatch.setattr(gk, "gaussian_expectation", forgetful)
    wrong = gk._derived.__wrapped__(2)
    monkeypatch.setattr(gk, "_derived", lambda d: wrong)
    with pytest.raises(ProofFailure, match="d=2: derived KL minus closed form"):
        gk._matches_closed_form(2)


def test_cholesky_sum_without_off_diagonal_terms_is_rejected(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Σ_{i>j} M_ij² is what correlations contribute; dropping it must be caught for d ≥ 2.
    def diagonal_only(
        mean0: sp.Matrix, tril0: sp.Matrix, mean1: sp.Matrix, tril1: sp.Matrix
    ) -> sp.Expr:
        m = tril1.lower_triangular_solve(tril0)
        delta = tril1.lower_triangular_solve(mean1 - mean0)
        diag = sum(m[i, i] ** 2 - 1 - sp.log(m[i, i] ** 2) for i in range(m.shape[0]))
        return (diag + (delta.T * delta)[0, 0]) / 2

    assert gk._matches_cholesky_sum(2).startswith("d=2")
    monkeypatch.setattr(gk, "cholesky_kl_sum", diagonal_only)
    assert gk._matches_cholesky_sum(1).startswith("d=1")  # no off-diagonal entries in d = 1
    with pytest.raises(ProofFailure, match="d=2: closed form minus Cholesky sum is not 0"):
        gk._matches_cholesky_sum(2)


def test_wrong_coupling_breaks_the_block_form(monkeypatch: pytest.MonkeyPatch) -> None:
    # Let s depend on the coordinate it scales: the Jacobian is no longer triangular.
    mask = (True, False, False)
    sym = cj.CouplingSymbols(mask)
    x = sym.x
    bad_s = sp.Function("s_1", real=True)(x[0], x[1])
    z = sp.Matrix([x[0], x[1] * sp.exp(bad_s) + sym.t[0], sym.z[2]])
    sym.s = [bad_s, sym.s[1]]
    sym.z = z
    sym.jacobian = z.jacobian(x)
    monkeypatch.setattr(cj, "coupling_jacobian", lambda m: sym)
    with pytest.raises(ProofFailure, match="mask 100"):
        cj._check_mask(mask)


# --- the command line -------------------------------------------------------


def test_cli_exit_code_is_nonzero_when_a_claim_fails(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    @claim("true", lambda: sp.true)
    def fine() -> object:
        yield "trivially"

    @claim("false", lambda: sp.false)
    def bad() -> object:
        yield require(sp.false, "false is true")

    monkeypatch.setattr(cli, "CLAIMS", (fine, bad))
    assert cli.main([]) == 1
    out = capsys.readouterr().out
    assert "fine" in out and "verified" in out and "bad" in out and "failed" in out
    assert "false is true" in out and "1/2 claims verified" in out

    monkeypatch.setattr(cli, "CLAIMS", (fine,))
    assert cli.main(["--steps"]) == 0
    assert "✓ trivially" in capsys.readouterr().out
