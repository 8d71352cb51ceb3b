"""Gather what ``make demo`` produced into one Markdown report.

``python -m models.report RESULTS_DIR`` reads every ``RESULTS_DIR/*/report.json``
written by the training scripts (one schema, :mod:`models.kit.reports`) and the
text outputs of the proof run and the benchmarks (``RESULTS_DIR/*.txt``), and
writes ``RESULTS_DIR/REPORT.md``: the verbatim proof and benchmark tables, then
each model's results, options, metadata and figures. It computes nothing new:
every number comes from the file named next to it.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from models.kit import UserError, run_cli
from models.kit.reports import render_markdown

__all__ = ["main", "render_report"]


def render_report(results: Path) -> str:
    """The Markdown text of the report for the folder ``results``."""
    lines = ["# klmath: results of `make demo`", ""]
    lines += [f"Folder: `{results}`. Every number below is copied from the file named with it.", ""]
    for txt in sorted(results.glob("*.txt")):
        lines += [f"## `{txt.name}`", "", "```text", txt.read_text().rstrip(), "```", ""]
    for path in sorted(results.glob("*/report.json")):
        report = json.loads(path.read_text())
        if report.get("schema") != 1:
            lines += [f"## `{path.parent.name}`", "", f"`{path}`: not a schema-1 report", ""]
            continue
        lines.append(f"From `{path.relative_to(results)}`:")
        lines.append("")
        lines.append(render_markdown(report, Path(path.parent.name)))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> Path:
    """Write ``RESULTS_DIR/REPORT.md`` and return its path."""
    parser = argparse.ArgumentParser(prog="python -m models.report", description=__doc__)
    parser.add_argument("results", type=Path, help="folder that make demo wrote (results/)")
    args = parser.parse_args(argv)
    if not args.results.is_dir():
        raise UserError(f"{args.results} is not a folder; run `make demo` first")
    out = args.results / "REPORT.md"
    out.write_text(render_report(args.results))
    print(f"wrote {out}")
    return out


if __name__ == "__main__":
    sys.exit(run_cli(main))
