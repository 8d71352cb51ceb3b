"""Private: one view of the distribution objects users already hold.

:func:`adapt` wraps a ``torch.distributions.Distribution``, a frozen
``scipy.stats`` distribution or any object following
:class:`klmath.montecarlo.SupportsSampleLogProb` in a small adapter with the same
five members, so :mod:`klmath.montecarlo` and :mod:`klmath.registry` are written
once:

* ``backend``: ``"torch"`` or ``"numpy"``, the array kind of samples and scores;
* ``family``: a readable name (``"torch Normal"``, ``"scipy norm"``);
* ``batch_shape`` / ``event_shape``: tuples (``None`` where unknown);
* ``sample(n, rng)``: ``n`` draws of shape ``(n, *batch_shape, *event_shape)``;
* ``log_prob(x)``: log density (mass) at ``x``, ``-inf`` outside the support.

Like einops' backends, torch is only looked at when it is already imported, so
scipy users never import it through this module (:func:`klmath._backend.torch_if_loaded`).
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from klmath._backend import torch_if_loaded

__all__: list[str] = []

#: The ``torch`` module if already imported, else ``None`` (one definition, in ``_backend``).
torch_module = torch_if_loaded


def is_torch_distribution(obj: object) -> bool:
    """Return whether ``obj`` is a ``torch.distributions.Distribution``."""
    torch = torch_module()
    return torch is not None and isinstance(obj, torch.distributions.Distribution)


def is_scipy_frozen(obj: object) -> bool:
    """Return whether ``obj`` is a frozen ``scipy.stats`` distribution."""
    stats = sys.modules.get("scipy.stats")
    if stats is None:
        return False
    from scipy.stats._distn_infrastructure import rv_frozen
    from scipy.stats._multivariate import multi_rv_frozen

    return isinstance(obj, (rv_frozen, multi_rv_frozen))


def scipy_family(obj: Any) -> str:
    """Return the scipy family name of a frozen distribution (``"norm"``, ``"dirichlet"``)."""
    dist = getattr(obj, "dist", None)
    if dist is not None and getattr(dist, "name", None):
        return str(dist.name)
    name = type(obj).__name__
    return name[: -len("_frozen")] if name.endswith("_frozen") else name


def torch_device(dist: Any) -> Any:
    """Return the device of the first tensor parameter of a torch distribution (cpu if none)."""
    torch = torch_module()
    stack = [dist]
    seen: set[int] = set()
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        for value in vars(obj).values():
            if isinstance(value, torch.Tensor):
                return value.device
            if isinstance(value, torch.distributions.Distribution):
                stack.append(value)
    return torch.device("cpu")


class Adapter:
    """Common interface; see the module docstring."""

    backend: str = "numpy"
    name: str = "p"  # the argument's name, for messages
    family: str = "?"
    batch_shape: tuple[int, ...] | None = None
    event_shape: tuple[int, ...] | None = None

    def sample(self, n: int, rng: np.random.Generator) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def log_prob(self, x: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError


def _without_validation(dist: Any) -> Any:
    """Return a shallow copy of a torch distribution, and of nested ones, without validation."""
    import copy

    torch = torch_module()
    out = copy.copy(dist)
    out._validate_args = False
    for name, value in vars(dist).items():
        if isinstance(value, torch.distributions.Distribution):
            setattr(out, name, _without_validation(value))
    return out


class TorchAdapter(Adapter):
    """A ``torch.distributions.Distribution``: global torch RNG, support checked explicitly."""

    backend = "torch"

    def __init__(self, dist: Any) -> None:
        self.dist = dist
        self.family = f"torch {type(dist).__name__}"
        self.batch_shape = tuple(dist.batch_shape)
        self.event_shape = tuple(dist.event_shape)
        self._scorer: Any = None
        self._device: Any = None

    @property
    def device(self) -> Any:
        """The device of the distribution's parameters (found on first use)."""
        if self._device is None:
            self._device = torch_device(self.dist)
        return self._device

    def sample(self, n: int, rng: np.random.Generator) -> Any:
        torch = torch_module()
        try:
            with torch.no_grad():
                return self.dist.sample((n,))
        except NotImplementedError:
            raise TypeError(
                f"{self.name} ({self.family}) cannot be sampled: its sample() raises "
                "NotImplementedError, and a Monte Carlo estimate needs draws of p"
            ) from None

    def log_prob(self, x: Any) -> Any:
        torch = torch_module()
        if not isinstance(x, torch.Tensor):
            x = torch.as_tensor(np.asarray(x), device=self.device)
        if self._scorer is None:
            # A validating log_prob raises on points outside the support; KL needs -inf
            # there, so score with copies that do not validate (nested ones too:
            # Independent, MixtureSameFamily) and mask outside points with the support.
            self._scorer = _without_validation(self.dist)
        with torch.no_grad():
            try:
                lp = self._scorer.log_prob(x)
            except NotImplementedError:
                raise TypeError(
                    f"{self.name} ({self.family}) has no log density: its log_prob() raises "
                    "NotImplementedError (a non-bijective transform?), and a Monte Carlo "
                    "estimate needs it"
                ) from None
            try:
                inside = self.dist.support.check(x)
            except NotImplementedError:  # a support without check(): trust log_prob
                return lp
            return torch.where(inside, lp, torch.full_like(lp, -float("inf")))


class ScipyAdapter(Adapter):
    """A frozen ``scipy.stats`` distribution: NumPy ``Generator`` passed as ``random_state``."""

    backend = "numpy"

    def __init__(self, dist: Any) -> None:
        from scipy.stats._distn_infrastructure import rv_discrete_frozen, rv_frozen

        self.dist = dist
        self.name = scipy_family(dist)
        self.family = f"scipy {self.name}"
        if isinstance(dist, rv_frozen):
            params = [*dist.args, *dist.kwds.values()]
            self.batch_shape = tuple(np.broadcast_shapes(*(np.shape(a) for a in params)))
            self.event_shape = ()
            self._score = dist.logpmf if isinstance(dist, rv_discrete_frozen) else dist.logpdf
        else:
            # Multivariate frozen objects have no batch; their dimension is ``dim``
            # (or the length of ``alpha`` for the Dirichlet family).
            dim = getattr(dist, "dim", None)
            if dim is None and hasattr(dist, "alpha"):
                dim = len(dist.alpha)
            self.batch_shape = ()
            self.event_shape = (int(dim),) if dim is not None else None
            score = getattr(dist, "logpdf", None) or getattr(dist, "logpmf", None)
            if score is None:
                raise TypeError(f"{self.family} has no logpdf or logpmf")
            self._score = score

    def sample(self, n: int, rng: np.random.Generator) -> Any:
        if self.event_shape == ():
            shape = (n, *(self.batch_shape or ()))
            return np.asarray(self.dist.rvs(size=shape, random_state=rng))
        x = np.asarray(self.dist.rvs(size=n, random_state=rng))
        # scipy squeezes a dimension of length 1 (n = 1 or dim = 1); restore (n, dim).
        return x.reshape(n, -1) if self.event_shape is not None else x

    def log_prob(self, x: Any) -> Any:
        torch = torch_module()
        if torch is not None and isinstance(x, torch.Tensor):
            x = x.detach().cpu().numpy()
        x = np.asarray(x, dtype=np.float64)
        if self.event_shape == ():
            return np.asarray(self._score(x), dtype=np.float64)
        # Multivariate logpdf wants (..., dim); it squeezes the result for one point.
        lp = np.asarray(self._score(x), dtype=np.float64)
        return lp.reshape(x.shape[: x.ndim - 1]) if self.event_shape is not None else lp


class ProtocolAdapter(Adapter):
    """An object with ``sample(n, rng)`` and ``log_prob(x)`` (shapes inferred from a draw)."""

    def __init__(self, dist: Any) -> None:
        self.dist = dist
        self.family = type(dist).__name__
        shape = getattr(dist, "event_shape", None)
        self.event_shape = tuple(shape) if shape is not None else None
        batch = getattr(dist, "batch_shape", None)
        self.batch_shape = tuple(batch) if batch is not None else None

    def sample(self, n: int, rng: np.random.Generator) -> Any:
        x = self.dist.sample(n, rng)
        torch = torch_module()
        if torch is not None and isinstance(x, torch.Tensor):
            self.backend = "torch"
            return x.detach()
        return np.asarray(x)

    def log_prob(self, x: Any) -> Any:
        lp = self.dist.log_prob(x)
        torch = torch_module()
        if torch is not None and isinstance(lp, torch.Tensor):
            return lp.detach()
        return np.asarray(lp, dtype=np.float64)


def adapt(dist: Any, name: str, *, need_sample: bool) -> Adapter:
    """Wrap ``dist`` in an adapter, or raise ``TypeError`` naming the argument ``name``."""
    if is_torch_distribution(dist):
        adapter: Adapter = TorchAdapter(dist)
        adapter.name = name
        return adapter
    if is_scipy_frozen(dist):
        adapter = ScipyAdapter(dist)
        adapter.name = name
        return adapter
    missing = [
        m
        for m in (("sample", "log_prob") if need_sample else ("log_prob",))
        if not callable(getattr(dist, m, None))
    ]
    if missing:
        raise TypeError(
            f"{name} must be a torch.distributions.Distribution, a frozen scipy.stats "
            f"distribution, or an object with sample(n, rng) and log_prob(x); "
            f"got {type(dist).__name__} without {' and '.join(missing)}()"
        )
    adapter = ProtocolAdapter(dist)
    adapter.name = name
    return adapter


# --------------------------------------------------------------------------- parameters


def check_parameters(dist: Any, name: str) -> None:
    """Raise ValueError, naming ``name``, if a torch or scipy distribution has a bad parameter.

    torch: every parameter in ``arg_constraints`` (of nested distributions too) must
    satisfy its constraint and not be NaN, whether or not the object validated its
    arguments. scipy: the shape parameters must pass the family's own check, ``scale``
    must be > 0, and all must be finite.
    """
    if is_torch_distribution(dist):
        _check_torch(dist, name, f"{name} (torch {type(dist).__name__})")
    elif is_scipy_frozen(dist):
        _check_scipy(dist, name)


def _check_torch(dist: Any, name: str, who: str, depth: int = 0) -> None:
    torch = torch_module()
    D = torch.distributions
    try:
        constraints = dist.arg_constraints
    except NotImplementedError:
        constraints = {}
    for param, constraint in constraints.items():
        if D.constraints.is_dependent(constraint):
            continue
        if param not in vars(dist) and isinstance(
            getattr(type(dist), param, None), D.utils.lazy_property
        ):
            continue
        value = getattr(dist, param, None)
        if not isinstance(value, torch.Tensor):
            continue
        value = value.detach()
        nan = (
            torch.isnan(value) if value.is_floating_point() else torch.zeros_like(value, dtype=bool)
        )
        if bool(nan.any()):
            raise ValueError(f"{who} has NaN in its parameter {param}{_at(nan)}")
        ok = constraint.check(value)
        if not bool(ok.all()):
            bad = ~ok
            idx = _first(bad)
            shown = value[idx] if idx else value
            raise ValueError(
                f"{who} has an invalid {param}: it must satisfy {constraint}, got "
                f"{_short(shown)}{_at(bad)}"
            )
    if depth < 8:
        for attr, value in vars(dist).items():
            if isinstance(value, D.Distribution) and value is not dist:
                _check_torch(value, name, f"{who}.{attr} (torch {type(value).__name__})", depth + 1)


def _check_scipy(dist: Any, name: str) -> None:
    from scipy.stats._distn_infrastructure import rv_frozen

    if not isinstance(dist, rv_frozen):
        return  # multivariate objects check their parameters when frozen
    family = scipy_family(dist)
    who = f"{name} (scipy {family})"
    try:
        parsed = dist.dist._parse_args(*dist.args, **dist.kwds)
    except TypeError as err:
        raise ValueError(f"{who} has unusable parameters: {err}") from None
    shapes, loc = parsed[0], parsed[1]
    scale = parsed[2] if len(parsed) > 2 else 1.0
    names = [s.strip() for s in (dist.dist.shapes or "").split(",") if s.strip()]
    for label, value in [*zip(names, shapes, strict=False), ("loc", loc), ("scale", scale)]:
        arr = np.asarray(value, dtype=np.float64)
        if not np.isfinite(arr).all():
            raise ValueError(f"{who} must have a finite {label}, got {_short(arr)}")
    if not (np.asarray(scale) > 0).all():
        raise ValueError(f"{who} must have scale > 0, got scale = {_short(np.asarray(scale))}")
    if shapes:
        ok = np.asarray(dist.dist._argcheck(*shapes))
        if not ok.all():
            pairs = zip(names, shapes, strict=False)
            given = ", ".join(f"{k} = {_short(np.asarray(v))}" for k, v in pairs)
            raise ValueError(
                f"{who} has shape parameters outside the family's domain ({given}); "
                f"see scipy.stats.{family}"
            )


def _first(mask: Any) -> tuple[int, ...]:
    arr = np.asarray(mask.detach().cpu().numpy() if hasattr(mask, "detach") else mask)
    if arr.ndim == 0:
        return ()
    return tuple(int(i) for i in np.argwhere(arr)[0])


def _at(mask: Any) -> str:
    idx = _first(mask)
    return f" at index {idx}" if idx else ""


def _short(x: Any) -> str:
    arr = x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)
    if arr.ndim == 0:
        return repr(arr.item())
    flat = arr.reshape(-1)
    body = ", ".join(repr(v.item()) for v in flat[:4]) + (", ..." if flat.size > 4 else "")
    return f"[{body}]"
