"""kl()'s dispatch: most specific registration, ambiguity, fallbacks, bad input.

Tests that register pairs work on a private copy of the registry (the ``registry``
fixture), so nothing they register leaks into other tests.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pytest
import scipy.integrate
import scipy.stats
import torch
from torch.distributions import Gamma, Independent, LogNormal, MultivariateNormal, Normal, Uniform

from klmath import (
    KLAmbiguityWarning,
    KLEstimatorWarning,
    KLMonteCarloWarning,
    KLResult,
    kl,
    register_kl,
)


class Base:
    """A protocol distribution: standard normal, sampled with the given NumPy Generator."""

    event_shape = ()

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return rng.standard_normal(n)

    def log_prob(self, x: np.ndarray) -> np.ndarray:
        return -0.5 * x**2 - 0.5 * math.log(2 * math.pi)


class Child(Base):
    pass


class Other(Base):
    pass


@pytest.mark.usefixtures("registry")
def test_most_specific_registration_wins() -> None:
    register_kl(Base, Base)(lambda p, q: 1.0)
    register_kl(Child, Base)(lambda p, q: 2.0)
    register_kl(Child, Child)(lambda p, q: 3.0)
    assert kl(Base(), Base()).value == 1.0
    assert kl(Child(), Base()).value == 2.0
    assert kl(Child(), Other()).value == 2.0
    assert kl(Child(), Child()).value == 3.0
    assert kl(Other(), Child()).value == 1.0
    res = kl(Child(), Child())
    assert res.exact and res.method == "exact" and "test_registry_dispatch" in res.formula


@pytest.mark.usefixtures("registry")
def test_ambiguity_warns_with_the_settling_call() -> None:
    register_kl(Child, Base)(lambda p, q: 1.0)
    register_kl(Base, Child)(lambda p, q: 2.0)
    with pytest.warns(KLAmbiguityWarning, match=r"Settle it with register_kl\(Child, Child\)"):
        kl(Child(), Child())
    # Settling it removes the warning.
    register_kl(Child, Child)(lambda p, q: 3.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert kl(Child(), Child()).value == 3.0


@pytest.mark.usefixtures("registry")
def test_scipy_families_are_keyed_by_name_or_object() -> None:
    # Logistic distributions with equal scale s: KL depends on the location shift d
    # alone; any function proves the key works, so register a constant per key form.
    register_kl(scipy.stats.logistic, "logistic")(lambda p, q: 1.5)
    res = kl(scipy.stats.logistic(0.0), scipy.stats.logistic(1.0))
    assert res.exact and res.value == 1.5
    register_kl("scipy.logistic", scipy.stats.logistic)(lambda p, q: 2.5)
    assert kl(scipy.stats.logistic(0.0), scipy.stats.logistic(1.0)).value == 2.5
    with pytest.warns(KLMonteCarloWarning):  # other families are not affected
        kl(scipy.stats.gamma(2.0), scipy.stats.logistic(), n=100)


@pytest.mark.usefixtures("registry")
def test_torch_classes_are_keyed_by_name_without_importing_torch() -> None:
    # "torch.Gamma" and the class itself are the same key; a later registration wins.
    register_kl("torch.Gamma", "torch.LogNormal")(lambda p, q: 1.0)
    assert kl(Gamma(2.0, 1.0), LogNormal(0.0, 1.0)).value == 1.0
    register_kl(Gamma, LogNormal)(lambda p, q: 2.0)
    assert kl(Gamma(2.0, 1.0), LogNormal(0.0, 1.0)).value == 2.0


@pytest.mark.usefixtures("registry")
def test_a_registration_may_decline() -> None:
    register_kl(Base, Base)(lambda p, q: NotImplemented)
    with pytest.warns(KLMonteCarloWarning):
        res = kl(Base(), Base(), n=100, seed=0)
    assert not res.exact and res.method == "mc" and res.value == 0.0


GAUSSIANS = [
    pytest.param(
        Normal(0.0, 1.0),
        scipy.stats.norm(1.0, 2.0),
        "klmath.gaussian_kl_diag",
        id="Normal-scipy.norm",
    ),
    pytest.param(
        scipy.stats.norm(0.0, 1.0),
        scipy.stats.norm(1.0, 2.0),
        "klmath.gaussian_kl_diag",
        id="scipy.norm-scipy.norm",
    ),
    pytest.param(
        MultivariateNormal(torch.zeros(2), torch.eye(2)),
        scipy.stats.multivariate_normal([1.0, 0.0], [[4.0, 0.0], [0.0, 4.0]]),
        "klmath.gaussian_kl",
        id="MVN-scipy.mvn",
    ),
    pytest.param(
        Independent(Normal(torch.zeros(2), 1.0), 1),
        scipy.stats.multivariate_normal([1.0, 0.0], [[4.0, 0.0], [0.0, 4.0]]),
        "klmath.gaussian_kl",
        id="Independent-scipy.mvn",
    ),
    pytest.param(
        scipy.stats.multivariate_normal([0.0, 0.0]),
        Independent(Normal(torch.tensor([1.0, 0.0]), 2.0), 1),
        "klmath.gaussian_kl",
        id="scipy.mvn-Independent",
    ),
]


@pytest.mark.parametrize(("p", "q", "formula"), GAUSSIANS)
def test_gaussian_pairs_across_libraries(p: Any, q: Any, formula: str) -> None:
    # Every pair above is N(0, I) ‖ N(e₁, 4I) in d = 1 or 2 dims:
    # KL = d log 2 + d/8 + 1/8 − d/2, written out.
    res = kl(p, q)
    d = 1 if formula == "klmath.gaussian_kl_diag" else 2
    expected = d * math.log(2.0) + d / 8 + 1 / 8 - d / 2
    assert res.exact and res.formula == formula and float(res.stderr) == 0.0
    assert float(res.value) == pytest.approx(expected, rel=16 * float(np.finfo(np.float32).eps))
    assert res.ci() == (res.value, res.value)
    assert float(res) == float(res.value)


def test_result_backend_follows_p() -> None:
    assert isinstance(kl(Normal(0.0, 1.0), scipy.stats.norm(1.0)).value, torch.Tensor)
    assert isinstance(kl(scipy.stats.norm(), Normal(1.0, 1.0)).value, np.float64)


def gamma_lognormal_kl() -> float:
    """KL(Gamma(2, 1) ‖ LogNormal(0, 1)) by adaptive quadrature (scipy.integrate)."""
    p, q = scipy.stats.gamma(2.0), scipy.stats.lognorm(1.0)
    value, _ = scipy.integrate.quad(lambda x: p.pdf(x) * (p.logpdf(x) - q.logpdf(x)), 0, np.inf)
    return value


def test_monte_carlo_fallback_warns_and_is_right() -> None:
    p, q = Gamma(torch.tensor(2.0, dtype=torch.float64), 1.0), LogNormal(0.0, 1.0)
    # k1's tail warning comes with the estimate returned (its k̂, below); k3's, about an
    # estimate kl discarded, does not.
    with (
        pytest.warns(
            KLMonteCarloWarning,
            match=r"p = torch Gamma, q = torch LogNormal.*"
            r"method='mc'",
        ),
        pytest.warns(KLEstimatorWarning, match=r"the k1 terms' tail shape") as tail,
    ):
        res = kl(p, q, n=50_000, seed=0)
    assert not any("k3 terms" in str(w.message) for w in tail)
    assert not res.exact and res.method == "mc" and res.n == 50_000
    # r = q/p ≈ e^x under Gamma(2, 1): k3's terms have a Pareto tail of shape 1 (infinite
    # variance), k1's a stretched-exponential one (every moment finite, though its k̂
    # reads 0.56 at this n), so kl's default returns k1, the lighter-tailed (Notes, rule 4).
    assert res.formula == "klmath.mc_kl(estimator='k1')" and res.mc is not None
    assert abs(float(res.value) - gamma_lognormal_kl()) <= 4 * float(res.stderr)
    low, high = res.ci()
    assert low < res.value < high
    with warnings.catch_warnings():
        # method='mc' silences the fallback warning, not mc_kl's own about the estimate.
        warnings.simplefilter("error", KLMonteCarloWarning)
        warnings.simplefilter("ignore", KLEstimatorWarning)
        again = kl(p, q, method="mc", n=50_000, seed=0)
    assert torch.equal(again.value, res.value)


def test_method_mc_on_a_gaussian_pair_estimates() -> None:
    res = kl(Normal(0.0, 1.0), Normal(1.0, 1.0), method="mc", n=50_000, seed=1, estimator="k1")
    assert not res.exact and abs(float(res.value) - 0.5) <= 4 * float(res.stderr)


def test_exact_infinite_kl_has_a_reason() -> None:
    res = kl(Uniform(0.0, 2.0), Uniform(0.0, 1.0))
    assert res.exact and float(res.value) == math.inf and res.reason is not None
    assert "zero density" in res.reason


BAD_CALLS = [
    pytest.param(
        Gamma(2.0, 1.0),
        scipy.stats.lognorm(1.0),
        {"method": "exact"},
        NotImplementedError,
        r"p = torch Gamma, q = scipy lognorm: use kl\(p, q, method='mc'\).*"
        r"register_kl\(Gamma, scipy.stats.lognorm\)",
        id="exact-unsupported",
    ),
    pytest.param(
        Normal(0.0, 1.0),
        Normal(0.0, 1.0),
        {"method": "fast"},
        ValueError,
        r"method must be one of \('auto', 'exact', 'mc'\), got 'fast'",
        id="unknown-method",
    ),
    pytest.param(
        MultivariateNormal(torch.zeros(2), torch.eye(2)),
        Normal(0.0, 1.0),
        {},
        ValueError,
        r"same event shape: p \(torch MultivariateNormal\) has \(2,\), q \(torch Normal\) has \(\)",
        id="event-shapes",
    ),
    pytest.param(
        scipy.stats.multivariate_normal([0.0, 0.0]),
        scipy.stats.multivariate_normal([0.0]),
        {},
        ValueError,
        r"same event shape",
        id="event-shapes-scipy",
    ),
    pytest.param(
        object(),
        Normal(0.0, 1.0),
        {},
        TypeError,
        r"p must be .* got object without log_prob",
        id="p-not-a-distribution",
    ),
    pytest.param(
        Normal(0.0, 1.0),
        "norm",
        {},
        TypeError,
        r"q must be .* got str without log_prob",
        id="q-a-string",
    ),
]


@pytest.mark.parametrize(("p", "q", "kwargs", "error", "match"), BAD_CALLS)
def test_bad_calls_raise(
    p: Any, q: Any, kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        kl(p, q, **kwargs)


@pytest.mark.parametrize(
    "key",
    [pytest.param(3, id="int"), pytest.param("", id="empty-str"), pytest.param(None, id="None")],
)
def test_register_kl_rejects_bad_keys(key: Any) -> None:
    with pytest.raises(TypeError, match=r"type_p must be a class, a torch class name"):
        register_kl(key, Normal)


def test_kl_result_ci_checks_level() -> None:
    res: KLResult = kl(Normal(0.0, 1.0), Normal(1.0, 1.0))
    with pytest.raises(ValueError, match=r"level must be a number in \(0, 1\)"):
        res.ci(1.0)
