"""``pytest --device D`` runs the suite on D, or stops with a usage error naming the option."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import device_problem

ROOT = Path(__file__).resolve().parent.parent


def test_cpu_is_always_usable() -> None:
    assert device_problem("cpu") is None


@pytest.mark.parametrize("value", ["nonsense", "gpu", ""])
def test_a_name_that_is_no_torch_device_is_named_in_the_error(value: str) -> None:
    assert f"--device {value!r} is not a torch device" in str(device_problem(value))


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda_stops_the_whole_run() -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--device",
            "cuda",
            "tests/test_conftest_device.py",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == pytest.ExitCode.USAGE_ERROR, out.stdout + out.stderr
    assert "--device 'cuda': this machine has no usable cuda device" in out.stderr
    assert "passed" not in out.stdout
