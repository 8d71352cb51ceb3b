"""models.anomaly: thresholds, error rates, AUROC and AP against hand-computed cases."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import labelled_scores

from models.anomaly import (
    auroc,
    average_precision,
    cantelli_bound,
    error_rates,
    quantile_threshold,
    roc_curve,
    sigma_threshold,
)

EPS = np.finfo(np.float64).eps


# -- hand-computed cases -----------------------------------------------------------------------
# labels, scores, AUROC, AP worked out by hand:
#   AUROC = (#pairs anomaly > normal + ½ #ties) / (n0 n1)
#   AP = Σ over distinct thresholds (descending) of Δrecall · precision
HAND_CASES = [
    # pairs (pos, neg): (.35,.1) win, (.35,.4) lose, (.8,.1) win, (.8,.4) win -> 3/4.
    # thresholds .8: P=1, R=1/2; .4: P=1/2, R=1/2; .35: P=2/3, R=1 -> 1/2 + 1/2·2/3 = 5/6.
    pytest.param([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], Fraction(3, 4), Fraction(5, 6), id="mixed"),
    # ties across classes: pos 2 vs neg {2, 0}: ½ + 1; pos 1 vs neg {2, 0}: 0 + 1 -> 2.5/4.
    # thresholds 2: TP 1, FP 1, P=1/2, R=1/2; 1: TP 2, FP 1, P=2/3, R=1 -> 1/4 + 1/3 = 7/12.
    pytest.param([1, 0, 1, 0], [2, 2, 1, 0], Fraction(5, 8), Fraction(7, 12), id="tie"),
    # all scores equal: every pair a tie -> ½; one threshold: P = 1/3, R = 1 -> 1/3.
    pytest.param([0, 1, 0], [5, 5, 5], Fraction(1, 2), Fraction(1, 3), id="all-tied"),
    pytest.param([0, 0, 1], [1, 2, 3], Fraction(1), Fraction(1), id="perfect"),
    # reversed: the anomaly is ranked last -> AUROC 0; P at its threshold = 1/3 -> AP 1/3.
    pytest.param([1, 0, 0], [1, 2, 3], Fraction(0), Fraction(1, 3), id="reversed"),
]


@pytest.mark.parametrize(("labels", "scores", "auc", "ap"), HAND_CASES)
def test_auroc_and_ap_hand_cases(labels: list, scores: list, auc: Fraction, ap: Fraction) -> None:
    assert auroc(labels, scores) == pytest.approx(float(auc), abs=4 * EPS)
    assert average_precision(labels, scores) == pytest.approx(float(ap), abs=4 * EPS)


def test_roc_curve_hand_case_with_tie() -> None:
    fpr, tpr, thr = roc_curve([1, 0, 1, 0], [2, 2, 1, 0])
    # one point per distinct score: ≥2 flags one of each, ≥1 both anomalies, ≥0 all
    assert fpr.tolist() == [0, 0.5, 0.5, 1]
    assert tpr.tolist() == [0, 0.5, 1, 1]
    assert thr.tolist() == [np.inf, 2, 1, 0]


def test_error_rates_strict_and_weak_inequalities() -> None:
    # normal flagged iff s > t (2 of 4: 3 and 4, not the 2 equal to t); anomaly missed iff s <= t
    type_i, type_ii = error_rates([1, 2, 3, 4], [2, 2.5, 9], threshold=2.0)
    assert (type_i, type_ii) == (0.5, 1 / 3)


def test_sigma_threshold_hand_case() -> None:
    # mean 3, sample variance Σ(x - 3)² / 4 = 10/4 -> std √10 / 2
    assert sigma_threshold([1, 2, 3, 4, 5]) == pytest.approx(3 + 3 * math.sqrt(10) / 2, rel=4 * EPS)
    assert sigma_threshold([1, 2, 3, 4, 5], k=1, ddof=0) == pytest.approx(3 + math.sqrt(2))


def test_quantile_threshold_hand_case() -> None:
    # n = 99, α = 0.1: m = ⌈0.9 · 100⌉ = 90 -> the 90th smallest, 90; 9 of 99 lie above
    s = np.arange(99, 0, -1.0)
    assert quantile_threshold(s, 0.1) == 90.0
    # α = 0.01 needs n + 1 ≥ 100: n = 99 gives m = 99, the maximum
    assert quantile_threshold(s, 0.01) == 99.0


def test_quantile_threshold_conformal_guarantee_monte_carlo() -> None:
    # For exchangeable scores P(new > s_(m)) = (n + 1 - m)/(n + 1) exactly: n = 19, α = 0.2
    # gives m = 16 and 4/20 = 0.2. 20,000 draws; error judged in standard errors.
    rng = np.random.default_rng(12345)
    n, reps, alpha = 19, 20_000, 0.2
    draws = rng.standard_exponential((reps, n + 1))
    thresholds = np.array([quantile_threshold(row[:n], alpha) for row in draws])
    rate = np.mean(draws[:, n] > thresholds)
    p = 4 / 20
    assert abs(rate - p) < 4 * math.sqrt(p * (1 - p) / reps)


def test_cantelli_bound_is_attained_by_a_two_point_law() -> None:
    # X = k w.p. 1/(1+k²), -1/k otherwise has mean 0, variance 1 and P(X ≥ kσ) = 1/(1+k²):
    # the 3-σ rule cannot promise less than 10 % without assumptions on the scores.
    for k in (Fraction(1), Fraction(2), Fraction(3)):
        p = 1 / (1 + k * k)
        mean = p * k + (1 - p) * (-1 / k)
        var = p * k * k + (1 - p) / (k * k) - mean**2
        assert mean == 0 and var == 1
        assert cantelli_bound(float(k)) == pytest.approx(float(p), rel=2 * EPS)
    assert cantelli_bound(3.0) == pytest.approx(0.1, rel=2 * EPS)


# -- independent references over drawn inputs -------------------------------------------------
@settings(max_examples=200)
@given(labelled_scores())
def test_auroc_equals_pairwise_count(case: tuple[np.ndarray, np.ndarray]) -> None:
    labels, scores = case
    pos, neg = scores[labels == 1], scores[labels == 0]
    diff = pos[:, None] - neg[None, :]
    brute = (np.sum(diff > 0) + 0.5 * np.sum(diff == 0)) / diff.size
    assert auroc(labels, scores) == pytest.approx(brute, abs=8 * EPS)


@settings(max_examples=200)
@given(labelled_scores())
def test_auroc_equals_trapezoid_area_of_roc_curve(case: tuple[np.ndarray, np.ndarray]) -> None:
    labels, scores = case
    fpr, tpr, _ = roc_curve(labels, scores)
    assert fpr[0] == tpr[0] == 0 and fpr[-1] == tpr[-1] == 1
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
    area = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))
    assert auroc(labels, scores) == pytest.approx(area, abs=8 * EPS)


@settings(max_examples=200)
@given(labelled_scores(), st.randoms(use_true_random=False))
def test_ap_without_ties_is_mean_precision_at_each_anomaly(
    case: tuple[np.ndarray, np.ndarray], rnd: object
) -> None:
    labels, _ = case
    # distinct scores: AP = (1/P) Σ over anomalies of (anomalies ranked ≤ r) / r
    scores = np.array(rnd.sample(range(1000), labels.size), dtype=float)  # type: ignore[attr-defined]
    ranked = labels[np.argsort(-scores)]
    hits = np.cumsum(ranked)
    ref = np.mean((hits / np.arange(1, labels.size + 1))[ranked == 1])
    assert average_precision(labels, scores) == pytest.approx(ref, abs=8 * EPS)


# -- bad input -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("call", "match"),
    [
        pytest.param(lambda: auroc([0, 0], [1, 2]), "both classes", id="one-class"),
        pytest.param(lambda: auroc([0, 1], [1, 2, 3]), "shape of scores", id="shape"),
        pytest.param(lambda: auroc([0, 2], [1, 2]), "0 .normal. or 1", id="label-2"),
        pytest.param(lambda: average_precision([0, 1], [1, np.nan]), "finite", id="nan"),
        pytest.param(lambda: roc_curve([], []), "non-empty 1-D", id="empty"),
        pytest.param(lambda: sigma_threshold([1.0]), "more than ddof=1", id="one-score"),
        pytest.param(
            lambda: quantile_threshold([1, 2], 0.0), r"alpha must be in \(0, 1\)", id="a0"
        ),
        pytest.param(lambda: quantile_threshold(range(5), 0.1), "at least 9", id="too-few"),
        pytest.param(lambda: cantelli_bound(0), "k must be positive", id="k0"),
        pytest.param(lambda: error_rates([[1.0]], [1.0], 0.5), "1-D", id="2d"),
    ],
)
def test_bad_input(call: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()  # type: ignore[operator]
