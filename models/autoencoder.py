"""Autoencoder anomaly detection, MNIST (normal) vs KMNIST and Fashion-MNIST (anomalies).

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
5. Threshold = mean + 3·std of the validation scores (std with ddof = 1).
6. Type I error = fraction of MNIST test images with s > threshold.
7. Type II error = fraction of KMNIST test images with s ≤ threshold.

Beside these: AUROC and average precision (MNIST test vs KMNIST test, and vs
Fashion-MNIST test), Cantelli's distribution-free bound for the 3-σ rule
(type I ≤ 1/(1 + 3²) = 10 %), and an alternative threshold, the split-conformal
validation quantile for a target type I error α (``--alpha``).

Run::

    python -m models.autoencoder --epochs 10 --out results/autoencoder

It writes ``report.json``, ``scores.npz`` (all scores and the split indices),
``model.pt``, ``checkpoint.pt`` (every epoch; ``--resume`` continues from it) and
PNG plots into ``--out``.
"""

from __future__ import annotations

import argparse
import copy
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from models._autoencoder_plots import plot_results
from models._common import pick_device, run_metadata, seed_everything, write_json
from models.anomaly import (
    auroc,
    average_precision,
    cantelli_bound,
    error_rates,
    quantile_threshold,
    sigma_threshold,
)
from models.data import add_data_root_argument, dataset_checksums, load_dataset

__all__ = [
    "AutoencoderDetector",
    "ConvAutoencoder",
    "DenseAutoencoder",
    "build_report",
    "main",
    "split_indices",
]

IMAGE_SHAPE = (28, 28)
N_PIXELS = 28 * 28


class DenseAutoencoder(nn.Module):
    """Fully connected autoencoder 784 → hidden → latent → hidden → 784.

    Input and output: (N, 28, 28) float in [0, 1] (sigmoid output).
    """

    def __init__(self, latent_dim: int = 128, hidden: int = 256) -> None:
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Flatten(), nn.Linear(N_PIXELS, hidden), nn.ReLU(), nn.Linear(hidden, latent_dim)
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, hidden),
            nn.ReLU(),
            nn.Linear(hidden, N_PIXELS),
            nn.Sigmoid(),
            nn.Unflatten(1, IMAGE_SHAPE),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


class ConvAutoencoder(nn.Module):
    """Small conv autoencoder: two stride-2 convolutions (28 → 14 → 7), a linear bottleneck.

    Input and output: (N, 28, 28) float in [0, 1] (sigmoid output).
    """

    def __init__(self, latent_dim: int = 16, hidden: int = 32) -> None:
        super().__init__()
        c1, c2 = hidden // 2, hidden
        self.encoder = nn.Sequential(
            nn.Flatten(1),
            nn.Unflatten(1, (1, *IMAGE_SHAPE)),
            nn.Conv2d(1, c1, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(c1, c2, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(c2 * 49, latent_dim),
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, c2 * 49),
            nn.ReLU(),
            nn.Unflatten(1, (c2, 7, 7)),
            nn.ConvTranspose2d(c2, c1, 4, stride=2, padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(c1, 1, 4, stride=2, padding=1),
            nn.Sigmoid(),
            nn.Flatten(1, 2),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


ARCHITECTURES: dict[str, type[nn.Module]] = {"mlp": DenseAutoencoder, "conv": ConvAutoencoder}


def _as_images(X: object, name: str = "X") -> torch.Tensor:
    """(N, 28, 28) or (N, 784) uint8 (scaled by 1/255) or float in [0, 1] -> float32 (N, 28, 28)."""
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    a = np.asarray(X)
    if a.ndim == 2 and a.shape[1] == N_PIXELS:
        a = a.reshape(-1, *IMAGE_SHAPE)
    if a.ndim != 3 or a.shape[1:] != IMAGE_SHAPE:
        raise ValueError(f"{name} must have shape (N, 28, 28) or (N, 784), got {a.shape}")
    if a.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one image, got shape {a.shape}")
    if a.dtype == np.uint8:
        return torch.from_numpy(a.astype(np.float32) / np.float32(255))
    if not np.issubdtype(a.dtype, np.floating):
        raise TypeError(f"{name} must be uint8 (0..255) or float (0..1), got dtype {a.dtype}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or infinite pixels")
    if a.min() < 0.0 or a.max() > 1.0:
        raise ValueError(
            f"{name}: float pixels must be in [0, 1], got [{a.min()}, {a.max()}] "
            "(pass uint8 images, or divide by 255)"
        )
    return torch.from_numpy(a.astype(np.float32))


class AutoencoderDetector:
    """Anomaly detector scoring inputs by their autoencoder reconstruction error.

    PyOD-like interface: :meth:`fit` trains on normal data, :meth:`calibrate`
    sets the threshold from a separate validation set, :meth:`decision_function`
    returns s(X) = ‖X − D(E(X))‖² (higher = more anomalous), :meth:`predict`
    returns 1 for s > ``threshold_``.

    Parameters
    ----------
    arch : {"mlp", "conv"}
        Fully connected (default) or small convolutional autoencoder.
    latent_dim, hidden : int
        Bottleneck width and hidden width (channels for ``conv``).
    epochs, batch_size, lr : training length, batch size, Adam learning rate.
    holdout : int
        Images of the training data kept out of the gradient steps; the epoch
        with the smallest mean score on them is kept (model selection). 0 keeps
        the last epoch.
    k : float
        Threshold = mean + k·std of the calibration scores (3 in the seed).
    device : str, optional
        CUDA when available, else CPU.
    seed : int
        Seeds initialisation, batch order and hold-out split; on the CPU two fits
        with the same seed give bit-identical weights.

    Attributes
    ----------
    threshold_ : float
        Mean + k·std (ddof = 1) of the calibration scores (of the training scores
        until :meth:`calibrate` is called).
    decision_scores_ : numpy.ndarray
        Scores of the data the threshold was computed from.
    history_ : list of dict
        Per epoch: mean training score ("loss", Σ/N) and mean hold-out score.
    train_index_, holdout_index_ : numpy.ndarray
        Rows of the ``fit`` data used for gradient steps and for model selection.
    """

    def __init__(
        self,
        *,
        arch: str = "mlp",
        latent_dim: int = 128,
        hidden: int = 256,
        epochs: int = 10,
        batch_size: int = 128,
        lr: float = 2e-3,
        holdout: int = 2000,
        k: float = 3.0,
        device: str | None = None,
        seed: int = 0,
    ) -> None:
        if arch not in ARCHITECTURES:
            raise ValueError(f"arch must be one of {sorted(ARCHITECTURES)}, got {arch!r}")
        for name, value in (("latent_dim", latent_dim), ("hidden", hidden), ("epochs", epochs)):
            if int(value) != value or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if batch_size < 1 or lr <= 0 or holdout < 0 or k <= 0:
            raise ValueError(
                f"need batch_size >= 1, lr > 0, holdout >= 0, k > 0; got "
                f"batch_size={batch_size}, lr={lr}, holdout={holdout}, k={k}"
            )
        self.config: dict[str, Any] = {
            "arch": arch,
            "latent_dim": int(latent_dim),
            "hidden": int(hidden),
            "epochs": int(epochs),
            "batch_size": int(batch_size),
            "lr": float(lr),
            "holdout": int(holdout),
            "k": float(k),
            "seed": int(seed),
        }
        self.device = pick_device(device)
        seed_everything(seed)
        self.model = ARCHITECTURES[arch](latent_dim, hidden).to(self.device)
        self.threshold_: float | None = None
        self.decision_scores_: np.ndarray | None = None
        self.history_: list[dict[str, float]] = []
        self.epochs_done_ = 0
        self.best_epoch_: int | None = None
        self.train_index_: np.ndarray | None = None
        self.holdout_index_: np.ndarray | None = None

    # -- training -------------------------------------------------------------------------
    def split_holdout(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Return (train rows, hold-out rows) of ``n`` fit images (seeded, disjoint)."""
        holdout = self.config["holdout"]
        if holdout >= n:
            raise ValueError(f"holdout={holdout} must be smaller than the {n} training images")
        perm = np.random.default_rng([self.config["seed"], 1]).permutation(n)
        return np.sort(perm[holdout:]), np.sort(perm[:holdout])

    def fit(
        self,
        X: object,
        *,
        checkpoint: str | os.PathLike[str] | None = None,
        resume: bool = False,
        progress: bool = True,
        on_epoch: Callable[[int, dict[str, float]], None] | None = None,
    ) -> AutoencoderDetector:
        """Train on normal images ``X`` (N, 28, 28); returns self.

        The loss of a batch B is Σ_{i∈B} ‖Xᵢ − D(E(Xᵢ))‖². After each epoch the
        state (weights, Adam moments, epoch, history) is written to ``checkpoint``
        when given; ``resume=True`` continues from that file. Batch order depends on
        (seed, epoch) only, so a resumed fit ends with the same weights as an
        uninterrupted one.
        """
        images = _as_images(X)
        train_idx, holdout_idx = self.split_holdout(images.shape[0])
        self.train_index_, self.holdout_index_ = train_idx, holdout_idx
        x_train = images[torch.from_numpy(train_idx)].to(self.device)
        x_hold = images[torch.from_numpy(holdout_idx)].to(self.device)
        opt = torch.optim.Adam(self.model.parameters(), lr=self.config["lr"])
        best_state, best_score = None, float("inf")
        start = 0
        if resume:
            if checkpoint is None or not Path(checkpoint).is_file():
                raise FileNotFoundError(f"resume=True but no checkpoint at {checkpoint}")
            state = torch.load(checkpoint, map_location=self.device, weights_only=False)
            # the length of training and the threshold rule may change on resume, nothing else
            same = ("epochs", "k")
            if {k: v for k, v in state["config"].items() if k not in same} != {
                k: v for k, v in self.config.items() if k not in same
            }:
                raise ValueError(
                    f"checkpoint {checkpoint} was written with {state['config']}, "
                    f"not {self.config}; use the same options or another --out"
                )
            self.model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            self.history_ = list(state["history"])
            start = self.epochs_done_ = int(state["epoch"])
            best_state, best_score = state["best_state"], float(state["best_score"])
            self.best_epoch_ = state["best_epoch"]
        epochs = range(start, self.config["epochs"])
        bar = _progress(epochs, progress)
        bs = self.config["batch_size"]
        for epoch in bar:
            self.model.train()
            g = torch.Generator().manual_seed(self.config["seed"] * 100_003 + epoch)
            order = torch.randperm(x_train.shape[0], generator=g).to(self.device)
            total = 0.0
            for i in range(0, x_train.shape[0], bs):
                batch = x_train[order[i : i + bs]]
                loss = ((self.model(batch) - batch) ** 2).sum()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += loss.item()
            record = {"epoch": epoch + 1, "loss": total / x_train.shape[0]}
            if x_hold.shape[0]:
                record["holdout_score"] = float(self._scores(x_hold).mean())
                if record["holdout_score"] < best_score:
                    best_score, self.best_epoch_ = record["holdout_score"], epoch + 1
                    best_state = copy.deepcopy(self.model.state_dict())
            self.history_.append(record)
            self.epochs_done_ = epoch + 1
            if hasattr(bar, "set_postfix"):
                bar.set_postfix({k: f"{v:.3f}" for k, v in record.items() if k != "epoch"})
            if checkpoint is not None:
                Path(checkpoint).parent.mkdir(parents=True, exist_ok=True)
                torch.save(
                    {
                        "config": self.config,
                        "model": self.model.state_dict(),
                        "optimizer": opt.state_dict(),
                        "epoch": epoch + 1,
                        "history": self.history_,
                        "best_state": best_state,
                        "best_score": best_score,
                        "best_epoch": self.best_epoch_,
                    },
                    checkpoint,
                )
            if on_epoch is not None:
                on_epoch(epoch + 1, record)
        if best_state is not None:
            self.model.load_state_dict(best_state)
        self.decision_scores_ = self._scores(x_train)
        self.threshold_ = sigma_threshold(self.decision_scores_, self.config["k"])
        return self

    def calibrate(self, X_validation: object) -> AutoencoderDetector:
        """Set ``threshold_`` = mean + k·std (ddof = 1) of the validation scores; returns self."""
        self.decision_scores_ = self.decision_function(X_validation)
        self.threshold_ = sigma_threshold(self.decision_scores_, self.config["k"])
        return self

    # -- scoring --------------------------------------------------------------------------
    @torch.no_grad()
    def _scores(self, x: torch.Tensor, batch: int = 4096) -> np.ndarray:
        self.model.eval()
        out = []
        for i in range(0, x.shape[0], batch):
            b = x[i : i + batch].to(self.device)
            out.append(((self.model(b) - b) ** 2).sum(dim=(1, 2)).double().cpu())
        return torch.cat(out).numpy()

    def decision_function(self, X: object) -> np.ndarray:
        """Return s(X) = ‖X − D(E(X))‖² per image, shape (N,), float64; higher = more anomalous.

        ``X``: (N, 28, 28) or (N, 784), uint8 (divided by 255) or float in [0, 1].
        """
        return self._scores(_as_images(X))

    def reconstruct(self, X: object) -> np.ndarray:
        """Return D(E(X)) as float32 (N, 28, 28) in [0, 1]."""
        x = _as_images(X)
        self.model.eval()
        with torch.no_grad():
            return self.model(x.to(self.device)).cpu().numpy()

    def predict(self, X: object) -> np.ndarray:
        """Return 1 (anomaly) where s(X) > ``threshold_``, else 0; int64 (N,)."""
        if self.threshold_ is None:
            raise RuntimeError("predict needs threshold_: call fit (and calibrate) first")
        return (self.decision_function(X) > self.threshold_).astype(np.int64)

    # -- persistence ----------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write config, weights, threshold and history to ``path`` (torch.save)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(
            {
                "config": self.config,
                "model": {k: v.cpu() for k, v in self.model.state_dict().items()},
                "threshold": self.threshold_,
                "decision_scores": self.decision_scores_,
                "history": self.history_,
                "epochs_done": self.epochs_done_,
                "best_epoch": self.best_epoch_,
            },
            path,
        )
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str], device: str | None = None) -> AutoencoderDetector:
        """Return the detector saved at ``path`` (on ``device``, default CUDA if available)."""
        state = torch.load(path, map_location="cpu", weights_only=False)
        det = cls(**{k: v for k, v in state["config"].items()}, device=device)
        det.model.load_state_dict(state["model"])
        det.threshold_ = state["threshold"]
        det.decision_scores_ = state["decision_scores"]
        det.history_ = state["history"]
        det.epochs_done_ = state["epochs_done"]
        det.best_epoch_ = state["best_epoch"]
        return det


def _progress(it: range, enabled: bool) -> Any:
    if not enabled:
        return it
    from tqdm.auto import tqdm

    return tqdm(it, desc="epochs", unit="epoch")


def split_indices(
    n: int, n_validation: int, seed: int, n_train: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Return (training rows, validation rows) of MNIST train: disjoint, seeded.

    A permutation of range(n) from ``numpy.random.default_rng(seed)``: the first
    ``n_validation`` rows are validation, the next ``n_train`` (default: the rest)
    training.
    """
    if not 0 < n_validation < n:
        raise ValueError(f"n_validation must be in (0, {n}), got {n_validation}")
    rest = n - n_validation
    n_train = rest if n_train is None else n_train
    if not 0 < n_train <= rest:
        raise ValueError(f"n_train must be in (0, {rest}], got {n_train}")
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[n_validation : n_validation + n_train]), np.sort(perm[:n_validation])


# -- the script ---------------------------------------------------------------------------
def _ranking(normal: np.ndarray, anomaly: np.ndarray) -> dict[str, float]:
    labels = np.r_[np.zeros(normal.size), np.ones(anomaly.size)]
    scores = np.r_[normal, anomaly]
    return {
        "auroc": auroc(labels, scores),
        "average_precision": average_precision(labels, scores),
    }


def _rates(normal: np.ndarray, anomaly: np.ndarray, threshold: float) -> dict[str, float]:
    type_i, type_ii = error_rates(normal, anomaly, threshold)
    return {"type_i_error": type_i, "type_ii_error": type_ii}


def build_report(scores: dict[str, np.ndarray], *, k: float, alpha: float) -> dict[str, Any]:
    """Return the report's metrics computed from scores alone.

    Parameters
    ----------
    scores : dict of 1-D arrays
        "validation" (sets the thresholds), "mnist_test" (normal), "kmnist_test"
        (anomalies) and optionally "fashion_test" (second anomaly set).
    k : float
        Threshold = mean + k·std (ddof = 1) of the validation scores.
    alpha : float
        Target type I error of the alternative split-conformal quantile threshold.

    Returns
    -------
    dict
        threshold, type_i_error, type_ii_error, auroc, average_precision,
        cantelli_type_i_bound, quantile_threshold {...} and, with Fashion-MNIST
        scores, fashion {type_ii_error, auroc, average_precision}.
    """
    val, normal = scores["validation"], scores["mnist_test"]
    sigma_thr = sigma_threshold(val, k, ddof=1)
    quant_thr = quantile_threshold(val, alpha)
    report: dict[str, Any] = {
        "threshold": sigma_thr,
        "threshold_rule": f"mean + {k:g} * std (ddof=1) of validation scores",
        "validation_score_mean": float(val.mean()),
        "validation_score_std_ddof1": float(val.std(ddof=1)),
        **_rates(normal, scores["kmnist_test"], sigma_thr),
        **_ranking(normal, scores["kmnist_test"]),
        "cantelli_type_i_bound": cantelli_bound(k),
        "cantelli_note": (
            "P(s > mean + k std) <= 1/(1 + k^2) for any score distribution, with the "
            "population mean and std; the rule uses their validation estimates"
        ),
        "quantile_threshold": {
            "alpha": alpha,
            "rule": "split-conformal: s_(ceil((1-alpha)(n+1))) of the n validation scores",
            "threshold": quant_thr,
            **_rates(normal, scores["kmnist_test"], quant_thr),
        },
    }
    if "fashion_test" in scores:
        report["fashion"] = {
            "type_ii_error": error_rates(normal, scores["fashion_test"], sigma_thr)[1],
            **_ranking(normal, scores["fashion_test"]),
        }
        report["quantile_threshold"]["fashion_type_ii_error"] = error_rates(
            normal, scores["fashion_test"], quant_thr
        )[1]
    return report


def _grid(
    det: AutoencoderDetector, images: np.ndarray, s: np.ndarray, per_side: int = 8
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    order = np.argsort(s, kind="stable")
    pick = np.r_[order[:per_side], order[-per_side:]]
    x = images[pick].astype(np.float32) / 255
    return x, det.reconstruct(images[pick]), s[pick]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m models.autoencoder",
        description="Autoencoder anomaly detection: MNIST normal, KMNIST/Fashion-MNIST anomalies.",
    )
    add_data_root_argument(p)
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    p.add_argument("--alpha", type=float, default=0.01, help="target type I of the quantile rule")
    p.add_argument("--k", type=float, default=3.0, help="threshold = mean + k std")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--arch", choices=sorted(ARCHITECTURES), default="mlp")
    p.add_argument("--latent-dim", type=int, default=128)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--n-validation", type=int, default=10_000)
    p.add_argument("--n-train", type=int, default=None, help="default: 60000 - n_validation")
    p.add_argument("--holdout", type=int, default=2000, help="training images for model selection")
    p.add_argument("--n-test", type=int, default=None, help="use only the first N test images")
    p.add_argument("--device", default=None, help="default: cuda if available, else cpu")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--no-plots", action="store_true")
    p.add_argument("--no-progress", action="store_true")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the seed's procedure end to end; returns the report (also written to OUT)."""
    args = parse_args(argv)
    t0, cpu0 = time.perf_counter(), time.process_time()
    if args.threads:
        torch.set_num_threads(args.threads)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    root = args.data_root

    x_mnist, _ = load_dataset("mnist", "train", root)
    n_test = args.n_test
    tests = {
        "mnist_test": load_dataset("mnist", "test", root)[0][:n_test],
        "kmnist_test": load_dataset("kmnist", "test", root)[0][:n_test],
        "fashion_test": load_dataset("fashion-mnist", "test", root)[0][:n_test],
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
        device=args.device,
        seed=args.seed,
    )
    t_fit = time.perf_counter()
    det.fit(
        x_mnist[train_rows],
        checkpoint=out / "checkpoint.pt",
        resume=args.resume,
        progress=not args.no_progress,
    )
    fit_seconds = time.perf_counter() - t_fit
    det.calibrate(x_mnist[val_rows])
    if det.train_index_ is None or det.holdout_index_ is None:  # pragma: no cover - set by fit
        raise RuntimeError("fit did not record its training and hold-out rows")
    scores = {
        "validation": det.decision_scores_,
        **{k: det.decision_function(v) for k, v in tests.items()},
    }
    det.save(out / "model.pt")
    np.savez(
        out / "scores.npz",
        **{k: np.asarray(v) for k, v in scores.items()},
        validation_rows=val_rows,
        fit_rows=train_rows[det.train_index_],
        holdout_rows=train_rows[det.holdout_index_],
    )
    report = build_report({k: np.asarray(v) for k, v in scores.items()}, k=args.k, alpha=args.alpha)
    plots: list[str] = []
    if not args.no_plots:
        grids = {
            "mnist_test": _grid(det, tests["mnist_test"], scores["mnist_test"]),
            "kmnist_test": _grid(det, tests["kmnist_test"], scores["kmnist_test"]),
        }
        plots = plot_results(out, {k: np.asarray(v) for k, v in scores.items()}, report, grids)
    checksums: dict[str, str] = {}
    for name, split in (
        ("mnist", "train"),
        ("mnist", "test"),
        ("kmnist", "test"),
        ("fashion-mnist", "test"),
    ):
        checksums.update(dataset_checksums(name, split, root))
    report.update(
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
            "history": det.history_,
            "seed": args.seed,
            "model": det.config,
            "parameters": sum(p.numel() for p in det.model.parameters()),
            "fit_seconds": fit_seconds,
            "seconds": time.perf_counter() - t0,
            "cpu_seconds": time.process_time() - cpu0,
            "data_checksums_sha256": checksums,
            "plots": plots,
            **run_metadata(det.device),
        }
    )
    write_json(out / "report.json", report)
    fashion = report.get("fashion", {})
    print(
        f"type I {report['type_i_error']:.4f} (Cantelli bound {cantelli_bound(args.k):.2f}), "
        f"type II {report['type_ii_error']:.4f}, AUROC {report['auroc']:.5f}, "
        f"AP {report['average_precision']:.5f}; Fashion-MNIST type II "
        f"{fashion.get('type_ii_error', float('nan')):.4f}, "
        f"AUROC {fashion.get('auroc', float('nan')):.5f}; "
        f"{report['seconds']:.1f} s ({report['cpu_seconds']:.1f} s CPU) -> {out / 'report.json'}"
    )
    return report


if __name__ == "__main__":
    main()
