"""Private: one-pass moments of Monte Carlo terms and the skewness-corrected interval.

Moments
-------
:func:`klmath.mc_kl` draws in chunks. Per chunk and batch element it keeps the count,
the mean and the sums of squared and cubed deviations, M₂ = Σ(x − x̄)² and
M₃ = Σ(x − x̄)³ (two passes over the chunk in float64), and merges chunks with the
pairwise update of Chan, Golub & LeVeque (1979), extended to M₃ by Pébay (2008,
Sandia report SAND2008-6212, eq. 3.1): for samples a, b with n = nₐ + n_b and
δ = x̄_b − x̄ₐ,

    x̄  = x̄ₐ + δ n_b / n
    M₂ = M₂ₐ + M₂_b + δ² nₐ n_b / n
    M₃ = M₃ₐ + M₃_b + δ³ nₐ n_b (nₐ − n_b) / n² + 3δ (nₐ M₂_b − n_b M₂ₐ) / n.

No sum of raw powers is ever formed, so nothing cancels catastrophically.

The interval
------------
The normal interval x̄ ± z·s/√n treats T = √n (x̄ − μ)/s as N(0, 1). For terms of
skewness γ and excess kurtosis κ the Edgeworth expansion of the Studentized mean is
(Hall, *The Bootstrap and Edgeworth Expansion*, 1992, §2.6)

    P(T ≤ x) = Φ(x) + n^(−1/2) p₁(x) φ(x) + n^(−1) p₂(x) φ(x) + O(n^(−3/2)),
    p₁(x) = γ (2x² + 1) / 6,
    p₂(x) = x { κ (x² − 3)/12 − γ² (x⁴ + 2x² − 3)/18 − (x² + 3)/4 }.

For right-skewed terms (γ > 0) T is left-skewed: a sample that misses the rare large
terms has a small mean *and* a small s. Each one-sided error of the normal interval is
of order n^(−1/2); they cancel at first order in the two-sided coverage, whose error
2 p₂(z) φ(z) / n is dominated at n = 2000 by −γ² (z⁴ + 2z² − 3)/18 when γ is 10 to 40
(k2, k3 terms: ``bench/mc_term_moments.py``).

Inverting the expansion (Cornish–Fisher) gives the quantiles of T,
w(x) = x − n^(−1/2) p₁(x) + n^(−1) (p₁p₁′ − ½ x p₁² − p₂)(x) + O(n^(−3/2)). Keeping the
terms in γ, with s = γ̂/√n,

    w(x) = x − s (2x² + 1)/6 + s² · 5x (4x² − 1)/72,

and the interval [x̄ − se·w(z), x̄ − se·w(−z)] is

    x̄ + se · s (2z² + 1)/6  ±  se · z (1 + 5 (4z² − 1) s² / 72).

The first-order term is the one Johnson's (1978) and Hall's (1992) corrections remove
(each one-sided error drops to O(1/n)); the second is the γ² part of the O(1/n) term.
Left out: the kurtosis term of p₂, which for κ > 0 and z > √3 (levels above 0.92)
*narrows* the interval (it raises the normal interval's coverage) and whose estimate κ̂
is unstable for heavy terms (its variance needs E X⁸ < ∞), so omitting it errs on the
wide side there; and the t-quantile term x (x² + 3)/(4n) of p₂ (below 0.2 % of z for
n ≥ 1000), so that γ̂ = 0 gives the normal interval exactly. For z > ½ (level > 0.38)
the interval is never narrower than the normal one; for level ≥ ½ it contains x̄ whatever
γ̂ (the lower offset h − c, a quadratic in s, has no real root once
36z⁴ − 14z² − 1 > 0).

When the terms have no finite third moment (tail shape k ≥ ⅓) γ̂ does not converge
and the expansion has no footing; :mod:`klmath._mc_tails` flags that regime.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from klmath._adapters import torch_module

__all__: list[str] = []


def namespace(x: Any) -> Any:
    """Return ``torch`` for tensors, ``numpy`` otherwise."""
    torch = torch_module()
    if torch is not None and isinstance(x, torch.Tensor):
        return torch
    return np


class Moments:
    """Count, mean and sums of squared (M₂) and, optionally, cubed (M₃) deviations over
    axis 0, per batch element; mergeable (see the module docstring)."""

    def __init__(self, values: Any, *, third: bool) -> None:
        xp = namespace(values)
        # Non-finite terms decide the value alone (∞); zero them so the sums stay finite.
        values = xp.where(xp.isfinite(values), values, 0.0)
        self.count = int(values.shape[0])
        self.mean = values.mean(0)
        dev = values - self.mean
        sq = dev * dev
        self.m2 = sq.sum(0)
        self.m3 = (sq * dev).sum(0) if third else None

    def merge(self, other: Moments) -> Moments:
        """Fold ``other`` (a disjoint sample) into ``self``; return ``self``."""
        na, nb = self.count, other.count
        n = na + nb
        delta = other.mean - self.mean
        if self.m3 is not None and other.m3 is not None:
            self.m3 = (
                self.m3
                + other.m3
                + delta**3 * (na * nb * (na - nb) / (n * n))
                + 3.0 * delta * (na * other.m2 - nb * self.m2) / n
            )
        self.mean = self.mean + delta * (nb / n)
        self.m2 = self.m2 + other.m2 + delta * delta * (na * nb / n)
        self.count = n
        return self

    def stderr(self) -> Any:
        """sqrt(s² / n) with the unbiased s² = M₂ / (n − 1)."""
        xp = namespace(self.m2)
        return xp.sqrt(self.m2 / ((self.count - 1) * self.count))

    def skewness(self) -> Any:
        """The sample skewness γ̂ = √n M₃ / M₂^(3/2) (moment estimator); 0 where M₂ = 0."""
        xp = namespace(self.m2)
        assert self.m3 is not None
        positive = self.m2 > 0.0
        safe = xp.where(positive, self.m2, 1.0)
        return xp.where(positive, math.sqrt(self.count) * self.m3 / (safe * xp.sqrt(safe)), 0.0)


def skew_offsets(z: float, skewness: Any, n: int) -> tuple[Any, Any]:
    """Return (below, above): the interval is [value − se·below, value + se·above].

    The second-order Cornish–Fisher correction for the skewness γ̂ (``skewness``, NumPy
    or torch, any shape) of a mean of n terms, at the normal quantile z (module
    docstring): below = h − c, above = h + c with c = s (2z² + 1)/6 and
    h = z (1 + 5 (4z² − 1) s²/72), s = γ̂/√n. Both equal z where γ̂ = 0.
    """
    s = skewness / math.sqrt(n)
    shift = s * ((2.0 * z * z + 1.0) / 6.0)
    half = z * (1.0 + (5.0 * (4.0 * z * z - 1.0) / 72.0) * (s * s))
    return half - shift, half + shift
