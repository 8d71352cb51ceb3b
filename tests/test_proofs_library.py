"""The proof run sees the library: a broken formula in klmath makes a claim fail.

* One run of ``python -m klmath.proofs`` on a patched copy of the package, broken in
  five places at once (two Gaussian formulas, the coupling log-det, the 1-D flow's
  inverse, the lemma checker): every claim that covers a broken function fails.
* In-process, each library check against one deliberately wrong formula at a time
  (the careful diagonal path, the series constants, the coupling log-det, the flow's
  mass, the lemma checker's hypothesis flags, the KL penalties' k2 and k3 and both modes).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sympy as sp
import torch

import klmath
from klmath import coupling as coupling_module
from klmath import flow1d as flow1d_module
from klmath import gaussian as gaussian_module
from klmath import montecarlo as montecarlo_module
from klmath.proofs import kl_penalty as penalty_proof
from klmath.proofs import library
from klmath.proofs._record import ProofFailure
from klmath.proofs.coupling import S_FUNCTION, coupling_statement
from klmath.proofs.flow1d import flow1d_parts, flow1d_statement
from klmath.proofs.gaussian import _library_constants, gaussian_statement

ROOT = Path(__file__).resolve().parent.parent

# (file, exact text, replacement): each is a plausible slip, not a crash.
BREAKAGES = [
    (
        "gaussian.py",
        "terms = _expm1_minus_x(_log_ratio(v0, v1)) + (m1 - m0).square() / v1",
        "terms = _expm1_minus_x(_log_ratio(v0, v1)) + (m1 - m0).square() / v0",
    ),
    (
        "gaussian.py",
        "return squares.mul_(0.5).add_(_diagonal_terms(diag0, diag1))",
        "return squares.mul_(0.5).add_(_diagonal_terms(diag1, diag0))",
    ),
    (
        "coupling.py",
        "return self._assemble(x_cond, z_trans), s.sum(-1)",
        "return self._assemble(x_cond, z_trans), s[..., 1:].sum(-1)",
    ),
    ("flow1d.py", "gap = (sh_hi - z.abs()) + sh_lo", "gap = sh_hi - z.abs()"),
    (
        "lemma.py",
        "positive = np.flatnonzero(row_min > tol)",
        "positive = np.flatnonzero(row_min > 1)",
    ),
    # the reward mode's log-ratio with its sign flipped: k(log q/p) for k(log p/q)
    ("penalty.py", "        t = t.detach()\n", "        t = -t.detach()\n"),
]
CLAIMS = [
    "gaussian_kl_closed_form",
    "coupling_log_det",
    "argmax_lemma",
    "flow1d_facts",
    "kl_penalty_expectations",
]


def _skip_in_a_mutmut_copy() -> None:
    if "mutmut" in (ROOT / "klmath" / "coupling.py").read_text():
        pytest.skip("inside mutmut's trampolined copy the patches do not apply")


def test_proofs_fail_on_a_patched_copy_of_the_library(tmp_path: Path) -> None:
    _skip_in_a_mutmut_copy()
    copy = tmp_path / "klmath"
    shutil.copytree(ROOT / "klmath", copy, ignore=shutil.ignore_patterns("__pycache__"))
    for name, old, new in BREAKAGES:
        path = copy / name
        text = path.read_text()
        assert text.count(old) == 1, (name, old)  # the patch must apply exactly once
        path.write_text(text.replace(old, new))
    out = tmp_path / "proofs.json"
    env = dict(os.environ, PYTHONPATH=str(tmp_path), OMP_NUM_THREADS="1")
    args = [sys.executable, "-m", "klmath.proofs", "--json", str(out)]
    for name in CLAIMS:
        args += ["--claim", name]
    done = subprocess.run(args, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    data = json.loads(out.read_text())
    status = {c["name"]: (c["status"], c["detail"]) for c in data["claims"]}
    for name in CLAIMS:
        assert status[name][0] == "failed", (name, status[name])
        assert status[name][1].startswith("library:"), (name, status[name])


def test_the_patched_copy_is_what_the_subprocess_imports(tmp_path: Path) -> None:
    _skip_in_a_mutmut_copy()
    shutil.copytree(
        ROOT / "klmath", tmp_path / "klmath", ignore=shutil.ignore_patterns("__pycache__")
    )
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    done = subprocess.run(
        [sys.executable, "-c", "import klmath; print(klmath.__file__)"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip().startswith(str(tmp_path))


def _diag_paths(careful: bool) -> list[library.LibraryPath]:
    return [
        p
        for p in library.GAUSSIAN_PATHS
        if p.function == "gaussian_kl_diag" and p.careful == careful
    ]


def test_a_fast_path_left_out_of_the_table_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    # The proof evaluates each fast path of klmath.gaussian.FAST_PATHS; dropping the one
    # table line that forces the tril broadcast path must be noticed.
    assert isinstance(library.fast_paths_covered(), str)  # a Step: the check held
    kept = tuple(p for p in library.GAUSSIAN_PATHS if p.path != "whole-batch, broadcast")
    assert len(kept) == len(library.GAUSSIAN_PATHS) - 1
    monkeypatch.setattr(library, "GAUSSIAN_PATHS", kept)
    with pytest.raises(ProofFailure, match=r"not evaluated.*gaussian_kl_tril"):
        library.fast_paths_covered()


def test_careful_diagonal_path_with_v0_instead_of_v1_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    rhs = gaussian_statement().rhs
    assert len(list(library.gaussian_library_checks(rhs, _diag_paths(True)))) == len(
        _diag_paths(True)
    )
    original = gaussian_module._log_ratio

    def swapped(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return original(b, a)  # log(b/a): the variance ratio upside down

    monkeypatch.setattr(gaussian_module, "_log_ratio", swapped)
    with pytest.raises(ProofFailure, match=r"library: gaussian_kl_diag \[careful"):
        list(library.gaussian_library_checks(rhs, _diag_paths(True)))


def test_fast_diagonal_series_with_a_wrong_coefficient_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rhs = gaussian_statement().rhs
    near = [p for p in library.GAUSSIAN_PATHS if p.near and not p.grad and "diag" in p.function]
    coeffs = list(gaussian_module._SERIES_COEFFS)
    coeffs[1] *= 1.001  # v³/3! slightly off: only near-identical pairs (|v| < 1/4) see it
    monkeypatch.setattr(gaussian_module, "_SERIES_COEFFS", tuple(coeffs))
    gaussian_module._series_coeff_tensors.cache_clear()
    try:
        with pytest.raises(ProofFailure, match="near-identical"):
            list(library.gaussian_library_checks(rhs, near))
    finally:
        monkeypatch.undo()
        gaussian_module._series_coeff_tensors.cache_clear()


@pytest.mark.parametrize(
    ("name", "value", "match"),
    [
        ("_SERIES_TERMS_FLOAT32", 5, "truncation"),  # 5 terms leave 3.9e-7 > 2⁻²⁴
        ("_SERIES_RADIUS", 0.3, "power of 2|truncation"),
        ("_LOG1P_RADIUS", 0.9, "condition number"),  # log1p near r = −0.9 amplifies by 3.9
    ],
)
def test_library_constants_are_checked(
    monkeypatch: pytest.MonkeyPatch, name: str, value: float, match: str
) -> None:
    assert len(list(_library_constants())) == 4
    monkeypatch.setattr(gaussian_module, name, value)
    with pytest.raises(ProofFailure, match=match):
        list(_library_constants())


def test_coupling_log_det_without_one_term_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    stated = coupling_statement()
    assert len(list(library.coupling_library_checks(stated.rhs, S_FUNCTION))) == 1
    forward = coupling_module.AffineCoupling.forward

    def short(self: coupling_module.AffineCoupling, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        z, log_det = forward(self, x)
        s, _ = self._scale_shift(x.index_select(-1, self.cond_index))
        return z, log_det - s[..., -1]

    monkeypatch.setattr(coupling_module.AffineCoupling, "forward", short)
    with pytest.raises(ProofFailure, match="library: AffineCoupling log_det"):
        list(library.coupling_library_checks(stated.rhs, S_FUNCTION))


def test_flow_with_a_wrong_half_total_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    parts = flow1d_parts(flow1d_statement())
    assert len(list(library.flow1d_library_checks(parts))) == 1
    monkeypatch.setattr(flow1d_module, "_half_total", lambda w: 0.5 * torch.exp(w).sum() * 1.001)
    with pytest.raises(ProofFailure, match="library: flow1d"):
        list(library.flow1d_library_checks(parts))


def test_lemma_checker_with_a_wrong_hypothesis_flag_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    assert len(list(library.lemma_library_checks())) == 1
    original = klmath.check_argmax_lemma

    def lenient(g: object, h: object, *, atol: float = 0.0) -> object:
        return original(g, h, atol=max(atol, 0.75))  # a positive min_φ h of 0.5 passes

    monkeypatch.setattr(klmath, "check_argmax_lemma", lenient)
    with pytest.raises(ProofFailure, match="library: check_argmax_lemma"):
        list(library.lemma_library_checks())


# --- the KL penalties (claim 7) -----------------------------------------------------------


@pytest.fixture(scope="module")
def penalty_model() -> penalty_proof._AnyK:
    return penalty_proof._AnyK()  # caches the meaning of each stated quantity


def _penalty_checks(model: penalty_proof._AnyK, statement: object = None) -> list[str]:
    stated = penalty_proof.penalty_statement() if statement is None else statement
    return list(penalty_proof._library_checks(stated, model))


def _patched_penalty(tmp_path: Path, old: str, new: str) -> object:
    """klmath/penalty.py with ``old`` replaced by ``new`` once, imported as its own module."""
    text = (ROOT / "klmath" / "penalty.py").read_text()
    assert text.count(old) == 1, old  # the patch must apply exactly once
    path = tmp_path / "penalty_patched.py"
    path.write_text(text.replace(old, new))
    spec = importlib.util.spec_from_file_location("penalty_patched", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.kl_penalty


def test_penalty_library_step_holds_for_the_library(penalty_model: penalty_proof._AnyK) -> None:
    (step,) = _penalty_checks(penalty_model)
    assert step.startswith("library: kl_penalty") and "90 comparisons" in step


@pytest.mark.parametrize(
    ("kind", "wrong", "match"),
    [
        # e^t − t: k3 without its −1 (its value is off by 1; the gradients are not)
        ("k3", lambda terms: terms + 1, r"kind='k3', mode='loss'\) .* value: .* E_q\[k3\] = KL"),
        # t²: k2 without its ½
        (
            "k2",
            lambda terms: 2 * terms,
            r"kind='k2', mode='loss'\) .* value: .* E_q\[k2\] = E_q\[½ℓ²\]",
        ),
    ],
    ids=["k3-without-minus-1", "k2-without-half"],
)
def test_penalty_with_a_wrong_estimator_fails(
    monkeypatch: pytest.MonkeyPatch,
    penalty_model: penalty_proof._AnyK,
    kind: str,
    wrong: object,
    match: str,
) -> None:
    original = montecarlo_module.estimator_terms

    def broken(log_r: torch.Tensor, estimator: str) -> torch.Tensor:
        terms = original(log_r, estimator)
        return wrong(terms) if estimator == kind else terms  # type: ignore[operator]

    monkeypatch.setattr(montecarlo_module, "estimator_terms", broken)
    with pytest.raises(ProofFailure, match=rf"^library: kl_penalty\({match}"):
        _penalty_checks(penalty_model)


@pytest.mark.parametrize(
    ("old", "new", "match"),
    [
        # the reward's log-ratio with its sign flipped: the REINFORCE gradient of k1 flips
        (
            "        t = t.detach()\n",
            "        t = -t.detach()\n",
            r"kind='k1', mode='reward'\) .* value: .* E_q\[k1\] = KL",
        ),
        # the reward not detached: REINFORCE picks up log q · ∇reward
        (
            '    if mode == "reward":\n        t = t.detach()\n',
            "",
            r"kind='k1', mode='reward'\) .* gradient j = 1: .* E_q\[k1·∇log q\]",
        ),
        # the loss detached from logq: no gradient at all
        (
            "t = logp.detach().to(logq.dtype) - logq\n",
            "t = (logp.detach().to(logq.dtype) - logq).detach()\n",
            r"kind='k1', mode='loss'\) is not differentiable",
        ),
    ],
    ids=["reward-sign-flipped", "reward-not-detached", "loss-detached"],
)
def test_penalty_with_a_wrong_mode_fails(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    penalty_model: penalty_proof._AnyK,
    old: str,
    new: str,
    match: str,
) -> None:
    _skip_in_a_mutmut_copy()
    monkeypatch.setattr(klmath, "kl_penalty", _patched_penalty(tmp_path, old, new))
    with pytest.raises(ProofFailure, match=rf"^library: kl_penalty\({match}"):
        _penalty_checks(penalty_model)


def test_penalty_library_step_compares_with_the_statement(
    penalty_model: penalty_proof._AnyK,
) -> None:
    # The library is right; a statement claiming k3-as-loss gives the reverse-KL gradient
    # is not, and the library step alone sees it.
    from klmath.proofs.kl_penalty import KL_QP, LOSS, NABLA, PENALTIES

    k3 = PENALTIES["k3"]
    parts = [
        sp.Eq(LOSS(k3), NABLA(KL_QP)) if p.lhs == LOSS(k3) and isinstance(p, sp.Eq) else p
        for p in penalty_proof.penalty_statement().args
        if not (isinstance(p, sp.Ne) and p.lhs == LOSS(k3))
    ]
    wrong = sp.And(*parts, evaluate=False)
    with pytest.raises(ProofFailure, match=r"kind='k3', mode='loss'.*E_q\[∇k3\] = ∇KL\(q‖p\)"):
        _penalty_checks(penalty_model, wrong)
