"""How many CPU threads each model should use: the same short workload with 1 and 2 threads.

Each model's workload (a slice of its real training step) runs with 1 thread and
with 2, interleaved, best of ``--repeats``; the ratio t(2)/t(1) > 1 means one thread
is faster. Results go to the record ``models_threads`` (``--record``). The models'
``--threads`` default is chosen from it.

    python bench/models_threads.py [--repeats 3] [--record]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.anomaly.networks import DenseAutoencoder
from models.flows.flow1d import init_flow, sample_data
from models.flows.realnvp import RealNVP, make_masks, toy_density
from models.vae.conv import ConvVAE, binarize, iw_bound
from models.vae.linear import sample_ppca_data
from models.vae.linear_run import train_linear_vae


def _adam_steps(model: torch.nn.Module, batches: list, loss: Callable) -> Callable[[], None]:
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def run() -> None:
        for b in batches:
            opt.zero_grad()
            loss(b).backward()
            opt.step()

    return run


def workloads() -> dict[str, Callable[[], None]]:
    """Name -> a function running a few real training steps of that model."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    ae = DenseAutoencoder()
    images = torch.rand(20 * 128, 28, 28, generator=g)
    ae_run = _adam_steps(ae, list(images.split(128)), lambda b: ((ae(b) - b) ** 2).sum())
    vae = ConvVAE()
    pix = (torch.rand(20 * 128, 1, 28, 28, generator=g) * 255).to(torch.uint8)
    vae_run = _adam_steps(
        vae, [binarize(b, g) for b in pix.split(128)], lambda b: -vae.elbo(b)[0].mean()
    )
    x10 = binarize(pix[:10], g)
    nvp = RealNVP(make_masks(2, 8, "checkerboard", g), 64, 3.0)
    toy = torch.tensor(toy_density("moons").sample(40 * 256, np.random.default_rng(0)))
    nvp_run = _adam_steps(nvp, list(toy.float().split(256)), lambda b: -nvp.log_prob(b).mean())
    data = sample_data(20000, g)
    flow = init_flow(data, 5, fixed=False, init="quantile", generator=g, device=torch.device("cpu"))
    flow_run = _adam_steps(flow, list(data.split(4000)) * 5, lambda b: -flow.log_prob(b).mean())
    x_lin, _ = sample_ppca_data(500, 8, 3)
    return {
        "autoencoder (20 Adam steps, batch 128)": ae_run,
        "vae_mnist (20 Adam steps, batch 128)": vae_run,
        "vae_mnist IWAE (k = 1000, 10 images)": lambda: iw_bound(vae, x10, 1000),
        "realnvp_moons (40 Adam steps, batch 256)": nvp_run,
        "flow1d (25 Adam steps, batch 4000)": flow_run,
        "vae_linear (100 Adam steps, no L-BFGS)": lambda: train_linear_vae(
            x_lin, 3, steps=100, polish_steps=0, threads=None
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--record", action="store_true", help="write the record models_threads")
    args = parser.parse_args(argv)
    best: dict[str, dict[int, float]] = {}
    for name, run in workloads().items():
        best[name] = {1: float("inf"), 2: float("inf")}
        for _ in range(args.repeats):
            for threads in (1, 2):
                torch.set_num_threads(threads)
                t0 = time.perf_counter()
                run()
                best[name][threads] = min(best[name][threads], time.perf_counter() - t0)
    print("| workload | 1 thread s | 2 threads s | 2 / 1 |")
    print("|---|---:|---:|---:|")
    for name, t in best.items():
        print(f"| {name} | {t[1]:.3f} | {t[2]:.3f} | {t[2] / t[1]:.2f} |")
    if args.record:
        import os

        from klmath._records import write_record

        write_record(
            "models_threads",
            {
                "workloads": {
                    name: {
                        "seconds_1_thread": t[1],
                        "seconds_2_threads": t[2],
                        "ratio_2_over_1": t[2] / t[1],
                    }
                    for name, t in best.items()
                },
                "repeats": args.repeats,
                "load_average_1min_at_end": os.getloadavg()[0],
            },
            command="python bench/models_threads.py --record",
            notes="best of interleaved repeats; the machine is shared, see the load average",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
