"""Training the linear-Gaussian VAE on its exact ELBO, and the report of all its checks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from models.kit import Checkpoint, TrainState, UserError, train
from models.kit.plotting import pyplot, save
from models.vae.linear import LinearGaussianVAE, sample_ppca_data
from models.vae.linear_checks import compare_with_ppca, random_identity_check, run_lemma_check

__all__ = ["LinearTrainResult", "run_linear", "train_linear_vae"]

LBFGS_ROUND = 100  # L-BFGS iterations per round (one "epoch" of the polish)


@dataclass
class LinearTrainResult:
    """A trained linear VAE and its per-step training curves (mean over data)."""

    model: LinearGaussianVAE
    elbo: list[float]
    log_prob: list[float]
    gap: list[float]


def train_linear_vae(
    x: Tensor,
    K: int,
    *,
    full_cov: bool = True,
    steps: int = 300,
    lr: float = 0.05,
    batch_size: int | None = None,
    polish_steps: int = 1500,
    seed: int = 0,
    progress: bool = False,
    checkpoint: Checkpoint | None = None,
    resume: bool = False,
    threads: int | None = 1,
) -> LinearTrainResult:
    """Maximise the mean exact ELBO: ``steps`` epochs of Adam, then L-BFGS.

    Adam (cosine-decayed learning rate; full batch unless ``batch_size`` is smaller
    than the data) does the bulk of the climb; L-BFGS, in rounds of 100 iterations up
    to ``polish_steps`` in all, takes the optimum to near machine precision, so the
    comparison with PPCA measures the mathematics and not the optimiser's stopping
    point. The diagonal encoder needs the long polish: its ELBO fixes the rotation of
    W (it makes Wᵀ W diagonal) only through a weakly curved direction. Curves record
    mean ELBO, mean log p_θ(x) and their difference at every Adam step and every
    L-BFGS function evaluation. Each Adam epoch and each L-BFGS round is an epoch of
    :func:`models.kit.train`, checkpointed to ``checkpoint``. The tensors are tiny:
    with more than ``threads`` (default 1) CPU threads the time goes to thread
    synchronisation (measured 5-10x slower with 2 on a busy 2-core machine).
    """
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return _train(
            x, K, full_cov, steps, lr, batch_size, polish_steps, seed, progress, checkpoint, resume
        )
    finally:
        torch.set_num_threads(previous)


def _train(
    x: Tensor,
    K: int,
    full_cov: bool,
    steps: int,
    lr: float,
    batch_size: int | None,
    polish_steps: int,
    seed: int,
    progress: bool,
    checkpoint: Checkpoint | None,
    resume: bool,
) -> LinearTrainResult:
    n, D = x.shape
    model = LinearGaussianVAE(D, K, full_cov=full_cov, seed=seed).to(x.device)
    batch = n if batch_size is None or batch_size >= n else batch_size
    per_epoch = -(-n // batch)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps * per_epoch)
    lbfgs = torch.optim.LBFGS(
        model.parameters(), lr=1.0, max_iter=LBFGS_ROUND, history_size=50,
        tolerance_grad=1e-14, tolerance_change=1e-16, line_search_fn="strong_wolfe",
    )  # fmt: skip
    gen = torch.Generator().manual_seed(seed)
    state = TrainState(
        modules={"vae": model}, optimizers={"adam": opt, "lbfgs": lbfgs},
        schedulers={"cosine": sched}, generators={"batches": gen},
        extra={"curves": {"elbo": [], "log_prob": [], "gap": []}, "done": 0, "best": None},
    )  # fmt: skip

    def record(e: Tensor) -> None:
        curves = state.extra["curves"]  # looked up each time: a resume replaces it
        with torch.no_grad():
            lp = model.log_prob(x).mean().item()
        curves["elbo"].append(e.item())
        curves["log_prob"].append(lp)
        curves["gap"].append(lp - e.item())

    def adam_step(xb: Tensor) -> None:
        opt.zero_grad()
        e = model.elbo(xb).mean()
        (-e).backward()
        opt.step()
        sched.step()
        record(model.elbo(x).mean().detach() if xb is not x else e.detach())

    def closure() -> Tensor:
        lbfgs.zero_grad()
        e = model.elbo(x).mean()
        (-e).backward()
        record(e.detach())
        return -e

    def run_epoch(epoch: int) -> dict[str, float]:
        if epoch < steps:
            if batch == n:
                adam_step(x)
            else:
                for idx in torch.randperm(n, generator=gen).split(batch):
                    adam_step(x[idx.to(x.device)])
            return {"elbo": state.extra["curves"]["elbo"][-1]}
        curves = state.extra["curves"]
        if state.extra["best"] is None:
            state.extra["best"] = curves["elbo"][-1]
        before = lbfgs.state[lbfgs._params[0]].get("n_iter", 0)
        lbfgs.step(closure)
        state.extra["done"] += max(lbfgs.state[lbfgs._params[0]]["n_iter"] - before, 1)
        now = max(curves["elbo"][-LBFGS_ROUND:])
        state.extra["converged"] = now <= state.extra["best"]  # a round without progress
        state.extra["best"] = max(now, state.extra["best"])
        return {"elbo": curves["elbo"][-1]}

    def should_stop(s: TrainState) -> bool:
        return s.epoch > steps and (s.extra["converged"] or s.extra["done"] >= polish_steps)

    train(
        state, run_epoch, epochs=steps + polish_steps, checkpoint=checkpoint, resume=resume,
        map_location=x.device, progress=progress, save_every=50, should_stop=should_stop,
        desc=f"linear VAE, {'full' if full_cov else 'diagonal'} S",
    )  # fmt: skip
    curves = state.extra["curves"]
    return LinearTrainResult(model, curves["elbo"], curves["log_prob"], curves["gap"])


def run_linear(args: Any, device: torch.device) -> tuple[dict[str, Any], list[str]]:
    """Every linear-Gaussian experiment; returns (results, plot file names).

    1. the identity log p = ELBO + KL(q ‖ posterior) on 200 random models;
    2. gradient ascent on the exact ELBO for ``--n`` synthetic PPCA points (D, K), with
       a full and a diagonal encoder covariance, compared with closed-form PPCA (each
       model checkpointed in ``--out``; ``--resume`` continues);
    3. the argmax lemma on a discretised 1-D model (:func:`run_lemma_check`).
    """
    n, D, K, seed = args.n, args.D, args.K, args.seed
    if args.resume and not any(args.out.glob("checkpoint-*.pt")):
        raise UserError(f"--resume: no checkpoint-*.pt in {args.out}; run without --resume")
    identity = random_identity_check(args.n_models, seed=seed)
    x, truth = sample_ppca_data(n, D, K, sigma2=0.1, seed=seed)
    x = x.to(device)
    results: dict[str, LinearTrainResult] = {}
    training: dict[str, Any] = {}
    keys = ("seed", "n", "D", "K", "lr", "batch_size", "epochs", "polish_steps")
    config = {k: getattr(args, k) for k in keys}
    for name, full in (("full", True), ("diagonal", False)):
        ckpt = Checkpoint(
            args.out / f"checkpoint-{name}.pt", model="vae_linear", config={**config, "S": name}
        )
        res = train_linear_vae(
            x, K, full_cov=full, steps=args.epochs, lr=args.lr, batch_size=args.batch_size,
            polish_steps=args.polish_steps, seed=seed, progress=not args.quiet, checkpoint=ckpt,
            resume=args.resume and ckpt.path.exists(), threads=args.threads,
        )  # fmt: skip
        results[name] = res
        training[name] = {
            **compare_with_ppca(res.model, x),
            "steps_adam": args.epochs,
            "evaluations_lbfgs": len(res.elbo) - args.epochs,
            "max_elbo_minus_log_prob_over_training": max(
                e - lp for e, lp in zip(res.elbo, res.log_prob, strict=True)
            ),
        }
    lemma = run_lemma_check(seed=seed)
    out = {
        "identity_random_models": identity,
        "training": {
            "data": {"n": n, "D": D, "K": K, "true_sigma2": float(truth["sigma2"])},
            "optimizer": f"Adam lr {args.lr:g} (cosine) for {args.epochs} epochs, then L-BFGS "
            f"to convergence (at most {args.polish_steps} iterations)",
            **training,
        },
        "argmax_lemma": {k: v for k, v in lemma.items() if not k.startswith("_")},
    }
    return out, [plot_linear(results, lemma, args.out / "linear_vae.png")]


def plot_linear(curves: dict[str, LinearTrainResult], lemma: dict[str, Any], path: Path) -> str:
    plt = pyplot()
    fig, ax = plt.subplots(1, 3, figsize=(14, 3.8))
    for (name, res), color in zip(curves.items(), ["C0", "C1"], strict=False):
        steps = np.arange(1, len(res.elbo) + 1)
        ax[0].plot(steps, res.log_prob, color=color, label=f"log p(x), {name} S")
        ax[0].plot(steps, res.elbo, color=color, ls="--", label=f"ELBO, {name} S")
        gap = np.maximum(np.asarray(res.gap), 1e-17)
        ax[1].semilogy(steps, gap, color=color, label=f"{name} S")
    lo = min(min(r.elbo[len(r.elbo) // 20 :]) for r in curves.values())
    hi = max(max(r.log_prob) for r in curves.values())
    ax[0].set_ylim(lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo))
    ax[0].set(
        xlabel="step (Adam, then L-BFGS)",
        ylabel="mean nats per point",
        title="ELBO ≤ log p(x) during training",
    )
    ax[0].legend(fontsize=7)
    ax[1].set(
        xlabel="step", ylabel="log p(x) − ELBO = KL(q ‖ p(z|x))", title="the gap (floored at 1e-17)"
    )
    ax[1].legend(fontsize=7)
    d = lemma["_plot"]
    ax[2].plot(d["w"], d["f"], "k-", lw=2, label="f(w) = Σ log p_w(x)")
    ax[2].plot(d["w"], d["max_g_posterior"], "C0--", label="max_φ g, posterior in grid")
    ax[2].plot(d["w"], d["max_g_removed"], "C1:", label="max_φ g, posterior removed")
    ax[2].plot(d["w"], d["max_g_collapsed"], "C3-.", label="max_φ g, collapsed q = N(0, τ²)")
    top = float(np.max(d["f"]))
    ax[2].set_ylim(float(np.max(d["max_g_collapsed"])) - 40, top + 15)
    ax[2].set(xlabel="w", ylabel="nats", title="argmax lemma on a grid")
    ax[2].legend(fontsize=7)
    fig.tight_layout()
    return save(fig, path)
