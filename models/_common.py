"""What every training script shares: device choice, seeding, reports, progress."""

from __future__ import annotations

import json
import os
import platform
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = ["pick_device", "run_metadata", "seed_everything", "timer", "write_json"]


def pick_device(name: str | None = None) -> torch.device:
    """The device to train on: ``name`` if given, else CUDA when available, else CPU."""
    if name:
        return torch.device(name)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def seed_everything(seed: int, *, deterministic: bool = True) -> torch.Generator:
    """Seed Python, NumPy and torch; on the CPU results are then bit-reproducible.

    Returns a ``torch.Generator`` seeded with ``seed`` for callers that prefer an
    explicit generator over the global one.
    """
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - third-party code may still read the global state
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
    return torch.Generator().manual_seed(seed)


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu().tolist()
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_json(path: str | os.PathLike[str], data: dict[str, Any]) -> Path:
    """Write ``data`` as indented JSON (NumPy/torch values converted), creating folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_jsonable(data), indent=2, sort_keys=False) + "\n")
    return path


def run_metadata(device: torch.device) -> dict[str, Any]:
    """Facts about the run worth recording next to its numbers."""
    return {
        "device": str(device),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
    }


@contextmanager
def timer() -> Iterator[dict[str, float]]:
    """Context manager that records wall-clock seconds in ``t["seconds"]``."""
    t: dict[str, float] = {}
    start = time.perf_counter()
    try:
        yield t
    finally:
        t["seconds"] = time.perf_counter() - start
