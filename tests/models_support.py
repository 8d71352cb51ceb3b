"""Helpers for the tests of models/: a small fake data root, report comparison, interrupts.

Not a test module. The fake data sets are small random arrays written in the
layouts models.data reads; :func:`use_fake_catalog` points the catalog's sizes and
content checksums at them, so the real verification code runs on them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from models.data import catalog
from models.data.formats import array_sha256
from models.kit.checkpoint import Checkpoint

SIZES = {"train": 240, "test": 100}


def fake_arrays(seed: int = 0) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]:
    """Random uint8 images (blurred strokes) and labels per (data set, split)."""
    rng = np.random.default_rng(seed)
    out = {}
    for i, name in enumerate(catalog.DATASETS):
        for split, n in SIZES.items():
            x = np.zeros((n, 28, 28), np.uint8)
            rows = rng.integers(4, 24, size=n)
            x[np.arange(n), rows, 4:24] = 200 + 20 * i
            x[np.arange(n), 4:24, (rows + 7 * i) % 28] = 255
            y = rng.integers(0, 10, size=n).astype(np.uint8)
            out[name, split] = (x, y)
    return out


def write_fake_root(root: Path, seed: int = 0) -> dict:
    """Write ``NAME.npz`` (Keras layout) for every data set under ``root``; return the arrays."""
    arrays = fake_arrays(seed)
    root.mkdir(parents=True, exist_ok=True)
    for name in catalog.DATASETS:
        (xt, yt), (xs, ys) = arrays[name, "train"], arrays[name, "test"]
        np.savez(root / f"{name}.npz", x_train=xt, y_train=yt, x_test=xs, y_test=ys)
    return arrays


def use_fake_catalog(monkeypatch: pytest.MonkeyPatch, arrays: dict) -> None:
    """Make the catalog expect ``arrays`` (sizes and content SHA-256)."""
    monkeypatch.setattr(catalog, "SIZES", dict(SIZES))
    sums = {
        name: {
            split: (array_sha256(arrays[name, split][0]), array_sha256(arrays[name, split][1]))
            for split in catalog.SPLITS
        }
        for name in catalog.DATASETS
    }
    monkeypatch.setattr(catalog, "ARRAY_SHA256", sums)


def without_timings(data: Any) -> Any:
    """``data`` without the keys that hold times, dates or paths (differ between runs)."""
    if isinstance(data, dict):
        return {
            k: without_timings(v)
            for k, v in data.items()
            if "seconds" not in k and k not in {"date", "report"}
        }
    if isinstance(data, list):
        return [without_timings(v) for v in data]
    return data


class Interrupted(KeyboardInterrupt):
    """Raised by :func:`interrupt_after_saves`, as a kill right after a checkpoint would."""


def interrupt_after_saves(monkeypatch: pytest.MonkeyPatch, n: int) -> None:
    """Make the n-th checkpoint save of this process raise :class:`Interrupted` once written."""
    original = Checkpoint.save
    count = {"saves": 0}

    def save(self: Checkpoint, state: Any) -> None:
        original(self, state)
        count["saves"] += 1
        if count["saves"] == n:
            raise Interrupted(f"interrupted after save {n}")

    monkeypatch.setattr(Checkpoint, "save", save)
