"""Tables of the proof run (record ``proofs``) and of mutation testing (``mutation_*``)."""

from __future__ import annotations

from typing import Any

from _format import markdown_table, source  # type: ignore[import-not-found]

MUTATION_MODULES = ("coupling", "flow1d", "lemma")
"""Modules whose mutation record is committed (the lead re-runs the others after merging)."""

# Why each surviving mutant of a committed run is left alive: equivalent (no behaviour
# change) or out of scope. Keyed by mutmut's mutant name.
_ON_CPU = (
    "out of scope here: on the CPU the default device is the mask's device; only a run on "
    "an accelerator (pytest --device cuda) can tell"
)
SURVIVOR_REASONS: dict[str, str] = {
    "klmath.coupling.x_coupling_permutation__mutmut_12": _ON_CPU,
    "klmath.coupling.x_coupling_permutation__mutmut_16": _ON_CPU,
    "klmath.coupling.x_coupling_permutation__mutmut_19": _ON_CPU,
    "klmath.coupling.x_coupling_permutation__mutmut_21": _ON_CPU,
    "klmath.coupling.xǁAffineCouplingǁ__init____mutmut_20": 'equivalent: float("INF") is inf',
    "klmath.lemma.x__table__mutmut_33": "equivalent: NumPy reads dtype None as float64",
    "klmath.lemma.x__table__mutmut_34": (
        "equivalent: copy=None copies only when needed, as copy=False; the table is never "
        "written to"
    ),
    "klmath.lemma.x__table__mutmut_36": (
        "equivalent: the copy astype makes by default holds the same values, never written to"
    ),
    "klmath.lemma.x__table__mutmut_37": (
        "equivalent: an explicit copy holds the same values, never written to"
    ),
}


def _proofs(records: Any) -> dict[str, Any]:
    return records["proofs"]


def proofs_table(records: Any) -> str:
    record = _proofs(records)
    rows = [
        [i + 1, f"`{c['name']}`", c["generality"], c["status"], f"{c['cpu_seconds']:.1f}"]
        for i, c in enumerate(record["values"]["claims"])
    ]
    table = markdown_table(["#", "claim", "proved for", "status", "CPU s"], rows, "rllll")
    values = record["values"]
    return (
        f"{table}\n\n{values['verified']}/{len(rows)} verified; whole run "
        f"{values['cpu_seconds']:.1f} s CPU ({values['seconds']:.1f} s wall). Source: "
        f"{source(record)}."
    )


def proofs_cpu(records: Any) -> str:
    return f"{_proofs(records)['values']['cpu_seconds']:.0f}"


def proofs_concrete(records: Any) -> str:
    lines = [
        f"- `{c['name']}`: {item}"
        for c in _proofs(records)["values"]["claims"]
        for item in c["concrete"]
    ]
    return "\n".join(lines) if lines else "(none)"


def mutation_table(records: Any) -> str:
    rows = []
    for module in MUTATION_MODULES:
        v = records[f"mutation_{module}"]["values"]
        rows.append(
            [
                f"`klmath/{module}.py`",
                v["mutants"],
                v["killed"],
                len(v["survivors"]),
                f"{100 * v['score']:.1f} %",
                f"{v['seconds'] / 60:.1f}",
            ]
        )
    return markdown_table(
        ["module", "mutants", "killed", "survived", "score", "minutes"], rows, "lrrrrr"
    )


def mutation_survivors(records: Any) -> str:
    lines = []
    for module in MUTATION_MODULES:
        for name, diff in records[f"mutation_{module}"]["values"]["survivors"].items():
            change = [
                line[1:].strip()
                for line in diff.splitlines()
                if line.startswith(("+", "-")) and not line.startswith(("+++", "---"))
            ]
            shown = " → ".join(f"`{c}`" for c in change[:2])
            reason = SURVIVOR_REASONS.get(name, "**no reason recorded**")
            lines.append(f"- `{name}`: {shown} — {reason}")
    return "\n".join(lines) if lines else "(none)"


TABLES = {
    "proofs-table": proofs_table,
    "proofs-cpu": proofs_cpu,
    "proofs-concrete": proofs_concrete,
    "mutation-table": mutation_table,
    "mutation-survivors": mutation_survivors,
}
