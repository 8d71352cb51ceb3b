"""Tables of docs/topics/kl-registry.md, from the record ``kl_reference_sweep``
(``python bench/kl_reference.py``)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

_spec = importlib.util.spec_from_file_location(
    "_kl_tables_format", Path(__file__).with_name("_format.py")
)
assert _spec is not None and _spec.loader is not None
_format = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_format)

# How a failure kind reads in the table.
_KINDS = {
    "wrong": "wrong value",
    "negative": "negative",
    "nan": "NaN",
    "inf-for-finite": "∞ where finite",
    "finite-for-inf": "finite where ∞",
    "raises": "raises",
}


def _formula(stats: dict[str, Any]) -> str:
    names = stats["klmath_formulas"] or ["(none)"]
    return "; ".join(f"`{n}`" for n in names)


def _torch(stats: dict[str, Any]) -> str:
    failures = stats["torch_failures"]
    if not failures:
        return f"agrees (max error {float(stats['torch_max_error']):.1e})"
    parts = [f"{_KINDS.get(k, k)} ×{v['count']}" for k, v in sorted(failures.items())]
    return "**" + ", ".join(parts) + "**"


def _klmath(stats: dict[str, Any]) -> str:
    failures = stats["klmath_failures"]
    if failures:
        parts = [f"{_KINDS.get(k, k)} ×{v['count']}" for k, v in sorted(failures.items())]
        return "**" + ", ".join(parts) + "**"
    return f"{float(stats['klmath_max_error']):.1e}"


def pairs_table(records: Any) -> str:
    record = records["kl_reference_sweep"]
    values = record["values"]
    rows = []
    for pair, stats in values["pairs"].items():
        p, q = pair.split("-")
        rows.append(
            [
                f"{p} ‖ {q}",
                _formula(stats),
                stats["reference"],
                stats["examples"],
                _klmath(stats),
                _torch(stats),
            ]
        )
    header = [
        "pair (torch 2.13 registry)",
        "exact value from",
        "checked by",
        "draws",
        "klmath max error",
        "torch 2.13",
    ]
    table = _format.markdown_table(header, rows, "lllrll")
    draws = values["examples_per_pair"]
    return f"{table}\n\nSource: {_format.source(record)}, {draws} draws per pair."


def torch_failures(records: Any) -> str:
    values = records["kl_reference_sweep"]["values"]
    rows = []
    for pair, stats in values["pairs"].items():
        p, q = pair.split("-")
        for kind, entry in sorted(stats["torch_failures"].items()):
            value = entry.get("value")
            shown = "raises" if value is None else f"{float(value):.10g}"
            ref = float(entry.get("reference"))
            example = entry["example"]
            example = example if len(example) <= 110 else example[:107] + "..."
            rows.append(
                [
                    f"{p} ‖ {q}",
                    _KINDS.get(kind, kind),
                    entry["count"],
                    shown,
                    f"{ref:.6g}",
                    entry["example"],
                ]
            )
    header = ["pair", "torch gives", "draws", "e.g. torch", "reference", "for"]
    return _format.markdown_table(header, rows, "llrrrl")


def summary(records: Any) -> str:
    values = records["kl_reference_sweep"]["values"]
    pairs = values["pairs"]
    bad_torch = sum(1 for s in pairs.values() if s["torch_failures"])
    bad_ours = sum(1 for s in pairs.values() if s["klmath_failures"])
    draws = sum(s["examples"] for s in pairs.values())
    return (
        f"{len(pairs)} pairs, {draws} draws: torch 2.13's formula disagrees with the reference "
        f"on {bad_torch} pairs, klmath on {bad_ours}"
    )


TABLES = {
    "kl-registry-pairs": pairs_table,
    "kl-registry-torch-failures": torch_failures,
    "kl-registry-summary": summary,
}


def edge_cases(records: Any) -> str:
    record = records["kl_edge_cases"]
    values = record["values"]
    outcomes = values["outcomes"]
    failures = len(values["failures"])
    why = "; ".join(f"{n}× `{text}`" for text, n in sorted(values["refused"].items()))
    return (
        f"{values['cases']} cases: {outcomes.get('ok', 0)} finite values ≥ 0, "
        f"{outcomes.get('inf', 0)} infinite (with a reason), {outcomes.get('refused', 0)} "
        f"refused by name ({why}), {failures} negative, NaN or raw errors. "
        f"Source: {_format.source(record)}."
    )


TABLES["kl-edge-cases"] = edge_cases
