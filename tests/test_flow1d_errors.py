"""Bad input to klmath.flow1d: one row per mistake, each with the message it must give."""

from __future__ import annotations

import math
import re

import mpmath
import numpy as np
import pytest
import torch

from klmath.flow1d import (
    flow1d_derivative,
    flow1d_inverse,
    flow1d_log_derivative,
    flow1d_log_prob,
    flow1d_mass,
    flow1d_missing_mass,
    flow1d_transform,
)

F64 = torch.float64
X = torch.linspace(-1, 1, 4, dtype=F64)
W = torch.zeros(3, dtype=F64)
MU = torch.tensor([-1.0, 0.0, 1.0], dtype=F64)
TAU = torch.zeros(3, dtype=F64)
NAN_AT_2 = torch.tensor([0.0, 0.0, math.nan], dtype=F64)
INF_AT_1 = torch.tensor([0.0, math.inf, 0.0], dtype=F64)

MAPS = [flow1d_transform, flow1d_derivative, flow1d_log_derivative, flow1d_log_prob]


def _call(fn, x=X, w=W, mu=MU, tau=TAU, **kw):
    return fn(x, w, mu, tau, **kw)


BAD_MAP_INPUTS = [
    pytest.param(
        {"mu": MU[:2]},
        ValueError,
        r"w, mu and tau must have the same shape \(n,\); got "
        r"w \(3,\), mu \(2,\), tau \(3,\)",
        id="mu-shorter-than-w",
    ),
    pytest.param({"tau": TAU.reshape(3, 1)}, ValueError, r"same shape.*tau \(3, 1\)", id="tau-2d"),
    pytest.param(
        {"w": W.reshape(1, 3), "mu": MU.reshape(1, 3), "tau": TAU.reshape(1, 3)},
        ValueError,
        r"w must have shape \(n,\) with n >= 1; got shape \(1, 3\)",
        id="params-2d",
    ),
    pytest.param(
        {"w": W[:0], "mu": MU[:0], "tau": TAU[:0]},
        ValueError,
        r"n >= 1; got shape \(0,\)",
        id="no-components",
    ),
    pytest.param({"mu": NAN_AT_2}, ValueError, r"mu contains NaN at index \(2,\)", id="nan-mu"),
    pytest.param({"w": NAN_AT_2}, ValueError, r"w contains NaN at index \(2,\)", id="nan-w"),
    pytest.param(
        {"tau": INF_AT_1},
        ValueError,
        r"tau must be finite; got inf at index \(1,\)",
        id="inf-tau",
    ),
    pytest.param(
        {"x": torch.tensor([[0.0, math.nan]], dtype=F64)},
        ValueError,
        r"x contains NaN at index \(0, 1\)",
        id="nan-x",
    ),
    pytest.param(
        {"x": torch.arange(3)},
        TypeError,
        r"x must have a floating dtype; got torch.int64",
        id="integer-x-tensor",
    ),
    pytest.param(
        {"w": torch.zeros(3, dtype=torch.int32)},
        TypeError,
        r"w must have a floating dtype",
        id="integer-w-tensor",
    ),
    pytest.param(
        {"x": np.array(["a", "b"])},
        TypeError,
        r"x must be a real number or array; got dtype",
        id="string-x",
    ),
    pytest.param(
        {"a": torch.zeros(2, dtype=F64)},
        ValueError,
        r"a must be a scalar \(0-d\); got shape \(2,\)",
        id="vector-a",
    ),
    pytest.param(
        {"a": torch.tensor(math.nan, dtype=F64)}, ValueError, r"a contains NaN", id="nan-a"
    ),
    pytest.param(
        {"a": torch.tensor(-math.inf, dtype=F64)}, ValueError, r"a must be finite", id="inf-a"
    ),
    pytest.param(
        {"x": X.to("meta")},
        ValueError,
        r"must be on one device; got x on meta, w on cpu",
        id="devices-differ",
    ),
]


@pytest.mark.parametrize("fn", MAPS, ids=lambda f: f.__name__)
@pytest.mark.parametrize(("kwargs", "error", "match"), BAD_MAP_INPUTS)
def test_maps_reject_bad_input(fn, kwargs, error, match):
    with pytest.raises(error, match=match):
        _call(fn, **kwargs)


BAD_INVERSE_INPUTS = [
    pytest.param(
        {"z": torch.tensor([0.1, math.nan], dtype=F64)},
        ValueError,
        r"z contains NaN at index \(1,\)",
        id="nan-z",
    ),
    pytest.param({"mu": MU[:2]}, ValueError, r"w, mu and tau must have the same shape", id="shape"),
    pytest.param(
        {"tol": 0.0}, ValueError, r"tol must be a positive finite float; got 0.0", id="zero-tol"
    ),
    pytest.param(
        {"tol": math.nan},
        ValueError,
        r"tol must be a positive finite float; got nan",
        id="nan-tol",
    ),
    pytest.param(
        {"on_no_preimage": "clip"},
        ValueError,
        r"on_no_preimage must be 'nan' or 'raise'; got 'clip'",
        id="clipping-is-not-an-option",
    ),
    pytest.param(
        {"z": torch.tensor([0.0, 2.0], dtype=F64), "on_no_preimage": "raise"},
        ValueError,
        r"1 of 2 entries of z have no preimage: the flow maps onto \(-S/2, S/2\) = "
        r"\(-1.5, 1.5\); first at index \(1,\) \(z = 2.0\)",
        id="no-preimage-raise",
    ),
]


@pytest.mark.parametrize(("kwargs", "error", "match"), BAD_INVERSE_INPUTS)
def test_inverse_rejects_bad_input(kwargs, error, match):
    args = {"z": torch.zeros(2, dtype=F64), "w": W, "mu": MU, "tau": TAU, **kwargs}
    z, w, mu, tau = args.pop("z"), args.pop("w"), args.pop("mu"), args.pop("tau")
    with pytest.raises(error, match=match):
        flow1d_inverse(z, w, mu, tau, **args)


@pytest.mark.parametrize("fn", [flow1d_mass, flow1d_missing_mass], ids=lambda f: f.__name__)
@pytest.mark.parametrize(
    ("w", "a", "match"),
    [
        pytest.param(W.reshape(3, 1), None, r"w must have shape \(n,\)", id="w-2d"),
        pytest.param(NAN_AT_2, None, r"w contains NaN at index \(2,\)", id="nan-w"),
        pytest.param(W, torch.zeros(1, dtype=F64), r"a must be a scalar", id="vector-a"),
        pytest.param(W, torch.tensor(math.inf, dtype=F64), r"a must be finite", id="inf-a"),
    ],
)
def test_mass_rejects_bad_input(fn, w, a, match):
    with pytest.raises(ValueError, match=match):
        fn(w, a=a)


def _exact_inverse_message(name: str, value: float, index: tuple[int, ...] | None) -> str:
    what = "overflows" if value > 0 else "underflows to 0"
    where = f" at index {index}" if index is not None else ""
    return (
        f"{name} = {value!r}{where}: e^{name} {what} in float64, and flow1d_inverse needs it "
        f"finite and positive (|{name}| < 709.78)"
    )


@pytest.mark.parametrize("value", [710.0, 1e300, -746.0, -1e300])
@pytest.mark.parametrize(("name", "index"), [("w", 1), ("tau", 2), ("a", None)])
def test_inverse_names_a_parameter_whose_exponential_is_not_a_positive_float(
    name: str, index: int | None, value: float
) -> None:
    # e^710 overflows and e^-746 underflows to 0 in float64 (|t| < 709.78 is the safe range);
    # every other parameter is representable, so the message is about this one entry.
    args: dict[str, torch.Tensor | None] = {"w": W.clone(), "tau": TAU.clone(), "a": None}
    if name == "a":
        args["a"] = torch.tensor(value, dtype=F64)
    else:
        t = args[name]
        assert t is not None
        t[index] = value
        t[-1 if index != 2 else 0] = 709.0  # a representable neighbour, after or before it
    expected = _exact_inverse_message(name, value, None if index is None else (index,))
    with pytest.raises(ValueError, match=f"^{re.escape(expected)}$"):
        flow1d_inverse(torch.zeros(2, dtype=F64), args["w"], MU, args["tau"], a=args["a"])


@pytest.mark.parametrize(
    ("kwargs", "error", "expected"),
    [
        pytest.param(
            {"tol": "1e-12"}, TypeError, "tol must be a positive finite float; got str '1e-12'"
        ),
        pytest.param(
            {"tol": True}, TypeError, "tol must be a positive finite float; got bool True"
        ),
        pytest.param({"max_iter": 2.0}, TypeError, "max_iter must be an int >= 1; got float 2.0"),
        pytest.param({"max_iter": "9"}, TypeError, "max_iter must be an int >= 1; got str '9'"),
        pytest.param(
            {"max_iter": False}, TypeError, "max_iter must be an int >= 1; got bool False"
        ),
        pytest.param({"max_iter": 0}, ValueError, "max_iter must be an int >= 1; got 0"),
    ],
)
def test_inverse_names_a_bad_tolerance_or_iteration_cap(
    kwargs: dict[str, object], error: type[Exception], expected: str
) -> None:
    with pytest.raises(error, match=f"^{re.escape(expected)}$"):
        flow1d_inverse(torch.zeros(2, dtype=F64), W, MU, TAU, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["w", "mu", "tau"])
def test_ragged_parameter_lists_are_named(name: str) -> None:
    args: dict[str, object] = {"w": [0.0, 0.0], "mu": [0.0, 1.0], "tau": [0.0, 0.0]}
    args[name] = [[0.0], [0.0, 1.0]]
    expected = f"{name} must be a real number or array; got a ragged list"
    with pytest.raises(ValueError, match=f"^{re.escape(expected)}$"):
        flow1d_transform(0.5, args["w"], args["mu"], args["tau"])


@pytest.mark.skipif(
    np.finfo(np.longdouble).eps >= np.finfo(np.float64).eps,
    reason="np.longdouble is float64 on this platform",
)
@pytest.mark.parametrize("name", ["x", "w", "mu", "tau"])
def test_extended_precision_arrays_are_refused(name: str) -> None:
    args: dict[str, object] = {"x": np.zeros(2), "w": np.zeros(2), "mu": np.zeros(2)}
    args["tau"] = np.zeros(2)
    args[name] = np.asarray(args[name], dtype=np.longdouble)
    expected = (
        f"{name} has dtype {np.dtype(np.longdouble)} (extended precision): pass "
        f"{name}.astype(np.float64), the precision flow1d computes in"
    )
    with pytest.raises(TypeError, match=f"^{re.escape(expected)}$"):
        flow1d_transform(args["x"], args["w"], args["mu"], args["tau"])


def test_a_component_centred_at_x_adds_exactly_zero_even_with_an_infinite_weight() -> None:
    # e^800 overflows to inf, but at x = μ₁ the component's term is e^800·(Φ(0) − ½) = 0:
    # f(0) is the other component alone, Φ(−1) − ½ (no inf·0 = NaN).
    w = torch.tensor([800.0, 0.0], dtype=F64)
    mu = torch.tensor([0.0, 1.0], dtype=F64)
    got = flow1d_transform(torch.zeros(1, dtype=F64), w, mu, torch.zeros(2, dtype=F64))
    exact = float(mpmath.ncdf(-1) - mpmath.mpf(1) / 2)
    assert got.item() == pytest.approx(exact, rel=4e-16)
