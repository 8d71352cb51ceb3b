r"""The 1-D normalizing flow of seed problem 2, its data, and one training run.

The flow :math:`f_\theta(x) = \sum_{i=1}^n e^{w_i}(\Phi((x-\mu_i)/e^{\tau_i}) - \frac12)`
with base :math:`N(0, 1)` is fitted by maximum likelihood (Adam) to samples of
the mixture :math:`\frac14 N(-1, .25^2) + \frac14 N(.2, .25^2) + \frac12 N(1.5, .25^2)`.
``fixed=True`` adds the linear tail term :math:`e^{a}x` (``a`` learned), a
bijection of ℝ whose density integrates to 1.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from klmath.flow1d import flow1d_log_prob
from models.kit import TrainState

__all__ = [
    "DATA_MEANS",
    "DATA_STD",
    "DATA_WEIGHTS",
    "Flow1d",
    "data_log_pdf",
    "epoch_fn",
    "init_flow",
    "sample_data",
]

DATA_MEANS = (-1.0, 0.2, 1.5)
DATA_STD = 0.25
DATA_WEIGHTS = (0.25, 0.25, 0.5)
_MEANS = np.array(DATA_MEANS)
_LOG_WEIGHTS = np.log(np.array(DATA_WEIGHTS))


def sample_data(n: int, generator: torch.Generator) -> torch.Tensor:
    """Draw ``n`` points (float64) from the three-Gaussian data mixture."""
    comp = torch.multinomial(
        torch.tensor(DATA_WEIGHTS, dtype=torch.float64), n, replacement=True, generator=generator
    )
    eps = torch.randn(n, generator=generator, dtype=torch.float64)
    return torch.tensor(DATA_MEANS, dtype=torch.float64)[comp] + DATA_STD * eps


def data_log_pdf(x: np.ndarray) -> np.ndarray:
    """Log-density of the data mixture, by logsumexp (finite far into the tails)."""
    x = np.asarray(x, dtype=np.float64)[..., None]
    z = (x - _MEANS) / DATA_STD
    log_terms = _LOG_WEIGHTS - 0.5 * z * z - math.log(DATA_STD * math.sqrt(2 * math.pi))
    # logsumexp by hand: scipy's costs ~1 ms per call, and quad calls this ~1000 times
    top = log_terms.max(axis=-1, keepdims=True)
    return (top + np.log(np.exp(log_terms - top).sum(axis=-1, keepdims=True)))[..., 0]


class Flow1d(nn.Module):
    """Trainable parameters of the flow (float64); ``a`` is None for the seed model."""

    def __init__(
        self, w: torch.Tensor, mu: torch.Tensor, tau: torch.Tensor, a: torch.Tensor | None
    ) -> None:
        super().__init__()
        self.w, self.mu, self.tau = nn.Parameter(w), nn.Parameter(mu), nn.Parameter(tau)
        self.a = nn.Parameter(a) if a is not None else None

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        return flow1d_log_prob(x, self.w, self.mu, self.tau, a=self.a)

    def numpy(self) -> dict[str, np.ndarray]:
        out = {"w": self.w, "mu": self.mu, "tau": self.tau}
        if self.a is not None:
            out["a"] = self.a
        return {k: v.detach().cpu().numpy().astype(np.float64) for k, v in out.items()}


def init_flow(
    data: torch.Tensor,
    n: int,
    *,
    fixed: bool,
    init: str,
    generator: torch.Generator,
    device: torch.device,
    tail_slope: float = 1e-3,
) -> Flow1d:
    """Initial parameters.

    ``quantile`` (default): μ at the n evenly spaced quantiles of the training data,
    σ = data std / 2, and e^{w_i} = 6/n so the range (−3, 3) covers the bulk of N(0,1)
    from the start. ``random``: μ ~ N(0, 1), τ = 0, w = 0 (S = n), the usual starter-code
    choice. The fixed model starts its tail slope at e^a = ``tail_slope``.
    """
    if init == "quantile":
        probs = (torch.arange(n, dtype=torch.float64) + 0.5) / n
        mu = torch.quantile(data, probs)
        tau = torch.full((n,), math.log(float(data.std()) / 2), dtype=torch.float64)
        w = torch.full((n,), math.log(6.0 / n), dtype=torch.float64)
    elif init == "random":
        mu = torch.randn(n, generator=generator, dtype=torch.float64)
        tau = torch.zeros(n, dtype=torch.float64)
        w = torch.zeros(n, dtype=torch.float64)
    else:
        raise ValueError(f"init must be 'quantile' or 'random'; got {init!r}")
    a = torch.tensor(math.log(tail_slope), dtype=torch.float64) if fixed else None
    return Flow1d(w, mu, tau, a).to(device)


def epoch_fn(
    flow: Flow1d,
    data: torch.Tensor,
    state: TrainState,
    *,
    lr: float,
    batch_size: int,
    generator: torch.Generator,
) -> tuple[TrainState, object]:
    """A state (flow, Adam, generator) and the function training one epoch of it.

    Each epoch draws a permutation from ``generator`` and takes one Adam step per
    batch on the mean negative log-likelihood; it returns the epoch's mean NLL.
    """
    opt = torch.optim.Adam(flow.parameters(), lr=lr)
    state.modules["flow"], state.optimizers["adam"] = flow, opt
    state.generators["batches"] = generator
    device = flow.w.device

    def run_epoch(epoch: int) -> dict[str, float]:
        perm = torch.randperm(len(data), generator=generator).to(device)
        total = 0.0
        for batch in perm.split(batch_size):
            loss = -flow.log_prob(data[batch]).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item() * len(batch)
        return {"nll": total / len(data)}

    return state, run_epoch
