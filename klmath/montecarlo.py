"""Monte Carlo KL divergence with honest error bars.

For distributions p and q with r(x) = q(x) / p(x) and x ~ p, three per-sample
estimators of KL(p ‖ q) = E_p[−log r] (Schulman, "Approximating KL divergence", 2020):

=========  ====================  ==========================================
estimator  per-sample term        properties
=========  ====================  ==========================================
``k1``     −log r                unbiased, high variance, can be negative
``k2``     ½ (log r)²            biased (E k2 = KL + O(‖p − q‖³)), low variance
``k3``     (r − 1) − log r       unbiased if E_p r = 1, ≥ 0 per sample
=========  ====================  ==========================================

E_p r = ∫_{supp p} q = 1 fails when q has mass outside p's support; :func:`mc_kl`
checks it for k3 and warns (:class:`KLEstimatorWarning`).

Every result also carries the Pareto k̂ of the tail of its terms (the PSIS diagnostic,
:mod:`klmath.pareto`; which tail matters for which estimator, and why the thresholds
are ⅓ and ½, is derived in ``klmath/_mc_tails.py``) and a reliability verdict, on two
levels: for k̂ > ⅓ (third moment likely infinite) the result is not ``reliable`` and the
verdict says why; for k̂ > ½ (variance likely infinite: the error bar cannot be trusted)
a :class:`KLEstimatorWarning` says so too. k2 (whose mean is not KL) always warns.

:func:`mc_kl` averages one of them over ``n`` draws, in chunks (bounded memory for
n = 10⁷) whose mean and sums of squared and cubed deviations are merged pairwise in
float64 (``klmath/_mc_moments.py``), and returns an :class:`MCResult` with the
standard error, the sample skewness and a skewness-corrected interval ``ci()``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any, Protocol, runtime_checkable

import numpy as np

from klmath._adapters import Adapter, TorchAdapter, adapt, check_parameters, torch_module
from klmath._mc_moments import Moments, skew_offsets
from klmath._mc_moments import namespace as _namespace
from klmath._mc_tails import LogRatioTails, tail_buffer_size, verdict
from klmath._warn import warn

__all__ = ["ESTIMATORS", "KLEstimatorWarning", "MCResult", "SupportsSampleLogProb", "mc_kl"]

#: The estimator names :func:`mc_kl` accepts.
ESTIMATORS: tuple[str, ...] = ("k1", "k2", "k3")

# Elements (samples x batch x event) per array when chunk_size is not given. On the
# CPU 2**16 float64 numbers (512 KiB) stay in cache across the ~30 elementwise passes
# (measured 1.8x faster than 2**20 for 2·10⁶ draws); a GPU wants larger launches.
_CHUNK_ELEMENTS_CPU = 2**16
_CHUNK_ELEMENTS_GPU = 2**22

# |mean(r − 1)| beyond this many standard errors fails k3's E_p[r] = 1 check.
_CHECK_Z = 5.0

# Taylor coefficients 1/k! for k = 13 .. 2 (Horner order) of e^t − 1 − t.
_EXPM1_MINUS_T = tuple(1.0 / math.factorial(k) for k in range(13, 1, -1))


class KLEstimatorWarning(UserWarning):
    """A Monte Carlo interval cannot be trusted as one for KL: the terms' variance is
    likely infinite (k̂ > ½), k3's check E_p[q/p] = 1 failed, or the estimator is k2
    (whose mean is not KL). The message says why and which estimator to use.

    Not issued for ⅓ < k̂ ≤ ½ (finite variance, heavy third moment): there
    ``MCResult.reliable`` is False and ``verdict`` says why, silently, because at
    moderate n that range is also common for terms with every moment finite."""


@runtime_checkable
class SupportsSampleLogProb(Protocol):
    """What :func:`mc_kl` needs from a distribution that is neither torch nor scipy.

    ``sample(n, rng)`` returns ``n`` independent draws, shape ``(n, *batch, *event)``,
    using the NumPy ``Generator`` ``rng`` for all randomness (so ``seed`` works);
    ``log_prob(x)`` returns the log density at ``x``, shape ``(n, *batch)``, and
    ``-inf`` outside the support. NumPy arrays or torch tensors. Optional
    ``event_shape`` / ``batch_shape`` attributes enable the shape checks.
    """

    def sample(self, n: int, rng: np.random.Generator) -> Any:
        """Return ``n`` draws of shape ``(n, *batch, *event)``."""
        ...

    def log_prob(self, x: Any) -> Any:
        """Return the log density at ``x``, shape ``x.shape[:-len(event)]``."""
        ...


@dataclass(frozen=True)
class MCResult:
    """A Monte Carlo estimate of KL(p ‖ q) with its standard error.

    Attributes
    ----------
    value : float, numpy.ndarray or torch.Tensor
        The sample mean of the estimator, float64, shape = the broadcast batch shape
        of p and q (a NumPy scalar when p is not torch and unbatched; a torch tensor,
        0-d when unbatched, on p's device when p is torch). ``inf`` where q has zero
        density at a draw of p (then KL = ∞ exactly) or the estimator overflowed.
    stderr : same kind as ``value``
        sqrt(sample variance / n): 0 where KL = ∞ is certain, ∞ after an overflow.
    n : int
        Number of draws.
    estimator : str
        ``"k1"``, ``"k2"`` or ``"k3"``.
    reason : str or None
        Why some value is infinite, ``None`` when all are finite.
    diagnostic : str or None
        For k3: set (and a :class:`KLEstimatorWarning` issued) when the sample mean of
        r − 1 is more than 5 standard errors from its known expectation 0, i.e. the
        assumptions behind k3's value or its error bar fail (see :func:`mc_kl`).
    khat : same kind as ``value``, or None
        Pareto shape k̂ of the upper tail of this estimator's per-sample terms (for
        k3 the tail of r = q/p, the PSIS diagnostic; for k1 that of p/q; the other
        tail of log r is always light, by Markov; for k2 and k3 also each branch of
        log r alone, the larger fit counting): a true shape k < ½ means a finite
        variance, k < ⅓ a finite third moment.
        ``nan`` where KL = ∞ exactly or n < 25 (too few draws to fit a tail). See
        :mod:`klmath.pareto`.
    reliable : bool, numpy.ndarray or torch.Tensor, or None
        Per batch element: True where ``ci()`` can be trusted as an interval for
        KL(p ‖ q) (k̂ ≤ ⅓ and, for k3, the E_p[r] = 1 check passed) or the value is
        exactly ∞; False otherwise: always for k2 (its estimand is not KL), and where
        n < 25 (not judged).
    verdict : str
        The reliability verdict: why, and what to do. Two levels: for ⅓ < k̂ ≤ ½ it
        says unreliable (finite variance, heavy third moment: ``ci()`` may under-cover
        at moderate n) and nothing is issued; for k̂ > ½, and for k2, a
        :class:`KLEstimatorWarning` with the same text was issued. For k2 it quotes
        E[k2] − KL estimated from the same draws (the mean of ½(log r)² + log r, with
        its standard error).
    estimand : str
        What ``value`` estimates and ``ci`` covers: ``"KL(p ‖ q)"`` for k1 and k3;
        for k2 ``"E_p[½(log r)²]"``, which is *not* KL (it differs by O(‖p − q‖³)).
    skewness : same kind as ``value``, or None
        Sample skewness γ̂ = m₃ / m₂^(3/2) of the terms (moment estimator, accumulated in
        the same pass), which ``ci()`` corrects for; 0 where the value is ∞. ``None``
        for a result built by hand: ``ci()`` is then the normal interval.
    warned : bool, numpy.ndarray or torch.Tensor, or None
        Per batch element: True where the :class:`KLEstimatorWarning` of this call
        covers it (k̂ > ½, k3's failed check, or k2); a call warns iff some element is
        True (an unbatched one iff ``warned`` is). ``None`` for a result built by hand.
    """

    value: Any
    stderr: Any
    n: int
    estimator: str
    reason: str | None = None
    diagnostic: str | None = None
    khat: Any = None
    reliable: Any = None
    verdict: str = ""
    estimand: str = "KL(p ‖ q)"
    skewness: Any = None
    warned: Any = None

    def ci(self, level: float = 0.95, *, method: str = "skew") -> tuple[Any, Any]:
        """Return the confidence interval ``(low, high)`` for ``estimand``.

        ``method="skew"`` (default): the normal interval corrected for the skewness
        γ̂ of the terms (``skewness``) by the Cornish–Fisher expansion of the
        Studentized mean to second order in γ̂, with s = γ̂/√n and z the (1 + level)/2
        normal quantile:

        .. math:: \\text{value} + \\text{se}\\,\\frac{s(2z^2+1)}{6} \\pm
                  \\text{se}\\; z \\Bigl(1 + \\frac{5(4z^2-1)}{72} s^2\\Bigr)

        (derivation in ``klmath/_mc_moments.py``). The first term removes the
        n^(−1/2) part of each one-sided coverage error; for right-skewed terms (k2, k3:
        γ̂ > 0) the interval reaches further above ``value`` than below. With γ̂ = 0 it
        *is* the normal interval. ``method="normal"``: ``value ± z·stderr``.

        ``low`` is clipped at 0 (every estimator's mean is ≥ 0). It covers
        E[estimator] (``estimand``): KL itself for ``k1`` and ``k3``, but for ``k2`` the
        mean E_p[½(log r)²] = KL + bias, so it is **not** an interval for KL. It is only
        as good as the moments behind it: see ``reliable`` and ``verdict``.

        Raises
        ------
        ValueError
            If ``level`` is not strictly between 0 and 1, or ``method`` is unknown.
        """
        if not (isinstance(level, (int, float)) and 0.0 < level < 1.0):
            raise ValueError(f"level must be a number in (0, 1), got {level!r}")
        if method not in ("skew", "normal"):
            raise ValueError(f"method must be 'skew' or 'normal', got {method!r}")
        z = NormalDist().inv_cdf(0.5 + level / 2.0)
        xp = _namespace(self.value)
        if method == "normal" or self.skewness is None or self.n < 2:
            below, above = z * self.stderr, z * self.stderr
        else:
            skew = xp.where(xp.isfinite(self.skewness), self.skewness, 0.0)
            lower, upper = skew_offsets(z, skew, self.n)
            below, above = self.stderr * lower, self.stderr * upper
        infinite = xp.isinf(self.stderr)
        low = xp.where(infinite, 0.0, self.value - below)
        high = xp.where(infinite, math.inf, self.value + above)
        low = xp.where(low > 0.0, low, 0.0)
        if isinstance(self.value, float):
            return float(low), float(high)
        return low, high


def mc_kl(
    p: Any,
    q: Any,
    n: int,
    *,
    estimator: str = "k3",
    seed: int | None = None,
    chunk_size: int | None = None,
) -> MCResult:
    """Return a Monte Carlo estimate of KL(p ‖ q) with its standard error.

    Draws x₁, …, xₙ ~ p, forms log r = log q(x) − log p(x) and averages the chosen
    per-sample estimator (see the module docstring):

    .. math:: \\hat D = \\frac1n \\sum_i k(\\log r_i), \\qquad
              \\mathrm{se} = \\sqrt{\\hat\\sigma^2 / n}.

    Parameters
    ----------
    p, q : distribution
        A ``torch.distributions.Distribution``, a frozen ``scipy.stats`` distribution
        or a :class:`SupportsSampleLogProb`. p must sample and score; q only scores.
        Batch shapes broadcast; event shapes must agree. Torch and scipy may be mixed
        (samples are converted for q).
    n : int
        Number of draws, ≥ 2 (a standard error needs two).
    estimator : {"k3", "k1", "k2"}
        k3 by default: unbiased, never negative, and of lower variance than k1 when
        p ≈ q.
    seed : int or None
        Seeds a private NumPy ``Generator`` and, for torch p, the torch generator of
        p's device inside ``torch.random.fork_rng`` (global state is restored).
        Same seed, n and chunk_size give the same result. ``None``: the global RNGs.
    chunk_size : int or None
        Draws per chunk; by default each array holds about 2¹⁶ numbers (2²² on a GPU),
        so memory does not grow with n.

    Returns
    -------
    MCResult
        ``value`` and ``stderr`` over the batch shape (float64), ``ci(level)``, the tail
        diagnostic ``khat``, ``reliable`` and ``verdict``, and the ``estimand``.

    Raises
    ------
    TypeError
        If p cannot sample or p, q cannot score (``log_prob``), or n, seed have the
        wrong type.
    ValueError
        If n < 2, the estimator is unknown, event shapes differ, a parameter of a torch or
        scipy p or q is invalid (named, see :func:`klmath.kl`), or p's own log density
        at its draws is not finite.

    Warns
    -----
    KLEstimatorWarning
        When the estimator's terms' variance is likely infinite, k̂ > ½ (``ci`` cannot
        be trusted, and more draws will not fix it); the text, also in ``verdict``,
        names the estimators whose own k̂ ≤ ⅓ for this pair. For ⅓ < k̂ ≤ ½ (finite
        variance, heavy third moment) there is no warning: ``reliable`` is False and
        ``verdict`` says why. For k2 always: its interval is for E_p[½(log r)²], not KL,
        and the text quotes the gap measured on the same draws. And for k3, when the
        draws contradict E_p[r] = 1 (see Notes); ``diagnostic`` holds that text.
        ``warned`` says which batch elements a warning covers.

    Notes
    -----
    Where q has zero density at a draw of p (support mismatch) KL(p ‖ q) = ∞ almost
    surely: ``value`` is ``inf``, ``stderr`` 0 and ``reason`` says so; never NaN. When
    one of p, q is discrete and the other continuous (torch ``support.is_discrete``,
    scipy ``rv_discrete``), p is not absolutely continuous with respect to q and
    KL = ∞ for every estimator: returned without drawing, with that reason.

    The tail diagnostic: the M = ⌊3√n⌋ largest terms (n ≥ 25) are fitted by a
    generalized Pareto distribution (:func:`klmath.pareto.pareto_khat`); their shape k̂
    estimates the tail exponent: the terms' variance is finite iff k < ½, their third
    moment iff k < ⅓. For k3 that is the tail of r = q/p (q wider than p: for Gaussians
    k = 1 − σ_p²/σ_q²); for k1 the tail of p/q (p heavier-tailed than q).
    ``bench/mc_coverage.py`` measures coverage and warning rates on a grid of pairs.
    k3 is unbiased only if E_p[r] = ∫_{supp p} q = 1, i.e. q has no mass outside p's
    support (p = Uniform(0, 1), q = N(0, 1) breaks it: E[k3] = KL − Q(x ∉ [0, 1])).
    For k3, :func:`mc_kl` therefore also averages r − 1, whose mean is known to be 0,
    and warns (:class:`KLEstimatorWarning`, ``diagnostic``) when it is more than 5
    standard errors away. That also catches most infinite-variance cases below.

    The standard error, and so ``ci``, is only as good as the estimator's variance:
    k3's is finite only if ∫ q²/p < ∞ (for Gaussians, σ_q² < 2σ_p²), and when q is
    wider than p its terms are heavy-tailed and right-skewed. ``ci()`` corrects the
    normal interval for the skewness (see :meth:`MCResult.ci`), which needs a finite
    third moment: between k = ⅓ and ½ the interval may still under-cover at moderate n,
    so ``reliable`` is False there, but only k̂ > ½ warns: k̂ is noisy and, on tails
    that are heavy only at moderate n (a log-normal r, as for two Gaussians of equal
    variance), often above ⅓ although every moment is finite. k1 has finite variance
    whenever E_p[(log r)²] does; prefer it in that regime.

    k3 is evaluated as e^t − 1 − t with a degree-13 Taylor polynomial for |t| < ¼
    (``expm1(t) − t`` loses all digits there, as it is ≈ t²/2) and as
    ``expm1(t) − t`` elsewhere, so each term is ≥ 0 and accurate to a few ulp.

    Examples
    --------
    >>> import torch
    >>> from torch.distributions import Normal
    >>> res = mc_kl(Normal(0.0, 1.0), Normal(0.5, 1.0), 100_000, seed=0)
    >>> abs(float(res.value) - 0.125) < 4 * float(res.stderr)   # exact: 0.5² / 2
    True
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"n must be an int, got {type(n).__name__}")
    if n < 2:
        raise ValueError(f"n must be >= 2 (a standard error needs two draws), got {n}")
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {ESTIMATORS}, got {estimator!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise TypeError(f"seed must be an int or None, got {type(seed).__name__}")
    if seed is not None and not 0 <= seed < 2**64:
        raise ValueError(f"seed must be in [0, 2**64) (torch seeds are 64-bit), got {seed}")
    if chunk_size is not None and (
        isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer))
    ):
        raise TypeError(f"chunk_size must be a positive int, got {type(chunk_size).__name__}")
    if chunk_size is not None and chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive int, got {chunk_size!r}")
    pa = adapt(p, "p", need_sample=True)
    qa = adapt(q, "q", need_sample=False)
    check_event_shapes(pa, qa)
    check_parameters(p, "p")
    check_parameters(q, "q")
    n = int(n)
    mixed = _mixed_types(pa, qa)
    if mixed is not None:
        return _infinite_result(pa, qa, n, estimator, mixed)
    if chunk_size is None:
        per_draw = math.prod(pa.batch_shape or ()) * math.prod(pa.event_shape or ())
        on_gpu = isinstance(pa, TorchAdapter) and pa.device.type != "cpu"
        budget = _CHUNK_ELEMENTS_GPU if on_gpu else _CHUNK_ELEMENTS_CPU
        chunk_size = max(1, budget // max(1, per_draw))
    chunk_size = min(int(chunk_size), n)

    tail = tail_buffer_size(n)
    acc: _Welford | None = None
    with _seeded(seed, pa) as rng:
        done = 0
        while done < n:
            m = min(chunk_size, n - done)
            chunk = _Welford(*_log_ratio(pa, qa, m, rng), estimator, tail)
            acc = chunk if acc is None else acc.merge(chunk)
            done += m
    assert acc is not None  # n >= 2 guarantees one chunk
    return acc.result(n, estimator, pa.family, qa.family)


def check_event_shapes(pa: Adapter, qa: Adapter) -> None:
    """Raise ``ValueError`` if both event shapes are known and differ."""
    if pa.event_shape is not None and qa.event_shape is not None:
        if tuple(pa.event_shape) != tuple(qa.event_shape):
            raise ValueError(
                f"p and q must have the same event shape: p ({pa.family}) has "
                f"{tuple(pa.event_shape)}, q ({qa.family}) has {tuple(qa.event_shape)}"
            )


def estimator_terms(log_r: Any, estimator: str) -> Any:
    """Return the per-sample estimator k(log r) (NumPy or torch, float64 in, same out).

    k1 = −t, k2 = t²/2, k3 = e^t − 1 − t with t = log r; see :func:`mc_kl` for the
    accurate k3 form.
    """
    xp = _namespace(log_r)
    if estimator == "k1":
        return -log_r
    if estimator == "k2":
        with np.errstate(over="ignore"):  # |t| > 1.9e154: inf, reported as an overflow
            return 0.5 * log_r * log_r
    small = xp.abs(log_r) < 0.25
    # where() evaluates both branches: keep the polynomial's input tiny where unused.
    t = xp.where(small, log_r, 0.0)
    poly = t * 0.0 + _EXPM1_MINUS_T[0]
    for c in _EXPM1_MINUS_T[1:]:
        poly = poly * t + c
    with np.errstate(over="ignore", invalid="ignore"):
        large = xp.expm1(log_r) - log_r
    return xp.where(small, poly * t * t, large)


# --------------------------------------------------------------------------- private


@contextmanager
def _seeded(seed: int | None, pa: Adapter) -> Iterator[np.random.Generator]:
    """Yield a NumPy Generator; with a seed and torch p, also seed torch in a fork."""
    rng = np.random.default_rng(seed)
    torch = torch_module()
    if seed is None or not isinstance(pa, TorchAdapter):
        yield rng
        return
    device = pa.device
    cuda = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):
        torch.default_generator.manual_seed(int(seed))
        for index in cuda:
            torch.cuda.default_generators[index].manual_seed(int(seed))
        yield rng


def _to_backend(x: Any, like: Any) -> Any:
    """Convert log densities ``x`` to float64 in the array kind (and device) of ``like``."""
    torch = torch_module()
    if torch is not None and isinstance(like, torch.Tensor):
        if isinstance(x, torch.Tensor):
            return x.to(device=like.device, dtype=torch.float64)
        return torch.as_tensor(np.asarray(x, dtype=np.float64), device=like.device)
    if torch is not None and isinstance(x, torch.Tensor):
        return x.detach().cpu().to(torch.float64).numpy()
    return np.asarray(x, dtype=np.float64)


def _log_ratio(pa: Adapter, qa: Adapter, m: int, rng: np.random.Generator) -> tuple[Any, Any]:
    """Draw m samples of p; return log r = log q − log p and where q's density is 0."""
    x = pa.sample(m, rng)
    lp_raw = pa.log_prob(x)
    lp = _to_backend(lp_raw, lp_raw)
    x_q = x
    if pa.batch_shape is not None and qa.batch_shape is not None:
        # Draws are (m, *batch_p, *event); a q with more batch axes than p needs
        # unit axes after the draw axis so that batch shapes align from the right.
        extra = len(qa.batch_shape) - len(pa.batch_shape)
        if extra > 0:
            x_q = x.reshape(m, *(1,) * extra, *x.shape[1:])
            lp = lp.reshape(m, *(1,) * extra, *lp.shape[1:])
    try:
        lq = _to_backend(qa.log_prob(x_q), lp)
    except (RuntimeError, ValueError) as err:
        raise ValueError(
            f"q ({qa.family}) could not score draws of p ({pa.family}) of shape "
            f"{tuple(x.shape)}: {err}"
        ) from None
    xp = _namespace(lp)
    if not bool(xp.all(xp.isfinite(lp))):
        raise ValueError(
            f"p ({pa.family}) has a non-finite log density at one of its own draws; "
            "mc_kl needs log p(x) finite for x ~ p"
        )
    if bool(xp.any(xp.isnan(lq))) or bool(xp.any(lq == math.inf)):
        raise ValueError(f"q ({qa.family}) returned NaN or +inf log density at a draw of p")
    if lq.shape[:1] != (m,):
        raise ValueError(
            f"q ({qa.family}).log_prob returned shape {tuple(lq.shape)} for {m} draws of p"
        )
    zero_q = lq == -math.inf
    with np.errstate(invalid="ignore"):
        log_r = lq - lp
    return log_r, zero_q


class _Welford:
    """Per batch element: the moments of the estimator terms (mean, M₂, M₃), for k3 those
    of r − 1 (whose mean must be 0 when k3 is unbiased), for k2 those of ½(log r)² + log r
    (whose mean is E[k2] − KL), and the tails of log r; mergeable over chunks."""

    def __init__(self, log_r: Any, zero_q: Any, estimator: str, tail: int) -> None:
        xp = _namespace(log_r)
        terms = estimator_terms(log_r, estimator)
        self.tails = LogRatioTails(log_r, tail)
        self.terms = Moments(terms, third=True)
        self.n_zero = zero_q.sum(0)
        self.n_over = (~xp.isfinite(terms) & ~zero_q).sum(0)
        self.check: Moments | None = None
        if estimator == "k3":
            with np.errstate(over="ignore"):
                self.check = Moments(xp.expm1(log_r), third=False)
        elif estimator == "k2":
            # k2 − k1 per draw: its mean is the gap between k2's estimand and KL.
            with np.errstate(invalid="ignore"):
                self.check = Moments(terms + log_r, third=False)

    def merge(self, other: _Welford) -> _Welford:
        self.terms.merge(other.terms)
        if self.check is not None and other.check is not None:
            self.check.merge(other.check)
        self.tails.merge(other.tails)
        self.n_zero = self.n_zero + other.n_zero
        self.n_over = self.n_over + other.n_over
        return self

    def result(self, n: int, estimator: str, p_family: str, q_family: str) -> MCResult:
        xp = _namespace(self.terms.mean)
        zero = self.n_zero > 0
        over = (self.n_over > 0) & ~zero
        value = xp.where(zero | over, math.inf, self.terms.mean)
        stderr = xp.where(zero, 0.0, xp.where(over, math.inf, self.terms.stderr()))
        skewness = xp.where(zero | over, 0.0, self.terms.skewness())
        reasons = []
        if bool(zero.any()):
            reasons.append(
                f"q ({q_family}) has zero density at {_where(self.n_zero, zero)} of the "
                f"{n} draws of p ({p_family}), so KL(p ‖ q) = inf"
            )
        if bool(over.any()):
            reasons.append(
                f"the {estimator} terms overflowed float64 ({_OVERFLOWS_AT[estimator]}) at "
                f"{_where(self.n_over, over)} draws; estimator='k1' does not overflow"
            )
        diagnostic = None
        failed = None
        gap = None
        if self.check is not None and estimator == "k3":
            mean_c, se_c = self.check.mean, self.check.stderr()
            bad = (xp.abs(mean_c) > _CHECK_Z * se_c) & ~zero & ~over
            failed = _host(bad)
            if bool(bad.any()):
                diagnostic = _diagnostic(mean_c, se_c, bad)
                warn(diagnostic, KLEstimatorWarning)
        elif self.check is not None:
            gap = (_host(self.check.mean), _host(self.check.stderr()))
        judged = verdict(estimator, n, self.tails.khats(estimator_terms), _host(zero), failed, gap)
        if judged.warning is not None:
            warn(judged.warning, KLEstimatorWarning)
        if xp is np and value.ndim == 0:
            value, stderr, skewness = np.float64(value), np.float64(stderr), np.float64(skewness)
        return MCResult(
            value,
            stderr,
            n,
            estimator,
            "; ".join(reasons) or None,
            diagnostic,
            _like(judged.khat, value),
            _like(judged.reliable, value),
            judged.text,
            _ESTIMANDS[estimator],
            skewness,
            _like(judged.warned, value),
        )


# Where each estimator's terms exceed float64 (k1 = −log r never does).
_OVERFLOWS_AT = {"k2": "|log r| beyond 1.9e154", "k3": "r = q/p beyond e^709"}

_ESTIMANDS = {
    "k1": "KL(p ‖ q)",
    "k2": "E_p[½(log r)²] (not KL: differs by O(‖p − q‖³))",
    "k3": "KL(p ‖ q)",
}


def _host(x: Any) -> np.ndarray:
    """A NumPy copy of a NumPy array or torch tensor."""
    torch = torch_module()
    if torch is not None and isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _like(x: np.ndarray, value: Any) -> Any:
    """``x`` in the array kind of ``value``: a NumPy scalar, array or torch tensor."""
    torch = torch_module()
    if torch is not None and isinstance(value, torch.Tensor):
        return torch.as_tensor(x, device=value.device)
    return x[()] if x.ndim == 0 else x


def _is_discrete(a: Adapter) -> bool | None:
    """Whether a torch or scipy distribution has a discrete support (None: unknown)."""
    dist: Any = getattr(a, "dist", None)
    if isinstance(a, TorchAdapter):
        try:
            return bool(dist.support.is_discrete)
        except NotImplementedError:
            return None
    if a.family.startswith("scipy "):
        from scipy.stats._distn_infrastructure import rv_continuous_frozen, rv_discrete_frozen

        if isinstance(dist, rv_discrete_frozen):
            return True
        if isinstance(dist, rv_continuous_frozen):
            return False
        return hasattr(dist, "logpmf") and not hasattr(dist, "logpdf")
    return None


def _mixed_types(pa: Adapter, qa: Adapter) -> str | None:
    """The reason KL(p ‖ q) = ∞ when one of p, q is discrete and the other continuous."""
    dp, dq = _is_discrete(pa), _is_discrete(qa)
    if dp is None or dq is None or dp == dq:
        return None
    kind = {True: "discrete", False: "continuous"}
    why = (
        "p's atoms, a countable set, have probability 1 under p and 0 under q"
        if dp
        else "outside q's countable set of atoms, q has probability 0 and p has 1"
    )
    return (
        f"p ({pa.family}) is {kind[dp]} and q ({qa.family}) is {kind[dq]}, so p is not "
        f"absolutely continuous with respect to q ({why}) and KL(p ‖ q) = inf for every "
        "estimator. A log-mass minus a log-density is not a log-ratio: compare two discrete "
        "or two continuous distributions (e.g. discretise the continuous one)"
    )


def _infinite_result(pa: Adapter, qa: Adapter, n: int, estimator: str, reason: str) -> MCResult:
    """KL = ∞ exactly over the broadcast batch shape, without drawing."""
    shape = np.broadcast_shapes(tuple(pa.batch_shape or ()), tuple(qa.batch_shape or ()))
    value: Any = np.full(shape, np.inf)
    if isinstance(pa, TorchAdapter):
        torch = torch_module()
        value = torch.full(shape, math.inf, dtype=torch.float64, device=pa.device)
    elif value.ndim == 0:
        value = np.float64(value)
    xp = _namespace(value)
    zeros = xp.zeros_like(value)[()] if xp is np else xp.zeros_like(value)
    return MCResult(
        value,
        zeros,
        n,
        estimator,
        reason,
        None,
        _like(np.full(shape, np.nan), value),
        _like(np.ones(shape, dtype=bool), value),
        "exact: KL = ∞ (see reason)",
        _ESTIMANDS[estimator],
        zeros,
        _like(np.zeros(shape, dtype=bool), value),
    )


def _diagnostic(mean_c: Any, se_c: Any, bad: Any) -> str:
    """Explain a failed E_p[r] = 1 check, quoting the first failing batch element."""
    torch = torch_module()
    if torch is not None and isinstance(bad, torch.Tensor):
        mean_c, se_c, bad = (t.cpu().numpy() for t in (mean_c, se_c, bad))
    mean_c, se_c, bad = np.asarray(mean_c), np.asarray(se_c), np.asarray(bad)
    first = tuple(int(i) for i in np.argwhere(bad)[0]) if bad.ndim else ()
    where = f" at batch index {first}" if first else ""
    m, s = float(mean_c[first]), float(se_c[first])
    return (
        f"k3 assumes E_p[r] = 1 for r = q/p, but the mean of r − 1 is {m:.3g} ± {s:.2g}"
        f"{where} ({m / s if s else math.inf:.1f} standard errors). Either q has mass "
        "where p has none (then E[k3] = KL − that mass: biased), or r has infinite "
        "variance (q heavier-tailed than p: the standard error is unreliable). "
        "Use estimator='k1'."
    )


def _where(counts: Any, mask: Any) -> str:
    """Describe how many draws, and at which batch indices, a condition held."""
    if mask.ndim == 0:
        return str(int(counts))
    torch = torch_module()
    if torch is not None and isinstance(mask, torch.Tensor):
        mask = mask.cpu().numpy()
    idx: Sequence[Any] = [tuple(int(i) for i in ix) for ix in np.argwhere(mask)]
    shown = ", ".join(str(i) for i in idx[:5]) + (", ..." if len(idx) > 5 else "")
    return f"some (batch indices {shown})"
