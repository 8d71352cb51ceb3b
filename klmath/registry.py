"""The registry of closed forms: :func:`register_kl`, :func:`register_entropy` and dispatch.

A closed form is registered for a pair of distribution *types* (KL) or one type
(entropy), as in ``torch/distributions/kl.py``, and found again for a pair of objects
by the most specific match: (P, Q) beats (P', Q') when P is P' or a subclass of it and
Q likewise. Two equally good matches warn (:class:`KLAmbiguityWarning`) with the
``register_kl`` call that settles the tie.

Keys are names, so that registering costs no import:

* a torch distribution class, or its name ``"torch.Normal"``: the class's own name for
  classes of ``torch.distributions`` (a subclass you define is keyed by itself, and
  falls back to its torch base classes in MRO order);
* a frozen scipy family, by name (``"norm"`` or ``"scipy.norm"``) or as the scipy object
  (``scipy.stats.norm``): scipy freezes every family into the same Python type, so
  ``p.dist.name`` is the key;
* any other class (your own distributions following :class:`klmath.SupportsSampleLogProb`).

This module holds the tables and the lookup, nothing else: klmath's formula modules
(``klmath._formulas``) import it to register themselves, and :mod:`klmath.divergence`
(:func:`klmath.kl`, :func:`klmath.entropy`) imports both. The registry imports no
formula module.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from klmath._adapters import is_scipy_frozen, is_torch_distribution, scipy_family
from klmath._warn import warn

__all__ = ["KLAmbiguityWarning", "register_entropy", "register_kl"]

_F = TypeVar("_F", bound=Callable[..., Any])
_Key = Any  # a class, "torch.<Name>" or "scipy.<family>"

_REGISTRY: dict[tuple[_Key, _Key], Callable[[Any, Any], Any]] = {}
_MEMO: dict[tuple[_Key, _Key], Callable[[Any, Any], Any] | None] = {}
_ENTROPY: dict[_Key, Callable[[Any], Any]] = {}

_TORCH_PREFIX = "torch."
_SCIPY_PREFIX = "scipy."


class KLAmbiguityWarning(UserWarning):
    """Two registered closed forms match a pair equally well."""


@dataclass(frozen=True)
class ClosedForm:
    """What a formula may return instead of a bare value: the value, why it is infinite
    where it is, and the name of the formula that actually produced it (for formulas
    that delegate, such as ``Independent``)."""

    value: Any
    reason: str | None = None
    formula: str | None = None


def register_kl(type_p: Any, type_q: Any) -> Callable[[_F], _F]:
    """Return a decorator registering a closed form of KL(p ‖ q) for a pair of types.

    The decorated function takes ``(p, q)`` and returns KL over their broadcast batch
    shape (a float, NumPy array or torch tensor), or ``NotImplemented`` to decline
    (then :func:`klmath.kl` goes on to torch's registry and Monte Carlo). It may also
    return ``(value, reason)`` with ``reason`` a string saying why some value is
    infinite. The most specific registration wins, as in torch: a pair (P, Q) beats
    (P', Q') when P is a subclass of P' and Q of Q'. When two match equally well
    :func:`klmath.kl` warns (:class:`KLAmbiguityWarning`) with the ``register_kl`` call
    that settles it.

    Whatever the function returns passes :func:`klmath.kl`'s checks: a value below 0
    (rounding) becomes 0, NaN is an error, ``inf`` gets a reason.

    Parameters
    ----------
    type_p, type_q : type, str or scipy distribution
        A class (``torch.distributions.Gamma``, your own), the name of a torch
        distribution class (``"torch.Gamma"``: registers without importing torch), or a
        scipy family: its name (``"norm"``, ``"scipy.norm"``) or the scipy object
        (``scipy.stats.norm``).

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
        _REGISTRY[kp, kq] = fn
        _MEMO.clear()
        return fn

    return decorator


def register_entropy(type_p: Any) -> Callable[[_F], _F]:
    """Return a decorator registering a closed form of the entropy H(p) for a type.

    The decorated function takes ``p`` and returns H(p) = −E_p[log p(x)] over p's batch
    shape (differential entropy for densities), or ``NotImplemented`` to decline; see
    :func:`register_kl` for the keys and :func:`klmath.entropy` for the lookup.

    Parameters
    ----------
    type_p : type, str or scipy distribution
        As in :func:`register_kl`.

    Raises
    ------
    TypeError
        If the key is not a class, a torch class name or a scipy family.

    Examples
    --------
    >>> import math
    >>> class Coin:
    ...     def sample(self, n, rng):
    ...         return rng.integers(0, 2, n)
    ...     def log_prob(self, x):
    ...         return np.full(np.shape(x), -math.log(2.0))
    >>> @register_entropy(Coin)
    ... def _entropy_coin(p):
    ...     return math.log(2.0)
    >>> round(float(entropy(Coin()).value), 6)
    0.693147
    """
    key = _key("type_p", type_p)

    def decorator(fn: _F) -> _F:
        _ENTROPY[key] = fn
        return fn

    return decorator


# --------------------------------------------------------------------------- lookup


def lookup_kl(p: Any, q: Any) -> Callable[[Any, Any], Any] | None:
    """Return the most specific function registered for (p, q), or None."""
    cp, cq = chain(p), chain(q)
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
            warn(
                f"ambiguous kl() registrations for ({key_name(cp[0])}, {key_name(cq[0])}): "
                f"({key_name(a[2])}, {key_name(a[3])}) and ({key_name(b[2])}, "
                f"{key_name(b[3])}) match equally well; using the first. Settle it with "
                f"register_kl({key_name(cp[0])}, {key_name(cq[0])})",
                KLAmbiguityWarning,
            )
        fn = _REGISTRY[best[0][2], best[0][3]]
    _MEMO[memo_key] = fn
    return fn


def lookup_entropy(p: Any) -> Callable[[Any], Any] | None:
    """Return the most specific entropy function registered for p's type, or None."""
    for key in chain(p):
        fn = _ENTROPY.get(key)
        if fn is not None:
            return fn
    return None


def chain(obj: Any) -> tuple[_Key, ...]:
    """Keys matching ``obj``, most specific first (scipy: its family, then ``object``)."""
    if is_scipy_frozen(obj):
        return (_SCIPY_PREFIX + scipy_family(obj), object)
    return tuple(_class_key(cls) for cls in type(obj).__mro__)


def formula_name(fn: Callable[..., Any]) -> str:
    """The name a :class:`klmath.KLResult` gives a registered function."""
    return str(getattr(fn, "_klmath_formula", f"{fn.__module__}.{fn.__qualname__}"))


def key_name(key: Any) -> str:
    """How a key is spelled in a ``register_kl`` call."""
    if isinstance(key, str):
        if key.startswith(_SCIPY_PREFIX):
            return repr(key.removeprefix(_SCIPY_PREFIX))
        return key.removeprefix(_TORCH_PREFIX)
    return str(getattr(key, "__name__", repr(key)))


def family_name(obj: Any) -> str:
    """How an object's family is spelled in a ``register_kl`` call (``scipy.stats.gamma``)."""
    if is_scipy_frozen(obj):
        return f"scipy.stats.{scipy_family(obj)}"
    return type(obj).__name__


def closed_form_kl(p: Any, q: Any) -> tuple[Any, str, str | None] | None:
    """(raw value, formula, reason or None) from the registry or torch, unchecked; or None.

    Used by :func:`kl` and by formulas that recurse (``Independent``,
    ``TransformedDistribution``).
    """
    fn = lookup_kl(p, q)
    if fn is not None:
        out = fn(p, q)
        if out is not NotImplemented:
            return _unpack(out, fn)
        if _is_klmath_formula(fn) and not _user_torch_rule(p, q):
            # klmath covers every pair of torch's registry; where its formula declines
            # (a fold, a shifted support), torch's own would be wrong or raise.
            return None
    if is_torch_distribution(p) and is_torch_distribution(q):
        torch = sys.modules["torch"]
        try:
            value = torch.distributions.kl_divergence(p, q)
        except NotImplementedError:
            return None
        if isinstance(value, torch.Tensor) and value.requires_grad and not _needs_grad(p, q):
            value = value.detach()  # torch's exponential-family rule builds a graph itself
        return value, "torch.distributions.kl_divergence", None
    return None


def _user_torch_rule(p: Any, q: Any) -> bool:
    """Whether torch's registry holds a rule for (p, q) that is not torch's own."""
    if not (is_torch_distribution(p) and is_torch_distribution(q)):
        return False
    kl_module = sys.modules["torch"].distributions.kl
    rule = kl_module._dispatch_kl(type(p), type(q))
    return rule is not NotImplemented and getattr(rule, "__module__", "") != kl_module.__name__


def _is_klmath_formula(fn: Any) -> bool:
    return str(getattr(fn, "__module__", "")).startswith("klmath._formulas")


def _unpack(out: Any, fn: Any) -> tuple[Any, str, str | None]:
    """(value, formula, reason) from what a registered function returned."""
    if isinstance(out, ClosedForm):
        return out.value, out.formula or formula_name(fn), out.reason
    if isinstance(out, tuple) and len(out) == 2 and isinstance(out[1], (str, type(None))):
        return out[0], formula_name(fn), out[1]
    return out, formula_name(fn), None


def closed_form_entropy(p: Any) -> tuple[Any, str, str | None] | None:
    """(raw value, formula, reason or None) from the registry or torch, unchecked; or None."""
    fn = lookup_entropy(p)
    if fn is not None:
        out = fn(p)
        if out is not NotImplemented:
            return _unpack(out, fn)
        if _is_klmath_formula(fn):
            return None
    if is_torch_distribution(p):
        try:
            value = p.entropy()
        except NotImplementedError:
            return None
        return value, f"torch.distributions.{type(p).__name__}.entropy", None
    return None


def _needs_grad(p: Any, q: Any) -> bool:
    """Whether a parameter of p or q requires grad, nested ones included (the base of a
    ``TransformedDistribution`` or ``Independent``, a transform's loc and scale)."""
    torch = sys.modules["torch"]
    nested = (torch.distributions.Distribution, torch.distributions.Transform)
    stack, seen = [p, q], set()
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, torch.Tensor):
            if obj.requires_grad:
                return True
        elif isinstance(obj, (list, tuple)):
            stack.extend(obj)
        elif isinstance(obj, nested):
            stack.extend(vars(obj).values())
    return False


# --------------------------------------------------------------------------- keys


def _class_key(cls: type) -> _Key:
    """A class's key: ``"torch.<Name>"`` for torch's own distribution classes, else itself."""
    module = getattr(cls, "__module__", "") or ""
    if module.startswith("torch.distributions"):
        torch = sys.modules.get("torch")
        if torch is not None and getattr(torch.distributions, cls.__name__, None) is cls:
            return _TORCH_PREFIX + cls.__name__
    return cls


def _key(name: str, obj: Any) -> _Key:
    """Normalise a register_kl argument to a registry key."""
    if isinstance(obj, type):
        return _class_key(obj)
    if isinstance(obj, str) and obj:
        if obj.startswith(_TORCH_PREFIX) and len(obj) > len(_TORCH_PREFIX):
            return obj
        if obj.startswith(_SCIPY_PREFIX) and len(obj) > len(_SCIPY_PREFIX):
            return obj
        if "." not in obj:
            return _SCIPY_PREFIX + obj
    stats = sys.modules.get("scipy.stats")
    if stats is not None and not is_torch_distribution(obj):
        from scipy.stats._distn_infrastructure import rv_generic
        from scipy.stats._multivariate import multi_rv_generic

        if isinstance(obj, rv_generic):
            return _SCIPY_PREFIX + str(obj.name)
        if isinstance(obj, multi_rv_generic):
            family = type(obj).__name__
            return _SCIPY_PREFIX + family.removesuffix("_gen")
    raise TypeError(
        f"{name} must be a class, a torch class name ('torch.Normal'), a scipy family "
        f"name ('norm') or a scipy.stats distribution, got {obj!r}"
    )
