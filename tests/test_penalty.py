"""kl_penalty: values and gradients in expectation, checked with autograd.

Expectations over y ~ q are computed exactly: by enumerating the K categories of a
softmax policy, or by 80-node Gauss–Hermite quadrature for a Gaussian policy (the
nodes are draws y = μ + σz with the draw itself not differentiated, as in RL). The
targets are autograd gradients of closed forms written out here, never klmath.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from klmath import kl_penalty

F64 = torch.float64


def softmax_case(seed: int, k: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    theta = torch.randn(k, generator=gen, dtype=F64).requires_grad_()
    logp = torch.log_softmax(torch.randn(k, generator=gen, dtype=F64), 0)
    return theta, logp


def expected_loss_grad(theta: torch.Tensor, logp: torch.Tensor, kind: str) -> torch.Tensor:
    """Σᵢ qᵢ ∇θ k(ℓᵢ): every category as a one-token sequence, weights detached."""
    logq = torch.log_softmax(theta, 0)
    terms = kl_penalty(logq[:, None], logp[:, None], kind=kind, mode="loss", reduction="none")
    (grad,) = torch.autograd.grad((logq.exp().detach() * terms[:, 0]).sum(), theta)
    return grad


def expected_reward_grad(theta: torch.Tensor, logp: torch.Tensor, kind: str) -> torch.Tensor:
    """Σᵢ qᵢ k(ℓᵢ) ∇θ log qᵢ (REINFORCE with the penalty as a detached reward)."""
    logq = torch.log_softmax(theta, 0)
    reward = kl_penalty(logq[:, None], logp[:, None], kind=kind, mode="reward", reduction="none")
    assert not reward.requires_grad
    (grad,) = torch.autograd.grad((logq.exp().detach() * reward[:, 0] * logq).sum(), theta)
    return grad


def kls(theta: torch.Tensor, logp: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    logq = torch.log_softmax(theta, 0)
    q, p = logq.exp(), logp.exp()
    return (q * (logq - logp)).sum(), (p * (logp - logq)).sum()


def grad_of(f: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    (g,) = torch.autograd.grad(f, theta)
    return g


TOL = dict(rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_discrete_values_in_expectation(seed: int) -> None:
    theta, logp = softmax_case(seed)
    logq = torch.log_softmax(theta, 0).detach()
    q = logq.exp()
    kl_qp, _ = kls(theta.detach(), logp)
    values = {
        k: (q * kl_penalty(logq[:, None], logp[:, None], kind=k, reduction="none")[:, 0]).sum()
        for k in ("k1", "k2", "k3")
    }
    torch.testing.assert_close(values["k1"], kl_qp, **TOL)
    torch.testing.assert_close(values["k3"], kl_qp, **TOL)
    half_square = (q * (logq - logp) ** 2).sum() / 2
    torch.testing.assert_close(values["k2"], half_square, **TOL)
    assert abs(float(values["k2"] - kl_qp)) > 1e-6  # k2 is biased


@pytest.mark.parametrize("seed", range(4))
def test_discrete_loss_gradients(seed: int) -> None:
    theta, logp = softmax_case(seed)
    kl_qp, kl_pq = kls(theta, logp)
    g_qp = grad_of(kl_qp, theta)
    _, kl_pq = kls(theta, logp)
    g_pq = grad_of(kl_pq, theta)
    torch.testing.assert_close(
        expected_loss_grad(theta, logp, "k1"), torch.zeros(5, dtype=F64), **TOL
    )
    torch.testing.assert_close(expected_loss_grad(theta, logp, "k2"), g_qp, **TOL)
    torch.testing.assert_close(expected_loss_grad(theta, logp, "k3"), g_pq, **TOL)
    # ... and k3's is not the reverse-KL gradient (a frequent bug).
    assert float((expected_loss_grad(theta, logp, "k3") - g_qp).abs().max()) > 1e-4


@pytest.mark.parametrize("seed", range(4))
def test_discrete_reward_gradients(seed: int) -> None:
    theta, logp = softmax_case(seed)
    g_qp = grad_of(kls(theta, logp)[0], theta)
    g_pq = grad_of(kls(theta, logp)[1], theta)
    logq = torch.log_softmax(theta, 0)
    g_half_square = grad_of((logq.exp() * (logq - logp) ** 2).sum() / 2, theta)
    torch.testing.assert_close(expected_reward_grad(theta, logp, "k1"), g_qp, **TOL)
    torch.testing.assert_close(expected_reward_grad(theta, logp, "k2"), g_half_square - g_qp, **TOL)
    torch.testing.assert_close(expected_reward_grad(theta, logp, "k3"), g_qp - g_pq, **TOL)


def normal_kl(m0: torch.Tensor, s0: torch.Tensor, m1: float, s1: float) -> torch.Tensor:
    """KL(N(m0, s0²) ‖ N(m1, s1²)) written out (torch, differentiable)."""
    s1t = torch.as_tensor(s1, dtype=F64)
    return torch.log(s1t / s0) + (s0**2 + (m0 - m1) ** 2) / (2 * s1t**2) - 0.5


def normal_kl_rev(m0: torch.Tensor, s0: torch.Tensor, m1: float, s1: float) -> torch.Tensor:
    """KL(N(m1, s1²) ‖ N(m0, s0²)) written out."""
    return torch.log(s0 / s1) + (s1**2 + (m1 - m0) ** 2) / (2 * s0**2) - 0.5


@pytest.mark.parametrize(("m", "s"), [(0.3, 0.9), (-0.5, 1.1), (0.0, 1.0)])
def test_gaussian_policy_by_quadrature(m: float, s: float) -> None:
    # q = N(μ, σ²) with θ = (μ, log σ) at (0.2, log 0.8); reference p = N(m, s²).
    mu = torch.tensor(0.2, dtype=F64, requires_grad=True)
    log_sigma = torch.tensor(math.log(0.8), dtype=F64, requires_grad=True)
    nodes, weights = np.polynomial.hermite_e.hermegauss(80)
    z = torch.tensor(nodes, dtype=F64)
    w = torch.tensor(weights / math.sqrt(2 * math.pi), dtype=F64)
    sigma = log_sigma.exp()
    y = (mu + sigma * z).detach()  # draws of q: not differentiated
    logq = torch.distributions.Normal(mu, sigma).log_prob(y)
    logp = torch.distributions.Normal(torch.tensor(m, dtype=F64), s).log_prob(y)
    params = (mu, log_sigma)

    def expect_grad(f: torch.Tensor) -> torch.Tensor:
        return torch.stack(torch.autograd.grad((w * f).sum(), params, retain_graph=True))

    kl_qp = normal_kl(mu, sigma, m, s)
    kl_pq = normal_kl_rev(mu, sigma, m, s)
    g_qp = torch.stack(torch.autograd.grad(kl_qp, params, retain_graph=True))
    g_pq = torch.stack(torch.autograd.grad(kl_pq, params, retain_graph=True))
    tol = dict(rtol=1e-9, atol=1e-11)
    for kind in ("k1", "k3"):
        value = (
            w * kl_penalty(logq[:, None], logp[:, None], kind=kind, reduction="none")[:, 0]
        ).sum()
        torch.testing.assert_close(value, kl_qp.detach(), **tol)
    loss = {
        k: kl_penalty(logq[:, None], logp[:, None], kind=k, reduction="none")[:, 0]
        for k in ("k1", "k2", "k3")
    }
    torch.testing.assert_close(expect_grad(loss["k1"]), torch.zeros(2, dtype=F64), **tol)
    torch.testing.assert_close(expect_grad(loss["k2"]), g_qp, **tol)
    torch.testing.assert_close(expect_grad(loss["k3"]), g_pq, **tol)
    reward = kl_penalty(logq[:, None], logp[:, None], kind="k3", mode="reward", reduction="none")[
        :, 0
    ]
    torch.testing.assert_close(expect_grad(reward * logq), g_qp - g_pq, **tol)


def test_reductions_and_mask() -> None:
    gen = torch.Generator().manual_seed(0)
    logq = torch.randn(3, 6, generator=gen, dtype=F64).requires_grad_()
    logp = torch.randn(3, 6, generator=gen, dtype=F64)
    mask = torch.tensor(
        [[1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 1], [0, 1, 0, 1, 0, 0]], dtype=torch.bool
    )
    per_token = (logq - logp).detach()  # k1
    seq = torch.stack([per_token[i][mask[i]].mean() for i in range(3)])
    out = kl_penalty(logq, logp, kind="k1", mask=mask, reduction="sequence")
    torch.testing.assert_close(out, seq)
    torch.testing.assert_close(kl_penalty(logq, logp, kind="k1", mask=mask), seq.mean())
    torch.testing.assert_close(
        kl_penalty(logq, logp, kind="k1", mask=mask, reduction="token"), per_token[mask].mean()
    )
    none = kl_penalty(logq, logp, kind="k1", mask=mask, reduction="none")
    assert bool((none[~mask] == 0).all())
    # Masked tokens get no gradient.
    kl_penalty(logq, logp, kind="k3", mask=mask).backward()
    assert logq.grad is not None and bool((logq.grad[~mask] == 0).all())
    assert bool((logq.grad[mask] != 0).all())


@settings(max_examples=50, deadline=None)
@given(
    st.floats(-1e-3, 1e-3, allow_subnormal=False), st.sampled_from([torch.float32, torch.float64])
)
def test_k3_nonnegative_and_accurate_for_tiny_ratios(ell: float, dtype: torch.dtype) -> None:
    logq = torch.tensor([[ell]], dtype=dtype)
    got = kl_penalty(logq, torch.zeros_like(logq), kind="k3", reduction="none")
    digits = 60 + (int(-2 * math.log10(abs(float(logq)))) if float(logq) else 0)
    with mpmath.workdps(digits):  # e^{−ℓ} − 1 + ℓ of the exact input, past the cancellation
        x = mpmath.mpf(float(logq))
        exact = float(mpmath.expm1(-x) + x)
    assert float(got) >= 0.0
    assert float(got) == pytest.approx(
        exact, rel=8 * float(torch.finfo(dtype).eps), abs=float(torch.finfo(dtype).tiny)
    )


BAD = [
    pytest.param({"kind": "k4"}, ValueError, r"kind must be one of .*'k4'", id="kind"),
    pytest.param({"mode": "grad"}, ValueError, r"mode must be one of .*'grad'", id="mode"),
    pytest.param({"reduction": "sum"}, ValueError, r"reduction must be one of", id="reduction"),
    pytest.param(
        {"logp": torch.zeros(2, 4)},
        ValueError,
        r"same shape, got \(2, 3\) and \(2, 4\)",
        id="shapes",
    ),
    pytest.param(
        {"logq": [0.0]},
        TypeError,
        r"logq must be a floating-point torch.Tensor, got list",
        id="list",
    ),
    pytest.param(
        {"logq": torch.zeros(2, 3, dtype=torch.long)}, TypeError, r"dtype torch.int64", id="int"
    ),
    pytest.param(
        {"logp": torch.full((2, 3), math.nan)}, ValueError, r"must not contain NaN", id="nan"
    ),
    pytest.param(
        {"mask": torch.ones(3, 2)},
        ValueError,
        r"mask must have the shape of logq \(2, 3\)",
        id="mask-shape",
    ),
    pytest.param(
        {"mask": [[1, 1, 1]] * 2}, TypeError, r"mask must be a torch.Tensor", id="mask-list"
    ),
    pytest.param(
        {"mask": torch.tensor([[1, 1, 1], [0, 0, 0]])},
        ValueError,
        r"no token in sequence \(1,\)",
        id="empty-seq",
    ),
    pytest.param(
        {"mask": torch.zeros(2, 3), "reduction": "token"},
        ValueError,
        r"mask selects no token",
        id="empty-mask",
    ),
    pytest.param(
        {"logq": torch.tensor(0.0), "logp": torch.tensor(0.0)}, ValueError, r"token axis", id="0-d"
    ),
]


@pytest.mark.parametrize(("kwargs", "error", "match"), BAD)
def test_bad_input(kwargs: dict, error: type, match: str) -> None:
    args = {"logq": torch.zeros(2, 3), "logp": torch.zeros(2, 3)} | kwargs
    with pytest.raises(error, match=match):
        kl_penalty(args.pop("logq"), args.pop("logp"), **args)


def test_forbidden_token_gives_infinite_penalty() -> None:
    logq = torch.tensor([[-1.0, -2.0]])
    logp = torch.tensor([[-1.0, -math.inf]])
    for kind in ("k1", "k3"):
        out = kl_penalty(logq, logp, kind=kind, reduction="none")
        assert out[0, 0] == 0 and out[0, 1] == math.inf
