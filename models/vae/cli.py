"""``python -m models.vae``: the MNIST VAE (default) or the exact linear-Gaussian VAE (--linear).

Defaults differ by model: MNIST 2 epochs, batch 128, lr 1e-3; linear 300 epochs
of full-batch Adam (one step each), lr 0.05, then L-BFGS. Writes ``report.json``/
``report.md``, checkpoints and PNG plots in ``--out`` (``results/vae_mnist`` or
``results/vae_linear``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from models.data import require
from models.kit import (
    Stopwatch,
    check_positive,
    command_line,
    model_parser,
    pick_device,
    prepare_out,
    seed_everything,
    set_threads,
    write_record,
    write_report,
)
from models.kit.detection import check_alpha

NAME = "vae"
DEFAULTS = {"epochs": (2, 300), "batch_size": (128, None), "lr": (1e-3, 0.05)}  # (mnist, linear)


def build_parser() -> Any:
    p = model_parser(
        NAME, "VAE on binarised MNIST (default) or the exact linear-Gaussian VAE (--linear).",
        epochs=None, batch_size=None, lr=None, threads=1,
        epochs_help="epochs (default 2 MNIST; 300 linear: full-batch Adam steps)",
        batch_help="batch size (default 128 MNIST; all points for the linear VAE)",
        out_help="output folder (default: results/vae_mnist, or results/vae_linear)",
        lr_help="Adam learning rate (default 1e-3 MNIST, 0.05 linear)",
    )  # fmt: skip
    p.add_argument("--linear", action="store_true", help="run the exact linear-Gaussian VAE")
    mn = p.add_argument_group("MNIST VAE options")
    mn.add_argument("--latent-dim", type=int, default=32)
    mn.add_argument("--iwae-k", type=int, default=5000, help="importance samples")
    mn.add_argument("--iwae-subset", type=int, default=100, help="first N test images for L_k")
    mn.add_argument("--score-samples", type=int, default=4, help="z draws per ELBO score")
    mn.add_argument("--n-train", type=int, default=None, help="cut the training set (smoke)")
    mn.add_argument("--n-validation", type=int, default=10000, help="validation images")
    mn.add_argument("--n-test", type=int, default=None, help="cut the test sets (smoke)")
    mn.add_argument("--k", type=float, default=3.0, help="anomaly threshold = mean + k std")
    mn.add_argument("--alpha", type=float, default=0.01, help="type I target of the quantile")
    mn.add_argument(
        "--ae-report", type=Path, default=None, help="autoencoder report.json to quote beside"
    )
    lin = p.add_argument_group("linear VAE options (--linear)")
    lin.add_argument("--n", type=int, default=500, help="synthetic PPCA points")
    lin.add_argument("--D", type=int, default=8, help="data dimension")
    lin.add_argument("--K", type=int, default=3, help="latent dimension")
    lin.add_argument("--polish-steps", type=int, default=1500, help="L-BFGS iterations at most")
    lin.add_argument("--n-models", type=int, default=200, help="random models, identity check")
    return p


def parse_args(argv: list[str] | None = None) -> Any:
    parser = build_parser()
    args = parser.parse_args(argv)
    for key, (mnist, linear) in DEFAULTS.items():
        if getattr(args, key) is None:
            setattr(args, key, linear if args.linear else mnist)
    if args.out == parser.get_default("out"):
        args.out = Path("results") / ("vae_linear" if args.linear else "vae_mnist")
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Train and evaluate the chosen VAE; return the report (also written to --out)."""
    args = parse_args(argv)
    clock = Stopwatch()
    check_positive(args, "epochs", "batch_size", "lr", "latent_dim", "iwae_k", "k", "alpha")
    device = pick_device(args.device)
    if not args.linear:
        check_alpha(args.alpha, args.n_validation)
    set_threads(args.threads)
    if not args.linear:
        require(("mnist", "kmnist"), args.data_root)
    prepare_out(args.out)
    seed_everything(args.seed)
    history: list = []
    if args.linear:
        from models.vae.linear_run import run_linear

        model, record = "vae_linear", "vae_linear"
        results, plots = run_linear(args, device)
    else:
        from models.vae.mnist import run_mnist

        model, record = "vae", "vae_mnist"
        results, plots, history = run_mnist(args, device)
    report = write_report(
        args.out, model=model, command=command_line(NAME, argv), config=vars(args),
        results=results, history=history, plots=plots, device=device, stopwatch=clock,
    )  # fmt: skip
    if args.record is not None:
        write_record(args.record or record, report["results"], report)
    r = report["results"]
    if args.linear:
        t, ident = r["training"]["full"], r["identity_random_models"]
        print(
            f"identity max error {ident['max_abs_error_logp_minus_elbo_minus_kl']:.2e}; "
            f"full-S VAE vs PPCA rel. error of C {t['rel_frobenius_error_C']:.2e}, "
            f"gap {t['mean_gap_kl']:.1e} nats -> {args.out / 'report.json'}"
        )
    else:
        print(
            f"test −ELBO {r['test_nll_elbo']['nats']:.2f} nats; −L_{args.iwae_k} "
            f"{r['iw_bound']['nats']:.2f} nats ({r['iw_bound']['bits_per_dim']:.4f} bits/dim) on "
            f"{r['iw_bound']['n_images']} images; anomaly AUROC {r['anomaly']['auroc']:.4f} "
            f"-> {args.out / 'report.json'}"
        )
    return report


if __name__ == "__main__":  # pragma: no cover
    from models.kit import run_cli

    sys.exit(run_cli(main))
