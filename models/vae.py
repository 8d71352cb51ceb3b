"""A small convolutional VAE on dynamically binarised MNIST, and the linear-Gaussian VAE.

Model (Bernoulli decoder, diagonal-Gaussian encoder, z ∈ R^L):

.. math::

    p(z) = N(0, I_L), \\quad p_θ(x | z) = \\prod_{i=1}^{784} \\mathrm{Bern}(x_i; π_θ(z)_i),
    \\quad q_φ(z | x) = N(μ_φ(x), \\operatorname{diag} σ²_φ(x)),

    \\mathrm{ELBO}(x) = E_q[\\log p_θ(x | z)] − \\mathrm{KL}(q_φ(z|x) ‖ N(0, I)),

where the KL term is :func:`klmath.gaussian_kl_diag` (closed form) and the first term
is estimated with reparameterised samples z = μ + σ ε. Training images are binarised
afresh at every step (x ~ Bern(pixel / 255), "dynamic binarisation"); evaluation
images are binarised once with a fixed seed so every number is reproducible.

Reported (``report.json``): the test ELBO in nats and bits/dim (nats / (784 ln 2));
the importance-weighted bound (Burda et al., 2016)

.. math:: \\mathcal L_k(x) = E\\Big[\\log \\frac1k \\sum_{j=1}^k
          \\frac{p_θ(x, z_j)}{q_φ(z_j | x)}\\Big] ≤ \\log p_θ(x), \\quad z_j \\sim q_φ(z|x),

with k = ``--iwae-k`` (5000 by default, the IWAE paper's protocol) on the first
``--iwae-subset`` test images in canonical order; and −ELBO as an anomaly score for
MNIST (normal) vs KMNIST (anomalous) with the autoencoder's rule (threshold = mean +
3 std of the scores on a validation split never trained on), type I/II errors and AUROC.

Run ``python -m models.vae --out results/vae`` (MNIST) or
``python -m models.vae --linear --out results/vae_linear`` (the exact linear-Gaussian
model of :mod:`models.vae_linear`).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

import klmath
from models._common import pick_device, run_metadata, seed_everything, timer, write_json

__all__ = [
    "ConvVAE",
    "anomaly_report",
    "binarize",
    "elbo_scores",
    "iw_bound",
    "iw_scores",
    "main",
    "nats_to_bits_per_dim",
    "run_mnist",
    "train_vae",
]

N_PIXELS = 28 * 28
# The IWAE paper (Burda et al., 2016, table 1): one stochastic layer VAE, k = 5000.
IWAE_PAPER_VAE_NATS = 86.76
_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def nats_to_bits_per_dim(nats: float, dims: int = N_PIXELS) -> float:
    """Return a negative log-likelihood in bits per dimension: nats / (dims · ln 2)."""
    return nats / (dims * math.log(2.0))


def binarize(images: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Return a Bernoulli sample x ~ Bern(p) per pixel, p = pixel / 255, as float 0/1."""
    p = images.float() / 255.0
    return torch.bernoulli(p, generator=generator)


class ConvVAE(nn.Module):
    """A small convolutional VAE for 1 × 28 × 28 binary images.

    Encoder: conv 1→16 (4×4, stride 2) → conv 16→32 (4×4, stride 2) → dense 256 →
    (μ, log σ²) ∈ R^L × R^L. Decoder: dense L→256→32·7·7 → transposed convs back to
    1 × 28 × 28 Bernoulli logits. Small on purpose: a k = 5000 importance-weighted
    bound runs the decoder 5000 times per image.
    """

    def __init__(self, latent_dim: int = 32, hidden: int = 256) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 16, 4, 2, 1),
            nn.ReLU(),
            nn.Conv2d(16, 32, 4, 2, 1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(32 * 7 * 7, hidden),
            nn.ReLU(),
            nn.Linear(hidden, 2 * latent_dim),
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, hidden),
            nn.ReLU(),
            nn.Linear(hidden, 32 * 7 * 7),
            nn.ReLU(),
            nn.Unflatten(1, (32, 7, 7)),
            nn.ConvTranspose2d(32, 16, 4, 2, 1),
            nn.ReLU(),
            nn.ConvTranspose2d(16, 1, 4, 2, 1),
        )

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Return the posterior mean and variance, each (B, L), for x of shape (B, 1, 28, 28)."""
        mean, log_var = self.encoder(x).chunk(2, dim=-1)
        # Bounded log-variance: exp never overflows and the KL stays finite early on.
        log_var = 10.0 * torch.tanh(log_var / 10.0)
        return mean, torch.exp(log_var)

    def decode(self, z: Tensor) -> Tensor:
        """Return Bernoulli logits of shape (..., 1, 28, 28) for z of shape (..., L)."""
        lead = z.shape[:-1]
        logits = self.decoder(z.reshape(-1, self.latent_dim))
        return logits.reshape(*lead, 1, 28, 28)

    def kl_prior(self, mean: Tensor, var: Tensor) -> Tensor:
        """Return KL(N(mean, diag var) ‖ N(0, I)) per row, via :func:`klmath.gaussian_kl_diag`."""
        zeros = torch.zeros_like(mean)
        return klmath.gaussian_kl_diag(mean, var, zeros, torch.ones_like(var))

    def elbo(self, x: Tensor, n_samples: int = 1) -> tuple[Tensor, Tensor, Tensor]:
        """Return (ELBO, expected log-likelihood, KL) per image, each of shape (B,).

        The expected log-likelihood is the mean over ``n_samples`` reparameterised
        draws; the KL is exact.
        """
        mean, var = self.encode(x)
        eps = torch.randn((n_samples, *mean.shape), dtype=mean.dtype, device=mean.device)
        z = mean + var.sqrt() * eps  # (S, B, L)
        logits = self.decode(z)  # (S, B, 1, 28, 28)
        target = x.expand_as(logits)
        loglik = -F.binary_cross_entropy_with_logits(logits, target, reduction="none")
        loglik = loglik.flatten(2).sum(-1).mean(0)
        kl = self.kl_prior(mean, var)
        return loglik - kl, loglik, kl


@torch.no_grad()
def iw_bound(model: ConvVAE, x: Tensor, k: int, *, chunk: int = 500) -> Tensor:
    """Return the importance-weighted bound log (1/k) Σ_j p(x, z_j) / q(z_j | x), shape (B,).

    The k log-weights are computed in chunks of ``chunk`` samples (memory stays at
    chunk × B images) and combined with ``torch.logsumexp``, which never forms the
    weights themselves (they underflow: log-weights are about −90 nats).
    """
    mean, var = model.encode(x)
    std = var.sqrt()
    log_w = []
    for start in range(0, k, chunk):
        s = min(chunk, k - start)
        eps = torch.randn((s, *mean.shape), dtype=mean.dtype, device=mean.device)
        z = mean + std * eps
        logits = model.decode(z)
        loglik = (
            -F.binary_cross_entropy_with_logits(logits, x.expand_as(logits), reduction="none")
            .flatten(2)
            .sum(-1)
        )
        log_prior = -0.5 * (z * z).sum(-1) - model.latent_dim * _HALF_LOG_2PI
        log_q = (-0.5 * eps * eps - torch.log(std) - _HALF_LOG_2PI).sum(-1)
        log_w.append(loglik + log_prior - log_q)
    return torch.logsumexp(torch.cat(log_w, 0), dim=0) - math.log(k)


def _to_tensor(images: np.ndarray) -> Tensor:
    # A writable copy: load_dataset returns read-only (cached) arrays.
    return torch.from_numpy(np.array(images, dtype=np.uint8)).unsqueeze(1)  # (N, 1, 28, 28)


def train_vae(
    model: ConvVAE,
    train_images: Tensor,
    *,
    epochs: int,
    batch_size: int = 128,
    lr: float = 1e-3,
    seed: int = 0,
    device: torch.device | None = None,
    checkpoint: Path | None = None,
    resume: bool = False,
    progress: bool = True,
) -> list[dict[str, float]]:
    """Train by maximising the one-sample ELBO (Adam) on dynamically binarised images.

    ``train_images`` is uint8 of shape (N, 1, 28, 28); each step binarises its batch
    afresh. With ``checkpoint`` the model, optimiser, RNG state and history are
    saved after every epoch; ``resume`` continues from that file when it exists.
    Returns one dict per epoch: mean training ELBO, expected log-likelihood and KL.
    """
    from tqdm import tqdm

    device = device or torch.device("cpu")
    model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    history: list[dict[str, float]] = []
    start_epoch = 0
    if resume and checkpoint is not None and checkpoint.exists():
        state = torch.load(checkpoint, map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        gen.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        history = state["history"]
        start_epoch = len(history)
    n = train_images.shape[0]
    for epoch in range(start_epoch, epochs):
        model.train()
        perm = torch.randperm(n, generator=gen)
        sums = {"elbo": 0.0, "loglik": 0.0, "kl": 0.0}
        batches = range(0, n, batch_size)
        bar = tqdm(batches, desc=f"epoch {epoch + 1}/{epochs}", disable=not progress, leave=False)
        for start in bar:
            idx = perm[start : start + batch_size]
            x = binarize(train_images[idx], gen).to(device)
            e, ll, kl = model.elbo(x)
            loss = -e.mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sums["elbo"] += e.sum().item()
            sums["loglik"] += ll.sum().item()
            sums["kl"] += kl.sum().item()
            bar.set_postfix(elbo=f"{e.mean().item():.1f}")
        history.append({k: v / n for k, v in sums.items()})
        if progress:
            print(f"epoch {epoch + 1}/{epochs}: train ELBO {history[-1]['elbo']:.2f} nats")
        if checkpoint is not None:
            checkpoint.parent.mkdir(parents=True, exist_ok=True)
            torch.save(
                {
                    "model": model.state_dict(),
                    "optimizer": opt.state_dict(),
                    "generator": gen.get_state(),
                    "torch_rng": torch.get_rng_state(),
                    "history": history,
                },
                checkpoint,
            )
    return history


@torch.no_grad()
def elbo_scores(
    model: ConvVAE,
    images: Tensor,
    *,
    n_samples: int,
    seed: int,
    batch_size: int = 500,
    device: torch.device | None = None,
    desc: str = "ELBO",
    progress: bool = True,
) -> np.ndarray:
    """Return the per-image ELBO (nats) of a fixed-seed binarisation, float64 (N,).

    The expected log-likelihood is averaged over ``n_samples`` draws of z, so the
    score's noise shrinks like 1/√n_samples; the KL term is exact.
    """
    from tqdm import tqdm

    device = device or torch.device("cpu")
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    out = []
    for start in tqdm(range(0, images.shape[0], batch_size), desc=desc, disable=not progress):
        x = binarize(images[start : start + batch_size], gen).to(device)
        out.append(model.elbo(x, n_samples)[0].double().cpu())
    return torch.cat(out).numpy()


@torch.no_grad()
def iw_scores(
    model: ConvVAE,
    images: Tensor,
    *,
    k: int,
    seed: int,
    n_elbo_samples: int = 4,
    batch_size: int = 10,
    device: torch.device | None = None,
    progress: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Return the per-image k-sample bound L_k and the ELBO (nats), each float64 (N,).

    Both are computed on the same fixed-seed binarisation of ``images``, so they
    bound log p(x) of the same binary images; the ELBO averages ``n_elbo_samples``
    draws of z.
    """
    from tqdm import tqdm

    device = device or torch.device("cpu")
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    binary = binarize(images, gen)
    out, elbos = [], []
    bar = tqdm(range(0, images.shape[0], batch_size), desc=f"IW k={k}", disable=not progress)
    for start in bar:
        x = binary[start : start + batch_size].to(device)
        out.append(iw_bound(model, x, k).double().cpu())
        with torch.no_grad():
            elbos.append(model.elbo(x, n_elbo_samples)[0].double().cpu())
    return torch.cat(out).numpy(), torch.cat(elbos).numpy()


def anomaly_report(
    val_scores: np.ndarray, normal_scores: np.ndarray, anomaly_scores: np.ndarray
) -> dict[str, Any]:
    """Return the autoencoder's anomaly report for these scores (higher = more anomalous).

    The same code as the autoencoder (:func:`models.autoencoder.build_report`), so
    the two detectors are judged identically: threshold = mean + 3 std (ddof = 1) of
    the validation scores; ``type_i_error`` = fraction of MNIST test scores above
    it, ``type_ii_error`` = fraction of KMNIST scores at or below it; AUROC and
    average precision; and the split-conformal threshold for α = 0.01.
    """
    from models.autoencoder import build_report

    scores = {"validation": val_scores, "mnist_test": normal_scores, "kmnist_test": anomaly_scores}
    return build_report(scores, k=3.0, alpha=0.01)


def _autoencoder_summary(path: Path) -> dict[str, Any]:
    """The autoencoder's anomaly numbers from its ``report.json``, for a side-by-side table."""
    ae = json.loads(Path(path).read_text())
    keys = ("threshold", "type_i_error", "type_ii_error", "auroc", "average_precision")
    return {"report": str(path), **{k: ae[k] for k in keys if k in ae}}


def _plot_grid(images: np.ndarray, path: Path, title: str, nrow: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = images.shape[0]
    ncol = math.ceil(n / nrow)
    fig, axes = plt.subplots(nrow, ncol, figsize=(ncol * 0.8, nrow * 0.8 + 0.4))
    for ax, im in zip(np.ravel(axes), images, strict=False):
        ax.imshow(im, cmap="gray", vmin=0.0, vmax=1.0)
    for ax in np.ravel(axes):
        ax.axis("off")
    fig.suptitle(title, fontsize=9)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def _plot_curves(history: list[dict[str, float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ep = np.arange(1, len(history) + 1)
    fig, ax = plt.subplots(1, 2, figsize=(8, 3))
    ax[0].plot(ep, [h["elbo"] for h in history], "o-")
    ax[0].set(xlabel="epoch", ylabel="train ELBO (nats)", title="ELBO")
    ax[1].plot(ep, [h["kl"] for h in history], "o-")
    ax[1].set(xlabel="epoch", ylabel="nats", title="KL(q ‖ p(z))")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _plot_scores(
    val: np.ndarray, mnist: np.ndarray, kmnist: np.ndarray, thr: float, path: Path
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    hi = np.quantile(np.concatenate([mnist, kmnist]), 0.995)
    bins = np.linspace(min(val.min(), mnist.min()), hi, 80).tolist()
    ax.hist(mnist, bins, alpha=0.5, density=True, label="MNIST test")
    ax.hist(kmnist, bins, alpha=0.5, density=True, label="KMNIST test")
    ax.hist(val, bins, histtype="step", density=True, label="MNIST validation")
    ax.axvline(thr, color="k", ls="--", label="mean + 3 std (validation)")
    ax.set(xlabel="−ELBO (nats)", ylabel="density", title="VAE anomaly score")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run_mnist(
    out: Path,
    *,
    data_root: str | None = None,
    epochs: int = 2,
    seed: int = 0,
    iwae_k: int = 5000,
    iwae_subset: int = 100,
    latent_dim: int = 32,
    n_val: int = 10000,
    n_train: int | None = None,
    n_test: int | None = None,
    score_samples: int = 4,
    batch_size: int = 128,
    device: torch.device | None = None,
    resume: bool = False,
    ae_report: Path | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Train the MNIST VAE, evaluate it, write ``report.json`` and PNGs into ``out``.

    ``n_train``/``n_test`` cut the training split and both test sets (smoke runs);
    ``None`` uses all of them.
    """
    from models.autoencoder import split_indices
    from models.data import load_dataset

    device = device or pick_device()
    out.mkdir(parents=True, exist_ok=True)
    seed_everything(seed)
    x_train_all, _ = load_dataset("mnist", "train", data_root)
    x_test, _ = load_dataset("mnist", "test", data_root)
    k_test, _ = load_dataset("kmnist", "test", data_root)
    # The autoencoder's split (same seed, same sizes): both detectors calibrate on
    # the same validation images, which neither was trained on.
    train_idx, val_idx = split_indices(len(x_train_all), n_val, seed, n_train)
    train = _to_tensor(x_train_all[train_idx])
    val = _to_tensor(x_train_all[val_idx])
    test = _to_tensor(x_test[:n_test])
    kmnist = _to_tensor(k_test[:n_test])

    model = ConvVAE(latent_dim)
    with timer() as t_train:
        history = train_vae(
            model,
            train,
            epochs=epochs,
            batch_size=batch_size,
            seed=seed,
            device=device,
            checkpoint=out / "checkpoint.pt",
            resume=resume,
            progress=progress,
        )
    # Fixed evaluation seeds, distinct per set, so reruns give the same numbers.
    kw: dict[str, Any] = {"n_samples": score_samples, "device": device, "progress": progress}
    with timer() as t_eval:
        s_val = -elbo_scores(model, val, seed=seed + 101, desc="ELBO val", **kw)
        s_test = -elbo_scores(model, test, seed=seed + 102, desc="ELBO test", **kw)
        s_kmnist = -elbo_scores(model, kmnist, seed=seed + 103, desc="ELBO KMNIST", **kw)
    subset = test[:iwae_subset]
    with timer() as t_iw:
        iw, elbo_subset = iw_scores(
            model,
            subset,
            k=iwae_k,
            seed=seed + 104,
            n_elbo_samples=score_samples,
            device=device,
            progress=progress,
        )

    def nats_bits(nll: np.ndarray) -> dict[str, float]:
        m = float(nll.mean())
        se = float(nll.std(ddof=1) / math.sqrt(len(nll))) if len(nll) > 1 else float("nan")
        return {"nats": m, "stderr_nats": se, "bits_per_dim": nats_to_bits_per_dim(m)}

    anomaly = anomaly_report(s_val, s_test, s_kmnist)
    report: dict[str, Any] = {
        "model": {
            "kind": "ConvVAE",
            "latent_dim": latent_dim,
            "parameters": sum(p.numel() for p in model.parameters()),
            "kl_term": "klmath.gaussian_kl_diag(mean, var, 0, 1)",
            "decoder": "Bernoulli",
        },
        "data": {
            "binarisation": "dynamic (x ~ Bern(pixel/255)) for training; one fixed-seed "
            "binarisation per evaluation set",
            "n_train": len(train),
            "n_validation": len(val),
            "n_test": len(test),
            "n_kmnist": len(kmnist),
            "validation_split": f"models.autoencoder.split_indices(60000, {n_val}, seed={seed}): "
            "the autoencoder's validation set, never trained on",
        },
        "training": {
            "epochs": len(history),
            "batch_size": batch_size,
            "optimizer": "Adam 1e-3",
            "seconds": t_train["seconds"],
            "history": history,
        },
        "test_nll_elbo": {
            **nats_bits(s_test),
            "z_samples_per_image": score_samples,
            "note": "−ELBO, an upper bound on −log p(x)",
        },
        "iw_bound": {
            **nats_bits(-iw),
            "k": iwae_k,
            "subset": f"MNIST test images 0..{len(subset) - 1} (canonical order)",
            "n_images": len(subset),
            "elbo_same_subset_nats": float(-elbo_subset.mean()),
            "seconds": t_iw["seconds"],
            "paper_reference_nats": IWAE_PAPER_VAE_NATS,
            "note": "−L_k, an upper bound on −log p(x); IWAE paper's one-layer VAE: "
            f"{IWAE_PAPER_VAE_NATS} nats after 3280 epochs (here: {len(history)} epochs)",
        },
        "anomaly": {"score": "−ELBO (nats)", **anomaly},
        "anomaly_autoencoder": _autoencoder_summary(ae_report) if ae_report else None,
        "eval_seconds": t_eval["seconds"],
        "meta": run_metadata(device),
        "seed": seed,
    }
    write_json(out / "report.json", report)

    # Plots: samples from the prior, reconstructions, curves, score histograms.
    model.eval()
    with torch.no_grad():
        g = torch.Generator().manual_seed(seed + 7)
        z = torch.randn(64, latent_dim, generator=g).to(device)
        samples = torch.sigmoid(model.decode(z)).squeeze(1).cpu().numpy()
        x = binarize(test[:16], g).to(device)
        mean, _ = model.encode(x)
        recon = torch.sigmoid(model.decode(mean)).squeeze(1).cpu().numpy()
    _plot_grid(samples, out / "samples.png", "VAE samples (Bernoulli means), z ~ N(0, I)", 8)
    pairs = np.concatenate([x.squeeze(1).cpu().numpy(), recon])
    _plot_grid(
        pairs,
        out / "reconstructions.png",
        "top: binarised test images; bottom: reconstruction (Bernoulli means at z = μ(x))",
        2,
    )
    _plot_curves(history, out / "training.png")
    _plot_scores(s_val, s_test, s_kmnist, float(anomaly["threshold"]), out / "anomaly_scores.png")
    return report


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point (``python -m models.vae``)."""
    from models.data import add_data_root_argument

    parser = argparse.ArgumentParser(
        description="VAE on binarised MNIST (default) or the exact linear-Gaussian VAE (--linear)."
    )
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--linear", action="store_true", help="run the exact linear-Gaussian VAE")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda if any)")
    add_data_root_argument(parser)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--iwae-k", type=int, default=5000, help="importance samples (5000)")
    parser.add_argument(
        "--iwae-subset",
        type=int,
        default=100,
        help="first N MNIST test images for the k-sample bound (100)",
    )
    parser.add_argument("--latent-dim", type=int, default=32)
    parser.add_argument("--n-train", type=int, default=None, help="cut the training set (smoke)")
    parser.add_argument("--n-validation", type=int, default=10000, help="validation images")
    parser.add_argument("--n-test", type=int, default=None, help="cut the test sets (smoke)")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    parser.add_argument(
        "--ae-report",
        type=Path,
        default=None,
        help="the autoencoder's report.json, to copy its anomaly numbers next to the VAE's",
    )
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    if args.linear:
        from models.vae_linear import run_linear

        report = run_linear(args.out, seed=args.seed, progress=not args.no_progress)
        print(f"wrote {args.out / 'report.json'}")
        return 0
    report = run_mnist(
        args.out,
        data_root=args.data_root,
        epochs=args.epochs,
        seed=args.seed,
        iwae_k=args.iwae_k,
        iwae_subset=args.iwae_subset,
        latent_dim=args.latent_dim,
        n_train=args.n_train,
        n_val=args.n_validation,
        n_test=args.n_test,
        device=pick_device(args.device),
        resume=args.resume,
        ae_report=args.ae_report,
        progress=not args.no_progress,
    )
    print(
        f"test −ELBO {report['test_nll_elbo']['nats']:.2f} nats; "
        f"−L_{args.iwae_k} {report['iw_bound']['nats']:.2f} nats "
        f"({report['iw_bound']['bits_per_dim']:.4f} bits/dim) on {report['iw_bound']['n_images']} "
        f"images; anomaly AUROC {report['anomaly']['auroc']:.4f}"
    )
    print(f"wrote {args.out / 'report.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
