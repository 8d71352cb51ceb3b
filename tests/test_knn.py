"""knn_kl: against a brute-force transcription of the estimator, invariances, bad input.

The reference below computes every distance with NumPy (no KD-tree) and applies the
rule for ties literally, point by point.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.special import digamma

from klmath import knn_kl


def brute_force(x: np.ndarray, y: np.ndarray, k: int) -> float:
    n, d = x.shape
    m = len(y)
    total, correction = 0.0, 0.0
    for i in range(n):
        own = np.sort(np.linalg.norm(np.delete(x, i, 0) - x[i], axis=1))
        other = np.sort(np.linalg.norm(y - x[i], axis=1))
        ki = k + int(np.argmax(own[k - 1 :] > 0))  # first positive rank >= k
        li = k + int(np.argmax(other[k - 1 :] > 0))
        total += math.log(other[li - 1]) - math.log(own[ki - 1])
        correction += digamma(ki) - digamma(li)
    return d * total / n + correction / n + math.log(m / (n - 1))


@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("ties", [False, True])
def test_equals_brute_force(k: int, ties: bool) -> None:
    rng = np.random.default_rng(k + 10 * ties)
    if ties:  # a coarse lattice: many exact duplicates within and across the samples
        x, y = rng.integers(0, 4, (60, 2)).astype(float), rng.integers(0, 5, (50, 2)).astype(float)
    else:
        x, y = rng.standard_normal((60, 3)), 0.5 + rng.standard_normal((50, 3))
    assert knn_kl(x, y, k=k) == pytest.approx(brute_force(x, y, k), rel=1e-12, abs=1e-12)


def test_batched_over_k_equals_single_calls() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((500, 2)), rng.standard_normal((400, 2))
    np.testing.assert_allclose(knn_kl(x, y, k=[1, 2, 7]), [knn_kl(x, y, k=j) for j in (1, 2, 7)])


def test_invariant_under_translation_scaling_and_rotation_of_both() -> None:
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((2000, 3)), 0.3 + 1.2 * rng.standard_normal((1500, 3))
    base = knn_kl(x, y, k=2)
    shift = np.array([5.0, -3.0, 0.25])
    rot, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    assert knn_kl(x + shift, y + shift, k=2) == pytest.approx(base, rel=1e-9)
    assert knn_kl(7.5 * x, 7.5 * y, k=2) == pytest.approx(base, rel=1e-12)
    assert knn_kl(x @ rot, y @ rot, k=2) == pytest.approx(base, rel=1e-9)


def test_two_samples_of_one_law_give_about_zero() -> None:
    rng = np.random.default_rng(2)
    x, x2 = rng.standard_normal((20_000, 2)), rng.standard_normal((20_000, 2))
    assert abs(knn_kl(x, x2, k=5)) < 0.01


def test_gaussian_pair_with_known_kl() -> None:
    # KL(N(0, I₂) ‖ N(0.3·1, 1.2² I₂)) = 2 (log 1.2 + 1.09/2.88 − ½) = 0.1216; the bench
    # measures +1.8 % ± 4.7 % at n = 10⁴, k = 5.
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((20_000, 2)), 0.3 + 1.2 * rng.standard_normal((20_000, 2))
    exact = 2 * (math.log(1.2) + 1.09 / 2.88 - 0.5)
    assert abs(knn_kl(x, y, k=5) - exact) < 0.15 * exact


def test_torch_in_torch_out_and_one_dimensional_input() -> None:
    x, y = torch.randn(300, dtype=torch.float64), torch.randn(200, dtype=torch.float64)
    out = knn_kl(x, y, k=2)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float64 and out.ndim == 0
    assert float(out) == pytest.approx(knn_kl(x.numpy()[:, None], y.numpy()[:, None], k=2))


BAD = [
    pytest.param(
        np.zeros((5, 2)),
        np.zeros((5, 3)),
        1,
        ValueError,
        r"same dimension: x has d=2 .* y has d=3",
        id="dims",
    ),
    pytest.param(
        np.zeros((5, 2, 1)),
        np.zeros((5, 2)),
        1,
        ValueError,
        r"x must have shape \(n,\) or \(n, d\)",
        id="3-d",
    ),
    pytest.param(
        np.array([0.0, np.nan, 1.0]), np.zeros(3), 1, ValueError, r"x holds NaN or inf", id="nan"
    ),
    pytest.param(np.arange(5.0), np.arange(5.0), 0, ValueError, r"k must be >= 1", id="k=0"),
    pytest.param(
        np.arange(5.0), np.arange(5.0), 5, ValueError, r"k=5 needs n >= k \+ 1 .* n=5", id="k-big"
    ),
    pytest.param(np.arange(5.0), np.arange(5.0), 1.5, TypeError, r"k must be an int", id="k-float"),
    pytest.param(np.arange(5.0), np.arange(5.0), True, TypeError, r"k must be an int", id="k-bool"),
    pytest.param(
        np.arange(5.0), np.arange(5.0), [], TypeError, r"non-empty sequence", id="k-empty"
    ),
    pytest.param(
        np.ones(5), np.ones(4), 1, ValueError, r"all points of x coincide", id="all-equal"
    ),
]


@pytest.mark.parametrize(("x", "y", "k", "error", "match"), BAD)
def test_bad_input(x: np.ndarray, y: np.ndarray, k: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        knn_kl(x, y, k=k)  # type: ignore[arg-type]
