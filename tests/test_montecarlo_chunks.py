"""mc_kl merges its chunks without losing what each chunk saw (issue 14's survivors).

q = U(0, 0.9) has zero density on (0.9, 1), where p = U(0, 1) puts mass 1/10: KL(p ‖ q)
is infinite, and about n/10 draws show it. scipy draws come from one Generator, the
same stream whatever the chunk size, so every chunking must report the same count of
zero-density draws as one chunk does, and KL = inf, even when the first chunk saw none.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import scipy.stats

from klmath.montecarlo import mc_kl

P = scipy.stats.uniform(0.0, 1.0)
Q = scipy.stats.uniform(0.0, 0.9)


def _zero_count(reason: str | None) -> int:
    assert reason is not None
    match = re.search(r"zero density at (\d+) of the (\d+) draws", reason)
    assert match, reason
    return int(match.group(1))


@pytest.mark.parametrize("estimator", ["k1", "k3"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_chunking_counts_every_zero_density_draw(estimator: str, seed: int) -> None:
    n = 60
    whole = mc_kl(P, Q, n, estimator=estimator, seed=seed, chunk_size=n)
    expected = _zero_count(whole.reason)
    assert 0 < expected < n and whole.value == math.inf
    for chunk_size in (1, 2, 7, 59):
        res = mc_kl(P, Q, n, estimator=estimator, seed=seed, chunk_size=chunk_size)
        assert res.value == math.inf and res.stderr == 0.0
        assert _zero_count(res.reason) == expected, chunk_size


def test_finite_kl_merges_to_the_one_chunk_mean() -> None:
    # Same stream, same draws: the merged mean and standard error equal the one-pass ones.
    p, q = scipy.stats.norm(0.0, 1.0), scipy.stats.norm(0.3, 1.2)
    whole = mc_kl(p, q, 200, estimator="k1", seed=5, chunk_size=200)
    for chunk_size in (1, 3, 64):
        res = mc_kl(p, q, 200, estimator="k1", seed=5, chunk_size=chunk_size)
        np.testing.assert_allclose(res.value, whole.value, rtol=1e-12)
        np.testing.assert_allclose(res.stderr, whole.stderr, rtol=1e-9)
