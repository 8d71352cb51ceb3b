"""MCResult.ci against the interval its docstring states, with z from scipy.stats.

method="normal", or a result without a skewness (built by hand): value ± z·se. Otherwise
the Cornish–Fisher interval value + se·s(2z² + 1)/6 ± se·z(1 + 5(4z² − 1)s²/72) with
s = γ̂/√n, for every n ≥ 2 (n = 2 included: the smallest n mc_kl accepts). z is the
(1 + level)/2 quantile of N(0, 1); low is clipped at 0. Each array kind the value can
have (a float, a NumPy scalar or array, a torch tensor) gives the same numbers.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import scipy.stats
import torch
from hypothesis import example, given
from hypothesis import strategies as st

from klmath.montecarlo import MCResult

KINDS = {
    "numpy-scalar": np.float64,
    "numpy-array": lambda v: np.array([v, v]),
    "torch": lambda v: torch.tensor(v, dtype=torch.float64),
}


def stated_interval(
    value: float, se: float, n: int, skewness: float | None, level: float, method: str
) -> tuple[float, float]:
    z = float(scipy.stats.norm.ppf((1.0 + level) / 2.0))
    if method == "normal" or skewness is None:
        low, high = value - z * se, value + z * se
    else:
        s = skewness / math.sqrt(n)
        shift = se * s * (2 * z * z + 1) / 6
        half = se * z * (1 + 5 * (4 * z * z - 1) * s * s / 72)
        low, high = value + shift - half, value + shift + half
    return max(low, 0.0), high


@given(
    value=st.floats(0.0, 10.0),
    se=st.floats(0.0, 5.0),
    n=st.integers(2, 10**6),
    skewness=st.none() | st.floats(-5.0, 5.0),
    level=st.floats(0.5, 0.999),
    method=st.sampled_from(["skew", "normal"]),
    kind=st.sampled_from(sorted(KINDS)),
)
@example(value=1.0, se=0.5, n=2, skewness=1.5, level=0.95, method="skew", kind="torch")
@example(value=1.0, se=0.5, n=2, skewness=-2.0, level=0.9, method="skew", kind="numpy-scalar")
@example(value=2.0, se=0.5, n=50, skewness=None, level=0.95, method="skew", kind="numpy-array")
def test_ci_is_the_stated_interval(
    value: float,
    se: float,
    n: int,
    skewness: float | None,
    level: float,
    method: str,
    kind: str,
) -> None:
    make = KINDS[kind]
    res = MCResult(
        make(value), make(se), n, "k3", skewness=None if skewness is None else make(skewness)
    )
    low, high = res.ci(level, method=method)
    want_low, want_high = stated_interval(value, se, n, skewness, level, method)
    tol = 1e-12 * (value + se * (1 + abs(skewness or 0.0)) ** 2)
    for got, want in ((low, want_low), (high, want_high)):
        got_values = np.asarray(got.cpu() if isinstance(got, torch.Tensor) else got)
        assert np.all(np.abs(got_values - want) <= tol), (got, want)
    if kind == "torch":
        assert isinstance(low, torch.Tensor) and isinstance(high, torch.Tensor)


@pytest.mark.parametrize("method", ["skew", "normal"])
def test_a_hand_built_result_without_skewness_gets_the_normal_interval(method: str) -> None:
    res: Any = MCResult(0.8, 0.1, 1000, "k1")  # plain floats, as a user would build it
    z = float(scipy.stats.norm.ppf(0.975))
    assert res.ci(method=method) == pytest.approx((0.8 - z * 0.1, 0.8 + z * 0.1), rel=1e-15)
