"""The Gaussian KL at the boundaries where klmath.gaussian changes method, against references.

* log(a/b) (``_log_ratio``) is the logarithm of the quotient wherever that quotient is
  a normal float, its ends included: at a/b = the smallest normal number and at a/b =
  the largest finite one (both exact quotients), the result is log(a/b) correctly
  rounded, compared with mpmath at 50 digits. log a − log b, which takes over beyond
  those ends, is one ulp off there.
* A (d, d) batch of 64-dimensional means against one pair of covariances: the batch
  shape equals an unbatched matrix's own shape, which must not be mistaken for a
  batch of matrices. Each pair's KL is that of the unbatched call.

These came out of the mutation run of ``klmath/gaussian.py`` (``docs/mutation.md``):
each states mathematics that a surviving mutant broke.
"""

from __future__ import annotations

import mpmath
import numpy as np
import pytest
import torch

import klmath.gaussian as G
from klmath import gaussian_kl

F64 = torch.float64
FINFO = torch.finfo(F64)


@pytest.mark.parametrize(
    ("quotient", "b"),
    [
        # b chosen where log a − log b rounds to the neighbour of log(a/b) (0.76 and
        # 0.79 ulp away), so the two forms differ by one ulp.
        pytest.param(FINFO.tiny, 1.1909882842232846e39, id="smallest-normal"),
        pytest.param(FINFO.max, 0.6875, id="largest-finite"),
    ],
)
def test_log_ratio_is_correctly_rounded_at_the_ends_of_the_normal_range(
    quotient: float, b: float
) -> None:
    a = quotient * b
    assert a / b == quotient  # an exact quotient, so log(a/b) has one rounding to make
    got = float(G._log_ratio(torch.tensor([a], dtype=F64), torch.tensor([b], dtype=F64))[0])
    with mpmath.workdps(50):
        exact = mpmath.log(mpmath.mpf(a) / mpmath.mpf(b))
        error = abs(mpmath.mpf(got) - exact) / mpmath.mpf(float(np.spacing(abs(float(exact)))))
    assert error <= 0.5


def _spd(rng: np.random.Generator, d: int) -> np.ndarray:
    a = rng.standard_normal((d, d))
    return np.eye(d) + a @ a.T / d


def test_a_d_by_d_batch_of_means_against_unbatched_covariances_at_d_64() -> None:
    # d = 64 is the first d of the split solve (and of the path that solves in the
    # first factor's own storage); the batch of the means is (64, 64), the shape of
    # each covariance.
    d = 64
    rng = np.random.default_rng(64)
    s0, s1 = _spd(rng, d), _spd(rng, d)
    m0, m1 = rng.standard_normal((d, d, d)), rng.standard_normal((d, d, d))
    kl = gaussian_kl(m0, s0, m1, s1)
    assert kl.shape == (d, d)
    for i, j in [(0, 0), (5, 63), (63, 1), (31, 32)]:
        np.testing.assert_allclose(kl[i, j], gaussian_kl(m0[i, j], s0, m1[i, j], s1), rtol=1e-12)
