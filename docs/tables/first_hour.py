"""Renderers for the KL demo, the coupling overhead, the import cost and the GPU check.

Records: ``demo_kl`` (``python bench/demo_kl.py``), ``kl_near_identical``
(``python bench/kl_near_identical.py``), ``bench_coupling``
(``python bench/coupling.py``), ``import_cost`` (``python bench/import_cost.py``),
``gpu_check_cuda`` (``python bench/gpu_check.py --device cuda``, on a GPU).
"""

from __future__ import annotations

from typing import Any

from _format import markdown_table, source

MINUS = "\u2212"


def sci(x: float, digits: int) -> str:
    """``x`` in scientific notation with Unicode minus signs: ``−2.384e−07``."""
    mantissa, exponent = f"{x:.{digits}e}".split("e")
    exp = int(exponent)
    sign = MINUS if exp < 0 else ""
    return f"{mantissa.replace('-', MINUS)}e{sign}{abs(exp):02d}"


def short_sci(x: float) -> str:
    """A one- or two-digit value in scientific notation: ``4e−16``, ``1.7e−07`` -> ``1.7e−7``."""
    text = f"{x:.1e}"
    mantissa, exponent = text.split("e")
    mantissa = mantissa.removesuffix(".0")
    exp = int(exponent)
    return f"{mantissa}e{MINUS if exp < 0 else ''}{abs(exp)}"


def demo_kl(records: Any) -> str:
    """The near-identical pair: torch.distributions negative, klmath right (README)."""
    record = records["demo_kl"]
    v = record["values"]["near_identical"]
    eps = f"{v['eps']:.0e}".replace("e-0", "e-")
    torch32 = sci(v["torch_float32"], 3)
    if v["torch_float32"] < 0:
        torch32 = f"**{torch32}**"
    rows = [
        ["`torch.distributions` (float32)", torch32],
        ["klmath (float32)", f"{sci(v['klmath_float32'], 3)} (≥ 0 by construction)"],
        ["klmath (float64)", sci(v["klmath_float64"], 10)],
        ["mpmath, 50 digits", sci(v["mpmath_50_digits"], 10)],
    ]
    return f"Σ₁ = Σ₀ + {eps}·I, d = {v['d']}; {source(record)}:\n\n" + markdown_table(
        ["", "KL"], rows
    )


def _ratio(r: dict[str, float]) -> str:
    return f"{r['median']:.3f} ({r['q1']:.2f}–{r['q3']:.2f})"


def bench_coupling(records: Any) -> str:
    """The coupling overhead table and whether the target holds, per net size."""
    record = records["bench_coupling"]
    v = record["values"]
    s = v["settings"]
    rows, met, missed = [], [], []
    for net in v["nets"]:
        r = net["ratios"]
        size = f"{net['hidden']} x {net['depth']}"
        rows.append(
            [
                size,
                f"{net['ms']['nets']:.2f}",
                _ratio(r["by_hand/nets"]),
                _ratio(r["forward/nets"]),
                _ratio(r["inverse/nets"]),
                _ratio(r["train: coupling/by_hand"]),
            ]
        )
        forward = r["forward/nets"]["median"]
        (met if forward <= s["target"] else missed).append(f"{size} ({forward:.2f}×)")
    load = v.get("load_average_1min")
    threads = f"{s['threads']} thread{'s' if s['threads'] != 1 else ''}"
    intro = (
        f"Batch {s['batch']} × {s['dim']}, {s['dtype']}, |Ω| = {s['dim'] // 2}, {threads}, "
        f"{s['rounds']} interleaved rounds; {source(record)}"
    )
    if load:
        intro += f", load average {load['before']:.1f} on {record['machine']['cpu_count']} cores"
    intro += (
        ". Each ratio is taken round by round (both sides back to back) and shown as its "
        "median (quartiles); ratios > 1 are overhead over calling the scale/shift nets on a "
        "pre-split input; *nets ms* is the best round"
    )
    header = [
        "nets (hidden x depth)",
        "nets ms",
        "by hand / nets",
        "forward / nets",
        "inverse / nets",
        "fwd+bwd: coupling / by hand",
    ]
    target = f"forward ≤ {s['target']:.2f} × nets"
    verdict = (
        f"Target {target}: met for {', '.join(met) or 'none'}; "
        f"**not met** for {', '.join(missed) or 'none'}."
    )
    return f"{intro}:\n\n{markdown_table(header, rows, 'lrrrrr')}\n\n{verdict}"


def import_cost(records: Any) -> str:
    """Seconds per import statement in a fresh interpreter, and what it loads."""
    record = records["import_cost"]
    v = record["values"]
    rows = []
    for name, row in v["candidates"].items():
        imp = row.get("import")
        wall = row["wall"]
        rows.append(
            [
                f"`{name}`",
                f"{imp['median']:.2f} ({imp['q1']:.2f}–{imp['q3']:.2f})" if imp else "—",
                f"{wall['median']:.2f} ({wall['q1']:.2f}–{wall['q3']:.2f})",
                ", ".join(row.get("loaded", [])) or "—",
            ]
        )
    load = v.get("load_average_1min")
    intro = (
        f"Each statement in a fresh interpreter, median (quartiles) over {v['rounds']} "
        f"interleaved rounds; {source(record)}"
        + (f", load average {load['before']:.1f}" if load else "")
        + ". *import* times the statement inside the process, *wall* the whole "
        "`python -c` command:"
    )
    klmath = v["candidates"]["import klmath"]
    verdict = (
        f"`import klmath` takes {klmath['wall']['median']:.2f} s wall and loads "
        f"{', '.join(klmath['loaded']) or 'neither torch nor SymPy'}: the target "
        f"(under {v['target_s']} s, without torch) is "
        + ("met." if v["target_met"] else "**not met**.")
    )
    table = markdown_table(["statement", "import s", "wall s", "loads"], rows, "lrrl")
    return f"{intro}\n\n{table}\n\n{verdict}"


def gpu_check(records: Any) -> str:
    """The property suites on a GPU and its agreement with the CPU (README)."""
    record = records["gpu_check_cuda"]
    v = record["values"]
    groups: dict[str, list[str]] = {}
    for run in v["runs"]:
        groups.setdefault(run["what"], []).append(f"{run['dtype']} {run['result']}")
    runs = "; ".join(f"{what}: {', '.join(results)}" for what, results in groups.items())
    agree = v["agreement"]
    f64 = max(x for k, x in agree.items() if "float64" in k)
    f32 = max(x for k, x in agree.items() if "float32" in k)
    text = (
        f"On {v['device_name']}, `pytest --device cuda --dtype DTYPE`: {runs}. CUDA results "
        f"match the CPU float64 values to {short_sci(f64)} (float64) and {short_sci(f32)} "
        f"(float32) relative. Record: {source(record)}."
    )
    if record.get("notes"):
        text += f" *{record['notes']}*"
    return text


def kl_near_identical(records: Any) -> str:
    """The pasted-output block of docs/numerics.md: the machine-dependent columns."""
    record = records["kl_near_identical"]
    lines = ["  eps    reference  klmath     rel. error  torch.distributions"]
    for r in record["values"]["rows"]:
        lines.append(
            f"{r['eps']:5.0e}  {r['reference']:.3e}  {r['klmath']:.3e}  "
            f"{r['klmath_rel_error']:.0e}       {r['torch']:+.1e}"
        )
    body = "\n".join(lines)
    return f"Measured by {source(record)}:\n\n```text\n{body}\n```"


def time_make_test(records: Any) -> str:
    """Inline: how long ``make test`` took, in minutes, and how busy the machine was."""
    record = records["time_make-test"]
    v = record["values"]
    load = v["load_average_1min"]["before"]
    cores = record["machine"]["cpu_count"]
    return f"{v['wall_s'] / 60:.1f} minutes (on {cores} cores at load average {load:.1f})"


TABLES = {
    "time-make-test": time_make_test,
    "kl-near-identical": kl_near_identical,
    "demo-kl": demo_kl,
    "bench-coupling": bench_coupling,
    "import-cost": import_cost,
    "gpu-check": gpu_check,
}
