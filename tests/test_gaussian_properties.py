"""Invariants of the Gaussian KL over Hypothesis-drawn inputs (d from 1 to 64, κ up to 1e10).

Tolerances are stated per test as multiples of ε (float64 unless the dtype
fixture says otherwise), derived from the conditioning of the inputs where
the property compares two rounded computations.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import (
    batch_shapes,
    dimensions,
    lower_triangular_factors,
    means,
    near_identical_gaussians,
    spd_matrices,
    variances,
)
from test_gaussian_reference import conditioning

from klmath import gaussian_kl, gaussian_kl_diag, gaussian_kl_tril

EPS = float(np.finfo(np.float64).eps)


@settings(max_examples=30)
@given(data=st.data(), d=dimensions())
def test_kl_is_nonnegative_with_broadcast_batch_shape(data: st.DataObject, d: int) -> None:
    shapes = [data.draw(batch_shapes(max_dims=2, max_side=2), label=f"batch {i}") for i in range(2)]
    # Drop leading axes so the four shapes differ but still broadcast.
    s0 = data.draw(spd_matrices(d, batch_shape=shapes[0]))
    s1 = data.draw(spd_matrices(d, batch_shape=shapes[1]))
    m0 = data.draw(means(d, batch_shape=shapes[1][1:]))
    m1 = data.draw(means(d, batch_shape=shapes[0]))
    kl = gaussian_kl(m0, s0, m1, s1)
    assert isinstance(kl, np.ndarray)
    assert kl.shape == np.broadcast_shapes(shapes[0], shapes[1])
    assert np.all(kl >= 0.0)


@settings(max_examples=40)
@given(data=st.data(), d=dimensions(), dtype=st.sampled_from([torch.float32, torch.float64]))
def test_kl_of_a_gaussian_with_itself_is_exactly_zero(
    data: st.DataObject, d: int, dtype: torch.dtype
) -> None:
    batch = data.draw(batch_shapes(max_dims=1))
    # float32 cannot hold a covariance with κ ≳ 1/ε₃₂ ≈ 1e7 as positive definite.
    max_condition = 1e10 if dtype == torch.float64 else 1e4
    cov = data.draw(spd_matrices(d, batch_shape=batch, max_condition=max_condition))
    cov = torch.as_tensor(cov, dtype=dtype)
    mean = torch.as_tensor(data.draw(means(d, batch_shape=batch)), dtype=dtype)
    assert torch.all(gaussian_kl(mean, cov, mean, cov) == 0)
    tril = torch.linalg.cholesky(cov)
    assert torch.all(gaussian_kl_tril(mean, tril, mean, tril) == 0)
    var = cov.diagonal(dim1=-2, dim2=-1)
    assert torch.all(gaussian_kl_diag(mean, var, mean, var) == 0)


@settings(max_examples=40)
@given(data=st.data(), d=dimensions(max_d=16))
def test_near_identical_pairs_stay_nonnegative(data: st.DataObject, d: int) -> None:
    m0, t0, m1, t1 = data.draw(near_identical_gaussians(d, max_condition=1e10))
    assert gaussian_kl_tril(m0, t0, m1, t1) >= 0.0
    assert gaussian_kl(m0, t0 @ t0.T, m1, t1 @ t1.T) >= 0.0
    # float32: κ ≤ 1e4 so that both covariances are positive definite in float32.
    m0, t0, m1, t1 = data.draw(near_identical_gaussians(d, max_condition=1e4))
    args = [torch.as_tensor(a, dtype=torch.float32) for a in (m0, t0 @ t0.T, m1, t1 @ t1.T)]
    assert gaussian_kl(*args) >= 0.0


@settings(max_examples=40)
@given(data=st.data(), d=dimensions(max_d=16))
def test_invariant_under_a_common_affine_map(data: st.DataObject, d: int) -> None:
    # KL(N(Aμ₀+b, AΣ₀Aᵀ) ‖ N(Aμ₁+b, AΣ₁Aᵀ)) = KL(N(μ₀,Σ₀) ‖ N(μ₁,Σ₁)) for invertible A.
    # Forming AΣAᵀ rounds Σ by ~d·ε·κ(A)²‖Σ‖, which moves KL by ~d·ε·κ(A)²·κ(Σ)·(1 + KL)
    # (conditioning as in test_gaussian_reference); κ(Σ) ≤ 1e4, κ(A) ≤ 4 keep that ≤ 1e-9.
    s0 = data.draw(spd_matrices(d, max_condition=1e4, min_scale=0.1, max_scale=10))
    s1 = data.draw(spd_matrices(d, max_condition=1e4, min_scale=0.1, max_scale=10))
    m0, m1 = data.draw(means(d, max_scale=10)), data.draw(means(d, max_scale=10))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    a = q * rng.uniform(0.5, 2.0, size=d)  # singular values in [0.5, 2]: κ(A) ≤ 4
    b = rng.standard_normal(d) * 10
    before = float(gaussian_kl(m0, s0, m1, s1))
    t0, t1 = a @ s0 @ a.T, a @ s1 @ a.T
    t0, t1 = (t0 + t0.T) / 2, (t1 + t1.T) / 2
    after = float(gaussian_kl(a @ m0 + b, t0, a @ m1 + b, t1))
    assert after == pytest.approx(before, rel=64 * d * EPS * 16 * 1e4, abs=64 * d * EPS * 16 * 1e4)


@settings(max_examples=25)
@given(data=st.data(), d0=dimensions(max_d=32), d1=dimensions(max_d=32))
def test_additive_over_independent_blocks(data: st.DataObject, d0: int, d1: int) -> None:
    # Block-diagonal covariances factor into independent blocks: KL adds up.
    # LAPACK may block the factorization differently at another size, so the two
    # sides differ by up to the Cholesky conditioning bound of test_gaussian_reference
    # (d·ε·C per side); 4× that plus a few ulps of the sums is allowed.
    blocks = []
    for d in (d0, d1):
        s0 = data.draw(spd_matrices(d, max_condition=1e6))
        s1 = data.draw(spd_matrices(d, max_condition=1e6))
        blocks.append((data.draw(means(d)), s0, data.draw(means(d)), s1))

    def block_diag(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        out = np.zeros((len(x) + len(y),) * 2)
        out[: len(x), : len(x)], out[len(x) :, len(x) :] = x, y
        return out

    (ma0, sa0, ma1, sa1), (mb0, sb0, mb1, sb1) = blocks
    whole = float(
        gaussian_kl(
            np.concatenate([ma0, mb0]),
            block_diag(sa0, sb0),
            np.concatenate([ma1, mb1]),
            block_diag(sa1, sb1),
        )
    )
    parts = float(gaussian_kl(ma0, sa0, ma1, sa1)) + float(gaussian_kl(mb0, sb0, mb1, sb1))
    bound = 4 * (d0 + d1) * EPS * (conditioning(*blocks[0]) + conditioning(*blocks[1]))
    assert abs(whole - parts) <= bound + 8 * (d0 + d1) * EPS * parts


@settings(max_examples=60)
@given(data=st.data(), d=dimensions())
def test_diag_form_equals_full_form_on_diagonal_covariances(data: st.DataObject, d: int) -> None:
    v0, v1 = data.draw(variances(d)), data.draw(variances(d))
    m0, m1 = data.draw(means(d)), data.draw(means(d))
    diag = float(gaussian_kl_diag(m0, v0, m1, v1))
    full = float(gaussian_kl(m0, np.diag(v0), m1, np.diag(v1)))
    # The full form sees √var rounded (½ ulp each): with s = v₀/v₁ the i-th term
    # moves by ≤ ε·|s − 1| (variance part) + ε·Δμᵢ²/v₁ (mean part), plus sums.
    s = v0 / v1
    tol = 2 * EPS * np.sum(np.abs(s - 1) + (m1 - m0) ** 2 / v1) + 8 * d * EPS * diag
    assert abs(full - diag) <= tol


@settings(max_examples=20)
@given(data=st.data(), d=dimensions(max_d=32))
def test_tril_form_equals_full_form_on_the_factors(data: st.DataObject, d: int) -> None:
    s0, s1 = data.draw(spd_matrices(d)), data.draw(spd_matrices(d))
    m0, m1 = data.draw(means(d)), data.draw(means(d))
    # gaussian_kl factors by itself (LAPACK, or unrolled formulas for d ≤ 3); NumPy's
    # factors are other backward-stable factors of the same Σ, so the two results
    # differ by at most the Cholesky conditioning bound of test_gaussian_reference.
    t0, t1 = np.linalg.cholesky(s0), np.linalg.cholesky(s1)
    full = float(gaussian_kl(m0, s0, m1, s1))
    tril = float(gaussian_kl_tril(m0, t0, m1, t1))
    bound = 4 * d * EPS * conditioning(m0, s0, m1, s1) + 8 * d * EPS * full
    assert abs(full - tril) <= bound


@settings(max_examples=20)
@given(data=st.data(), d=dimensions())
def test_numpy_and_torch_give_identical_float64_results(data: st.DataObject, d: int) -> None:
    batch = data.draw(batch_shapes(max_dims=1))
    args = [
        data.draw(means(d, batch_shape=batch)),
        data.draw(spd_matrices(d, batch_shape=batch)),
        data.draw(means(d, batch_shape=batch)),
        data.draw(spd_matrices(d, batch_shape=batch)),
    ]
    from_numpy = gaussian_kl(*args)
    from_torch = gaussian_kl(*[torch.from_numpy(a) for a in args])
    assert isinstance(from_numpy, np.ndarray)
    assert isinstance(from_torch, torch.Tensor)
    np.testing.assert_array_equal(from_numpy, from_torch.numpy())
    v = [args[0], np.abs(args[2]) + 1.0, args[2], np.abs(args[0]) + 0.5]
    np.testing.assert_array_equal(
        gaussian_kl_diag(*v), gaussian_kl_diag(*[torch.from_numpy(a) for a in v]).numpy()
    )


@settings(max_examples=20)
@given(data=st.data(), d=dimensions(max_d=8))
def test_batched_equals_looped(data: st.DataObject, d: int) -> None:
    s0 = data.draw(spd_matrices(d, batch_shape=(4,)))
    s1 = data.draw(spd_matrices(d, batch_shape=(4,)))
    m0, m1 = data.draw(means(d, batch_shape=(4,))), data.draw(means(d, batch_shape=(4,)))
    batched = gaussian_kl(m0, s0, m1, s1)
    looped = [float(gaussian_kl(m0[i], s0[i], m1[i], s1[i])) for i in range(4)]
    # LAPACK may pick another code path per batch size: allow a few ulps of conditioning.
    np.testing.assert_allclose(batched, looped, rtol=1e-9, atol=1e-300)


_BROADCASTS = {
    # name: (batch of mean0, cov0, mean1, cov1)
    "covs-unbatched": ((3,), (), (2, 1), ()),
    "cov0-batched": ((), (2, 3), (3,), ()),
    "cov1-batched": ((2, 1), (), (), (3,)),
    "means-unbatched": ((), (2, 1), (), (3,)),
}


@pytest.mark.parametrize("d", [1, 2, 3, 4, 16, 64, 70])
@pytest.mark.parametrize("shapes", list(_BROADCASTS.values()), ids=list(_BROADCASTS))
def test_broadcast_batches_equal_looped_and_autograd_path(
    shapes: tuple[tuple[int, ...], ...], d: int
) -> None:
    # The no-grad fast paths reuse buffers sized by the broadcast batch; check every way the
    # four batch shapes can differ against per-element calls and against the autograd path.
    rng = np.random.default_rng(d)

    def spd(batch: tuple[int, ...]) -> np.ndarray:
        a = rng.standard_normal((*batch, d, d))
        return a @ np.swapaxes(a, -1, -2) / d + np.eye(d)

    m0, m1 = rng.standard_normal((*shapes[0], d)), rng.standard_normal((*shapes[2], d))
    s0, s1 = spd(shapes[1]), spd(shapes[3])
    batch = np.broadcast_shapes(shapes[0], shapes[1], shapes[2], shapes[3])
    fast = gaussian_kl(m0, s0, m1, s1)
    assert fast.shape == batch
    looped = np.empty(batch)
    for idx in np.ndindex(*batch):

        def pick(a: np.ndarray, core: int, idx: tuple[int, ...] = idx) -> np.ndarray:
            return np.broadcast_to(a, (*batch, *a.shape[a.ndim - core :]))[idx]

        looped[idx] = gaussian_kl(pick(m0, 1), pick(s0, 2), pick(m1, 1), pick(s1, 2))
    tensors = [torch.from_numpy(a).requires_grad_(True) for a in (m0, s0, m1, s1)]
    careful = gaussian_kl(*tensors).detach().numpy()
    # Same formula, possibly another LAPACK blocking per batch size: a few ulps of conditioning.
    np.testing.assert_allclose(fast, looped, rtol=1e-9, atol=0)
    np.testing.assert_allclose(fast, careful, rtol=1e-9, atol=0)
    assert (fast > 0).all()


def _symmetric(a: torch.Tensor) -> torch.Tensor:
    # gradcheck perturbs one entry at a time, which would break symmetry; differentiate
    # through the symmetric part instead (the same derivative on symmetric directions).
    return 0.5 * (a + a.mT)


@pytest.mark.parametrize("d", [1, 2, 4])
def test_gradcheck_full_form(d: int) -> None:
    gen = torch.Generator().manual_seed(d)
    a = torch.randn(d, d, generator=gen, dtype=torch.float64)
    b = torch.randn(d, d, generator=gen, dtype=torch.float64)
    s0 = (a @ a.T / d + torch.eye(d, dtype=torch.float64)).requires_grad_()
    s1 = (b @ b.T / d + torch.eye(d, dtype=torch.float64)).requires_grad_()
    m0 = torch.randn(2, d, generator=gen, dtype=torch.float64, requires_grad=True)
    m1 = torch.randn(d, generator=gen, dtype=torch.float64, requires_grad=True)

    def f(m0, s0, m1, s1):
        return gaussian_kl(m0, _symmetric(s0), m1, _symmetric(s1))

    assert torch.autograd.gradcheck(f, (m0, s0, m1, s1))


def test_gradient_matches_the_closed_form() -> None:
    # ∂KL/∂μ₀ = Σ₁⁻¹(μ₀ − μ₁), ∂KL/∂Σ₀ = ½(Σ₁⁻¹ − Σ₀⁻¹),
    # ∂KL/∂Σ₁ = ½(Σ₁⁻¹ − Σ₁⁻¹(Σ₀ + ΔΔᵀ)Σ₁⁻¹), Δ = μ₁ − μ₀ (symmetric-matrix gradients).
    gen = torch.Generator().manual_seed(0)
    d = 5
    a, b = (torch.randn(d, d, generator=gen, dtype=torch.float64) for _ in range(2))
    s0 = (a @ a.T / d + torch.eye(d, dtype=torch.float64)).requires_grad_()
    s1 = (b @ b.T / d + torch.eye(d, dtype=torch.float64)).requires_grad_()
    m0 = torch.randn(d, generator=gen, dtype=torch.float64, requires_grad=True)
    m1 = torch.randn(d, generator=gen, dtype=torch.float64, requires_grad=True)
    gaussian_kl(m0, s0, m1, s1).backward()
    with torch.no_grad():
        i0, i1 = torch.linalg.inv(s0), torch.linalg.inv(s1)
        delta = (m1 - m0)[:, None]
        expected = {
            "m0": i1 @ (m0 - m1),
            "m1": i1 @ (m1 - m0),
            "s0": 0.5 * (i1 - i0),
            "s1": 0.5 * (i1 - i1 @ (s0 + delta @ delta.T) @ i1),
        }
    for name, x in {"m0": m0, "m1": m1, "s0": s0, "s1": s1}.items():
        got = x.grad if x.ndim == 1 else _symmetric(x.grad)
        torch.testing.assert_close(got, expected[name], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("d", [1, 3])
def test_gradcheck_diag_and_tril_forms(d: int) -> None:
    gen = torch.Generator().manual_seed(d)
    kw = {"generator": gen, "dtype": torch.float64}
    m0, m1 = torch.randn(d, **kw).requires_grad_(), torch.randn(d, **kw).requires_grad_()
    v0 = (torch.rand(d, **kw) + 0.5).requires_grad_()
    v1 = (torch.rand(d, **kw) + 0.5).requires_grad_()
    assert torch.autograd.gradcheck(gaussian_kl_diag, (m0, v0, m1, v1))
    # Identical variances: the series branch of eᵘ − 1 − u and its derivative.
    v0_close = (v0.detach() * (1 + 1e-3)).requires_grad_()
    assert torch.autograd.gradcheck(gaussian_kl_diag, (m0, v0, m1, v0_close))
    t0 = torch.tril(torch.randn(d, d, **kw), -1) + torch.diag(torch.rand(d, **kw) + 1.0)
    t1 = torch.tril(torch.randn(d, d, **kw), -1) + torch.diag(torch.rand(d, **kw) + 1.0)
    t0.requires_grad_()
    t1.requires_grad_()

    def f(m0, t0, m1, t1):
        return gaussian_kl_tril(m0, torch.tril(t0), m1, torch.tril(t1))

    assert torch.autograd.gradcheck(f, (m0, t0, m1, t1))


# The dtype/device fixtures are per session in effect (command-line options).
@settings(max_examples=20, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), d=dimensions(max_d=32))
def test_dtype_and_device_follow_the_inputs(
    data: st.DataObject, d: int, dtype: torch.dtype, device: torch.device
) -> None:
    # Runs in the suite's --dtype/--device. float32 results agree with float64 to
    # ~d·ε₃₂·κ·(1 + KL) (conditioning as in test_gaussian_reference); κ ≤ 10 here.
    s0 = data.draw(spd_matrices(d, max_condition=10, min_scale=0.5, max_scale=2))
    s1 = data.draw(spd_matrices(d, max_condition=10, min_scale=0.5, max_scale=2))
    m0, m1 = data.draw(means(d, max_scale=1)), data.draw(means(d, max_scale=1))
    args = [torch.as_tensor(a, dtype=dtype, device=device) for a in (m0, s0, m1, s1)]
    kl = gaussian_kl(*args)
    assert kl.dtype == dtype
    assert kl.device.type == device.type
    exact = float(gaussian_kl(m0, s0, m1, s1))
    eps = torch.finfo(dtype).eps
    assert float(kl) == pytest.approx(exact, rel=64 * d * eps * 10, abs=64 * d * d * eps * 10)
    tril = [
        torch.as_tensor(a, dtype=dtype, device=device)
        for a in (np.linalg.cholesky(s0), np.linalg.cholesky(s1))
    ]
    assert gaussian_kl_tril(args[0], tril[0], args[2], tril[1]).dtype == dtype


def test_mixed_float32_and_float64_promote_to_float64() -> None:
    m = torch.zeros(2, dtype=torch.float32)
    s = torch.eye(2, dtype=torch.float64)
    assert gaussian_kl(m, s, m, 2 * s).dtype == torch.float64


def test_diag_accepts_scalars_for_the_standard_normal_prior() -> None:
    # KL(N(μ, σ²) ‖ N(0, 1)) summed over the last axis: the VAE regularizer.
    mu = np.array([[0.5, -1.0], [0.0, 0.0]])
    var = np.array([[0.5, 2.0], [1.0, 1.0]])
    got = gaussian_kl_diag(mu, var, 0.0, 1.0)
    expected = 0.5 * np.sum(var + mu**2 - 1 - np.log(var), axis=-1)
    np.testing.assert_allclose(got, expected, rtol=4 * EPS)
    assert got[1] == 0.0
    assert gaussian_kl_diag(0.0, 1.0, 0.0, 1.0).shape == ()


@settings(max_examples=20)
@given(data=st.data(), d=dimensions(max_d=16))
def test_tril_factor_strategy_round_trip(data: st.DataObject, d: int) -> None:
    # KL between N(0, LLᵀ) and N(0, (cL)(cL)ᵀ) is d·(1/c² − 1 + 2 log c)/2 for any L.
    t = data.draw(lower_triangular_factors(d))
    c = data.draw(st.floats(0.5, 2.0), label="c")
    zero = np.zeros(d)
    expected = d * (1 / (c * c) - 1 + 2 * np.log(c)) / 2
    got = float(gaussian_kl_tril(zero, t, zero, c * t))
    # c·t rounds each entry (½ ulp): relative error ~ d·ε·κ(L)/… bounded loosely.
    assert got == pytest.approx(expected, rel=1e-9, abs=64 * d * EPS)


@settings(max_examples=20, deadline=None)
@given(
    d=st.integers(1, 5),
    seed=st.integers(0, 2**32 - 1),
    backend=st.sampled_from(["numpy", "torch"]),
)
def test_tril_with_negative_diagonal_entries_is_the_same_gaussian(
    d: int, seed: int, backend: str
) -> None:
    # Σ = LLᵀ = (LD)(LD)ᵀ for D = diag(±1): flipping the sign of columns of a Cholesky
    # factor gives a factor TFP accepts (any invertible lower-triangular L), and the same KL.
    rng = np.random.default_rng(seed)
    l0 = np.tril(rng.standard_normal((d, d))) + 2 * np.eye(d)
    l1 = np.tril(rng.standard_normal((d, d))) + 2 * np.eye(d)
    m0, m1 = rng.standard_normal(d), rng.standard_normal(d)
    s0, s1 = np.diag(rng.choice([-1.0, 1.0], d)), np.diag(rng.choice([-1.0, 1.0], d))
    args = (m0, l0 @ s0, m1, l1 @ s1)
    plain = (m0, l0, m1, l1)
    if backend == "torch":
        args = tuple(torch.from_numpy(np.ascontiguousarray(a)) for a in args)
        plain = tuple(torch.from_numpy(a) for a in plain)
    flipped = float(gaussian_kl_tril(*args))
    # Negative diagonals take the careful path, the plain factors the fast one: equal to
    # rounding (the fast paths are tested against the careful one in test_gaussian_fast_paths).
    assert flipped == pytest.approx(float(gaussian_kl_tril(*plain)), rel=1e-13, abs=1e-15)
    assert flipped == pytest.approx(
        float(gaussian_kl(m0, l0 @ l0.T, m1, l1 @ l1.T)), rel=1e-10, abs=1e-12
    )
    same = gaussian_kl_tril(args[0], args[1], args[0], args[1])
    assert float(same) == 0.0
