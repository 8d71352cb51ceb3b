# ruff: noqa: E731 - the table binds small lambdas to names, row by row
"""Bad input to every public function of klmath, as one table: function × argument × kind.

Each row calls one public function (or method) with one argument replaced by a bad
value of one kind, the others valid. The row passes if the call

* raises ``TypeError``, ``ValueError`` or ``NotImplementedError`` whose message names
  the argument as the user spelled it (never a raw torch/NumPy/Python message), or
* returns the right value: for valid-but-unusual NumPy layouts (negative strides,
  ``np.flip``, big-endian ``'>f8'``, Fortran order, read-only and broadcast views) the
  same value as with a plain array, and for documented special inputs (x = ±inf in
  the 1-D flow, seed=None, ...) the documented value.

``test_every_public_function_is_in_the_table`` keeps the table complete as the API grows.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pytest
import scipy.stats as st
import torch
from torch import distributions as D
from torch import nn

import klmath
import klmath.registry as registry_module
from klmath import (
    AffineCoupling,
    check_argmax_lemma,
    coupling_jacobian_blocks,
    coupling_permutation,
    discrete_entropy,
    discrete_kl,
    entropy,
    flow1d_derivative,
    flow1d_inverse,
    flow1d_log_derivative,
    flow1d_log_prob,
    flow1d_mass,
    flow1d_missing_mass,
    flow1d_transform,
    gaussian_kl,
    gaussian_kl_diag,
    gaussian_kl_matrix,
    gaussian_kl_tril,
    gaussian_mixture_kl_bounds,
    kl,
    mc_kl,
    register_entropy,
    register_kl,
)

NAMED_ERRORS = (TypeError, ValueError, NotImplementedError)


# --------------------------------------------------------------------------- expectations


@dataclass(frozen=True)
class Raises:
    """The call raises a named error; ``name`` (default: the argument) is in the message."""

    name: str | None = None
    error: tuple[type[Exception], ...] = NAMED_ERRORS


@dataclass(frozen=True)
class Same:
    """The call returns what it returns with the argument's plain value."""


@dataclass(frozen=True)
class SameAs:
    """The call returns what it returns with ``transform(plain value)`` (a lossless cast)."""

    transform: Callable[[Any], Any]
    what: str


def _via_float16(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float16).astype(np.float64)


FROM_FLOAT16 = SameAs(_via_float16, "the float16 values, exactly (upcasting is lossless)")


@dataclass(frozen=True)
class Check:
    """The call returns a value satisfying ``predicate`` (``what`` says which)."""

    predicate: Callable[[Any], bool]
    what: str


@dataclass(frozen=True)
class Case:
    function: str
    arg: str
    kind: str
    call: Callable[[dict[str, Any]], Any]
    valid: Callable[[], dict[str, Any]]
    bad: Callable[[Any], Any]
    expect: Raises | Same | SameAs | Check


# --------------------------------------------------------------------------- kinds


def _layout(make: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    """A layout change; a 0-d array has no layout to change (the row then checks 0-d)."""
    return lambda x: make(x) if np.ndim(x) else x


def _first(x: np.ndarray, value: float) -> np.ndarray:
    y = np.array(x, dtype=np.float64, copy=True)
    y.reshape(-1)[0] = value
    return y


def _negative_stride(x: np.ndarray) -> np.ndarray:
    y = np.flip(np.ascontiguousarray(np.flip(x, axis=-1)), axis=-1)
    assert any(s < 0 for s in y.strides) and np.array_equal(y, x)
    return y


def _read_only(x: np.ndarray) -> np.ndarray:
    y = x.copy()
    y.flags.writeable = False
    return y


def _broadcast_view(x: np.ndarray) -> np.ndarray:
    # A zero-stride read-only view with the same values (x repeated along a new axis, then
    # the first copy taken): np.broadcast_to's output.
    return np.broadcast_to(x, (2, *x.shape))[0]


# kind -> (mutator of a valid NumPy array, expected behaviour)
ARRAY_KINDS: dict[str, tuple[Callable[[np.ndarray], Any], Raises | Same]] = {
    "str": (lambda x: "a", Raises()),
    "None": (lambda x: None, Raises()),
    "object": (lambda x: object(), Raises()),
    "list-of-str": (lambda x: ["a", "b"], Raises()),
    "ragged-list": (lambda x: [[1.0], [1.0, 2.0]], Raises()),
    "complex": (lambda x: x.astype(np.complex128), Raises()),
    "float16": (lambda x: x.astype(np.float16), Raises()),
    "longdouble": (lambda x: x.astype(np.longdouble), Raises()),
    "nan": (lambda x: _first(x, math.nan), Raises()),
    "inf": (lambda x: _first(x, math.inf), Raises()),
    "empty": (lambda x: np.zeros((*x.shape[:-1], 0)), Raises()),
    "wrong-size": (
        lambda x: np.concatenate([x, x], axis=-1) if np.ndim(x) else np.array([x, x]),
        Raises(),
    ),
    "torch-tensor": (lambda x: torch.from_numpy(np.array(x)), Raises()),
    "negative-stride": (_layout(_negative_stride), Same()),
    "big-endian": (lambda x: x.astype(">f8"), Same()),
    "fortran-order": (_layout(np.asfortranarray), Same()),
    "read-only": (_read_only, Same()),
    "broadcast-view": (_broadcast_view, Same()),
}

INT_KINDS: dict[str, Callable[[Any], Any]] = {
    "str": lambda v: "a",
    "float": lambda v: 2.5,
    "bool": lambda v: True,
    "negative": lambda v: -3,
    "huge": lambda v: 2**70,
}
FLOAT_KINDS: dict[str, Callable[[Any], Any]] = {
    "str": lambda v: "a",
    "nan": lambda v: math.nan,
    "inf": lambda v: math.inf,
    "negative": lambda v: -1.0,
    "bool": lambda v: True,
    "None": lambda v: None,
}
CHOICE_KINDS: dict[str, Callable[[Any], Any]] = {
    "unknown": lambda v: "fastest",
    "int": lambda v: 3,
}


class NoSample(D.Normal):
    """A torch distribution whose sample() is not implemented."""

    def sample(self, sample_shape: Any = None) -> torch.Tensor:
        raise NotImplementedError


class Unscorable(D.Distribution):
    """A torch distribution with neither log_prob nor sample nor a closed form."""

    arg_constraints: ClassVar[dict[str, Any]] = {}

    def __init__(self) -> None:
        super().__init__(torch.Size(), validate_args=False)


def _normal_minus_one() -> Any:
    return D.Normal(torch.tensor(0.0), torch.tensor(-1.0), validate_args=False)


DIST_KINDS: dict[str, tuple[Callable[[Any], Any], Raises | Check | None]] = {
    "None": (lambda v: None, Raises()),
    "str": (lambda v: "norm", Raises()),
    "object": (lambda v: object(), Raises()),
    "torch-invalid-scale": (lambda v: _normal_minus_one(), Raises()),
    "torch-nan-loc": (
        lambda v: D.Normal(torch.tensor(math.nan), torch.tensor(1.0), validate_args=False),
        Raises(),
    ),
    "scipy-invalid-scale": (lambda v: st.norm(0.0, -1.0), Raises()),
    "scipy-invalid-shape": (lambda v: st.gamma(-2.0), Raises()),
    "unscorable": (lambda v: Unscorable(), Raises()),
}


# --------------------------------------------------------------------------- the table


def _array_cases(
    function: str,
    call: Callable[..., Any],
    valid: Callable[[], dict[str, Any]],
    args: list[str],
    overrides: dict[tuple[str, str], Any] | None = None,
) -> list[Case]:
    overrides = overrides or {}
    cases = []
    for arg in args:
        for kind, (mutate, expect) in ARRAY_KINDS.items():
            if (arg, kind) in overrides and overrides[arg, kind] is None:
                continue
            cases.append(
                Case(function, arg, kind, call, valid, mutate, overrides.get((arg, kind), expect))
            )
    return cases


def _scalar_cases(
    function: str,
    call: Callable[..., Any],
    valid: Callable[[], dict[str, Any]],
    arg: str,
    kinds: dict[str, Callable[[Any], Any]],
    overrides: dict[str, Any] | None = None,
) -> list[Case]:
    overrides = overrides or {}
    return [
        Case(function, arg, kind, call, valid, mutate, overrides.get(kind, Raises()))
        for kind, mutate in kinds.items()
        if not (kind in overrides and overrides[kind] is None)
    ]


def _dist_cases(
    function: str,
    call: Callable[..., Any],
    valid: Callable[[], dict[str, Any]],
    args: list[str],
    overrides: dict[tuple[str, str], Any] | None = None,
) -> list[Case]:
    overrides = overrides or {}
    cases = []
    for arg in args:
        for kind, (mutate, expect) in DIST_KINDS.items():
            exp = overrides.get((arg, kind), expect)
            if exp is None:
                continue
            cases.append(Case(function, arg, kind, call, valid, mutate, exp))
    return cases


def _gaussian_valid() -> dict[str, Any]:
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 3))
    b = rng.standard_normal((3, 3))
    return {
        "mean0": rng.standard_normal(3),
        "cov0": a @ a.T + np.eye(3),
        "mean1": rng.standard_normal(3),
        "cov1": b @ b.T + np.eye(3),
    }


def _diag_valid() -> dict[str, Any]:
    return {
        "mean0": np.array([0.0, 1.0, -1.0]),
        "var0": np.array([1.0, 2.0, 0.5]),
        "mean1": np.array([0.5, 0.0, 0.0]),
        "var1": np.array([2.0, 1.0, 1.5]),
    }


def _tril_valid() -> dict[str, Any]:
    v = _gaussian_valid()
    return {
        "mean0": v["mean0"],
        "tril0": np.linalg.cholesky(v["cov0"]),
        "mean1": v["mean1"],
        "tril1": np.linalg.cholesky(v["cov1"]),
    }


def _gaussian_cases() -> list[Case]:
    cases = _array_cases(
        "gaussian_kl",
        lambda kw: gaussian_kl(**kw),
        _gaussian_valid,
        ["mean0", "cov0", "mean1", "cov1"],
    )
    cases += _array_cases(
        "gaussian_kl_diag",
        lambda kw: gaussian_kl_diag(**kw),
        _diag_valid,
        ["mean0", "var0", "mean1", "var1"],
    )
    cases += _array_cases(
        "gaussian_kl_tril",
        lambda kw: gaussian_kl_tril(**kw),
        _tril_valid,
        ["mean0", "tril0", "mean1", "tril1"],
    )
    cases += _array_cases(
        "gaussian_kl_matrix",
        lambda kw: gaussian_kl_matrix(**kw),
        _matrix_valid,
        ["mean0", "cov0", "mean1", "cov1"],
    )
    cases += _array_cases(
        "gaussian_kl_matrix.diag",
        lambda kw: gaussian_kl_matrix(**kw, form="diag"),
        _matrix_diag_valid,
        ["mean0", "cov0", "mean1", "cov1"],
    )
    call = lambda kw: gaussian_kl_matrix(**kw)
    cases += _scalar_cases("gaussian_kl_matrix", call, _matrix_valid, "form", CHOICE_KINDS)
    cases += _scalar_cases(
        "gaussian_kl_matrix", call, _matrix_valid, "rtol", FLOAT_KINDS, {"None": None}
    )
    return cases


def _matrix_valid() -> dict[str, Any]:
    """Two Gaussians against three in d = 3 (covariances)."""
    rng = np.random.default_rng(1)
    a = rng.standard_normal((2, 3, 3))
    b = rng.standard_normal((3, 3, 3))
    return {
        "mean0": rng.standard_normal((2, 3)),
        "cov0": a @ a.mT + np.eye(3),
        "mean1": rng.standard_normal((3, 3)),
        "cov1": b @ b.mT + np.eye(3),
    }


def _matrix_diag_valid() -> dict[str, Any]:
    rng = np.random.default_rng(2)
    return {
        "mean0": rng.standard_normal((2, 3)),
        "cov0": rng.uniform(0.5, 2.0, (2, 3)),
        "mean1": rng.standard_normal((3, 3)),
        "cov1": rng.uniform(0.5, 2.0, (3, 3)),
    }


def _mc_valid() -> dict[str, Any]:
    return {"p": st.norm(0.0, 1.0), "q": st.norm(0.5, 1.0), "n": 1000, "seed": 0}


def _kl_valid() -> dict[str, Any]:
    return {"p": st.norm(0.0, 1.0), "q": st.norm(0.5, 1.0)}


def _is_kl_result(value: Any) -> bool:
    return math.isfinite(float(value.value)) and float(value.value) >= 0


def _mc_cases() -> list[Case]:
    call = lambda kw: mc_kl(**kw)
    cases = _dist_cases("mc_kl", call, _mc_valid, ["p", "q"], {("q", "unscorable"): Raises("q")})
    cases.append(
        Case("mc_kl", "p", "no-sample", call, _mc_valid, lambda v: NoSample(0.0, 1.0), Raises("p"))
    )
    cases += _scalar_cases("mc_kl", call, _mc_valid, "n", INT_KINDS, {"huge": None})
    cases += _scalar_cases("mc_kl", call, _mc_valid, "seed", INT_KINDS)
    cases += _scalar_cases(
        "mc_kl",
        call,
        lambda: {**_mc_valid(), "chunk_size": 100},
        "chunk_size",
        INT_KINDS,
        {"huge": Check(_is_kl_result, "a finite estimate")},
    )
    cases += _scalar_cases("mc_kl", call, _mc_valid, "estimator", CHOICE_KINDS)
    return cases


def _kl_cases() -> list[Case]:
    call = lambda kw: kl(**kw)
    cases = _dist_cases(
        "kl", call, _kl_valid, ["p", "q"], {(a, "unscorable"): Raises(a) for a in "pq"}
    )
    cases.append(
        Case(
            "kl",
            "p",
            "no-sample",
            call,
            lambda: {"p": NoSample(0.0, 1.0), "q": st.logistic()},
            lambda v: v,
            Raises("p"),
        )
    )
    cases.append(
        Case(
            "kl",
            "p",
            "no-sample-exact",
            call,
            lambda: {"p": NoSample(0.0, 1.0), "q": D.Normal(1.0, 1.0)},
            lambda v: v,
            Check(_is_kl_result, "the closed form (no sampling needed)"),
        )
    )
    cases += _scalar_cases("kl", call, _kl_valid, "method", CHOICE_KINDS)
    cases += _scalar_cases(
        "kl",
        call,
        lambda: {**_kl_valid(), "method": "mc", "n": 100},
        "n",
        INT_KINDS,
        {"huge": None},
    )
    cases += _scalar_cases(
        "kl", call, lambda: {**_kl_valid(), "method": "mc", "n": 100}, "seed", INT_KINDS
    )
    cases += _scalar_cases("kl", call, _kl_valid, "estimator", CHOICE_KINDS)
    # The issue's example: scipy's norm(0, -1) must be refused as p's scale, not "var0".
    cases.append(
        Case(
            "kl",
            "p",
            "scipy-norm-scale--1",
            call,
            _kl_valid,
            lambda v: st.norm(0, -1),
            Raises("p (scipy norm) must have scale > 0"),
        )
    )
    cases.append(
        Case(
            "kl",
            "p",
            "torch-normal-scale--1",
            call,
            _kl_valid,
            lambda v: _normal_minus_one(),
            Raises("p (torch Normal) has an invalid scale"),
        )
    )
    return cases


def _entropy_cases() -> list[Case]:
    call = lambda kw: entropy(**kw)
    valid = lambda: {"p": st.norm(0.0, 1.0)}
    cases = _dist_cases("entropy", call, valid, ["p"], {("p", "unscorable"): Raises("p")})
    cases += _scalar_cases("entropy", call, valid, "method", CHOICE_KINDS)
    cases += _scalar_cases(
        "entropy",
        call,
        lambda: {"p": st.norm(), "method": "mc", "n": 100},
        "n",
        INT_KINDS,
        {"huge": None},
    )
    cases += _scalar_cases(
        "entropy", call, lambda: {"p": st.norm(), "method": "mc", "n": 100}, "seed", INT_KINDS
    )
    return cases


def _discrete_cases() -> list[Case]:
    valid = lambda: {"p": np.array([0.2, 0.3, 0.5]), "q": np.array([0.5, 0.25, 0.25])}
    overrides: dict[tuple[str, str], Any] = {}
    cases = _array_cases("discrete_kl", lambda kw: discrete_kl(**kw), valid, ["p", "q"], overrides)
    cases += _scalar_cases(
        "discrete_kl",
        lambda kw: discrete_kl(**kw),
        valid,
        "axis",
        {
            "str": lambda v: "a",
            "float": lambda v: 0.5,
            "out-of-range": lambda v: 3,
            "None": lambda v: None,
        },
    )
    cases.append(
        Case(
            "discrete_kl",
            "p",
            "not-summing-to-1",
            lambda kw: discrete_kl(**kw),
            valid,
            lambda v: np.array([0.2, 0.3, 0.6]),
            Raises("p must sum to 1"),
        )
    )
    cases.append(
        Case(
            "discrete_kl",
            "q",
            "negative-entry",
            lambda kw: discrete_kl(**kw),
            valid,
            lambda v: np.array([1.2, -0.2, 0.0]),
            Raises("q must have finite entries >= 0"),
        )
    )
    ent_valid = lambda: {"p": np.array([0.2, 0.3, 0.5])}
    # One argument: a tensor alone is a valid torch input (same value, as a tensor).
    cases += _array_cases(
        "discrete_entropy",
        lambda kw: discrete_entropy(**kw),
        ent_valid,
        ["p"],
        {("p", "torch-tensor"): Same()},
    )
    cases += _scalar_cases(
        "discrete_entropy",
        lambda kw: discrete_entropy(**kw),
        ent_valid,
        "axis",
        {"str": lambda v: "a", "out-of-range": lambda v: -2},
    )
    return cases


class _Key:
    """A class to register (the registry is restored after each row)."""


def _registry_cases() -> list[Case]:
    kinds = {
        "int": lambda v: 3,
        "None": lambda v: None,
        "empty-str": lambda v: "",
        "instance": lambda v: _Key(),
        "dotted-str": lambda v: "numpy.ndarray",
    }
    call = lambda kw: register_kl(**kw)(lambda p, q: 0.0)
    valid = lambda: {"type_p": _Key, "type_q": _Key}
    cases = _scalar_cases("register_kl", call, valid, "type_p", kinds)
    cases += _scalar_cases("register_kl", call, valid, "type_q", kinds)
    cases += _scalar_cases(
        "register_entropy",
        lambda kw: register_entropy(**kw)(lambda p: 0.0),
        lambda: {"type_p": _Key},
        "type_p",
        kinds,
    )

    # A registered closed form that returns something that is not a number.
    class Bad:
        event_shape = ()

        def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
            return rng.standard_normal(n)

        def log_prob(self, x: np.ndarray) -> np.ndarray:
            return -0.5 * x**2

    def returning(value: Any) -> Callable[[dict[str, Any]], Any]:
        def call(kw: dict[str, Any]) -> Any:
            register_kl(Bad, Bad)(lambda p, q: value)
            return kl(Bad(), Bad(), method="exact")

        return call

    for label, value in (("None", None), ("str", "0.5"), ("list", [0.1])):
        cases.append(
            Case(
                "register_kl",
                "the registered function",
                f"returns-{label}",
                returning(value),
                lambda: {},
                lambda v: v,
                Raises("returned"),
            )
        )
    return cases


def _mixture(loc: Any, scale: Any = 1.0, validate: bool = True) -> Any:
    w = D.Categorical(torch.tensor([0.4, 0.6], dtype=torch.float64))
    comp = D.Normal(
        torch.as_tensor(loc, dtype=torch.float64),
        torch.as_tensor(scale, dtype=torch.float64),
        validate_args=validate,
    )
    return D.MixtureSameFamily(w, comp, validate_args=validate)


def _mixture_cases() -> list[Case]:
    call = lambda kw: gaussian_mixture_kl_bounds(**kw)
    valid = lambda: {"p": _mixture([0.0, 1.0]), "q": _mixture([0.5, 2.0])}
    cases = []
    for arg in ("p", "q"):
        for kind, make in {
            "None": lambda: None,
            "normal-not-mixture": lambda: D.Normal(0.0, 1.0),
            "gamma-components": lambda: D.MixtureSameFamily(
                D.Categorical(torch.ones(2)), D.Gamma(torch.ones(2), 1.0)
            ),
            "nan-loc": lambda: _mixture([math.nan, 1.0], validate=False),
            "inf-loc": lambda: _mixture([math.inf, 1.0], validate=False),
            "negative-scale": lambda: _mixture([0.0, 1.0], [-1.0, 1.0], validate=False),
        }.items():
            cases.append(
                Case(
                    "gaussian_mixture_kl_bounds",
                    arg,
                    kind,
                    call,
                    valid,
                    lambda v, make=make: make(),
                    Raises(arg),
                )
            )
    cases += _scalar_cases(
        "gaussian_mixture_kl_bounds", call, valid, "iterations", INT_KINDS, {"huge": None}
    )
    return cases


def _coupling() -> AffineCoupling:
    torch.manual_seed(0)
    mask = torch.tensor([True, False, True])
    return AffineCoupling(mask, nn.Linear(2, 1).double(), nn.Linear(2, 1).double())


TENSOR_KINDS: dict[str, tuple[Callable[[torch.Tensor], Any], Raises | Same]] = {
    "str": (lambda x: "a", Raises()),
    "None": (lambda x: None, Raises()),
    "numpy": (lambda x: x.numpy(), Raises()),
    "nan": (
        lambda x: torch.where(torch.arange(x.numel()).reshape(x.shape) == 0, math.nan, x),
        Raises(),
    ),
    "inf": (
        lambda x: torch.where(torch.arange(x.numel()).reshape(x.shape) == 0, math.inf, x),
        Raises(),
    ),
    "float32": (lambda x: x.float(), Raises()),
    "int64": (lambda x: x.long(), Raises()),
    "wrong-size": (lambda x: torch.cat([x, x], -1), Raises()),
    "0-d": (lambda x: x.sum(), Raises()),
    "non-contiguous": (lambda x: torch.stack([x, x], -1)[..., 0], Same()),
}


def _coupling_cases() -> list[Case]:
    x = lambda: torch.tensor([[0.3, -1.0, 2.0], [1.0, 0.5, -0.2]], dtype=torch.float64)
    cases = []
    for method, arg in (("forward", "x"), ("inverse", "z"), ("inverse_and_log_det", "z")):
        call = lambda kw, method=method, arg=arg: getattr(kw["layer"], method)(kw[arg])
        valid = lambda arg=arg: {"layer": _coupling(), arg: x()}
        for kind, (mutate, expect) in TENSOR_KINDS.items():
            cases.append(Case(f"AffineCoupling.{method}", arg, kind, call, valid, mutate, expect))
    ctor = lambda kw: AffineCoupling(**kw)
    ctor_valid = lambda: {
        "mask": torch.tensor([True, False, True]),
        "scale": nn.Linear(2, 1),
        "shift": nn.Linear(2, 1),
        "clamp": 2.0,
    }
    mask_kinds = {
        "list": lambda v: [True, False, True],
        "float": lambda v: v.double(),
        "all-true": lambda v: torch.ones(3, dtype=torch.bool),
        "2-d": lambda v: v.reshape(1, 3),
        "None": lambda v: None,
    }
    cases += _scalar_cases("AffineCoupling", ctor, ctor_valid, "mask", mask_kinds)
    net_kinds = {
        "function": lambda v: lambda t: t,
        "None": lambda v: None,
        "str": lambda v: "linear",
    }
    cases += _scalar_cases("AffineCoupling", ctor, ctor_valid, "scale", net_kinds)
    cases += _scalar_cases("AffineCoupling", ctor, ctor_valid, "shift", net_kinds)
    cases += _scalar_cases(
        "AffineCoupling",
        ctor,
        ctor_valid,
        "clamp",
        FLOAT_KINDS,
        {"None": Check(lambda layer: layer.clamp is None, "no clamp")},
    )
    perm = lambda kw: coupling_permutation(**kw)
    cases += _scalar_cases(
        "coupling_permutation",
        perm,
        lambda: {"mask": torch.tensor([True, False, True])},
        "mask",
        mask_kinds,
    )
    jac = lambda kw: coupling_jacobian_blocks(**kw)
    jac_valid = lambda: {
        "coupling": _coupling(),
        "x": torch.tensor([0.3, -1.0, 2.0], dtype=torch.float64),
    }
    cases += _scalar_cases(
        "coupling_jacobian_blocks",
        jac,
        jac_valid,
        "coupling",
        {"None": lambda v: None, "linear": lambda v: nn.Linear(3, 3)},
    )
    for kind, (mutate, expect) in TENSOR_KINDS.items():
        cases.append(Case("coupling_jacobian_blocks", "x", kind, jac, jac_valid, mutate, expect))
    cases.append(
        Case(
            "coupling_jacobian_blocks",
            "x",
            "batched",
            jac,
            jac_valid,
            lambda v: torch.stack([v, v]),
            Raises("x"),
        )
    )
    return cases


def _flow_valid() -> dict[str, Any]:
    return {
        "x": np.array([0.3, -1.0]),
        "w": np.array([0.0, 0.5]),
        "mu": np.array([-1.0, 1.0]),
        "tau": np.array([0.0, -0.5]),
    }


FLOW_FUNCTIONS = {
    "flow1d_transform": flow1d_transform,
    "flow1d_log_derivative": flow1d_log_derivative,
    "flow1d_derivative": flow1d_derivative,
    "flow1d_log_prob": flow1d_log_prob,
}


def _finite(v: Any) -> bool:
    return bool(np.isfinite(np.asarray(v)).all())


def _flow_cases() -> list[Case]:
    cases = []
    for name, fn in FLOW_FUNCTIONS.items():
        call = lambda kw, fn=fn: fn(**kw)
        overrides: dict[tuple[str, str], Any] = {
            # flow1d computes in float64 from NumPy input of any real dtype, and takes
            # tensors mixed with arrays (a tensor in gives a tensor out).
            **{(a, "float16"): FROM_FLOAT16 for a in ["x", "w", "mu", "tau", "a"]},
            **{(a, "torch-tensor"): Same() for a in ["x", "w", "mu", "tau", "a"]},
            ("a", "None"): Check(_finite, "the seed model's value"),
            # x = ±inf is allowed: f(±inf) = ±S/2, f'(±inf) = 0, log p(±inf) = −inf.
            ("x", "inf"): Check(
                lambda v: not np.isnan(np.asarray(v)).any(), "no NaN (±S/2, 0 or −inf)"
            ),
            # x may have any shape, including empty, and any (·, ·) shape: one value each.
            ("x", "empty"): Check(lambda v: np.asarray(v).size == 0, "an empty result"),
            ("x", "wrong-size"): Check(lambda v: np.asarray(v).shape == (4,), "one value per x"),
        }
        cases += _array_cases(name, call, _flow_valid, ["x", "w", "mu", "tau"], overrides)
        cases += _array_cases(
            name,
            call,
            lambda: {**_flow_valid(), "a": np.array(0.5)},
            ["a"],
            overrides,
        )
        # The issue's cases: τ = −710, w = 710 (e^τ, e^w out of float64 range) at x = μ.
        extreme = lambda: {
            "x": np.array([0.0]),
            "w": np.array([0.0]),
            "mu": np.array([0.0]),
            "tau": np.array([0.0]),
        }
        cases.append(
            Case(
                name,
                "tau",
                "-710-at-x=mu",
                call,
                extreme,
                lambda v: np.array([-710.0]),
                Check(_finite, "a finite value"),
            )
        )
        cases.append(
            Case(
                name,
                "w",
                "710-at-x=mu",
                call,
                extreme,
                lambda v: np.array([710.0]),
                Check(lambda v: not np.isnan(np.asarray(v)).any(), "no NaN"),
            )
        )
    cases.append(
        Case(
            "flow1d_transform",
            "tau",
            "-710-value",
            lambda kw: flow1d_transform(**kw),
            lambda: {"x": 0.0, "w": [0.0], "mu": [0.0], "tau": [0.0]},
            lambda v: [-710.0],
            Check(lambda v: float(v) == 0.0, "exactly 0"),
        )
    )
    cases.append(
        Case(
            "flow1d_log_prob",
            "tau",
            "-710-value",
            lambda kw: flow1d_log_prob(**kw),
            lambda: {"x": 0.0, "w": [0.0], "mu": [0.0], "tau": [0.0]},
            lambda v: [-710.0],
            Check(
                lambda v: abs(float(v) - 708.1621229335907) < 1e-9,
                "log φ(0) + 710 + log φ(0) = 708.162",
            ),
        )
    )
    for name, fn in (("flow1d_mass", flow1d_mass), ("flow1d_missing_mass", flow1d_missing_mass)):
        call = lambda kw, fn=fn: fn(**kw)
        mass_overrides = {
            ("w", "float16"): FROM_FLOAT16,
            ("w", "torch-tensor"): Same(),
            ("w", "wrong-size"): Check(_finite, "the mass of n = 4 components"),
        }
        cases += _array_cases(
            name, call, lambda: {"w": np.array([0.0, 0.5])}, ["w"], mass_overrides
        )
        cases += _scalar_cases(
            name,
            call,
            lambda: {"w": np.array([0.0, 0.5]), "a": 0.5},
            "a",
            FLOAT_KINDS,
            {
                "None": Check(_finite, "the seed model's mass"),
                "negative": Check(_finite, "mass 1 (a bijection for any slope)"),
            },
        )
    inv = lambda kw: flow1d_inverse(**kw)
    inv_valid = lambda: {
        "z": np.array([0.3, -0.1]),
        "w": np.array([0.0, 0.5]),
        "mu": np.array([-1.0, 1.0]),
        "tau": np.array([0.0, -0.5]),
    }
    overrides = {
        **{(a, "float16"): FROM_FLOAT16 for a in ["z", "w", "mu", "tau"]},
        **{(a, "torch-tensor"): Same() for a in ["z", "w", "mu", "tau"]},
        ("z", "inf"): Check(
            lambda r: bool(r.no_preimage[0]) and np.isnan(r.x[0]), "no preimage, flagged"
        ),
        ("z", "empty"): Check(lambda r: r.x.size == 0, "an empty result"),
        ("z", "wrong-size"): Check(lambda r: r.x.shape == (4,), "one preimage per z"),
    }
    cases += _array_cases("flow1d_inverse", inv, inv_valid, ["z", "w", "mu", "tau"], overrides)
    cases += _scalar_cases("flow1d_inverse", inv, inv_valid, "tol", FLOAT_KINDS)
    cases += _scalar_cases(
        "flow1d_inverse",
        inv,
        inv_valid,
        "max_iter",
        INT_KINDS,
        {"huge": Check(lambda r: not np.isnan(r.x).any(), "converges")},
    )
    cases += _scalar_cases("flow1d_inverse", inv, inv_valid, "on_no_preimage", CHOICE_KINDS)
    cases.append(
        Case(
            "flow1d_inverse",
            "tau",
            "800",
            inv,
            lambda: {"z": 0.1, "w": [0.0], "mu": [0.0], "tau": [0.0]},
            lambda v: [800.0],
            Raises("tau = 800.0"),
        )
    )
    cases.append(
        Case(
            "flow1d_inverse",
            "w",
            "710",
            inv,
            lambda: {"z": 0.1, "w": [0.0], "mu": [0.0], "tau": [0.0]},
            lambda v: [710.0],
            Raises("w = 710.0"),
        )
    )
    return cases


def _lemma_cases() -> list[Case]:
    call = lambda kw: check_argmax_lemma(**kw)
    valid = lambda: {
        "g": np.array([[0.0, -1.0], [1.0, 0.5]]),
        "h": np.array([[1.0, 2.0], [0.0, 0.5]]),
    }
    overrides = {(a, "wrong-size"): Raises() for a in "gh"}
    cases = _array_cases(
        "check_argmax_lemma",
        call,
        valid,
        ["g", "h"],
        {**overrides, **{(a, "float16"): FROM_FLOAT16 for a in "gh"}},
    )
    cases += _scalar_cases("check_argmax_lemma", call, valid, "atol", FLOAT_KINDS)
    return cases


def _ci_cases() -> list[Case]:
    exact = kl(D.Normal(0.0, 1.0), D.Normal(1.0, 1.0))
    estimated = kl(st.norm(), st.norm(0.5), method="mc", n=1000, seed=0)
    mc = mc_kl(st.norm(), st.norm(0.5), 1000, seed=0)
    ent = entropy(st.norm())
    ent_mc = entropy(st.norm(), method="mc", n=1000, seed=0)
    kinds = {**FLOAT_KINDS, "one": lambda v: 1.0, "zero": lambda v: 0.0}
    cases = []
    for label, res, method in (
        ("KLResult.ci", exact, "skew"),
        ("KLResult.ci(mc)", estimated, "skew"),
        ("MCResult.ci", mc, "skew"),
        ("EntropyResult.ci", ent, "normal"),
        ("EntropyResult.ci(mc)", ent_mc, "normal"),
    ):
        call = lambda kw, res=res: res.ci(**kw)
        valid = lambda method=method: {"level": 0.95, "method": method}
        cases += _scalar_cases(label, call, valid, "level", kinds)
        cases += _scalar_cases(label, call, valid, "method", CHOICE_KINDS)
    return cases


def _issue15_cases() -> list[Case]:
    """kl_penalty, knn_kl and pareto_khat (klmath.penalty, klmath.knn, klmath.pareto)."""
    from klmath import kl_penalty, knn_kl, pareto_khat

    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((200, 2)), rng.standard_normal((200, 2)) + 0.5
    knn = lambda kw: knn_kl(**kw)
    knn_valid = lambda: {"x": x.copy(), "y": y.copy(), "k": 3}
    cases = _array_cases(
        "knn_kl",
        knn,
        knn_valid,
        ["x", "y"],
        {
            # One array may be a tensor: the estimate is then a tensor of the same value.
            **{(a, "torch-tensor"): Same() for a in "xy"},
            **{(a, "float16"): FROM_FLOAT16 for a in "xy"},
            # A ragged list is rejected as a whole; n and m may differ, so a wider y is
            # a dimension mismatch and a longer one fine.
        },
    )
    cases += _scalar_cases("knn_kl", knn, knn_valid, "k", INT_KINDS)
    draws = rng.pareto(2.0, 500) + 1.0
    pk = lambda kw: pareto_khat(**kw)
    pk_valid = lambda: {"x": draws.copy()}
    cases += _array_cases(
        "pareto_khat",
        pk,
        pk_valid,
        ["x"],
        {
            ("x", "nan"): Check(
                lambda v: bool(np.isnan(v)), "NaN (documented: a NaN draw gives NaN)"
            ),
            ("x", "torch-tensor"): Same(),
            ("x", "float16"): FROM_FLOAT16,
            ("x", "wrong-size"): Check(lambda v: np.isfinite(v), "k̂ of the 1000 draws"),
            # An infinite draw: an infinitely heavy tail.
            ("x", "inf"): Check(lambda v: v == np.inf, "k̂ = ∞"),
        },
    )
    cases += _scalar_cases(
        "pareto_khat",
        pk,
        pk_valid,
        "axis",
        {"str": lambda v: "a", "float": lambda v: 0.5, "out-of-range": lambda v: 3},
    )
    cases += _scalar_cases("pareto_khat", pk, pk_valid, "tail", CHOICE_KINDS)
    logq = lambda: torch.log(
        torch.rand(4, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    )
    pen = lambda kw: kl_penalty(**kw)
    pen_valid = lambda: {"logq": logq(), "logp": logq() - 0.1}
    penalty_overrides = {
        # logp may have another floating dtype: it is cast to logq's (documented).
        ("logp", "float32"): Check(lambda v: bool(torch.isfinite(v)), "a finite penalty"),
        ("logq", "float32"): Check(lambda v: v.dtype == torch.float32, "a float32 penalty"),
    }
    for arg in ("logq", "logp"):
        for kind, (mutate, expect) in TENSOR_KINDS.items():
            exp = penalty_overrides.get((arg, kind), expect)
            cases.append(Case("kl_penalty", arg, kind, pen, pen_valid, mutate, exp))
    # The first token of p ruled out by the reference: an infinite penalty, not NaN.
    ruled_out = lambda v: torch.where(torch.arange(v.numel()).reshape(v.shape) == 0, -math.inf, v)
    for kind in ("k1", "k2", "k3"):
        cases.append(
            Case(
                "kl_penalty",
                "logp",
                f"-inf-{kind}",
                lambda kw, kind=kind: kl_penalty(**kw, kind=kind),
                pen_valid,
                ruled_out,
                Check(lambda v: float(v) == math.inf, "+inf"),
            )
        )
    for arg in ("kind", "mode", "reduction"):
        cases += _scalar_cases("kl_penalty", pen, pen_valid, arg, CHOICE_KINDS)
    return cases


CASES: list[Case] = [
    *_gaussian_cases(),
    *_mc_cases(),
    *_kl_cases(),
    *_entropy_cases(),
    *_discrete_cases(),
    *_registry_cases(),
    *_mixture_cases(),
    *_coupling_cases(),
    *_flow_cases(),
    *_lemma_cases(),
    *_ci_cases(),
    *_issue15_cases(),
]


@pytest.fixture(autouse=True)
def _private_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry_module, "_REGISTRY", dict(registry_module._REGISTRY))
    monkeypatch.setattr(registry_module, "_ENTROPY", dict(registry_module._ENTROPY))
    monkeypatch.setattr(registry_module, "_MEMO", {})


def _equal(a: Any, b: Any) -> bool:
    """Equal values: tensors and arrays by value (either kind), results field by field."""
    if dataclasses.is_dataclass(a):
        return all(_equal(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        a, b = (x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x for x in (a, b))
    if isinstance(a, (np.ndarray, np.generic, float, int)):
        return bool(np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True))
    return bool(a == b)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("case", CASES, ids=[f"{c.function}-{c.arg}-{c.kind}" for c in CASES])
def test_bad_input(case: Case) -> None:
    kwargs = case.valid()
    plain = kwargs.get(case.arg)
    if not case.arg.startswith("the "):  # "the registered function": nothing to replace
        kwargs[case.arg] = case.bad(plain)
    if isinstance(case.expect, Raises):
        name = case.expect.name or case.arg
        with pytest.raises(Exception) as info:
            case.call(kwargs)
        assert isinstance(info.value, case.expect.error), (
            f"{type(info.value).__name__} is not a named error: {info.value}"
        )
        assert name in str(info.value), f"the message does not name {name!r}: {info.value}"
    elif isinstance(case.expect, (Same, SameAs)):
        got = case.call(kwargs)
        base = plain if isinstance(case.expect, Same) else case.expect.transform(plain)
        want = case.call({**kwargs, case.arg: base})
        assert _equal(got, want), f"{got} != {want}"
    else:
        got = case.call(kwargs)
        assert case.expect.predicate(got), f"expected {case.expect.what}, got {got}"


PUBLIC_CALLABLES = sorted(
    name
    for name in klmath.__all__
    if (callable(getattr(klmath, name)) and not isinstance(getattr(klmath, name), type))
    or name == "AffineCoupling"
)


def test_every_public_function_is_in_the_table() -> None:
    covered = {c.function.split(".")[0] for c in CASES}
    missing = [name for name in PUBLIC_CALLABLES if name not in covered]
    assert not missing, f"public functions without bad-input rows: {missing}"
    results = {"KLResult", "MCResult", "EntropyResult"}
    assert {c.function.split(".")[0] for c in CASES} >= results


def test_the_table_is_large() -> None:
    assert len(CASES) >= 400
    kinds = {re.sub(r"\d", "", c.kind) for c in CASES}
    assert len(kinds) >= 30
