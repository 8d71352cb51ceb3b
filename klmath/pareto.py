"""Pareto k̂: how heavy the tail of a sample is, and so which moments exist.

A distribution whose upper tail decays like a power, P(X > x) ~ x^(−1/k), has finite
moments E|X|^a only for a < 1/k. The shape k of the generalized Pareto distribution
(GPD) fitted to the largest draws estimates that exponent (Pickands 1975): k < ½ means
a finite variance (the central limit theorem and normal error bars apply), ½ ≤ k < 1 a
finite mean but an infinite variance (the sample mean converges, slower than 1/√n, and
the sample standard deviation understates the spread), k ≥ 1 no mean at all. Light
tails (Gaussian, exponential) give k ≈ 0, bounded ones k < 0.

:func:`pareto_khat` is the diagnostic of Pareto smoothed importance sampling
(Vehtari, Simpson, Gelman, Yao & Gabry, *Pareto Smoothed Importance Sampling*, JMLR 25,
2024): the M = ⌊3√S⌋ largest of S draws (⌊S/5⌋ when S ≤ 225) minus the next largest
are fitted by the empirical-Bayes estimator of Zhang & Stephens (*Technometrics* 51,
2009), and the estimate is shrunk towards ½ by a weak prior worth 10 draws,
k̂ = (M·k + 10·½)/(M + 10). :func:`gpd_fit` is that fit, vectorised over a batch.
Both agree with ``arviz_stats`` to rounding (tested).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["gpd_fit", "khat_threshold", "pareto_khat", "tail_count"]

# Zhang & Stephens' grid: 30 + ⌊√M⌋ points; prior scale 3 for the grid of θ; the
# PSIS prior on k: 10 pseudo-draws at k = ½ (Vehtari et al. 2024, appendix C).
_GRID_MIN = 30
_PRIOR_B = 3.0
_PRIOR_K_WEIGHT = 10.0
_PRIOR_K_MEAN = 0.5


def tail_count(n: int) -> int:
    """Return M, the number of largest draws the tail fit uses out of ``n`` (PSIS rule).

    ⌊3√n⌋ when n > 225, else ⌊n/5⌋; at least 5 are needed, so n ≥ 25.
    """
    return math.floor(3.0 * math.sqrt(n)) if n > 225 else n // 5


def khat_threshold(n: int) -> float:
    """Return PSIS's sample-size-dependent threshold min(1 − 1/log₁₀ n, 0.7) for k̂.

    Above it, Vehtari et al. (2024, section 3.2.3) find even Pareto-*smoothed*
    estimates unreliable with n draws; it is 0.7 from n ≈ 2154 on.
    """
    return min(1.0 - 1.0 / math.log10(n), 0.7) if n > 1 else -math.inf


def gpd_fit(exceedances: Any) -> tuple[np.ndarray, np.ndarray]:
    """Return the GPD shape k̂ (prior-adjusted, as in PSIS) and scale σ̂ of each column.

    Parameters
    ----------
    exceedances : array_like, shape (M, ...)
        Non-negative exceedances over a threshold, **sorted ascending along axis 0**,
        M ≥ 5, at least one positive per column.

    Returns
    -------
    k, sigma : numpy.ndarray, shape (...): one per column
        Zhang & Stephens' posterior-mean estimate of θ = −k/σ on their grid, then
        k = mean log(1 − θx) (sign as in Pickands: k > 0 is a heavy tail) shrunk by
        k ← (M·k + 10·½)/(M + 10); σ from the unshrunk k.
    """
    x = np.asarray(exceedances, dtype=np.float64)
    m = x.shape[0]
    if m < 5:
        raise ValueError(f"gpd_fit needs at least 5 exceedances, got {m}")
    grid = _GRID_MIN + int(math.sqrt(m))
    j = np.arange(1, grid + 1, dtype=np.float64).reshape(grid, *(1,) * (x.ndim - 1))
    quartile = x[int(m / 4 + 0.5) - 1]
    b = 1.0 / x[-1] + (1.0 - np.sqrt(grid / (j - 0.5))) / (_PRIOR_B * quartile)  # (grid, *B)
    with np.errstate(divide="ignore", invalid="ignore"):
        # One grid point at a time: memory stays O(M · batch), not O(grid · M · batch).
        k_grid = np.stack([np.log1p(-bj * x).mean(axis=0) for bj in b])  # (grid, *B)
        profile = m * (np.log(-b / k_grid) - k_grid - 1.0)
    profile = profile - profile.max(axis=0)
    weights = np.exp(profile)
    weights = np.where(weights >= 10 * np.finfo(np.float64).eps * weights.sum(0), weights, 0.0)
    b_post = (b * weights).sum(0) / weights.sum(0)
    k = np.log1p(-b_post * x).mean(0)
    sigma = -k / b_post
    k = (m * k + _PRIOR_K_WEIGHT * _PRIOR_K_MEAN) / (m + _PRIOR_K_WEIGHT)
    return k, sigma


def pareto_khat(x: Any, *, axis: int = 0, tail: str = "right") -> Any:
    """Return the Pareto shape k̂ of the tail of the draws ``x`` along ``axis``.

    Parameters
    ----------
    x : array_like or torch.Tensor
        Draws (S of them along ``axis``, S ≥ 25); other axes are a batch.
    axis : int
        The draws axis.
    tail : {"right", "left", "both"}
        Which tail: the largest draws, the smallest (of −x), or the heavier of the two.

    Returns
    -------
    numpy.ndarray (or float for 1-D input)
        k̂ per batch element; ``-inf`` where the tail is constant (all of the M + 1
        largest draws equal: nothing heavy there), ``nan`` where a draw is NaN. With
        ties at the threshold (discrete data) so many that the first quartile of the
        exceedances is 0, only the positive exceedances are fitted (arviz-stats returns
        an artefact there); otherwise equal to arviz-stats' ``pareto_khat``.

    Raises
    ------
    ValueError
        If there are fewer than 25 draws, or ``tail`` is unknown.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> bool(abs(pareto_khat(rng.pareto(2.0, 4000) + 1.0) - 0.5) < 0.15)   # k = 1/2
    True
    >>> bool(pareto_khat(rng.standard_normal(4000)) < 0.3)                  # light tail
    True
    """
    if tail not in ("right", "left", "both"):
        raise ValueError(f"tail must be 'right', 'left' or 'both', got {tail!r}")
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    arr = np.moveaxis(np.asarray(x, dtype=np.float64), axis, 0)
    s = arr.shape[0]
    if s < 25:
        raise ValueError(f"pareto_khat needs at least 25 draws along axis {axis}, got {s}")
    m = tail_count(s)
    if tail == "both":
        k = np.maximum(_khat_sorted_top(_top(arr, m + 1)), _khat_sorted_top(_top(-arr, m + 1)))
    else:
        k = _khat_sorted_top(_top(arr if tail == "right" else -arr, m + 1))
    return float(k) if k.ndim == 0 else k


def _top(arr: np.ndarray, count: int) -> np.ndarray:
    """The ``count`` largest values along axis 0, sorted ascending."""
    part = np.partition(arr, arr.shape[0] - count, axis=0)[arr.shape[0] - count :]
    return np.sort(part, axis=0)


def khat_from_top(top: Any) -> np.ndarray:
    """Return k̂ from the M + 1 largest draws sorted ascending along axis 0 (M ≥ 5).

    The smallest of them is the threshold; the M others minus it are the exceedances.
    """
    return _khat_sorted_top(np.asarray(top, dtype=np.float64))


def _khat_sorted_top(top: np.ndarray) -> np.ndarray:
    nan = np.isnan(top).any(0)
    top = np.where(np.isnan(top), 0.0, top)
    exceed = top[1:] - top[:1]
    flat = exceed[-1] <= 0.0  # all M + 1 equal: a bounded (constant) tail
    # Columns with +inf draws or no spread get placeholder data; their k̂ is set below.
    bad = flat | ~np.isfinite(exceed).all(0)
    ramp = np.arange(1.0, exceed.shape[0] + 1).reshape(-1, *(1,) * (top.ndim - 1))
    safe = np.where(bad, ramp, exceed)
    # Ties at the threshold (an atom: discrete data) can leave a zero first quartile,
    # where Zhang & Stephens' grid is undefined; such columns are fitted on their
    # positive exceedances alone (k̂ = −inf if fewer than 5: no tail to speak of).
    quartile = safe[int(safe.shape[0] / 4 + 0.5) - 1]
    tied = ~bad & (quartile <= 0.0)
    safe = np.where(tied, ramp, safe)
    with np.errstate(over="ignore", invalid="ignore"):
        k, _ = gpd_fit(safe)
    if tied.any():
        flat_exceed = exceed.reshape(exceed.shape[0], -1)
        k_flat = k.reshape(-1)
        for col in np.flatnonzero(tied.reshape(-1)):
            positive = flat_exceed[:, col][flat_exceed[:, col] > 0.0]
            k_flat[col] = gpd_fit(positive)[0] if positive.size >= 5 else -np.inf
        k = k_flat.reshape(k.shape)
    k = np.where(flat, -np.inf, k)
    k = np.where(~flat & bad, np.inf, k)
    return np.where(nan, np.nan, k)
