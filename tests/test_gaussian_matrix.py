"""gaussian_kl_matrix: every entry against gaussian_kl on its pair, near-identical pairs included.

The product form (klmath.gaussian_matrix) and gaussian_kl share no code path for
accepted entries, so the comparison is between two computations. The documented
agreement: |D − gaussian_kl| ≤ rtol · D + gaussian_kl's own conditioning bound
(test_gaussian_reference), every entry ≥ 0, and 0 exactly where a Gaussian is
compared with itself.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import means, near_identical_gaussians, spd_matrices, variances
from test_gaussian_reference import conditioning

import klmath.gaussian_matrix as GM
from klmath import gaussian_kl, gaussian_kl_diag, gaussian_kl_matrix

EPS = float(np.finfo(np.float64).eps)
RTOL = EPS**0.5


def _sets(data: st.DataObject, d: int, max_condition: float) -> tuple[np.ndarray, ...]:
    """Two sets of 1-4 Gaussians; set 1 shares a member with set 0 and has a near copy of one."""
    n = data.draw(st.integers(1, 4), label="N")
    m = data.draw(st.integers(1, 4), label="M")
    s0 = data.draw(spd_matrices(d, batch_shape=(n,), max_condition=max_condition))
    m0 = data.draw(means(d, batch_shape=(n,)))
    s1 = data.draw(spd_matrices(d, batch_shape=(m,), max_condition=max_condition))
    m1 = data.draw(means(d, batch_shape=(m,)))
    mn, tn, mn1, tn1 = data.draw(near_identical_gaussians(d, max_condition=min(max_condition, 1e4)))
    # Member 0 of set 1 equals member 0 of set 0; their last members are a near-identical pair.
    if n > 1 and m > 1:
        s0[-1], m0[-1] = tn @ tn.T, mn
        s1[-1], m1[-1] = tn1 @ tn1.T, mn1
    s1[0], m1[0] = s0[0], m0[0]
    return m0, s0, m1, s1


def _pairwise(m0: np.ndarray, s0: np.ndarray, m1: np.ndarray, s1: np.ndarray) -> np.ndarray:
    return gaussian_kl(m0[:, None], s0[:, None], m1[None], s1[None])


@settings(max_examples=30)
@given(data=st.data(), d=st.integers(1, 8), well=st.booleans())
def test_every_entry_agrees_with_gaussian_kl(data: st.DataObject, d: int, well: bool) -> None:
    m0, s0, m1, s1 = _sets(data, d, 1e2 if well else 1e8)
    got = gaussian_kl_matrix(m0, s0, m1, s1)
    ref = _pairwise(m0, s0, m1, s1)
    assert got.shape == ref.shape
    assert (got >= 0).all()
    assert got[0, 0] == 0.0  # the shared member
    for a, b in np.ndindex(got.shape):
        careful = 4 * d * EPS * conditioning(m0[a], s0[a], m1[b], s1[b]) + 8 * d * EPS * ref[a, b]
        assert abs(got[a, b] - ref[a, b]) <= RTOL * got[a, b] + careful, (a, b, got, ref)
    # The Cholesky-factor form gives the same matrix (the same factors, up to LAPACK's rounding).
    t0, t1 = np.linalg.cholesky(s0), np.linalg.cholesky(s1)
    tril = gaussian_kl_matrix(m0, t0, m1, t1, form="tril")
    assert (tril >= 0).all() and tril[0, 0] == 0.0
    np.testing.assert_allclose(tril, got, rtol=1e-6 if well else 1e-2, atol=1e-10)


@settings(max_examples=30)
@given(data=st.data(), d=st.integers(1, 16))
def test_diagonal_form_agrees_with_gaussian_kl_diag(data: st.DataObject, d: int) -> None:
    n, m = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4))
    v0, v1 = data.draw(variances(d, batch_shape=(n,))), data.draw(variances(d, batch_shape=(m,)))
    m0, m1 = data.draw(means(d, batch_shape=(n,))), data.draw(means(d, batch_shape=(m,)))
    v1[0], m1[0] = v0[0], m0[0]
    if m > 1:  # a near copy: relative change 1e-6
        v1[-1], m1[-1] = v0[-1] * (1 + 1e-6 * np.sin(np.arange(d))), m0[-1] + 1e-6
    got = gaussian_kl_matrix(m0, v0, m1, v1, form="diag")
    ref = gaussian_kl_diag(m0[:, None], v0[:, None], m1[None], v1[None])
    assert (got >= 0).all() and got[0, 0] == 0.0
    assert (np.abs(got - ref) <= RTOL * got + 16 * d * EPS * ref).all()


def test_torch_batched_and_differentiable() -> None:
    gen = torch.Generator().manual_seed(0)
    kw = {"generator": gen, "dtype": torch.float64}
    d = 3
    a0, a1 = torch.randn(2, 4, d, d, **kw), torch.randn(5, d, d, **kw)
    s0 = (a0 @ a0.mT / d + torch.eye(d, dtype=torch.float64)).requires_grad_()
    s1 = (a1 @ a1.mT / d + torch.eye(d, dtype=torch.float64)).requires_grad_()
    m0 = torch.randn(2, 4, d, **kw).requires_grad_()
    m1 = torch.randn(5, d, **kw).requires_grad_()
    got = gaussian_kl_matrix(m0, s0, m1, s1)
    assert got.shape == (2, 4, 5)
    weights = torch.rand(2, 4, 5, **kw)
    (got * weights).sum().backward()
    fast_grads = [x.grad.clone() for x in (m0, s0, m1, s1)]
    for x in (m0, s0, m1, s1):
        x.grad = None
    ref = gaussian_kl(m0[..., :, None, :], s0[..., :, None, :, :], m1, s1)
    torch.testing.assert_close(got, ref, rtol=1e-12, atol=1e-14)
    (ref * weights).sum().backward()
    for x, g in zip((m0, s0, m1, s1), fast_grads, strict=True):
        sym = (lambda t: 0.5 * (t + t.mT)) if x.shape[-2:] == (d, d) else (lambda t: t)
        torch.testing.assert_close(sym(g), sym(x.grad), rtol=1e-9, atol=1e-12)


def test_gradcheck_with_a_recomputed_entry() -> None:
    gen = torch.Generator().manual_seed(1)
    kw = {"generator": gen, "dtype": torch.float64}
    m = torch.randn(3, 2, **kw).requires_grad_()
    v = (torch.rand(3, 2, **kw) + 0.5).requires_grad_()
    # Set 0 against itself: the diagonal is recomputed, the rest is the product form.
    assert torch.autograd.gradcheck(
        lambda m, v: gaussian_kl_matrix(m, v, m, v, form="diag"), (m, v)
    )
    t = torch.tril(torch.randn(2, 2, 2, **kw)) + 2 * torch.eye(2, dtype=torch.float64)
    t.requires_grad_()
    assert torch.autograd.gradcheck(
        lambda m, t: gaussian_kl_matrix(m[:2], torch.tril(t), m[1:], torch.tril(t), form="tril"),
        (m, t),
    )


def test_chunks_and_recomputation_batches_do_not_change_the_result(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(5)
    d, n = 4, 23
    a = rng.standard_normal((n, d, d))
    s = a @ np.swapaxes(a, -1, -2) / d + np.eye(d)
    m = rng.standard_normal((n, d))
    whole = gaussian_kl_matrix(m, s, m, s)
    monkeypatch.setattr(GM, "CHUNK_ENTRIES", 7)
    monkeypatch.setattr(GM, "_RECOMPUTE_BYTES", 1)
    chunked = gaussian_kl_matrix(m, s, m, s)
    # Products over fewer rows may round differently (by a few ulps), nothing more.
    np.testing.assert_allclose(whole, chunked, rtol=1e-14, atol=0)
    assert (np.diagonal(chunked) == 0).all()


def test_large_sets_run_in_bounded_work_space() -> None:
    # 2000 x 2000 pairs at d = 16: broadcasting the pairs would need 2 x 4e6 x 16 x 16
    # floats (~16 GB); the product form needs the inputs, the result and one chunk.
    rng = np.random.default_rng(0)
    n, d = 2000, 16
    a = rng.standard_normal((n, d, d)) / np.sqrt(d)
    s = a @ np.swapaxes(a, -1, -2) + np.eye(d)
    m = rng.standard_normal((n, d))
    got = gaussian_kl_matrix(m, s, m, s)
    assert got.shape == (n, n)
    assert (np.diagonal(got) == 0).all() and (got >= 0).all()
    picks = rng.integers(0, n, (20, 2))
    ref = gaussian_kl(m[picks[:, 0]], s[picks[:, 0]], m[picks[:, 1]], s[picks[:, 1]])
    np.testing.assert_allclose(got[picks[:, 0], picks[:, 1]], ref, rtol=1e-10, atol=0)


BAD = [
    pytest.param({"form": "full"}, ValueError, "form must be", id="form"),
    pytest.param({"rtol": 0.0}, ValueError, "rtol must be", id="rtol"),
    pytest.param(
        {"cov0": np.eye(2)}, ValueError, r"cov0 must have shape \(\.\.\., n, d, d\)", id="unbatched"
    ),
    pytest.param({"mean1": np.zeros((3, 2))}, ValueError, "cov1 holds 2 Gaussians", id="count"),
    pytest.param({"mean1": np.zeros((2, 3))}, ValueError, "cov1 has event size 2", id="size"),
    pytest.param(
        {"cov1": np.stack([np.eye(2), -np.eye(2)])},
        ValueError,
        r"cov1 is not positive definite at batch index \(1,\)",
        id="not-pd",
    ),
    pytest.param(
        {"cov0": np.stack([np.eye(2), [[1.0, 0.5], [0.0, 1.0]]])},
        ValueError,
        "cov0 is not symmetric",
        id="asymmetric",
    ),
    pytest.param(
        {"mean0": np.array([[0.0, np.nan], [0.0, 0.0]])}, ValueError, "mean0 contains NaN", id="nan"
    ),
    pytest.param({"cov0": torch.eye(2).expand(2, 2, 2)}, TypeError, "cannot mix", id="mixed"),
]


@pytest.mark.parametrize(("change", "error", "match"), BAD)
def test_bad_input_names_the_argument(change: dict, error: type, match: str) -> None:
    args = {"mean0": np.zeros((2, 2)), "cov0": np.stack([np.eye(2)] * 2)}
    args |= {"mean1": np.ones((2, 2)), "cov1": np.stack([np.eye(2)] * 2)}
    options = {k: v for k, v in change.items() if k in ("form", "rtol")}
    args |= {k: v for k, v in change.items() if k not in options}
    with pytest.raises(error, match=match):
        gaussian_kl_matrix(args["mean0"], args["cov0"], args["mean1"], args["cov1"], **options)


def _off_diagonal_weight_one(index: torch.Tensor, weights: torch.Tensor, d: int) -> tuple:
    return index, torch.ones_like(weights)


def _last_entry_dropped(index: torch.Tensor, weights: torch.Tensor, d: int) -> tuple:
    return index[:-1], weights[:-1]


def _upper_triangle_at_64(index: torch.Tensor, weights: torch.Tensor, d: int) -> tuple:
    # Right for symmetric matrices, but not the stated lower triangle; and only at d = 64.
    return (index % d * d + index // d if d == 64 else index), weights


@pytest.mark.parametrize(
    "broken", [_off_diagonal_weight_one, _last_entry_dropped, _upper_triangle_at_64]
)
def test_the_proof_checks_the_library_packing(
    monkeypatch: pytest.MonkeyPatch, broken: Callable[..., tuple]
) -> None:
    # The claim compares the library's packing with the stated packed sum for d = 1..64: a
    # wrong weight, a missing entry, or another order at the largest d checked must fail it.
    from klmath.proofs.gaussian_matrix import gaussian_matrix_identity

    GM._packing.cache_clear()
    real = GM._packing

    def wrong(d: int, device: torch.device, dtype: torch.dtype) -> tuple:
        index, weights = real(d, device, dtype)
        return broken(index.clone(), weights.clone(), d)

    monkeypatch.setattr(GM, "_packing", wrong)
    result = gaussian_matrix_identity()
    assert result.status == "failed" and "_packing" in result.detail


def test_the_proof_checks_the_library_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    # B with +2Pμ1 for −2Pμ1: the layout check (d ≤ 64) and the 50-digit values both fail.
    from klmath.proofs._record import ProofFailure
    from klmath.proofs.gaussian_matrix import _library, gaussian_matrix_identity

    real = GM._terms

    def wrong(m0: torch.Tensor, f0: dict, m1: torch.Tensor, f1: dict, form: str) -> tuple:
        a, b, rows, cols = real(m0, f0, m1, f1, form)
        d = m0.shape[-1]
        k = b.shape[-1] - d - 2  # B = [packed P | −2Pμ1 | 1 | μ1ᵀPμ1 + log det Σ1 − d]
        b = b.clone()
        b[..., k : k + d] *= -1
        return a, b, rows, cols

    monkeypatch.setattr(GM, "_terms", wrong)
    result = gaussian_matrix_identity()
    assert result.status == "failed" and "_terms" in result.detail
    with pytest.raises(ProofFailure, match="library: gaussian_kl_matrix"):
        list(_library())
