"""Records of measured results: one JSON file per measurement, saying how, where and when.

Every number the README and the docs state is written once, by the run that
measured it, as a *record*: the values (with their spread over seeds or
repeats), the command that produced them, the machine, the library versions,
the git commit and the date. Canonical records are committed under
``docs/results/`` and the tables of the README and the docs are rendered from
them by ``docs/gen_results.py`` (which also checks that they agree).

A record is a JSON object::

    {"schema": 1, "name": "bench_gaussian_kl", "values": {...},
     "command": "python bench/gaussian_kl.py", "device": "cpu",
     "date": "2026-12-04T16:20:00+00:00", "git": "5ec508a...", "notes": "",
     "machine": {...}, "versions": {...}}

``values`` is any JSON data (nested dicts and lists of numbers and strings);
NumPy and torch scalars and arrays are converted, and non-finite floats are
stored as the strings ``"inf"``, ``"-inf"`` and ``"nan"`` (strict JSON has no
such numbers). Records from another device (a lent GPU) carry its name in
``device`` and should use a distinct record ``name``.

This module uses the standard library only and imports nothing heavy.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
import re
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "SCHEMA",
    "make_record",
    "read_record",
    "records_dir",
    "to_jsonable",
    "write_record",
]

SCHEMA = 1
"""Version of the record layout; bump it when a field changes meaning."""

_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
_ROOT = Path(__file__).resolve().parent.parent


def records_dir() -> Path:
    """Return where records go: ``$KLMATH_RECORDS``, else the checkout's ``docs/results``."""
    env = os.environ.get("KLMATH_RECORDS")
    if env:
        return Path(env)
    return _ROOT / "docs" / "results"


def to_jsonable(value: Any) -> Any:
    """Return ``value`` as plain JSON data (dicts, lists, str, int, float, bool, None).

    NumPy and torch scalars and arrays become numbers and (nested) lists;
    tuples become lists; non-finite floats become ``"inf"``, ``"-inf"`` or
    ``"nan"``. Raises TypeError naming the type of anything else.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"record keys must be strings, got {type(key).__name__} {key!r}")
            out[key] = to_jsonable(item)
        return out
    if isinstance(value, (list, tuple)):
        return [to_jsonable(item) for item in value]
    if hasattr(value, "tolist"):  # NumPy arrays and scalars, torch tensors
        if hasattr(value, "detach"):
            value = value.detach().cpu()
        return to_jsonable(value.tolist())
    raise TypeError(f"cannot store a {type(value).__name__} in a record: {value!r}")


def _versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for module in ("klmath", "numpy", "scipy", "torch", "sympy", "mpmath", "z3"):
        loaded = sys.modules.get(module)
        version = getattr(loaded, "__version__", None) if loaded is not None else None
        if version is None and module == "z3" and loaded is not None:
            version = getattr(loaded, "get_version_string", lambda: None)()
        if version is not None:
            versions[module] = str(version)
    return versions


def _machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "system": platform.system(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
    }
    torch = sys.modules.get("torch")
    if torch is not None:
        info["torch_threads"] = torch.get_num_threads()
    return info


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and commit else None


def make_record(
    name: str,
    values: Mapping[str, Any],
    *,
    command: str | None = None,
    device: str = "cpu",
    notes: str = "",
) -> dict[str, Any]:
    """Return a record (a dict, see the module docstring) without writing it.

    Parameters
    ----------
    name : str
        Lower-case identifier, ``[a-z0-9][a-z0-9_.-]*``; the file is ``NAME.json``.
    values : mapping
        What was measured, with its spread (e.g. ``{"kl": {"mean": ..., "sd": ..., "n": 5}}``).
    command : str, optional
        The command that measured it; default: this process's command line.
    device : str
        ``"cpu"``, or the accelerator the values were measured on (e.g. ``"cuda: NVIDIA H200"``).
    notes : str
        Anything a reader needs to interpret the values.

    Raises
    ------
    ValueError
        If ``name`` is not a valid record name.
    TypeError
        If ``values`` holds something that is not JSON data (see :func:`to_jsonable`).
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"record name must match [a-z0-9][a-z0-9_.-]* (lower case), got {name!r}")
    if command is None:
        argv = [Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python", *sys.argv[1:]]
        command = shlex.join(argv)
    return {
        "schema": SCHEMA,
        "name": name,
        "values": to_jsonable(values),
        "command": command,
        "device": device,
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "git": _git_commit(),
        "notes": notes,
        "machine": _machine(),
        "versions": _versions(),
    }


def write_record(
    name: str,
    values: Mapping[str, Any],
    *,
    directory: str | os.PathLike[str] | None = None,
    command: str | None = None,
    device: str = "cpu",
    notes: str = "",
) -> Path:
    """Write a record to ``directory/NAME.json`` atomically and return its path.

    ``directory`` defaults to :func:`records_dir`. The file is written to a
    temporary file in the same folder and moved into place with
    :func:`os.replace`, so a reader never sees half a record. Other arguments
    as in :func:`make_record`.
    """
    record = make_record(name, values, command=command, device=device, notes=notes)
    folder = Path(directory) if directory is not None else records_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    text = json.dumps(record, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_record(name: str, directory: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Read the record ``NAME.json`` from ``directory`` (default :func:`records_dir`).

    Raises FileNotFoundError naming the missing file, and ValueError when the
    file is not a record of this schema with this name.
    """
    folder = Path(directory) if directory is not None else records_dir()
    path = folder / f"{name}.json"
    if not path.is_file():
        raise FileNotFoundError(f"no record {name!r}: {path} does not exist")
    record: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if record.get("schema") != SCHEMA or record.get("name") != name:
        raise ValueError(
            f"{path} is not a schema-{SCHEMA} record named {name!r} "
            f"(schema={record.get('schema')!r}, name={record.get('name')!r})"
        )
    return record
