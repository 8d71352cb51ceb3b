"""The autoencoder anomaly detector, with the interface of PyOD's detectors."""

from __future__ import annotations

import copy
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from models.anomaly.networks import ARCHITECTURES, as_images
from models.kit import Checkpoint, TrainState, pick_device, seed_everything, train
from models.kit.detection import sigma_threshold

__all__ = ["AutoencoderDetector"]

# Options that may change between a run and its resume: the length of training and
# the threshold rule. Every other option shapes the weights.
_FREE_ON_RESUME = ("epochs", "k")


class AutoencoderDetector:
    """Anomaly detector scoring inputs by their autoencoder reconstruction error.

    PyOD's interface: :meth:`fit` trains on normal data, :meth:`calibrate` sets
    the threshold from a separate validation set, :meth:`decision_function`
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
        ``auto`` (default): CUDA when available, else CPU.
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
        self.history_: list[dict[str, Any]] = []
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

    def checkpoint(self, path: str | os.PathLike[str], **data_config: Any) -> Checkpoint:
        """The checkpoint file of this detector (``data_config``: options that chose the data)."""
        fixed = {k: v for k, v in self.config.items() if k not in _FREE_ON_RESUME}
        return Checkpoint(path, model="autoencoder", config={**fixed, **data_config})

    def fit(
        self,
        X: object,
        *,
        checkpoint: Checkpoint | str | os.PathLike[str] | None = None,
        resume: bool = False,
        progress: bool = True,
        on_epoch: Callable[[int, dict[str, Any]], None] | None = None,
    ) -> AutoencoderDetector:
        """Train on normal images ``X`` (N, 28, 28); returns self.

        The loss of a batch B is Σ_{i∈B} ‖Xᵢ − D(E(Xᵢ))‖². After each epoch the
        state (weights, Adam moments, best epoch so far, history) is written to
        ``checkpoint`` when given; ``resume=True`` continues from it. Batch order
        depends on (seed, epoch) only, so a resumed fit ends with the same weights as
        an uninterrupted one.
        """
        images = as_images(X)
        train_idx, holdout_idx = self.split_holdout(images.shape[0])
        self.train_index_, self.holdout_index_ = train_idx, holdout_idx
        x_train = images[torch.from_numpy(train_idx)].to(self.device)
        x_hold = images[torch.from_numpy(holdout_idx)].to(self.device)
        opt = torch.optim.Adam(self.model.parameters(), lr=self.config["lr"])
        state = TrainState(
            modules={"model": self.model},
            optimizers={"adam": opt},
            extra={"best_state": None, "best_score": float("inf"), "best_epoch": None},
        )
        if checkpoint is not None and not isinstance(checkpoint, Checkpoint):
            checkpoint = self.checkpoint(checkpoint)
        bs = self.config["batch_size"]

        def run_epoch(epoch: int) -> dict[str, float]:
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
            record = {"loss": total / x_train.shape[0]}
            if x_hold.shape[0]:
                record["holdout_score"] = float(self._scores(x_hold).mean())
                if record["holdout_score"] < state.extra["best_score"]:
                    state.extra["best_score"] = record["holdout_score"]
                    state.extra["best_epoch"] = epoch + 1
                    state.extra["best_state"] = copy.deepcopy(self.model.state_dict())
            return record

        train(
            state,
            run_epoch,
            epochs=self.config["epochs"],
            checkpoint=checkpoint,
            resume=resume,
            map_location=self.device,
            progress=progress,
            desc="autoencoder",
            on_epoch=on_epoch,
        )
        self.history_, self.epochs_done_ = state.history, state.epoch
        self.best_epoch_ = state.extra["best_epoch"]
        if state.extra["best_state"] is not None:
            self.model.load_state_dict(state.extra["best_state"])
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
        return self._scores(as_images(X))

    def reconstruct(self, X: object) -> np.ndarray:
        """Return D(E(X)) as float32 (N, 28, 28) in [0, 1]."""
        x = as_images(X)
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
        """Write config, weights, threshold and history to ``path`` (atomically)."""
        from models.kit import save_atomic

        return save_atomic(
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

    @classmethod
    def load(cls, path: str | os.PathLike[str], device: str | None = None) -> AutoencoderDetector:
        """Return the detector saved at ``path`` (on ``device``, default CUDA if available)."""
        state = torch.load(path, map_location="cpu", weights_only=False)
        det = cls(**state["config"], device=device)
        det.model.load_state_dict(state["model"])
        det.threshold_ = state["threshold"]
        det.decision_scores_ = state["decision_scores"]
        det.history_ = state["history"]
        det.epochs_done_ = state["epochs_done"]
        det.best_epoch_ = state["best_epoch"]
        return det
