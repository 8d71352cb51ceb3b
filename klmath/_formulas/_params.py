"""Private: read a torch or scipy distribution as one family's canonical parameters.

Every closed form in :mod:`klmath._formulas` is written once, in torch, on canonical
parameters; this module is the one place that maps the objects users hold onto them,
so a scipy ``gamma(a, loc, scale)``, a torch ``Gamma(concentration, rate)``, a torch
``Exponential(rate)`` and a scipy ``expon(loc, scale)`` all reach the same formula:

===============  ==============================  ===========================================
family           parameters                      torch / scipy objects
===============  ==============================  ===========================================
``normal``       loc, scale                      Normal / norm
``laplace``      loc, scale                      Laplace / laplace
``cauchy``       loc, scale                      Cauchy / cauchy
``halfnormal``   scale                           HalfNormal / halfnorm (loc = 0)
``halfcauchy``   scale                           HalfCauchy / halfcauchy (loc = 0)
``uniform``      low, high                       Uniform / uniform (low = loc, high = loc + scale)
``gamma``        shape, rate, loc                Gamma, Chi2, Exponential / gamma, expon
``beta``         a, b, loc, scale                Beta / beta
``gumbel``       loc, scale                      Gumbel / gumbel_r
``pareto``       scale, alpha                    Pareto / pareto (loc = 0)
``cb``           eta (the logit)                 ContinuousBernoulli / -
``dirichlet``    concentration (..., K)          Dirichlet / dirichlet
``binomial``     n, probs, shift                 Bernoulli, Binomial / bernoulli, binom
``poisson``      rate, shift                     Poisson / poisson
``geometric``    probs, shift                    Geometric / geom (support {shift, shift+1, ...})
``categorical``  probs (..., K)                  Categorical, OneHotCategorical / -
===============  ==============================  ===========================================

``shift`` is the least point of a discrete support: scipy's ``loc`` (``loc + 1`` for
``geom``, which counts trials where torch's Geometric counts failures).

Parameters are checked here (finite, in their domain) whatever the object's own
validation did, so ``Normal(0., -1., validate_args=False)`` is refused by name instead
of giving a KL of 0 (the formulas only see σ²).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from klmath._adapters import is_scipy_frozen, is_torch_distribution, scipy_family
from klmath._backend import ArrayKind, from_torch
from klmath._validation import first_index

if TYPE_CHECKING:
    import torch

__all__ = ["SCIPY_FAMILIES", "TORCH_FAMILIES", "Params", "family_keys", "read", "read_pair"]


@dataclass(frozen=True)
class Params:
    """A distribution read as a family's canonical parameters (torch tensors)."""

    family: str
    source: str  # "torch Normal", "scipy norm"
    kind: ArrayKind  # the array kind results go back in
    t: dict[str, torch.Tensor]

    def __getitem__(self, name: str) -> torch.Tensor:
        return self.t[name]

    def to(self, dtype: torch.dtype, device: torch.device) -> Params:
        """The same parameters in another dtype and on another device."""
        return Params(
            self.family,
            self.source,
            self.kind,
            {k: v.to(dtype=dtype, device=device) for k, v in self.t.items()},
        )


# torch class name -> family; subclasses (Chi2 of Gamma) are found through the MRO.
TORCH_FAMILIES: dict[str, str] = {
    "Normal": "normal",
    "Laplace": "laplace",
    "Cauchy": "cauchy",
    "HalfNormal": "halfnormal",
    "HalfCauchy": "halfcauchy",
    "Uniform": "uniform",
    "Gamma": "gamma",
    "Exponential": "gamma",
    "Beta": "beta",
    "Gumbel": "gumbel",
    "Pareto": "pareto",
    "ContinuousBernoulli": "cb",
    "Dirichlet": "dirichlet",
    "Bernoulli": "binomial",
    "Binomial": "binomial",
    "Poisson": "poisson",
    "Geometric": "geometric",
    "Categorical": "categorical",
    "OneHotCategorical": "categorical",
}

# scipy family name -> family.
SCIPY_FAMILIES: dict[str, str] = {
    "norm": "normal",
    "laplace": "laplace",
    "cauchy": "cauchy",
    "halfnorm": "halfnormal",
    "halfcauchy": "halfcauchy",
    "uniform": "uniform",
    "gamma": "gamma",
    "expon": "gamma",
    "beta": "beta",
    "gumbel_r": "gumbel",
    "pareto": "pareto",
    "dirichlet": "dirichlet",
    "bernoulli": "binomial",
    "binom": "binomial",
    "poisson": "poisson",
    "geom": "geometric",
}


def family_keys(family: str) -> list[str]:
    """Registry keys ("torch.Gamma", "scipy.expon", ...) of every object of a family."""
    keys = [f"torch.{name}" for name, fam in TORCH_FAMILIES.items() if fam == family]
    return keys + [f"scipy.{name}" for name, fam in SCIPY_FAMILIES.items() if fam == family]


def read(obj: Any, name: str) -> Params | None:
    """Read ``obj`` (called ``name`` in messages) as its family's parameters, or None.

    None means: not a supported family, or a variant no closed form here covers
    (a scipy ``pareto`` with ``loc`` ≠ 0). Raises ValueError, naming ``name``, the
    object's family and the parameter, when a parameter is NaN, infinite or outside
    its domain.
    """
    if is_torch_distribution(obj):
        for cls in type(obj).__mro__:
            family = TORCH_FAMILIES.get(cls.__name__)
            if family is not None and cls.__module__.startswith("torch.distributions"):
                reader = _TORCH_READERS[cls.__name__]
                source = f"torch {type(obj).__name__}"
                t = reader(obj)
                return None if t is None else _checked(family, source, "torch", t, name)
        return None
    if is_scipy_frozen(obj):
        sname = scipy_family(obj)
        family = SCIPY_FAMILIES.get(sname)
        if family is None:
            return None
        t = _read_scipy(obj, sname)
        return None if t is None else _checked(family, f"scipy {sname}", "numpy", t, name)
    return None


def read_pair(p: Any, q: Any) -> tuple[Params, Params] | None:
    """Read p and q (see :func:`read`) in one dtype and on one device, or None.

    The dtype and device are p's if p is torch, else float64 on q's device; results
    go back in p's array kind (``Params.kind``).
    """
    pp = read(p, "p")
    if pp is None:
        return None
    qq = read(q, "q")
    if qq is None:
        return None
    ref = next(iter(pp.t.values())) if pp.kind == "torch" else next(iter(qq.t.values()))
    dtype = ref.dtype if pp.kind == "torch" else _float64()
    return pp.to(dtype, ref.device), qq.to(dtype, ref.device)


def out(value: torch.Tensor, params: Params) -> Any:
    """``value`` in the array kind of ``params`` (NumPy: float64, 0-d as ``np.float64``)."""
    result = from_torch(value, params.kind)
    if params.kind == "numpy" and np.ndim(result) == 0:
        return np.float64(result)
    return result


# --------------------------------------------------------------------------- checks


def _float64() -> torch.dtype:
    import torch

    return torch.float64


def _domain_checks(family: str) -> list[tuple[str, str, Callable[[Any], Any]]]:
    """(parameter, what it must be, predicate) for each checked parameter of a family."""
    pos = ("> 0", lambda x: x > 0)
    unit_closed = ("in [0, 1]", lambda x: (x >= 0) & (x <= 1))
    nonneg = (">= 0", lambda x: x >= 0)
    table: dict[str, list[tuple[str, tuple[str, Callable[[Any], Any]]]]] = {
        "normal": [("scale", pos)],
        "laplace": [("scale", pos)],
        "cauchy": [("scale", pos)],
        "halfnormal": [("scale", pos)],
        "halfcauchy": [("scale", pos)],
        "uniform": [],
        "gamma": [("shape", pos), ("rate", pos)],
        "beta": [("a", pos), ("b", pos), ("scale", pos)],
        "gumbel": [("scale", pos)],
        "pareto": [("scale", pos), ("alpha", pos)],
        "cb": [],
        "dirichlet": [("concentration", pos)],
        "binomial": [("n", nonneg), ("probs", unit_closed)],
        "poisson": [("rate", nonneg)],
        "geometric": [("probs", ("in (0, 1]", lambda x: (x > 0) & (x <= 1)))],
        "categorical": [("probs", nonneg)],
    }
    return [(param, text, pred) for param, (text, pred) in table[family]]


def _checked(
    family: str, source: str, kind: ArrayKind, t: dict[str, torch.Tensor], name: str
) -> Params:
    """Check finiteness and domains of the canonical parameters; raise ValueError naming them."""
    import torch

    for param, value in t.items():
        if family == "cb" and param == "eta":
            continue  # a logit may be ±inf only through probs 0/1, which torch clamps away
        finite = torch.isfinite(value)
        if not bool(finite.all()):
            _raise(name, source, param, value, ~finite, "finite")
    for param, text, pred in _domain_checks(family):
        ok = pred(t[param])
        if not bool(ok.all()):
            _raise(name, source, param, t[param], ~ok, text)
    if family == "uniform":
        ok = t["low"] < t["high"]
        if not bool(ok.all()):
            bad = ~ok
            idx = first_index(bad) if bad.ndim else ()
            low = t["low"].expand(bad.shape)[idx] if bad.ndim else t["low"]
            high = t["high"].expand(bad.shape)[idx] if bad.ndim else t["high"]
            where = f" at index {idx}" if bad.ndim else ""
            raise ValueError(
                f"{name} ({source}) must have low < high, got low = {float(low)!r}, "
                f"high = {float(high)!r}{where}"
            )
    if family in ("binomial",):
        n = t["n"]
        if not bool((n == torch.round(n)).all()):
            _raise(name, source, "n", n, n != torch.round(n), "a whole number")
    if family == "categorical":
        total = t["probs"].sum(-1)
        if not bool((total > 0).all()):
            _raise(name, source, "probs", total, ~(total > 0), "a vector with positive sum")
    return Params(family, source, kind, t)


def _raise(name: str, source: str, param: str, value: Any, bad: Any, text: str) -> None:
    idx = first_index(bad) if bad.ndim else ()
    v = value.expand(bad.shape)[idx] if bad.ndim else value
    where = f" at index {idx}" if bad.ndim else ""
    shown = _PUBLIC_NAMES.get((source, param), param)
    raise ValueError(f"{name} ({source}) must have {shown} {text}, got {float(v)!r}{where}")


# How canonical parameters are called by the objects users built.
_PUBLIC_NAMES: dict[tuple[str, str], str] = {
    ("torch Gamma", "shape"): "concentration",
    ("torch Chi2", "shape"): "df / 2",
    ("torch Beta", "a"): "concentration1",
    ("torch Beta", "b"): "concentration0",
    ("torch Binomial", "n"): "total_count",
    ("torch Dirichlet", "concentration"): "concentration",
    ("scipy gamma", "shape"): "a",
    ("scipy gamma", "rate"): "1 / scale",
    ("scipy expon", "rate"): "1 / scale",
    ("scipy poisson", "rate"): "mu",
    ("scipy binom", "probs"): "p",
    ("scipy bernoulli", "probs"): "p",
    ("scipy geom", "probs"): "p",
    ("scipy pareto", "alpha"): "b",
    ("scipy dirichlet", "concentration"): "alpha",
}


# --------------------------------------------------------------------------- torch


def _torch_readers() -> dict[str, Callable[[Any], dict[str, Any] | None]]:
    def zeros(x: Any) -> Any:
        return x.new_zeros(())

    def ones(x: Any) -> Any:
        return x.new_ones(())

    return {
        "Normal": lambda d: {"loc": d.loc, "scale": d.scale},
        "Laplace": lambda d: {"loc": d.loc, "scale": d.scale},
        "Cauchy": lambda d: {"loc": d.loc, "scale": d.scale},
        "HalfNormal": lambda d: {"scale": d.scale},
        "HalfCauchy": lambda d: {"scale": d.scale},
        "Uniform": lambda d: {"low": d.low, "high": d.high},
        "Gamma": lambda d: {"shape": d.concentration, "rate": d.rate, "loc": zeros(d.rate)},
        "Exponential": lambda d: {"shape": ones(d.rate), "rate": d.rate, "loc": zeros(d.rate)},
        "Beta": lambda d: {
            "a": d.concentration1,
            "b": d.concentration0,
            "loc": zeros(d.concentration1),
            "scale": ones(d.concentration1),
        },
        "Gumbel": lambda d: {"loc": d.loc, "scale": d.scale},
        "Pareto": lambda d: {"scale": d.scale, "alpha": d.alpha},
        "ContinuousBernoulli": lambda d: {"eta": d.logits},
        "Dirichlet": lambda d: {"concentration": d.concentration},
        "Bernoulli": lambda d: {"n": ones(d.probs), "probs": d.probs, "shift": zeros(d.probs)},
        "Binomial": lambda d: {"n": d.total_count, "probs": d.probs, "shift": zeros(d.probs)},
        "Poisson": lambda d: {"rate": d.rate, "shift": zeros(d.rate)},
        "Geometric": lambda d: {"probs": d.probs, "shift": zeros(d.probs)},
        "Categorical": lambda d: {"probs": d.probs},
        "OneHotCategorical": lambda d: {"probs": d.probs},
    }


_TORCH_READERS = _torch_readers()


# --------------------------------------------------------------------------- scipy


def _read_scipy(obj: Any, sname: str) -> dict[str, torch.Tensor] | None:
    import torch

    def f64(x: Any) -> torch.Tensor:
        return torch.as_tensor(np.asarray(x, dtype=np.float64))

    if sname == "dirichlet":
        return {"concentration": f64(obj.alpha)}
    shapes, loc, scale = _scipy_args(obj)
    loc, scale = f64(loc), f64(scale)
    s = [f64(x) for x in shapes]
    if sname in ("norm", "laplace", "cauchy", "gumbel_r"):
        return {"loc": loc, "scale": scale}
    if sname in ("halfnorm", "halfcauchy"):
        return {"scale": scale} if bool((loc == 0).all()) else None
    if sname == "uniform":
        return {"low": loc, "high": loc + scale}
    if sname == "gamma":
        return {"shape": s[0], "rate": 1.0 / scale, "loc": loc}
    if sname == "expon":
        return {"shape": torch.ones((), dtype=torch.float64), "rate": 1.0 / scale, "loc": loc}
    if sname == "beta":
        return {"a": s[0], "b": s[1], "loc": loc, "scale": scale}
    if sname == "pareto":
        return {"scale": scale, "alpha": s[0]} if bool((loc == 0).all()) else None
    if sname == "bernoulli":
        return {"n": torch.ones((), dtype=torch.float64), "probs": s[0], "shift": loc}
    if sname == "binom":
        return {"n": s[0], "probs": s[1], "shift": loc}
    if sname == "poisson":
        return {"rate": s[0], "shift": loc}
    if sname == "geom":
        return {"probs": s[0], "shift": loc + 1.0}
    return None


def _scipy_args(obj: Any) -> tuple[tuple[Any, ...], Any, Any]:
    """(shape parameters, loc, scale) of a frozen univariate scipy distribution."""
    parsed = obj.dist._parse_args(*obj.args, **obj.kwds)
    shapes, loc = parsed[0], parsed[1]
    scale = parsed[2] if len(parsed) > 2 else 1.0
    return tuple(shapes), loc, scale
