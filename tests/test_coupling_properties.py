"""Invariants of AffineCoupling (seed problem 3) over random masks and random small MLPs.

The reference for every log-determinant is independent of the closed form 1ᵀs(x_Ω): the
autograd Jacobian (``torch.func.jacrev``) and ``torch.linalg.slogdet``. Float64 throughout
the Hypothesis properties; ``test_dtype_device_*`` rerun the essentials in the ``--dtype`` /
``--device`` the suite was started with.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import masks, small_mlps
from torch import nn

from klmath import AffineCoupling, coupling_jacobian_blocks, coupling_permutation

# Float64 tolerance of the issue: the round-off of a few dozen flops on O(1)-O(10) values,
# with ~5 orders of magnitude to spare.
TOL = 1e-10
EPS = torch.finfo(torch.float64).eps


@st.composite
def couplings(
    draw: st.DrawFn, *, min_n: int = 2, max_n: int = 12, clamp: float | None = None
) -> AffineCoupling:
    """An AffineCoupling with a random mask and random small tanh MLPs as s and t (float64)."""
    mask = draw(masks(min_n=min_n, max_n=max_n))
    k, n = int(mask.sum()), mask.shape[0]
    scale = draw(small_mlps(k, n - k))
    shift = draw(small_mlps(k, n - k, weight_scale=2.0))
    return AffineCoupling(mask, scale, shift, clamp=clamp)


def points(n: int, seed: int, *shape: int, std: float = 2.0) -> torch.Tensor:
    """Seeded N(0, std²) float64 points of shape (*shape, n)."""
    gen = torch.Generator().manual_seed(seed)
    return std * torch.randn(*shape, n, generator=gen, dtype=torch.float64)


seeds = st.integers(0, 2**32 - 1)


@settings(max_examples=40)
@given(layer=couplings(), seed=seeds)
def test_log_det_equals_slogdet_of_autograd_jacobian(layer: AffineCoupling, seed: int) -> None:
    x = points(layer.n, seed, 3)
    _, log_det = layer(x)
    for i in range(x.shape[0]):
        jacobian = torch.func.jacrev(lambda u: layer(u)[0])(x[i])
        sign, logabsdet = torch.linalg.slogdet(jacobian)
        assert sign == 1.0  # diag(e^s) with a permutation conjugation: det > 0
        assert abs(log_det[i].item() - logabsdet.item()) <= TOL


@settings(max_examples=40)
@given(layer=couplings(), seed=seeds)
def test_log_det_is_sum_of_scale_on_conditioning_coordinates(
    layer: AffineCoupling, seed: int
) -> None:
    # Boolean indexing is an independent way to form x_Ω (the layer uses index_select).
    x = points(layer.n, seed, 5)
    z, log_det = layer(x)
    s = layer.scale(x[:, layer.mask])
    t = layer.shift(x[:, layer.mask])
    assert torch.equal(log_det, s.sum(-1))
    assert torch.equal(z[:, layer.mask], x[:, layer.mask])
    torch.testing.assert_close(
        z[:, ~layer.mask], x[:, ~layer.mask] * torch.exp(s) + t, rtol=0, atol=TOL
    )


@settings(max_examples=40)
@given(layer=couplings(), seed=seeds)
def test_jacobian_has_exactly_the_declared_zero_pattern(layer: AffineCoupling, seed: int) -> None:
    x = points(layer.n, seed)
    blocks = coupling_jacobian_blocks(layer, x)
    k = int(layer.mask.sum())
    s = layer.scale(x[layer.mask])
    assert torch.equal(blocks.top_left, torch.eye(k, dtype=x.dtype))
    assert torch.equal(blocks.top_right, torch.zeros(k, layer.n - k, dtype=x.dtype))
    assert torch.equal(blocks.bottom_right, torch.diag(torch.exp(s)))
    # The same structure read off the unpermuted Jacobian: rows in Ω are unit vectors, and
    # rows in Ωᶜ vanish on the other Ωᶜ columns.
    j = blocks.jacobian
    eye = torch.eye(layer.n, dtype=x.dtype)
    assert torch.equal(j[layer.mask], eye[layer.mask])
    off_diagonal = ~torch.eye(layer.n, dtype=torch.bool)
    zero_pattern = (~layer.mask)[:, None] & (~layer.mask)[None, :] & off_diagonal
    assert torch.all(j[zero_pattern] == 0)


@settings(max_examples=40)
@given(mask=masks(), seed=seeds)
def test_permutation_matrix_conjugates_jacobian_to_block_lower_triangular(
    mask: torch.Tensor, seed: int
) -> None:
    sigma, p = coupling_permutation(mask)
    n, k = mask.shape[0], int(mask.sum())
    assert sorted(sigma.tolist()) == list(range(n))
    assert sigma[:k].tolist() == mask.nonzero().flatten().tolist()
    assert torch.equal(p @ p.T, torch.eye(n, dtype=p.dtype))
    x = points(n, seed)
    assert torch.equal(p @ x, x[sigma])
    gen = torch.Generator().manual_seed(seed)
    layer = AffineCoupling(
        mask,
        nn.Linear(k, n - k, dtype=torch.float64),
        nn.Linear(k, n - k, dtype=torch.float64),
    )
    with torch.no_grad():
        for param in layer.parameters():
            param.copy_(torch.randn(param.shape, generator=gen, dtype=param.dtype))
    blocks = coupling_jacobian_blocks(layer, x)
    # P J P⁻¹ with the matrix is the index reordering, to the last bit (P has 0/1 entries).
    assert torch.equal(p @ blocks.jacobian @ p.T, blocks.permuted)
    assert torch.all(torch.triu(blocks.permuted, diagonal=1) == 0)


def _round_trip_error_bound(layer: AffineCoupling, x: torch.Tensor, z: torch.Tensor) -> float:
    """Largest round-off expected in inverse(forward(x)) - x, from a first-order error model.

    Rounding z_c = x_c e^s + t costs eps (|z_c| + |t|); the inverse (z_c - t) e^{-s} costs
    the same again and multiplies both by e^{-s}. When e^{-s} is large (s down to about -20
    for the drawn nets and points) this exceeds any fixed 1e-10 however exact the code is.
    """
    s = layer.scale(x[:, layer.mask])
    t = layer.shift(x[:, layer.mask])
    err = (
        4 * EPS * (z[:, ~layer.mask].abs() + t.abs()) * torch.exp(-s)
        + 4 * EPS * x[:, ~layer.mask].abs()
    )
    return err.detach().max().item()


@settings(max_examples=50)
@given(layer=couplings(), seed=seeds)
def test_inverse_undoes_forward_and_negates_log_det(layer: AffineCoupling, seed: int) -> None:
    x = points(layer.n, seed, 4)
    z, log_det = layer(x)
    x_back, inv_log_det = layer.inverse_and_log_det(z)
    torch.testing.assert_close(x_back, x, rtol=0, atol=TOL + _round_trip_error_bound(layer, x, z))
    # s is evaluated on z_Ω = x_Ω, bit-identical inputs, so the negation is exact.
    assert torch.equal(inv_log_det, -log_det)
    assert torch.equal(layer.inverse(z), x_back)


@settings(max_examples=50)
@given(layer=couplings(), seed=seeds)
def test_forward_undoes_inverse(layer: AffineCoupling, seed: int) -> None:
    z = points(layer.n, seed, 4)
    x, inv_log_det = layer.inverse_and_log_det(z)
    z_back, log_det = layer(x)
    # Unlike the other direction, no e^{-s} amplification: the error stays ~eps (|z| + |t|).
    torch.testing.assert_close(z_back, z, rtol=0, atol=TOL)
    assert torch.equal(log_det, -inv_log_det)


@settings(max_examples=25)
@given(layer=couplings(max_n=8), seed=seeds, batch=st.lists(st.integers(1, 3), max_size=3))
def test_batched_equals_looped(layer: AffineCoupling, seed: int, batch: list[int]) -> None:
    x = points(layer.n, seed, *batch)
    z, log_det = layer(x)
    assert z.shape == x.shape
    assert log_det.shape == x.shape[:-1]
    flat_x, flat_z, flat_ld = x.reshape(-1, layer.n), z.reshape(-1, layer.n), log_det.reshape(-1)
    for i in range(flat_x.shape[0]):
        z_i, ld_i = layer(flat_x[i])
        torch.testing.assert_close(z_i, flat_z[i], rtol=0, atol=TOL)
        torch.testing.assert_close(ld_i, flat_ld[i], rtol=0, atol=TOL)


@settings(max_examples=30)
@given(layer=couplings(clamp=1.5), seed=seeds)
def test_soft_clamp_bounds_scale_and_keeps_log_det_exact(layer: AffineCoupling, seed: int) -> None:
    x = points(layer.n, seed, 3)
    z, log_det = layer(x)
    k = int(layer.mask.sum())
    assert torch.all(log_det.abs() <= (layer.n - k) * 1.5)
    s = layer.scale(x[:, layer.mask])
    torch.testing.assert_close(log_det, (1.5 * torch.tanh(s / 1.5)).sum(-1), rtol=0, atol=TOL)
    jacobian = torch.func.jacrev(lambda u: layer(u)[0])(x[0])
    assert abs(log_det[0].item() - torch.linalg.slogdet(jacobian).logabsdet.item()) <= TOL
    torch.testing.assert_close(layer.inverse(z), x, rtol=0, atol=TOL)


@st.composite
def coupling_stacks(draw: st.DrawFn, *, alternating: bool) -> nn.ModuleList:
    """2 to 5 couplings on one n; alternating masks (m, ~m, m, ...) or independent ones."""
    n = draw(st.integers(2, 8))
    depth = draw(st.integers(2, 5))
    first = draw(masks(min_n=n, max_n=n))
    layers = nn.ModuleList()
    for i in range(depth):
        if alternating:
            mask = first if i % 2 == 0 else ~first
        else:
            mask = draw(masks(min_n=n, max_n=n))
        k = int(mask.sum())
        # Tamer nets than for one layer: a composition multiplies the Jacobian's condition
        # number, and with it the round-off of the slogdet reference.
        scale = draw(small_mlps(k, n - k, weight_scale=0.5))
        shift = draw(small_mlps(k, n - k, weight_scale=0.5))
        # The soft clamp keeps a product of up to five scalings within e^{±10}, so the
        # composed Jacobian stays well enough conditioned for slogdet to be a reference.
        layers.append(AffineCoupling(mask, scale, shift, clamp=2.0))
    return layers


def _run_stack(layers: nn.ModuleList, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    total = x.new_zeros(x.shape[:-1])
    for layer in layers:
        x, log_det = layer(x)
        total = total + log_det
    return x, total


@pytest.mark.parametrize("alternating", [True, False], ids=["alternating-masks", "random-masks"])
@settings(max_examples=25)
@given(data=st.data(), seed=seeds)
def test_stack_total_log_det_matches_autograd(
    alternating: bool, data: st.DataObject, seed: int
) -> None:
    layers = data.draw(coupling_stacks(alternating=alternating))
    n = layers[0].n
    x = points(n, seed, 2, std=1.0)
    z, total = _run_stack(layers, x)
    for i in range(x.shape[0]):
        jacobian = torch.func.jacrev(lambda u: _run_stack(layers, u)[0])(x[i])
        # LU-based slogdet is accurate to about n κ(J) eps; allow that on top of TOL.
        kappa = torch.linalg.cond(jacobian).item()
        tol = TOL + n * kappa * EPS
        assert abs(total[i].item() - torch.linalg.slogdet(jacobian).logabsdet.item()) <= tol
    x_back = z
    for layer in reversed(layers):
        x_back = layer.inverse(x_back)
    # Each inverse multiplies the round-off of its input by at most e^2 (the clamp).
    torch.testing.assert_close(x_back, x, rtol=0, atol=TOL * (1 + z.abs().max().item()))


def test_gradients_reach_both_nets_and_match_finite_differences() -> None:
    torch.manual_seed(0)
    mask = torch.tensor([True, False, True, False, False])
    layer = AffineCoupling(
        mask,
        nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 3)).double(),
        nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 3)).double(),
    )
    x = torch.randn(3, 5, dtype=torch.float64, requires_grad=True)
    params = tuple(layer.parameters())

    names = [name for name, _ in layer.named_parameters()]

    def f(x: torch.Tensor, *ps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.func.functional_call(layer, dict(zip(names, ps, strict=True)), x)

    assert torch.autograd.gradcheck(f, (x, *[p.detach().requires_grad_() for p in params]))


def test_dtype_device_round_trip_and_log_det(dtype: torch.dtype, device: torch.device) -> None:
    torch.manual_seed(1)
    mask = torch.tensor([False, True, True, False, True, False, False])
    net = lambda: nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 4))  # noqa: E731
    layer = AffineCoupling(mask, net(), net()).to(device=device, dtype=dtype)
    # Integer buffers keep their dtype and follow the module to the device.
    assert layer.mask.dtype == torch.bool and layer.cond_index.dtype == torch.int64
    assert layer.cond_index.device.type == device.type
    x = torch.randn(16, 7, device=device, dtype=dtype)
    z, log_det = layer(x)
    assert z.dtype == dtype and z.device.type == device.type and log_det.shape == (16,)
    eps = torch.finfo(dtype).eps
    # Round trip: a few roundings on |x| <~ 4 scaled by e^{±s}, |s| <~ 2; 256 eps is generous.
    torch.testing.assert_close(layer.inverse(z), x, rtol=0, atol=256 * eps)
    jacobian = torch.func.jacrev(lambda u: layer(u)[0])(x[0])
    reference = torch.linalg.slogdet(jacobian.double()).logabsdet
    torch.testing.assert_close(log_det[0].double(), reference, rtol=0, atol=64 * eps)


def test_buffers_move_with_to() -> None:
    layer = AffineCoupling(torch.tensor([True, False, False]), nn.Linear(1, 2), nn.Linear(1, 2))
    moved = layer.to("meta")
    assert {b.device.type for b in moved.buffers()} == {"meta"}
    state = layer.state_dict()
    assert {"mask", "cond_index", "trans_index", "inverse_sigma"} <= set(state)
