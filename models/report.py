"""Gather what ``make demo`` produced into one Markdown report.

``python -m models.report RESULTS_DIR`` reads every ``RESULTS_DIR/*/report.json``
written by the training scripts and the text outputs of the proof run and the
benchmarks (``RESULTS_DIR/*.txt``), and writes ``RESULTS_DIR/REPORT.md``: the
headline numbers of each model (scalars found in its report, flattened to dotted
keys), its figures, and the verbatim proof and benchmark tables. It computes
nothing new: every number comes from the file named next to it.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["flatten_scalars", "main", "render_report"]

# Keys that are bookkeeping rather than results; kept out of the headline table.
_SKIP = ("history", "plots", "meta", "data_checksums", "torch", "numpy", "python", "parameters")


def flatten_scalars(
    data: Any, prefix: str = "", *, max_depth: int = 3
) -> Iterator[tuple[str, Any]]:
    """Yield ``(dotted.key, value)`` for every number, bool or short string in ``data``.

    Lists are skipped (they are curves and per-seed arrays, not headline numbers),
    as are keys in ``_SKIP`` and anything deeper than ``max_depth`` levels.
    """
    if not isinstance(data, dict) or max_depth < 0:
        return
    for key, value in data.items():
        name = f"{prefix}{key}"
        if any(part.startswith(_SKIP) for part in name.split(".")):
            continue
        if isinstance(value, dict):
            yield from flatten_scalars(value, name + ".", max_depth=max_depth - 1)
        elif isinstance(value, (bool, int, float)):
            yield name, value
        elif isinstance(value, str) and len(value) <= 80:
            yield name, value


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if math.isfinite(value) and value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
            return f"{value:.4e}"
        return f"{value:.6g}"
    return str(value).replace("|", "\\|")


def render_report(results: Path) -> str:
    """The Markdown text of the report for the folder ``results``."""
    lines = ["# klmath: results of `make demo`", ""]
    lines += [f"Folder: `{results}`. Every number below is copied from the file named with it.", ""]
    for txt in sorted(results.glob("*.txt")):
        lines += [f"## `{txt.name}`", "", "```text", txt.read_text().rstrip(), "```", ""]
    for report in sorted(results.glob("*/report.json")):
        folder = report.parent
        data = json.loads(report.read_text())
        lines += [f"## `{folder.name}` (`{report.relative_to(results)}`)", ""]
        rows = list(flatten_scalars(data))
        if rows:
            lines += ["| quantity | value |", "| --- | --- |"]
            lines += [f"| `{key}` | {_fmt(value)} |" for key, value in rows]
            lines.append("")
        for png in sorted(folder.glob("*.png")):
            lines.append(f"![{png.stem}]({png.relative_to(results)})")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> Path:
    """Command-line entry point: write ``RESULTS_DIR/REPORT.md`` and return its path."""
    parser = argparse.ArgumentParser(prog="python -m models.report", description=__doc__)
    parser.add_argument("results", type=Path, help="folder that make demo wrote (results/)")
    args = parser.parse_args(argv)
    if not args.results.is_dir():
        parser.error(f"{args.results} is not a folder; run `make demo` first")
    out = args.results / "REPORT.md"
    out.write_text(render_report(args.results))
    print(f"wrote {out}")
    return out


if __name__ == "__main__":
    main()
