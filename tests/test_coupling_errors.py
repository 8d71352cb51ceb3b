"""Every bad input to klmath.coupling raises the documented error with a clear message."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from klmath import AffineCoupling, coupling_jacobian_blocks, coupling_permutation

MASK = torch.tensor([True, False, False])


def _layer(scale: nn.Module | None = None, shift: nn.Module | None = None) -> AffineCoupling:
    return AffineCoupling(
        MASK,
        scale if scale is not None else nn.Linear(1, 2),
        shift if shift is not None else nn.Linear(1, 2),
    )


class _Returns(nn.Module):
    """A net returning whatever ``fn`` makes of its input (for wrong-output cases)."""

    def __init__(self, fn: Callable[[torch.Tensor], Any]) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: torch.Tensor) -> Any:
        return self.fn(x)


MASK_CASES = [
    pytest.param([True, False], TypeError, "mask must be a torch.Tensor", id="mask-list"),
    pytest.param(np.array([True, False]), TypeError, "got ndarray", id="mask-ndarray"),
    pytest.param(torch.tensor([1, 0]), TypeError, "dtype torch.bool.*got torch.int64", id="int"),
    pytest.param(torch.tensor([1.0, 0.0]), TypeError, "dtype torch.bool", id="mask-float"),
    pytest.param(torch.tensor(True), ValueError, r"1-D.*got shape \(\)", id="mask-0d"),
    pytest.param(torch.ones(2, 2, dtype=torch.bool), ValueError, r"shape \(2, 2\)", id="mask-2d"),
    pytest.param(torch.zeros(4, dtype=torch.bool), ValueError, "empty", id="mask-empty"),
    pytest.param(torch.ones(4, dtype=torch.bool), ValueError, r"\|Ω\| = 4.*all-True", id="full"),
    pytest.param(torch.tensor([True]), ValueError, "n = 1", id="mask-n1"),
    pytest.param(torch.zeros(0, dtype=torch.bool), ValueError, "n = 0", id="mask-length-0"),
]


@pytest.mark.parametrize(("mask", "error", "match"), MASK_CASES)
def test_bad_mask_rejected_by_layer(mask: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        AffineCoupling(mask, nn.Linear(1, 1), nn.Linear(1, 1))


@pytest.mark.parametrize(("mask", "error", "match"), MASK_CASES)
def test_bad_mask_rejected_by_permutation(mask: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        coupling_permutation(mask)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        pytest.param({"scale": torch.exp}, TypeError, "scale must be an nn.Module", id="fn"),
        pytest.param({"shift": None}, TypeError, "shift must be an nn.Module.*NoneType", id="no"),
        pytest.param({"clamp": 0.0}, ValueError, "clamp must be None or a positive", id="c0"),
        pytest.param({"clamp": -1.0}, ValueError, "got -1.0", id="clamp-negative"),
        pytest.param({"clamp": float("inf")}, ValueError, "positive finite", id="clamp-inf"),
        pytest.param({"clamp": float("nan")}, ValueError, "got nan", id="clamp-nan"),
    ],
)
def test_bad_constructor_argument(
    kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    args: dict[str, Any] = {"scale": nn.Linear(1, 2), "shift": nn.Linear(1, 2), "clamp": None}
    args.update(kwargs)
    with pytest.raises(error, match=match):
        AffineCoupling(MASK, args["scale"], args["shift"], clamp=args["clamp"])


@pytest.mark.parametrize("method", ["forward", "inverse", "inverse_and_log_det"])
@pytest.mark.parametrize(
    ("x", "error", "match"),
    [
        pytest.param(np.zeros(3), TypeError, "a torch.Tensor, got ndarray", id="numpy"),
        pytest.param(torch.zeros(3, dtype=torch.int64), TypeError, "floating dtype", id="int"),
        pytest.param(torch.zeros(()), ValueError, r"shape \(\.\.\., 3\).*got \(\)", id="0d"),
        pytest.param(torch.zeros(5, 4), ValueError, r"\(\.\.\., 3\).*got \(5, 4\)", id="n4"),
        pytest.param(torch.zeros(3, 0), ValueError, r"got \(3, 0\)", id="n0"),
    ],
)
def test_bad_input_point(method: str, x: Any, error: type[Exception], match: str) -> None:
    layer = _layer()
    name = "x" if method == "forward" else "z"
    with pytest.raises(error, match=rf"^{name} must .*{match}"):
        getattr(layer, method)(x)


@pytest.mark.parametrize("method", ["forward", "inverse_and_log_det"])
@pytest.mark.parametrize(
    ("nets", "match"),
    [
        pytest.param(
            {"scale": nn.Linear(1, 3)},
            r"scale returned \(4, 3\) for input of shape \(4, 1\); expected shape \(4, 2\)",
            id="scale-width",
        ),
        pytest.param(
            {"shift": nn.Linear(1, 1)}, r"shift returned \(4, 1\).*n - \|Ω\|=2", id="shift-width"
        ),
        pytest.param(
            {"shift": _Returns(lambda c: torch.zeros(2))},
            r"shift returned \(2,\).*expected shape \(4, 2\)",
            id="shift-drops-batch",
        ),
        pytest.param(
            {"scale": _Returns(lambda c: torch.zeros(1, 4, 2))},
            r"scale returned \(1, 4, 2\)",
            id="scale-broadcasting-shape",
        ),
        pytest.param(
            {"scale": _Returns(lambda c: (c, c))}, "scale returned tuple", id="scale-tuple"
        ),
    ],
)
def test_net_with_wrong_output_shape(method: str, nets: dict[str, nn.Module], match: str) -> None:
    layer = _layer(**nets)
    with pytest.raises(ValueError, match=match):
        getattr(layer, method)(torch.zeros(4, 3))


@pytest.mark.parametrize(
    ("coupling", "x", "error", "match"),
    [
        pytest.param(nn.Linear(3, 3), torch.zeros(3), TypeError, "AffineCoupling", id="not-cpl"),
        pytest.param(None, torch.zeros(2, 3), ValueError, r"one point of shape \(3,\)", id="2d"),
        pytest.param(None, torch.zeros(4), ValueError, r"\(\.\.\., 3\)", id="wrong-n"),
    ],
)
def test_bad_jacobian_blocks_argument(
    coupling: Any, x: torch.Tensor, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        coupling_jacobian_blocks(coupling if coupling is not None else _layer(), x)


@pytest.mark.parametrize(
    "clamp", [pytest.param("1.0", id="str"), pytest.param(True, id="bool"), pytest.param([1.0])]
)
def test_clamp_of_the_wrong_type_is_named(clamp: Any) -> None:
    message = f"clamp must be None or a positive finite float, got {type(clamp).__name__} {clamp!r}"
    with pytest.raises(TypeError, match=f"^{re.escape(message)}$"):
        AffineCoupling(MASK, nn.Linear(1, 2), nn.Linear(1, 2), clamp=clamp)


@pytest.mark.parametrize("method", ["forward", "inverse", "inverse_and_log_det"])
def test_input_dtype_other_than_the_networks_is_named(method: str) -> None:
    layer = _layer()  # float32 networks
    name = "x" if method == "forward" else "z"
    message = (
        f"{name} has dtype torch.float64 but the coupling's networks have torch.float32: "
        f"convert one of them ({name}.to(torch.float32) or coupling.to(torch.float64))"
    )
    with pytest.raises(TypeError, match=f"^{re.escape(message)}$"):
        getattr(layer, method)(torch.zeros(4, 3, dtype=torch.float64))


@pytest.mark.parametrize("method", ["forward", "inverse", "inverse_and_log_det"])
def test_input_device_other_than_the_networks_is_named(method: str) -> None:
    # The meta device stands in for an accelerator: the check runs before any arithmetic.
    layer = _layer()
    name = "x" if method == "forward" else "z"
    message = f"{name} is on meta but the coupling's networks are on cpu"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        getattr(layer, method)(torch.zeros(4, 3, device="meta"))


@pytest.mark.parametrize("method", ["forward", "inverse", "inverse_and_log_det"])
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize("where", [(0, 0), (2, 1), (3, 2)])
def test_the_first_non_finite_input_entry_is_named(
    method: str, bad: float, where: tuple[int, int]
) -> None:
    x = torch.ones(4, 3)
    x[where] = bad
    x[3, 2] = bad  # a second bad entry never comes first in row-major order
    name = "x" if method == "forward" else "z"
    message = f"{name} must be finite, got {bad} at index {where}"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        getattr(_layer(), method)(x)


@pytest.mark.parametrize("method", ["forward", "inverse_and_log_det"])
def test_networks_without_parameters_are_accepted(method: str) -> None:
    # s ≡ 0 and t ≡ 0 from parameter-free nets: the coupling is the identity, log|det| = 0.
    zeros = _Returns(lambda c: torch.zeros(*c.shape[:-1], 2, dtype=c.dtype))
    layer = AffineCoupling(MASK, zeros, zeros)
    x = torch.randn(4, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    y, log_det = getattr(layer, method)(x)
    assert torch.equal(y, x)
    assert torch.equal(log_det, torch.zeros(4, dtype=torch.float64))
