"""gaussian_kl and gaussian_kl_tril on inputs that pick each path, against independent references.

* Gradients with respect to each argument alone (the others constants) equal finite
  differences (``torch.autograd.gradcheck``): the closed-form backward of the
  covariance form must produce each gradient that is asked for, and only the
  arguments that need one may skip it.
* Batch shapes: any broadcast of the four batch shapes, 2-D batches whose sizes
  differ, batch shapes that look like a matrix's own shape, and empty batches (any one
  argument empty, or all) give exactly the per-element results, in the broadcast
  shape, on the no-grad paths and on the autograd path.
* Scale: KL is invariant under x ↦ cx applied to both Gaussians. Covariances far
  from 1 (float32 near its smallest normal number, where LAPACK refuses to factor)
  are rescaled by an exact power of two first; the result equals the KL of the
  given (rounded) inputs at 50 digits, and the rescaling itself is checked to be
  exact and to bring the largest variance of the second Gaussian near 1.
* Types: NumPy in gives NumPy out (also when the careful path gives +inf), integer
  and mixed-precision tensors are promoted before anything is computed.
* The in-place paths never write to the caller's arrays.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st
from strategies import spd_matrices

import klmath.gaussian as G
from klmath import gaussian_kl, gaussian_kl_tril
from klmath.proofs.gaussian import gaussian_statement
from klmath.proofs.library import evaluate_gaussian_statement

STATEMENT = gaussian_statement().rhs
F64 = torch.float64


def mp_kl(m0, s0, m1, s1) -> float:
    """The proved closed form at 50 digits on the exact input values (float32 or float64)."""
    as64 = [np.asarray(torch.as_tensor(x).double()) for x in (m0, s0, m1, s1)]
    return float(evaluate_gaussian_statement(STATEMENT, *as64))


def mp_kl_factors(m0, t0, m1, t1) -> float:
    """As :func:`mp_kl` for Cholesky factors: Σ = LLᵀ formed exactly at 50 digits."""
    import mpmath

    with mpmath.workdps(50):
        l0, l1 = (mpmath.matrix(np.asarray(t, dtype=np.float64).tolist()) for t in (t0, t1))
        covs = l0 * l0.T, l1 * l1.T
    return float(evaluate_gaussian_statement(STATEMENT, m0, covs[0], m1, covs[1]))


def _spd(rng: np.random.Generator, d: int, batch: tuple[int, ...] = ()) -> np.ndarray:
    a = rng.standard_normal((*batch, d, d))
    return np.eye(d) + a @ np.swapaxes(a, -1, -2) / d


def _pair(d: int, batches: tuple[tuple[int, ...], ...], seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    b0, a0, b1, a1 = batches
    return [rng.standard_normal((*b0, d)), _spd(rng, d, a0), rng.standard_normal((*b1, d)),
            _spd(rng, d, a1)]  # fmt: skip


def _looped(fn, args: list[np.ndarray], batch: tuple[int, ...]) -> np.ndarray:
    """fn on each batch element separately (unbatched calls)."""
    out = np.empty(batch)
    cores = (1, 2, 1, 2)
    for idx in np.ndindex(*batch):
        one = [
            np.broadcast_to(a, (*batch, *a.shape[a.ndim - c :]))[idx]
            for a, c in zip(args, cores, strict=True)
        ]
        out[idx] = fn(*one)
    return out


def _tril(args: list[np.ndarray]) -> list[np.ndarray]:
    return [args[0], np.linalg.cholesky(args[1]), args[2], np.linalg.cholesky(args[3])]


# --- gradients, one argument at a time --------------------------------------------------


def _symmetric(a: torch.Tensor) -> torch.Tensor:
    # gradcheck perturbs single entries; the covariance is the symmetric part of the
    # variable, so the perturbations stay symmetric (the derivative along them is exact).
    return 0.5 * (a + a.mT)


@pytest.mark.parametrize(
    ("d", "batches"),
    [
        pytest.param(2, ((2,), (), (), ()), id="unrolled-broadcast"),
        pytest.param(4, ((1,), (1,), (1,), (1,)), id="lapack-equal-batch"),
    ],
)
@pytest.mark.parametrize("which", [0, 1, 2, 3])
def test_gradient_with_respect_to_each_argument_alone(
    d: int, batches: tuple[tuple[int, ...], ...], which: int
) -> None:
    # With broadcasting, the gradient of an unbatched argument is summed over the batch.
    m0, s0, m1, s1 = (torch.from_numpy(a) for a in _pair(d, batches, seed=d))
    args = [m0, s0, m1, s1]
    args[which] = args[which].clone().requires_grad_()

    def full(x: torch.Tensor) -> torch.Tensor:
        a = list(args)
        a[which] = _symmetric(x) if which in (1, 3) else x
        return gaussian_kl(*a)

    assert torch.autograd.gradcheck(full, (args[which],))

    t0, t1 = torch.linalg.cholesky(s0), torch.linalg.cholesky(s1)
    targs = [m0, t0, m1, t1]
    targs[which] = targs[which].clone().requires_grad_()

    def tril(x: torch.Tensor) -> torch.Tensor:
        a = list(targs)
        a[which] = torch.tril(x) if which in (1, 3) else x
        return gaussian_kl_tril(*a)

    assert torch.autograd.gradcheck(tril, (targs[which],))


# --- batch shapes -----------------------------------------------------------------------

# Batch shapes of (mean0, matrix0, mean1, matrix1): 2-D batches whose sizes differ, each
# broadcasting against unbatched arguments in another position, and equal 2-D batches.
BATCHES = [
    pytest.param(((), (2, 3), (), ()), id="matrix0-2d"),
    pytest.param(((2, 3), (), (2, 3), ()), id="means-2d"),
    pytest.param(((), (), (), (2, 3)), id="matrix1-2d"),
    pytest.param(((2, 3), (2, 3), (2, 3), (2, 3)), id="equal-2d"),
    pytest.param(((3,), (2, 1), (), (3,)), id="mixed"),
    pytest.param(((2, 3), (3,), (), (1, 1)), id="matrix1-ones"),
    # A batch whose shape is that of an unbatched matrix (at d = 4): it must not be
    # taken for the matrix's own batch.
    pytest.param(((4, 4), (), (4, 4), (4, 4)), id="matrix0-shared-by-4x4"),
    pytest.param(((4, 4), (4, 4), (4, 4), ()), id="matrix1-shared-by-4x4"),
    pytest.param(((4, 4), (4, 4), (4, 4), (4,)), id="matrix1-4-against-4x4"),
    # One argument batched (3, 1) against (3,): the broadcast batch is (3, 3), not (3,).
    pytest.param(((3, 1), (3,), (3,), (3,)), id="mean0-3x1"),
    pytest.param(((3,), (3, 1), (3,), (3,)), id="matrix0-3x1"),
    pytest.param(((3,), (3,), (3, 1), (3,)), id="mean1-3x1"),
    pytest.param(((3,), (3,), (3,), (3, 1)), id="matrix1-3x1"),
    # The second matrix with leading ones but a batch of 3: one matrix per pair.
    pytest.param(((3,), (3,), (3,), (1, 1, 3)), id="matrix1-leading-ones"),
]
# d = 64 (split solve) on two of them.
BATCHES_64 = [BATCHES[3], BATCHES[4]]


@pytest.mark.parametrize("d", [2, 4])
@pytest.mark.parametrize("batches", BATCHES)
def test_every_batch_layout_gives_the_per_element_kl(
    batches: tuple[tuple[int, ...], ...], d: int
) -> None:
    _check_layout(batches, d)


@pytest.mark.parametrize("batches", BATCHES_64)
def test_every_batch_layout_gives_the_per_element_kl_at_d_64(
    batches: tuple[tuple[int, ...], ...],
) -> None:
    _check_layout(batches, 64)


def _check_layout(batches: tuple[tuple[int, ...], ...], d: int) -> None:
    args = _pair(d, batches, seed=d)
    batch = np.broadcast_shapes(batches[0], batches[1][:], batches[2], batches[3])
    for fn, inputs in ((gaussian_kl, args), (gaussian_kl_tril, _tril(args))):
        looped = _looped(fn, inputs, batch)
        fast = fn(*inputs)
        assert fast.shape == batch
        np.testing.assert_allclose(fast, looped, rtol=1e-10, atol=0)
        # The autograd path (careful solve for the factors, the autograd Function for
        # covariances) on the same layout.
        tensors = [torch.from_numpy(a).requires_grad_() for a in inputs]
        np.testing.assert_allclose(fn(*tensors).detach().numpy(), looped, rtol=1e-10, atol=0)


@pytest.mark.parametrize("d", [1, 2, 3, 4, 64])
@pytest.mark.parametrize(
    "batches",
    [
        pytest.param(((0,), (0,), (0,), (0,)), id="equal"),
        pytest.param(((0, 3), (0, 3), (0, 3), (0, 3)), id="equal-2d"),
        pytest.param(((0,), (), (0,), ()), id="means-only"),
        pytest.param(((), (0,), (), ()), id="cov0-only"),
        pytest.param(((0,), (), (), ()), id="mean0-only"),
        pytest.param(((), (), (0,), ()), id="mean1-only"),
        pytest.param(((), (), (), (0,)), id="cov1-only"),
    ],
)
def test_an_empty_batch_gives_an_empty_result(batches: tuple[tuple[int, ...], ...], d: int) -> None:
    # A sum over no pairs: the result has the broadcast batch shape and no entries, on
    # every path (NumPy, torch without and with autograd), and its gradients are empty too.
    args = _pair(d, batches)
    batch = np.broadcast_shapes(*batches)
    for fn, inputs in ((gaussian_kl, args), (gaussian_kl_tril, _tril(args))):
        got = fn(*inputs)
        assert isinstance(got, np.ndarray)
        assert got.shape == batch
        tensors = [torch.from_numpy(a) for a in inputs]
        assert fn(*tensors).shape == batch
        leaves = [t.clone().requires_grad_() for t in tensors]
        kl = fn(*leaves)
        assert kl.shape == batch
        grads = torch.autograd.grad(kl.sum(), leaves, allow_unused=True)
        for leaf, grad in zip(leaves, grads, strict=True):
            assert grad is None or grad.shape == leaf.shape


# --- scale ------------------------------------------------------------------------------


@pytest.mark.parametrize("d", [2, 4, 5])
@pytest.mark.parametrize("log2_scale", [-130, 120, 125])
@pytest.mark.parametrize("batch", [(), (3,)])
def test_float32_covariances_at_the_ends_of_the_range(
    d: int, log2_scale: int, batch: tuple[int, ...]
) -> None:
    # Σ of order 2^±130 in float32 (subnormal below 2^-126, where LAPACK's potrf refuses
    # a positive definite matrix): KL(N(cμ₀, c²Σ₀) ‖ N(cμ₁, c²Σ₁)) = KL(N(μ₀, Σ₀) ‖ N(μ₁, Σ₁)),
    # compared at 50 digits on the float32 values actually given.
    c = 2.0 ** (log2_scale / 2)
    m0, s0, m1, s1 = _pair(d, (batch,) * 4, seed=d)
    args = [
        torch.tensor(x * f, dtype=torch.float32)
        for x, f in ((m0, c), (s0, c * c), (m1, c), (s1, c * c))
    ]
    got = gaussian_kl(*args)
    assert got.dtype == torch.float32
    assert got.shape == batch
    flat = [a.reshape(-1, *a.shape[len(batch) :]) for a in args]
    exact = np.array([mp_kl(*[a[i] for a in flat]) for i in range(flat[0].shape[0])])
    # Subnormal inputs keep fewer digits, but the KL of those inputs is accurate to
    # float32 rounding of the (rescaled) factorization: ~d·ε₃₂·κ relative.
    np.testing.assert_allclose(got.reshape(-1).numpy(), exact, rtol=2e-4, atol=0)


# (dtype, log₂ of the covariances' scale, rtol): subnormal covariances (float64 2⁻¹⁰⁷⁰ keeps
# ~4 bits of each entry, float32 2⁻¹³⁰ ~19) and large ones; the rtol is the rounding of the
# (rescaled) factorization, ~d·ε·κ, of the inputs as given.
SCALES = [
    pytest.param(torch.float64, -1070, 1e-9, id="f64-2^-1070"),
    pytest.param(torch.float64, -1030, 1e-9, id="f64-2^-1030"),
    pytest.param(torch.float64, 1020, 1e-9, id="f64-2^1020"),
    pytest.param(torch.float32, -130, 2e-4, id="f32-2^-130"),
    pytest.param(torch.float32, 120, 2e-4, id="f32-2^120"),
]
LAYOUTS = [
    pytest.param(((3,), (3,), (3,), (3,)), id="equal"),
    pytest.param(((3,), (), (3,), ()), id="broadcast"),
]


@pytest.mark.parametrize(("dtype", "log2_scale", "rtol"), SCALES)
@pytest.mark.parametrize("d", [2, 4, 5])
@pytest.mark.parametrize("batches", LAYOUTS)
@pytest.mark.parametrize("grad", [False, True], ids=["no-grad", "grad"])
def test_every_path_gives_the_kl_of_the_given_inputs_at_the_ends_of_the_range(
    dtype: torch.dtype,
    log2_scale: int,
    rtol: float,
    d: int,
    batches: tuple[tuple[int, ...], ...],
    grad: bool,
) -> None:
    # KL(N(cμ₀, c²Σ₀) ‖ N(cμ₁, c²Σ₁)) = KL(N(μ₀, Σ₀) ‖ N(μ₁, Σ₁)): at any scale the fast
    # paths (unrolled, chunked LAPACK, whole-batch broadcast, the autograd Function's
    # forward) give the KL of the (rounded) inputs as given, at 50 digits.
    c = 2.0 ** (log2_scale / 2)
    m0, s0, m1, s1 = _pair(d, batches, seed=d)
    args = [
        torch.tensor(x * f, dtype=dtype, requires_grad=grad)
        for x, f in ((m0, c), (s0, c * c), (m1, c), (s1, c * c))
    ]
    got = gaussian_kl(*args).detach()
    assert got.dtype == dtype
    assert got.shape == (3,)
    exact = [
        mp_kl(
            *[
                a.detach()[i] if a.ndim > nd else a.detach()
                for a, nd in zip(args, (1, 2, 1, 2), strict=True)
            ]
        )
        for i in range(3)
    ]
    np.testing.assert_allclose(got.numpy(), exact, rtol=rtol, atol=0)


@st.composite
def _scaled_pairs(draw: st.DrawFn) -> tuple[list[torch.Tensor], int]:
    dtype = draw(st.sampled_from([torch.float64, torch.float32]))
    limit = G._RESCALE_EXPONENT[dtype.itemsize]
    d = draw(st.integers(1, 5))
    batch = draw(st.sampled_from([(), (2,), (2, 3)]))
    # log₂ of the largest variance: well inside [−limit, limit), or beyond it.
    span = 120 if dtype == torch.float64 else 30
    log2_top = draw(
        st.one_of(
            st.integers(-limit, limit - 1),
            st.integers(-limit - 1 - span, -limit - 2),
            st.integers(limit + 1, limit + span),
        )
    )
    s0 = draw(spd_matrices(d, batch_shape=batch, max_condition=1e2, min_scale=1, max_scale=1))
    s1 = draw(spd_matrices(d, batch_shape=batch, max_condition=1e2, min_scale=1, max_scale=1))
    # Batch elements of Σ₁ at different scales 2^(−spread·i), so the largest variance
    # may sit in any element and at any position of the diagonal.
    spread = draw(st.integers(0, 3))
    n = math.prod(batch)
    s1 = s1 * (2.0 ** (-spread * np.arange(n).reshape(batch)))[..., None, None]
    rng = np.random.default_rng(d)
    m0, m1 = rng.standard_normal((*batch, d)), rng.standard_normal((*batch, d))
    top = float(np.abs(np.diagonal(s1, axis1=-2, axis2=-1)).max())
    k = round((log2_top - math.log2(top)) / 2)  # x ↦ 2ᵏx: exact in both dtypes here
    scaled = (m0 * 2.0**k, s0 * 4.0**k, m1 * 2.0**k, s1 * 4.0**k)
    return [torch.tensor(x, dtype=dtype) for x in scaled], limit


@settings(max_examples=60, deadline=None)
@given(_scaled_pairs())
@example(
    (
        [
            torch.zeros(2, 4, dtype=F64),
            torch.eye(4, dtype=F64).expand(2, 4, 4) * 2.0**-600,
            torch.ones(2, 4, dtype=F64),
            torch.stack([torch.eye(4, dtype=F64), torch.diag(torch.tensor([1, 1, 2.0**20, 1]))])
            .to(F64)
            .mul(2.0**-600),
        ],
        500,
    )
)
def test_rescaling_is_an_exact_power_of_two_that_brings_the_variances_near_one(
    case: tuple[list[torch.Tensor], int],
) -> None:
    # x ↦ cx maps N(μ, Σ) to N(cμ, c²Σ) and leaves the KL unchanged. _rescaled must use
    # c = 2ᵏ (so every product is exact), scale all four consistently, and, when the
    # largest variance of Σ₁ (over the batch) is outside [2^−limit, 2^limit] (closed),
    # bring it into [¼, 1) (c² = 4ʲ, so its binary exponent can only be made 0 or −1);
    # inside that range it changes nothing.
    (m0, s0, m1, s1), limit = case
    out = G._rescaled(m0, s0, m1, s1)
    top = float(s1.diagonal(dim1=-2, dim2=-1).abs().max())
    new_top = float(out[3].diagonal(dim1=-2, dim2=-1).abs().max())
    c = new_top / top if top else 1.0
    c = math.sqrt(c)
    mantissa, _ = math.frexp(c)
    assert mantissa == 0.5, f"c = {c} is not a power of two"
    for x, y, power in zip((m0, s0, m1, s1), out, (1, 2, 1, 2), strict=True):
        assert y.dtype == x.dtype
        assert torch.equal(y, x * c**power), "not the same exact scaling of all four"
    if 2.0**-limit <= top <= 2.0**limit:
        assert c == 1.0
    else:
        assert 0.25 <= new_top < 1.0


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("end", [-1, 1], ids=["low", "high"])
def test_the_rescale_range_is_the_closed_interval_from_2_to_minus_k_to_2_to_k(
    dtype: torch.dtype, end: int
) -> None:
    # The documented range [2⁻ᵏ, 2ᵏ] (k = 60 float32, 500 float64) of the largest variance of
    # Σ₁, at both of its ends exactly: 2^±k itself is left alone, the next float outside is
    # rescaled into [¼, 1).
    limit = G._RESCALE_EXPONENT[dtype.itemsize]
    edge = torch.tensor(2.0 ** (end * limit), dtype=dtype)
    outside = torch.nextafter(edge, torch.tensor(math.inf if end > 0 else 0.0, dtype=dtype))
    for top, rescaled in ((edge, False), (outside, True)):
        s = torch.diag(torch.stack([top, top / 2]))
        m = torch.zeros(2, dtype=dtype)
        new_top = float(G._rescaled(m, s, m, s)[3].diagonal().max())
        if rescaled:
            assert 0.25 <= new_top < 1.0, (float(top), new_top)
        else:
            assert new_top == float(top), (float(top), new_top)


@pytest.mark.parametrize("d", [2, 4])
def test_a_kl_beyond_the_float_range_is_inf_in_the_callers_kind(d: int) -> None:
    # ½ δᵀΣ₁⁻¹δ with |δ| = 1e200: the careful path gives +inf, returned as a NumPy value
    # for NumPy input (and as a tensor for tensors).
    m0, m1 = np.zeros((3, d)), np.full((3, d), 1e200)
    s = np.broadcast_to(np.eye(d), (3, d, d))
    got = gaussian_kl(m0, s, m1, s)
    assert isinstance(got, np.ndarray)
    assert got.shape == (3,)
    assert np.isposinf(got).all()
    tril = gaussian_kl_tril(m0, s, m1, s)
    assert isinstance(tril, np.ndarray)
    assert np.isposinf(tril).all()


# --- dtypes -----------------------------------------------------------------------------


@pytest.mark.parametrize("d", [2, 4])
@pytest.mark.parametrize("odd", [0, 1, 2, 3])
@pytest.mark.parametrize("odd_is", ["float32", "float64"])
def test_float32_with_float64_promotes_to_float64(d: int, odd: int, odd_is: str) -> None:
    # One argument of one precision among three of the other; the float32 ones hold
    # exactly representable values. The result must be the float64 KL of the values
    # given (not a float32 computation of any part of it).
    single = [(i == odd) == (odd_is == "float32") for i in range(4)]
    args = _pair(d, ((3,),) * 4, seed=d)
    for fn, inputs, reference in (
        (gaussian_kl, args, mp_kl),
        (gaussian_kl_tril, _tril(args), mp_kl_factors),
    ):
        exact = [a.astype(np.float32).astype(np.float64) if f else a for a, f in zip(
            inputs, single, strict=True)]  # fmt: skip
        expected = np.array([reference(*[a[i] for a in exact]) for i in range(3)])
        tensors = [torch.from_numpy(a) for a in exact]
        tensors = [t.float() if f else t for t, f in zip(tensors, single, strict=True)]
        got = fn(*tensors)
        assert got.dtype == torch.float64
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12, atol=0)


@pytest.mark.parametrize("d", [2, 4])
def test_integer_tensors_are_promoted_to_the_default_dtype(d: int) -> None:
    # Integer covariances (2I against I, means 0 and 1): KL = d/2 (2 − 1 − log 2) + d/2.
    m0, m1 = torch.zeros(3, d, dtype=torch.int64), torch.ones(3, d, dtype=torch.int64)
    s0 = 2 * torch.eye(d, dtype=torch.int64).expand(3, d, d)
    s1 = torch.eye(d, dtype=torch.int64).expand(3, d, d)
    expected = d / 2 * (2 - 1 - math.log(2)) + d / 2
    got = gaussian_kl(m0, s0, m1, s1)
    assert got.dtype == torch.get_default_dtype()
    np.testing.assert_allclose(got.double().numpy(), expected, rtol=1e-6)
    got = gaussian_kl_tril(m0, s1, m1, s1)
    assert got.dtype == torch.get_default_dtype()
    np.testing.assert_allclose(got.double().numpy(), d / 2, rtol=1e-6)


# --- the caller's arrays ----------------------------------------------------------------


def _column_major(a: np.ndarray) -> np.ndarray:
    """The same matrices stored column by column (what LAPACK and torch's Cholesky use)."""
    return np.swapaxes(np.ascontiguousarray(np.swapaxes(a, -1, -2)), -1, -2)


@pytest.mark.parametrize(
    "batches",
    [((3,), (3,), (3,), (3,)), ((3,), (3,), (), ()), ((), (), (3,), (3,))],
    ids=["equal", "second-unbatched", "first-unbatched"],
)
@pytest.mark.parametrize(
    ("d", "layout", "grad"),
    [
        (2, "row-major", False),
        (2, "column-major", True),
        (4, "column-major", False),
        (4, "row-major", True),
        (64, "column-major", False),  # L₀ may be overwritten only where it is a temporary
        (64, "row-major", False),
        (64, "column-major", True),
    ],
)
def test_the_inputs_are_never_written_to(
    d: int, batches: tuple[tuple[int, ...], ...], layout: str, grad: bool
) -> None:
    args = _pair(d, batches, seed=d)
    for fn, inputs in ((gaussian_kl, args), (gaussian_kl_tril, _tril(args))):
        if layout == "column-major":
            inputs = [inputs[0], _column_major(inputs[1]), inputs[2], _column_major(inputs[3])]
        tensors = [torch.from_numpy(a).requires_grad_(grad) for a in inputs]
        before = [t.detach().clone() for t in tensors]
        fn(*tensors)
        for t, b in zip(tensors, before, strict=True):
            assert torch.equal(t.detach(), b)
        copies = [a.copy() for a in inputs]
        fn(*inputs)
        for a, b in zip(inputs, copies, strict=True):
            np.testing.assert_array_equal(a, b)
