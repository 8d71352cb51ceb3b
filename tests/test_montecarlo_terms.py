"""k3's per-draw term e^t − 1 − t on its polynomial branch |t| < ¼, against mpmath.

There expm1(t) − t would cancel (it is ≈ t²/2), so ``estimator_terms`` evaluates the
degree-13 Taylor polynomial t² Σ tᵏ/(k + 2)! by Horner's rule. Its truncation error is
below t¹⁴/15! ≈ 10⁻²⁰ relative at |t| = ¼, and each Horner step shrinks the error
before it by |t| ≤ ¼, so the result is within 0.5 (last Horner step) + 0.25 + 0.5 + 0.5
(the two products by t) ≈ 1.75 rounding errors of exact: 2·eps relative is asserted (the
module docstring says "a few ulp"; tests/test_montecarlo_estimators.py allows 8 over the
whole range). A wrong or missing Taylor coefficient near t¹¹ shows up there first.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import torch
from hypothesis import example, given
from hypothesis import strategies as st

from klmath.montecarlo import estimator_terms

EPS = float(np.finfo(np.float64).eps)


# |t| ≥ 1e-150 keeps t²/2 a normal float64 (below, the subnormal result has fewer digits).
@given(st.floats(1e-150, 0.25, exclude_max=True).flatmap(lambda t: st.sampled_from([t, -t])))
@example(0.2499999999999999)
@example(-0.2499999999999999)
@example(0.24)
@example(-0.2)
@example(1e-8)
def test_k3_polynomial_branch_is_within_two_rounding_errors(t: float) -> None:
    # expm1(t) − t cancels ~2·log10(1/|t|) digits: carry that many more.
    with mpmath.workdps(60 + 2 * max(0, -math.floor(math.log10(abs(t))))):
        exact = mpmath.expm1(mpmath.mpf(t)) - mpmath.mpf(t)
        for arr in (np.array([t]), torch.tensor([t], dtype=torch.float64)):
            got = float(estimator_terms(arr, "k3")[0])
            assert abs(mpmath.mpf(got) - exact) <= 2 * EPS * exact, (t, got)
