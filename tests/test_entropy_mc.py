"""entropy(method="mc") and the intervals of hand-built results.

The Monte Carlo entropy of N(μ, σ²) has terms −log p(x) = ½ log(2πσ²) + z²/2 with
z ~ N(0, 1): mean ½ log(2πeσ²) and variance exactly ½, so both the estimate and its
standard error have independent targets.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any

import numpy as np
import pytest
import scipy.stats
import torch
from torch.distributions import Normal

from klmath import KLResult, entropy
from klmath.divergence import EntropyResult

F64 = torch.float64


def test_chunked_monte_carlo_entropy_and_its_standard_error() -> None:
    # Batch of 3: chunks of 2¹⁶ // 3 = 21 845 draws, so n = 50 001 is merged from three.
    scale = torch.tensor([0.5, 1.0, 3.0], dtype=F64)
    n = 50_001
    res = entropy(Normal(torch.zeros(3, dtype=F64), scale), method="mc", n=n, seed=1)
    assert not res.exact and res.method == "mc" and res.n == n
    exact = 0.5 * torch.log(2 * math.pi * math.e * scale**2)
    assert bool((abs(res.value - exact) <= 4 * res.stderr).all()), (res.value, exact)
    # The standard error of a mean of n terms of variance ½ (its own error is ~1 %).
    assert torch.allclose(res.stderr, torch.full_like(scale, math.sqrt(0.5 / n)), rtol=0.05)


def test_monte_carlo_entropy_follows_its_seed() -> None:
    p = scipy.stats.norm(0.0, 2.0)
    a = entropy(p, method="mc", n=1_000, seed=3)
    b = entropy(p, method="mc", n=1_000, seed=3)
    c = entropy(p, method="mc", n=1_000, seed=4)
    assert a.value == b.value and a.value != c.value
    assert isinstance(a.value, np.float64) and np.ndim(a.value) == 0
    exact = 0.5 * math.log(2 * math.pi * math.e * 4.0)
    assert abs(a.value - exact) <= 4 * a.stderr


class _Holey:
    """N(0, 1) whose log density is −inf on (0, 0.1): p has no density at some of its draws."""

    event_shape = ()

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.standard_normal(n)

    def log_prob(self, x: np.ndarray) -> np.ndarray:
        lp = -0.5 * x**2 - 0.5 * math.log(2 * math.pi)
        return np.where((x > 0) & (x < 0.1), -np.inf, lp)


def test_a_draw_without_density_is_refused() -> None:
    with pytest.raises(
        ValueError, match=r"^p \(.*_Holey\) has a non-finite log density at one of its own draws$"
    ):
        entropy(_Holey(), method="mc", n=2_000, seed=0)


def test_exact_entropy_has_zero_standard_error_and_a_point_interval() -> None:
    res = entropy(Normal(torch.zeros(2, dtype=F64), torch.ones(2, dtype=F64)))
    assert res.exact and res.method == "exact" and res.n is None
    assert torch.equal(res.stderr, torch.zeros(2, dtype=F64))
    assert res.ci(0.9) == (res.value, res.value)


@pytest.mark.parametrize("level", [0.5, 0.9, 0.99])
def test_monte_carlo_entropy_interval_is_value_plus_minus_z_stderr(level: float) -> None:
    # Not clipped at 0: a differential entropy may be negative.
    res = entropy(scipy.stats.norm(0.0, 0.05), method="mc", n=2_000, seed=0)
    z = NormalDist().inv_cdf(0.5 + level / 2)
    low, high = res.ci(level)
    assert (
        res.value < 0 and low == res.value - z * res.stderr and high == res.value + z * res.stderr
    )


@pytest.mark.parametrize("level", [0.5, 0.9, 0.99])
def test_a_hand_built_kl_result_has_the_normal_interval_clipped_at_zero(level: float) -> None:
    z = NormalDist().inv_cdf(0.5 + level / 2)
    res = KLResult(0.3, 0.2, False, "mc", "by hand", n=100)
    low, high = res.ci(level)
    assert low == pytest.approx(max(0.0, 0.3 - z * 0.2), abs=1e-15)
    assert high == pytest.approx(0.3 + z * 0.2, rel=1e-15)
    assert res.ci(level) == res.ci(level, method="normal")
    exact: Any = KLResult(0.3, 0.0, True, "exact", "by hand")
    assert exact.ci(level) == (0.3, 0.3)
    assert isinstance(EntropyResult(1.0, 0.0, True, "exact", "x").ci(), tuple)
