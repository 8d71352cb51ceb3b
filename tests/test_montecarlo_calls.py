"""mc_kl's calls at their edges: what is accepted, what is refused and what the message
says, and KL = ∞ for a discrete and a continuous multivariate scipy pair.

Complements tests/test_montecarlo_errors.py: each refused call's message names the
argument, the bad value's type or value, and the rule (n ≥ 2, seeds in [0, 2⁶⁴),
positive int chunks, p's own log density finite, q's log density neither NaN nor +∞
and one per draw); the smallest and largest accepted values are accepted.
"""

from __future__ import annotations

import math
import re
import warnings
from typing import Any

import numpy as np
import pytest
import scipy.stats
import torch
from torch.distributions import Bernoulli, Normal

from klmath import KLEstimatorWarning, mc_kl

STD = Normal(torch.tensor(0.0, dtype=torch.float64), 1.0)
NORM = scipy.stats.norm()


class ZeroDensityAtItsDraws:
    """A p that draws 0 but scores −∞ there."""

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return np.zeros(n)

    def log_prob(self, x: Any) -> np.ndarray:
        return np.full(np.shape(x), -np.inf)


class InfiniteDensity:
    """A q with log density +∞ (a point mass scored as a density)."""

    def log_prob(self, x: Any) -> np.ndarray:
        return np.full(np.shape(x), np.inf)


class OneNumberDensity:
    """A q that returns one log density for all draws."""

    def log_prob(self, x: Any) -> float:
        return 0.0


REFUSED = [
    pytest.param(
        NORM, NORM, {"seed": 2**64}, ValueError,
        r"seed must be in \[0, 2\*\*64\) \(torch seeds are 64-bit\), got 18446744073709551616",
        id="seed-2**64",
    ),
    pytest.param(
        NORM, NORM, {"seed": "1"}, TypeError, r"seed must be an int or None, got str", id="seed-str"
    ),
    pytest.param(
        NORM, NORM, {"chunk_size": 2.5}, TypeError,
        r"chunk_size must be a positive int, got float", id="chunk-float",
    ),
    pytest.param(
        NORM, NORM, {"chunk_size": "8"}, TypeError,
        r"chunk_size must be a positive int, got str", id="chunk-str",
    ),
    pytest.param(
        scipy.stats.norm(0.0, -1.0), NORM, {}, ValueError,
        r"p \(scipy norm\) must have scale > 0, got scale = -1\.0", id="p-scipy-scale",
    ),
    pytest.param(
        Normal(torch.tensor(0.0), torch.tensor(-1.0), validate_args=False), NORM, {}, ValueError,
        r"p \(torch Normal\) has an invalid scale: .* got -1\.0", id="p-torch-scale",
    ),
    pytest.param(
        NORM, scipy.stats.norm(0.0, -1.0), {}, ValueError,
        r"q \(scipy norm\) must have scale > 0, got scale = -1\.0", id="q-scipy-scale",
    ),
    pytest.param(
        STD, Normal(torch.tensor(0.0), torch.tensor(-1.0), validate_args=False), {}, ValueError,
        r"q \(torch Normal\) has an invalid scale: .* got -1\.0", id="q-torch-scale",
    ),
    pytest.param(
        ZeroDensityAtItsDraws(), NORM, {}, ValueError,
        r"p \(ZeroDensityAtItsDraws\) has a non-finite log density at one of its own draws; "
        r"mc_kl needs log p\(x\) finite for x ~ p",
        id="p-zero-density-at-its-draws",
    ),
    pytest.param(
        STD, InfiniteDensity(), {}, ValueError,
        r"q \(InfiniteDensity\) returned NaN or \+inf log density at a draw of p",
        id="q-plus-inf-density",
    ),
    pytest.param(
        STD, OneNumberDensity(), {}, ValueError,
        r"q \(OneNumberDensity\)\.log_prob returned shape \(\) for 10 draws of p",
        id="q-one-number",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("p", "q", "kwargs", "error", "match"), REFUSED)
def test_refused_calls_say_why(
    p: Any, q: Any, kwargs: dict[str, Any], error: type, match: str
) -> None:
    with pytest.raises(error, match=f"^{match}$"):
        mc_kl(p, q, 10, **kwargs)


@pytest.mark.parametrize("backend", ["scipy", "torch"])
def test_the_smallest_n_and_the_largest_seed_are_accepted(backend: str) -> None:
    p, q = (NORM, scipy.stats.norm(0.5)) if backend == "scipy" else (STD, Normal(0.5, 1.0))
    with warnings.catch_warnings():
        warnings.simplefilter("error", KLEstimatorWarning)  # n < 25: not judged, no warning
        two = mc_kl(p, q, 2, estimator="k1", seed=2**64 - 1)
        again = mc_kl(p, q, 2, estimator="k1", seed=2**64 - 1)
    # k1 terms −log r = 1/8 − x/2 for N(0, 1) ‖ N(½, 1): two distinct draws give a finite
    # mean and a positive, finite standard error; the largest seed reproduces itself.
    assert math.isfinite(float(two.value)) and math.isfinite(float(two.stderr))
    assert float(two.stderr) > 0.0 and float(two.value) == float(again.value)


MULTINOMIAL = scipy.stats.multinomial(5, [0.2, 0.3, 0.5])
GAUSSIAN = scipy.stats.multivariate_normal([1.0, 1.5, 2.5])

# For each direction, why p is not absolutely continuous with respect to q.
WHY = {
    "discrete": "p's atoms, a countable set, have probability 1 under p and 0 under q",
    "continuous": "outside q's countable set of atoms, q has probability 0 and p has 1",
}
ADVICE = (
    "A log-mass minus a log-density is not a log-ratio: compare two discrete or two "
    "continuous distributions (e.g. discretise the continuous one)"
)


@pytest.mark.parametrize(
    ("p", "q", "kind"),
    [
        pytest.param(MULTINOMIAL, GAUSSIAN, "discrete", id="scipy-multinomial-mvn"),
        pytest.param(GAUSSIAN, MULTINOMIAL, "continuous", id="scipy-mvn-multinomial"),
        pytest.param(Bernoulli(torch.tensor(0.3)), STD, "discrete", id="torch-bernoulli-normal"),
        pytest.param(STD, Bernoulli(torch.tensor(0.3)), "continuous", id="torch-normal-bernoulli"),
    ],
)
def test_a_discrete_and_a_continuous_distribution_are_infinitely_apart(
    p: Any, q: Any, kind: str
) -> None:
    # The multivariate scipy families are told apart by their scoring method (logpmf:
    # atoms; logpdf: a density), as the univariate ones are by their class.
    res = mc_kl(p, q, 100, seed=0)
    assert float(res.value) == math.inf and float(res.stderr) == 0.0
    assert res.reason is not None
    other = "continuous" if kind == "discrete" else "discrete"
    assert re.search(rf"^p \(\S+ \S+\) is {kind} and q \(\S+ \S+\) is {other}, ", res.reason)
    assert f"({WHY[kind]})" in res.reason and res.reason.endswith(ADVICE)


def test_two_multinomials_are_compared_draw_by_draw() -> None:
    # Both discrete (logpmf): KL(Mult(5, a) ‖ Mult(5, b)) = 5 Σ aᵢ log(aᵢ/bᵢ) (the counts
    # are sums of 5 independent categorical draws, and KL adds over independent parts).
    a, b = np.array([0.2, 0.3, 0.5]), np.array([0.3, 0.3, 0.4])
    res = mc_kl(MULTINOMIAL, scipy.stats.multinomial(5, b), 4000, estimator="k1", seed=0)
    exact = 5 * float(np.sum(a * np.log(a / b)))
    assert res.reason is None and abs(float(res.value) - exact) < 5 * float(res.stderr)
