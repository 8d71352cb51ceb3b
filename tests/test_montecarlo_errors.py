"""Bad input to mc_kl: each gets a clear, documented outcome.

Errors are a table (one row per bad call, ``match=`` on the message). A q with zero
density where p has mass is not an error: KL = ∞, returned as ``inf`` with a reason.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import scipy.stats
import torch
from torch.distributions import (
    Categorical,
    Exponential,
    Independent,
    MixtureSameFamily,
    MultivariateNormal,
    Normal,
    Uniform,
)

from klmath import KLEstimatorWarning
from klmath.montecarlo import MCResult, mc_kl


class LogProbOnly:
    """Scores but cannot sample."""

    def log_prob(self, x: Any) -> Any:
        return -0.5 * np.asarray(x) ** 2


class HugeDensity:
    """A (deliberately improper) q whose log density is 800 everywhere: r = e^800 overflows."""

    def log_prob(self, x: Any) -> Any:
        return torch.full(x.shape, 800.0, dtype=torch.float64)


class NaNDensity:
    def log_prob(self, x: Any) -> Any:
        return torch.full(x.shape, math.nan, dtype=torch.float64)


def mvn(d: int) -> MultivariateNormal:
    return MultivariateNormal(
        torch.zeros(d, dtype=torch.float64), torch.eye(d, dtype=torch.float64)
    )


STD = Normal(torch.tensor(0.0, dtype=torch.float64), 1.0)

BAD_CALLS = [
    pytest.param(STD, STD, 1, {}, ValueError, r"n must be >= 2 .* got 1", id="n=1"),
    pytest.param(STD, STD, 0, {}, ValueError, r"n must be >= 2", id="n=0"),
    pytest.param(STD, STD, 2.5, {}, TypeError, r"n must be an int, got float", id="n-float"),
    pytest.param(STD, STD, True, {}, TypeError, r"n must be an int, got bool", id="n-bool"),
    pytest.param(
        STD,
        STD,
        10,
        {"estimator": "k4"},
        ValueError,
        r"estimator must be one of .*'k4'",
        id="unknown-estimator",
    ),
    pytest.param(
        mvn(2),
        mvn(3),
        10,
        {},
        ValueError,
        r"same event shape: p \(torch MultivariateNormal\) has \(2,\), q .* has \(3,\)",
        id="event-shape-torch",
    ),
    pytest.param(
        STD,
        mvn(1),
        10,
        {},
        ValueError,
        r"same event shape: .* has \(\), .* has \(1,\)",
        id="event-shape-scalar-vs-vector",
    ),
    pytest.param(
        scipy.stats.norm(),
        scipy.stats.multivariate_normal([0.0, 0.0]),
        10,
        {},
        ValueError,
        r"same event shape: p \(scipy norm\) has \(\), q \(scipy multivariate_normal\) has \(2,\)",
        id="event-shape-scipy",
    ),
    pytest.param(
        STD,
        object(),
        10,
        {},
        TypeError,
        r"q must be .* got object without log_prob\(\)",
        id="q-without-log-prob",
    ),
    pytest.param(
        LogProbOnly(),
        STD,
        10,
        {},
        TypeError,
        r"p must be .* got LogProbOnly without sample\(\)",
        id="p-without-sample",
    ),
    pytest.param(STD, STD, 10, {"seed": "1"}, TypeError, r"seed must be an int", id="seed-str"),
    pytest.param(
        STD, STD, 10, {"seed": -1}, ValueError, r"seed must be in \[0, 2\*\*64\)", id="seed-neg"
    ),
    pytest.param(
        STD,
        STD,
        10,
        {"chunk_size": 0},
        ValueError,
        r"chunk_size must be a positive int",
        id="chunk-0",
    ),
    pytest.param(
        Normal(torch.zeros(3), 1.0),
        Normal(torch.zeros(4), 1.0),
        10,
        {},
        ValueError,
        r"q \(torch Normal\) could not score draws of p \(torch Normal\) of shape \(10, 3\)",
        id="batch-shapes-do-not-broadcast",
    ),
    pytest.param(
        STD,
        NaNDensity(),
        10,
        {},
        ValueError,
        r"q \(NaNDensity\) returned NaN",
        id="q-nan-density",
    ),
]


@pytest.mark.parametrize(("p", "q", "n", "kwargs", "error", "match"), BAD_CALLS)
def test_bad_calls_raise(
    p: Any, q: Any, n: Any, kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        mc_kl(p, q, n, **kwargs)


@pytest.mark.parametrize("level", [0.0, 1.0, -0.5, 1.5, "0.95"])
def test_ci_level_must_be_in_unit_interval(level: Any) -> None:
    res = mc_kl(STD, STD, 10, seed=0)
    with pytest.raises(ValueError, match=r"level must be a number in \(0, 1\)"):
        res.ci(level)


SUPPORT_MISMATCH = [
    pytest.param(Normal(0.0, 1.0), Exponential(1.0), id="torch-normal-exponential"),
    pytest.param(Uniform(0.0, 2.0), Uniform(0.0, 1.0), id="torch-uniform-narrower"),
    pytest.param(scipy.stats.norm(), scipy.stats.expon(), id="scipy-norm-expon"),
    pytest.param(Normal(0.0, 1.0), scipy.stats.uniform(-1.0, 2.0), id="mixed-normal-uniform"),
    # Nested distributions validate their own arguments: mc_kl must get -inf, not an error.
    pytest.param(
        Independent(Normal(torch.zeros(3), 1.0), 1),
        Independent(Exponential(torch.ones(3)), 1),
        id="torch-independent-exponential",
    ),
    pytest.param(
        MixtureSameFamily(Categorical(torch.ones(2)), Normal(torch.zeros(2), 1.0)),
        MixtureSameFamily(Categorical(torch.ones(2)), Exponential(torch.ones(2))),
        id="torch-mixture-exponential",
    ),
]


@pytest.mark.parametrize("estimator", ["k1", "k2", "k3"])
@pytest.mark.parametrize(("p", "q"), SUPPORT_MISMATCH)
def test_support_mismatch_is_inf_with_reason(p: Any, q: Any, estimator: str) -> None:
    res = mc_kl(p, q, 1000, estimator=estimator, seed=0)
    assert float(res.value) == math.inf
    assert float(res.stderr) == 0.0  # KL = ∞ is certain, not uncertain
    assert res.reason is not None and "zero density" in res.reason and "= inf" in res.reason
    assert res.ci() == (math.inf, math.inf) or all(float(v) == math.inf for v in res.ci())


def test_support_mismatch_only_where_it_happens_in_a_batch() -> None:
    # Element 0: q = Uniform(0, 1) ⊇ supp p = (0, 1): finite (= 0). Element 1: q narrower: inf.
    p = Uniform(torch.zeros(2, dtype=torch.float64), torch.ones(2, dtype=torch.float64))
    q = Uniform(torch.zeros(2, dtype=torch.float64), torch.tensor([1.0, 0.5], dtype=torch.float64))
    res = mc_kl(p, q, 1000, seed=0)
    assert res.value[0] == 0.0 and res.value[1] == math.inf
    assert res.reason is not None and "(1,)" in res.reason
    assert not bool(torch.isnan(res.value).any() | torch.isnan(res.stderr).any())


def test_overflowing_k3_is_inf_with_reason_and_k1_is_finite() -> None:
    # The overflowed terms also have an infinite tail shape: that warning is right too.
    with pytest.warns(KLEstimatorWarning, match=r"k3 terms' tail shape k̂ = inf"):
        res = mc_kl(STD, HugeDensity(), 100, estimator="k3", seed=0)
    assert res.value == math.inf and res.stderr == math.inf
    assert res.reason is not None and "overflowed" in res.reason and "k1" in res.reason
    low, high = res.ci()
    assert low == 0.0 and high == math.inf
    k1 = mc_kl(STD, HugeDensity(), 100, estimator="k1", seed=0)
    assert math.isfinite(k1.value) and k1.reason is None


def test_result_is_a_frozen_record() -> None:
    res = mc_kl(STD, STD, 10, seed=0)
    assert isinstance(res, MCResult)
    with pytest.raises(AttributeError):
        res.value = 1.0  # type: ignore[misc]
