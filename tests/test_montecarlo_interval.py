"""mc_kl's skewness-corrected interval and the one-pass moments behind it.

The correction terms are checked against a SymPy inversion of the Edgeworth expansion
of the Studentized mean (Hall 1992, §2.6, transcribed here, not imported), the whole
pipeline (chunked accumulation → skewness → interval) against mpmath at 50 digits, the
chunk merge against a direct computation, and the interval's invariants by Hypothesis.
Coverage over a grid of pairs is a benchmark (bench/mc_coverage.py), not a test.
"""

from __future__ import annotations

import functools
import itertools
import math
import warnings
from statistics import NormalDist

import mpmath
import numpy as np
import pytest
import scipy.stats
import sympy as sp
import torch
from hypothesis import given
from hypothesis import strategies as st
from strategies import skewed_samples
from torch.distributions import Normal

from klmath import KLEstimatorWarning, mc_kl
from klmath._mc_moments import Moments, skew_offsets
from klmath.montecarlo import MCResult, estimator_terms

EPS = np.finfo(np.float64).eps


@functools.cache
def cornish_fisher_in_gamma() -> sp.Lambda:
    """w(z; s): the quantile of T to O(1/n) from P(T ≤ x) = Φ + ε p₁ φ + ε² p₂ φ, inverted
    by series in ε = n^(−1/2), keeping the terms in γ (κ = 0, t-term dropped); s = εγ."""
    x, z, e, g, k, a, b = sp.symbols("x z epsilon gamma kappa a b", real=True)
    phi = sp.exp(-(x**2) / 2) / sp.sqrt(2 * sp.pi)
    big_phi = (1 + sp.erf(x / sp.sqrt(2))) / 2
    p1 = g * (2 * x**2 + 1) / 6
    p2 = x * (k * (x**2 - 3) / 12 - g**2 * (x**4 + 2 * x**2 - 3) / 18 - (x**2 + 3) / 4)
    cdf = big_phi + e * p1 * phi + e**2 * p2 * phi
    w = z + e * a + e**2 * b
    series = sp.series(cdf.subs(x, w) - big_phi.subs(x, z), e, 0, 3).removeO()
    sol_a = sp.solve(sp.expand(series).coeff(e, 1), a)[0]
    sol_b = sp.solve(sp.expand(series).coeff(e, 2).subs(a, sol_a), b)[0]
    b_gamma = sp.expand(sp.simplify(sol_b.subs(k, 0) - sol_b.subs({k: 0, g: 0})))
    s = sp.Symbol("s", real=True)
    quantile = z + (e * sol_a + e**2 * b_gamma).subs(g, s / e)
    return sp.Lambda((z, s), sp.simplify(quantile))


@pytest.mark.parametrize("z", [0.3, 1.0, 1.959963984540054, 2.5758293035489, 3.3])
@pytest.mark.parametrize("s", [-0.9, -0.2, 0.0, 1e-9, 0.05, 0.3, 0.99])
def test_offsets_are_the_cornish_fisher_quantiles_in_gamma(z: float, s: float) -> None:
    # low = value − se·w(z), high = value − se·w(−z): below = w(z), above = −w(−z).
    w = cornish_fisher_in_gamma()
    n = 2000
    below, above = skew_offsets(z, np.float64(s * math.sqrt(n)), n)
    assert below == pytest.approx(float(w(z, s)), rel=8 * EPS, abs=8 * EPS)
    assert above == pytest.approx(float(-w(-z, s)), rel=8 * EPS, abs=8 * EPS)


def _exact_moments(terms: np.ndarray) -> tuple[mpmath.mpf, mpmath.mpf, mpmath.mpf]:
    """Mean, unbiased variance and moment skewness of float64 terms at 50 digits."""
    with mpmath.workdps(50):
        xs = [mpmath.mpf(float(t)) for t in terms]
        n = len(xs)
        mean = mpmath.fsum(xs) / n
        m2 = mpmath.fsum((t - mean) ** 2 for t in xs)
        m3 = mpmath.fsum((t - mean) ** 3 for t in xs)
        return mean, m2 / (n - 1), mpmath.sqrt(n) * m3 / m2**1.5


@pytest.mark.parametrize("chunk", [3_001, 1000, 7])
def test_k3_interval_against_mpmath(chunk: int) -> None:
    # N(0, 1) ‖ N(0.3, 1.2²): k3's terms are right-skewed (finite third moment).
    n, seed = 3_001, 11
    x = np.random.default_rng(seed).standard_normal(n)
    log_r = scipy.stats.norm(0.3, 1.2).logpdf(x) - scipy.stats.norm().logpdf(x)
    terms = np.expm1(log_r) - log_r
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", KLEstimatorWarning)
        res = mc_kl(scipy.stats.norm(), scipy.stats.norm(0.3, 1.2), n, seed=seed, chunk_size=chunk)
    mean, var, skew = _exact_moments(terms)
    assert float(skew) > 1.0  # the case has the skewness the correction is for
    assert res.skewness == pytest.approx(float(skew), rel=1e-12)
    with mpmath.workdps(50):
        z = mpmath.sqrt(2) * mpmath.erfinv(mpmath.mpf("0.95"))
        se, s = mpmath.sqrt(var / n), skew / mpmath.sqrt(n)
        shift = s * (2 * z**2 + 1) / 6
        half = z * (1 + 5 * (4 * z**2 - 1) * s**2 / 72)
        low, high = mean + se * (shift - half), mean + se * (shift + half)
    got_low, got_high = res.ci(0.95)
    # Summation order differs with the chunks; the mean is ~1e-15 relative, the offsets
    # carry the skewness's ~1e-12.
    assert got_low == pytest.approx(float(low), rel=1e-12)
    assert got_high == pytest.approx(float(high), rel=1e-12)
    # Right skew: the interval moves up and reaches further above the value than below.
    assert got_high > res.ci(0.95, method="normal")[1]
    assert got_high - res.value > res.value - got_low


def _exact_central_sums(column: np.ndarray) -> tuple[float, float, float]:
    """Mean, M₂ and M₃ of float64 values, exactly (mpmath at 50 digits), as floats."""
    with mpmath.workdps(50):
        xs = [mpmath.mpf(float(t)) for t in column]
        mean = mpmath.fsum(xs) / len(xs)
        m2 = mpmath.fsum((t - mean) ** 2 for t in xs)
        m3 = mpmath.fsum((t - mean) ** 3 for t in xs)
        return float(mean), float(m2), float(m3)


@given(skewed_samples())
def test_chunked_moments_equal_one_pass(sample: tuple[np.ndarray, list[int]]) -> None:
    terms, cuts = sample
    (lo, hi), *rest = itertools.pairwise([0, *cuts, terms.shape[0]])
    acc = Moments(terms[lo:hi], third=True)
    for lo, hi in rest:
        acc.merge(Moments(terms[lo:hi], third=True))
    whole = Moments(terms, third=True)
    assert acc.count == whole.count == terms.shape[0]
    assert acc.m3 is not None and whole.m3 is not None
    n = len(terms)
    for j in range(terms.shape[1]):
        mean, m2, m3 = _exact_central_sums(terms[:, j])
        spread = float(np.abs(terms[:, j] - mean).max())
        # Each deviation x − x̄ carries an error d of a few eps·(|x̄| + spread) (the rounding
        # of x̄ itself, and of the merges); M₂ and M₃ inherit it as bounded below.
        dev = 16 * (1 + math.log2(n)) * EPS * (abs(mean) + spread)
        for moments in (acc, whole):
            assert abs(moments.mean[j] - mean) <= dev
            # (s + d)² − s² and (s + d)³ − s³, summed over n deviations of size ≤ s.
            assert abs(moments.m2[j] - m2) <= n * (2 * spread + dev) * dev + 1e-13 * m2
            bound3 = n * (3 * spread**2 + 3 * spread * dev + dev**2) * dev
            assert abs(moments.m3[j] - m3) <= bound3 + 1e-12 * abs(m3)
        if spread > 1e6 * dev:  # skewness well-conditioned: compare with scipy's
            skew = float(scipy.stats.skew(terms[:, j], bias=True))
            assert float(acc.skewness()[j]) == pytest.approx(skew, rel=1e-7, abs=1e-7)


def test_torch_moments_equal_numpy() -> None:
    x = np.random.default_rng(3).exponential(size=(500, 2)) ** 2
    a, b = Moments(x, third=True), Moments(torch.from_numpy(x), third=True)
    for mine, theirs in ((a.mean, b.mean), (a.m2, b.m2), (a.skewness(), b.skewness())):
        np.testing.assert_allclose(theirs.numpy(), mine, rtol=1e-14)


values = st.floats(1e-6, 1e6)
levels = st.floats(0.25, 0.999)


@given(values, st.floats(1e-9, 1e3), st.integers(2, 10**7), levels)
def test_zero_skewness_is_the_normal_interval(
    value: float, stderr: float, n: int, level: float
) -> None:
    res = MCResult(np.float64(value), np.float64(stderr), n, "k1", skewness=np.float64(0.0))
    assert res.ci(level) == res.ci(level, method="normal")
    z = NormalDist().inv_cdf(0.5 + level / 2)
    assert res.ci(level)[1] == value + z * stderr


@given(st.integers(2, 10**6), st.floats(-0.999, 0.999), levels)
def test_interval_invariants(n: int, s: float, level: float) -> None:
    value, stderr = 1e3, 1.0  # far from 0: no clipping
    res = MCResult(value, stderr, n, "k1", skewness=s * math.sqrt(n))
    mirror = MCResult(value, stderr, n, "k1", skewness=-s * math.sqrt(n))
    low, high = res.ci(level)
    m_low, m_high = mirror.ci(level)
    # γ̂ → −γ̂ mirrors the interval about the value.
    assert value - low == pytest.approx(m_high - value, rel=1e-12)
    assert high - value == pytest.approx(value - m_low, rel=1e-12)
    # Right skew reaches further up; for z > ½ never narrower than the normal interval.
    n_low, n_high = res.ci(level, method="normal")
    if s > 0:
        assert high - value >= value - low
    if NormalDist().inv_cdf(0.5 + level / 2) > 0.5:
        assert high - low >= (n_high - n_low) * (1 - 1e-12)
    # Contains the value for level ≥ ½, whatever the skewness (|s| < 1).
    if level >= 0.5:
        assert low < value < high
    # Nested: a higher level gives a wider interval on both sides.
    wide_low, wide_high = res.ci(min(0.9995, level + 0.0004))
    assert wide_low <= low and high <= wide_high


def test_non_finite_skewness_or_infinite_value_gives_the_plain_answer() -> None:
    inf = MCResult(np.float64(np.inf), np.float64(0.0), 10, "k3", skewness=np.float64(5.0))
    assert inf.ci() == (math.inf, math.inf)
    nan = MCResult(np.float64(0.4), np.float64(0.1), 100, "k3", skewness=np.float64(np.nan))
    assert nan.ci() == nan.ci(method="normal")
    with pytest.raises(ValueError, match="method must be 'skew' or 'normal'"):
        nan.ci(method="hall")


def test_batched_torch_interval_and_skewness() -> None:
    p = Normal(torch.zeros(3, dtype=torch.float64), 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", KLEstimatorWarning)
        res = mc_kl(p, Normal(0.3, 1.2), 2000, estimator="k3", seed=4)
    assert res.skewness.shape == (3,) and bool((res.skewness > 0).all())
    low, high = res.ci()
    n_low, n_high = res.ci(method="normal")
    assert bool(((high - res.value) > (res.value - low)).all())
    assert bool(((high - low) >= (n_high - n_low)).all())


def test_the_correction_fixes_a_skewed_finite_variance_pair() -> None:
    # N(0, 1) ‖ ½N(±0.5, 0.8²): r is bounded, every moment of k3 is finite, but its
    # terms are concentrated near 0 with rare large values (skewness ≈ 19): the normal
    # interval under-covers at n = 2000, the corrected one does not. 1000 replicates,
    # fixed seed (binomial sd of a coverage near 95 %: 0.007).
    from torch.distributions import Categorical, MixtureSameFamily

    reps, n = 1000, 2000
    w = Categorical(torch.tensor([0.5, 0.5], dtype=torch.float64))
    q = MixtureSameFamily(w, Normal(torch.tensor([-0.5, 0.5], dtype=torch.float64), 0.8))
    p = Normal(torch.zeros(reps, dtype=torch.float64), 1.0)
    exact = 0.004767579  # quadrature, bench/mc_coverage.py (0.0047676)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", KLEstimatorWarning)
        res = mc_kl(p, q, n, estimator="k3", seed=16, chunk_size=n)

    def coverage(method: str) -> float:
        low, high = res.ci(0.95, method=method)
        return float(((low <= exact) & (exact <= high)).double().mean())

    assert coverage("normal") < 0.93 <= coverage("skew") <= 0.97


def test_k2_gap_is_the_mean_of_k2_minus_k1() -> None:
    n, seed = 2_000, 5
    x = np.random.default_rng(seed).standard_normal(n)
    log_r = scipy.stats.norm(0.5, 0.9).logpdf(x) - scipy.stats.norm().logpdf(x)
    gap = estimator_terms(log_r, "k2") - estimator_terms(log_r, "k1")
    with pytest.warns(KLEstimatorWarning, match="not an interval for KL") as caught:
        res = mc_kl(scipy.stats.norm(), scipy.stats.norm(0.5, 0.9), n, estimator="k2", seed=seed)
    assert not res.reliable and str(caught[0].message) == res.verdict
    se = gap.std(ddof=1) / math.sqrt(n)
    assert f"E[k2] − KL = {gap.mean():+.3g} ± {se:.2g}" in res.verdict
