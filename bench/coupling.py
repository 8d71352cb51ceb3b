"""Overhead of klmath.AffineCoupling over calling its scale/shift nets directly.

For a batch of 4096 × 64 (float32, random mask with |Ω| = 32) and tanh MLPs of a few
widths, times, in the same process and interleaved round by round:

* ``nets``: ``scale(x_a)`` and ``shift(x_a)`` on a pre-split input: the floor.
* ``by hand``: a fixed half split coded directly (slices, exp, mul, add, cat, sum),
  what one writes without a general mask.
* ``AffineCoupling``: forward, inverse, and forward + backward (training step).

and prints the ratios. Target: AffineCoupling forward ≤ 1.10 × nets.
Run: ``python bench/coupling.py [--batch 4096] [--dim 64] [--rounds 20]``.
"""

from __future__ import annotations

import argparse
import itertools
import time
from collections.abc import Callable

import torch
from torch import nn

from klmath import AffineCoupling


def mlp(d_in: int, hidden: int, d_out: int, depth: int) -> nn.Sequential:
    widths = [d_in, *[hidden] * depth, d_out]
    layers: list[nn.Module] = []
    for a, b in itertools.pairwise(widths):
        layers += [nn.Linear(a, b), nn.Tanh()]
    return nn.Sequential(*layers[:-1])


def best_times(fns: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Best seconds per call over ``rounds``, the candidates interleaved round by round.

    The minimum, not the median: on a shared machine other load only ever adds time, so
    the fastest round is the best estimate of the cost itself.
    """
    for fn in fns.values():  # warm-up (allocator, kernels)
        for _ in range(3):
            fn()
    samples: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - start)
    return {k: min(v) for k, v in samples.items()}


def measure(
    mask: torch.Tensor, x: torch.Tensor, hidden: int, depth: int, rounds: int
) -> dict[str, float]:
    """Best-of-``rounds`` seconds for the nets alone, by hand, and AffineCoupling."""
    n, half = mask.shape[0], int(mask.sum())
    scale, shift = mlp(half, hidden, n - half, depth), mlp(half, hidden, n - half, depth)
    layer = AffineCoupling(mask, scale, shift)
    x_a = x[:, mask].contiguous()
    z = layer(x)[0].detach()
    x_grad = x.clone().requires_grad_()

    def by_hand(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        a, b = x[:, :half], x[:, half:]
        s, t = scale(a), shift(a)
        return torch.cat([a, b * torch.exp(s) + t], -1), s.sum(-1)

    def nets() -> None:
        scale(x_a)
        shift(x_a)

    def train_coupling() -> None:
        z, ld = layer(x_grad)
        (z.square().sum() - ld.sum()).backward()

    def train_by_hand() -> None:
        z, ld = by_hand(x_grad)
        (z.square().sum() - ld.sum()).backward()

    with torch.no_grad():
        t = best_times(
            {
                "nets": nets,
                "by_hand": lambda: by_hand(x),
                "forward": lambda: layer(x),
                "inverse": lambda: layer.inverse(z),
            },
            rounds,
        )
    t.update(best_times({"train": train_coupling, "train_hand": train_by_hand}, rounds))
    return t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=4096)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    args = parser.parse_args()
    # One thread by default: on a shared machine two threads spin on each other and the
    # noise swamps a 10 % effect.
    torch.set_num_threads(args.threads)

    torch.manual_seed(args.seed)
    n, half = args.dim, args.dim // 2
    mask = torch.zeros(n, dtype=torch.bool)
    mask[torch.randperm(n)[:half]] = True
    x = torch.randn(args.batch, n)
    print(
        f"AffineCoupling overhead, batch {args.batch} x {n}, float32, |Ω| = {half} "
        f"(random mask), torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"best of {args.rounds} interleaved rounds"
    )
    print()
    header = (
        "| nets (hidden x depth) | nets ms | by hand / nets | forward / nets "
        "| inverse / nets | fwd+bwd: coupling / by hand |"
    )
    print(header)
    print("|---|---|---|---|---|---|")
    for hidden, depth in [(64, 1), (256, 2), (512, 2)]:
        t = measure(mask, x, hidden, depth, args.rounds)
        print(
            f"| {hidden} x {depth} | {1e3 * t['nets']:.2f} | {t['by_hand'] / t['nets']:.3f} "
            f"| {t['forward'] / t['nets']:.3f} | {t['inverse'] / t['nets']:.3f} "
            f"| {t['train'] / t['train_hand']:.3f} |"
        )
    print()
    print("Ratios > 1 are overhead: 1.05 means 5 % slower than the reference column.")


if __name__ == "__main__":
    main()
