"""klmath's numeric code against the lambdified SymPy derivations of klmath.proofs.

* Gaussian KL, d ≤ 6 (the unrolled and the LAPACK paths): :func:`klmath.gaussian_kl` vs
  the proved statement (evaluated by mpmath at 50 digits).
* Coupling: :class:`klmath.AffineCoupling`'s log-determinant vs the symbolic
  log|det J| for random masks, and its autograd Jacobian vs the symbolic chain rule.
* 1-D flow: :mod:`klmath.flow1d` map, derivative and mass vs the stated flow (n = 5).
"""

from __future__ import annotations

import mpmath
import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import masks, means, small_mlps, spd_matrices

from klmath import AffineCoupling, flow1d_derivative, flow1d_mass, flow1d_transform, gaussian_kl
from klmath.proofs import (
    coupling_jacobian_reference,
    coupling_log_det_reference,
    flow1d_reference,
    gaussian_kl_reference,
)

EPS = float(np.finfo(np.float64).eps)
DPS = 50


def _mp_terms(mean0: np.ndarray, cov0: np.ndarray, mean1: np.ndarray, cov1: np.ndarray) -> float:
    """Return |tr Σ1⁻¹Σ0| + δᵀΣ1⁻¹δ + d + |log det Σ0| + |log det Σ1| at 50 digits."""
    d = len(mean0)
    s0, s1 = mpmath.matrix(cov0.tolist()), mpmath.matrix(cov1.tolist())
    inv1 = mpmath.inverse(s1)
    delta = mpmath.matrix((mean1 - mean0).tolist())
    trace = sum((inv1 * s0)[i, i] for i in range(d))
    maha = (delta.T * inv1 * delta)[0]
    logdets = abs(mpmath.log(mpmath.det(s0))) + abs(mpmath.log(mpmath.det(s1)))
    return float(abs(trace) + maha + d + logdets)


@st.composite
def gaussian_pairs(draw: st.DrawFn) -> tuple[np.ndarray, ...]:
    d = draw(st.integers(1, 6))
    return (
        draw(means(d)),
        draw(spd_matrices(d, max_condition=1e6)),
        draw(means(d)),
        draw(spd_matrices(d, max_condition=1e6)),
    )


@settings(max_examples=80)
@given(gaussian_pairs())
def test_gaussian_kl_matches_the_derivation(pair: tuple[np.ndarray, ...]) -> None:
    mean0, cov0, mean1, cov1 = pair
    d = len(mean0)
    value = float(gaussian_kl(mean0, cov0, mean1, cov1))
    old = mpmath.mp.dps
    try:
        mpmath.mp.dps = DPS
        reference = float(gaussian_kl_reference(d)(mean0, cov0, mean1, cov1))
        scale = _mp_terms(mean0, cov0, mean1, cov1)
    finally:
        mpmath.mp.dps = old
    kappa = np.linalg.cond(cov0) + np.linalg.cond(cov1)
    # Backward-stable Cholesky: the error is eps · κ times the size of the terms
    # (measured worst case 0.74 of that over d ≤ 3, κ ≤ 1e6); 8x headroom.
    assert abs(value - reference) <= 8 * EPS * kappa * scale, (value, reference)


def test_gaussian_reference_is_exact_for_a_hand_computed_case() -> None:
    # KL(N(0, I₂) ‖ N(1, 2I₂)) = ½(tr ½I₂ + ½‖1‖² − 2 + log 4) = ½(1 + 1 − 2 + 2 log 2) = log 2.
    old = mpmath.mp.dps
    try:
        mpmath.mp.dps = DPS
        value = gaussian_kl_reference(2)([0, 0], [[1, 0], [0, 1]], [1, 1], [[2, 0], [0, 2]])
        assert abs(value - mpmath.log(2)) < mpmath.mpf(10) ** (2 - DPS)
    finally:
        mpmath.mp.dps = old


@st.composite
def couplings(
    draw: st.DrawFn,
) -> tuple[torch.Tensor, torch.nn.Module, torch.nn.Module, float | None]:
    mask = draw(masks(min_n=2, max_n=5))
    k = int(mask.sum())
    scale = draw(small_mlps(k, len(mask) - k))
    shift = draw(small_mlps(k, len(mask) - k))
    clamp = draw(st.one_of(st.none(), st.floats(0.5, 5.0)))
    return mask, scale, shift, clamp


@settings(max_examples=40)
@given(couplings(), st.integers(0, 2**32 - 1))
def test_coupling_log_det_matches_the_derivation(
    layer_parts: tuple[torch.Tensor, torch.nn.Module, torch.nn.Module, float | None], seed: int
) -> None:
    mask, scale, shift, clamp = layer_parts
    layer = AffineCoupling(mask, scale, shift, clamp=clamp)
    x = torch.randn(
        4, len(mask), dtype=torch.float64, generator=torch.Generator().manual_seed(seed)
    )
    with torch.no_grad():
        _, log_det = layer(x)
        s = scale(x[:, mask])
        if clamp is not None:  # the claim holds for any s, the soft-clamped one included
            s = clamp * torch.tanh(s / clamp)
    reference = coupling_log_det_reference(tuple(mask.tolist()))(s.numpy())
    # A sum of m = n − |Ω| terms: m roundings relative to Σ|s|.
    tol = 2 * s.shape[-1] * EPS * s.abs().sum(-1).numpy()
    np.testing.assert_array_less(np.abs(log_det.numpy() - reference), tol + 1e-300)


@settings(max_examples=30)
@given(couplings(), st.integers(0, 2**32 - 1))
def test_coupling_jacobian_matches_the_symbolic_chain_rule(
    layer_parts: tuple[torch.Tensor, torch.nn.Module, torch.nn.Module, float | None], seed: int
) -> None:
    mask, scale, shift, _ = layer_parts
    layer = AffineCoupling(mask, scale, shift)
    x = torch.randn(len(mask), dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    jac = torch.autograd.functional.jacobian(lambda v: layer(v)[0], x).numpy()
    cond = x[mask]
    with torch.no_grad():
        s = scale(cond).numpy()
    ds = torch.autograd.functional.jacobian(scale, cond).numpy()
    dt = torch.autograd.functional.jacobian(shift, cond).numpy()
    reference = coupling_jacobian_reference(tuple(mask.tolist()))(x.numpy(), s, ds, dt)
    # Zeros and ones of the block form are exact; the * block is a few products.
    zero = reference == 0
    assert np.all(jac[zero] == 0)
    np.testing.assert_allclose(
        jac, reference, rtol=16 * EPS, atol=16 * EPS * np.abs(reference).max()
    )


flow_params = st.tuples(
    *[st.floats(-4.0, 3.0) for _ in range(5)],
    *[st.floats(-3.0, 3.0) for _ in range(5)],
    *[st.floats(-2.0, 1.5) for _ in range(5)],
).map(lambda v: (np.array(v[:5]), np.array(v[5:10]), np.array(v[10:])))


@settings(max_examples=60)
@given(flow_params, st.floats(-6.0, 6.0))
def test_flow1d_matches_the_symbolic_flow(
    params: tuple[np.ndarray, np.ndarray, np.ndarray], x: float
) -> None:
    w, mu, tau = params
    ref = flow1d_reference()
    old = mpmath.mp.dps
    try:
        mpmath.mp.dps = DPS
        f_ref = float(ref["transform"](x, w, mu, tau))
        df_ref = float(ref["derivative"](x, w, mu, tau))
        mass_ref = float(ref["mass"](w))
    finally:
        mpmath.mp.dps = old
    u2 = float(np.max(((x - mu) * np.exp(-tau)) ** 2))
    size = float(np.exp(w).sum())
    # The terms of f have both signs, so its error is relative to S = Σ e^w, and
    # exp(−u²/2) amplifies the rounding of u by u²; 16x headroom on both.
    f = float(flow1d_transform(np.array(x), w, mu, tau))
    df = float(flow1d_derivative(np.array(x), w, mu, tau))
    assert abs(f - f_ref) <= 16 * EPS * size * (1 + u2)
    assert abs(df - df_ref) <= 16 * EPS * (1 + u2) * df_ref
    mass = float(flow1d_mass(w))
    assert abs(mass - mass_ref) <= 16 * EPS * mass_ref
    # Mathematically 0 < mass < 1 and |f| < S/2; in float64 both can round to the bound.
    assert 0 < mass <= 1 and df > 0 and abs(f) <= size / 2


@settings(max_examples=30)
@given(flow_params.map(lambda p: p[0]))
def test_flow1d_mass_is_twice_cdf_minus_one(w: np.ndarray) -> None:
    # The proved identity ∫φ(f)f′ = 2Φ(S/2) − 1, against mpmath's own ncdf.
    old = mpmath.mp.dps
    try:
        mpmath.mp.dps = DPS
        size = mpmath.fsum(mpmath.exp(mpmath.mpf(v)) for v in w)
        expected = float(2 * mpmath.ncdf(size / 2) - 1)
        symbolic = float(flow1d_reference()["mass"](w))
    finally:
        mpmath.mp.dps = old
    assert abs(symbolic - expected) <= 2 * EPS * expected
    assert abs(float(flow1d_mass(w)) - expected) <= 16 * EPS * expected
