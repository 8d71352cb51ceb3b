"""Checkpoints: one schema, written atomically, refused when they belong to another set-up.

A checkpoint is one ``torch.save`` file holding::

    {"version": 1, "model": "autoencoder", "config": {...}, "epoch": 3,
     "modules": {...}, "optimizers": {...}, "schedulers": {...},
     "generators": {...}, "rng": {...}, "history": [...], "extra": {...}}

``config`` holds only the options that shape the model and its training
(architecture, seed, learning rate, ...); a resume whose options differ is
refused with the option's name. The file is written to a temporary file in the
same folder, flushed and fsync'ed, then moved over the old one with
:func:`os.replace` (atomic on POSIX): a kill or a full disk during a save leaves
the previous checkpoint intact, never a partial one.
"""

from __future__ import annotations

import os
import pickle
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import torch

from models.kit.errors import UserError
from models.kit.runtime import get_rng_state, set_rng_state
from models.kit.state import TrainState

__all__ = ["VERSION", "Checkpoint", "save_atomic"]

VERSION = 1


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - not every file system allows it
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def save_atomic(obj: Any, path: str | os.PathLike[str]) -> Path:
    """``torch.save(obj)`` to ``path`` through a temporary file and :func:`os.replace`.

    On any failure (full disk, I/O error, interrupt) the temporary file is removed
    and ``path`` keeps its previous content; the error propagates.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(obj, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def _option(key: str) -> str:
    return "--" + key.replace("_", "-")


class Checkpoint:
    """The checkpoint file of one training run.

    Parameters
    ----------
    path : path-like
        The file (``OUT/checkpoint.pt`` for most models).
    model : str
        Name of the model; a checkpoint of another model is refused.
    config : dict
        The options that shape the model and its training, keyed by their
        ``argparse`` names (``latent_dim`` for ``--latent-dim``).
    """

    def __init__(self, path: str | os.PathLike[str], *, model: str, config: dict[str, Any]):
        self.path = Path(path)
        self.model = model
        self.config = dict(config)

    def remove_stale_temporaries(self) -> None:
        """Delete temporary files a killed save left next to the checkpoint."""
        for tmp in self.path.parent.glob(f".{self.path.name}.*.tmp"):
            tmp.unlink(missing_ok=True)

    def save(self, state: TrainState) -> None:
        """Write ``state`` (and the global random states) atomically.

        Raises
        ------
        UserError
            The file could not be written (e.g. the disk is full); the previous
            checkpoint, if any, is intact and the message says so.
        """
        payload = {
            "version": VERSION,
            "model": self.model,
            "config": self.config,
            "epoch": state.epoch,
            "modules": {k: m.state_dict() for k, m in state.modules.items()},
            "optimizers": {k: o.state_dict() for k, o in state.optimizers.items()},
            "schedulers": {k: s.state_dict() for k, s in state.schedulers.items()},
            "generators": {k: g.get_state() for k, g in state.generators.items()},
            "rng": get_rng_state(),
            "history": state.history,
            "extra": state.extra,
        }
        try:
            save_atomic(payload, self.path)
        except OSError as exc:
            kept = "the previous checkpoint is intact" if self.path.exists() else "none was kept"
            raise UserError(
                f"could not write checkpoint {self.path} after epoch {state.epoch} "
                f"({exc.strerror or exc}); {kept}"
            ) from None

    def load(self, map_location: torch.device | str = "cpu") -> dict[str, Any]:
        """Read and check the checkpoint; return its payload.

        Raises
        ------
        UserError
            No file, an unreadable file, another schema version or model, or a
            config that differs from this run's in some option (named).
        """
        if not self.path.is_file():
            raise UserError(
                f"--resume: no checkpoint at {self.path}; run without --resume to start afresh"
            )
        try:
            payload = torch.load(self.path, map_location=map_location, weights_only=False)
        except (RuntimeError, EOFError, OSError, pickle.UnpicklingError, zipfile.BadZipFile) as e:
            raise UserError(
                f"--resume: {self.path} is not a readable checkpoint ({type(e).__name__}); "
                "delete it to start afresh"
            ) from None
        if not isinstance(payload, dict) or payload.get("version") != VERSION:
            got = payload.get("version") if isinstance(payload, dict) else type(payload).__name__
            raise UserError(
                f"--resume: {self.path} has checkpoint version {got!r}, this code reads "
                f"version {VERSION}; delete it to start afresh"
            )
        if payload.get("model") != self.model:
            raise UserError(
                f"--resume: {self.path} is a checkpoint of {payload.get('model')!r}, "
                f"not of {self.model!r}; use another --out"
            )
        saved = payload.get("config", {})
        for key in sorted(set(saved) | set(self.config)):
            if saved.get(key) != self.config.get(key):
                raise UserError(
                    f"--resume: {self.path} was trained with {_option(key)} "
                    f"{saved.get(key)!r}, this run has {_option(key)} {self.config.get(key)!r}; "
                    f"rerun with {_option(key)} {saved.get(key)!r}, or without --resume"
                )
        return payload

    def restore(self, state: TrainState, map_location: torch.device | str = "cpu") -> None:
        """Load the checkpoint into ``state`` (weights, optimisers, generators, RNG, history)."""
        payload = self.load(map_location)
        for group in ("modules", "optimizers", "schedulers", "generators"):
            have, saved = getattr(state, group), payload[group]
            if set(have) != set(saved):
                raise UserError(
                    f"--resume: {self.path} holds {group} {sorted(saved)}, this run has "
                    f"{sorted(have)}; use another --out"
                )
        for k, m in state.modules.items():
            m.load_state_dict(payload["modules"][k])
        for k, o in state.optimizers.items():
            o.load_state_dict(payload["optimizers"][k])
        for k, s in state.schedulers.items():
            s.load_state_dict(payload["schedulers"][k])
        for k, g in state.generators.items():
            g.set_state(payload["generators"][k].cpu())
        set_rng_state(payload["rng"])
        state.epoch = int(payload["epoch"])
        state.history = list(payload["history"])
        state.extra = dict(payload["extra"])
