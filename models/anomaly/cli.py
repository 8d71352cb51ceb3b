"""``python -m models.autoencoder``: the seed's anomaly detection, MNIST vs KMNIST/Fashion-MNIST.

The seed's procedure (problem 1), step by step:

1. Split MNIST train (60,000) into *training* (50,000) and *validation*
   (10,000) with a seeded permutation. Training never sees the validation set.
   A held-out slice of the *training* part (2,000 by default) picks the best
   epoch; the validation set only sets the threshold.
2. Encoder E and decoder D: by default a fully connected 784-256-128-256-784
   network (ReLU, sigmoid output); ``--arch conv`` gives a small conv AE.
3. Loss ℓ = Σᵢ ‖Xᵢ − D(E(Xᵢ))‖² (summed over the images of a batch and their
   784 pixels, pixels scaled to [0, 1]), minimised with Adam.
4. Score s(X) = ‖X − D(E(X))‖².
5. Threshold = mean + k·std of the validation scores (std with ddof = 1; k = 3).
6. Type I error = fraction of MNIST test images with s > threshold.
7. Type II error = fraction of KMNIST test images with s ≤ threshold.

Beside these: AUROC and average precision (MNIST test vs KMNIST test, and vs
Fashion-MNIST test), Cantelli's distribution-free bound for the k-σ rule
(type I ≤ 1/(1 + k²)), and the split-conformal validation quantile for a target
type I error α (``--alpha``).

Writes ``report.json``/``report.md``, ``scores.npz`` (all scores and the split
indices), ``model.pt``, ``checkpoint.pt`` (every epoch; ``--resume`` continues from
it) and PNG plots into ``--out``.
"""

from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np

from models.anomaly.detector import AutoencoderDetector
from models.anomaly.networks import ARCHITECTURES
from models.anomaly.plots import plot_results
from models.data import dataset_checksums, load_dataset, require, split_indices
from models.kit import (
    Stopwatch,
    check_positive,
    command_line,
    model_parser,
    pick_device,
    prepare_out,
    set_threads,
    write_record,
    write_report,
)
from models.kit.detection import check_alpha, detection_report

NAME = "autoencoder"
DATASETS = ("mnist", "kmnist", "fashion-mnist")


def build_parser() -> Any:
    p = model_parser(
        NAME,
        "Autoencoder anomaly detection: MNIST normal, KMNIST/Fashion-MNIST anomalies.",
        epochs=10,
        batch_size=128,
        lr=2e-3,
        threads=1,
    )
    own = p.add_argument_group("autoencoder options")
    own.add_argument("--k", type=float, default=3.0, help="threshold = mean + k std")
    own.add_argument("--alpha", type=float, default=0.01, help="type I target of the quantile")
    own.add_argument("--arch", choices=sorted(ARCHITECTURES), default="mlp")
    own.add_argument("--latent-dim", type=int, default=128)
    own.add_argument("--hidden", type=int, default=256)
    own.add_argument("--n-validation", type=int, default=10_000, help="validation images")
    own.add_argument("--n-train", type=int, default=None, help="default: 60000 - n_validation")
    own.add_argument("--holdout", type=int, default=2000, help="training images for selection")
    own.add_argument("--n-test", type=int, default=None, help="use only the first N test images")
    own.add_argument("--no-plots", action="store_true")
    return p


def _grid(det: AutoencoderDetector, images: np.ndarray, s: np.ndarray, per_side: int = 8) -> Any:
    order = np.argsort(s, kind="stable")
    pick = np.r_[order[:per_side], order[-per_side:]]
    return images[pick].astype(np.float32) / 255, det.reconstruct(images[pick]), s[pick]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the seed's procedure end to end; return the report (also written to --out)."""
    args = build_parser().parse_args(argv)
    clock = Stopwatch()
    check_positive(args, "epochs", "batch_size", "lr", "k", "alpha", "latent_dim", "hidden")
    device = pick_device(args.device)
    check_alpha(args.alpha, args.n_validation)
    set_threads(args.threads)
    require(DATASETS, args.data_root)
    out = prepare_out(args.out)
    root = args.data_root
    x_mnist, _ = load_dataset("mnist", "train", root)
    tests = {
        "mnist_test": load_dataset("mnist", "test", root)[0][: args.n_test],
        "kmnist_test": load_dataset("kmnist", "test", root)[0][: args.n_test],
        "fashion_test": load_dataset("fashion-mnist", "test", root)[0][: args.n_test],
    }
    train_rows, val_rows = split_indices(
        x_mnist.shape[0], args.n_validation, args.seed, args.n_train
    )
    det = AutoencoderDetector(
        arch=args.arch,
        latent_dim=args.latent_dim,
        hidden=args.hidden,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        holdout=args.holdout,
        k=args.k,
        device=str(device),
        seed=args.seed,
    )
    ckpt = det.checkpoint(
        out / "checkpoint.pt", n_validation=args.n_validation, n_train=args.n_train
    )
    t_fit = time.perf_counter()
    det.fit(x_mnist[train_rows], checkpoint=ckpt, resume=args.resume, progress=not args.quiet)
    fit_seconds = time.perf_counter() - t_fit
    det.calibrate(x_mnist[val_rows])
    assert det.train_index_ is not None and det.holdout_index_ is not None  # set by fit
    scores = {
        "validation": np.asarray(det.decision_scores_),
        **{k: det.decision_function(v) for k, v in tests.items()},
    }
    det.save(out / "model.pt")
    np.savez(
        out / "scores.npz",
        **scores,
        validation_rows=val_rows,
        fit_rows=train_rows[det.train_index_],
        holdout_rows=train_rows[det.holdout_index_],
    )
    results = detection_report(scores, k=args.k, alpha=args.alpha)
    plots: list[str] = []
    if not args.no_plots:
        grids = {key: _grid(det, tests[key], scores[key]) for key in ("mnist_test", "kmnist_test")}
        plots = plot_results(out, scores, results, grids)
    results.update(
        {
            "sizes": {
                "mnist_train_total": int(x_mnist.shape[0]),
                "train": int(train_rows.size),
                "train_fit": int(det.train_index_.size),
                "train_holdout": int(det.holdout_index_.size),
                "validation": int(val_rows.size),
                **{k: int(v.shape[0]) for k, v in tests.items()},
            },
            "epochs": det.epochs_done_,
            "best_epoch": det.best_epoch_,
            "parameters": sum(p.numel() for p in det.model.parameters()),
            "fit_seconds": fit_seconds,
            "data": {
                f"{n}/{s}": dataset_checksums(n, s, root)
                for n, s in (("mnist", "train"), *((n, "test") for n in DATASETS))
            },
        }
    )
    report = write_report(
        out,
        model=NAME,
        command=command_line(NAME, argv),
        config=vars(args),
        results=results,
        history=det.history_,
        plots=plots,
        device=device,
        stopwatch=clock,
    )
    if args.record is not None:
        headline = {k: v for k, v in report["results"].items() if k != "data"}
        write_record(args.record or NAME, headline, report)
    r, fashion, meta = report["results"], report["results"]["fashion"], report["metadata"]
    print(
        f"type I {r['type_i_error']:.4f} (Cantelli bound {r['cantelli_type_i_bound']:.2f}), "
        f"type II {r['type_ii_error']:.4f}, AUROC {r['auroc']:.5f}, "
        f"AP {r['average_precision']:.5f}; Fashion-MNIST type II "
        f"{fashion['type_ii_error']:.4f}, AUROC {fashion['auroc']:.5f}; "
        f"{meta['seconds']:.1f} s ({meta['cpu_seconds']:.1f} s CPU) -> {out / 'report.json'}"
    )
    return report


if __name__ == "__main__":  # pragma: no cover - python -m models.anomaly.cli
    from models.kit import run_cli

    sys.exit(run_cli(main))
