"""Render the README's and the docs' result tables from the committed records, or check them.

Every measured number the README and the docs state lives in one record under
``docs/results/NAME.json``, written by the run that measured it
(:mod:`klmath._records`). The pages never hold a number of their own: each table
or value sits between two markers::

    <!-- gen:bench-gaussian-full -->
    | batch | d | ... |
    <!-- /gen:bench-gaussian-full -->

and the text between them is what a *renderer* makes of the records. Renderers
live in ``docs/tables/*.py``; each module defines ``TABLES``, a dict from block
id to a function ``render(records) -> str``, where ``records[NAME]`` is the
record ``NAME`` (a missing one is an error naming the file). A marker may also be
inline (``<!-- gen:proof-seconds -->4.3<!-- /gen:proof-seconds -->``).

Usage::

    python docs/gen_results.py           # rewrite every block from the records
    python docs/gen_results.py --check   # exit 1, listing each block that differs

``tests/test_results_tables.py`` runs the check, so a table that disagrees with
its record fails the suite.
"""

from __future__ import annotations

import argparse
import difflib
import importlib.util
import json
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent

Renderer = Callable[["Records"], str]

BLOCK = re.compile(r"<!-- gen:(?P<id>[\w.-]+) -->(?P<body>.*?)<!-- /gen:(?P=id) -->", re.S)
OPEN = re.compile(r"<!-- gen:([\w.-]+) -->")


class GenerationError(Exception):
    """A block without renderer, a renderer without its record, or an unclosed marker."""


class Records(Mapping[str, Any]):
    """Read-only access to the records of one folder, loaded on first use."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._cache: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self._cache:
            path = self.folder / f"{name}.json"
            if not path.is_file():
                raise KeyError(f"record {name!r} is missing: {path} does not exist")
            self._cache[name] = json.loads(path.read_text(encoding="utf-8"))
        return self._cache[name]

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(p.stem for p in self.folder.glob("*.json")))

    def __len__(self) -> int:
        return sum(1 for _ in self.folder.glob("*.json"))


def load_renderers(folder: Path) -> dict[str, Renderer]:
    """Collect ``TABLES`` from every ``folder/*.py`` not starting with ``_``; ids are unique."""
    renderers: dict[str, Renderer] = {}
    if str(folder) not in sys.path:  # renderers share helpers such as _format.py
        sys.path.insert(0, str(folder))
    for path in sorted(folder.glob("[!_]*.py")):
        spec = importlib.util.spec_from_file_location(f"_klmath_tables_{path.stem}", path)
        assert spec is not None and spec.loader is not None  # a .py file always has a loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for block_id, render in getattr(module, "TABLES", {}).items():
            if block_id in renderers:
                raise ValueError(f"table id {block_id!r} is defined twice (again in {path.name})")
            renderers[block_id] = render
    return renderers


def pages(root: Path) -> list[Path]:
    """The Markdown files that may hold generated blocks: README.md and docs/**/*.md."""
    found = [root / "README.md"] if (root / "README.md").is_file() else []
    docs = root / "docs"
    found += sorted(p for p in docs.rglob("*.md") if "_build" not in p.parts)
    return found


@dataclass(frozen=True)
class Drift:
    """One generated block whose text differs from what its renderer makes of the records."""

    page: Path
    block_id: str
    diff: str


def _render(block_id: str, old: str, renderers: Mapping[str, Renderer], records: Records) -> str:
    if block_id not in renderers:
        raise KeyError(f"no renderer for block id {block_id!r} (define it in docs/tables/*.py)")
    text = renderers[block_id](records).strip("\n")
    if old.startswith("\n"):  # a block: markers on lines of their own
        return f"\n{text}\n"
    return text


def render_page(text: str, renderers: Mapping[str, Renderer], records: Records) -> str:
    """Return ``text`` with every generated block re-rendered from the records."""
    opened = set(OPEN.findall(text))
    closed = {m.group("id") for m in BLOCK.finditer(text)}
    if opened - closed:
        raise ValueError(f"marker without its closing <!-- /gen:ID -->: {sorted(opened - closed)}")

    def replace(match: re.Match[str]) -> str:
        body = _render(match.group("id"), match.group("body"), renderers, records)
        return f"<!-- gen:{match.group('id')} -->{body}<!-- /gen:{match.group('id')} -->"

    return BLOCK.sub(replace, text)


def generate(root: Path = ROOT, *, write: bool) -> list[Drift]:
    """Re-render every page under ``root``; write the changes or just report them."""
    renderers = load_renderers(root / "docs" / "tables")
    records = Records(root / "docs" / "results")
    drifts = []
    for page in pages(root):
        old = page.read_text(encoding="utf-8")
        try:
            new = render_page(old, renderers, records)
        except (KeyError, ValueError) as exc:
            raise GenerationError(f"{page.relative_to(root)}: {exc.args[0]}") from None
        if new == old:
            continue
        for old_block, new_block in zip(BLOCK.finditer(old), BLOCK.finditer(new), strict=True):
            if old_block.group(0) != new_block.group(0):
                diff = "\n".join(
                    difflib.unified_diff(
                        old_block.group("body").splitlines(),
                        new_block.group("body").splitlines(),
                        "page",
                        "record",
                        lineterm="",
                    )
                )
                drifts.append(Drift(page.relative_to(root), old_block.group("id"), diff))
        if write:
            page.write_text(new, encoding="utf-8")
    return drifts


def main(argv: list[str] | None = None) -> int:
    """Rewrite the blocks (default) or check them (``--check``); exit 1 on drift in check mode."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="report differences, write nothing")
    args = parser.parse_args(argv)
    drifts = generate(ROOT, write=not args.check)
    for drift in drifts:
        print(f"{drift.page}: block {drift.block_id!r} differs from its record", file=sys.stderr)
        print(drift.diff, file=sys.stderr)
    if args.check:
        return 1 if drifts else 0
    print(f"rewrote {len(drifts)} block(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
