"""Training the convolutional VAE on dynamically binarised MNIST, and its evaluation."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from models.data import load_dataset, split_indices
from models.kit import Checkpoint, TrainState, train
from models.kit.detection import detection_report
from models.vae.conv import (
    IWAE_PAPER_VAE_NATS,
    ConvVAE,
    binarize,
    elbo_scores,
    iw_scores,
    nats_to_bits_per_dim,
)
from models.vae.plots import plot_curves, plot_grid, plot_scores

__all__ = ["run_mnist", "train_vae"]


def train_vae(
    model: ConvVAE,
    train_images: Tensor,
    *,
    epochs: int,
    batch_size: int = 128,
    lr: float = 1e-3,
    seed: int = 0,
    device: torch.device | None = None,
    checkpoint: Checkpoint | None = None,
    resume: bool = False,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Train by maximising the one-sample ELBO (Adam) on dynamically binarised images.

    ``train_images`` is uint8 of shape (N, 1, 28, 28); each step binarises its batch
    afresh. With ``checkpoint`` the model, optimiser, binarisation generator, global
    RNG and history are saved after every epoch; ``resume`` continues from it, and the
    resumed run equals an uninterrupted one bit for bit on the CPU. Returns one dict
    per epoch: mean training ELBO, expected log-likelihood and KL.
    """
    device = device or torch.device("cpu")
    model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    state = TrainState(modules={"vae": model}, optimizers={"adam": opt}, generators={"gen": gen})
    n = train_images.shape[0]

    def run_epoch(epoch: int) -> dict[str, float]:
        model.train()
        perm = torch.randperm(n, generator=gen)
        sums = {"elbo": 0.0, "loglik": 0.0, "kl": 0.0}
        for start in range(0, n, batch_size):
            x = binarize(train_images[perm[start : start + batch_size]], gen).to(device)
            e, ll, kl = model.elbo(x)
            loss = -e.mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sums["elbo"] += e.sum().item()
            sums["loglik"] += ll.sum().item()
            sums["kl"] += kl.sum().item()
        return {k: v / n for k, v in sums.items()}

    train(
        state, run_epoch, epochs=epochs, checkpoint=checkpoint, resume=resume,
        map_location=device, progress=progress, desc="VAE",
    )  # fmt: skip
    return state.history


def _to_tensor(images: np.ndarray) -> Tensor:
    # A writable copy: load_dataset returns read-only (cached) arrays.
    return torch.from_numpy(np.array(images, dtype=np.uint8)).unsqueeze(1)  # (N, 1, 28, 28)


def _nats_bits(nll: np.ndarray) -> dict[str, float]:
    m = float(nll.mean())
    se = float(nll.std(ddof=1) / math.sqrt(len(nll))) if len(nll) > 1 else float("nan")
    return {"nats": m, "stderr_nats": se, "bits_per_dim": nats_to_bits_per_dim(m)}


def _autoencoder_summary(path: Path) -> dict[str, Any]:
    """The autoencoder's anomaly numbers from its ``report.json``, for a side-by-side table."""
    ae = json.loads(Path(path).read_text())
    ae = ae.get("results", ae)
    keys = ("threshold", "type_i_error", "type_ii_error", "auroc", "average_precision")
    return {"report": str(path), **{k: ae[k] for k in keys if k in ae}}


def run_mnist(args: Any, device: torch.device) -> tuple[dict[str, Any], list[str], list]:
    """Train the MNIST VAE and evaluate it; returns (results, plot names, history)."""
    seed, out = args.seed, args.out
    x_train_all, _ = load_dataset("mnist", "train", args.data_root)
    x_test, _ = load_dataset("mnist", "test", args.data_root)
    k_test, _ = load_dataset("kmnist", "test", args.data_root)
    # The autoencoder's split (same seed, same sizes): both detectors calibrate on
    # the same validation images, which neither was trained on.
    train_idx, val_idx = split_indices(len(x_train_all), args.n_validation, seed, args.n_train)
    train_x, val = _to_tensor(x_train_all[train_idx]), _to_tensor(x_train_all[val_idx])
    test, kmnist = _to_tensor(x_test[: args.n_test]), _to_tensor(k_test[: args.n_test])
    model = ConvVAE(args.latent_dim)
    config = {k: getattr(args, k) for k in ("latent_dim", "batch_size", "lr", "seed")}
    config.update(n_validation=args.n_validation, n_train=args.n_train)
    t0 = time.perf_counter()
    history = train_vae(
        model, train_x, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=seed,
        device=device, checkpoint=Checkpoint(out / "checkpoint.pt", model="vae", config=config),
        resume=args.resume, progress=not args.quiet,
    )  # fmt: skip
    train_seconds = time.perf_counter() - t0
    # Fixed evaluation seeds, distinct per set, so reruns give the same numbers.
    kw: dict[str, Any] = {"n_samples": args.score_samples, "device": device}
    kw["progress"] = not args.quiet
    t0 = time.perf_counter()
    s_val = -elbo_scores(model, val, seed=seed + 101, desc="ELBO val", **kw)
    s_test = -elbo_scores(model, test, seed=seed + 102, desc="ELBO test", **kw)
    s_kmnist = -elbo_scores(model, kmnist, seed=seed + 103, desc="ELBO KMNIST", **kw)
    eval_seconds = time.perf_counter() - t0
    subset = test[: args.iwae_subset]
    t0 = time.perf_counter()
    iw, elbo_subset = iw_scores(
        model, subset, k=args.iwae_k, seed=seed + 104, n_elbo_samples=args.score_samples,
        device=device, progress=not args.quiet,
    )  # fmt: skip
    iw_seconds = time.perf_counter() - t0
    scores = {"validation": s_val, "mnist_test": s_test, "kmnist_test": s_kmnist}
    anomaly = detection_report(scores, k=args.k, alpha=args.alpha)
    results: dict[str, Any] = {
        "model": {
            "kind": "ConvVAE",
            "latent_dim": args.latent_dim,
            "parameters": sum(p.numel() for p in model.parameters()),
            "kl_term": "klmath.gaussian_kl_diag(mean, var, 0, 1)",
            "decoder": "Bernoulli",
        },
        "data": {
            "binarisation": "dynamic (x ~ Bern(pixel/255)) for training; one fixed-seed "
            "binarisation per evaluation set",
            "n_train": len(train_x),
            "n_validation": len(val),
            "n_test": len(test),
            "n_kmnist": len(kmnist),
            "validation_split": f"models.data.split_indices(60000, {args.n_validation}, "
            f"seed={seed}): the autoencoder's validation set, never trained on",
        },
        "training": {"epochs": len(history), "seconds": train_seconds},
        "test_nll_elbo": {
            **_nats_bits(s_test),
            "z_samples_per_image": args.score_samples,
            "note": "−ELBO, an upper bound on −log p(x)",
        },
        "iw_bound": {
            **_nats_bits(-iw),
            "k": args.iwae_k,
            "subset": f"MNIST test images 0..{len(subset) - 1} (canonical order)",
            "n_images": len(subset),
            "elbo_same_subset_nats": float(-elbo_subset.mean()),
            "seconds": iw_seconds,
            "paper_reference_nats": IWAE_PAPER_VAE_NATS,
            "note": "−L_k, an upper bound on −log p(x); IWAE paper's one-layer VAE: "
            f"{IWAE_PAPER_VAE_NATS} nats after 3280 epochs (here: {len(history)} epochs)",
        },
        "anomaly": {"score": "−ELBO (nats)", **anomaly},
        "anomaly_autoencoder": _autoencoder_summary(args.ae_report) if args.ae_report else None,
        "eval_seconds": eval_seconds,
    }
    # Plots: samples from the prior, reconstructions, curves, score histograms.
    model.eval()
    with torch.no_grad():
        g = torch.Generator().manual_seed(seed + 7)
        z = torch.randn(64, args.latent_dim, generator=g).to(device)
        samples = torch.sigmoid(model.decode(z)).squeeze(1).cpu().numpy()
        x = binarize(test[:16], g).to(device)
        mean, _ = model.encode(x)
        recon = torch.sigmoid(model.decode(mean)).squeeze(1).cpu().numpy()
    plots = [
        plot_grid(samples, out / "samples.png", "VAE samples (Bernoulli means), z ~ N(0, I)", 8),
        plot_grid(
            np.concatenate([x.squeeze(1).cpu().numpy(), recon]),
            out / "reconstructions.png",
            "top: binarised test images; bottom: reconstruction (Bernoulli means at z = μ(x))",
            2,
        ),
        plot_curves(history, out / "training.png"),
        plot_scores(
            s_val, s_test, s_kmnist, float(anomaly["threshold"]), args.k,
            out / "anomaly_scores.png",
        ),
    ]  # fmt: skip
    return results, plots, history
