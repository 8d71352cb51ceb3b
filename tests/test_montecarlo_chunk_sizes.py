"""mc_kl's default chunk size: about 2¹⁶ numbers per array on the CPU, 2²² on a GPU.

A draw of p is prod(batch) · prod(event) numbers, so a chunk holds
max(1, budget // that) draws, the last chunk the remainder (mc_kl docstring: "memory does
not grow with n"). Distributions that record the sizes they are asked to draw show it:
a protocol p (the CPU budget) and a torch p on the ``--device`` device.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch
from torch.distributions import Normal

from klmath import mc_kl

CPU_BUDGET, GPU_BUDGET = 2**16, 2**22


def _sizes(n: int, chunk: int) -> list[int]:
    return [chunk] * (n // chunk) + ([n % chunk] if n % chunk else [])


class RecordingZeros:
    """p = q: draws of zeros of shape (n, *batch, *event), log density 0; records n."""

    def __init__(self, batch: tuple[int, ...], event: tuple[int, ...]) -> None:
        self.batch_shape, self.event_shape = batch, event
        self.sizes: list[int] = []

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        self.sizes.append(n)
        return np.zeros((n, *self.batch_shape, *self.event_shape))

    def log_prob(self, x: np.ndarray) -> np.ndarray:
        return np.zeros(x.shape[: x.ndim - len(self.event_shape)])


@pytest.mark.parametrize(
    ("batch", "event", "n"),
    [
        pytest.param((), (), 70_000, id="one-number-draws"),  # 2¹⁶ draws, then 4464
        pytest.param((4,), (8,), 5_000, id="batch-times-event"),  # 2¹⁶ / 32 = 2048 draws
        pytest.param((300, 300), (), 3, id="draws-beyond-the-budget"),  # one draw per chunk
    ],
)
def test_cpu_chunks_hold_about_two_to_the_sixteen_numbers(
    batch: tuple[int, ...], event: tuple[int, ...], n: int
) -> None:
    p = RecordingZeros(batch, event)
    res = mc_kl(p, p, n, estimator="k1")
    chunk = max(1, CPU_BUDGET // (math.prod(batch) * math.prod(event)))
    assert p.sizes == _sizes(n, chunk)
    assert bool(np.all(np.asarray(res.value) == 0.0))  # p = q: every term is 0


class RecordingNormal(Normal):
    """A torch Normal that records the sample shapes it is asked for."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.shapes: list[tuple[int, ...]] = []

    def sample(self, sample_shape: Any = torch.Size()) -> torch.Tensor:  # noqa: B008
        self.shapes.append(tuple(sample_shape))
        return super().sample(sample_shape)


def test_torch_chunks_use_the_budget_of_p_device(device: torch.device) -> None:
    p = RecordingNormal(torch.zeros(1024, dtype=torch.float64, device=device), 1.0)
    mc_kl(p, Normal(torch.zeros(1024, dtype=torch.float64, device=device), 1.0), 200, seed=0)
    budget = CPU_BUDGET if device.type == "cpu" else GPU_BUDGET
    assert [s[0] for s in p.shapes] == _sizes(200, min(200, budget // 1024))
