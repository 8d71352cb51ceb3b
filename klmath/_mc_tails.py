"""Private: the tail diagnostic of :func:`klmath.mc_kl` (Pareto k̂ of each estimator's terms).

Which tail matters
------------------
The normal interval ``value ± z·stderr`` is valid when the per-sample terms have a
finite variance (central limit theorem); with a power-law tail of shape k, the
variance is finite iff k < ½ (see :mod:`klmath.pareto`). With t = log r, r = q/p and
x ~ p, each estimator's terms are a function of t, so which tail of r matters
follows from that function:

* ``k3`` = e^t − 1 − t grows like r as r → ∞ and like −log r as r → 0. A Pareto
  tail of r (shape k) is a Pareto tail of k3 (the same k), while the r → 0 side
  only gives the tail of −log r. So k3's variance is finite iff E_p[r²] = ∫ q²/p < ∞:
  it is the *upper tail of the importance ratio r = q/p under p* that breaks k3, the
  PSIS diagnostic proper. Gaussians: σ_q² < 2σ_p² (q wider breaks it).
* ``k1`` = −t involves only log r. Its lower tail (t → +∞) is always light: by
  Markov's inequality P_p(t > s) ≤ e^{−s} E_p[r] ≤ e^{−s}, an exponential tail with
  every moment finite (a Pareto tail of r is an exponential tail of t). So only its
  upper tail, −log r → ∞ where q ≪ p, can break k1: p heavier-tailed than q, e.g.
  p = t₃, q = N(0, 1), where −log r ≈ x²/2 and E[x⁴] = ∞.
* ``k2`` = t²/2 squares log r: its tail shape is twice that of −log r's, so it breaks
  when k1 does and earlier (and its mean is not KL anyway).

So the diagnostic fits the upper tail of the terms themselves, which for k3 is the
tail of r (the importance ratio) and for k1 the tail of p/q.

Which threshold
---------------
A finite variance (k < ½) makes the interval right as n → ∞, but says nothing about
how fast. ``ci()`` corrects the normal interval for the skewness of the terms
(``klmath/_mc_moments.py``); that correction, like the n^(−1/2) rate of the central
limit theorem (Berry–Esseen), needs a finite third moment: k < ⅓. Between ⅓ and ½ the
sample skewness does not converge and the coverage of the interval approaches its
level slower than 1/√n; ``bench/mc_coverage.py`` measures the shortfall on pairs with
known k. So an interval is called reliable only for k̂ ≤ ⅓; the verdict says which of
the two regimes (k̂ in (⅓, ½]: finite variance but too heavy for n; k̂ > ½: variance
likely infinite) applies. The M + 1 largest and M + 1
smallest t over all draws (M = ⌊3√n⌋, :func:`klmath.pareto.tail_count`) are kept
across chunks; since each k is monotone on either side of t = 0, the largest terms of
every estimator are among them, so one pass gives k̂ for all three (used to say which
estimator is safe for the pair).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from klmath._adapters import torch_module
from klmath.pareto import khat_from_top, khat_threshold, tail_count

__all__: list[str] = []

#: Above this k̂ the terms' variance is likely infinite (Vehtari et al. 2024, §3):
#: the standard error and ``ci`` are unreliable.
FINITE_VARIANCE_KHAT = 0.5

#: Above this k̂ the third moment is likely infinite (a tail x^(−1/k) has E|X|³ < ∞ iff
#: k < ⅓): the skewness γ̂ that ``ci()`` corrects for does not converge and the interval
#: converges slower than 1/√n. Above it, ``reliable`` is False.
THIRD_MOMENT_KHAT = 1.0 / 3.0

_ORDER = ("k1", "k3")  # the unbiased ones, the lighter-tailed in practice first


def _to_numpy(x: Any) -> np.ndarray:
    torch = torch_module()
    if torch is not None and isinstance(x, torch.Tensor):
        return x.detach().cpu().to(torch.float64).numpy()
    return np.asarray(x, dtype=np.float64)


def _extremes(x: Any, count: int, largest: bool) -> Any:
    """The ``count`` largest (or smallest) entries along axis 0, in any order."""
    count = min(count, x.shape[0])
    torch = torch_module()
    if torch is not None and isinstance(x, torch.Tensor):
        return torch.topk(x, count, dim=0, largest=largest).values
    if largest:
        return np.partition(x, x.shape[0] - count, axis=0)[x.shape[0] - count :]
    return np.partition(x, count - 1, axis=0)[:count]


def _cat(a: Any, b: Any) -> Any:
    torch = torch_module()
    if torch is not None and isinstance(a, torch.Tensor):
        return torch.cat([a, b], 0)
    return np.concatenate([a, b], 0)


class LogRatioTails:
    """The ``count`` largest and smallest log r per batch element; mergeable over chunks."""

    def __init__(self, log_r: Any, count: int) -> None:
        self.count = count
        torch = torch_module()
        if count and torch is not None and isinstance(log_r, torch.Tensor):
            if log_r.device.type == "cpu":
                # np.partition is linear; torch.topk with k in the thousands is not
                # (measured 1.7x the whole mc_kl time at n = 10⁶). Same memory, no copy.
                log_r = log_r.detach().numpy()
        self.top = _extremes(log_r, count, True) if count else None
        self.bottom = _extremes(log_r, count, False) if count else None

    def merge(self, other: LogRatioTails) -> LogRatioTails:
        if self.count:
            self.top = _extremes(_cat(self.top, other.top), self.count, True)
            self.bottom = _extremes(_cat(self.bottom, other.bottom), self.count, False)
        return self

    def khats(self, estimator_terms: Any) -> dict[str, np.ndarray]:
        """k̂ of the terms of each estimator (NaN everywhere when too few draws).

        For k1 = −t, monotone in t, the fit of its largest terms. For k2 and k3, which
        fall then rise in t, the largest of three fits: their largest terms (the PSIS
        k̂ of the terms), and each branch alone, f(t) over the M + 1 largest t when all
        are > 0 and over the M + 1 smallest when all are < 0. A heavy branch that holds
        fewer than M of the largest terms is invisible to the first fit: p = t₅,
        q = N(0, 1.5²) has −log r ≈ x²/4.5 (tail shape 2/5) from 0.4 % of the draws,
        while r ≤ 2.1 fills the rest of k3's top M.
        """
        if not self.count:
            return {}
        top, bottom = _to_numpy(self.top), _to_numpy(self.bottom)
        both = np.concatenate([top, bottom], 0)
        out: dict[str, np.ndarray] = {}
        with np.errstate(invalid="ignore", over="ignore"):
            for name in ("k2", "k3"):
                terms = estimator_terms(both, name)
                k = khat_from_top(np.sort(_largest(terms, self.count), axis=0))
                for branch, side in ((top, top > 0.0), (bottom, bottom < 0.0)):
                    fit = khat_from_top(np.sort(estimator_terms(branch, name), axis=0))
                    k = np.fmax(k, np.where(side.all(0), fit, -np.inf))
                out[name] = np.where(np.isnan(both).any(0), np.nan, k)
            out["k1"] = khat_from_top(np.sort(-bottom, axis=0))  # k1 = −t: small t
        return out


def _largest(x: np.ndarray, count: int) -> np.ndarray:
    return np.partition(x, x.shape[0] - count, axis=0)[x.shape[0] - count :]


def tail_buffer_size(n: int) -> int:
    """M + 1 draws per tail for n draws (0 when n < 25: too few to fit a tail)."""
    m = tail_count(n)
    return m + 1 if m >= 5 else 0


def verdict(
    estimator: str,
    n: int,
    khats: dict[str, np.ndarray],
    settled: np.ndarray,
    failed_check: np.ndarray | None,
    gap: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, str, str | None]:
    """Return (khat, reliable, verdict, warning text or None) for the chosen estimator.

    ``settled``: batch elements whose value needs no interval (KL = ∞ exactly);
    ``failed_check``: k3's E_p[r] = 1 check failed there (or None); ``gap``: for k2, the
    mean and standard error of E[k2] − KL estimated from the same draws.

    ``reliable`` says whether ``ci()`` can be trusted as an interval for KL(p ‖ q): never
    for k2 (its estimand is E_p[½(log r)²]; a warning always says so, with the gap),
    not where the tail is too heavy (k̂ > ⅓) or k3's check failed.
    """
    shape = settled.shape
    if not khats:
        khat = np.full(shape, np.nan)
        reliable = settled.copy()
        text = (
            f"not judged: the tail check needs n ≥ 25 draws, got {n}"
            if not settled.all()
            else "exact: KL = ∞ (see reason)"
        )
        return khat, reliable, text, None
    khat = np.where(settled, np.nan, khats[estimator])
    heavy = ~settled & ~(khat <= THIRD_MOMENT_KHAT)
    not_kl = ~settled if estimator == "k2" else np.zeros(shape, dtype=bool)
    bad = heavy | not_kl | (failed_check if failed_check is not None else False)
    reliable = ~bad
    if not bad.any():
        return khat, reliable, _reliable_text(khat, settled), None
    if failed_check is not None and failed_check.any() and not heavy.any():
        return khat, reliable, "unreliable: k3's E_p[r] = 1 check failed (see diagnostic)", None
    first = tuple(int(i) for i in np.argwhere(bad)[0]) if shape else ()
    total = int(np.prod(shape)) if shape else 1
    parts = []
    if estimator == "k2" and not_kl.any():
        parts.append(_k2_text(gap, first, total, int(not_kl.sum())))
    if heavy.any():
        first = tuple(int(i) for i in np.argwhere(heavy)[0]) if shape else ()
        where = f" at {int(heavy.sum())} of {total} batch elements (first {first})" if shape else ""
        parts.append(_heavy_text(estimator, n, float(khat[first]), where))
    parts.append(_advice(estimator, khats, first))
    text = " ".join(parts)
    return khat, reliable, text, text


def _reliable_text(khat: np.ndarray, settled: np.ndarray) -> str:
    """The verdict where every element's interval can be trusted."""
    finite = khat[~settled]
    if not finite.size:
        return "exact: KL = ∞ (see reason)"
    worst = float(np.max(finite))
    where = f" at all {khat.size} batch elements" if khat.ndim else ""
    return (
        f"reliable{where}: the terms' tail shape k̂ = {worst:.2f} ≤ ⅓ (finite variance and "
        "third moment: the standard error and the skewness-corrected ci() apply)"
    )


def _k2_text(
    gap: tuple[np.ndarray, np.ndarray] | None, first: tuple[int, ...], total: int, count: int
) -> str:
    """Why k2's interval is never one for KL, with the gap measured on the same draws."""
    where = f" (at {count} of {total} batch elements; numbers at {first})" if first else ""
    measured = ""
    if gap is not None:
        mean, se = float(np.asarray(gap[0])[first]), float(np.asarray(gap[1])[first])
        measured = (
            f"; from these draws E[k2] − KL = {mean:+.3g} ± {se:.2g} (the mean of "
            "½(log r)² + log r)"
        )
    return (
        f"not an interval for KL{where}: k2 estimates E_p[½(log r)²], which differs from "
        f"KL(p ‖ q) by O(‖p − q‖³){measured}, so ci() covers E[k2], not KL."
    )


def _heavy_text(estimator: str, n: int, k: float, where: str) -> str:
    """The verdict sentence for a tail too heavy for the interval (k̂ > ⅓)."""
    if k <= FINITE_VARIANCE_KHAT:
        return (
            f"unreliable{where}: the {estimator} terms' tail shape k̂ = {k:.2f} is above ⅓: "
            "their variance is likely finite but their third moment infinite (or too heavy "
            "for n draws), so the interval converges slower than 1/√n, no skewness "
            "correction is justified, and ci() tends to under-cover at moderate n; more "
            "draws help, slowly."
        )
    kappa = khat_threshold(n)
    severity = (
        f"k̂ > {kappa:.2f}, the sample-size threshold of Vehtari et al. (2024): even the "
        "mean is unreliable with this many draws"
        if k > kappa
        else "the mean converges, slower than 1/√n"
    )
    return (
        f"unreliable{where}: the {estimator} terms' tail shape k̂ = {k:.2f} > "
        f"{FINITE_VARIANCE_KHAT}, so their variance is likely infinite, or too heavy "
        f"for n draws ({severity}); the standard error understates the spread and ci() "
        "under-covers; if the variance is infinite, more draws will not fix the interval."
    )


def _advice(estimator: str, khats: dict[str, np.ndarray], first: tuple[int, ...]) -> str:
    """Which unbiased estimators are safe for this pair (their own k̂ ≤ ⅓), else what to do.

    k2 is never offered: its interval is not one for KL, whatever its tail."""
    safe = [
        f"{name} (k̂ = {float(khats[name][first]):.2f})"
        for name in _ORDER
        if name != estimator and float(khats[name][first]) <= THIRD_MOMENT_KHAT
    ]
    if safe:
        return f"Safe for this pair: {', '.join(safe)}: use estimator='{safe[0][:2]}'."
    return (
        "No unbiased estimator's terms are light-tailed here: KL(p ‖ q) may itself be "
        "infinite, or need more draws. If KL(q ‖ p) serves your purpose, swap p and q "
        "(it draws from q)."
    )
