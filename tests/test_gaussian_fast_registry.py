"""Every row of klmath.gaussian.FAST_PATHS against the careful path, and the path really taken.

Each row of FAST_PATHS names a path and inputs that select it. For each one the
tests check that the path is really taken (the careful path is patched to fail),
that its value equals the careful one (≤ 1e-12 relative on well-conditioned
inputs; the Cholesky conditioning bound of test_gaussian_reference for any
condition number), that KL(p, p) = 0 exactly and KL ≥ 0, and, for the autograd
paths, that the closed-form gradients equal autograd through the careful path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import means, near_identical_gaussians, spd_matrices, variances
from test_gaussian_reference import conditioning

import klmath.gaussian as G
from klmath import gaussian_kl, gaussian_kl_diag, gaussian_kl_tril

EPS = float(np.finfo(np.float64).eps)
PUBLIC = {
    "gaussian_kl": gaussian_kl,
    "gaussian_kl_tril": gaussian_kl_tril,
    "gaussian_kl_diag": gaussian_kl_diag,
}
CAREFUL = {
    "gaussian_kl": "_full_kl_careful",
    "gaussian_kl_tril": "_tril_kl_careful",
    "gaussian_kl_diag": "_diag_kl_careful",
}
CASES = [
    pytest.param(path, d, id=f"{path.function}-{path.path.split(':')[0][:28]}-d{d}")
    for path in G.FAST_PATHS
    for d in path.dims
]


def _careful(function: str) -> Callable[..., torch.Tensor]:
    fn = getattr(G, CAREFUL[function])
    if function == "gaussian_kl_diag":
        return lambda m0, v0, m1, v1: fn(
            m0, v0, m1, v1, tuple(torch.broadcast_shapes(m0.shape, v0.shape, m1.shape, v1.shape))
        )
    return fn


def _draw_inputs(
    data: st.DataObject, path: G.FastPath, d: int, max_condition: float
) -> list[np.ndarray]:
    batch = path.batch
    second = () if path.broadcast else batch
    if path.function == "gaussian_kl_diag":
        return [
            data.draw(means(d, batch_shape=batch)),
            data.draw(variances(d, batch_shape=batch)),
            data.draw(means(d, batch_shape=second)),
            data.draw(variances(d, batch_shape=second)),
        ]
    s0 = data.draw(spd_matrices(d, batch_shape=batch, max_condition=max_condition))
    s1 = data.draw(spd_matrices(d, batch_shape=second, max_condition=max_condition))
    m0, m1 = data.draw(means(d, batch_shape=batch)), data.draw(means(d, batch_shape=second))
    if path.function == "gaussian_kl_tril":
        return [m0, np.linalg.cholesky(s0), m1, np.linalg.cholesky(s1)]
    return [m0, s0, m1, s1]


def _bound(path: G.FastPath, args: list[np.ndarray], careful: np.ndarray) -> np.ndarray:
    """Allowed |fast − careful| per batch element: conditioning bound for covariances."""
    d = args[0].shape[-1]
    if path.function != "gaussian_kl":
        # Exact factors or variances: both paths are accurate to a few d·ε·κ(L₁) relative.
        tril1 = args[3]
        kappa = 1.0
        if path.function == "gaussian_kl_tril":
            sv = np.linalg.svd(np.broadcast_to(tril1, (*careful.shape, d, d)), compute_uv=False)
            kappa = sv[..., 0] / sv[..., -1]
        return 64 * d * EPS * kappa * careful + 1e-300
    m0, s0, m1, s1 = (
        np.broadcast_to(a, (*careful.shape, *a.shape[a.ndim - k :]))
        for a, k in zip(args, (1, 2, 1, 2), strict=True)
    )
    cond = np.array(
        [conditioning(m0[i], s0[i], m1[i], s1[i]) for i in np.ndindex(careful.shape)]
    ).reshape(careful.shape)
    return 4 * d * EPS * cond + 8 * d * EPS * careful


def _no_careful(monkeypatch: pytest.MonkeyPatch, function: str) -> None:
    def fail(*args: Any) -> Any:
        raise AssertionError(f"{function} fell back to its careful path on valid input")

    monkeypatch.setattr(G, CAREFUL[function], fail)


@pytest.mark.parametrize(("path", "d"), CASES)
@settings(max_examples=6, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), well=st.booleans())
def test_fast_path_equals_careful_path(
    monkeypatch: pytest.MonkeyPatch, data: st.DataObject, well: bool, path: G.FastPath, d: int
) -> None:
    args = _draw_inputs(data, path, d, max_condition=1e2 if well else 1e8)
    tensors = [torch.from_numpy(a).requires_grad_(path.grad) for a in args]
    with monkeypatch.context() as patch:
        _no_careful(patch, path.function)
        fast = PUBLIC[path.function](*tensors)
        if path.grad:
            fast.sum().backward()  # the closed-form backward runs too
    careful = _careful(path.function)(*[t.detach() for t in tensors]).numpy()
    fast_np = fast.detach().numpy()
    assert fast_np.shape == careful.shape
    assert (fast_np >= 0).all()
    if well:
        np.testing.assert_allclose(fast_np, careful, rtol=1e-12, atol=0)
    assert (np.abs(fast_np - careful) <= _bound(path, args, careful)).all(), (fast_np, careful)


@pytest.mark.parametrize(("path", "d"), CASES)
def test_fast_path_gives_exactly_zero_for_identical_gaussians(path: G.FastPath, d: int) -> None:
    rng = np.random.default_rng(d)
    batch = path.batch
    m = rng.standard_normal((*batch, d))
    if path.function == "gaussian_kl_diag":
        args = [m, rng.uniform(0.1, 3.0, (*batch, d))]
    else:
        a = rng.standard_normal((*batch, d, d))
        s = a @ np.swapaxes(a, -1, -2) / d + np.eye(d)
        args = [m, np.linalg.cholesky(s) if path.function == "gaussian_kl_tril" else s]
    tensors = [torch.from_numpy(x).requires_grad_(path.grad) for x in args]
    kl = PUBLIC[path.function](*tensors, *tensors)
    assert bool((kl == 0).all())


@settings(max_examples=15)
@given(data=st.data(), d=st.sampled_from([2, 5, 16, 64]))
def test_near_identical_pairs_fast_equals_careful(data: st.DataObject, d: int) -> None:
    # KL from 1e-14 to 1e-8: the fast paths keep the careful path's relative accuracy.
    m0, t0, m1, t1 = data.draw(near_identical_gaussians(d, batch_shape=(2,), max_condition=1e4))
    args = [torch.from_numpy(a) for a in (m0, t0, m1, t1)]
    fast = gaussian_kl_tril(*args).numpy()
    careful = G._tril_kl_careful(*args).numpy()
    np.testing.assert_allclose(fast, careful, rtol=1e-10, atol=0)
    s0, s1 = t0 @ np.swapaxes(t0, -1, -2), t1 @ np.swapaxes(t1, -1, -2)
    cov_args = [torch.from_numpy(a) for a in (m0, s0, m1, s1)]
    fast_cov = gaussian_kl(*cov_args).numpy()
    careful_cov = G._full_kl_careful(*cov_args).numpy()
    bound = _bound(G.FAST_PATHS[1], [m0, s0, m1, s1], careful_cov)
    assert (np.abs(fast_cov - careful_cov) <= bound).all()
    assert (fast_cov >= 0).all()


def _symmetric(a: torch.Tensor) -> torch.Tensor:
    return 0.5 * (a + a.mT)


@pytest.mark.parametrize("d", [1, 3, 8])
@pytest.mark.parametrize("broadcast", [False, True])
def test_closed_form_gradients_equal_autograd_of_the_careful_path(d: int, broadcast: bool) -> None:
    rng = np.random.default_rng(d + 10 * broadcast)

    def spd(batch: tuple[int, ...]) -> np.ndarray:
        a = rng.standard_normal((*batch, d, d))
        return a @ np.swapaxes(a, -1, -2) / d + np.eye(d)

    second = () if broadcast else (3,)
    full = [rng.standard_normal((3, d)), spd((3,)), rng.standard_normal((*second, d)), spd(second)]
    diag = [rng.standard_normal((3, d)), rng.uniform(0.2, 3, (3, d))]
    diag += [rng.standard_normal((*second, d)), rng.uniform(0.2, 3, (*second, d))]
    for function, args in (("gaussian_kl", full), ("gaussian_kl_diag", diag)):
        fast_in = [torch.tensor(a, requires_grad=True) for a in args]
        careful_in = [torch.tensor(a, requires_grad=True) for a in args]
        weights = torch.from_numpy(rng.uniform(0.5, 2.0, 3))
        (PUBLIC[function](*fast_in) * weights).sum().backward()
        (_careful(function)(*careful_in) * weights).sum().backward()
        for x, y in zip(fast_in, careful_in, strict=True):
            gx, gy = x.grad, y.grad
            if function == "gaussian_kl" and x.ndim >= 2 and x.shape[-2:] == (d, d):
                gx, gy = _symmetric(gx), _symmetric(gy)
            torch.testing.assert_close(gx, gy, rtol=1e-10, atol=1e-12)


def test_second_derivatives_through_the_closed_form_gradients() -> None:
    gen = torch.Generator().manual_seed(3)
    kw = {"generator": gen, "dtype": torch.float64}
    m0, m1 = torch.randn(2, **kw).requires_grad_(), torch.randn(2, **kw).requires_grad_()
    v0, v1 = (torch.rand(2, **kw) + 0.5).requires_grad_(), (torch.rand(2, **kw) + 0.5)
    assert torch.autograd.gradgradcheck(gaussian_kl_diag, (m0, v0, m1, v1.requires_grad_()))
    a = torch.randn(2, 2, **kw)
    s = (a @ a.T + torch.eye(2, dtype=torch.float64)).requires_grad_()

    def full(m0: torch.Tensor, s: torch.Tensor, m1: torch.Tensor) -> torch.Tensor:
        return gaussian_kl(m0, _symmetric(s), m1, 2 * torch.eye(2, dtype=torch.float64))

    assert torch.autograd.gradgradcheck(full, (m0, s, m1))


def test_registry_covers_every_function_and_the_thresholds() -> None:
    from klmath import _gaussian_fast as F

    assert {p.function for p in G.FAST_PATHS} == set(PUBLIC)
    dims = {d for p in G.FAST_PATHS if p.function == "gaussian_kl" for d in p.dims}
    assert min(dims) <= G._UNROLLED_MAX_D < 4 <= F.SPLIT_SOLVE_MIN_D <= max(dims)


@pytest.mark.parametrize("d", [4, 9, 64])
@pytest.mark.parametrize("covariances", [True, False])
def test_chunks_of_any_size_give_the_same_values(
    monkeypatch: pytest.MonkeyPatch, d: int, covariances: bool
) -> None:
    # The batch is cut into chunks (here of 1, 2 and 3 pairs, the last one shorter); each
    # pair's value must not depend on the chunk it falls in.
    from klmath import _gaussian_fast as F

    rng = np.random.default_rng(d)
    a = rng.standard_normal((2, 7, d, d))
    s = a @ np.swapaxes(a, -1, -2) / d + np.eye(d)
    m = rng.standard_normal((2, 7, d))
    args = [torch.from_numpy(x) for x in (m[0], s[0], m[1], s[1])]
    if not covariances:
        args[1], args[3] = torch.linalg.cholesky(args[1]), torch.linalg.cholesky(args[3])
    function = gaussian_kl if covariances else gaussian_kl_tril
    whole = function(*args)
    monkeypatch.setattr(F, "CHUNK_MIN_PAIRS", 1)
    for pairs in (1, 2, 3):
        monkeypatch.setattr(F, "CHUNK_BYTES", pairs * 8 * (d + 1) ** 2)
        torch.testing.assert_close(function(*args), whole, rtol=1e-13, atol=0)
