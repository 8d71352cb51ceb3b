"""Every fast path of the Gaussian KL functions agrees with the careful path.

The careful path is the out-of-place, autograd-ready evaluation (LAPACK Cholesky and
solve, ``_expm1_minus_x`` of ``_log_ratio``): ``klmath.gaussian``'s ``_*_kl_careful``
functions, called directly (inputs that require grad take the fast forward of the
autograd Functions since issue 19); for ``gaussian_kl`` the unrolled d ≤ 3 formulas
are switched off there. The fast paths:
the unrolled small-d factorization and solve, the in-place no-grad solve (split from
d = 64 on, overwriting its own L₀), and the no-grad diagonal terms (one log1p per
ratio, a series selected by lerp). On Hypothesis-drawn inputs, batched and
broadcast, each agrees with the careful path to 1e-12 relative (plus 1e-12 of the
terms' size for the full form, whose Cholesky rounding is not the same twice).

A float32 run checks the constants chosen for float32: the 6-term series and the
log1p radius, against mpmath.
"""

from __future__ import annotations

from typing import Any

import mpmath
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import means, spd_matrices, variances

from klmath import gaussian as gaussian_module
from klmath import gaussian_kl, gaussian_kl_diag, gaussian_kl_tril

_CAREFUL = {
    gaussian_kl: gaussian_module._full_kl_careful,
    gaussian_kl_tril: gaussian_module._tril_kl_careful,
    gaussian_kl_diag: lambda *t: gaussian_module._diag_kl_careful(
        *t, tuple(torch.broadcast_shapes(*[x.shape for x in t]))
    ),
}


def _careful(fn: Any, args: list[np.ndarray], lapack: bool) -> np.ndarray:
    tensors = [torch.tensor(a, requires_grad=True) for a in args]
    fn = _CAREFUL[fn]
    if lapack:
        with pytest.MonkeyPatch.context() as m:
            m.setattr(gaussian_module, "_UNROLLED_MAX_D", 0)  # LAPACK, out of place
            return fn(*tensors).detach().numpy()
    return fn(*tensors).detach().numpy()


def _fast(fn: Any, args: list[np.ndarray]) -> np.ndarray:
    with torch.no_grad():
        return fn(*[torch.tensor(a) for a in args]).numpy()


@st.composite
def full_pairs(draw: st.DrawFn) -> tuple[list[np.ndarray], int]:
    d = draw(st.one_of(st.integers(1, 6), st.sampled_from([63, 64, 70])))
    batch = draw(st.sampled_from([(), (3,), (2, 2)]))
    # The second Gaussian: the same batch, unbatched, or a broadcasting 1 axis.
    second = draw(st.sampled_from([batch, (), (1,) * len(batch)]))
    cond = 1e3
    args = [
        draw(means(d, batch_shape=batch)),
        draw(spd_matrices(d, batch_shape=batch, max_condition=cond)),
        draw(means(d, batch_shape=second)),
        draw(spd_matrices(d, batch_shape=second, max_condition=cond)),
    ]
    return args, d


def _terms_size(args: list[np.ndarray]) -> np.ndarray:
    """|tr Σ1⁻¹Σ0| + δᵀΣ1⁻¹δ + d + |log det Σ0| + |log det Σ1|: what rounding is relative to."""
    m0, s0, m1, s1 = args
    inv1 = np.linalg.inv(s1)
    delta = (m1 - m0)[..., None]
    trace = np.abs(np.trace(inv1 @ s0, axis1=-2, axis2=-1))
    maha = (np.swapaxes(delta, -1, -2) @ inv1 @ delta)[..., 0, 0]
    logdets = np.abs(np.linalg.slogdet(s0)[1]) + np.abs(np.linalg.slogdet(s1)[1])
    return trace + maha + s0.shape[-1] + logdets


@settings(max_examples=40)
@given(full_pairs())
def test_gaussian_kl_fast_paths_equal_the_careful_path(case: tuple[list[np.ndarray], int]) -> None:
    args, d = case
    careful = _careful(gaussian_kl, args, lapack=True)
    size = _terms_size(args)
    fast = _fast(gaussian_kl, args)  # unrolled for d ≤ 3, in place (split from 64) beyond
    np.testing.assert_array_less(np.abs(fast - careful), 1e-12 * (np.abs(careful) + size))
    with pytest.MonkeyPatch.context() as m:
        m.setattr(gaussian_module, "_UNROLLED_MAX_D", 0)
        lapack = _fast(gaussian_kl, args)  # the in-place LAPACK path at every d
    np.testing.assert_array_less(np.abs(lapack - careful), 1e-12 * (np.abs(careful) + size))
    if d <= 3:
        unrolled_grad = _careful(gaussian_kl, args, lapack=False)  # unrolled, with autograd
        np.testing.assert_array_less(
            np.abs(unrolled_grad - careful), 1e-12 * (np.abs(careful) + size)
        )


@settings(max_examples=40)
@given(full_pairs())
def test_gaussian_kl_tril_in_place_equals_the_careful_path(
    case: tuple[list[np.ndarray], int],
) -> None:
    args, _ = case
    factors = [args[0], np.linalg.cholesky(args[1]), args[2], np.linalg.cholesky(args[3])]
    careful = _careful(gaussian_kl_tril, factors, lapack=False)
    fast = _fast(gaussian_kl_tril, factors)
    # Same formula, same solve: only the summation order of the diagonal terms differs.
    np.testing.assert_allclose(fast, careful, rtol=1e-12, atol=1e-300)


@st.composite
def diag_pairs(draw: st.DrawFn) -> list[np.ndarray]:
    d = draw(st.one_of(st.integers(1, 8), st.just(64)))
    batch = draw(st.sampled_from([(), (4,), (2, 3)]))
    second = draw(st.sampled_from([batch, (), (1,) * len(batch)]))
    near = draw(st.booleans())
    m0, v0 = draw(means(d, batch_shape=batch)), draw(variances(d, batch_shape=batch))
    if near:  # |log(v0/v1)| < 1/4: the series branch, on the fast and the careful path
        eps = draw(st.sampled_from([1e-8, 1e-4, 0.1]))
        factor = np.exp(eps * np.random.default_rng(d).uniform(-1, 1, v0.shape))
        return [m0, v0, m0 * (1 + eps), v0 * factor]
    return [m0, v0, draw(means(d, batch_shape=second)), draw(variances(d, batch_shape=second))]


@settings(max_examples=60)
@given(diag_pairs())
def test_gaussian_kl_diag_fast_path_equals_the_careful_path(args: list[np.ndarray]) -> None:
    careful = _careful(gaussian_kl_diag, args, lapack=False)
    fast = _fast(gaussian_kl_diag, args)
    assert fast.shape == careful.shape
    # Both sum non-negative terms, each to a few ulps of itself (≤ 16 ulp, measured ≤ 7).
    np.testing.assert_allclose(fast, careful, rtol=1e-12, atol=1e-300)


# --- float32: the constants chosen for it ---------------------------------------------------


def _mp_diag_kl(v0: np.ndarray, v1: np.ndarray) -> list[float]:
    """½ Σ (s − 1 − log s), s = v0/v1, at 50 digits from the float32 values taken exactly."""
    out = []
    with mpmath.workdps(50):
        for a, b in zip(v0.astype(np.float64), v1.astype(np.float64), strict=True):
            s = mpmath.mpf(float(a)) / mpmath.mpf(float(b))
            out.append(float((s - 1 - mpmath.log(s)) / 2))
    return out


@pytest.mark.parametrize("grad", [False, True])
@pytest.mark.parametrize(
    "u",
    [
        pytest.param(np.linspace(-0.2499, 0.2499, 200), id="series-range"),
        pytest.param(
            np.concatenate([np.linspace(-6, -0.7, 100), np.linspace(0.7, 3, 50)]), id="far"
        ),
    ],
)
def test_float32_diagonal_terms_are_accurate(grad: bool, u: np.ndarray) -> None:
    # u = log(σ0²/σ1²) over the whole series range |u| < 1/4 (the 6-term float32 series,
    # both paths) and far from 0 (the careful path's log1p radius: log1p(r) for r near −1
    # would amplify the rounding of r). One coordinate per ratio.
    u = u[u != 0]
    v0 = np.exp(u).astype(np.float32)
    v1 = np.ones_like(v0)
    zero = torch.zeros(len(u), 1, dtype=torch.float32)
    t0 = torch.tensor(v0[:, None], requires_grad=grad)
    t1 = torch.tensor(v1[:, None], requires_grad=grad)
    with torch.set_grad_enabled(grad):
        got = gaussian_kl_diag(zero, t0, zero, t1).detach().numpy().astype(np.float64)
    ref = np.array(_mp_diag_kl(v0, v1))
    ulps = np.abs(got - ref) / ref / float(np.finfo(np.float32).eps)
    # Measured ≤ 1.6 ulp; 5 series terms instead of 6 give 3.8 ulp near |u| = 1/4, a
    # log1p radius of 1 gives 18 ulp at u = −6 (careful path).
    assert ulps.max() <= 2.5, (float(ulps.max()), float(u[int(ulps.argmax())]))
