"""A p whose draws are chosen log-ratios, and their exact Monte Carlo record (mpmath).

``Draws(t)`` hands out the rows of the array ``t`` (shape ``(n, *batch)``) in order, chunk
after chunk, with log p = 0 at each; ``LogRatioIs`` scores a draw x by log q(x) = x. So
mc_kl sees log r = log q − log p = t exactly: its value, standard error and reasons
have an independent answer, computed here at 50 digits from the definitions
(k1 = −t, k2 = t²/2, k3 = eᵗ − 1 − t; a term beyond the largest float64 overflows).
"""

from __future__ import annotations

import sys
from typing import Any

import mpmath
import numpy as np
import torch

FLOAT64_MAX = sys.float_info.max


class Draws:
    """p: "draws" the rows of ``t`` in order (NumPy, or torch on ``device``); log p = 0."""

    event_shape = ()

    def __init__(self, t: Any, backend: str = "numpy", device: Any = None) -> None:
        self.t = np.asarray(t, dtype=np.float64)
        self.batch_shape = self.t.shape[1:]
        self.backend = backend
        self.device = torch.device("cpu") if device is None else torch.device(device)
        self.done = 0

    def sample(self, n: int, rng: np.random.Generator) -> Any:
        rows = self.t[self.done : self.done + n].copy()
        self.done += n
        if self.backend == "torch":
            return torch.as_tensor(rows, device=self.device)
        return rows

    def log_prob(self, x: Any) -> Any:
        return torch.zeros_like(x) if isinstance(x, torch.Tensor) else np.zeros_like(x)


class LogRatioIs:
    """q with log q(x) = x at a draw x of :class:`Draws` (so log r = x)."""

    event_shape = ()

    def __init__(self, batch_shape: tuple[int, ...]) -> None:
        self.batch_shape = batch_shape

    def log_prob(self, x: Any) -> Any:
        return x


def exact_term(t: float, estimator: str) -> mpmath.mpf:
    """k(t) at 50 digits (t finite)."""
    with mpmath.workdps(50):
        u = mpmath.mpf(t)
        if estimator == "k1":
            return -u
        if estimator == "k2":
            return u * u / 2
        return mpmath.expm1(u) - u


def exact_column(t: np.ndarray, estimator: str) -> dict[str, Any]:
    """What mc_kl must report for one batch element with log-ratio draws ``t``.

    ``zero``: q has zero density at some draw (t = −∞: KL = ∞ exactly); ``over``: no
    zero, but some term exceeds float64; otherwise ``mean`` and ``stderr`` =
    sqrt(Σ(k − k̄)² / (n (n − 1))), and ``check_mean`` / ``check_stderr`` for r − 1.
    """
    n = len(t)
    zeros = int(np.sum(t == -np.inf))
    out: dict[str, Any] = {"zero": zeros > 0, "zeros": zeros, "over": False, "overs": 0}
    if zeros:
        return out
    with mpmath.workdps(50):
        terms = [exact_term(float(v), estimator) for v in t]
        out["overs"] = sum(k > FLOAT64_MAX for k in terms)
        out["over"] = out["overs"] > 0
        if out["over"]:
            return out
        out["mean"], out["stderr"] = _mean_stderr(terms, n)
        out["scale"] = float(max(abs(k) for k in terms))
        if all(float(v) < 700 for v in t):
            checks = [mpmath.expm1(mpmath.mpf(float(v))) for v in t]
            out["check_mean"], out["check_stderr"] = _mean_stderr(checks, n)
    return out


def _mean_stderr(values: list[Any], n: int) -> tuple[float, float]:
    mean = mpmath.fsum(values) / n
    m2 = mpmath.fsum((v - mean) ** 2 for v in values)
    return float(mean), float(mpmath.sqrt(m2 / (n * (n - 1))))
