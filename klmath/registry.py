"""One entry point, :func:`kl`, for the distribution objects users already hold.

``kl(p, q)`` tries, in order:

1. a closed form registered with :func:`register_kl` for the pair, most specific
   match first (klmath registers its Gaussian closed forms for torch ``Normal``,
   ``MultivariateNormal``, ``Independent(Normal)`` and scipy ``norm``,
   ``multivariate_normal``, in any combination with equal event shapes);
2. ``torch.distributions.kl_divergence`` when both are torch and torch knows the pair;
3. Monte Carlo (:func:`klmath.mc_kl`) with a :class:`KLMonteCarloWarning`, or
   silently with ``method="mc"``.

The :class:`KLResult` says which: ``exact`` and ``method`` (``"exact"`` or ``"mc"``)
and ``formula`` (the function used).

The registry is keyed on pairs of types, as in ``torch/distributions/kl.py``. Frozen
scipy distributions all share one Python type, so they are keyed by family name
(``"norm"``, ``"multivariate_normal"``), given as that string or as the scipy object
(``scipy.stats.norm``).
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from klmath._adapters import (
    adapt,
    is_scipy_frozen,
    is_torch_distribution,
    scipy_family,
    torch_module,
)
from klmath.montecarlo import check_event_shapes, mc_kl

__all__ = [
    "KLAmbiguityWarning",
    "KLMonteCarloWarning",
    "KLResult",
    "kl",
    "register_kl",
]

_F = TypeVar("_F", bound=Callable[..., Any])
_Key = Any  # a type, or "scipy.<family>" for frozen scipy distributions

_REGISTRY: dict[tuple[_Key, _Key], Callable[[Any, Any], Any]] = {}
_MEMO: dict[tuple[_Key, _Key], Callable[[Any, Any], Any] | None] = {}

_METHODS = ("auto", "exact", "mc")


class KLMonteCarloWarning(UserWarning):
    """``kl`` found no closed form and fell back to a Monte Carlo estimate."""


class KLAmbiguityWarning(UserWarning):
    """Two registered closed forms match a pair equally well."""


@dataclass(frozen=True)
class KLResult:
    """KL(p ‖ q) as computed by :func:`kl`, saying how it was computed.

    Attributes
    ----------
    value : float, numpy.ndarray or torch.Tensor
        KL over the broadcast batch shape of p and q (``inf`` where it is infinite).
    stderr : same kind as ``value``
        0 for an exact value; the Monte Carlo standard error otherwise.
    exact : bool
        Whether ``value`` is a closed form (up to rounding).
    method : str
        ``"exact"`` or ``"mc"``.
    formula : str
        The function that produced ``value``, e.g. ``"klmath.gaussian_kl_diag"``,
        ``"torch.distributions.kl_divergence"``, ``"klmath.mc_kl(estimator='k3')"``.
    n : int or None
        Monte Carlo draws (``None`` for exact).
    reason : str or None
        Why a value is infinite, when one is.
    diagnostic : str or None
        Monte Carlo only: why the estimate or its error bar is suspect
        (:attr:`klmath.MCResult.diagnostic`).
    """

    value: Any
    stderr: Any
    exact: bool
    method: str
    formula: str
    n: int | None = None
    reason: str | None = None
    diagnostic: str | None = None

    def ci(self, level: float = 0.95) -> tuple[Any, Any]:
        """Return ``(low, high)``: ``(value, value)`` if exact, else the normal-approximation
        interval of :meth:`klmath.MCResult.ci` (``low`` clipped at 0)."""
        from klmath.montecarlo import MCResult

        if not (isinstance(level, (int, float)) and 0.0 < level < 1.0):
            raise ValueError(f"level must be a number in (0, 1), got {level!r}")
        if self.exact:
            return self.value, self.value
        return MCResult(self.value, self.stderr, self.n or 0, "").ci(level)

    def __float__(self) -> float:
        return float(self.value)


def register_kl(type_p: Any, type_q: Any) -> Callable[[_F], _F]:
    """Return a decorator registering a closed form of KL(p ‖ q) for a pair of types.

    The decorated function takes ``(p, q)`` and returns KL over their broadcast batch
    shape, or ``NotImplemented`` to decline (then :func:`kl` goes on to torch's
    registry and Monte Carlo). The most specific registration wins, as in torch:
    a pair (P, Q) beats (P', Q') when P is a subclass of P' and Q of Q'. When two
    match equally well :func:`kl` warns (:class:`KLAmbiguityWarning`) with the
    ``register_kl`` call that settles it.

    Parameters
    ----------
    type_p, type_q : type, str or scipy distribution
        A class (``torch.distributions.Gamma``, your own), or a scipy family: its name
        (``"norm"``) or the scipy object (``scipy.stats.norm``).

    Raises
    ------
    TypeError
        If a key is none of these.

    Examples
    --------
    A point mass at c, as a klmath-protocol distribution, and its closed form:

    >>> import math
    >>> class PointMass:
    ...     def __init__(self, c):
    ...         self.c = c
    ...     def sample(self, n, rng):
    ...         return np.full(n, self.c)
    ...     def log_prob(self, x):
    ...         return np.where(x == self.c, 0.0, -np.inf)
    >>> @register_kl(PointMass, PointMass)
    ... def _kl_point_point(p, q):
    ...     return 0.0 if p.c == q.c else math.inf
    >>> kl(PointMass(1.0), PointMass(2.0)).value, kl(PointMass(1.0), PointMass(1.0)).exact
    (inf, True)
    """
    kp, kq = _key("type_p", type_p), _key("type_q", type_q)

    def decorator(fn: _F) -> _F:
        _load_builtins()  # first, so that a user's registration replaces a built-in one
        _REGISTRY[kp, kq] = fn
        _MEMO.clear()
        return fn

    return decorator


def kl(
    p: Any,
    q: Any,
    *,
    method: str = "auto",
    n: int = 100_000,
    estimator: str = "k3",
    seed: int | None = None,
) -> KLResult:
    """Return KL(p ‖ q) = E_p[log p(x) − log q(x)], exactly when possible.

    Parameters
    ----------
    p, q : distribution
        A ``torch.distributions.Distribution``, a frozen ``scipy.stats`` distribution
        or any object with ``sample(n, rng)`` and ``log_prob(x)``
        (:class:`klmath.SupportsSampleLogProb`). Batch shapes broadcast; event shapes
        must agree.
    method : {"auto", "exact", "mc"}
        ``"auto"``: a closed form if one is known (registry, then torch), else Monte
        Carlo with a :class:`KLMonteCarloWarning`. ``"exact"``: a closed form or an
        error. ``"mc"``: always Monte Carlo, no warning.
    n, estimator, seed
        Passed to :func:`klmath.mc_kl` when Monte Carlo is used.

    Returns
    -------
    KLResult
        ``value``, ``stderr`` (0 if exact), ``exact``, ``method``, ``formula``.

    Raises
    ------
    ValueError
        If ``method`` is unknown or the event shapes differ.
    TypeError
        If p or q is not a distribution (see :func:`klmath.mc_kl`).
    NotImplementedError
        With ``method="exact"`` when no closed form is known; the message names both
        families and the ways out (``method="mc"``, :func:`register_kl`).

    Examples
    --------
    >>> import torch
    >>> from torch.distributions import Normal
    >>> res = kl(Normal(0.0, 1.0), Normal(1.0, 2.0))
    >>> res.exact, res.formula, round(float(res.value), 6)  # log 2 + 2/8 − 1/2
    (True, 'klmath.gaussian_kl_diag', 0.443147)
    """
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    pa = adapt(p, "p", need_sample=method == "mc")
    qa = adapt(q, "q", need_sample=False)
    check_event_shapes(pa, qa)
    if method != "mc":
        exact = _exact(p, q)
        if exact is not None:
            value, formula = exact
            if isinstance(value, np.ndarray) and value.ndim == 0:
                value = np.float64(value)
            return KLResult(value, _zeros_like(value), True, "exact", formula, None, _inf(value))
        if method == "exact":
            raise NotImplementedError(
                f"no closed form for KL(p ‖ q) with p = {pa.family}, q = {qa.family}: "
                f"use kl(p, q, method='mc') for a Monte Carlo estimate, or register one "
                f"with @klmath.register_kl({_spell(p)}, {_spell(q)})"
            )
        adapt(p, "p", need_sample=True)
        hint = ""
        if pa.family == qa.family == "torch MixtureSameFamily":
            hint = " For Gaussian mixtures, klmath.gaussian_mixture_kl_bounds brackets it."
        warnings.warn(
            f"no closed form for KL(p ‖ q) with p = {pa.family}, q = {qa.family}; "
            f"estimating it by Monte Carlo (n={n}, estimator={estimator!r}). "
            f"Pass method='mc' to silence this warning.{hint}",
            KLMonteCarloWarning,
            stacklevel=2,
        )
    res = mc_kl(p, q, n, estimator=estimator, seed=seed)
    formula = f"klmath.mc_kl(estimator={estimator!r})"
    return KLResult(res.value, res.stderr, False, "mc", formula, res.n, res.reason, res.diagnostic)


# --------------------------------------------------------------------------- dispatch


def _key(name: str, obj: Any) -> _Key:
    """Normalise a register_kl argument to a registry key."""
    if isinstance(obj, type):
        return obj
    if isinstance(obj, str) and obj:
        return f"scipy.{obj}"
    stats = sys.modules.get("scipy.stats")
    if stats is not None:
        from scipy.stats._distn_infrastructure import rv_generic
        from scipy.stats._multivariate import multi_rv_generic

        if isinstance(obj, rv_generic):
            return f"scipy.{obj.name}"
        if isinstance(obj, multi_rv_generic):
            family = type(obj).__name__
            return f"scipy.{family.removesuffix('_gen')}"
    raise TypeError(
        f"{name} must be a class, a scipy family name or a scipy.stats distribution, got {obj!r}"
    )


def _chain(obj: Any) -> tuple[_Key, ...]:
    """Keys matching ``obj``, most specific first (scipy: its family, then ``object``)."""
    if is_scipy_frozen(obj):
        return (f"scipy.{scipy_family(obj)}", object)
    return type(obj).__mro__


def _dispatch(p: Any, q: Any) -> Callable[[Any, Any], Any] | None:
    """Return the most specific registered function for (p, q), or None."""
    _load_builtins()
    cp, cq = _chain(p), _chain(q)
    memo_key = (cp[0], cq[0])
    if memo_key in _MEMO:
        return _MEMO[memo_key]
    ranked = [(cp.index(kp), cq.index(kq), kp, kq) for kp, kq in _REGISTRY if kp in cp and kq in cq]
    best = [
        c
        for c in ranked
        if not any(o[0] <= c[0] and o[1] <= c[1] and o[:2] != c[:2] for o in ranked)
    ]
    fn = None
    if best:
        best.sort(key=lambda c: c[:2])
        if len(best) > 1:
            a, b = best[0], best[1]
            warnings.warn(
                f"ambiguous kl() registrations for ({_name(cp[0])}, {_name(cq[0])}): "
                f"({_name(a[2])}, {_name(a[3])}) and ({_name(b[2])}, {_name(b[3])}) match "
                f"equally well; using the first. Settle it with "
                f"register_kl({_name(cp[0])}, {_name(cq[0])})",
                KLAmbiguityWarning,
                stacklevel=3,
            )
        fn = _REGISTRY[best[0][2], best[0][3]]
    _MEMO[memo_key] = fn
    return fn


def _exact(p: Any, q: Any) -> tuple[Any, str] | None:
    """Return (value, formula) from the registry or torch, or None."""
    fn = _dispatch(p, q)
    if fn is not None:
        value = fn(p, q)
        if value is not NotImplemented:
            return value, getattr(fn, "_klmath_formula", f"{fn.__module__}.{fn.__qualname__}")
    if is_torch_distribution(p) and is_torch_distribution(q):
        torch = torch_module()
        try:
            value = torch.distributions.kl_divergence(p, q)
        except NotImplementedError:
            return None
        return value, "torch.distributions.kl_divergence"
    return None


def _name(key: Any) -> str:
    if isinstance(key, str):
        return repr(key.removeprefix("scipy."))
    return getattr(key, "__name__", repr(key))


def _spell(obj: Any) -> str:
    """How to name ``obj``'s family in a register_kl call."""
    if is_scipy_frozen(obj):
        return f"scipy.stats.{scipy_family(obj)}"
    return type(obj).__name__


def _zeros_like(value: Any) -> Any:
    torch = torch_module()
    if torch is not None and isinstance(value, torch.Tensor):
        return torch.zeros_like(value)
    if isinstance(value, float):
        return 0.0
    return np.zeros_like(value)


def _inf(value: Any) -> str | None:
    torch = torch_module()
    if torch is not None and isinstance(value, torch.Tensor):
        infinite = bool(torch.isinf(value).any())
    else:
        infinite = bool(np.isinf(np.asarray(value)).any())
    if infinite:
        return "the closed form is inf: q has zero density on a part of p's support"
    return None


_builtins_loaded = False


def _load_builtins() -> None:
    """Register klmath's own closed forms, once, on first use (they import torch)."""
    global _builtins_loaded
    if not _builtins_loaded:
        _builtins_loaded = True
        # Imported for its side effect: the Gaussian closed forms register themselves.
        from klmath import _gaussian_pairs  # noqa: F401
