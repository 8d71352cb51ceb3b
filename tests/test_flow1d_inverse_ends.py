"""flow1d_inverse at the ends of the range, where only the exact S/2 decides (issue 14).

S/2 = Σ e^{wᵢ}/2 is held by the inverse as a double-double hi + lo. For z within a few
ulps of ±S/2 the low part decides whether z is inside the range and where the
preimage is: the tests take weights whose float sum is inexact (lo ≠ 0), walk z over
the last ulps on both sides of ±S/2, and check against S/2 summed exactly at 50 digits:
no_preimage exactly where |z| ≥ S/2, and inside it the exact root of f(x) = z lies
within 1e-10 of x̂ (f(x̂ − 1e-10) < z < f(x̂ + 1e-10) at 50 digits).
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import torch

from klmath.flow1d import flow1d_inverse

DIGITS = 50


def _f(x: float, weights: list[mpmath.mpf], mu: np.ndarray, tau: np.ndarray) -> mpmath.mpf:
    with mpmath.workdps(DIGITS):
        xm = mpmath.mpf(x)
        return mpmath.fsum(
            c * (mpmath.ncdf((xm - mpmath.mpf(float(m))) / mpmath.exp(mpmath.mpf(float(t)))) - 0.5)
            for c, m, t in zip(weights, mu, tau, strict=True)
        )


@pytest.mark.parametrize(
    ("w", "mu", "tau"),
    [
        (
            np.log([0.1, 0.2, 0.3, 0.7]),
            np.array([-1.0, 0.2, 0.5, 1.5]),
            np.log([0.5, 1.0, 0.3, 0.8]),
        ),
        (
            np.array([0.82177, -1.38128, -2.75416]),
            np.array([1.88, 2.48, 0.64]),
            np.array([-0.55, 1.21, 0.67]),
        ),
    ],
)
def test_the_last_ulps_before_the_ends(w: np.ndarray, mu: np.ndarray, tau: np.ndarray) -> None:
    weights_t = torch.exp(torch.tensor(w))
    halves = (0.5 * weights_t).tolist()
    hi = math.fsum(halves)
    assert math.fsum([*halves, -hi]) != 0.0  # the low part matters for these weights
    weights = [mpmath.mpf(c) for c in weights_t.tolist()]
    with mpmath.workdps(DIGITS):
        half = mpmath.fsum(weights) / 2
    zs = []
    for sign in (1.0, -1.0):
        z = sign * hi
        for _ in range(6):  # hi and the 5 floats below it in magnitude ...
            zs.append(z)
            z = math.nextafter(z, 0.0)
        zs.append(math.nextafter(sign * hi, sign * math.inf))  # ... and the one above
    res = flow1d_inverse(
        torch.tensor(zs, dtype=torch.float64), *[torch.tensor(a) for a in (w, mu, tau)]
    )
    for z, x, outside in zip(zs, res.x.tolist(), res.no_preimage.tolist(), strict=True):
        exactly_outside = abs(mpmath.mpf(z)) >= half
        assert outside == exactly_outside, (z, outside)
        if not outside:
            below, above = _f(x - 1e-10, weights, mu, tau), _f(x + 1e-10, weights, mu, tau)
            assert below < mpmath.mpf(z) < above, (z, x)
