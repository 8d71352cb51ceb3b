"""Test configuration: Hypothesis profiles, dtype and device options.

* ``CI`` set (as in ``.ci/run``): the ``ci`` profile (derandomized, no deadline,
  no example database), so a CI run is reproducible.
* ``--dtype float32`` / ``--device cuda`` rerun the suite in another dtype or
  on another device; float64 on the CPU is the default. A ``--device`` that is
  not a torch device, or one this machine does not have, stops the run with a
  usage error naming the option (rather than a run that passes on the CPU).
"""

from __future__ import annotations

import os

import pytest
import torch
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None, max_examples=50)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

torch.set_num_threads(min(2, torch.get_num_threads()))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--dtype", default="float64", choices=["float64", "float32"])
    parser.addoption(
        "--device", default="cpu", help="torch device to run on: cpu (default), cuda, ..."
    )


def device_problem(value: str) -> str | None:
    """Why ``--device value`` cannot run here, or None when it can."""
    try:
        dev = torch.device(value)
    except (RuntimeError, TypeError) as exc:
        return f"--device {value!r} is not a torch device: {exc}"
    backend = getattr(torch, dev.type, None) if dev.type != "cpu" else None
    if dev.type != "cpu" and not (backend is not None and backend.is_available()):
        return (
            f"--device {value!r}: this machine has no usable {dev.type} device; "
            "run without --device to test on the CPU"
        )
    if dev.type != "cpu" and dev.index is not None and dev.index >= backend.device_count():
        return f"--device {value!r}: this machine has {backend.device_count()} {dev.type} device(s)"
    return None


def pytest_configure(config: pytest.Config) -> None:
    problem = device_problem(config.getoption("--device"))
    if problem is not None:
        raise pytest.UsageError(problem)


@pytest.fixture
def dtype(request: pytest.FixtureRequest) -> torch.dtype:
    """The torch dtype the suite runs in (``--dtype``, float64 by default)."""
    return getattr(torch, request.config.getoption("--dtype"))


@pytest.fixture
def device(request: pytest.FixtureRequest) -> torch.device:
    """The torch device the suite runs on (``--device``, cpu by default)."""
    return torch.device(request.config.getoption("--device"))


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Private copies of klmath's registry tables: what a test registers does not leak."""
    import klmath.registry as registry_module

    monkeypatch.setattr(registry_module, "_REGISTRY", dict(registry_module._REGISTRY))
    monkeypatch.setattr(registry_module, "_ENTROPY", dict(registry_module._ENTROPY))
    monkeypatch.setattr(registry_module, "_MEMO", {})
