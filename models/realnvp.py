r"""RealNVP: a stack of :class:`klmath.AffineCoupling` layers trained by maximum likelihood.

The flow maps data x to latent z = f(x) through couplings with alternating masks and scores
x by the change of variables with a standard normal base,

.. math:: \log q(x) = \log \mathcal N(f(x); 0, I) + \sum_\ell \mathbf 1^\top s_\ell(\cdot),

each layer's log-determinant coming from the coupling itself (seed problem 3).

Toy 2-D densities (``--dataset moons|rings|checkerboard``), drawn with NumPy and built so
that their density p is known exactly:

* ``moons``: two half circles, each an equal mixture of 100 isotropic Gaussians
  (σ = 0.1) with centres evenly spaced along the arc;
* ``rings``: three concentric circles (radii 0.6, 1.3, 2.0, mass ∝ radius), each a mixture
  of Gaussians (σ = 0.08) with centres every ~0.03 along the circle;
* ``checkerboard``: uniform on the 8 dark unit squares of a 4 × 4 board on [-2, 2]².

In 2-D a mask must select one coordinate, so the masks alternate (1, 0), (0, 1), ...
(``--masks checkerboard``) or pick a random coordinate per layer (``--masks random``). The
report holds the test negative log-likelihood in nats and KL(p ‖ q) estimated with
:func:`klmath.mc_kl` from draws of the true p; KL = NLL − H(p) is checked alongside.

MNIST (``--dataset mnist``) is modelled in logit space. Bits per dimension are an honest
upper bound on the discrete model's code length, accounted as follows for pixel values
k ∈ {0..255}^D, D = 784:

1. Dequantise: v = k + u, u ~ U[0, 1)^D. For any density p on [0, 256)^D, P(k) =
   ∫_{[0,1)^D} p(k + u) du ≥ exp E_u log p(k + u) (Jensen), so −E_u log₂ p(k + u) / D
   bounds the bits per dimension of the discrete model from above.
2. Scale: x = v / 256 ∈ [0, 1): log p_V(v) = log p_X(x) − D log 256.
3. Logit: y = logit(α + (1 − 2α) x), α = 0.05, so
   log p_X(x) = log p_Y(y) + Σ_i [log(1 − 2α) − log s_i − log(1 − s_i)], s = σ(y),
   with log s = −softplus(−y) and log(1 − s) = −softplus(y) (no cancellation).
4. Flow: log p_Y(y) = log N(f(y); 0, I) + Σ log-dets.

bits/dim = −log p_V(v) / (D ln 2), averaged over the MNIST test set with one fixed-seed
dequantisation draw per image (training uses fresh noise every step).

Run: ``python -m models.realnvp [--dataset moons] [--layers 8] [--epochs 40] [--seed 0]
--out results/realnvp_moons``; ``--dataset mnist [--layers 6 --epochs 3]`` for MNIST.
Writes ``checkpoint.pt``, PNG plots and ``report.json`` in ``--out``.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
from scipy.special import logsumexp
from torch import Tensor, nn
from tqdm import tqdm

from klmath import AffineCoupling, mc_kl
from models._common import (
    pick_device,
    run_metadata,
    seed_everything,
    timer,
    write_json,
)
from models.data import add_data_root_argument, load_dataset

TOY_DATASETS = ("moons", "rings", "checkerboard")
LOGIT_ALPHA = 0.05


# --- toy densities with an exact log density ----------------------------------------------


@dataclass(frozen=True)
class GaussianMixture2D:
    """Equal-variance isotropic Gaussian mixture in 2-D: exact sampling and log density."""

    name: str
    centers: np.ndarray  # (M, 2)
    weights: np.ndarray  # (M,), sums to 1
    sigma: float

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """n draws, shape (n, 2), float64."""
        idx = rng.choice(len(self.weights), size=n, p=self.weights)
        return self.centers[idx] + self.sigma * rng.standard_normal((n, 2))

    def log_prob(self, x: Any) -> np.ndarray:
        """log p(x) for x of shape (..., 2), by logsumexp over the components."""
        x = np.asarray(x, dtype=np.float64)
        flat = x.reshape(-1, 2)
        log_w = np.log(self.weights) - math.log(2 * math.pi * self.sigma**2)
        out = np.empty(len(flat))
        # Chunks of 4096 points keep the (points × components) table near 30 MB.
        for i in range(0, len(flat), 4096):
            sq = ((flat[i : i + 4096, None, :] - self.centers) ** 2).sum(-1)
            out[i : i + 4096] = logsumexp(log_w - sq / (2 * self.sigma**2), axis=-1)
        return out.reshape(x.shape[:-1])


@dataclass(frozen=True)
class Checkerboard2D:
    """Uniform density 1/8 on the dark squares of a 4 × 4 unit board on [-2, 2]²."""

    name: str = "checkerboard"

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        col = rng.integers(0, 4, size=n)
        row = 2 * rng.integers(0, 2, size=n) + (col % 2)  # dark: (row + col) even
        return np.stack([col, row], axis=-1) - 2.0 + rng.random((n, 2))

    def log_prob(self, x: Any) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        cell = np.floor(x + 2.0)
        inside = np.all((cell >= 0) & (cell <= 3), axis=-1)
        dark = (cell.sum(-1) % 2) == 0
        return np.where(inside & dark, -math.log(8.0), -np.inf)


def toy_density(name: str) -> GaussianMixture2D | Checkerboard2D:
    """The true density of a toy dataset (see the module docstring)."""
    if name == "moons":
        theta = np.linspace(0.0, math.pi, 100)
        upper = np.stack([np.cos(theta), np.sin(theta)], -1)
        lower = np.stack([1.0 - np.cos(theta), 0.5 - np.sin(theta)], -1)
        centers = np.concatenate([upper, lower]) - np.array([0.5, 0.25])
        return GaussianMixture2D("moons", centers, np.full(200, 1 / 200), 0.1)
    if name == "rings":
        parts, weights = [], []
        for radius in (0.6, 1.3, 2.0):
            m = int(2 * math.pi * radius / 0.03)
            theta = np.linspace(0.0, 2 * math.pi, m, endpoint=False)
            parts.append(radius * np.stack([np.cos(theta), np.sin(theta)], -1))
            weights.append(np.full(m, radius / m))
        w = np.concatenate(weights)
        return GaussianMixture2D("rings", np.concatenate(parts), w / w.sum(), 0.08)
    if name == "checkerboard":
        return Checkerboard2D()
    raise ValueError(f"dataset must be one of {(*TOY_DATASETS, 'mnist')}, got {name!r}")


# --- the flow ------------------------------------------------------------------------------


def mlp(d_in: int, hidden: int, d_out: int) -> nn.Sequential:
    """Two hidden layers; the last layer starts at zero so each coupling starts as identity."""
    net = nn.Sequential(
        nn.Linear(d_in, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(),
        nn.Linear(hidden, d_out),
    )  # fmt: skip
    nn.init.zeros_(net[-1].weight)
    nn.init.zeros_(net[-1].bias)
    return net


def make_masks(dim: int, layers: int, kind: str, gen: torch.Generator) -> list[Tensor]:
    """Masks per layer: ``checkerboard`` alternates a parity pattern and its complement;
    ``random`` draws an independent half (one coordinate in 2-D) per layer."""
    if kind == "checkerboard":
        if dim == 784:
            i, j = torch.meshgrid(torch.arange(28), torch.arange(28), indexing="ij")
            base = ((i + j) % 2 == 0).flatten()
        else:
            base = torch.arange(dim) % 2 == 0
        return [base if ell % 2 == 0 else ~base for ell in range(layers)]
    if kind == "random":
        out = []
        for _ in range(layers):
            mask = torch.zeros(dim, dtype=torch.bool)
            mask[torch.randperm(dim, generator=gen)[: dim // 2]] = True
            out.append(mask)
        return out
    raise ValueError(f"masks must be 'checkerboard' or 'random', got {kind!r}")


class RealNVP(nn.Module):
    """x ↦ z through AffineCoupling layers, with a standard normal base density."""

    def __init__(self, masks: list[Tensor], hidden: int, clamp: float | None) -> None:
        super().__init__()
        self.dim = int(masks[0].shape[0])
        self.layers = nn.ModuleList()
        for mask in masks:
            k = int(mask.sum())
            self.layers.append(
                AffineCoupling(
                    mask, mlp(k, hidden, self.dim - k), mlp(k, hidden, self.dim - k), clamp=clamp
                )
            )

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Return (z, Σ log-dets), shapes (..., dim) and (...)."""
        log_det = x.new_zeros(x.shape[:-1])
        for layer in self.layers:
            x, ld = layer(x)
            log_det = log_det + ld
        return x, log_det

    def log_prob(self, x: Tensor) -> Tensor:
        """log q(x) = log N(f(x); 0, I) + log|det ∂f/∂x|, shape (...)."""
        z, log_det = self(x)
        base = -0.5 * (z.square().sum(-1) + self.dim * math.log(2 * math.pi))
        return base + log_det

    @torch.no_grad()
    def sample(self, n: int, gen: torch.Generator | None = None) -> Tensor:
        """n draws x = f⁻¹(z), z ~ N(0, I), shape (n, dim)."""
        p = next(self.parameters())
        z = torch.randn(n, self.dim, generator=gen, dtype=p.dtype).to(p.device)
        for layer in reversed(self.layers):
            z = layer.inverse(z)
        return z


class FlowDensity:
    """Adapter exposing a trained flow's log density to :func:`klmath.mc_kl` (NumPy in/out)."""

    def __init__(self, flow: RealNVP, device: torch.device) -> None:
        self.flow, self.device = flow, device

    @torch.no_grad()
    def log_prob(self, x: Any) -> np.ndarray:
        t = torch.as_tensor(np.asarray(x), dtype=torch.float32, device=self.device)
        return self.flow.log_prob(t).double().cpu().numpy()


# --- training --------------------------------------------------------------------------------


def train(
    flow: RealNVP,
    batches: Any,
    steps: int,
    lr: float,
    loss_fn: Any,
    desc: str,
) -> list[float]:
    """Adam with cosine-decayed learning rate; returns the loss per step."""
    opt = torch.optim.Adam(flow.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    losses = []
    bar = tqdm(range(steps), desc=desc, mininterval=1.0)
    for _ in bar:
        loss = loss_fn(next(batches))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(flow.parameters(), 100.0)
        opt.step()
        sched.step()
        losses.append(loss.item())
        bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
    return losses


def _epoch_batches(data: Tensor, batch: int, gen: torch.Generator) -> Any:
    while True:
        perm = torch.randperm(data.shape[0], generator=gen)
        for i in range(0, data.shape[0] - batch + 1, batch):
            yield data[perm[i : i + batch]]


def run_toy(args: argparse.Namespace, device: torch.device, gen: torch.Generator) -> dict:
    true = toy_density(args.dataset)
    rng = np.random.default_rng(args.seed)
    x_train = torch.tensor(true.sample(args.n_train, rng), dtype=torch.float32)
    x_test = true.sample(args.n_test, rng)
    masks = make_masks(2, args.layers, args.masks, gen)
    flow = RealNVP(masks, args.hidden, args.clamp).to(device)
    steps = args.epochs * (args.n_train // args.batch)
    batches = (b.to(device) for b in _epoch_batches(x_train, args.batch, gen))
    with timer() as t:
        losses = train(flow, batches, steps, args.lr, lambda b: -flow.log_prob(b).mean(), "fit")
    flow.eval()
    with torch.no_grad():
        lq = flow.log_prob(torch.tensor(x_test, dtype=torch.float32, device=device))
        lq = lq.double().cpu().numpy()
    lp = true.log_prob(x_test)
    nll = -lq.mean()
    kl = mc_kl(true, FlowDensity(flow, device), args.n_kl, estimator="k1", seed=args.seed)
    # k1 (the plain mean of log p - log q), not k3: a flow has mass everywhere, also where
    # p has almost none, which biases k3 (mc_kl warns) and gives it heavy tails.
    torch.save({"state_dict": flow.state_dict(), "args": vars(args)}, args.out / "checkpoint.pt")
    plot_toy(flow, true, x_test, device, gen, args.out / f"realnvp_{args.dataset}.png")
    plot_losses(losses, "NLL (nats)", args.out / "loss.png")
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
        "train_seconds": t["seconds"],
        "steps": steps,
        "final_train_loss": losses[-1],
    }


def mnist_log_prob_bits(flow: RealNVP, pixels: Tensor, gen: torch.Generator | None) -> Tensor:
    """−log₂ p_V(k + u) / D per image, the accounting of the module docstring (steps 1-4)."""
    d = pixels.shape[-1]
    u = torch.rand(pixels.shape, generator=gen, dtype=torch.float32).to(pixels.device)
    x = (pixels + u) / 256.0
    y = torch.logit(LOGIT_ALPHA + (1 - 2 * LOGIT_ALPHA) * x)
    log_dy_dx = (
        math.log(1 - 2 * LOGIT_ALPHA) + nn.functional.softplus(-y) + nn.functional.softplus(y)
    )
    log_p_v = flow.log_prob(y) + log_dy_dx.sum(-1) - d * math.log(256.0)
    return -log_p_v / (d * math.log(2.0))


def run_mnist(args: argparse.Namespace, device: torch.device, gen: torch.Generator) -> dict:
    train_x = torch.tensor(load_dataset("mnist", "train", args.data_root)[0], dtype=torch.float32)
    test_x = torch.tensor(load_dataset("mnist", "test", args.data_root)[0], dtype=torch.float32)
    train_x, test_x = train_x.reshape(-1, 784), test_x.reshape(-1, 784)
    masks = make_masks(784, args.layers, args.masks, gen)
    flow = RealNVP(masks, args.hidden, args.clamp).to(device)
    steps = args.epochs * (train_x.shape[0] // args.batch)
    batches = (b.to(device) for b in _epoch_batches(train_x, args.batch, gen))
    with timer() as t:
        losses = train(
            flow,
            batches,
            steps,
            args.lr,
            lambda b: mnist_log_prob_bits(flow, b, gen).mean(),
            "fit mnist",
        )
    flow.eval()
    test_gen = torch.Generator().manual_seed(args.seed + 1)
    with torch.no_grad():
        bpd = torch.cat(
            [
                mnist_log_prob_bits(flow, test_x[i : i + 1000].to(device), test_gen).cpu()
                for i in range(0, test_x.shape[0], 1000)
            ]
        ).double()
    torch.save({"state_dict": flow.state_dict(), "args": vars(args)}, args.out / "checkpoint.pt")
    plot_mnist_samples(flow, gen, args.out / "realnvp_mnist_samples.png")
    plot_losses(losses, "bits/dim (train batch)", args.out / "loss.png")
    return {
        "test_bits_per_dim": float(bpd.mean()),
        "test_bits_per_dim_stderr": float(bpd.std() / math.sqrt(len(bpd))),
        "logit_alpha": LOGIT_ALPHA,
        "dequantisation": "uniform, one fixed-seed draw per test image (upper bound, Jensen)",
        "train_seconds": t["seconds"],
        "steps": steps,
        "final_train_bits_per_dim": losses[-1],
    }


# --- plots -----------------------------------------------------------------------------------


def plot_toy(
    flow: RealNVP,
    true: GaussianMixture2D | Checkerboard2D,
    x_test: np.ndarray,
    device: torch.device,
    gen: torch.Generator,
    path: Path,
) -> None:
    """Data | true density | learned density | flow samples | test data in z-space."""
    lim, res = 3.0, 200
    g = np.linspace(-lim, lim, res)
    grid = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
    with torch.no_grad():
        lq = flow.log_prob(torch.tensor(grid, dtype=torch.float32, device=device)).cpu().numpy()
        samples = flow.sample(len(x_test), gen).cpu().numpy()
        z = flow(torch.tensor(x_test, dtype=torch.float32, device=device))[0].cpu().numpy()
    fig, axes = plt.subplots(1, 5, figsize=(20, 4.2))
    hist = {"bins": 150, "range": [[-lim, lim], [-lim, lim]], "cmap": "viridis"}
    axes[0].hist2d(x_test[:, 0], x_test[:, 1], **hist)
    axes[0].set_title("test data")
    extent = (-lim, lim, -lim, lim)
    axes[1].imshow(np.exp(true.log_prob(grid)).reshape(res, res), origin="lower", extent=extent)
    axes[1].set_title("true density p")
    axes[2].imshow(np.exp(lq).reshape(res, res), origin="lower", extent=extent)
    axes[2].set_title("learned density q")
    axes[3].hist2d(samples[:, 0], samples[:, 1], **hist)
    axes[3].set_title("samples x = f⁻¹(z)")
    axes[4].hist2d(z[:, 0], z[:, 1], bins=100, range=[[-4, 4], [-4, 4]], cmap="viridis")
    axes[4].add_patch(plt.Circle((0, 0), 2.0, fill=False, color="w", ls="--"))
    axes[4].set_title("test data in z-space (2σ circle)")
    for ax in axes:
        ax.set_aspect("equal")
    fig.suptitle(f"RealNVP ({len(flow.layers)} couplings) on {true.name}")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def plot_losses(losses: list[float], label: str, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(losses, lw=0.6)
    ax.set_xlabel("step")
    ax.set_ylabel(label)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def plot_mnist_samples(flow: RealNVP, gen: torch.Generator, path: Path) -> None:
    """64 samples, mapped back from logit space to [0, 1]."""
    y = flow.sample(64, gen).cpu()
    x = ((torch.sigmoid(y) - LOGIT_ALPHA) / (1 - 2 * LOGIT_ALPHA)).clamp(0, 1)
    grid = x.reshape(8, 8, 28, 28).permute(0, 2, 1, 3).reshape(8 * 28, 8 * 28).numpy()
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.imshow(grid, cmap="gray")
    ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


# --- entry point -----------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m models.realnvp", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--dataset", default="moons", choices=[*TOY_DATASETS, "mnist"])
    parser.add_argument("--layers", type=int, default=None, help="couplings (8 toy, 6 mnist)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs (40 toy, 3 mnist)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="output folder")
    parser.add_argument("--masks", default="checkerboard", choices=["checkerboard", "random"])
    parser.add_argument("--hidden", type=int, default=None, help="hidden width (64 toy, 256 mnist)")
    parser.add_argument("--batch", type=int, default=None, help="batch size (256)")
    parser.add_argument("--lr", type=float, default=None, help="Adam learning rate")
    parser.add_argument("--clamp", type=float, default=3.0, help="soft clamp of s (0: none)")
    parser.add_argument("--n-train", type=int, default=10_000, help="toy training points")
    parser.add_argument("--n-test", type=int, default=20_000, help="toy test points")
    parser.add_argument("--n-kl", type=int, default=100_000, help="draws of p for mc_kl")
    parser.add_argument("--device", default=None, help="cpu / cuda (default: cuda if any)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default 1)")
    add_data_root_argument(parser)
    args = parser.parse_args(argv)
    mnist = args.dataset == "mnist"
    defaults = {"layers": (8, 6), "epochs": (40, 3), "hidden": (64, 256), "batch": (256, 256)}
    defaults["lr"] = (3e-3, 1e-3)
    for key, (toy, big) in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, big if mnist else toy)
    args.clamp = args.clamp or None
    args.out = args.out or Path("results") / f"realnvp_{args.dataset}"
    return args


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    # One CPU thread unless asked: on a shared 2-core machine two threads ran 17x (toy) to
    # 40x (MNIST) slower per step than one, spinning on each other.
    torch.set_num_threads(args.threads or 1)
    gen = seed_everything(args.seed)
    device = pick_device(args.device)
    with timer() as t:
        result = (run_mnist if args.dataset == "mnist" else run_toy)(args, device, gen)
    report = {
        "model": "realnvp",
        "dataset": args.dataset,
        "settings": {k: v for k, v in vars(args).items() if k not in {"out", "data_root"}},
        **result,
        "seconds": t["seconds"],
        "meta": run_metadata(device),
    }
    write_json(args.out / "report.json", report)
    keys = ("test_nll_nats", "kl_p_q", "test_bits_per_dim", "seconds")
    print({k: report[k] for k in keys if k in report})
    return report


if __name__ == "__main__":
    main()
