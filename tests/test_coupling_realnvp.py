"""models.flows.realnvp: exact toy densities and the MNIST bits/dim accounting.

The script itself is smoke-tested in tests/test_models_entry_points.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from models.flows.realnvp import (
    LOGIT_ALPHA,
    RealNVP,
    make_masks,
    mnist_log_prob_bits,
    toy_density,
)


@pytest.mark.parametrize("name", ["moons", "rings", "checkerboard"])
def test_toy_density_integrates_to_one_and_scores_its_draws(name: str) -> None:
    true = toy_density(name)
    # Midpoint rule on [-4, 4]²: a Gaussian (σ >= 0.08) spans >= 3 cells of 0.025 per σ,
    # where the rule is accurate far below 1e-3, and the checkerboard's square edges fall
    # on cell edges, so 1e-3 is loose for both.
    h = 8 / 320
    g = -4 + h * (np.arange(320) + 0.5)
    grid = np.stack(np.meshgrid(g, g), -1)
    mass = np.exp(true.log_prob(grid)).sum() * h * h
    assert abs(mass - 1) < 1e-3
    x = true.sample(5000, np.random.default_rng(0))
    assert x.shape == (5000, 2)
    assert np.all(np.isfinite(true.log_prob(x)))


def test_checkerboard_log_density_is_uniform_on_dark_squares() -> None:
    true = toy_density("checkerboard")
    points = np.array([[-1.5, -1.5], [-0.5, -1.5], [0.5, 0.5], [2.5, 0.0], [1.5, -0.5]])
    expected = np.array([-math.log(8), -np.inf, -math.log(8), -np.inf, -math.log(8)])
    np.testing.assert_array_equal(true.log_prob(points), expected)


def test_mnist_bits_per_dim_matches_autograd_change_of_variables() -> None:
    # An independent accounting: v -> y by composing the maps literally, log|det dy/dv|
    # from the autograd Jacobian, base density of the flow's own z and log-det.
    torch.manual_seed(0)
    masks = make_masks(6, 2, "random", torch.Generator().manual_seed(0))
    flow = RealNVP(masks, hidden=8, clamp=None).double()
    with torch.no_grad():  # leave the zero (identity) initialisation
        for p in flow.parameters():
            p.add_(0.3 * torch.randn_like(p))
    pixels = torch.randint(0, 256, (3, 6)).double()
    bits = mnist_log_prob_bits(flow.float(), pixels.float(), torch.Generator().manual_seed(7))
    flow = flow.double()
    u = torch.rand(pixels.shape, generator=torch.Generator().manual_seed(7), dtype=torch.float32)
    v = pixels + u.double()

    def v_to_y(v: torch.Tensor) -> torch.Tensor:
        s = LOGIT_ALPHA + (1 - 2 * LOGIT_ALPHA) * v / 256
        return torch.log(s / (1 - s))

    for i in range(3):
        y = v_to_y(v[i])
        log_det_v = torch.linalg.slogdet(torch.func.jacrev(v_to_y)(v[i])).logabsdet
        z, log_det_flow = flow(y)
        log_p = -0.5 * (z @ z + 6 * math.log(2 * math.pi)) + log_det_flow + log_det_v
        expected = -log_p / (6 * math.log(2))
        # float32 pipeline vs float64 reference: a few hundred eps32 on values ~10.
        assert abs(bits[i].item() - expected.item()) < 1e-4
