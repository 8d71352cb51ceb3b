r"""``python -m models.flow1d``: train the 1-D flow of seed problem 2 and report how close it gets.

Two models, side by side:

* ``seed``: the flow as the problem states it. Its range is :math:`(-S/2, S/2)`,
  :math:`S = \sum e^{w_i}`, so its density has mass :math:`2\Phi(S/2) - 1 < 1`.
* ``fixed``: the same flow plus a linear tail term :math:`e^{a}x` (``a`` learned),
  a bijection of ℝ whose density integrates to 1.

For every model and seed the report gives the final NLL (train and held-out),
:math:`KL(p_{data} \| p_\theta)` by ``scipy.integrate.quad`` with its error
estimate, the mass by quadrature and in closed form, and the parameters; then the
mean and spread of the KL over the seeds. Plots (first seed): learned vs true
density, :math:`f_\theta`, the histogram of :math:`z = f_\theta(X)` over
:math:`N(0,1)`, and samples :math:`f_\theta^{-1}(Z)` over the data histogram, with
the number of draws :math:`Z` that have no preimage. Each (model, seed) run keeps
its own checkpoint, ``checkpoint-MODEL-seedN.pt``; ``--resume`` continues them.

Usage::

    python -m models.flow1d                                  # both models, 5 seeds
    python -m models.flow1d --out DIR --fixed --seeds 1      # only the bijective model
"""

from __future__ import annotations

import math
import sys
import time
from typing import Any

import torch

from models.flows.flow1d import DATA_MEANS, DATA_STD, DATA_WEIGHTS, epoch_fn, init_flow, sample_data
from models.flows.flow1d_eval import QUAD, data_entropy, evaluate, sample_flow, summary
from models.flows.flow1d_plots import plot_flow, print_table
from models.kit import (
    Checkpoint,
    Stopwatch,
    TrainState,
    UserError,
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

NAME = "flow1d"
# Options that do not change a run's weights (a resume may change them).
_FREE = {"epochs", "seeds", "n_draws", "device", "threads", "data_root", "out", "resume", "quiet"}


def build_parser() -> Any:
    parser = model_parser(
        NAME,
        "Train the 1-D flow of seed problem 2 and report how close it gets.",
        epochs=50,
        batch_size=4000,
        lr=5e-2,
        threads=1,
        uses_data=False,
    )
    own = parser.add_argument_group("1-D flow options")
    own.add_argument("--seeds", type=int, default=5, help="number of seeds, from --seed on")
    own.add_argument("--n-components", type=int, default=5)
    own.add_argument("--n-samples", type=int, default=20000, help="training set size")
    own.add_argument("--n-test", type=int, default=10000, help="held-out set size")
    own.add_argument("--n-draws", type=int, default=20000, help="Z draws for sampling")
    own.add_argument("--init", choices=["quantile", "random"], default="quantile")
    own.add_argument(
        "--tail-slope", type=float, default=1e-3, help="initial e^a of the fixed model's tail"
    )
    group = own.add_mutually_exclusive_group()
    group.add_argument("--model", choices=["seed", "fixed", "both"], default="both")
    group.add_argument("--fixed", dest="model", action="store_const", const="fixed")
    group.add_argument("--both", dest="model", action="store_const", const="both")
    return parser


def _one_run(args: Any, variant: str, seed: int, device: torch.device) -> dict[str, Any]:
    # deterministic=False only skips torch.use_deterministic_algorithms (whose import
    # of torch._dynamo costs seconds); this model has no nondeterministic kernels.
    gen = seed_everything(seed, deterministic=False)
    data = sample_data(args.n_samples, gen)
    test = sample_data(args.n_test, gen)
    flow = init_flow(
        data, args.n_components, fixed=variant == "fixed", init=args.init, generator=gen,
        device=device, tail_slope=args.tail_slope,
    )  # fmt: skip
    data, test = data.to(device), test.to(device)
    state, run_epoch = epoch_fn(
        flow, data, TrainState(), lr=args.lr, batch_size=args.batch_size, generator=gen
    )
    config = {k: v for k, v in vars(args).items() if k not in _FREE and k != "record"}
    ckpt = Checkpoint(
        args.out / f"checkpoint-{variant}-seed{seed}.pt",
        model=NAME,
        config={**config, "model": variant, "seed": seed},
    )
    t0 = time.perf_counter()
    train(
        state, run_epoch, epochs=args.epochs, checkpoint=ckpt,
        resume=args.resume and ckpt.path.exists(), map_location=device,
        progress=not args.quiet, desc=f"flow1d {variant} seed {seed}",
    )  # fmt: skip
    seconds = time.perf_counter() - t0
    with torch.no_grad():
        train_nll, test_nll = (float(-flow.log_prob(x).mean()) for x in (data, test))
    ev = evaluate(flow)
    samples = sample_flow(flow, args.n_draws, gen)
    run = {
        "seed": seed,
        "train_nll": train_nll,
        "test_nll": test_nll,
        "train_seconds": seconds,
        "nll_per_epoch": [h["nll"] for h in state.history],
        **ev,
        "sampling": {k: v for k, v in samples.items() if k != "x"},
    }
    if seed == args.seed:
        run["plot"] = plot_flow(
            args.out / f"flow1d_{variant}.png", flow, data, samples,
            f"{variant} model, seed {seed}: KL = {ev['kl_nats']:.4g} nats, "
            f"mass = {ev['mass_closed_form']:.6f}",
        )  # fmt: skip
    return run


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Train both models over the seeds; return the report (also written to --out)."""
    args = build_parser().parse_args(argv)
    clock = Stopwatch()
    check_positive(args, "epochs", "batch_size", "lr", "seeds", "n_components", "n_samples")
    device = pick_device(args.device)
    set_threads(args.threads)
    out = prepare_out(args.out)
    variants = ["seed", "fixed"] if args.model == "both" else [args.model]
    seeds = list(range(args.seed, args.seed + args.seeds))
    if args.resume and not any(out.glob("checkpoint-*-seed*.pt")):
        raise UserError(f"--resume: no checkpoint-*.pt in {out}; run without --resume")
    results: dict[str, Any] = {
        "setup": {
            "data": {"means": DATA_MEANS, "std": DATA_STD, "weights": DATA_WEIGHTS},
            "optimizer": "Adam",
            "steps": args.epochs * math.ceil(args.n_samples / args.batch_size),
            "seeds": seeds,
            "dtype": "float64",
            "quad": QUAD,
        },
        "models": {},
    }
    plots = []
    for variant in variants:
        runs = [_one_run(args, variant, seed, device) for seed in seeds]
        plots.append(runs[0].pop("plot"))
        kls = [r["kl_nats"] for r in runs]
        results["models"][variant] = {
            "kl_nats": summary(kls),
            "kl_target_0.01_met_by_all_seeds": bool(max(kls) <= 0.01),
            "test_nll": summary([r["test_nll"] for r in runs]),
            "mass_closed_form": summary([r["mass_closed_form"] for r in runs]),
            "missing_mass_closed_form": summary([r["missing_mass_closed_form"] for r in runs]),
            "max_missing_mass_abs_diff": max(r["missing_mass_abs_diff"] for r in runs),
            "max_kl_quad_error": max(r["kl_quad_error"] for r in runs),
            "runs": runs,
        }
    results["data_entropy_nats"] = data_entropy()
    report = write_report(
        out, model=NAME, command=command_line(NAME, argv), config=vars(args), results=results,
        plots=plots, device=device, stopwatch=clock,
    )  # fmt: skip
    if args.record is not None:
        write_record(args.record or NAME, _headline(report["results"]), report)
    print_table(report["results"], report["metadata"])
    return report


def _headline(results: dict[str, Any]) -> dict[str, Any]:
    """The record: per model the summaries, the first seed's masses and per-seed facts."""
    out: dict[str, Any] = {"data_entropy_nats": results["data_entropy_nats"]}
    for variant, m in results["models"].items():
        first = m["runs"][0]
        out[variant] = {
            **{k: v for k, v in m.items() if k != "runs"},
            "first_seed": {
                k: first[k]
                for k in (
                    "mass_closed_form",
                    "mass_quad",
                    "missing_mass_closed_form",
                    "missing_mass_abs_diff",
                )
            },
            "per_seed": {
                "seed": [r["seed"] for r in m["runs"]],
                "kl_nats": [r["kl_nats"] for r in m["runs"]],
                "n_no_preimage": [r["sampling"]["n_no_preimage"] for r in m["runs"]],
                "tail_log_slope_a": [r["parameters"].get("a") for r in m["runs"]],
            },
        }
    return out


if __name__ == "__main__":  # pragma: no cover
    from models.kit import run_cli

    sys.exit(run_cli(main))
