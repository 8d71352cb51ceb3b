"""mc_kl converts every log density to float64 on p's device before forming log r.

Log densities may come in float32 (a float32 torch p and q) or bfloat16 (a q scored in
half precision, as a network might), and q's may live on another device or library
than p's; the log-ratio, and so the result, is float64 in p's array kind and on p's
device, and equals the average computed here in float64 from the same draws.
(On the CPU every device is the same one; ``pytest --device cuda`` tests the moves.)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import scipy.stats
import torch
from torch.distributions import Normal

from klmath import mc_kl

N, SEED = 2000, 3


def _torch_draws(p: Any, n: int, seed: int) -> torch.Tensor:
    """The draws mc_kl makes of a torch p with this seed, in one chunk."""
    cuda = [torch.cuda.current_device()] if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(seed)  # seeds the CPU and every CUDA generator, as mc_kl does
        return p.sample((n,))


class HalfPrecisionNormal:
    """q = N(μ, 1) scored in bfloat16, as a torch tensor on ``device``."""

    event_shape = ()
    batch_shape = ()

    def __init__(self, mu: float, device: Any) -> None:
        self.mu, self.device = mu, device

    def log_prob(self, x: Any) -> torch.Tensor:
        x = torch.as_tensor(x, device=self.device)
        lp = -0.5 * (x - self.mu) ** 2 - 0.5 * np.log(2 * np.pi)
        return lp.to(torch.bfloat16)


@pytest.mark.parametrize("estimator", ["k1", "k3"])
def test_float32_log_densities_are_averaged_in_float64(estimator: str) -> None:
    p = Normal(torch.zeros(3), 1.0)  # float32
    q = Normal(torch.full((3,), 0.5), 0.9)  # narrower q: r bounded, light tails
    res = mc_kl(p, q, N, estimator=estimator, seed=SEED, chunk_size=N)
    assert res.value.dtype == torch.float64 and res.stderr.dtype == torch.float64
    x = _torch_draws(p, N, SEED)
    log_r = q.log_prob(x).double() - p.log_prob(x).double()
    terms = -log_r if estimator == "k1" else torch.expm1(log_r) - log_r
    torch.testing.assert_close(res.value, terms.mean(0), rtol=1e-12, atol=0.0)
    torch.testing.assert_close(res.stderr, terms.std(0) / N**0.5, rtol=1e-9, atol=0.0)


def test_a_bfloat16_q_scores_a_scipy_p_in_float64() -> None:
    p, q = scipy.stats.norm(), HalfPrecisionNormal(0.5, "cpu")
    res = mc_kl(p, q, N, estimator="k1", seed=SEED, chunk_size=N)
    assert type(res.value) is np.float64
    x = p.rvs(size=N, random_state=np.random.default_rng(SEED))
    log_r = q.log_prob(x).double().numpy() - p.logpdf(x)
    assert res.value == pytest.approx(float(np.mean(-log_r)), rel=1e-12)


@pytest.mark.parametrize("q_kind", ["scipy", "bfloat16-on-cpu"])
def test_the_result_is_on_p_device_whatever_q_returns(q_kind: str, device: torch.device) -> None:
    # q scores p's draws on the CPU (scipy: NumPy; a protocol q: a CPU tensor): mc_kl moves
    # q's log densities to p's device before subtracting.
    p = Normal(torch.zeros(2, dtype=torch.float64, device=device), 1.0)
    q: Any = scipy.stats.norm(0.5, 1.0) if q_kind == "scipy" else HalfPrecisionNormal(0.5, "cpu")
    res = mc_kl(p, q, N, estimator="k1", seed=SEED, chunk_size=N)
    assert res.value.device == p.loc.device and res.value.dtype == torch.float64
    x = _torch_draws(p, N, SEED)
    x_cpu = x.cpu()
    lq = torch.as_tensor(q.logpdf(x_cpu.numpy())) if q_kind == "scipy" else q.log_prob(x_cpu)
    expected = -(lq.double().to(device) - p.log_prob(x)).mean(0)
    torch.testing.assert_close(res.value, expected, rtol=1e-12, atol=0.0)
