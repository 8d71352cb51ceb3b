"""The diagonal form and the series for eᵛ − 1 − v, each piece against an independent reference.

klmath writes s − 1 − log s (s a ratio of variances, or of squared diagonal Cholesky
entries) as eᵛ − 1 − v with v = log s, summed from its Taylor series for |v| < ¼
(12 terms in float64, 6 in float32). Here:

* eᵛ − 1 − v itself (the careful path's ``_expm1_minus_x``) against mpmath at 50
  digits on a grid through the series radius, in both dtypes, and its derivative
  eᵛ − 1, finite however large |v| is (the unused branch of ``where`` must never
  give 0·inf);
* the gradient of ``gaussian_kl_diag`` with respect to each argument alone, and
  broadcast, against mpmath's numerical derivative of the closed form;
* every argument broadcast on its own equals the materialized call, without any
  warning; errors name the argument and the full index; the caller's kind comes
  back on every path;
* the factor forms' diagonal terms: accurate at any scale of the factors, and
  finite per batch element when a ratio of diagonal entries underflows;
* float32 factors stay float32 whatever torch's default dtype.

These came out of the mutation run of ``klmath/gaussian.py`` (``docs/mutation.md``):
each states mathematics that a surviving mutant broke.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable

import mpmath
import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from klmath import gaussian as gaussian_module
from klmath import gaussian_kl, gaussian_kl_diag, gaussian_kl_tril

DIGITS = 50
NAMES = ("mean0", "var0", "mean1", "var1")


def _ulps(got: np.ndarray, ref: list[mpmath.mpf], dtype: torch.dtype) -> np.ndarray:
    """|got − ref| / |ref| in units of the dtype's ε, the difference taken at DIGITS digits."""
    eps = float(torch.finfo(dtype).eps)
    with mpmath.workdps(DIGITS):
        return np.array(
            [
                float(abs(mpmath.mpf(float(g)) - r) / abs(r)) / eps
                for g, r in zip(got, ref, strict=True)
            ]
        )


# --- eᵛ − 1 − v ------------------------------------------------------------------------------


def _series_grid(dtype: torch.dtype) -> torch.Tensor:
    """v through the series range, its radius ±¼ (and the 3 floats either side), and beyond."""
    radius = torch.tensor(gaussian_module._SERIES_RADIUS, dtype=dtype)
    edges = [radius]
    for direction in (0.0, 1.0):
        step = radius
        for _ in range(3):
            step = torch.nextafter(step, torch.tensor(direction, dtype=dtype))
            edges.append(step)
    edge = torch.stack(edges)
    tiny = torch.tensor([1e-15, 1e-8, 1e-3, 0.1], dtype=dtype)  # v²/2 normal in float32
    far = torch.tensor([0.3, 0.5, 1.0, 5.0, 30.0], dtype=dtype)
    inside = torch.linspace(-0.2499, 0.2499, 201, dtype=dtype)
    v = torch.cat([inside, edge, -edge, tiny, -tiny, far, -far])
    return v[v != 0]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
def test_expm1_minus_x_matches_mpmath_through_the_series_radius(dtype: torch.dtype) -> None:
    # Each v is taken exactly; the reference is e^v − 1 − v at 50 digits. Inside the
    # radius the series (12 terms float64, 6 float32) is good to about 1 ulp; beyond it
    # expm1(v) − v loses at most (|e^v − 1| + |v|)/(e^v − 1 − v) ≤ 16.4 ulp to cancellation.
    v = _series_grid(dtype)
    got = gaussian_module._expm1_minus_x(v).numpy()
    with mpmath.workdps(DIGITS):
        ref = [mpmath.expm1(mpmath.mpf(float(x))) - mpmath.mpf(float(x)) for x in v.tolist()]
    ulps = _ulps(got, ref, dtype)
    inside = (v.abs() < gaussian_module._SERIES_RADIUS).numpy()
    # Measured ≤ 1.0 ulp inside (both dtypes) and ≤ 3.5 beyond. The Horner loop started
    # from 1/12! instead of 1/13! costs 4 ulp near |v| = ¼ in float64 (20 in float32);
    # a skipped coefficient 17 (150).
    assert ulps[inside].max() <= 2.0, (
        float(ulps[inside].max()),
        float(v[inside][ulps[inside].argmax()]),
    )
    assert ulps[~inside].max() <= 16.4, float(ulps[~inside].max())


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
def test_expm1_minus_x_derivative_is_expm1_and_never_nan(dtype: torch.dtype) -> None:
    # d/dv (e^v − 1 − v) = e^v − 1. Where |v| ≥ ¼ the series branch of where() still
    # gets a gradient, 0 · (its derivative): it must be fed a small argument, or at
    # large |v| that product is 0 · inf = NaN.
    big = 80.0 if dtype == torch.float32 else 700.0
    values = [-1e30, -big, -30.0, -0.3, -0.25, -0.1, -1e-8, 1e-8, 0.1, 0.25, 0.3, 30.0, big]
    v = torch.tensor(values, dtype=dtype, requires_grad=True)
    (grad,) = torch.autograd.grad(gaussian_module._expm1_minus_x(v).sum(), v)
    with mpmath.workdps(DIGITS):
        ref = [mpmath.expm1(mpmath.mpf(float(x))) for x in v.tolist()]
    assert bool(torch.isfinite(grad).all()), grad
    assert _ulps(grad.numpy(), ref, dtype).max() <= 4 * max(abs(x) for x in values[1:])
    # Past the float range e^v − 1 − v is inf and so is its derivative: inf, not NaN.
    huge = torch.tensor([1e30], dtype=dtype, requires_grad=True)
    (grad,) = torch.autograd.grad(gaussian_module._expm1_minus_x(huge).sum(), huge)
    assert float(grad) == float("inf")


def _mp_diag_terms(v0: np.ndarray, v1: np.ndarray) -> list[mpmath.mpf]:
    """½ (s − 1 − log s), s = v0/v1, at 50 digits on the exact values."""
    with mpmath.workdps(DIGITS):
        out = []
        for a, b in zip(
            v0.astype(np.float64).tolist(), v1.astype(np.float64).tolist(), strict=True
        ):
            s = mpmath.mpf(a) / mpmath.mpf(b)
            out.append((s - 1 - mpmath.log(s)) / 2)
        return out


def test_float32_careful_diagonal_path_matches_mpmath() -> None:
    # The careful (reference) evaluation of the diagonal form in float32: log1p of the
    # ratio, then the 6-term series, for u = log(σ0²/σ1²) through and beyond the radius.
    # (Every other float32 diagonal test reaches the fast kernel, not this path.)
    u = np.concatenate([np.linspace(-0.2499, 0.2499, 101), np.linspace(-3, -0.3, 20)])
    u = np.concatenate([u, -u, [0.25, -0.25]])
    u = u[np.abs(u) > 1e-3]  # linspace leaves a 2.8e-17 where 0 was: exp(u) rounds to 1
    v0 = torch.tensor(np.exp(u), dtype=torch.float32)[:, None]
    v1 = torch.ones_like(v0)
    zero = torch.zeros_like(v0)
    got = gaussian_module._diag_kl_careful(zero, v0, zero, v1, tuple(v0.shape)).numpy()
    ulps = _ulps(got, _mp_diag_terms(v0[:, 0].numpy(), v1[:, 0].numpy()), torch.float32)
    inside = np.abs(u) < 0.249
    # Measured 1.4 ulp inside the radius and 2.8 beyond (at u = 0.3, expm1(u) − u).
    assert ulps[inside].max() <= 2.5, (
        float(ulps[inside].max()),
        float(u[inside][ulps[inside].argmax()]),
    )
    assert ulps[~inside].max() <= 16.4, float(ulps[~inside].max())


# --- gradients of gaussian_kl_diag -----------------------------------------------------------


def _mp_diag_kl(args: list[list[mpmath.mpf]]) -> mpmath.mpf:
    """Σᵢ ½(s − 1 − log s + Δ²/σ₁²) over rows of already-broadcast mpmath entries."""
    total = mpmath.mpf(0)
    for m0, v0, m1, v1 in zip(*args, strict=True):
        s = v0 / v1
        total += (s - 1 - mpmath.log(s) + (m1 - m0) ** 2 / v1) / 2
    return total


def _mp_gradient(arrays: list[np.ndarray], which: int) -> np.ndarray:
    """∂/∂(arrays[which]) of the summed KL, by mpmath.diff at 50 digits, entry by entry."""
    shape = np.broadcast_shapes(*(a.shape for a in arrays))
    # For each argument, which of its entries each element of the broadcast shape reads.
    reads = [np.broadcast_to(np.arange(a.size).reshape(a.shape), shape).ravel() for a in arrays]
    out = np.empty(arrays[which].size)
    with mpmath.workdps(DIGITS):
        values = [[mpmath.mpf(x) for x in a.ravel().tolist()] for a in arrays]
        for j in range(arrays[which].size):

            def kl(x: mpmath.mpf, j: int = j) -> mpmath.mpf:
                entries = [list(v) for v in values]
                entries[which][j] = x
                return _mp_diag_kl([[entries[k][i] for i in reads[k]] for k in range(4)])

            out[j] = float(mpmath.diff(kl, values[which][j]))
    return out.reshape(arrays[which].shape)


_GRAD_SHAPES = [
    pytest.param((2, 3), (2, 3), id="same-shape"),
    pytest.param((3,), (2, 3), id="alone-broadcast"),  # summed over the batch
    pytest.param((2, 3), (3,), id="alone-batched"),
    pytest.param((), (), id="0-d"),
]


@pytest.mark.parametrize("which", range(4), ids=NAMES)
@pytest.mark.parametrize(("own_shape", "other_shape"), _GRAD_SHAPES)
@pytest.mark.parametrize("near", [False, True], ids=["apart", "near-identical"])
def test_gradient_with_respect_to_each_argument_alone_matches_mpmath(
    which: int, own_shape: tuple[int, ...], other_shape: tuple[int, ...], near: bool
) -> None:
    # ∂KL/∂μ₀ = −Δ/σ₁², ∂KL/∂μ₁ = Δ/σ₁², ∂KL/∂σ₀² = (σ₀² − σ₁²)/(2σ₀²σ₁²),
    # ∂KL/∂σ₁² = (σ₁² − σ₀² − Δ²)/(2σ₁⁴), summed over broadcast axes: whichever single
    # argument requires grad (only it), and for nearly equal Gaussians too, where the
    # derivative is a difference of nearly equal variances.
    rng = np.random.default_rng(17 + which)
    shapes = [own_shape if k == which else other_shape for k in range(4)]
    if near:  # N(0.7, 1.3) for both, perturbed by 1e-6
        arrays = [
            0.7 + 1e-6 * rng.normal(size=shapes[0]),
            1.3 * (1 + 1e-6 * rng.uniform(-1, 1, size=shapes[1])),
            0.7 + 1e-6 * rng.normal(size=shapes[2]),
            1.3 * (1 + 1e-6 * rng.uniform(-1, 1, size=shapes[3])),
        ]
    else:
        arrays = [
            rng.normal(size=shapes[0]),
            rng.uniform(0.5, 2.0, size=shapes[1]),
            rng.normal(size=shapes[2]),
            rng.uniform(0.5, 2.0, size=shapes[3]),
        ]
    arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
    tensors = [torch.tensor(a, requires_grad=(k == which)) for k, a in enumerate(arrays)]
    kl = gaussian_kl_diag(*tensors)
    assert kl.requires_grad
    (grad,) = torch.autograd.grad(kl.sum(), tensors[which])
    ref = _mp_gradient(arrays, which)
    assert grad.shape == tensors[which].shape
    scale = np.abs(ref).max() if near else 1.0
    np.testing.assert_allclose(grad.numpy(), ref, rtol=1e-9, atol=1e-12 * scale)


# --- broadcasting, errors, kinds -------------------------------------------------------------


def _alone_cases() -> list[tuple[int, tuple[int, ...], tuple[int, ...]]]:
    """(argument, its shape, the others' shape): one argument broadcast on its own."""
    own = [(), (1,), (3,), (1, 3), (2, 1), (2, 3), (4, 2, 3)]
    cases = []
    for which, mine, others in itertools.product(range(4), own, [(3,), (2, 3)]):
        try:
            np.broadcast_shapes(mine, others)
        except ValueError:
            continue
        cases.append((which, mine, others))
    return cases


@pytest.mark.parametrize("grad", [False, True], ids=["no-grad", "autograd"])
def test_each_argument_broadcast_alone_equals_the_materialized_call(grad: bool) -> None:
    # Broadcasting is the materialized call, for any single argument smaller or larger
    # than the other three (number, 1-axes, extra batch axes), on the no-grad kernel and
    # the autograd Function alike, and it raises no warning (torch warns when an out=
    # buffer of the wrong shape is resized).
    rng = np.random.default_rng(5)
    for which, mine, others in _alone_cases():
        shapes = [mine if k == which else others for k in range(4)]
        arrays = [
            rng.normal(size=s) if k % 2 == 0 else rng.uniform(0.5, 2.0, size=s)
            for k, s in enumerate(shapes)
        ]
        full = np.broadcast_shapes(*shapes)
        expected = gaussian_kl_diag(*[np.broadcast_to(a, full).copy() for a in arrays])
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            got = gaussian_kl_diag(*[torch.tensor(a, requires_grad=grad) for a in arrays])
            assert got.requires_grad == grad
            got_numpy = gaussian_kl_diag(*arrays)
        label = f"{NAMES[which]} {mine} with the others {others}"
        assert got.shape == expected.shape, label
        np.testing.assert_allclose(got.detach().numpy(), expected, rtol=1e-14, err_msg=label)
        np.testing.assert_array_equal(got_numpy, got.detach().numpy(), err_msg=label)


def _batch_with(name: str, value: float) -> list[np.ndarray]:
    """Four (3, 2) arguments with ``value`` at index (1, 0) of argument ``name``."""
    args = [np.zeros((3, 2)), np.ones((3, 2)), np.zeros((3, 2)), np.ones((3, 2))]
    args[NAMES.index(name)][1, 0] = value
    return args


@pytest.mark.parametrize("value", [np.nan, np.inf], ids=["nan", "inf"])
@pytest.mark.parametrize("name", NAMES)
def test_diag_non_finite_input_is_named_with_its_full_index(name: str, value: float) -> None:
    # The diagonal form is elementwise: the index names the coordinate too.
    match = rf"^{name} contains NaN or inf at batch index \(1, 0\)$"
    with pytest.raises(ValueError, match=match):
        gaussian_kl_diag(*_batch_with(name, value))


@pytest.mark.parametrize("name", ["mean0", "mean1"])
@pytest.mark.parametrize("form", [gaussian_kl, gaussian_kl_tril], ids=["full", "tril"])
def test_matrix_forms_name_a_non_finite_mean_by_its_batch_index(
    form: Callable[..., np.ndarray], name: str
) -> None:
    # A mean is one event: the index is the batch element's, without the coordinate.
    eye = np.broadcast_to(np.eye(2), (3, 2, 2)).copy()
    means = [np.zeros((3, 2)), np.zeros((3, 2))]
    means[name == "mean1"][1, 0] = np.nan
    with pytest.raises(ValueError, match=rf"^{name} contains NaN or inf at batch index \(1,\)$"):
        form(means[0], eye, means[1], eye)


def _careful_path_calls() -> list[tuple[str, list[np.ndarray]]]:
    big = np.array([1e300, 1.0])
    return [
        ("empty batch", [np.zeros((0, 3)), np.ones((0, 3)), np.zeros(3), np.ones(3)]),
        ("overflow to inf", [np.zeros(2), big, np.zeros(2), 1 / big]),
    ]


@pytest.mark.parametrize(("label", "arrays"), _careful_path_calls(), ids=lambda x: x)
def test_inputs_that_take_the_careful_path_keep_the_callers_kind(
    label: str, arrays: list[np.ndarray]
) -> None:
    # NumPy in, NumPy out; torch in, a tensor out (differentiable when asked), on the
    # careful path too: an empty batch, or a finite input whose KL overflows.
    with mpmath.workdps(DIGITS):
        expected = (
            [
                float(
                    _mp_diag_kl(
                        [[mpmath.mpf(float(x)) for x in a] for a in np.broadcast_arrays(*arrays)]
                    )
                )
            ]
            if arrays[0].size
            else []
        )
    out = gaussian_kl_diag(*arrays)
    assert isinstance(out, np.ndarray), label
    np.testing.assert_array_equal(np.atleast_1d(out), expected)
    tensors = [torch.tensor(a, requires_grad=True) for a in arrays]
    out_t = gaussian_kl_diag(*tensors)
    assert isinstance(out_t, torch.Tensor) and out_t.requires_grad, label
    np.testing.assert_array_equal(np.atleast_1d(out_t.detach().numpy()), expected)


# --- the factor forms' diagonal terms --------------------------------------------------------


def _mp_factor_kl(diag0: np.ndarray, diag1: np.ndarray) -> mpmath.mpf:
    """KL for diagonal factors and equal means: ½ Σ (s − 1 − log s), s = (L₀ᵢᵢ/L₁ᵢᵢ)², 50 digits."""
    with mpmath.workdps(DIGITS):
        total = mpmath.mpf(0)
        for a, b in zip(diag0.tolist(), diag1.tolist(), strict=True):
            s = (mpmath.mpf(a) / mpmath.mpf(b)) ** 2
            total += (s - 1 - mpmath.log(s)) / 2
        return total


def _tril_calls(diag0: np.ndarray, diag1: np.ndarray) -> dict[str, np.ndarray]:
    """gaussian_kl_tril (no autograd) on diag(diag0) ‖ diag(diag1), shape (B, d) each.

    d ≤ 3 runs the unrolled formulas; for d > 3 the second factor is passed once,
    unbatched, so the batch broadcasts and the in-place whole-batch path runs.
    """
    t0 = np.einsum("bi,ij->bij", diag0, np.eye(diag0.shape[-1]))
    t1 = np.einsum("bi,ij->bij", diag1, np.eye(diag1.shape[-1]))
    zeros = np.zeros(diag0.shape)
    calls = {"batched": gaussian_kl_tril(zeros, t0, zeros, t1)}
    if np.all(diag1 == diag1[0]):
        calls["broadcast"] = gaussian_kl_tril(zeros, t0, zeros[0], t1[0])
    return calls


@pytest.mark.parametrize("d", [2, 5])
@pytest.mark.parametrize("scale", [1e-150, 1e-20, 1.0, 1e20, 1e150], ids=lambda s: f"{s:g}")
def test_factor_diagonal_terms_are_accurate_at_any_scale(d: int, scale: float) -> None:
    # Σᵢ (eᵛ − 1 − v), v = log(L₀ᵢᵢ/L₁ᵢᵢ), depends on the ratios only: its accuracy (a few
    # ulps of the KL, v computed as ±log1p(|a − b| / min(a, b))) must not depend on the
    # magnitude of the factors. Measured ≤ 1.4 ulp; computing v as log a − log b instead
    # loses ~|log a|·ε absolutely: tens of ulps at 1e±20, ~1000 at 1e±150.
    ratios = np.array([0.3, 0.55, 0.9, 1 - 1e-6, 1 + 1e-6, 1.1, 1.7, 3.1])
    diag1 = np.full((len(ratios), d), scale) * np.linspace(1, 1.5, d)
    diag0 = diag1 * ratios[:, None]
    for path, got in _tril_calls(diag0, diag1).items():
        ref = [_mp_factor_kl(r0, r1) for r0, r1 in zip(diag0, diag1, strict=True)]
        ulps = _ulps(got, ref, torch.float64)
        assert ulps.max() <= 8, (path, float(ulps.max()), float(ratios[int(ulps.argmax())]))


@pytest.mark.parametrize("d", [2, 5])
def test_an_underflowing_diagonal_ratio_gives_a_finite_kl_per_batch_element(d: int) -> None:
    # L₀ᵢᵢ/L₁ᵢᵢ = 1e-400 is below the float range, but s − 1 − log s ≈ 1842 is not: the KL
    # of that batch element is finite, and the other elements keep their own values.
    diag1 = np.full((3, d), 1e200)
    diag0 = diag1 * np.array([[0.0], [0.5], [1.0]])
    diag0[0] = 1e-200  # the ratio 1e-400
    ref = [float(_mp_factor_kl(r0, r1)) for r0, r1 in zip(diag0, diag1, strict=True)]
    assert np.isfinite(ref).all()
    for path, got in _tril_calls(diag0, diag1).items():
        np.testing.assert_allclose(got, ref, rtol=1e-14, err_msg=path)


def test_float32_factors_give_float32_whatever_the_default_dtype() -> None:
    # Negating the columns under negative diagonal entries (the same Gaussian, L Lᵀ
    # unchanged) must keep the factors' dtype when torch's default dtype is float64.
    rng = np.random.default_rng(3)
    base = np.tril(rng.normal(size=(2, 5, 5)), -1) + np.diag(rng.uniform(1, 2, 5))
    flipped = base.copy()
    flipped[0, :, 1] *= -1  # column 1 of the first factor: a negative diagonal entry
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        for grad in (False, True):
            results = []
            for factors in (base, flipped):
                t0 = torch.tensor(factors, dtype=torch.float32, requires_grad=grad)
                kl = gaussian_kl_tril(
                    torch.zeros(2, 5, dtype=torch.float32),
                    t0,
                    torch.zeros(5, dtype=torch.float32),
                    torch.eye(5, dtype=torch.float32),
                )
                assert kl.dtype == torch.float32, (grad, kl.dtype)
                results.append(kl.detach())
            torch.testing.assert_close(results[1], results[0], rtol=1e-6, atol=0)
    finally:
        torch.set_default_dtype(previous)


# --- log(a/b) ------------------------------------------------------------------------------

# Decimal exponents of the magnitudes drawn: 1e±300 in float64, 1e±37 in float32 (normal).
_LOG_RATIO_EXPONENTS = {torch.float64: 300, torch.float32: 37}
# |log(a/b) computed − exact| / |exact| in ε of the dtype. One rounding of the quotient
# q = a/b moves log q by ≤ ε/2 absolutely, ≤ 1.24 ε relative where the quotient is used
# (|log q| ≥ log 1.5); log (or log1p near q = 1) adds its own ~1 ulp: ≤ 2.5 (measured
# ≤ 1.05 on 9000 pairs). log a − log b instead errs by ~ε·|log a| absolutely: measured
# up to 1100 ε (float64, 1e±300) and 127 ε (float32, 1e±37) for ratios near 2.
_LOG_RATIO_ULPS = 2.5


@st.composite
def _positive_pairs(draw: st.DrawFn, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """Positive a ≠ b of the dtype, b of any magnitude 10^±E (E = 300 float64, 37 float32),
    a/b near 1 (½ to 2), moderate (1e±5), or a of any magnitude too (then a/b may over- or
    underflow)."""
    top = _LOG_RATIO_EXPONENTS[dtype]

    def magnitude(low: int, high: int) -> st.SearchStrategy[float]:
        mantissa = st.floats(1.0, 10.0, exclude_max=True)
        return st.builds(lambda m, e: m * 10.0**e, mantissa, st.integers(low, high))

    near = st.builds(lambda b, r: (b * r, b), magnitude(-top, top - 1), st.floats(0.5, 2.0))
    moderate = st.builds(lambda b, r: (b * r, b), magnitude(-top, top - 1), magnitude(-5, 4))
    independent = st.tuples(magnitude(-top, top - 1), magnitude(-top, top - 1))
    pairs = draw(st.lists(st.one_of(near, moderate, independent), min_size=1, max_size=20))
    a = torch.tensor([p[0] for p in pairs], dtype=dtype)
    b = torch.tensor([p[1] for p in pairs], dtype=dtype)
    keep = (a > 0) & torch.isfinite(a) & (b > 0) & torch.isfinite(b) & (a != b)
    assume(bool(keep.any()))
    return a[keep], b[keep]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
def test_log_ratio_matches_mpmath_at_any_magnitude(dtype: torch.dtype) -> None:
    # The careful path's v = log(a/b) for the given floats a, b against mpmath at 50 digits:
    # accurate relative to itself whatever the magnitude of a and b, not only their ratio.
    @settings(max_examples=60)
    @given(_positive_pairs(dtype))
    def check(pair: tuple[torch.Tensor, torch.Tensor]) -> None:
        a, b = pair
        got = gaussian_module._log_ratio(a, b).numpy()
        with mpmath.workdps(DIGITS):
            ref = [
                mpmath.log(mpmath.mpf(float(x)) / mpmath.mpf(float(y)))
                for x, y in zip(a, b, strict=True)
            ]
        ulps = _ulps(got, ref, dtype)
        worst = int(ulps.argmax())
        assert ulps.max() <= _LOG_RATIO_ULPS, (float(ulps.max()), float(a[worst]), float(b[worst]))

    check()
