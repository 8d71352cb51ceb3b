"""KL penalties for policy optimisation (PPO, GRPO), with what each one's gradient is.

RL fine-tuning samples tokens y ~ q_θ (the policy) and penalises its divergence from
a reference p with a per-token estimate built from ℓ = log q_θ(y) − log p(y)
(Schulman 2020; :mod:`klmath.montecarlo` is the same three estimators from p's side):

======  ===========  ===================  ===================  ==========================
kind    per token    E_q[value]           E ∇ as loss          E ∇ as reward (REINFORCE)
======  ===========  ===================  ===================  ==========================
``k1``  ℓ            KL(q ‖ p), unbiased  **0**                ∇ KL(q ‖ p)
``k2``  ½ ℓ²         ½ E_q[ℓ²], biased    ∇ KL(q ‖ p)          ∇ ½E_q[ℓ²] − ∇ KL(q ‖ p)
``k3``  p/q − 1 + ℓ  KL(q ‖ p), unbiased  ∇ KL(p ‖ q) forward  ∇ KL(q ‖ p) − ∇ KL(p ‖ q)
======  ===========  ===================  ===================  ==========================

"∇ as loss" is the expectation over y ~ q_θ of the autograd gradient of the value at
fixed samples (the samples themselves are not differentiated); "∇ as reward" is the
expectation of value · ∇ log q_θ(y), the score-function gradient a policy-gradient
method takes when the value is a (detached) reward. Every cell is a proof step of
:func:`klmath.proofs.kl_penalty_expectations` (softmax policies over any number
K ≥ 2 of categories, K, logits and reference symbolic), whose last step evaluates this
function on softmax policies against every cell at 50 digits; it is also checked with autograd
in ``tests/test_penalty.py`` (exact enumeration over categories; Gaussian policies
by Gauss–Hermite quadrature). k3 is unbiased only when p has no mass outside q's
support (E_q[p/q] = ∫_{q>0} p = 1).
"""

from __future__ import annotations

from typing import Any

__all__ = ["PENALTY_KINDS", "kl_penalty"]

#: The estimator names :func:`kl_penalty` accepts.
PENALTY_KINDS: tuple[str, ...] = ("k1", "k2", "k3")
_MODES = ("reward", "loss")
_REDUCTIONS = ("mean", "sequence", "token", "none")


def kl_penalty(
    logq: Any,
    logp: Any,
    *,
    kind: str = "k3",
    mode: str = "loss",
    mask: Any = None,
    reduction: str = "mean",
) -> Any:
    """Return the per-token KL penalty of a policy q against a reference p, reduced.

    Parameters
    ----------
    logq : torch.Tensor, shape (..., T)
        log q_θ(yₜ) of the sampled tokens under the policy (differentiable).
    logp : torch.Tensor, same shape
        log p(yₜ) under the reference. Always detached: the reference is fixed.
    kind : {"k3", "k1", "k2"}
        The per-token estimator of KL(q ‖ p); see the module table for what each
        returns in expectation and what its gradient is.
    mode : {"loss", "reward"}
        ``"loss"``: differentiable through ``logq`` (add β·penalty to the loss).
        ``"reward"``: detached (subtract β·penalty from the reward).
    mask : torch.Tensor of bool or 0/1, same shape, optional
        Which tokens count (padding and prompt tokens excluded). Default: all.
    reduction : {"mean", "sequence", "token", "none"}
        ``"none"``: per-token values, 0 where masked. ``"sequence"``: masked mean over
        the last axis, shape ``(...)``. ``"mean"`` (GRPO): the mean over sequences of
        those per-sequence means. ``"token"`` (DAPO): sum over all unmasked tokens
        divided by their number.

    Returns
    -------
    torch.Tensor
        In ``logq``'s dtype and device.

    Raises
    ------
    TypeError
        If ``logq`` or ``logp`` is not a floating torch tensor, or ``mask`` not a tensor.
    ValueError
        On an unknown ``kind``, ``mode`` or ``reduction``, mismatched shapes, a 0-d
        input, NaN inputs, an infinite ``logq`` or a ``logp`` of +inf (``logp`` = −inf,
        a token the reference rules out, gives an infinite penalty), or (for
        ``"sequence"``/``"mean"``) a sequence whose mask
        selects no token, or (``"token"``) an empty mask.

    Notes
    -----
    k3 = p/q − 1 + ℓ = e^{−ℓ} − 1 + ℓ is evaluated with :func:`klmath.montecarlo.estimator_terms`
    (a series for |ℓ| < ¼, where ``expm1(−ℓ) + ℓ`` would lose all digits), so it is ≥ 0
    per token in every dtype. With ``logp = -inf`` (the reference forbids a sampled
    token) k1 and k3 are ``+inf``: KL(q ‖ p) is infinite.

    Examples
    --------
    >>> import torch
    >>> logits = torch.zeros(3, requires_grad=True)
    >>> logq = torch.log_softmax(logits, 0)[torch.tensor([[0, 1, 2, 2]])]   # one sequence
    >>> logp = torch.log(torch.tensor([[0.5, 0.25, 0.25, 0.25]]))
    >>> loss = kl_penalty(logq, logp, kind="k3", mode="loss")
    >>> loss.backward()
    >>> logits.grad.shape
    torch.Size([3])
    """
    import torch

    from klmath.montecarlo import estimator_terms

    if kind not in PENALTY_KINDS:
        raise ValueError(f"kind must be one of {PENALTY_KINDS}, got {kind!r}")
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    for name, value in (("logq", logq), ("logp", logp)):
        if not isinstance(value, torch.Tensor) or not value.is_floating_point():
            raise TypeError(
                f"{name} must be a floating-point torch.Tensor, got {type(value).__name__}"
                + (f" of dtype {value.dtype}" if isinstance(value, torch.Tensor) else "")
            )
    if logq.shape != logp.shape:
        raise ValueError(
            f"logq and logp must have the same shape, got {tuple(logq.shape)} and "
            f"{tuple(logp.shape)}"
        )
    if logq.ndim == 0:
        raise ValueError("logq must have a token axis (shape (..., T)), got a 0-d tensor")
    if bool(torch.isnan(logq).any()) or bool(torch.isnan(logp).any()):
        raise ValueError("logq and logp must not contain NaN")
    # A token drawn from q has q > 0: log q is finite. log p may be −inf (the reference
    # rules the token out: an infinite penalty), never +inf.
    if not bool(torch.isfinite(logq).all()):
        bad = torch.nonzero(~torch.isfinite(logq))[0].tolist()
        raise ValueError(
            f"logq must be finite (the log-probability of a token drawn from q), got "
            f"{logq[tuple(bad)].item()} at index {tuple(bad)}"
        )
    if bool((logp == float("inf")).any()):
        bad = torch.nonzero(logp == float("inf"))[0].tolist()
        raise ValueError(f"logp must not be +inf, got it at index {tuple(bad)}")
    if mask is not None:
        if not isinstance(mask, torch.Tensor):
            raise TypeError(f"mask must be a torch.Tensor or None, got {type(mask).__name__}")
        if mask.shape != logq.shape:
            raise ValueError(
                f"mask must have the shape of logq {tuple(logq.shape)}, got {tuple(mask.shape)}"
            )
        mask = mask.to(device=logq.device, dtype=torch.bool)

    # The estimators of klmath.montecarlo take t = log(p/q) for draws of q: k1 = −t = ℓ,
    # k2 = t²/2, k3 = e^t − 1 − t.
    t = logp.detach().to(logq.dtype) - logq
    if mode == "reward":
        t = t.detach()
    terms = estimator_terms(t, kind)
    if mask is not None:
        terms = torch.where(mask, terms, torch.zeros((), dtype=terms.dtype, device=terms.device))
    if reduction == "none":
        return terms
    count = (
        mask.sum(-1) if mask is not None else torch.full(terms.shape[:-1], terms.shape[-1])
    ).to(terms.device)
    if reduction == "token":
        total = int(count.sum())
        if total == 0:
            raise ValueError("mask selects no token")
        return terms.sum() / total
    if bool((count == 0).any()):
        first = tuple(int(i) for i in torch.nonzero(count == 0)[0])
        raise ValueError(f"mask selects no token in sequence {first}: its mean is undefined")
    per_sequence = terms.sum(-1) / count.to(terms.dtype)
    return per_sequence if reduction == "sequence" else per_sequence.mean()
