"""Tables of issue 15: mc_kl coverage and tail flags, knn_kl convergence."""

from __future__ import annotations

from typing import Any

from _format import markdown_table, source

ESTIMATORS = ("k1", "k2", "k3")

_RULE = {"coverage": "cover", "warned": "warn", "not KL: warned": "warn (not KL)"}


def _rows(records: Any, group: str) -> list[dict[str, Any]]:
    return [r for r in records["mc_coverage"]["values"]["rows"] if r.get("group") == group]


def _shape(k: float) -> str:
    if abs(k - 1 / 3) < 1e-12:
        return "⅓"
    return "0" if k == 0 else f"{k:.2f}"


def _coverage_table(records: Any, group: str) -> str:
    rows = []
    for r in _rows(records, group):
        for i, e in enumerate(ESTIMATORS):
            c = r["cells"][e]
            of = " (E[k2])" if e == "k2" else ""
            pair = [r["pair"], r["q_width"], r["d"], f"{r['kl']:.4f}"] if i == 0 else [""] * 4
            rows.append(
                [
                    *pair,
                    e,
                    _shape(c["tail_shape"]),
                    f"{100 * c['coverage']:.1f} ± {100 * c['coverage_se']:.1f}{of}",
                    f"{100 * c['warned']:.1f}",
                    f"{100 * c['unreliable']:.1f}",
                    _RULE[c["rule"]],
                    "✓" if c["holds"] else "✗ miss",
                ]
            )
    return markdown_table(
        [
            "p ‖ q",
            "q",
            "d",
            "KL",
            "est.",
            "k",
            "coverage %",
            "warned %",
            "unreliable %",
            "rule",
            "holds",
        ],
        rows,
        "lllrlrrrrll",
    )


def _legend(rec: Any) -> str:
    v = rec["values"]
    return (
        f"n = {v['n']}, {v['reps']} replicates per cell (one batched call; the seed is the "
        "pair's index, not chosen). *k*: the tail shape of the estimator's terms, derived "
        "analytically (0: every moment finite); the variance is finite iff k < ½, the third "
        "moment iff k < ⅓. *coverage*: how often the default skewness-corrected `ci(0.95)` "
        "covers the exact KL (for k2: E_p[½(log r)²], its estimand), ± its Monte Carlo "
        "standard error. *warned*: how often a `KLEstimatorWarning` fires (`MCResult.warned`; "
        "k̂ > ½, k2, or k3's failed E_p[r] = 1 check). *unreliable*: how often the verdict "
        "says the interval cannot be trusted (`reliable` is False: k̂ > ⅓, k2, or the "
        "check). *rule*, the issue's contract taken literally: *cover*, for k < ½, the "
        "coverage lies in [93, 97] %; *warn*, for k ≥ ½ and for k2 (whose interval is never "
        "one for KL), the warning fires in ≥ 95 % of runs. ✓ holds, ✗ misses. "
        f"Source: {source(rec)}, {v['seconds']:.0f} s for grid and validation."
    )


def coverage(records: Any) -> str:
    rec = records["mc_coverage"]
    return f"{_coverage_table(records, 'grid')}\n\n{_legend(rec)}"


def coverage_validation(records: Any) -> str:
    rec = records["mc_coverage"]
    return f"{_coverage_table(records, 'validation')}\n\n{_legend(rec)}"


def _misses(group: dict[str, Any]) -> str:
    return "; ".join(group["misses"]) if group["misses"] else "none"


def coverage_summary(records: Any) -> str:
    v = records["mc_coverage"]["values"]
    g, val = v["summary"]["grid"], v["summary"]["validation"]
    return (
        f"at n = {v['n']} with {v['reps']} replicates per cell, the contract holds in "
        f"{g['held']} of {g['cells']} cells of the issue's grid (misses: {_misses(g)}) and "
        f"in {val['held']} of {val['cells']} cells of the validation pairs (misses: "
        f"{_misses(val)}); k2's interval covers its own estimand E[k2] within [93, 97] % in "
        f"{g['k2_own_held']} of {g['k2_own_cells']} finite-variance grid cells"
    )


def _light_cells(records: Any, estimator: str) -> list[tuple[str, dict[str, Any]]]:
    """The estimator's cells whose terms have a finite third moment (k < ⅓): a warning
    there is a false alarm."""
    return [
        (r["pair"], r["cells"][estimator])
        for r in records["mc_coverage"]["values"]["rows"]
        if r["cells"][estimator]["tail_shape"] < 1 / 3
    ]


def _mean(cells: list[tuple[str, dict[str, Any]]], key: str) -> float:
    return 100 * sum(c[key] for _, c in cells) / len(cells)


def false_alarms(records: Any) -> str:
    """Warned share on k < ⅓ cells, now and under the rule before (warn iff unreliable)."""
    k3, k1 = _light_cells(records, "k3"), _light_cells(records, "k1")
    listed = ", ".join(
        f"{pair} {100 * c['unreliable']:.1f} → {100 * c['warned']:.1f}"
        for pair, c in k3
        if c["unreliable"] >= 0.01
    )
    return (
        f"on the {len(k3)} k3 cells (grid and validation) whose terms have a finite third "
        f"moment (k < ⅓), the warning fires in {_mean(k3, 'warned'):.1f} % of runs on "
        f"average, against {_mean(k3, 'unreliable'):.1f} % under the rule before, which "
        "warned exactly where `reliable` is False (before → now, % of runs, where it "
        f"exceeded 1 %: {listed}); on the {len(k1)} such k1 cells, "
        f"{_mean(k1, 'warned'):.2f} % (before {_mean(k1, 'unreliable'):.2f} %; at most "
        f"{100 * max(c['warned'] for _, c in k1):.1f} % in a cell)"
    )


def _cell_of(records: Any, pair: str, estimator: str) -> dict[str, Any]:
    row = next(r for r in records["mc_coverage"]["values"]["rows"] if r["pair"] == pair)
    return row["cells"][estimator]


def k3_textbook(records: Any) -> str:
    c = _cell_of(records, "N(0,1) ‖ N(1,1)", "k3")
    return (
        f"its interval covers {100 * c['coverage']:.1f} ± {100 * c['coverage_se']:.1f} %; "
        f"the verdict calls {100 * c['unreliable']:.1f} % of runs unreliable (k̂ > ⅓) and "
        f"{100 * c['warned']:.1f} % are warned (k̂ > ½; {100 * c['unreliable']:.1f} % before)"
    )


def between(records: Any) -> str:
    """k1 and k3 cells with ⅓ ≤ k < ½: coverage, warned, unreliable, and the verdict."""
    out = []
    for r in records["mc_coverage"]["values"]["rows"]:
        for e in ("k1", "k3"):
            c = r["cells"][e]
            if 1 / 3 <= c["tail_shape"] < 0.5:
                out.append(
                    f"{e} on {r['pair']} ({r['group']}, k = {_shape(c['tail_shape'])}): "
                    f"{100 * c['coverage']:.1f} ± {100 * c['coverage_se']:.1f} % covered "
                    f"{'✓' if c['holds'] else '✗'}, {100 * c['warned']:.0f} % warned, "
                    f"{100 * c['unreliable']:.0f} % unreliable"
                )
    return "; ".join(out)


def widths(records: Any) -> str:
    rec = records["mc_coverage"]
    rows = []
    for r in rec["values"]["rows"]:
        cells = []
        for e in ESTIMATORS:
            c = r["cells"][e]
            ratio = c["width_mean"] / c["width_mean_normal"]
            cells.append(f"{c['width_mean_normal']:.3g} × {ratio:.2f}")
        rows.append([r["pair"], r["group"], *cells])
    header = ["p ‖ q", "pairs", *(f"{e}: normal width × ratio" for e in ESTIMATORS)]
    table = markdown_table(header, rows)
    return (
        f"{table}\n\nMean width of the normal 95 % interval, times the ratio of the "
        "skewness-corrected interval's mean width to it, on the same draws (`low` clipped at "
        f"0 in both). Source: {source(rec)}."
    )


def k2_coverage_of_kl(records: Any) -> str:
    rows = _rows(records, "grid")
    values = [100 * r["cells"]["k2"]["coverage_of_kl"] for r in rows]
    return f"{min(values):.1f}–{max(values):.1f} %"


def k3_headline(records: Any) -> str:
    c = _cell_of(records, "N(0,1) ‖ N(1,1.5²)", "k3")
    return (
        f"{100 * c['coverage_normal']:.1f} % coverage ({100 * c['coverage']:.1f} % with the "
        f"skewness correction), warned in {100 * c['warned']:.1f} % of runs"
    )


def finite_misses(records: Any) -> str:
    """The cells with k < ⅓ where the normal interval misses the band: before → after."""
    out = []
    for r in _rows(records, "grid"):
        for e in ("k1", "k3"):
            c = r["cells"][e]
            if c["tail_shape"] < 1 / 3 and not 0.93 <= c["coverage_normal"] <= 0.97:
                out.append(
                    f"{e} on {r['pair']}: {100 * c['coverage_normal']:.1f} → "
                    f"{100 * c['coverage']:.1f} %"
                )
    return "; ".join(out) if out else "none"


def _q(row: dict[str, Any]) -> str:
    return f"N({row['mu']:g}, {row['sigma']:g}²)"


def estimators(records: Any) -> str:
    """k1, k2, k3 side by side on Gaussian pairs (record ``mc_estimators``)."""
    rec = records["mc_estimators"]
    v = rec["values"]
    rows = []
    for r in v["rows"]:
        cells = [
            f"{c['value']:.5f} ± {c['stderr']:.5f}{' ⚠' if c['warned'] else ''}"
            for c in (r["cells"][e] for e in ESTIMATORS)
        ]
        rows.append([_q(r), f"{r['kl']:.5f}", f"{r['k2_mean']:.5f}", *cells])
    table = markdown_table(["q", "exact KL", "exact E[k2]", "k1", "k2", "k3"], rows, "lrrlll")
    return (
        f"p = N(0, 1), n = {v['n']:,} draws, seed {v['seed']}, mean ± standard error; ⚠: "
        "the call warned (`KLEstimatorWarning`; k2 always does: it estimates E_p[½(log r)²], "
        f"not KL).\n\n{table}\n\nSource: {source(rec)}, {v['seconds']:.0f} s."
    )


def support_caveat(records: Any) -> str:
    v = records["mc_estimators"]["values"]["support"]
    warned = "warns" if v["k3"]["warned"] else "does NOT warn"
    return (
        f"k3 gives {v['k3']['value']:.4f} ± {v['k3']['stderr']:.4f} for an exact KL of "
        f"{v['kl']:.4f}: its mean is KL − Q(x ∉ [0, 1]) = {v['k3_mean']:.4f}, and its "
        f"E_p[r] = 1 check {warned}; k1 gives {v['k1']['value']:.4f} ± "
        f"{v['k1']['stderr']:.4f}"
    )


def coverage_overview(records: Any) -> str:
    """Coverage by the kind of pair, from the mc_coverage record, for docs/results.md."""
    v = records["mc_coverage"]["values"]
    rows = v["rows"]

    def span(cells: list[dict[str, Any]], key: str = "coverage") -> str:
        values = [100 * c[key] for c in cells]
        return f"{min(values):.1f}–{max(values):.1f} %"

    def cells(lo: float, hi: float) -> list[dict[str, Any]]:
        return [
            r["cells"][e]
            for r in rows
            for e in ("k1", "k3")
            if lo <= r["cells"][e]["tail_shape"] < hi
        ]

    light, middle, heavy = cells(0.0, 1 / 3), cells(1 / 3, 0.5), cells(0.5, float("inf"))
    table = markdown_table(
        ["k1, k3 cells", "cells", "coverage of KL", "normal interval", "warned", "unreliable"],
        [
            [
                name,
                len(group),
                span(group),
                span(group, "coverage_normal"),
                span(group, "warned"),
                span(group, "unreliable"),
            ]
            for name, group in (
                ("tail shape k < ⅓ (finite third moment)", light),
                ("⅓ ≤ k < ½ (finite variance only)", middle),
                ("k ≥ ½ (infinite variance)", heavy),
            )
        ],
        "lrllll",
    )
    return (
        f"{table}\n\nRange over the cells of `bench/mc_coverage.py` (grid and validation "
        f"pairs), n = {v['n']}, {v['reps']} replicates each; coverage of the default "
        "skewness-corrected `ci(0.95)` and of the normal interval on the same draws. Source: "
        f"{source(records['mc_coverage'])}."
    )


def _moment(x: Any, digits: int) -> str:
    """A moment from the record: ``inf`` as ∞, quadrature noise around 0 as 0."""
    value = float(x)
    if abs(value) < 1e-9:
        return "0"
    return "∞" if value == float("inf") else f"{value:.{digits}g}"


def term_moments(records: Any) -> str:
    rec = records["mc_term_moments"]
    measured = {
        (r["pair"], e): c
        for r in records["mc_coverage"]["values"]["rows"]
        for e, c in r["cells"].items()
    }
    rows = []
    for r in rec["values"]["rows"]:
        for e, c in r["cells"].items():
            m = measured[(r["pair"], e)]
            predicted = c.get("predicted_normal_coverage")
            rows.append(
                [
                    r["pair"],
                    e,
                    f"{float(c['tail_shape']):.2f}",
                    _moment(c["skewness"], 3),
                    _moment(c["excess_kurtosis"], 4),
                    "—" if predicted is None else f"{100 * predicted:.1f}",
                    f"{100 * m['coverage_normal']:.1f}",
                    f"{100 * m['coverage']:.1f}",
                ]
            )
    table = markdown_table(
        ["p ‖ q", "est.", "k", "γ", "κ", "Edgeworth %", "normal %", "corrected %"],
        rows,
        "llrrrrrr",
    )
    return (
        f"{table}\n\nExact skewness γ and excess kurtosis κ of the terms (quadrature; ∞ where "
        "the tail shape k makes them infinite: γ for k ≥ ⅓, κ for k ≥ ¼); the coverage of "
        "the normal 95 % interval at n = 2000 that the Edgeworth expansion predicts to O(1/n) "
        "(— where κ = ∞); the normal interval's and the corrected interval's measured "
        f"coverage (table above). One-dimensional pairs with a finite variance. Source: "
        f"{source(rec)}, {rec['values']['seconds']:.0f} s."
    )


def expansion_check(records: Any) -> str:
    parts = []
    for r in records["mc_term_moments"]["values"]["expansion_check"]:
        parts.append(
            f"{r['sample']} (γ = {r['skewness']:.2f}, κ = {r['excess_kurtosis']:.2f}): "
            f"P(T ≤ −z) {r['below_measured']:.4f} measured, {r['below_predicted']:.4f} "
            f"predicted; P(T > z) {r['above_measured']:.4f}, {r['above_predicted']:.4f}"
        )
    r0 = records["mc_term_moments"]["values"]["expansion_check"][0]
    return (
        "; ".join(parts)
        + f" (n = {r0['n']}, {r0['reps']:,} replicates, binomial sd {r0['binomial_sd']:.4f})"
    )


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
    "mc-coverage-validation": coverage_validation,
    "mc-coverage-summary": coverage_summary,
    "mc-widths": widths,
    "mc-term-moments": term_moments,
    "mc-expansion-check": expansion_check,
    "mc-k2-coverage-of-kl": k2_coverage_of_kl,
    "mc-k3-headline": k3_headline,
    "mc-false-alarms": false_alarms,
    "mc-k3-textbook": k3_textbook,
    "mc-between": between,
    "mc-finite-misses": finite_misses,
    "mc-estimators": estimators,
    "mc-support-caveat": support_caveat,
    "mc-coverage-overview": coverage_overview,
    "mc-knn": knn,
    "mc-knn-met": knn_met,
}
