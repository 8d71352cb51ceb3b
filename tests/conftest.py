"""Test configuration: Hypothesis profiles, dtype and device options.

* ``CI`` set (as in ``.ci/run``): the ``ci`` profile (derandomized, no deadline,
  no example database), so a CI run is reproducible.
* ``--dtype float32`` / ``--device cuda`` rerun the suite in another dtype or
  on another device; float64 on the CPU is the default.
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
    parser.addoption("--device", default="cpu")


@pytest.fixture
def dtype(request: pytest.FixtureRequest) -> torch.dtype:
    """The torch dtype the suite runs in (``--dtype``, float64 by default)."""
    return getattr(torch, request.config.getoption("--dtype"))


@pytest.fixture
def device(request: pytest.FixtureRequest) -> torch.device:
    """The torch device the suite runs on (``--device``, cpu by default)."""
    dev = torch.device(request.config.getoption("--device"))
    if dev.type == "cuda" and not torch.cuda.is_available():
        pytest.skip("--device cuda given but CUDA is not available")
    return dev
