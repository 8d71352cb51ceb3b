"""gaussian_kl_matrix: every bad argument named in full, and long inner products summed whole.

The messages are matched whole (anchored): each names the argument as the caller
spelled it, the expected layout, and where the bad value sits (the index is the
position the test put it at). The large-d case is the one where the product's inner
dimension K = d(d+1)/2 + d + 1 is summed in several pieces (K > 256 from d = 22).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
import torch

from klmath import gaussian_kl, gaussian_kl_diag, gaussian_kl_matrix

F64 = torch.float64
NAN = float("nan")


def _eye(n: int, d: int) -> torch.Tensor:
    return torch.eye(d, dtype=F64).expand(n, d, d).clone()


def _ones(*shape: int) -> torch.Tensor:
    return torch.ones(*shape, dtype=F64)


def _zeros(*shape: int) -> torch.Tensor:
    return torch.zeros(*shape, dtype=F64)


def _with(x: torch.Tensor, index: tuple[int, ...], value: float) -> torch.Tensor:
    x = x.clone()
    x[index] = value
    return x


def _diag(m0: Any, v0: Any, m1: Any, v1: Any, **kw: Any) -> Any:
    return gaussian_kl_matrix(m0, v0, m1, v1, form="diag", **kw)


def _upper(n: int, d: int) -> torch.Tensor:
    return _eye(n, d) + torch.triu(_ones(d, d), 1)


CASES: list[Any] = [
    (
        "mean0 must have shape (..., n, d), got shape (3,)",
        lambda: gaussian_kl_matrix(_zeros(3), _eye(1, 3), _zeros(2, 3), _eye(2, 3)),
    ),
    (
        "mean1 must have shape (..., n, d), got shape (3,)",
        lambda: gaussian_kl_matrix(_zeros(2, 3), _eye(2, 3), _zeros(3), _eye(1, 3)),
    ),
    (
        "cov0 must have shape (..., n, d), got shape (3,)",
        lambda: _diag(_zeros(2, 3), _ones(3), _zeros(2, 3), _ones(2, 3)),
    ),
    (
        "cov1 must have shape (..., n, d), got shape (3,)",
        lambda: _diag(_zeros(2, 3), _ones(2, 3), _zeros(2, 3), _ones(3)),
    ),
    (
        "cov0 has event size 4 (shape (2, 4)) but mean0 has d = 3",
        lambda: _diag(_zeros(2, 3), _ones(2, 4), _zeros(2, 3), _ones(2, 3)),
    ),
    (
        "cov1 has event size 4 (shape (2, 4, 4)) but mean1 has d = 3",
        lambda: gaussian_kl_matrix(_zeros(2, 3), _eye(2, 3), _zeros(2, 3), _eye(2, 4)),
    ),
    (
        "cov0 must be square with shape (..., d, d), got shape (2, 3, 4)",
        lambda: gaussian_kl_matrix(_zeros(2, 3), _ones(2, 3, 4), _zeros(2, 3), _eye(2, 3)),
    ),
    (
        "mean1 has event size 4 but mean0 has d = 3",
        lambda: gaussian_kl_matrix(_zeros(2, 3), _eye(2, 3), _zeros(2, 4), _eye(2, 4)),
    ),
    (
        "rtol must be a number in (0, 1), got 1",
        lambda: gaussian_kl_matrix(_zeros(2, 3), _eye(2, 3), _zeros(2, 3), _eye(2, 3), rtol=1),
    ),
    (
        "rtol must be a number in (0, 1), got 1.5",
        lambda: gaussian_kl_matrix(_zeros(2, 3), _eye(2, 3), _zeros(2, 3), _eye(2, 3), rtol=1.5),
    ),
    (
        "cov1 must be positive, got -1.0 at index (1, 2)",
        lambda: _diag(_zeros(2, 3), _ones(2, 3), _zeros(2, 3), _with(_ones(2, 3), (1, 2), -1.0)),
    ),
    (
        "mean0 contains NaN or inf at batch index (1,)",
        lambda: gaussian_kl_matrix(
            _with(_zeros(2, 3), (1, 1), NAN), _eye(2, 3), _zeros(2, 3), _eye(2, 3)
        ),
    ),
    (
        "mean1 contains NaN or inf at batch index (1,)",
        lambda: gaussian_kl_matrix(
            _zeros(2, 3), _eye(2, 3), _with(_zeros(2, 3), (1, 0), NAN), _eye(2, 3)
        ),
    ),
    (
        "mean1 contains NaN or inf at batch index (0, 1)",
        lambda: gaussian_kl_matrix(
            _zeros(1, 2, 3), _eye(2, 3), _with(_zeros(1, 2, 3), (0, 1, 2), NAN), _eye(2, 3)
        ),
    ),
    (
        "cov1 contains NaN or inf at batch index (1,)",
        lambda: _diag(
            _zeros(2, 3), _ones(2, 3), _zeros(2, 3), _with(_ones(2, 3), (1, 2), float("inf"))
        ),
    ),
    (
        "cov0 contains NaN or inf at batch index (1,)",
        lambda: gaussian_kl_matrix(
            _zeros(2, 3), _with(_eye(2, 3), (1, 1, 1), NAN), _zeros(2, 3), _eye(2, 3)
        ),
    ),
    (
        "cov1 must be lower triangular (a Cholesky factor), but has non-zero entries above "
        "the diagonal at batch index (0,)",
        lambda: gaussian_kl_matrix(
            _zeros(2, 3), _eye(2, 3), _zeros(2, 3), _upper(2, 3), form="tril"
        ),
    ),
]


@pytest.mark.parametrize(("message", "call"), CASES, ids=[c[0][:40] for c in CASES])
def test_bad_input_message_names_argument_layout_and_place(
    message: str, call: Callable[[], Any]
) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        call()


@pytest.mark.parametrize("form", ["cov", "tril", "diag"])
def test_long_inner_products_are_summed_whole(form: str) -> None:
    # d = 30: K = 30·31/2 + 30 + 1 = 496, summed in two pieces of 256 and 240; every
    # entry equals the pair's own closed form (gaussian_kl / gaussian_kl_diag), in a
    # batch of two sets (3 × 2 pairs each).
    gen = torch.Generator().manual_seed(3)
    d = 30
    m0 = torch.randn(2, 3, d, generator=gen, dtype=F64)
    m1 = torch.randn(2, 2, d, generator=gen, dtype=F64)
    if form == "diag":
        v0 = torch.rand(2, 3, d, generator=gen, dtype=F64) + 0.5
        v1 = torch.rand(2, 2, d, generator=gen, dtype=F64) + 0.5
        got = gaussian_kl_matrix(m0, v0, m1, v1, form="diag")
        want = gaussian_kl_diag(
            m0.unsqueeze(-2), v0.unsqueeze(-2), m1.unsqueeze(-3), v1.unsqueeze(-3)
        )
    else:
        a0 = torch.randn(2, 3, d, d, generator=gen, dtype=F64) / d**0.5
        a1 = torch.randn(2, 2, d, d, generator=gen, dtype=F64) / d**0.5
        s0 = a0 @ a0.mT + torch.eye(d, dtype=F64)
        s1 = a1 @ a1.mT + torch.eye(d, dtype=F64)
        args = (s0, s1) if form == "cov" else (torch.linalg.cholesky(s0), torch.linalg.cholesky(s1))
        got = gaussian_kl_matrix(m0, args[0], m1, args[1], form=form)
        want = gaussian_kl(m0.unsqueeze(-2), s0.unsqueeze(-3), m1.unsqueeze(-3), s1.unsqueeze(-4))
    assert got.shape == want.shape == (2, 3, 2)
    torch.testing.assert_close(got, want, rtol=1e-10, atol=0)


def _near_identical_sets(batch: tuple[int, ...], n: int, d: int) -> tuple[torch.Tensor, ...]:
    """Sets whose cross pairs are near-identical (KL ~ 1e-12): the product form cannot
    guarantee them, so they are recomputed pair by pair."""
    gen = torch.Generator().manual_seed(11)
    a = torch.randn(*batch, n, d, d, generator=gen, dtype=F64) / d**0.5
    s0 = a @ a.mT + torch.eye(d, dtype=F64)
    m0 = torch.randn(*batch, n, d, generator=gen, dtype=F64)
    e = 1e-6 * torch.randn(*batch, n, d, d, generator=gen, dtype=F64)
    s1 = s0 + e @ e.mT + 1e-6 * torch.eye(d, dtype=F64)
    m1 = m0 + 1e-6 * torch.randn(*batch, n, d, generator=gen, dtype=F64)
    return m0, s0, m1, s1


def test_chunked_batches_and_recomputed_pairs_keep_every_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A batch of two sets, the pairs split into chunks of rows and the recomputed
    # (near-identical) pairs into batches of one: every entry is still the pair's own
    # KL, each recomputed one different from the others.
    import klmath.gaussian_matrix as GM

    m0, s0, m1, s1 = _near_identical_sets((2,), 5, 3)
    want = gaussian_kl(m0.unsqueeze(-2), s0.unsqueeze(-3), m1.unsqueeze(-3), s1.unsqueeze(-4))
    monkeypatch.setattr(GM, "CHUNK_ENTRIES", 7)
    monkeypatch.setattr(GM, "_RECOMPUTE_BYTES", 1)
    got = gaussian_kl_matrix(m0, s0, m1, s1)
    diagonal = torch.diagonal(want, dim1=-2, dim2=-1)
    assert bool((diagonal < 1e-9).all()) and len(set(diagonal.flatten().tolist())) == 10
    torch.testing.assert_close(got, want, rtol=1e-8, atol=0)
