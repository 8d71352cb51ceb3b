"""GPU check: the property suites on an accelerator, and its results against the CPU.

    python bench/gpu_check.py [--device cuda] [--no-record]

1. Runs the property suites (Gaussian KL, coupling, Monte Carlo, 1-D flow) with
   ``pytest --device DEVICE --dtype DTYPE`` in float64 and float32 and keeps
   pytest's counts.
2. Compares ``gaussian_kl`` and ``gaussian_kl_diag`` on the device with the CPU
   float64 values on the same seeded inputs (1000 pairs, d = 16): the largest
   relative difference in float64 and in float32.

The results go to the record ``docs/results/gpu_check_cuda.json`` (device named
in it), from which the README's GPU-check section is rendered, unless
``--no-record`` is given. Without the device, pytest stops with a usage error
and this script says so.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from klmath import gaussian_kl, gaussian_kl_diag
from klmath._records import write_record

ROOT = Path(__file__).resolve().parents[1]

SUITES = [
    "tests/test_gaussian_properties.py",
    "tests/test_coupling_properties.py",
    "tests/test_montecarlo_estimators.py",
    "tests/test_flow1d_properties.py",
]
USAGE_ERROR = 4  # pytest.ExitCode.USAGE_ERROR: e.g. --device cuda without CUDA
WHAT = "property suites for Gaussian KL, coupling, Monte Carlo and the 1-D flow"


def run_suites(device: str, dtype: str) -> dict[str, Any]:
    """pytest's outcome counts for the suites on ``device`` in ``dtype``."""
    command = ["pytest", "-q", "-p", "no:cacheprovider", "--device", device, "--dtype", dtype]
    out = subprocess.run(
        [sys.executable, "-m", *command, *SUITES], cwd=ROOT, capture_output=True, text=True
    )
    if out.returncode == USAGE_ERROR:
        raise SystemExit(f"pytest refused --device {device}: {out.stderr.strip()}")
    counts = {
        k: int(n) for n, k in re.findall(r"(\d+) (passed|failed|skipped|errors?)", out.stdout)
    }
    summary = ", ".join(f"{n} {k}" for k, n in counts.items())
    print(f"   {dtype}: {summary}", flush=True)
    return {
        "what": WHAT,
        "command": " ".join([*command, *SUITES]),
        "dtype": dtype,
        "result": summary,
        "exit_code": out.returncode,
    }


def agreement(device: str) -> dict[str, float]:
    """Largest relative difference of device results from CPU float64 ones, per dtype."""
    rng = np.random.default_rng(0)
    n, d = 1000, 16
    a = rng.standard_normal((2, n, d, d))
    covs = a @ a.transpose(0, 1, 3, 2) / d + 0.5 * np.eye(d)
    means = rng.standard_normal((2, n, d))
    variances = rng.uniform(0.2, 3.0, (2, n, d))
    full = [means[0], covs[0], means[1], covs[1]]
    diag = [means[0], variances[0], means[1], variances[1]]
    out: dict[str, float] = {}
    for name, fn, args in [("full", gaussian_kl, full), ("diag", gaussian_kl_diag, diag)]:
        reference = fn(*args)
        for dtype in (torch.float64, torch.float32):
            on_device = fn(*[torch.tensor(x, dtype=dtype, device=device) for x in args])
            values = on_device.double().cpu().numpy()
            rel = float(np.max(np.abs(values - reference) / np.abs(reference)))
            out[f"{name}_{str(dtype).removeprefix('torch.')}_max_rel"] = rel
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--no-record", action="store_true", help="print only, write no record")
    args = parser.parse_args(argv)
    dev = torch.device(args.device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: this machine has no usable CUDA device")
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else args.device
    print(f"GPU check on {args.device} ({name})")
    print(f"1. {WHAT}")
    runs = [run_suites(args.device, dtype) for dtype in ("float64", "float32")]
    print("2. device vs CPU float64, max relative difference")
    agree = agreement(args.device)
    for key, value in agree.items():
        print(f"   {key}: {value:.1e}")
    if not args.no_record:
        path = write_record(
            f"gpu_check_{dev.type}",
            {"runs": runs, "agreement": agree, "device_name": name},
            command=f"python bench/gpu_check.py --device {args.device}",
            device=f"{dev.type}: {name}",
            notes="1000 seeded pairs, d = 16; deterministic up to the device's kernels.",
        )
        print(f"record: {path}")
    return 0 if all(run["exit_code"] == 0 for run in runs) else 1


if __name__ == "__main__":
    raise SystemExit(main())
