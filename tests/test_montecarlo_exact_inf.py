"""KL = ∞ known without drawing gives the record KL = ∞ found at every draw gives.

When one of p, q is discrete and the other continuous, p is not absolutely continuous
with respect to q and mc_kl returns KL = ∞ without drawing. That answer must be the
same record, field for field (kind, dtype, device, broadcast batch shape, values), as
the one mc_kl returns when q has zero density at every draw of p (supports [0, 1] and
[2, 3]), where every field is derived from the draws: value ∞, standard error 0,
skewness 0, k̂ NaN, reliable, no warning, the estimator's own estimand, and the verdict
"exact"; only the reason differs. Checked for each estimator, scipy and torch, on
p's device, with the batch shape coming from p, from q, or from both.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from typing import Any

import numpy as np
import pytest
import scipy.stats
import torch
from torch.distributions import Normal, Poisson, Uniform

from klmath import KLEstimatorWarning, mc_kl

# (p's batch shape, q's batch shape): the result's shape is their broadcast.
BATCHES = [((), ()), ((2,), ()), ((), (3,)), ((3, 1), (2,)), ((2,), (3, 1))]


def _pairs(backend: str, p_shape: Any, q_shape: Any, device: torch.device) -> tuple[Any, ...]:
    """(p, q) discrete/continuous, and (p, q) of disjoint supports, with these batch shapes."""
    if backend == "scipy":
        zp, zq = np.zeros(p_shape), np.zeros(q_shape)
        return (
            scipy.stats.poisson(3.0 + zp),
            scipy.stats.norm(zq, 1.0),
            scipy.stats.uniform(zp, 1.0),
            scipy.stats.uniform(2.0 + zq, 1.0),
        )
    zp = torch.zeros(p_shape, device=device)
    zq = torch.zeros(q_shape, device=device)
    return (
        Poisson(3.0 + zp),
        Normal(zq, 1.0),
        Uniform(zp, zp + 1.0),
        Uniform(zq + 2.0, zq + 3.0),
    )


def _same(mine: Any, theirs: Any, name: str) -> None:
    assert type(mine) is type(theirs), (name, type(mine), type(theirs))
    if isinstance(theirs, torch.Tensor):
        assert (mine.dtype, mine.device, mine.shape) == (theirs.dtype, theirs.device, theirs.shape)
        mine, theirs = mine.cpu().numpy(), theirs.cpu().numpy()
    if isinstance(theirs, (np.ndarray, np.generic)):
        assert (mine.dtype, mine.shape) == (theirs.dtype, theirs.shape), name
        np.testing.assert_array_equal(mine, theirs, err_msg=name)  # NaN equals NaN here
    else:
        assert mine == theirs, name


@pytest.mark.parametrize("estimator", ["k1", "k2", "k3"])
@pytest.mark.parametrize(("p_shape", "q_shape"), BATCHES)
@pytest.mark.parametrize("backend", ["scipy", "torch"])
def test_infinite_without_drawing_is_the_record_of_zero_density_at_every_draw(
    backend: str, p_shape: Any, q_shape: Any, estimator: str, device: torch.device
) -> None:
    p_mixed, q_mixed, p_apart, q_apart = _pairs(backend, p_shape, q_shape, device)
    with warnings.catch_warnings():
        warnings.simplefilter("error", KLEstimatorWarning)
        exact = mc_kl(p_mixed, q_mixed, 30, estimator=estimator, seed=0)
        drawn = mc_kl(p_apart, q_apart, 30, estimator=estimator, seed=0)
    shape = np.broadcast_shapes(p_shape, q_shape)
    assert tuple(exact.value.shape) == shape
    assert bool(np.all(np.asarray(torch.as_tensor(exact.value).cpu()) == math.inf))
    assert exact.reason is not None and "not absolutely continuous" in exact.reason
    assert drawn.reason is not None and "zero density" in drawn.reason
    for field in dataclasses.fields(exact):
        if field.name != "reason":
            _same(getattr(exact, field.name), getattr(drawn, field.name), field.name)
    for mine, theirs in zip(exact.ci(), drawn.ci(), strict=True):
        _same(mine, theirs, "ci")
