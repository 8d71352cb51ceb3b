"""Overhead of klmath.AffineCoupling over calling its scale/shift nets directly.

For a batch of 4096 × 64 (float32, random mask with |Ω| = 32) and tanh MLPs of a few
widths, times, in the same process and interleaved round by round:

* ``nets``: ``scale(x_a)`` and ``shift(x_a)`` on a pre-split input: the floor.
* ``by hand``: a fixed half split coded directly (slices, exp, mul, add, cat, sum),
  what one writes without a general mask.
* ``AffineCoupling``: forward, inverse, and forward + backward (training step).

and prints the ratios. Target: AffineCoupling forward ≤ 1.10 × nets.
Run: ``python bench/coupling.py [--batch 4096] [--dim 64] [--rounds 20] [--no-record]``.

Each ratio is taken round by round (both sides of a round run back to back, so
the load they share cancels) and summarized by its median and quartiles over the
rounds; the best time over the best time is kept too. Times are the best round.
The results go to the record ``docs/results/bench_coupling.json`` unless
``--no-record`` is given.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from klmath import AffineCoupling
from klmath._records import write_record

TARGET = 1.10  # AffineCoupling forward / nets


def mlp(d_in: int, hidden: int, d_out: int, depth: int) -> nn.Sequential:
    widths = [d_in, *[hidden] * depth, d_out]
    layers: list[nn.Module] = []
    for a, b in itertools.pairwise(widths):
        layers += [nn.Linear(a, b), nn.Tanh()]
    return nn.Sequential(*layers[:-1])


def round_times(fns: dict[str, Callable[[], object]], rounds: int) -> dict[str, list[float]]:
    """Seconds per call in each of ``rounds`` rounds, the candidates interleaved round by round.

    Read the minimum, not the median: on a shared machine other load only ever adds
    time, so the fastest round is the best estimate of the cost itself.
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
    return samples


def measure(
    mask: torch.Tensor, x: torch.Tensor, hidden: int, depth: int, rounds: int
) -> dict[str, list[float]]:
    """Seconds per round for the nets alone, by hand, and AffineCoupling."""
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
        t = round_times(
            {
                "nets": nets,
                "by_hand": lambda: by_hand(x),
                "forward": lambda: layer(x),
                "inverse": lambda: layer.inverse(z),
            },
            rounds,
        )
    t.update(round_times({"train": train_coupling, "train_hand": train_by_hand}, rounds))
    return t


RATIOS = {  # column: (numerator, denominator)
    "by_hand/nets": ("by_hand", "nets"),
    "forward/nets": ("forward", "nets"),
    "inverse/nets": ("inverse", "nets"),
    "train: coupling/by_hand": ("train", "train_hand"),
}


def summarize(t: dict[str, list[float]]) -> dict[str, Any]:
    """Best ms per candidate; each ratio's per-round median and quartiles, and best/best."""
    out: dict[str, Any] = {"ms": {k: 1e3 * min(v) for k, v in t.items()}, "ratios": {}}
    for column, (num, den) in RATIOS.items():
        per_round = [a / b for a, b in zip(t[num], t[den], strict=True)]
        q1, median, q3 = statistics.quantiles(per_round, n=4, method="inclusive")
        out["ratios"][column] = {
            "median": median,
            "q1": q1,
            "q3": q3,
            "best/best": min(t[num]) / min(t[den]),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=4096)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--no-record", action="store_true", help="print only, write no record")
    parser.add_argument("--note", default="", help="added to the record's notes (how it was run)")
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
        f"{args.rounds} interleaved rounds; ms: best round, ratios: median of the per-round ratio"
    )
    print()
    header = (
        "| nets (hidden x depth) | nets ms | by hand / nets | forward / nets "
        "| inverse / nets | fwd+bwd: coupling / by hand |"
    )
    print(header)
    print("|---|---|---|---|---|---|")
    results = []
    load_before = os.getloadavg()[0]
    for hidden, depth in [(64, 1), (256, 2), (512, 2)]:
        row = summarize(measure(mask, x, hidden, depth, args.rounds))
        r = row["ratios"]
        print(
            f"| {hidden} x {depth} | {row['ms']['nets']:.2f} | {r['by_hand/nets']['median']:.3f} "
            f"| {r['forward/nets']['median']:.3f} | {r['inverse/nets']['median']:.3f} "
            f"| {r['train: coupling/by_hand']['median']:.3f} |"
        )
        results.append({"hidden": hidden, "depth": depth, **row})
    print()
    print("Ratios > 1 are overhead: 1.05 means 5 % slower than the reference column.")
    if not args.no_record:
        settings = {k: getattr(args, k) for k in ("batch", "dim", "rounds", "seed", "threads")}
        path = write_record(
            "bench_coupling",
            {
                "settings": {**settings, "dtype": "float32", "target": TARGET},
                "nets": results,
                "load_average_1min": {"before": load_before, "after": os.getloadavg()[0]},
            },
            command="python bench/coupling.py",
            notes="ms: best round; ratios: median and q1-q3 of the per-round ratio. " + args.note,
        )
        print(f"record: {path}")


if __name__ == "__main__":
    main()
