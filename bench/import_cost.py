"""What ``import klmath`` costs, beside ``import torch.distributions`` and ``import scipy.stats``.

    python bench/import_cost.py [--rounds 7] [--no-record]

Each candidate runs in a fresh interpreter (``python -c CODE``), the candidates
interleaved round by round in a shuffled order, so load on a shared machine hits
them alike. Two times per run:

* ``import s``: the statement alone, timed inside the child (``perf_counter``
  around it): what the import itself costs;
* ``wall s``: the whole ``python -c`` command, interpreter start included: what a
  user waits for. ``python -c pass`` is the floor.

and which of torch, SymPy and scipy.stats the statement left in ``sys.modules``.
Target (issue 17): ``import klmath`` under 0.5 s wall, without torch. The record
``docs/results/import_cost.json`` keeps the median with the interquartile range
over the rounds (the README's table is rendered from it) unless ``--no-record``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from klmath._records import write_record

ROOT = Path(__file__).resolve().parents[1]
TARGET_S = 0.5
HEAVY = ("torch", "sympy", "scipy.stats")
CANDIDATES = {
    "python -c pass": "pass",
    "import numpy": "import numpy",
    "import klmath": "import klmath",
    "from klmath import gaussian_kl, kl, mc_kl": "from klmath import gaussian_kl, kl, mc_kl",
    "import torch.distributions": "import torch.distributions",
    "import scipy.stats": "import scipy.stats",
    "import klmath; gaussian_kl(NumPy arrays), first call": (
        "import numpy as np, klmath\n"
        "klmath.gaussian_kl(np.zeros(2), np.eye(2), np.ones(2), np.eye(2))"
    ),
}
PROOFS_HELP = "python -m klmath.proofs --help"

CHILD = """
import json, sys, time
start = time.perf_counter()
{code}
seconds = time.perf_counter() - start
print(json.dumps({{"seconds": seconds, "loaded": [m for m in {heavy!r} if m in sys.modules]}}))
"""


def run_once(name: str) -> dict[str, Any]:
    """One fresh interpreter: wall seconds, statement seconds and heavy modules loaded."""
    if name == PROOFS_HELP:
        args = [sys.executable, "-m", "klmath.proofs", "--help"]
    else:
        args = [sys.executable, "-c", CHILD.format(code=CANDIDATES[name], heavy=HEAVY)]
    start = time.perf_counter()
    out = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    if name == PROOFS_HELP:
        return {"wall": wall}
    child = json.loads(out.stdout.strip().splitlines()[-1])
    return {"wall": wall, "import": child["seconds"], "loaded": child["loaded"]}


def spread(values: list[float]) -> dict[str, float]:
    """Median, quartiles and minimum of ``values``, in seconds."""
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return {"median": median, "q1": q1, "q3": q3, "min": min(values), "n": len(values)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seed", type=int, default=0, help="seed of the shuffled order")
    parser.add_argument("--no-record", action="store_true", help="print only, write no record")
    args = parser.parse_args(argv)
    names = [*CANDIDATES, PROOFS_HELP]
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    order = random.Random(args.seed)
    load_before = os.getloadavg()[0]
    for name in names:  # warm the file cache once
        run_once(name)
    for _ in range(args.rounds):
        order.shuffle(names)
        for name in names:
            runs[name].append(run_once(name))
    results = {}
    print(f"{'':<56} {'import s':>9} {'wall s':>8}  loads")
    for name in [*CANDIDATES, PROOFS_HELP]:
        row: dict[str, Any] = {"wall": spread([r["wall"] for r in runs[name]])}
        if name != PROOFS_HELP:
            row["import"] = spread([r["import"] for r in runs[name]])
            row["loaded"] = sorted({m for r in runs[name] for m in r["loaded"]})
        results[name] = row
        imp = f"{row['import']['median']:.3f}" if "import" in row else "-"
        print(
            f"{name:<56} {imp:>9} {row['wall']['median']:>8.3f}  {', '.join(row.get('loaded', []))}"
        )
    met = (
        results["import klmath"]["wall"]["median"] < TARGET_S
        and not results["import klmath"]["loaded"]
    )
    print(f"\nimport klmath under {TARGET_S} s wall without torch: {'yes' if met else 'NO'}")
    if not args.no_record:
        path = write_record(
            "import_cost",
            {
                "candidates": results,
                "target_s": TARGET_S,
                "target_met": met,
                "rounds": args.rounds,
                "load_average_1min": {"before": load_before, "after": os.getloadavg()[0]},
            },
            command="python bench/import_cost.py",
            notes="Seconds: median and quartiles over rounds, each a fresh interpreter. "
            "The checkout's editable install adds its import hook to every klmath import.",
        )
        print(f"record: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
