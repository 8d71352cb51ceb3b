"""One entry point each, :func:`kl` and :func:`entropy`, for the distribution objects users hold.

``kl(p, q)`` tries, in order:

1. a closed form registered with :func:`klmath.register_kl` for the pair, most
   specific match first. klmath registers its own for every pair in torch's KL
   registry (torch 2.13) except torch's generic exponential-family rule, for the
   same families as scipy frozen objects (``norm``, ``laplace``, ``uniform``,
   ``gamma``, ``expon``, ``beta``, ``bernoulli``, ``binom``, ``poisson``, ``geom``, ...),
   and for any mix of the two (see ``docs/topics/kl-registry.md``);
2. ``torch.distributions.kl_divergence`` when both are torch and torch knows the pair;
3. Monte Carlo (:func:`klmath.mc_kl`) with a :class:`KLMonteCarloWarning`, or
   silently with ``method="mc"``.

Every exact value, from klmath's formula, a user's or torch's, passes the same
checks before it is returned (:func:`kl` Notes): it is ≥ 0, exactly 0 when p is q,
never NaN, and ``inf`` only with a ``reason``. ``entropy(p)`` works the same way with
:func:`klmath.register_entropy`, torch's ``entropy()`` and Monte Carlo.

The :class:`KLResult` says how the value was obtained: ``exact``, ``method``
(``"exact"`` or ``"mc"``) and ``formula`` (the function used).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np

import klmath._formulas  # noqa: F401 - registers klmath's closed forms
from klmath._adapters import (
    Adapter,
    _first,
    _short,
    adapt,
    check_parameters,
    is_scipy_frozen,
    is_torch_distribution,
    scipy_family,
)
from klmath._backend import namespace, torch_if_loaded
from klmath._warn import warn
from klmath.montecarlo import (
    ESTIMATORS,
    KLEstimatorWarning,
    MCResult,
    _host,
    check_event_shapes,
    mc_kl,
)
from klmath.registry import closed_form_entropy, closed_form_kl, family_name

__all__ = ["EntropyResult", "KLMonteCarloWarning", "KLResult", "entropy", "kl"]

_METHODS = ("auto", "exact", "mc")
_SEED_LIMIT = 2**64


class KLMonteCarloWarning(UserWarning):
    """``kl`` (or ``entropy``) found no closed form and fell back to a Monte Carlo estimate."""


@dataclass(frozen=True)
class KLResult:
    """KL(p ‖ q) as computed by :func:`kl`, saying how it was computed.

    A Monte Carlo result keeps the :class:`~klmath.MCResult` it came from in ``mc``,
    unchanged: the same tail diagnostic, verdict, estimand, skewness and warnings as a
    direct :func:`klmath.mc_kl` call, and ``ci()`` is that result's interval.

    Attributes
    ----------
    value : float, numpy.ndarray or torch.Tensor
        KL over the broadcast batch shape of p and q (``inf`` where it is infinite), in
        p's array kind: a NumPy ``float64`` (array) for scipy and protocol p, a tensor
        for torch p. Exact values are ≥ 0; a k1 estimate can be below 0 (its mean is KL,
        its terms have either sign).
    stderr : same kind as ``value``
        0 for an exact value; the Monte Carlo standard error otherwise.
    exact : bool
        Whether ``value`` is a closed form (up to rounding).
    method : str
        ``"exact"`` or ``"mc"``.
    formula : str
        The function that produced ``value``, e.g. ``"klmath.gaussian_kl_diag"``,
        ``"torch.distributions.kl_divergence"``, ``"klmath.mc_kl(estimator='k1')"``.
    n : int or None
        Monte Carlo draws (``None`` for exact).
    reason : str or None
        Why a value is infinite, when one is.
    diagnostic : str or None
        Monte Carlo only: why the estimate or its error bar is suspect
        (:attr:`klmath.MCResult.diagnostic`), or, when ``kl`` chose the estimator
        (``estimator=None``), why it replaced k3 by k1, or why it kept k3 although k3 is
        not reliable (see :func:`kl`, Notes).
    mc : klmath.MCResult or None
        Monte Carlo only: the :func:`klmath.mc_kl` result ``value`` is taken from
        (``mc.value is value``), with its diagnostics: ``mc.estimator``, ``mc.khat``
        (Pareto k̂ of the terms' tail), ``mc.reliable`` and ``mc.verdict`` (whether
        ``ci()`` can be trusted as an interval for KL, and what to do if not),
        ``mc.estimand``, ``mc.skewness``, ``mc.warned`` (which batch elements a
        :class:`~klmath.KLEstimatorWarning` of this call covers). ``None`` for an exact
        value. "Can I trust this interval?" is ``res.exact or bool(res.mc.reliable)``
        (``.all()`` over a batch).
    """

    value: Any
    stderr: Any
    exact: bool
    method: str
    formula: str
    n: int | None = None
    reason: str | None = None
    diagnostic: str | None = None
    mc: MCResult | None = None

    def ci(self, level: float = 0.95, *, method: str = "skew") -> tuple[Any, Any]:
        """Return ``(low, high)``: ``(value, value)`` if exact, else ``mc.ci(level, method=...)``.

        The Monte Carlo interval is :meth:`klmath.MCResult.ci`'s, with the same
        ``method``: ``"skew"`` (default, corrected for the terms' skewness) or
        ``"normal"`` (``value ± z·stderr``); ``low`` is clipped at 0. Whether it can be
        trusted is ``mc.reliable`` (``mc.verdict`` says why).

        Raises
        ------
        ValueError
            If ``level`` is not a number strictly between 0 and 1, or ``method`` is not
            ``"skew"`` or ``"normal"``.
        """
        _check_level(level, method)
        if self.exact:
            return self.value, self.value
        if self.mc is not None:
            return self.mc.ci(level, method=method)
        # Built by hand without its MCResult: no skewness to correct for.
        return MCResult(self.value, self.stderr, self.n or 0, "").ci(level, method="normal")

    def __float__(self) -> float:
        return float(self.value)


def _check_level(level: Any, method: Any) -> None:
    """Check ``ci()``'s arguments, naming the bad one."""
    if isinstance(level, bool) or not (isinstance(level, (int, float)) and 0.0 < level < 1.0):
        raise ValueError(f"level must be a number in (0, 1), got {level!r}")
    if method not in ("skew", "normal"):
        raise ValueError(f"method must be 'skew' or 'normal', got {method!r}")


@dataclass(frozen=True)
class EntropyResult(KLResult):
    """The entropy H(p) = −E_p[log p(x)] as computed by :func:`entropy`.

    Attributes
    ----------
    value : float, numpy.ndarray or torch.Tensor
        H(p) over p's batch shape, in p's array kind: the Shannon entropy (≥ 0) for
        a probability mass function, the differential entropy (any sign) for a density.
    stderr, exact, method, formula, n, reason, diagnostic
        As in :class:`KLResult`.
    mc : None
        Always ``None``: a Monte Carlo entropy is the plain mean of −log p over the
        draws, not an :class:`~klmath.MCResult`.
    """

    def ci(self, level: float = 0.95, *, method: str = "normal") -> tuple[Any, Any]:
        """Return ``(low, high)``: ``(value, value)`` if exact, else ``value ± z·stderr``.

        Not clipped at 0: a differential entropy can be negative. Only
        ``method="normal"``: the skewness of −log p is not accumulated.

        Raises
        ------
        ValueError
            If ``level`` is not strictly between 0 and 1, or ``method`` is not ``"normal"``.
        """
        _check_level(level, method)
        if method != "normal":
            raise ValueError(f"method must be 'normal' for an entropy, got {method!r}")
        if self.exact:
            return self.value, self.value
        z = NormalDist().inv_cdf(0.5 + level / 2.0)
        return self.value - z * self.stderr, self.value + z * self.stderr


# --------------------------------------------------------------------------- kl


def kl(
    p: Any,
    q: Any,
    *,
    method: str = "auto",
    n: int = 100_000,
    estimator: str | None = None,
    seed: int | None = None,
) -> KLResult:
    """Return KL(p ‖ q) = E_p[log p(x) − log q(x)], exactly when possible.

    Parameters
    ----------
    p, q : distribution
        A ``torch.distributions.Distribution``, a frozen ``scipy.stats`` distribution
        or any object with ``sample(n, rng)`` and ``log_prob(x)``
        (:class:`klmath.SupportsSampleLogProb`), in any mix. Batch shapes broadcast;
        event shapes must agree.
    method : {"auto", "exact", "mc"}
        ``"auto"``: a closed form if one is known (registry, then torch), else Monte
        Carlo with a :class:`KLMonteCarloWarning`. ``"exact"``: a closed form or an
        error. ``"mc"``: always Monte Carlo, no warning.
    n : int
        Monte Carlo draws (≥ 2), when Monte Carlo is used.
    estimator : {None, "k1", "k2", "k3"}
        ``None`` (default): ``kl`` chooses, see Notes. A name: that estimator of
        :func:`klmath.mc_kl`, as given.
    seed : int or None
        Seed (0 ≤ seed < 2⁶⁴) for Monte Carlo, see :func:`klmath.mc_kl`.

    Returns
    -------
    KLResult
        ``value``, ``stderr`` (0 if exact), ``exact``, ``method``, ``formula``, and a
        ``reason`` for any infinite value. A Monte Carlo result also carries the
        :class:`klmath.MCResult` of the estimate it returns as ``mc`` (tail shape
        ``khat``, ``reliable``, ``verdict``, ``estimand``, ``skewness``, ``warned``), and
        ``ci(level, method=...)`` is that result's interval.

    Raises
    ------
    ValueError
        If ``method`` or ``estimator`` is unknown, ``n`` < 2, the event shapes differ,
        a parameter of p or q is invalid (NaN, or outside its domain, even in a torch
        distribution built with ``validate_args=False``; the message names p or q, the
        family and the parameter), or, with ``method="exact"``, the closed form
        returned NaN.
    TypeError
        If p or q is not a distribution, ``n`` or ``seed`` is not an int, or a
        registered closed form returned something that is not a number, array or
        tensor (the message names the function).
    NotImplementedError
        With ``method="exact"`` when no closed form is known; the message names both
        families and the ways out (``method="mc"``, :func:`klmath.register_kl`).

    Warns
    -----
    KLMonteCarloWarning
        ``method="auto"`` and no closed form (or a closed form that returned NaN).
    KLEstimatorWarning
        Monte Carlo only, as :func:`klmath.mc_kl` issues it for the estimate returned
        (the variance of its terms is likely infinite, k3's check failed, or k2). With
        ``estimator=None``, a warning about an estimate that ``kl`` discarded is not
        issued: ``diagnostic`` says why it was discarded.

    Every warning points at the line that called ``kl``, not at klmath's source, so
    ``warnings.filterwarnings(..., module=...)`` and the once-per-location default act
    on the user's code.

    Notes
    -----
    *The guarantee on exact values.* Whatever produced an exact value, ``kl`` returns
    it only after these checks: a negative value (rounding in a formula that
    subtracts; KL ≥ 0 always) becomes 0, which is never farther from the true value;
    ``p is q`` gives exactly 0; NaN is not returned (``"exact"`` raises, ``"auto"``
    falls back to Monte Carlo with a warning); an infinite value comes with
    ``reason``. klmath's own formulas are written as sums of non-negative terms that
    are exactly 0 for equal parameters, so they need none of it.

    *The estimator when* ``estimator=None``. k3 = r − 1 − log r (r = q/p; low
    variance when p ≈ q, ≥ 0 per draw) is tried first. It is unbiased only if
    E_p[r] = ∫_{supp p} q = 1, i.e. q has no mass outside p's support; otherwise
    E[k3] = KL − Q(x ∉ supp p), and for a constant r (uniform p and q) its standard
    error is rounding noise around that wrong value. :func:`klmath.mc_kl` checks the
    mean of r − 1 against 0 on the same draws (failing beyond 5 standard errors), and
    judges the tail of the terms (``reliable``: k̂ ≤ ⅓). The rule:

    1. k3 reliable at every batch element (check passed, k̂ ≤ ⅓): k3 is returned.
    2. Otherwise k1 = −log r, unbiased whatever the supports, is computed by a second
       :func:`klmath.mc_kl` run (with a seed: on the same draws; this doubles the cost).
    3. k3's check failed (k3 is biased by the missing mass, or r has infinite variance):
       k1 is returned, whatever k1's own verdict; ``diagnostic`` quotes the check
       (the mean of r − 1 estimates −Q(x ∉ supp p)) and k3's discarded value.
    4. k3's check passed but its tail is too heavy (k̂ > ⅓): k1 is returned if it is
       more trustworthy, judged in this order: warned at no batch element while k3 is
       warned at some (k̂ > ½); reliable at every element while k3 is not; a smaller
       largest k̂ (a lighter tail). Otherwise k3 (unbiased here, lower variance) is
       kept and ``diagnostic`` gives both verdicts.

    The value returned is therefore never one whose bias ``kl`` has detected, and its
    error bar is judged in ``mc.reliable`` / ``mc.verdict``, the estimate's own
    :class:`klmath.MCResult`. A mass of q outside p's support smaller than about 5
    standard errors of r − 1 (≈ 5·sqrt(Var r / n)) cannot be detected; it biases k3 by
    that much at most. ``estimator="k3"`` (or ``"k1"``, ``"k2"``) bypasses the rule and
    returns that estimator with :func:`klmath.mc_kl`'s warnings.

    Examples
    --------
    >>> import torch
    >>> from torch.distributions import Normal
    >>> res = kl(Normal(0.0, 1.0), Normal(1.0, 2.0))
    >>> res.exact, res.formula, round(float(res.value), 6)  # log 2 + 2/8 − 1/2
    (True, 'klmath.gaussian_kl_diag', 0.443147)
    >>> import scipy.stats as st
    >>> res = kl(st.uniform(0.2, 0.3), st.uniform(0, 1))
    >>> res.exact, round(float(res.value), 6)  # log(1/0.3)
    (True, 1.203973)
    """
    _check_options(method, n, estimator, seed)
    pa = adapt(p, "p", need_sample=method == "mc")
    qa = adapt(q, "q", need_sample=False)
    check_event_shapes(pa, qa)
    check_parameters(p, "p")
    check_parameters(q, "q")
    if method != "mc":
        exact = _exact_kl(p, q, method)
        if exact is not None:
            value, formula, reason = exact
            return KLResult(value, _zeros_like(value), True, "exact", formula, None, reason)
        if method == "exact":
            raise NotImplementedError(
                f"no closed form for KL(p ‖ q) with p = {pa.family}, q = {qa.family}: "
                f"use kl(p, q, method='mc') for a Monte Carlo estimate, or register one "
                f"with @klmath.register_kl({family_name(p)}, {family_name(q)})"
            )
        adapt(p, "p", need_sample=True)
        hint = ""
        if pa.family == qa.family == "torch MixtureSameFamily":
            hint = " For Gaussian mixtures, klmath.gaussian_mixture_kl_bounds brackets it."
        warn(
            f"no closed form for KL(p ‖ q) with p = {pa.family}, q = {qa.family}; "
            f"estimating it by Monte Carlo (n={n}, estimator="
            f"{'chosen by kl' if estimator is None else repr(estimator)}). "
            f"Pass method='mc' to silence this warning.{hint}",
            KLMonteCarloWarning,
        )
    return _monte_carlo_kl(p, q, n, estimator, seed)


def _check_options(method: str, n: Any, estimator: Any, seed: Any) -> None:
    """Check kl()'s and entropy()'s keyword arguments, naming the bad one."""
    if not isinstance(method, str) or method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"n must be an int, got {type(n).__name__} {n!r}")
    if n < 2:
        raise ValueError(f"n must be >= 2 (a standard error needs two draws), got {n}")
    if estimator is not None and (not isinstance(estimator, str) or estimator not in ESTIMATORS):
        raise ValueError(f"estimator must be None or one of {ESTIMATORS}, got {estimator!r}")
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"seed must be an int or None, got {type(seed).__name__} {seed!r}")
        if not 0 <= seed < _SEED_LIMIT:
            raise ValueError(f"seed must be in [0, 2**64), got {seed}")


def _exact_kl(p: Any, q: Any, method: str) -> tuple[Any, str, str | None] | None:
    """(value, formula, reason) of a checked closed form, or None if there is none."""
    raw = closed_form_kl(p, q)
    if raw is None:
        return None
    value, formula, reason = raw
    value = _as_value(value, formula, p, q)
    value = _settle(value, formula, method, f"KL(p ‖ q) with p = {_fam(p)}, q = {_fam(q)}")
    if value is None:
        return None
    if p is q:
        value = _zero(value)
    if _any_inf(value) and reason is None:
        reason = _support_reason(p, q)
    elif not _any_inf(value):
        reason = None
    return value, formula, reason


# --------------------------------------------------------------------------- entropy


def entropy(
    p: Any,
    *,
    method: str = "auto",
    n: int = 100_000,
    seed: int | None = None,
) -> EntropyResult:
    """Return the entropy H(p) = −E_p[log p(x)], exactly when possible.

    The Shannon entropy for a probability mass function, the differential entropy
    for a density (which may be negative).

    Parameters
    ----------
    p : distribution
        As in :func:`kl`.
    method : {"auto", "exact", "mc"}
        As in :func:`kl`: a closed form registered with :func:`klmath.register_entropy`
        (klmath's, for the families of :func:`kl`), else torch's ``p.entropy()``, else
        Monte Carlo (−log p averaged over ``n`` draws, with its standard error).
    n : int
        Monte Carlo draws (≥ 2).
    seed : int or None
        Seed for Monte Carlo (0 ≤ seed < 2⁶⁴).

    Returns
    -------
    EntropyResult
        As :class:`KLResult`.

    Raises
    ------
    ValueError
        Unknown ``method``, ``n`` < 2, invalid parameters of p (named), or NaN from a
        closed form with ``method="exact"``.
    TypeError
        p is not a distribution, ``n`` or ``seed`` not an int, or a registered closed
        form returned something that is not a number, array or tensor.
    NotImplementedError
        ``method="exact"`` and no closed form is known.

    Warns
    -----
    KLMonteCarloWarning
        ``method="auto"`` and no closed form.

    Notes
    -----
    Exact values are checked as in :func:`kl`: never NaN, ``inf`` with a reason, and a
    discrete entropy below 0 (rounding) becomes 0.

    Examples
    --------
    >>> import torch
    >>> from torch.distributions import Normal
    >>> res = entropy(Normal(0.0, 1.0))
    >>> res.exact, round(float(res.value), 6)  # ½ log(2πe)
    (True, 1.418939)
    >>> import scipy.stats as st
    >>> float(entropy(st.bernoulli(0.5)).value) == math.log(2)
    True
    """
    _check_options(method, n, None, seed)
    pa = adapt(p, "p", need_sample=method == "mc")
    check_parameters(p, "p")
    if method != "mc":
        exact = _exact_entropy(p, method)
        if exact is not None:
            value, formula, reason = exact
            return EntropyResult(value, _zeros_like(value), True, "exact", formula, None, reason)
        if method == "exact":
            raise NotImplementedError(
                f"no closed form for the entropy of p = {pa.family}: use "
                f"entropy(p, method='mc') for a Monte Carlo estimate, or register one with "
                f"@klmath.register_entropy({family_name(p)})"
            )
        warn(
            f"no closed form for the entropy of p = {pa.family}; estimating it by Monte "
            f"Carlo (n={n}). Pass method='mc' to silence this warning.",
            KLMonteCarloWarning,
        )
    return _monte_carlo_entropy(adapt(p, "p", need_sample=True), n, seed)


def _exact_entropy(p: Any, method: str) -> tuple[Any, str, str | None] | None:
    raw = closed_form_entropy(p)
    if raw is None:
        return None
    value, formula, reason = raw
    value = _as_value(value, formula, p, None)
    value = _settle(value, formula, method, f"the entropy of p = {_fam(p)}", clamp=_discrete(p))
    if value is None:
        return None
    if _any_inf(value) and reason is None:
        reason = "the entropy is infinite: the density is unbounded (or the mass spread) enough"
    elif not _any_inf(value):
        reason = None
    return value, formula, reason


# --------------------------------------------------------------------------- checks


def _as_value(value: Any, formula: str, p: Any, q: Any) -> Any:
    """Check the type of a closed form's result; NumPy results become float64."""
    torch = torch_if_loaded()
    if torch is not None and isinstance(value, torch.Tensor):
        if not value.is_floating_point():
            value = value.to(torch.get_default_dtype())
        return value
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (int, float, np.integer, np.floating, np.ndarray)
    ):
        pair = f"({_fam(p)}, {_fam(q)})" if q is not None else f"({_fam(p)})"
        raise TypeError(
            f"the closed form {formula} registered for {pair} returned "
            f"{type(value).__name__} {value!r:.60}; a closed form must return a float, a "
            "NumPy array or a torch tensor (or NotImplemented to decline)"
        )
    if type(value) in (int, float):  # a Python number stays one (np.float64 is a float too)
        return float(value)
    arr = np.asarray(value, dtype=np.float64)
    return np.float64(arr) if arr.ndim == 0 else arr


def _settle(value: Any, formula: str, method: str, what: str, *, clamp: bool = True) -> Any:
    """Refuse NaN (None under "auto", so the caller falls back) and clamp negatives to 0."""
    if type(value) is float:  # a user's formula returning a Python number
        checked = _settle(np.float64(value), formula, method, what, clamp=clamp)
        return None if checked is None else float(checked)
    xp = namespace(value)
    nan = xp.isnan(value)
    if bool(nan.any()):
        idx = _first(nan)
        where = f" at batch index {idx}" if np.ndim(value) else ""
        text = f"{formula} returned NaN for {what}{where}"
        if method == "exact":
            raise ValueError(f"{text}; no trustworthy closed form: use method='mc' for an estimate")
        warn(f"{text}; falling back to Monte Carlo", KLMonteCarloWarning)
        return None
    if clamp and bool((value < 0).any()):
        if xp is np:
            value = np.maximum(value, 0.0)
            value = np.float64(value) if np.ndim(value) == 0 else value
        else:
            value = value.clamp_min(0.0)
    return value


def _support_reason(p: Any, q: Any) -> str:
    """Why KL is infinite, from the supports when both objects declare them."""
    sp, sq = _support(p), _support(q)
    if sp is not None and sq is not None:
        return (
            f"q has zero density on part of p's support: p ({_fam(p)}) lives on {sp}, "
            f"q ({_fam(q)}) on {sq}"
        )
    return "the closed form is inf: q has zero density on a part of p's support"


def _support(dist: Any) -> str | None:
    if is_torch_distribution(dist):
        try:
            return str(dist.support)
        except NotImplementedError:
            return None
    if is_scipy_frozen(dist) and hasattr(dist, "support"):
        lo, hi = dist.support()
        return f"[{_short(np.asarray(lo))}, {_short(np.asarray(hi))}]"
    return None


# --------------------------------------------------------------------------- Monte Carlo


def _monte_carlo_kl(p: Any, q: Any, n: int, estimator: str | None, seed: int | None) -> KLResult:
    """Monte Carlo KL; with ``estimator=None`` the policy of :func:`kl`'s Notes."""
    if estimator is not None:
        return _mc_result(mc_kl(p, q, n, estimator=estimator, seed=seed), None)
    k3, k3_warnings = _recorded(p, q, n, "k3", seed)
    if _everywhere(k3.reliable):
        _reissue(k3_warnings)
        return _mc_result(k3, None)
    k1, k1_warnings = _recorded(p, q, n, "k1", seed)
    draws = "the same draws" if seed is not None else "fresh draws (seed=None)"
    if k3.diagnostic is None and _standing(k3) <= _standing(k1):
        # k3 is unbiased here (its check passed) and k1 is no more trustworthy.
        _reissue(k3_warnings)
        why = (
            f"k3 was kept although its interval is not reliable ({k3.verdict}); k1, tried "
            f"on {draws}, is no better: {k1.verdict}"
        )
        return _mc_result(k3, why)
    _reissue(k1_warnings)
    if k3.diagnostic is not None:
        why = (
            f"k3 was not used: {k3.diagnostic} k3 gave {_short(k3.value)}, biased "
            "by the mass of q outside p's support if that is the cause. kl() returned k1 "
            f"(−log r, unbiased whatever the supports) from a second run on {draws}."
        )
    else:
        why = (
            f"k3 was not used: {k3.verdict} kl() returned k1 (−log r; its own verdict: "
            f"{k1.verdict}) from a second run on {draws}."
        )
    return _mc_result(k1, f"{why} k1: {k1.diagnostic}" if k1.diagnostic else why)


def _recorded(
    p: Any, q: Any, n: int, estimator: str, seed: int | None
) -> tuple[MCResult, list[warnings.WarningMessage]]:
    """``mc_kl`` with its warnings held back, to be reissued only if its value is returned."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = mc_kl(p, q, n, estimator=estimator, seed=seed)
    return res, caught


def _reissue(caught: list[warnings.WarningMessage]) -> None:
    """Issue held-back warnings again, under the caller's filters: klmath's own at the
    user's line, anything else (torch, scipy) where it was raised."""
    for w in caught:
        if issubclass(w.category, (KLEstimatorWarning, KLMonteCarloWarning)):
            warn(w.message, w.category)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def _standing(res: MCResult) -> tuple[bool, bool, float]:
    """How far ``res``'s interval is from trustworthy, smaller is better: (some element
    warned, some element not reliable, the largest k̂ (∞ after an overflow); ∞ where
    none was fitted)."""
    khat = _host(res.khat) if res.khat is not None else np.array(np.nan)
    fitted = khat[~np.isnan(khat)]
    worst = float(fitted.max()) if fitted.size else math.inf
    return (not _nowhere(res.warned), not _everywhere(res.reliable), worst)


def _everywhere(flags: Any) -> bool:
    return flags is not None and bool(_host(flags).all())


def _nowhere(flags: Any) -> bool:
    return flags is None or not bool(_host(flags).any())


def _mc_result(res: MCResult, diagnostic: str | None) -> KLResult:
    """The KLResult of a Monte Carlo estimate, carrying ``res`` itself as ``mc``."""
    return KLResult(
        res.value,
        res.stderr,
        False,
        "mc",
        f"klmath.mc_kl(estimator={res.estimator!r})",
        res.n,
        res.reason,
        diagnostic if diagnostic is not None else res.diagnostic,
        res,
    )


def _monte_carlo_entropy(pa: Adapter, n: int, seed: int | None) -> EntropyResult:
    """−log p averaged over n draws of p, in chunks, with its standard error."""
    from klmath.montecarlo import _seeded, _to_backend

    chunk = max(2, min(n, 2**16 // max(1, math.prod(pa.batch_shape or ()))))
    count, mean, m2 = 0, None, None
    with _seeded(seed, pa) as rng:
        while count < n:
            m = min(chunk, n - count)
            x = pa.sample(m, rng)
            lp = pa.log_prob(x)
            terms = -_to_backend(lp, lp)
            xp = namespace(terms)
            if not bool(xp.all(xp.isfinite(terms))):
                raise ValueError(
                    f"p ({pa.family}) has a non-finite log density at one of its own draws"
                )
            c_mean = terms.mean(0)
            c_m2 = ((terms - c_mean) ** 2).sum(0)
            if mean is None:
                mean, m2 = c_mean, c_m2
            else:
                delta = c_mean - mean
                total = count + m
                mean = mean + delta * (m / total)
                m2 = m2 + c_m2 + delta * delta * (count * m / total)
            count += m
    assert mean is not None and m2 is not None  # n >= 2 draws
    xp = namespace(mean)
    stderr = xp.sqrt(m2 / ((n - 1) * n))
    if xp is np and np.ndim(mean) == 0:
        mean, stderr = np.float64(mean), np.float64(stderr)
    return EntropyResult(mean, stderr, False, "mc", "klmath.entropy(method='mc')", n)


# --------------------------------------------------------------------------- helpers


def _fam(obj: Any) -> str:
    if is_torch_distribution(obj):
        return f"torch {type(obj).__name__}"
    if is_scipy_frozen(obj):
        return f"scipy {scipy_family(obj)}"
    return type(obj).__name__


def _discrete(p: Any) -> bool:
    if is_torch_distribution(p):
        try:
            return bool(p.support.is_discrete)
        except NotImplementedError:
            return False
    if is_scipy_frozen(p):
        from scipy.stats._distn_infrastructure import rv_discrete_frozen

        return isinstance(p, rv_discrete_frozen)
    return False


def _zeros_like(value: Any) -> Any:
    if type(value) is float:
        return 0.0
    xp = namespace(value)
    if xp is np:
        return np.float64(0.0) if np.ndim(value) == 0 else np.zeros_like(value)
    return xp.zeros_like(value)


def _zero(value: Any) -> Any:
    """0 in place of ``value``, keeping a torch graph (with zero gradient)."""
    if type(value) is float:
        return 0.0
    xp = namespace(value)
    if xp is np:
        return _zeros_like(value)
    return xp.where(xp.ones_like(value, dtype=xp.bool), xp.zeros_like(value), value)


def _any_inf(value: Any) -> bool:
    if type(value) is float:
        return math.isinf(value)
    return bool(namespace(value).isinf(value).any())
