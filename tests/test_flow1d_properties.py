"""The 1-D flow of seed problem 2: invariants and independent references.

* f is strictly increasing (f' > 0 everywhere, computed f non-decreasing on a grid);
* f^{-1}(f(x)) = x and f(f^{-1}(z)) = z, and the preimage is bracketed to 1e-10 at 50 digits;
* f, log f', log p against mpmath at 50 digits, far tails included;
* ∫ p_θ = 2Φ(S/2) − 1 by quadrature; the closed form and the missing mass against mpmath;
* with the tail term e^a x: ∫ p_θ = 1 by quadrature, and every real z has a preimage;
* gradients of log p against finite differences (gradcheck, float64).
"""

from __future__ import annotations

import itertools
import math

import mpmath
import numpy as np
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy import integrate
from strategies import flow1d_parameters

from klmath.flow1d import (
    flow1d_derivative,
    flow1d_inverse,
    flow1d_log_derivative,
    flow1d_log_prob,
    flow1d_mass,
    flow1d_missing_mass,
    flow1d_transform,
)

EPS = float(np.finfo(np.float64).eps)
DIGITS = 50
LOG_SLOPES = st.floats(min_value=-4.0, max_value=1.0)


def _t(*arrays: np.ndarray) -> list[torch.Tensor]:
    return [torch.as_tensor(np.asarray(a, dtype=np.float64)) for a in arrays]


def _half_s(w: np.ndarray) -> float:
    return 0.5 * float(np.exp(w).sum())


# --- mpmath reference (50 digits, precision restored in finally) -------------


def _weights(w: np.ndarray, rounded: bool) -> list[mpmath.mpf]:
    """e^{w_i} at DIGITS digits, or the float64 values torch computes, taken exactly."""
    if rounded:
        return [mpmath.mpf(c) for c in torch.exp(torch.as_tensor(w)).tolist()]
    return [mpmath.exp(mpmath.mpf(float(wi))) for wi in w]


def mp_flow(
    x: float, w, mu, tau, a: float | None = None, *, rounded_weights: bool = False
) -> tuple[mpmath.mpf, mpmath.mpf]:
    """(f(x), f'(x)) at DIGITS digits from the float64 inputs taken exactly.

    ``rounded_weights``: use the float64 weights fl(e^{w_i}) (the flow the code inverts
    exactly) instead of the exact e^{w_i}; near the ends of the range the two flows' preimages
    differ by far more than 1e-10, since f is flat there.
    """
    old = mpmath.mp.dps
    mpmath.mp.dps = DIGITS
    try:
        xm = mpmath.mpf(float(x))
        f = mpmath.mpf(0)
        fp = mpmath.mpf(0)
        for ci, mi, ti in zip(_weights(w, rounded_weights), mu, tau, strict=True):
            sigma = mpmath.exp(mpmath.mpf(float(ti)))
            u = (xm - mpmath.mpf(float(mi))) / sigma
            f += ci * (mpmath.ncdf(u) - mpmath.mpf(1) / 2)
            fp += ci * mpmath.npdf(u) / sigma
        if a is not None:
            f += mpmath.exp(mpmath.mpf(float(a))) * xm
            fp += mpmath.exp(mpmath.mpf(float(a)))
        return +f, +fp
    finally:
        mpmath.mp.dps = old


def mp_log_prob(x: float, w, mu, tau, a: float | None = None) -> mpmath.mpf:
    old = mpmath.mp.dps
    mpmath.mp.dps = DIGITS
    try:
        f, fp = mp_flow(x, w, mu, tau, a)
        return -(f**2) / 2 - mpmath.log(mpmath.sqrt(2 * mpmath.pi)) + mpmath.log(fp)
    finally:
        mpmath.mp.dps = old


# --- the map and its log-density against mpmath ------------------------------


@settings(max_examples=25)
@given(params=flow1d_parameters(), a=st.one_of(st.none(), LOG_SLOPES), data=st.data())
def test_transform_and_log_prob_match_mpmath(params, a, data):
    w, mu, tau = params
    sigma = np.exp(tau)
    # the bulk, and far tails where every φ(u_i) underflows in float64 (u up to ~60)
    xs = [
        data.draw(st.floats(float(np.min(mu - 4 * sigma)), float(np.max(mu + 4 * sigma))))
        for _ in range(3)
    ] + [float(np.max(mu + 60 * sigma)), float(np.min(mu - 60 * sigma))]
    x = torch.tensor(xs, dtype=torch.float64)
    at = None if a is None else torch.tensor(a, dtype=torch.float64)
    f = flow1d_transform(x, *_t(w, mu, tau), a=at)
    log_fp = flow1d_log_derivative(x, *_t(w, mu, tau), a=at)
    lp = flow1d_log_prob(x, *_t(w, mu, tau), a=at)
    s_half = _half_s(w)
    for i, xi in enumerate(xs):
        f_mp, fp_mp = mp_flow(xi, w, mu, tau, a)
        u_max = float(np.max(np.abs((xi - mu) / sigma)))
        scale_f = s_half + (0.0 if a is None else math.exp(a) * abs(xi))
        # each erf term is accurate to a few ulps of its size; a sum of n of them
        tol_f = 8 * len(w) * EPS * scale_f
        assert abs(float(f[i]) - float(f_mp)) <= tol_f, (xi, float(f[i]), float(f_mp))
        # log terms w − τ − u²/2 carry absolute error ~ eps·u² (u has relative error ~eps)
        tol_log = 16 * EPS * (1 + u_max**2 + float(np.max(np.abs(w - tau))))
        with mpmath.workdps(DIGITS):
            log_fp_mp = mpmath.log(fp_mp)
        assert abs(float(log_fp[i]) - float(log_fp_mp)) <= tol_log
        tol_lp = tol_log + abs(float(f_mp)) * tol_f
        assert math.isfinite(float(lp[i]))
        assert abs(float(lp[i]) - float(mp_log_prob(xi, w, mu, tau, a))) <= tol_lp


def test_log_prob_stays_finite_where_the_density_underflows():
    # f'(60) = φ(60) ≈ 1e-782 is 0 in float64; log p must still be right, not -inf.
    w, mu, tau = np.zeros(1), np.zeros(1), np.zeros(1)
    for x in (60.0, -60.0, 300.0):
        lp = float(flow1d_log_prob(torch.tensor([x], dtype=torch.float64), *_t(w, mu, tau)))
        ref = float(mp_log_prob(x, w, mu, tau))
        assert abs(lp - ref) <= 16 * EPS * abs(ref)


# --- monotonicity ---------------------------------------------------------------


@settings(max_examples=30)
@given(params=flow1d_parameters(), a=st.one_of(st.none(), LOG_SLOPES))
def test_f_strictly_increasing(params, a):
    w, mu, tau = params
    sigma = np.exp(tau)
    lo, hi = float(np.min(mu - 8 * sigma)), float(np.max(mu + 8 * sigma))
    x = torch.linspace(lo, hi, 1001, dtype=torch.float64)
    at = None if a is None else torch.tensor(a, dtype=torch.float64)
    f = flow1d_transform(x, *_t(w, mu, tau), a=at)
    log_fp = flow1d_log_derivative(x, *_t(w, mu, tau), a=at)
    # f' > 0 (log f' finite) everywhere: f is strictly increasing mathematically ...
    assert torch.isfinite(log_fp).all()
    # ... and the computed f never decreases (rounding is monotone) ...
    diffs = f.diff()
    assert (diffs >= 0).all()
    # ... and strictly increases wherever the rise f'·Δx is resolvable in float64.
    rise = torch.exp(log_fp[:-1]) * x.diff()
    resolvable = rise > 64 * EPS * (f.abs()[:-1] + f.abs()[1:] + 1)
    assert (diffs[resolvable] > 0).all()


# --- the inverse -----------------------------------------------------------------


@given(params=flow1d_parameters(), a=st.one_of(st.none(), LOG_SLOPES), data=st.data())
def test_inverse_of_transform_is_identity(params, a, data):
    w, mu, tau = params
    sigma = np.exp(tau)
    lo, hi = float(np.min(mu - 4 * sigma)), float(np.max(mu + 4 * sigma))
    xs = data.draw(st.lists(st.floats(lo, hi), min_size=1, max_size=32))
    x = torch.tensor(xs, dtype=torch.float64)
    at = None if a is None else torch.tensor(a, dtype=torch.float64)
    z = flow1d_transform(x, *_t(w, mu, tau), a=at)
    res = flow1d_inverse(z, *_t(w, mu, tau), a=at)
    s_half = _half_s(w)
    # A preimage is missing only where the rounded f(x) reached the end of the range.
    if a is None:
        assert (z[res.no_preimage].abs() >= s_half * (1 - 8 * EPS)).all()
    else:
        assert not res.no_preimage.any()
    ok = ~res.no_preimage
    fp = flow1d_derivative(x, *_t(w, mu, tau), a=at)
    # z = fl(f(x)) is off by a few ulps of S/2; that moves the exact preimage by Δz/f'.
    conditioning = 16 * len(w) * EPS * (s_half + z.abs()) / fp
    err = (res.x - x).abs()
    assert (err[ok] <= 1e-10 + conditioning[ok]).all(), float(err[ok].max())


@settings(max_examples=25)
@given(
    params=flow1d_parameters(),
    a=st.one_of(st.none(), LOG_SLOPES),
    t=st.lists(st.floats(-1.0, 1.0, exclude_min=True, exclude_max=True), min_size=1, max_size=4),
)
@example(params=(np.zeros(2), np.array([-1.0, 1.0]), np.zeros(2)), a=None, t=[1 - 2.0**-45])
@example(params=(np.zeros(2), np.array([-1.0, 1.0]), np.zeros(2)), a=None, t=[-1 + 2.0**-45])
# Issue 14: with S/2 summed at 15 digits this z = fl(t·S/2) counted as outside the range.
@example(
    params=(
        np.array(
            [0.8217701239287258, -1.3812797174167781, -2.7541588563828316, -2.9008341868288254]
        ),
        np.array([1.879621435201635, 2.47653346366633, 0.6398146546030792, 1.3769793659039902]),
        np.array([-0.553687538405597, 1.207825907044957, 0.6713409935468948, -2.9876767492343337]),
    ),
    a=None,
    t=[1 - 2.0**-53],
)
def test_inverse_brackets_the_exact_preimage_within_1e_10(params, a, t):
    # Independent check of "accurate to 1e-10": at 50 digits, f(x̂ − 1e-10) < z < f(x̂ + 1e-10),
    # so the exact root of f(x) = z lies within 1e-10 of x̂ (f is increasing). The flow is
    # the one with the float64 weights fl(e^{w_i}), which is the flow the code evaluates.
    w, mu, tau = params
    s_half = _half_s(w)
    z = torch.tensor(t, dtype=torch.float64) * s_half
    at = None if a is None else torch.tensor(a, dtype=torch.float64)
    res = flow1d_inverse(z, *_t(w, mu, tau), a=at)
    with mpmath.workdps(DIGITS):  # at mpmath's default 15 digits this sum is rounded
        s_half_exact = mpmath.fsum(_weights(w, rounded=True)) / 2
    inside = torch.tensor([abs(mpmath.mpf(zi)) < s_half_exact for zi in z.tolist()])
    assert torch.equal(res.no_preimage, ~inside if a is None else torch.zeros_like(inside))
    for zi, xi in zip(z[inside].tolist(), res.x[inside].tolist(), strict=True):
        below, _ = mp_flow(xi - 1e-10, w, mu, tau, a, rounded_weights=True)
        above, _ = mp_flow(xi + 1e-10, w, mu, tau, a, rounded_weights=True)
        assert below < mpmath.mpf(zi) < above, (zi, xi)


def test_inverse_far_in_the_tails_matches_mpmath_tail_mass():
    # z = S/2 − gap with gap down to 2^-50 · S/2: the preimage is far out where f is flat,
    # and only the tail form keeps it accurate. Check Σ e^{w_i} Φ(−u_i(x̂)) = gap.
    w, mu, tau = np.log([0.5, 2.0, 1.0]), np.array([-1.0, 0.3, 1.2]), np.log([0.3, 0.5, 0.2])
    s_half = _half_s(w)
    gaps = [s_half * 2.0**-k for k in (1, 10, 30, 50)]
    ends = [s_half - g for g in gaps] + [-s_half + g for g in gaps]
    z = torch.tensor(ends, dtype=torch.float64)
    res = flow1d_inverse(z, *_t(w, mu, tau))
    assert res.n_no_preimage == 0
    old = mpmath.mp.dps
    mpmath.mp.dps = DIGITS
    try:
        s_half_exact = mpmath.fsum(_weights(w, rounded=True)) / 2
        for k, xi in enumerate(res.x.tolist()):
            upper = k < len(gaps)
            sign = -1 if upper else 1
            tail = mpmath.fsum(
                ci * mpmath.ncdf(sign * (xi - mpmath.mpf(mi)) / mpmath.exp(mpmath.mpf(ti)))
                for ci, mi, ti in zip(_weights(w, rounded=True), mu, tau, strict=True)
            )
            gap = s_half_exact - abs(mpmath.mpf(float(z[k])))
            # x̂ is within ~1e-12 of the root and d log(tail)/dx ≈ u/σ ≲ 50 there
            assert abs(float(tail / gap) - 1) <= 1e-9, (k, xi, float(tail), float(gap))
    finally:
        mpmath.mp.dps = old


def test_inverse_flags_every_z_without_preimage_and_never_clips():
    w, mu, tau = _t(np.zeros(2), np.array([-1.0, 1.0]), np.zeros(2))
    z = torch.tensor([0.5, 1.0, -1.0, 1.5, -3.0, math.inf, -math.inf, 0.0], dtype=torch.float64)
    res = flow1d_inverse(z, w, mu, tau)  # S/2 = 1: |z| >= 1 has no preimage
    expected = torch.tensor([False, True, True, True, True, True, True, False])
    assert torch.equal(res.no_preimage, expected)
    assert res.n_no_preimage == 6
    assert torch.isnan(res.x[expected]).all()
    assert torch.isfinite(res.x[~expected]).all()
    with pytest.raises(ValueError, match=r"6 of 8 entries of z have no preimage.*index \(1,\)"):
        flow1d_inverse(z, w, mu, tau, on_no_preimage="raise")
    # with the tail term only ±inf lacks a preimage
    fixed = flow1d_inverse(z, w, mu, tau, a=torch.tensor(-1.0, dtype=torch.float64))
    assert fixed.n_no_preimage == 2
    finite = torch.isfinite(z)
    back = flow1d_transform(fixed.x[finite], w, mu, tau, a=torch.tensor(-1.0, dtype=torch.float64))
    torch.testing.assert_close(back, z[finite], rtol=0, atol=16 * EPS * 4)


# --- mass ------------------------------------------------------------------------


def _quad_mass(w, mu, tau, a=None) -> tuple[float, float]:
    """∫ p_θ over ℝ, split at the component means and scales (and the tail scale e^{-a})."""
    sigma = np.exp(tau)
    pts = np.concatenate([mu, mu - 4 * sigma, mu + 4 * sigma])
    if a is not None:
        # the tail term spreads mass 2Φ(−S/2) out to ~(S/2)e^{-a}; geometric breakpoints keep
        # quad from stepping over the bulk's steep edge into the plateau
        reach = (_half_s(w) + 10) * math.exp(-a)
        steps = float(sigma.min()) * 2.0 ** np.arange(64)
        steps = steps[steps < reach]
        edge_hi, edge_lo = float(np.max(mu + 4 * sigma)), float(np.min(mu - 4 * sigma))
        pts = np.concatenate([pts, [-reach, reach], edge_hi + steps, edge_lo - steps])
    edges = [-np.inf, *np.unique(pts).tolist(), np.inf]
    wt, mt, tt = _t(w, mu, tau)
    at = None if a is None else torch.tensor(a, dtype=torch.float64)

    def density(x: float) -> float:
        return math.exp(
            float(flow1d_log_prob(torch.tensor(x, dtype=torch.float64), wt, mt, tt, a=at))
        )

    total = err = 0.0
    for left, right in itertools.pairwise(edges):
        v, e = integrate.quad(density, left, right, epsabs=1e-12, epsrel=1e-10, limit=200)
        total, err = total + v, err + e
    return total, err


@settings(max_examples=12)
@given(params=flow1d_parameters())
def test_density_integrates_to_closed_form_mass(params):
    w, mu, tau = params
    mass_quad, err = _quad_mass(w, mu, tau)
    mass = float(flow1d_mass(torch.as_tensor(w)))
    missing = float(flow1d_missing_mass(torch.as_tensor(w)))
    # quad's own error estimate, plus a floor for the estimate being an estimate
    assert abs(mass_quad - mass) <= 10 * err + 1e-9, (mass_quad, mass, err)
    assert abs((1 - mass_quad) - missing) <= 10 * err + 1e-9


@given(params=flow1d_parameters(max_abs_w=5.0))
@example(params=(np.array([math.log(40.0)]), np.zeros(1), np.zeros(1)))  # 2Φ(−20) ≈ 5.5e-89
def test_mass_and_missing_mass_match_mpmath(params):
    w = params[0]
    mass = float(flow1d_mass(torch.as_tensor(w)))
    missing = float(flow1d_missing_mass(torch.as_tensor(w)))
    old = mpmath.mp.dps
    mpmath.mp.dps = DIGITS
    try:
        s = mpmath.fsum(mpmath.exp(mpmath.mpf(float(wi))) for wi in w)
        y = s / mpmath.sqrt(8)
        mass_mp, missing_mp = mpmath.erf(y), mpmath.erfc(y)
        # S carries ~n ulps; d log erfc(y)/d log y ≈ 2y² for large y, ≈ 1 for small
        rel = 8 * EPS * (len(w) + 1) * (1 + 2 * float(y) ** 2)
        assert abs(mass - float(mass_mp)) <= rel * float(mass_mp)
        if missing_mp >= 1e-300:  # a normal float64: full relative accuracy, never rounded away
            assert abs(missing - float(missing_mp)) <= rel * float(missing_mp)
        else:  # S > ~75: the missing mass is subnormal or underflows, as it must
            assert 0 <= missing <= 1e-300
    finally:
        mpmath.mp.dps = old


@settings(max_examples=12)
@given(params=flow1d_parameters(), a=LOG_SLOPES)
def test_fixed_flow_density_integrates_to_one(params, a):
    w, mu, tau = params
    mass_quad, err = _quad_mass(w, mu, tau, a)
    assert abs(mass_quad - 1) <= 10 * err + 1e-9, (mass_quad, err)
    at = torch.tensor(a, dtype=torch.float64)
    assert float(flow1d_mass(torch.as_tensor(w), a=at)) == 1.0
    assert float(flow1d_missing_mass(torch.as_tensor(w), a=at)) == 0.0


# --- gradients -------------------------------------------------------------------


@settings(max_examples=10)
@given(params=flow1d_parameters(min_tau=-1.5), a=st.one_of(st.none(), LOG_SLOPES))
def test_log_prob_gradient_matches_finite_differences(params, a):
    w, mu, tau = (t.requires_grad_() for t in _t(*params))
    x = torch.linspace(-3, 3, 7, dtype=torch.float64, requires_grad=True)
    inputs: tuple[torch.Tensor, ...] = (x, w, mu, tau)
    if a is None:
        assert torch.autograd.gradcheck(lambda *t: flow1d_log_prob(*t), inputs)
    else:
        at = torch.tensor(a, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(
            lambda x_, w_, m_, t_, a_: flow1d_log_prob(x_, w_, m_, t_, a=a_), (*inputs, at)
        )
    assert torch.autograd.gradcheck(lambda w_: flow1d_missing_mass(w_), (w,))


# --- kinds, shapes and dtypes ------------------------------------------------------


def test_numpy_in_numpy_out_and_shapes_follow_x():
    w, mu, tau = np.zeros(3), np.array([-1.0, 0.0, 1.0]), np.log([0.5, 1.0, 2.0])
    x = np.linspace(-2, 2, 12).reshape(3, 4)
    for fn in (flow1d_transform, flow1d_log_derivative, flow1d_derivative, flow1d_log_prob):
        out = fn(x, w, mu, tau)
        assert isinstance(out, np.ndarray) and out.shape == (3, 4) and out.dtype == np.float64
        ref = fn(torch.from_numpy(x), *_t(w, mu, tau))
        np.testing.assert_array_equal(out, ref.numpy())
    res = flow1d_inverse(flow1d_transform(x, w, mu, tau), w, mu, tau)
    assert isinstance(res.x, np.ndarray) and res.x.shape == (3, 4)
    assert res.no_preimage.shape == (3, 4) and res.n_no_preimage == 0
    assert isinstance(flow1d_mass(w), np.ndarray)


def test_float32_in_float32_out(dtype, device):
    w = torch.zeros(2, dtype=dtype, device=device)
    mu = torch.tensor([-1.0, 1.0], dtype=dtype, device=device)
    tau = torch.zeros(2, dtype=dtype, device=device)
    x = torch.linspace(-2, 2, 9, dtype=dtype, device=device)
    z = flow1d_transform(x, w, mu, tau)
    assert z.dtype == dtype and z.device == x.device
    res = flow1d_inverse(z, w, mu, tau)  # solved in float64, returned in the input dtype
    assert res.x.dtype == dtype
    torch.testing.assert_close(res.x, x)
