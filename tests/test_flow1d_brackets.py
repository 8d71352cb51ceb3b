"""The safety nets of flow1d_inverse: bracket widening, the tail slope in f′, z = 0.

The analytic brackets of the inverse hold mathematically; ``_widen_bracket`` repairs
them where rounding (or a root beyond μᵢ ± 10σᵢ) breaks them, by doubling outwards on
the failing side only, and gives up with a RuntimeError after 64 rounds. It is tested
here on residuals with known roots far outside the first bracket, on each side.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from klmath import flow1d
from klmath.flow1d import _widen_bracket

F64 = torch.float64


def _residual(root: torch.Tensor):  # an increasing residual with the given roots
    def residual(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return x - root, torch.ones_like(x)

    return residual


def test_widening_moves_only_the_failing_end_until_the_root_is_inside() -> None:
    root = torch.tensor([100.0, -100.0, 0.5, 3.0], dtype=F64)
    lo = torch.zeros(4, dtype=F64)
    hi = torch.ones(4, dtype=F64)
    skip = torch.tensor([False, False, False, True])  # the last entry is not to be solved
    _widen_bracket(_residual(root), lo, hi, skip)
    inside = (lo <= root) & (root <= hi)
    assert bool(inside[:3].all())
    assert lo[0] == 0.0 and hi[1] == 1.0  # the end that already held did not move
    assert hi[0] > 100.0 and lo[1] < -100.0
    assert lo[2] == 0.0 and hi[2] == 1.0  # a bracket that holds is left alone
    assert lo[3] == 0.0 and hi[3] == 1.0  # skipped entries are never widened
    # Each round moves the failing end out by the bracket's width + 1:
    # hi = 1, 3, 7, ..., 127 and lo = 0, -2, -6, ..., -126.
    assert hi[0] == 127.0 and lo[1] == -126.0


def test_widening_gives_up_on_a_residual_without_a_root() -> None:
    def never(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.full_like(x, -1.0), torch.ones_like(x)

    lo, hi = torch.zeros(1, dtype=F64), torch.ones(1, dtype=F64)
    with pytest.raises(RuntimeError, match=r"^flow1d_inverse could not bracket a root \(please"):
        _widen_bracket(never, lo, hi, torch.zeros(1, dtype=torch.bool))


def test_a_root_exactly_at_the_bracket_end_needs_no_widening() -> None:
    root = torch.tensor([0.0, 1.0], dtype=F64)  # h(lo) = 0 and h(hi) = 0 bracket a root
    lo, hi = torch.zeros(2, dtype=F64), torch.ones(2, dtype=F64)
    _widen_bracket(_residual(root), lo, hi, torch.zeros(2, dtype=torch.bool))
    assert lo.tolist() == [0.0, 0.0] and hi.tolist() == [1.0, 1.0]


@pytest.mark.parametrize("a", [-2.0, 0.0, 1.0])
def test_derivative_with_a_tail_slope_includes_it(a: float) -> None:
    w, mu, tau = (torch.tensor(v, dtype=F64) for v in ([0.0, -1.0], [-1.0, 1.0], [0.0, 0.5]))
    x = torch.tensor([-40.0, 0.0, 40.0], dtype=F64)  # far out f′ is e^a alone
    at = torch.tensor(a, dtype=F64)
    df = flow1d.flow1d_derivative(x, w, mu, tau, a=at)
    seed = flow1d.flow1d_derivative(x, w, mu, tau)
    torch.testing.assert_close(df, seed + math.exp(a), rtol=1e-14, atol=0)
    assert df[0] == pytest.approx(math.exp(a), rel=1e-14)


def test_inverse_at_zero_and_at_the_means_of_a_symmetric_flow() -> None:
    # f is odd about 0 for symmetric parameters: f⁻¹(0) = 0 exactly, f⁻¹(−z) = −f⁻¹(z).
    w, mu, tau = (torch.tensor(v, dtype=F64) for v in ([0.3, 0.3], [-1.0, 1.0], [0.0, 0.0]))
    z = torch.tensor([0.0, 0.2, -0.2, 0.7, -0.7], dtype=F64)
    x = flow1d.flow1d_inverse(z, w, mu, tau).x
    assert abs(float(x[0])) <= 1e-12
    np.testing.assert_allclose(x[1::2].numpy(), -x[2::2].numpy(), rtol=0, atol=2e-12)


@pytest.mark.parametrize("a", [-6.0, -3.0])
def test_inverse_where_only_the_small_tail_slope_is_left(a: float) -> None:
    # Far outside (−S/2, S/2) the fixed flow rises only by e^a ≈ 2.5e-3: a Newton step
    # h/f′ there is 400 times the residual h, so stopping on a small residual alone would
    # leave x̂ far from the root. The exact root must lie within 1e-10 of x̂ (mpmath).
    import mpmath

    w, mu, tau = np.array([0.0, 0.5]), np.array([-1.0, 2.0]), np.array([0.0, -0.5])
    half = 0.5 * float(np.exp(w).sum())
    z = np.array([half + 3.0, -half - 7.0, half + 0.01])
    params = [torch.tensor(v, dtype=F64) for v in (w, mu, tau)]
    at = torch.tensor(a, dtype=F64)
    xs = flow1d.flow1d_inverse(torch.tensor(z, dtype=F64), *params, a=at).x.tolist()

    def f(x: float) -> mpmath.mpf:
        with mpmath.workdps(50):
            xm = mpmath.mpf(x)
            total = mpmath.exp(mpmath.mpf(a)) * xm
            for wi, mi, ti in zip(w, mu, tau, strict=True):
                u = (xm - mpmath.mpf(float(mi))) / mpmath.exp(mpmath.mpf(float(ti)))
                total += mpmath.exp(mpmath.mpf(float(wi))) * (mpmath.ncdf(u) - mpmath.mpf(1) / 2)
            return total

    for zi, xi in zip(z.tolist(), xs, strict=True):
        assert f(xi - 1e-10) < mpmath.mpf(zi) < f(xi + 1e-10), (zi, xi)


def test_newton_is_taken_the_inverse_needs_few_iterations() -> None:
    # Safeguarded Newton converges quadratically: 20 iterations suffice for every z of these
    # flows (measured at most 12), where bisection alone from the ±10σ bracket needs ~45.
    rng = np.random.default_rng(0)
    for _ in range(10):
        n = int(rng.integers(1, 6))
        params = [
            torch.tensor(v)
            for v in (rng.uniform(-2, 1.5, n), rng.uniform(-3, 3, n), rng.uniform(-1.5, 1, n))
        ]
        half = 0.5 * float(torch.exp(params[0]).sum())
        z = torch.tensor(rng.uniform(-0.999, 0.999, 40) * half)
        for a in (None, torch.tensor(-1.0, dtype=F64)):
            res = flow1d.flow1d_inverse(z, *params, a=a, max_iter=20)
            back = flow1d.flow1d_transform(res.x, *params, a=a)
            torch.testing.assert_close(back, z, rtol=0, atol=1e-9)


def test_too_few_iterations_raise_and_say_how_many_entries_failed() -> None:
    w, mu, tau = (torch.tensor(v, dtype=F64) for v in ([0.0, 0.0], [-1.0, 1.0], [0.0, 0.0]))
    z = torch.tensor([0.5, -0.25, 0.9], dtype=F64)
    with pytest.raises(
        RuntimeError,
        match=r"^flow1d_inverse did not converge for 3 of 3 entries in max_iter=1 steps; "
        r"first at index \(0,\)$",
    ):
        flow1d.flow1d_inverse(z, w, mu, tau, max_iter=1)


def test_no_preimage_message_of_the_fixed_flow_names_its_range() -> None:
    w, mu, tau = (torch.tensor(v, dtype=F64) for v in ([0.0], [0.0], [0.0]))
    z = torch.tensor([0.0, math.inf], dtype=F64)
    with pytest.raises(
        ValueError, match=r"the flow maps onto \(-inf, inf\); first at index \(1,\)"
    ):
        flow1d.flow1d_inverse(z, w, mu, tau, a=torch.tensor(0.0, dtype=F64), on_no_preimage="raise")


def test_float32_in_float32_out_for_every_function() -> None:
    w, mu, tau = (
        torch.tensor(v, dtype=torch.float32) for v in ([0.0, 0.1], [-1.0, 1.0], [0.0, 0.2])
    )
    x = torch.linspace(-2, 2, 5)
    z = flow1d.flow1d_transform(x, w, mu, tau)
    res = flow1d.flow1d_inverse(z, w, mu, tau)
    assert z.dtype == res.x.dtype == torch.float32
    torch.testing.assert_close(res.x, x, rtol=1e-5, atol=1e-5)
    for a in (None, torch.tensor(-1.0)):
        assert flow1d.flow1d_mass(w, a=a).dtype == torch.float32
        assert flow1d.flow1d_missing_mass(w, a=a).dtype == torch.float32


def test_numpy_in_numpy_out_with_a_tail_slope() -> None:
    w = np.zeros(2)
    for fn, value in ((flow1d.flow1d_mass, 1.0), (flow1d.flow1d_missing_mass, 0.0)):
        out = fn(w, a=0.5)
        assert isinstance(out, np.ndarray) and out.dtype == np.float64 and float(out) == value


def test_a_bracket_off_by_less_than_one_is_widened_too() -> None:
    root = torch.tensor([-0.5, 1.25], dtype=F64)  # h(lo) = 0.5 > 0, h(hi) = -0.25 < 0
    lo, hi = torch.zeros(2, dtype=F64), torch.ones(2, dtype=F64)
    _widen_bracket(_residual(root), lo, hi, torch.zeros(2, dtype=torch.bool))
    assert bool(((lo <= root) & (root <= hi)).all())


def test_mixed_kinds_and_dtypes_promote_like_torch() -> None:
    w64 = torch.tensor([0.0, 0.2], dtype=F64)
    mu32, tau32 = torch.tensor([-1.0, 1.0]), torch.tensor([0.0, 0.1])
    x = np.linspace(-1, 1, 3)  # NumPy x with tensor parameters: x takes their promoted dtype
    out = flow1d.flow1d_transform(x, w64, mu32, tau32)
    assert isinstance(out, torch.Tensor) and out.dtype == F64
    out32 = flow1d.flow1d_transform(x, w64.float(), mu32, tau32)
    assert out32.dtype == torch.float32
    ref = flow1d.flow1d_transform(torch.tensor(x), w64, mu32.double(), tau32.double())
    torch.testing.assert_close(out, ref, rtol=0, atol=0)
    ints = flow1d.flow1d_transform(
        np.array([0, 1]), np.array([0, 0]), np.array([-1, 1]), np.zeros(2)
    )
    assert ints.dtype == np.float64  # integer NumPy input is accepted, computed in float64
    with pytest.raises(TypeError, match=r"^x is required; got None$"):
        flow1d.flow1d_transform(None, w64, mu32, tau32)


def test_numpy_in_numpy_out_for_the_missing_mass_and_the_inverse_flags() -> None:
    w, mu, tau = np.zeros(2), np.array([-1.0, 1.0]), np.zeros(2)
    missing = flow1d.flow1d_missing_mass(w)
    assert isinstance(missing, np.ndarray) and float(missing) > 0
    res = flow1d.flow1d_inverse(np.array([0.0, 5.0]), w, mu, tau)
    assert isinstance(res.x, np.ndarray) and isinstance(res.no_preimage, np.ndarray)
    assert res.no_preimage.tolist() == [False, True]
