"""Bad input to klmath.flow1d: one row per mistake, each with the message it must give."""

from __future__ import annotations

import math

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
