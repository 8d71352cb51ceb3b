"""``python -m models.realnvp``: RealNVP on toy 2-D densities or MNIST (see :mod:`.realnvp`).

Trains with Adam and a cosine-decayed learning rate over ``--epochs`` (every
full batch of a fresh permutation per epoch), checkpointing after each epoch;
``--resume`` continues. Writes ``report.json``/``report.md``, ``checkpoint.pt``
and PNG plots in ``--out``.
"""

from __future__ import annotations

import math
import sys
import time
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from klmath import mc_kl
from models.data import load_dataset, require
from models.flows.realnvp import (
    TOY_DATASETS,
    FlowDensity,
    RealNVP,
    make_masks,
    mnist_log_prob_bits,
    toy_density,
)
from models.flows.realnvp_plots import plot_losses, plot_mnist_samples, plot_toy
from models.kit import (
    Checkpoint,
    Stopwatch,
    TrainState,
    check_positive,
    command_line,
    model_parser,
    pick_device,
    prepare_out,
    seed_everything,
    set_threads,
    train,
    write_record,
    write_report,
)

NAME = "realnvp"
# toy and MNIST defaults of the options left at None
DEFAULTS = {
    "layers": (8, 6), "epochs": (40, 3), "hidden": (64, 256), "batch_size": (256, 256),
    "lr": (3e-3, 1e-3),
}  # fmt: skip
# Options that do not change the weights (a resume may change them).
_FREE = {"n_test", "n_kl", "device", "threads", "data_root", "out", "resume", "quiet", "record"}


def build_parser() -> Any:
    p = model_parser(
        NAME, "RealNVP with arbitrary-mask affine couplings on toy 2-D densities or MNIST.",
        epochs=None, batch_size=None, lr=None, threads=1,
        epochs_help="epochs (default 40 toy, 3 mnist)", batch_help="batch size (default 256)",
        out_help="output folder (default: results/realnvp_DATASET)",
        lr_help="Adam learning rate, cosine-decayed (default 3e-3 toy, 1e-3 mnist)",
    )  # fmt: skip
    own = p.add_argument_group("RealNVP options")
    own.add_argument("--dataset", default="moons", choices=[*TOY_DATASETS, "mnist"])
    own.add_argument("--layers", type=int, default=None, help="couplings (8 toy, 6 mnist)")
    own.add_argument("--masks", default="checkerboard", choices=["checkerboard", "random"])
    own.add_argument("--hidden", type=int, default=None, help="hidden width (64 toy, 256 mnist)")
    own.add_argument("--batch", dest="batch_size", type=int, help=argparse_suppress())
    own.add_argument("--clamp", type=float, default=3.0, help="soft clamp of s (0: none)")
    own.add_argument("--n-train", type=int, default=10_000, help="toy training points")
    own.add_argument("--n-test", type=int, default=20_000, help="toy test points")
    own.add_argument("--n-kl", type=int, default=100_000, help="draws of p for mc_kl")
    return p


def argparse_suppress() -> str:
    import argparse

    return argparse.SUPPRESS


def parse_args(argv: list[str] | None = None) -> Any:
    args = build_parser().parse_args(argv)
    mnist = args.dataset == "mnist"
    for key, (toy, big) in DEFAULTS.items():
        if getattr(args, key) is None:
            setattr(args, key, big if mnist else toy)
    args.clamp = args.clamp or None
    if args.out == build_parser().get_default("out"):
        args.out = args.out.parent / f"realnvp_{args.dataset}"
    return args


def _fit(
    args: Any, flow: RealNVP, x: Tensor, gen: torch.Generator, loss_fn: Any, device: Any
) -> tuple[TrainState, float]:
    """Adam with cosine-decayed rate, every full batch of a fresh permutation per epoch."""
    per_epoch = x.shape[0] // args.batch_size
    opt = torch.optim.Adam(flow.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs * per_epoch)
    state = TrainState(
        modules={"flow": flow}, optimizers={"adam": opt}, schedulers={"cosine": sched},
        generators={"gen": gen}, extra={"losses": []},
    )  # fmt: skip

    def run_epoch(epoch: int) -> dict[str, float]:
        flow.train()
        perm = torch.randperm(x.shape[0], generator=gen)
        losses = []
        for i in range(0, per_epoch * args.batch_size, args.batch_size):
            loss = loss_fn(x[perm[i : i + args.batch_size]].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(flow.parameters(), 100.0)
            opt.step()
            sched.step()
            losses.append(loss.item())
        state.extra["losses"] += losses
        return {"loss": float(np.mean(losses))}

    config = {k: v for k, v in vars(args).items() if k not in _FREE}
    ckpt = Checkpoint(args.out / "checkpoint.pt", model=NAME, config=config)
    t0 = time.perf_counter()
    train(
        state, run_epoch, epochs=args.epochs, checkpoint=ckpt, resume=args.resume,
        map_location=device, progress=not args.quiet, desc=f"realnvp {args.dataset}",
    )  # fmt: skip
    flow.eval()
    return state, time.perf_counter() - t0


def run_toy(args: Any, device: torch.device, gen: torch.Generator) -> tuple[dict, list[str]]:
    true = toy_density(args.dataset)
    rng = np.random.default_rng(args.seed)
    x_train = torch.tensor(true.sample(args.n_train, rng), dtype=torch.float32)
    x_test = true.sample(args.n_test, rng)
    flow = RealNVP(make_masks(2, args.layers, args.masks, gen), args.hidden, args.clamp)
    flow = flow.to(device)
    state, seconds = _fit(args, flow, x_train, gen, lambda b: -flow.log_prob(b).mean(), device)
    with torch.no_grad():
        lq = flow.log_prob(torch.tensor(x_test, dtype=torch.float32, device=device))
        lq = lq.double().cpu().numpy()
    lp = true.log_prob(x_test)
    nll = -lq.mean()
    # k1 (the plain mean of log p - log q), not k3: a flow has mass everywhere, also where
    # p has almost none, which biases k3 (mc_kl warns) and gives it heavy tails.
    kl = mc_kl(true, FlowDensity(flow, device), args.n_kl, estimator="k1", seed=args.seed)
    plots = [
        plot_toy(flow, true, x_test, device, gen, args.out / f"realnvp_{args.dataset}.png"),
        plot_losses(state.extra["losses"], "NLL (nats)", args.out / "loss.png"),
    ]
    return {
        "test_nll_nats": float(nll),
        "test_nll_stderr": float(lq.std(ddof=1) / math.sqrt(len(lq))),
        "true_entropy_nats": float(-lp.mean()),
        "kl_p_q": {
            "value": float(kl.value),
            "stderr": float(kl.stderr),
            "n": args.n_kl,
            "estimator": "k1",
            "check_nll_minus_entropy_on_test": float(nll + lp.mean()),
        },
        "train_seconds": seconds,
        "steps": len(state.extra["losses"]),
        "final_train_loss": state.extra["losses"][-1],
    }, plots


def run_mnist(args: Any, device: torch.device, gen: torch.Generator) -> tuple[dict, list[str]]:
    train_x = torch.tensor(load_dataset("mnist", "train", args.data_root)[0], dtype=torch.float32)
    test_x = torch.tensor(load_dataset("mnist", "test", args.data_root)[0], dtype=torch.float32)
    train_x, test_x = train_x.reshape(-1, 784), test_x.reshape(-1, 784)
    flow = RealNVP(make_masks(784, args.layers, args.masks, gen), args.hidden, args.clamp)
    flow = flow.to(device)
    state, seconds = _fit(
        args, flow, train_x, gen, lambda b: mnist_log_prob_bits(flow, b, gen).mean(), device
    )
    test_gen = torch.Generator().manual_seed(args.seed + 1)
    with torch.no_grad():
        bpd = torch.cat(
            [
                mnist_log_prob_bits(flow, test_x[i : i + 1000].to(device), test_gen).cpu()
                for i in range(0, test_x.shape[0], 1000)
            ]
        ).double()
    plots = [
        plot_mnist_samples(flow, gen, args.out / "realnvp_mnist_samples.png"),
        plot_losses(state.extra["losses"], "bits/dim (train batch)", args.out / "loss.png"),
    ]
    return {
        "test_bits_per_dim": float(bpd.mean()),
        "test_bits_per_dim_stderr": float(bpd.std() / math.sqrt(len(bpd))),
        "dequantisation": "uniform, one fixed-seed draw per test image (upper bound, Jensen)",
        "train_seconds": seconds,
        "steps": len(state.extra["losses"]),
        "final_train_bits_per_dim": state.extra["losses"][-1],
    }, plots


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Train and evaluate; return the report (also written to --out)."""
    args = parse_args(argv)
    clock = Stopwatch()
    check_positive(args, "epochs", "batch_size", "lr", "layers", "hidden", "n_train", "n_kl")
    device = pick_device(args.device)
    # One CPU thread by default: on a shared 2-core machine two threads ran 17x (toy) to
    # 40x (MNIST) slower per step than one, spinning on each other.
    set_threads(args.threads)
    if args.dataset == "mnist":
        require(("mnist",), args.data_root)
    prepare_out(args.out)
    gen = seed_everything(args.seed)
    results, plots = (run_mnist if args.dataset == "mnist" else run_toy)(args, device, gen)
    report = write_report(
        args.out, model=NAME, command=command_line(NAME, argv), config=vars(args),
        results=results, plots=plots, device=device, stopwatch=clock,
    )  # fmt: skip
    if args.record is not None:
        write_record(args.record or f"realnvp_{args.dataset}", report["results"], report)
    keys = ("test_nll_nats", "kl_p_q", "test_bits_per_dim")
    print({**{k: report["results"][k] for k in keys if k in results},
           "seconds": report["metadata"]["seconds"]})  # fmt: skip
    return report


if __name__ == "__main__":  # pragma: no cover
    from models.kit import run_cli

    sys.exit(run_cli(main))
