"""Reports: one JSON schema and its Markdown view for every model, and records of the headline.

``OUT/report.json``::

    {"schema": 1, "model": "autoencoder", "config": {every option},
     "results": {...}, "history": [...], "plots": ["roc_curve.png", ...],
     "metadata": {"model", "command", "device", "threads", "python", "torch",
                  "numpy", "klmath", "date", "seconds", "cpu_seconds"}}

``OUT/report.md`` shows the same: the scalars of ``results`` as a table, the
options, the metadata and the figures. With ``--record`` the model's headline
numbers also go to ``docs/results/NAME.json`` through :mod:`klmath._records`,
the canonical records the README's tables are rendered from.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import platform
import shlex
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from klmath import _records

__all__ = [
    "METADATA_KEYS",
    "SCHEMA",
    "Stopwatch",
    "command_line",
    "device_label",
    "flatten_scalars",
    "render_markdown",
    "write_json",
    "write_record",
    "write_report",
]

SCHEMA = 1
METADATA_KEYS = (
    "model", "command", "device", "threads", "python", "torch", "numpy", "klmath", "date",
    "seconds", "cpu_seconds",
)  # fmt: skip


class Stopwatch:
    """Wall-clock and CPU seconds since creation (the run's cost, stated in its report)."""

    def __init__(self) -> None:
        self.wall0, self.cpu0 = time.perf_counter(), time.process_time()

    def seconds(self) -> float:
        return time.perf_counter() - self.wall0

    def cpu_seconds(self) -> float:
        return time.process_time() - self.cpu0


def _plain(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def write_json(path: str | os.PathLike[str], data: Mapping[str, Any]) -> Path:
    """Write ``data`` as indented JSON, atomically (temporary file, then os.replace)."""
    path = Path(path)
    text = json.dumps(_records.to_jsonable(_plain(data)), indent=2, ensure_ascii=False) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def device_label(device: torch.device) -> str:
    """``"cpu"``, or ``"cuda: <GPU name>"`` (the form records use)."""
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    return device.type


def command_line(model: str, argv: list[str] | None) -> str:
    """The command that reproduces this run: ``python -m models.NAME ARGS``."""
    args = sys.argv[1:] if argv is None else argv
    return shlex.join(["python", "-m", f"models.{model}", *map(str, args)])


def metadata(
    model: str, command: str, device: torch.device, stopwatch: Stopwatch
) -> dict[str, Any]:
    """The metadata block of every report (keys :data:`METADATA_KEYS`, in that order)."""
    import klmath

    return {
        "model": model,
        "command": command,
        "device": device_label(device),
        "threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "klmath": getattr(klmath, "__version__", "unknown"),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "seconds": stopwatch.seconds(),
        "cpu_seconds": stopwatch.cpu_seconds(),
    }


def write_report(
    out: Path,
    *,
    model: str,
    command: str,
    config: Mapping[str, Any],
    results: Mapping[str, Any],
    device: torch.device,
    stopwatch: Stopwatch,
    history: list[Any] | None = None,
    plots: list[str] | None = None,
) -> dict[str, Any]:
    """Write ``OUT/report.json`` and ``OUT/report.md``; return the report."""
    report = {
        "schema": SCHEMA,
        "model": model,
        "config": _plain(dict(config)),
        "results": dict(results),
        "history": history or [],
        "plots": plots or [],
        "metadata": metadata(model, command, device, stopwatch),
    }
    write_json(out / "report.json", report)
    (out / "report.md").write_text(render_markdown(report, Path(".")), encoding="utf-8")
    return json.loads((out / "report.json").read_text(encoding="utf-8"))


def flatten_scalars(data: Any, prefix: str = "", *, depth: int = 4) -> Iterator[tuple[str, Any]]:
    """Yield ``(dotted.key, value)`` for every number, bool or short string in ``data``.

    Lists are skipped (curves and per-seed arrays, not headline numbers), as is
    anything deeper than ``depth`` levels.
    """
    if not isinstance(data, Mapping) or depth < 0:
        return
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from flatten_scalars(value, name + ".", depth=depth - 1)
        elif isinstance(value, (bool, int, float)) or (isinstance(value, str) and len(value) <= 80):
            yield name, value


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if math.isfinite(value) and value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
            return f"{value:.4e}"
        return f"{value:.6g}"
    return str(value).replace("|", "\\|")


def render_markdown(report: Mapping[str, Any], figures: Path) -> str:
    """The Markdown view of a report; figure links are relative to ``figures``."""
    meta = report["metadata"]
    lines = [f"## `{report['model']}`", "", f"`{meta['command']}`", ""]
    lines += ["| result | value |", "| --- | --- |"]
    lines += [f"| `{k}` | {_fmt(v)} |" for k, v in flatten_scalars(report["results"])]
    opts = ", ".join(f"{k}={v}" for k, v in report["config"].items())
    lines += ["", f"Options: {opts}.", ""]
    lines.append(" · ".join(f"{k} {_fmt(meta[k])}" for k in METADATA_KEYS if k != "command"))
    lines.append("")
    lines += [f"![{Path(p).stem}]({(figures / p).as_posix()})" for p in report["plots"]]
    return "\n".join(lines) + "\n"


def write_record(
    name: str, values: Mapping[str, Any], report: Mapping[str, Any], *, notes: str = ""
) -> Path:
    """Write the record ``NAME`` (``docs/results/NAME.json`` unless ``$KLMATH_RECORDS``).

    The record holds ``values`` (the headline numbers with their spread), the run's
    options and its seconds, with the report's command and device.
    """
    meta = report["metadata"]
    payload = {
        **values,
        "config": report["config"],
        "seconds": meta["seconds"],
        "cpu_seconds": meta["cpu_seconds"],
        "threads": meta["threads"],
    }
    return _records.write_record(
        name, payload, command=meta["command"], device=meta["device"], notes=notes
    )
