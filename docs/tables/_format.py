"""Formatting helpers shared by the table renderers in this folder."""

from __future__ import annotations

from collections.abc import Sequence


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]], align: str = "") -> str:
    """Return a Markdown table; ``align`` has one letter per column, ``l`` (default) or ``r``."""
    align = align.ljust(len(header), "l")
    rule = ["---:" if a == "r" else "---" for a in align]
    lines = [header, rule, *[[str(cell) for cell in row] for row in rows]]
    return "\n".join("| " + " | ".join(line) + " |" for line in lines)


def pm(mean: float, spread: float, decimals: int = 4) -> str:
    """``mean ± spread``, both with ``decimals`` digits after the point."""
    return f"{mean:.{decimals}f} ± {spread:.{decimals}f}"


def source(record: dict) -> str:
    """One line naming where a table's numbers come from: the command, the date, the device."""
    date = str(record.get("date", ""))[:10]
    return f"`{record['command']}` ({record['device']}, {date})"
