"""AffineCoupling beyond 2-D batches: unbatched and 3-D inputs, messages, repr, small clamps.

Forward, inverse and both log-determinants act on the last axis whatever the batch
dimensions: a (2, 3, n) batch equals the layer applied to each (n,) point. Error messages
name the argument, what it got and what was expected, exactly. coupling_jacobian_blocks
returns σ and the four blocks of the autograd Jacobian reordered by σ.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from klmath import AffineCoupling, coupling_jacobian_blocks, coupling_permutation

F64 = torch.float64
MASK = torch.tensor([False, True, False, True, True])


def _layer(clamp: float | None = None) -> AffineCoupling:
    torch.manual_seed(0)
    k = int(MASK.sum())
    scale = nn.Sequential(nn.Linear(k, 4), nn.Tanh(), nn.Linear(4, len(MASK) - k)).double()
    return AffineCoupling(MASK, scale, nn.Linear(k, len(MASK) - k).double(), clamp=clamp)


@pytest.mark.parametrize("clamp", [None, 0.5, 3.0])
def test_three_dimensional_batches_equal_pointwise_calls(clamp: float | None) -> None:
    layer = _layer(clamp)  # clamp = 0.5 < 1 is a valid soft clamp too
    x = torch.randn(2, 3, len(MASK), dtype=F64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        z, log_det = layer(x)
        back, inv_log_det = layer.inverse_and_log_det(z)
        for i in range(2):
            for j in range(3):
                zi, ldi = layer(x[i, j])
                xi, ildi = layer.inverse_and_log_det(zi)
                torch.testing.assert_close(z[i, j], zi, rtol=0, atol=0)
                torch.testing.assert_close(log_det[i, j], ldi, rtol=0, atol=0)
                torch.testing.assert_close(back[i, j], xi, rtol=0, atol=0)
                torch.testing.assert_close(inv_log_det[i, j], ildi, rtol=0, atol=0)
    assert log_det.shape == inv_log_det.shape == (2, 3)
    torch.testing.assert_close(inv_log_det, -log_det)
    torch.testing.assert_close(back, x, rtol=1e-12, atol=1e-12)


def test_repr_names_n_the_conditioning_size_and_the_clamp() -> None:
    assert "n=5, |Ω|=3, clamp=0.5" in repr(_layer(0.5))
    assert "n=5, |Ω|=3, clamp=None" in repr(_layer())


@pytest.mark.parametrize(
    ("mask", "kind"),
    [(torch.zeros(4, dtype=torch.bool), "empty"), (torch.ones(4, dtype=torch.bool), "all-True")],
)
def test_degenerate_mask_message_says_which(mask: torch.Tensor, kind: str) -> None:
    with pytest.raises(ValueError, match=rf"of n = 4 \(an {kind} mask\)$"):
        coupling_permutation(mask)


@pytest.mark.parametrize("net", ["scale", "shift"])
def test_a_net_that_is_not_a_module_is_named_with_its_type(net: str) -> None:
    nets = {"scale": nn.Linear(3, 2), "shift": nn.Linear(3, 2)}
    nets[net] = "tanh"  # type: ignore[assignment]
    with pytest.raises(TypeError, match=rf"^{net} must be an nn.Module .* got str$"):
        AffineCoupling(MASK, nets["scale"], nets["shift"])


def test_wrong_net_output_on_an_unbatched_point_names_both_sizes() -> None:
    layer = AffineCoupling(MASK, nn.Linear(3, 3).double(), nn.Linear(3, 2).double())
    with pytest.raises(
        ValueError, match=r"must map \(\.\.\., \|Ω\|=3\) to \(\.\.\., n - \|Ω\|=2\)"
    ):
        layer(torch.zeros(5, dtype=F64))


def test_jacobian_blocks_are_sigma_and_the_reordered_autograd_jacobian() -> None:
    layer = _layer()
    x = torch.randn(5, dtype=F64, generator=torch.Generator().manual_seed(2))
    blocks = coupling_jacobian_blocks(layer, x)
    sigma, _ = coupling_permutation(MASK)
    assert torch.equal(blocks.sigma, sigma)
    jac = torch.autograd.functional.jacobian(lambda u: layer(u)[0], x)
    cond, trans = MASK.nonzero().flatten(), (~MASK).nonzero().flatten()
    torch.testing.assert_close(blocks.jacobian, jac)
    torch.testing.assert_close(blocks.bottom_left, jac[trans][:, cond])
    torch.testing.assert_close(blocks.bottom_right, jac[trans][:, trans])
    with pytest.raises(TypeError, match=r"^x must be a torch.Tensor, got list$"):
        coupling_jacobian_blocks(layer, [0.0] * 5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^coupling must be an AffineCoupling, got Linear$"):
        coupling_jacobian_blocks(nn.Linear(5, 5), x)  # type: ignore[arg-type]
