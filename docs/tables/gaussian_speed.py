"""Renderers for the Gaussian KL speed benchmark (issue 19).

Records: ``bench_gaussian_kl_variants`` (``python bench/gaussian_kl_variants.py``),
the alternatives that lost; ``bench_gaussian_kl`` (``python bench/gaussian_kl.py``): the covariance
and Cholesky-factor forms against torch.distributions with FLOP bounds, the
diagonal form, small calls with and without autograd, KL matrices, and a sweep
of d (plotted to docs/_static/figures/gaussian_kl_speed.png by the same run).
"""

from __future__ import annotations

from typing import Any

from _format import markdown_table, source

RECORD = "bench_gaussian_kl"


def _ms(x: float) -> str:
    """Milliseconds with three significant digits (one decimal from 100 ms)."""
    return f"{x:.3g}" if x < 100 else f"{x:.0f}"


def _speedup(s: dict[str, float], digits: int = 2) -> str:
    """Best-time speed-up with the quartiles of the per-round ratios."""
    return f"{s['best']:.{digits}f}× ({s['q1']:.{digits}f}–{s['q3']:.{digits}f})"


def _met(ok: bool) -> str:
    return "yes" if ok else "**no**"


def _header(record: dict[str, Any]) -> str:
    v = record["values"]
    return f"{source(record)}, {v['threads']} threads; best of interleaved rounds"


def full(records: Any) -> str:
    """Covariances and Cholesky factors against torch, with the FLOP bound, per shape and dtype."""
    record = records[RECORD]
    rows = []
    for r in record["values"]["rows"]:
        cov, tril, bound = r["cov"], r["tril"], r["bound"]
        within = bound["klmath_over_bound"]
        bound_cell = f"{within:.2f}"
        if bound["target"] is not None:
            bound_cell += f" (≤ {bound['target']:.0f}: {_met(within <= bound['target'])})"
        rows.append(
            [
                r["batch"],
                r["d"],
                r["dtype"],
                _ms(cov["klmath"]["min_ms"]),
                _ms(cov["torch"]["min_ms"]),
                _speedup(cov["speedup"]),
                f"≥ {cov['target']:.0f}×: {_met(cov['speedup']['best'] >= cov['target'])}",
                _ms(tril["klmath"]["min_ms"]),
                _ms(tril["torch"]["min_ms"]),
                _speedup(tril["speedup"]),
                f"≥ {tril['target']}×: {_met(tril['speedup']['best'] >= tril['target'])}",
                _ms(bound["ms"]),
                bound_cell,
            ]
        )
    header = [
        "batch",
        "d",
        "dtype",
        "`gaussian_kl` ms",
        "torch build + KL ms",
        "speed-up (quartiles)",
        "target",
        "`gaussian_kl_tril` ms",
        "torch KL only ms",
        "speed-up (quartiles)",
        "target",
        "bound ms",
        "klmath / bound",
    ]
    table = markdown_table(header, rows, "rrlrrrlrrrlrr")
    return f"{_header(record)}:\n\n{table}"


def diag(records: Any) -> str:
    """The diagonal form against Independent(Normal), per shape and dtype."""
    record = records[RECORD]
    rows = [
        [
            r["batch"],
            r["d"],
            r["dtype"],
            _ms(r["diag"]["klmath"]["min_ms"]),
            _ms(r["diag"]["torch"]["min_ms"]),
            _speedup(r["diag"]["speedup"]),
        ]
        for r in record["values"]["rows"]
    ]
    header = ["batch", "d", "dtype", "klmath ms", "torch ms", "speed-up (quartiles)"]
    return f"{_header(record)}:\n\n" + markdown_table(header, rows, "rrlrrr")


def small(records: Any) -> str:
    """Small calls on one thread, float64, without autograd and forward + backward."""
    record = records[RECORD]
    rows = []
    for r in record["values"]["small"]:
        name = "`gaussian_kl_diag`" if r["form"] == "diag" else "`gaussian_kl`"
        for key, label in (("no_grad", "no"), ("grad", "forward + backward")):
            s = r[key]
            ok = s["speedup"]["best"] >= r["target"]
            rows.append(
                [
                    name,
                    f"({r['batch']}, {r['d']})",
                    label,
                    f"{1e3 * s['klmath']['min_ms']:.0f}",
                    f"{1e3 * s['torch']['min_ms']:.0f}",
                    _speedup(s["speedup"]),
                    f"≥ {r['target']}×: {_met(ok)}",
                ]
            )
    header = ["function", "(batch, d)", "autograd", "klmath µs", "torch µs", "speed-up", "target"]
    note = f"{source(record)}, 1 thread, float64; µs per call, best of interleaved rounds"
    return f"{note}:\n\n" + markdown_table(header, rows, "lllrrrl")


def matrix(records: Any) -> str:
    """gaussian_kl_matrix against torch broadcasting the pairs, and the large matrix."""
    record = records[RECORD]
    m = record["values"]["matrix"]
    rows = []
    for r in m["rows"]:
        target = ""
        if r["target"] is not None:
            target = f"≥ {r['target']:.0f}×: {_met(r['speedup']['best'] >= r['target'])}"
        rows.append(
            [
                f"({r['n']}, {r['m']}, {r['d']})",
                _ms(r["klmath"]["min_ms"]),
                _ms(r["torch"]["min_ms"]),
                _speedup(r["speedup"], 0),
                target,
                _ms(r["bound_ms"]),
                f"{r['klmath']['min_ms'] / r['bound_ms']:.1f}",
                f"{r['max_rel_diff']:.1e}".replace("e-", "e−"),
            ]
        )
    header = [
        "(N, M, d)",
        "klmath ms",
        "torch ms",
        "speed-up",
        "target",
        "bound ms",
        "klmath / bound",
        "max relative difference",
    ]
    big = m["large"]
    line = (
        f"({big['n']}, {big['m']}, {big['d']}): {big['klmath_ms']:.0f} ms and "
        f"{big['peak_extra_mb']:.0f} MB of peak memory beyond the inputs (the result alone is "
        f"{big['result_mb']:.0f} MB); broadcasting the pairs through torch would hold "
        f"{big['torch_pairs_gb']:.1f} GB of matrices."
    )
    table = markdown_table(header, rows, "lrrrlrrr")
    return f"{_header(record)}, float64:\n\n{table}\n\n{line}"


def missed(records: Any) -> str:
    """One sentence: how many targets the run missed, and which."""
    v = records[RECORD]["values"]
    misses = []
    for r in v["rows"]:
        shape = f"({r['batch']}, {r['d']}) {r['dtype']}"
        if r["cov"]["speedup"]["best"] < r["cov"]["target"]:
            misses.append(f"covariances at {shape}")
        if r["tril"]["speedup"]["best"] < r["tril"]["target"]:
            misses.append(f"factors at {shape}")
        b = r["bound"]
        if b["target"] is not None and b["klmath_over_bound"] > b["target"]:
            misses.append(f"the FLOP bound at {shape}")
    for r in v["small"]:
        for key, label in (("no_grad", "without"), ("grad", "with")):
            if r[key]["speedup"]["best"] < r["target"]:
                misses.append(f"{r['form']} ({r['batch']}, {r['d']}) {label} autograd")
    for r in v["matrix"]["rows"]:
        if r["target"] is not None and r["speedup"]["best"] < r["target"]:
            misses.append(f"the KL matrix at ({r['n']}, {r['m']}, {r['d']})")
    if not misses:
        return "In this run every target is met."
    return f"In this run {len(misses)} targets are missed: " + "; ".join(misses) + "."


def variants(records: Any) -> str:
    """The alternatives measured against the way klmath does each step."""
    record = records["bench_gaussian_kl_variants"]
    rows = [
        [
            r["variant"],
            r["shape"],
            r["threads"],
            f"{r['klmath_way']}: {_ms(r['klmath_ms'])}",
            f"{r['alternative']}: {_ms(r['alternative_ms'])}",
            f"{r['alternative_ms'] / r['klmath_ms']:.2f}",
        ]
        for r in record["values"]["rows"]
    ]
    header = ["step", "(batch, d)", "threads", "klmath's way, ms", "alternative, ms", "ratio"]
    note = f"{source(record)}; float64, best of interleaved rounds"
    note += "; ratio > 1: the alternative is slower"
    return f"{note}:\n\n" + markdown_table(header, rows, "llrrrr")


TABLES = {
    "bench-gaussian-variants": variants,
    "bench-gaussian-full": full,
    "bench-gaussian-diag": diag,
    "bench-gaussian-small": small,
    "bench-gaussian-matrix": matrix,
    "bench-gaussian-missed": missed,
}
