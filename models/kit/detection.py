"""How every detector is judged: thresholds, error rates and ranking metrics, in plain NumPy.

The autoencoder and the VAE (−ELBO as a score) share this module, so both are
judged by the same rule (:func:`detection_report`).

Convention everywhere: a higher score means more anomalous; label 1 = anomaly
(positive), label 0 = normal (negative).

* :func:`sigma_threshold`: the seed's rule, mean + k·std of validation scores.
* :func:`quantile_threshold`: the alternative, an empirical (split-conformal)
  quantile of validation scores for a target type I error α.
* :func:`cantelli_bound`: the distribution-free type I guarantee of the k-σ rule.
* :func:`roc_curve`, :func:`auroc`, :func:`average_precision`: ties between
  scores are handled exactly (a tie between a normal and an anomalous input
  counts one half in the AUROC; tied scores enter the precision-recall curve
  as one step), matching the usual definitions (those of scikit-learn).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = [
    "auroc",
    "average_precision",
    "cantelli_bound",
    "check_alpha",
    "detection_report",
    "error_rates",
    "quantile_threshold",
    "roc_curve",
    "sigma_threshold",
]


def _scores(x: object, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 1 or a.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array of scores, got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        bad = int(np.flatnonzero(~np.isfinite(a))[0])
        raise ValueError(f"{name} must be finite, got {a[bad]} at index {bad}")
    return a


def _labels_scores(labels: object, scores: object) -> tuple[np.ndarray, np.ndarray]:
    s = _scores(scores, "scores")
    y = np.asarray(labels)
    if y.shape != s.shape:
        raise ValueError(f"labels must have the shape of scores {s.shape}, got {y.shape}")
    if not np.all((y == 0) | (y == 1)):
        raise ValueError(f"labels must be 0 (normal) or 1 (anomaly), got {np.unique(y)}")
    y = y.astype(bool)
    if y.all() or not y.any():
        raise ValueError("labels must contain both classes (0 = normal and 1 = anomaly)")
    return y, s


def sigma_threshold(scores: object, k: float = 3.0, *, ddof: int = 1) -> float:
    """Return mean + k·std of ``scores`` (the seed's rule with k = 3).

    ``ddof=1`` (the sample standard deviation, as ``numpy.std(..., ddof=1)``) is
    the default; with 10,000 validation scores it differs from ddof=0 by 5e-5
    relative.
    """
    s = _scores(scores, "scores")
    if s.size <= ddof:
        raise ValueError(f"scores needs more than ddof={ddof} values, got {s.size}")
    return float(s.mean() + k * s.std(ddof=ddof))


def quantile_threshold(scores: object, alpha: float) -> float:
    """Return the split-conformal (1 − α) quantile of validation ``scores``.

    With n validation scores sorted as s_(1) ≤ … ≤ s_(n), the threshold is
    s_(m) with m = ⌈(1 − α)(n + 1)⌉. For a new normal input exchangeable with the
    validation set, P(s > threshold) ≤ (n + 1 − m)/(n + 1) ≤ α, whatever the score
    distribution (the "+1" is what makes this a guarantee, not an estimate).

    Raises
    ------
    ValueError
        ``alpha`` outside (0, 1), or fewer than 1/α − 1 scores (m > n: no
        validation score is large enough for that α).
    """
    s = np.sort(_scores(scores, "scores"))
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    n = s.size
    # the small slack keeps e.g. (1 - 0.01) * 100 from rounding up to 100.00000000000001 -> 101
    m = math.ceil((1.0 - alpha) * (n + 1) - 1e-9)
    if m > n:
        raise ValueError(
            f"alpha={alpha} needs at least {math.ceil(1 / alpha - 1)} validation scores, got {n}"
        )
    return float(s[max(m, 1) - 1])


def cantelli_bound(k: float) -> float:
    """Return 1/(1 + k²), Cantelli's bound on P(S − μ ≥ kσ) for any distribution.

    For the k-σ threshold this bounds the type I error (μ, σ the population
    mean and std of normal scores); k = 3 gives 10 %.
    """
    if k <= 0:
        raise ValueError(f"k must be positive, got {k}")
    return 1.0 / (1.0 + k * k)


def error_rates(
    normal_scores: object, anomaly_scores: object, threshold: float
) -> tuple[float, float]:
    """Return (type I, type II): P(normal score > threshold), P(anomaly score ≤ threshold)."""
    neg = _scores(normal_scores, "normal_scores")
    pos = _scores(anomaly_scores, "anomaly_scores")
    return float(np.mean(neg > threshold)), float(np.mean(pos <= threshold))


def _tie_groups(
    labels: np.ndarray, scores: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct scores, descending, with the number of positives and negatives at each."""
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], labels[order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    pos = np.add.reduceat(y.astype(np.int64), starts)
    neg = np.diff(np.r_[starts, s.size]) - pos
    return s[starts], pos, neg


def roc_curve(labels: object, scores: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (fpr, tpr, thresholds) of the ROC curve, one point per distinct score.

    Point j flags every input with score ≥ thresholds[j]; the curve starts at
    (0, 0) with threshold +inf and ends at (1, 1). Tied scores give one point, so
    the curve is a straight segment across a tie.

    Examples
    --------
    >>> fpr, tpr, thr = roc_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> fpr.tolist(), tpr.tolist()
    ([0.0, 0.0, 0.5, 0.5, 1.0], [0.0, 0.5, 0.5, 1.0, 1.0])
    """
    y, s = _labels_scores(labels, scores)
    distinct, pos, neg = _tie_groups(y, s)
    tpr = np.r_[0, np.cumsum(pos)] / y.sum()
    fpr = np.r_[0, np.cumsum(neg)] / (~y).sum()
    return fpr, tpr, np.r_[np.inf, distinct]


def auroc(labels: object, scores: object) -> float:
    """Return the area under the ROC curve, P(S₁ > S₀) + ½·P(S₁ = S₀).

    S₁ is the score of a random anomaly, S₀ of a random normal input. Computed
    as the Mann–Whitney statistic from mid-ranks, exact for ties, in
    O(n log n).

    Examples
    --------
    >>> auroc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.75
    >>> auroc([0, 1], [0.5, 0.5])
    0.5
    """
    y, s = _labels_scores(labels, scores)
    order = np.argsort(s, kind="stable")
    ss = s[order]
    starts = np.flatnonzero(np.r_[True, ss[1:] != ss[:-1]])
    ends = np.r_[starts[1:], ss.size]
    # mid-rank of a tie group occupying (1-based) ranks starts+1 .. ends
    mid = (starts + 1 + ends) / 2.0
    ranks = np.empty(s.size)
    ranks[order] = np.repeat(mid, ends - starts)
    n1 = int(y.sum())
    n0 = s.size - n1
    u = ranks[y].sum() - n1 * (n1 + 1) / 2.0
    return float(u / (n0 * n1))


def average_precision(labels: object, scores: object) -> float:
    """Return the average precision, Σₙ (Rₙ − Rₙ₋₁)·Pₙ over distinct thresholds.

    Rₙ and Pₙ are recall and precision when every input with score ≥ the n-th
    largest distinct score is flagged (the step-wise area under the
    precision-recall curve, without interpolation; scikit-learn's definition).

    Examples
    --------
    >>> round(average_precision([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]), 12)
    0.833333333333
    """
    y, s = _labels_scores(labels, scores)
    _, pos, neg = _tie_groups(y, s)
    tp = np.cumsum(pos)
    precision = tp / (tp + np.cumsum(neg))
    return float(np.sum(pos / y.sum() * precision))


def check_alpha(alpha: float, n_validation: int) -> None:
    """Raise UserError before any training when ``--alpha`` needs more validation scores."""
    from models.kit.errors import UserError

    if not 0.0 < alpha < 1.0:
        raise UserError(f"--alpha must be in (0, 1), got {alpha}")
    need = math.ceil(1 / alpha - 1 - 1e-9)
    if n_validation < need:
        raise UserError(f"--alpha {alpha} needs --n-validation >= {need}, got {n_validation}")


def _ranking(normal: np.ndarray, anomaly: np.ndarray) -> dict[str, float]:
    labels = np.r_[np.zeros(normal.size), np.ones(anomaly.size)]
    scores = np.r_[normal, anomaly]
    return {"auroc": auroc(labels, scores), "average_precision": average_precision(labels, scores)}


def _rates(normal: np.ndarray, anomaly: np.ndarray, threshold: float) -> dict[str, float]:
    type_i, type_ii = error_rates(normal, anomaly, threshold)
    return {"type_i_error": type_i, "type_ii_error": type_ii}


def detection_report(scores: dict[str, np.ndarray], *, k: float, alpha: float) -> dict[str, Any]:
    """Return the metrics of a detector computed from its scores alone.

    Parameters
    ----------
    scores : dict of 1-D arrays
        "validation" (sets the thresholds), "mnist_test" (normal), "kmnist_test"
        (anomalies) and optionally "fashion_test" (a second anomaly set).
    k : float
        Threshold = mean + k·std (ddof = 1) of the validation scores (``--k``).
    alpha : float
        Target type I error of the split-conformal quantile threshold (``--alpha``).

    Returns
    -------
    dict
        threshold, type_i_error, type_ii_error, auroc, average_precision,
        cantelli_type_i_bound, quantile_threshold {...} and, with Fashion-MNIST
        scores, fashion {type_ii_error, auroc, average_precision}.
    """
    val, normal = scores["validation"], scores["mnist_test"]
    sigma_thr = sigma_threshold(val, k, ddof=1)
    quant_thr = quantile_threshold(val, alpha)
    report: dict[str, Any] = {
        "k": k,
        "threshold": sigma_thr,
        "threshold_rule": f"mean + {k:g} * std (ddof=1) of validation scores",
        "validation_score_mean": float(val.mean()),
        "validation_score_std_ddof1": float(val.std(ddof=1)),
        **_rates(normal, scores["kmnist_test"], sigma_thr),
        **_ranking(normal, scores["kmnist_test"]),
        "cantelli_type_i_bound": cantelli_bound(k),
        "quantile_threshold": {
            "alpha": alpha,
            "rule": "split-conformal: s_(ceil((1-alpha)(n+1))) of the n validation scores",
            "threshold": quant_thr,
            **_rates(normal, scores["kmnist_test"], quant_thr),
        },
    }
    if "fashion_test" in scores:
        report["fashion"] = {
            "type_ii_error": error_rates(normal, scores["fashion_test"], sigma_thr)[1],
            **_ranking(normal, scores["fashion_test"]),
        }
        report["quantile_threshold"]["fashion_type_ii_error"] = error_rates(
            normal, scores["fashion_test"], quant_thr
        )[1]
    return report
