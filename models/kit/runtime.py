"""Where and how a model runs: device, threads, dtype, seeds and the random number states."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch

from models.kit.errors import UserError

__all__ = [
    "DTYPES",
    "get_rng_state",
    "pick_device",
    "resolve_dtype",
    "seed_everything",
    "set_rng_state",
    "set_threads",
]

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def pick_device(name: str | None = None) -> torch.device:
    """Return the device ``name`` names (``auto`` or None: CUDA when available, else CPU).

    Raises
    ------
    UserError
        ``name`` is not a device, or names one this machine does not have; the
        message names the ``--device`` option and what is available.
    """
    if name in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(str(name))
    except (RuntimeError, ValueError):
        raise UserError(
            f"--device {name!r} is not a device name (use auto, cpu, cuda, cuda:N or mps)"
        ) from None
    if dev.type == "cpu":
        return dev
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise UserError(
                f"--device {name}: CUDA is not available here (torch {torch.__version__}, "
                f"{'a CPU-only build' if torch.version.cuda is None else 'no GPU found'}); "
                "use --device cpu"
            )
        count = torch.cuda.device_count()
        if dev.index is not None and dev.index >= count:
            raise UserError(f"--device {name}: only {count} CUDA device(s), cuda:0..{count - 1}")
        return dev
    if dev.type == "mps" and torch.backends.mps.is_available():
        return dev
    raise UserError(f"--device {name}: not available on this machine; use auto or cpu")


def set_threads(n: int | None) -> int:
    """Use ``n`` CPU threads for torch (None: leave torch's choice); return the number in use."""
    if n is not None:
        if n < 1:
            raise UserError(f"--threads must be at least 1, got {n}")
        torch.set_num_threads(n)
    return torch.get_num_threads()


def resolve_dtype(name: str) -> torch.dtype:
    """Return the torch dtype called ``name`` (``float32`` or ``float64``)."""
    if name not in DTYPES:
        raise UserError(f"--dtype must be one of {sorted(DTYPES)}, got {name!r}")
    return DTYPES[name]


def seed_everything(seed: int, *, deterministic: bool = True) -> torch.Generator:
    """Seed Python, NumPy and torch; on the CPU a run is then bit-reproducible.

    ``deterministic=True`` also asks torch for deterministic kernels (warning
    only where none exists). Returns a fresh ``torch.Generator`` seeded with ``seed``.
    """
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - third-party code may still read the global state
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
    return torch.Generator().manual_seed(seed)


def get_rng_state() -> dict[str, Any]:
    """The global random states (Python, NumPy, torch CPU and CUDA), for a checkpoint."""
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),  # noqa: NPY002
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`get_rng_state` returned."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])  # noqa: NPY002
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
