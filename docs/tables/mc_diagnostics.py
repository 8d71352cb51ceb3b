"""Tables of issue 15: mc_kl coverage and tail flags, knn_kl convergence."""

from __future__ import annotations

from typing import Any

from _format import markdown_table, source

ESTIMATORS = ("k1", "k2", "k3")


def _cell(c: dict[str, Any]) -> str:
    mark = "" if c["variance_finite"] else " ∞"
    ok = "" if _holds(c) else " ✗"
    return f"{100 * c['coverage']:.1f} / {100 * c['flagged']:.1f}{mark}{ok}"


def _holds(c: dict[str, Any]) -> bool:
    if c["variance_finite"]:
        return bool(0.93 <= c["coverage"] <= 0.97)
    return bool(c["flagged"] >= 0.95)


def coverage(records: Any) -> str:
    rec = records["mc_coverage"]
    v = rec["values"]
    rows = [
        [
            r["pair"],
            r["q_width"],
            r["d"],
            f"{r['kl']:.4f}",
            *(_cell(r["cells"][e]) for e in ESTIMATORS),
        ]
        for r in v["rows"]
    ]
    table = markdown_table(
        ["p ‖ q", "q", "d", "KL", "k1 cov / flag %", "k2 cov / flag %", "k3 cov / flag %"],
        rows,
        "lllrrrr",
    )
    return (
        f"{table}\n\n"
        f"n = {v['n']}, {v['reps']} replicates per cell; cov = how often `ci(0.95)` covers the "
        "estimand (KL for k1, k3; E_p[½(log r)²] for k2), flag = how often `reliable` is False "
        "(an unbatched call warns then); ∞ = that estimator's variance is infinite for the pair; "
        "✗ = the issue's contract (finite: coverage in [93, 97] %; infinite: flagged ≥ 95 %) "
        f"does not hold. Source: {source(rec)}, {v['seconds']:.0f} s."
    )


def coverage_summary(records: Any) -> str:
    v = records["mc_coverage"]["values"]
    rows = v["rows"]
    inf_cells = [c for r in rows for c in r["cells"].values() if not c["variance_finite"]]
    fin_cells = [c for r in rows for c in r["cells"].values() if c["variance_finite"]]
    fin_ok = sum(_holds(c) for c in fin_cells)
    worst_flag = min(c["flagged"] for c in inf_cells)
    return (
        f"the contract holds in {v['held']} of {v['cells']} cells: all {len(inf_cells)} "
        f"infinite-variance cells are flagged in ≥ {100 * worst_flag:.1f} % of runs, and "
        f"{fin_ok} of {len(fin_cells)} finite-variance cells cover within [93, 97] %"
    )


def k2_coverage_of_kl(records: Any) -> str:
    rows = records["mc_coverage"]["values"]["rows"]
    values = [100 * r["cells"]["k2"]["coverage_of_kl"] for r in rows]
    return f"{min(values):.1f}–{max(values):.1f} %"


def _row(records: Any, pair: str) -> dict[str, Any]:
    return next(r for r in records["mc_coverage"]["values"]["rows"] if r["pair"] == pair)


def k3_headline(records: Any) -> str:
    c = _row(records, "N(0,1) ‖ N(1,1.5²)")["cells"]["k3"]
    return f"{100 * c['coverage']:.1f} % coverage, flagged in {100 * c['flagged']:.1f} % of runs"


def k3_false_alarm(records: Any) -> str:
    c = _row(records, "N(0,1) ‖ N(1,1)")["cells"]["k3"]
    return f"{100 * c['flagged']:.0f} %"


def finite_misses(records: Any) -> str:
    rows = records["mc_coverage"]["values"]["rows"]
    cov = [
        c["coverage"]
        for r in rows
        for c in r["cells"].values()
        if c["variance_finite"] and not _holds(c)
    ]
    return f"{100 * min(cov):.1f}–{100 * max(cov):.1f} %"


def knn(records: Any) -> str:
    rec = records["mc_knn"]
    v = rec["values"]
    rows = []
    for r in v["rows"]:
        cells = []
        for k in v["ks"]:
            c = r[f"k{k}"]
            cells.append(f"{c['mean']:.4f} ± {c['sd']:.4f} ({100 * c['rel_error']:+.1f} %)")
        rows.append([r["d"], r["n"], r["reps"], f"{r['kl']:.4f}", *cells, f"{r['seconds']:.2f}"])
    header = [
        "d",
        "n = m",
        "reps",
        "KL",
        *(f"k = {k}: mean ± sd (error)" for k in v["ks"]),
        "s/call",
    ]
    table = markdown_table(header, rows, "rrrrllr")
    return f"{table}\n\nSource: {source(rec)}, {v['seconds']:.0f} s in all."


def knn_met(records: Any) -> str:
    v = records["mc_knn"]["values"]
    errs = [abs(r["k1"]["rel_error"]) for r in v["rows"] if r["n"] == 100_000 and r["d"] <= 5]
    verdict = "met" if v["met_k1"] else "NOT met"
    return f"{verdict}: at n = 10⁵, d ≤ 5, k = 1 the error is at most {100 * max(errs):.1f} %"


TABLES = {
    "mc-coverage": coverage,
    "mc-coverage-summary": coverage_summary,
    "mc-k2-coverage-of-kl": k2_coverage_of_kl,
    "mc-k3-headline": k3_headline,
    "mc-k3-false-alarm": k3_false_alarm,
    "mc-finite-misses": finite_misses,
    "mc-knn": knn,
    "mc-knn-met": knn_met,
}
