"""Tables of the proof run (record ``proofs``) and of mutation testing (``mutation_*``)."""

from __future__ import annotations

from typing import Any

from _format import markdown_table, source  # type: ignore[import-not-found]

MUTATION_MODULES = ("coupling", "flow1d", "lemma")
"""Modules whose mutation record is committed (the lead re-runs the others after merging)."""

# Why each surviving mutant of a committed run is left alive: equivalent (no behaviour
# change) or out of scope. Keyed by mutmut's mutant name.
_ON_CPU = (
    "out of scope here: on the CPU the default device is the inputs' device; only a run on "
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


_LATER = "killed by tests/test_flow1d_brackets.py, added after this run (not re-measured)"
_BRACKET = (
    "equivalent in result: a wrong first bracket is repaired by _widen_bracket (checked on "
    "every call); only the iteration count changes"
)
_NEWTON = (
    "equivalent in result: safeguarded Newton converges from any point of the bracket and "
    "with either acceptance rule; only the iteration count changes (still within the 20 "
    "iterations tests/test_flow1d_brackets.py allows)"
)
_BOUNDARY = "equivalent: < and ≤ differ only at exact equality, where both branches agree"
_STOP = (
    "out of scope: moves the stopping width around tol = 1e-12 by at most a factor 1.5, "
    "invisible at the documented 1e-10 accuracy"
)
for _name, _reason in {
    "x__prepare__mutmut_13": _LATER,
    "x__prepare__mutmut_31": (
        "equivalent: only a, the last argument, can be None past _given's check, so stopping "
        "the loop there skips nothing"
    ),
    "x__prepare__mutmut_33": _LATER,
    "x__prepare__mutmut_38": "equivalent: 'X' is no dtype kind, so the test is the same",
    "x__prepare__mutmut_43": _LATER,
    "x__prepare__mutmut_44": _ON_CPU,
    "x__prepare__mutmut_46": _LATER,
    "x__prepare__mutmut_47": _ON_CPU,
    "x__prepare__mutmut_48": "equivalent: NumPy reads dtype None as float64",
    "x__given__mutmut_3": _LATER,
    "x__check_params__mutmut_32": (
        "equivalent: the per-argument checks then always run and find nothing for finite "
        "parameters; only slower"
    ),
    "x_flow1d_mass__mutmut_13": _ON_CPU,
    "x_flow1d_mass__mutmut_16": _ON_CPU,
    "x_flow1d_missing_mass__mutmut_13": _ON_CPU,
    "x_flow1d_missing_mass__mutmut_16": _ON_CPU,
    "x_flow1d_missing_mass__mutmut_18": _LATER,
    "x_flow1d_inverse__mutmut_2": "equivalent: the iteration cap is never reached (≤ 12 needed)",
    "x_flow1d_inverse__mutmut_79": _LATER,
    "x__solve__mutmut_24": "equivalent: at z = 0 both tail forms of the residual are exact",
    "x__solve__mutmut_42": _BRACKET,
    "x__solve__mutmut_43": _BRACKET,
    "x__solve__mutmut_50": _BRACKET,
    "x__solve__mutmut_51": _BRACKET,
    "x__solve__mutmut_114": _BRACKET,
    "x__solve__mutmut_117": _BRACKET,
    "x__widen_bracket__mutmut_2": "equivalent: 64 or 65 rounds, never reached for a real root",
    "x__widen_bracket__mutmut_11": _LATER,
    "x__rtsafe__mutmut_3": _NEWTON,
    "x__rtsafe__mutmut_4": _NEWTON,
    "x__rtsafe__mutmut_6": _NEWTON,
    "x__rtsafe__mutmut_12": (
        "equivalent: finished entries are masked, so running to max_iter changes nothing but time"
    ),
    "x__rtsafe__mutmut_23": _BOUNDARY,
    "x__rtsafe__mutmut_32": _BOUNDARY,
    "x__rtsafe__mutmut_38": (
        "not killed: on every tested input Newton's last step takes the residual far below "
        "tol, so stopping on |h·f′| instead of |h/f′| is not observed"
    ),
    "x__rtsafe__mutmut_39": _BOUNDARY,
    "x__rtsafe__mutmut_44": _NEWTON,
    "x__rtsafe__mutmut_45": _NEWTON,
    "x__rtsafe__mutmut_47": _NEWTON,
    "x__rtsafe__mutmut_48": _BOUNDARY,
    "x__rtsafe__mutmut_61": _NEWTON,
    "x__rtsafe__mutmut_66": "not killed: needs a residual of exactly 1 at some iterate",
    "x__rtsafe__mutmut_68": _BOUNDARY,
    "x__rtsafe__mutmut_70": _STOP,
    "x__rtsafe__mutmut_71": _STOP,
    "x__rtsafe__mutmut_74": _STOP,
    "x__rtsafe__mutmut_84": (
        "equivalent in result: converged entries take further Newton steps, which stay at the root"
    ),
    "x__rtsafe__mutmut_86": "not killed: needs a residual of exactly 1 at some iterate",
}.items():
    SURVIVOR_REASONS[f"klmath.flow1d.{_name}"] = _reason


# klmath/gaussian.py: the diagonal form, the series for eᵛ − 1 − v and the small helpers.
_DIAG_LATER = (
    "killed by tests/test_gaussian_diag_series.py, added after this run (checked by a rerun "
    "of the named mutants)"
)
_FRESH_BUFFER = (
    "equivalent: the same values written to a fresh tensor instead of a scratch buffer that "
    "is not read again"
)
_FLOAT32_TERMS = (
    "equivalent within rounding: all 12 series terms in float32 instead of 6 change 2 % of "
    "the results by ≤ 2 ulp, both within 1.4 ulp of the float64 value (measured on 200 001 "
    "points of |v| < ¼); only slower"
)
_SUM_AT_32 = (
    "equivalent within rounding: at d = 32 exactly, x.sum(−1) instead of a product with a "
    "constant vector sums the same non-negative terms in another order (a few ulps either "
    "way); only the speed differs"
)
_ROWS_2D = (
    "equivalent: x is always (B, d) here (diagonals of the (B, d, d) chunks of "
    "klmath._gaussian_fast), so axis 1 is the last axis"
)
_DEAD_EXPAND = (
    "equivalent: dead branch, the terms already have the broadcast shape of all four "
    "arguments (checked for every combination of 8 shapes)"
)
_AS_TENSORS = (
    "equivalent: as_tensors returns the very same tensors for float tensors of one dtype and "
    "device; only slower"
)
for _name, _reason in {
    "x__expm1_minus_x__mutmut_2": (
        "equivalent in accuracy: at |v| = ¼ exactly the series is the more accurate form "
        "(0.07 and 0.03 ulp in float64, 0.2 and 0.4 in float32, against 2.8, 1.6, 3.4 and "
        "0.7 ulp for expm1(v) − v at ±¼), so no test of accuracy can prefer the original"
    ),
    "x__expm1_minus_x__mutmut_10": (
        "equivalent: any small finite filler works; the series value is discarded where "
        "|v| ≥ ¼ and the where() passes no gradient to v there (derivatives tested finite)"
    ),
    "x__expm1_minus_x__mutmut_13": _FLOAT32_TERMS,
    "x__expm1_minus_x__mutmut_21": _DIAG_LATER,
    "x__expm1_minus_x__mutmut_24": _DIAG_LATER,
    "x__expm1_minus_x__mutmut_34": _ON_CPU,
    "x__expm1_minus_x__mutmut_37": _ON_CPU,
    "x__log_ratio__mutmut_5": (
        "equivalent in accuracy: at |r| = ½ exactly the mutant takes log1p(r), within 0.25 ulp "
        "of log(a/b) and never less accurate than log a − log b (6 584 pairs measured, both "
        "dtypes, magnitudes 1e±300)"
    ),
    "x__log_ratio__mutmut_19": (
        "equivalent: any argument > −1 works; log1p's value is discarded where |r| ≥ ½ and "
        "the where() passes no gradient to r there"
    ),
    "x__diagonal_terms__mutmut_1": _DIAG_LATER,
    "x__diagonal_terms__mutmut_2": _DIAG_LATER,
    "x__diagonal_terms__mutmut_3": (
        "equivalent: _diagonal_terms is reached only without autograd (its callers take the "
        "careful form, or run inside an autograd Function's forward, when a gradient is needed)"
    ),
    "x__diagonal_terms__mutmut_13": _DIAG_LATER,
    "x__diagonal_terms__mutmut_15": _DIAG_LATER,
    "x__expm1_minus_log_ratio__mutmut_12": _FRESH_BUFFER,
    "x__expm1_minus_log_ratio__mutmut_15": _FRESH_BUFFER,
    "x__expm1_minus_log_ratio__mutmut_23": _ON_CPU,
    "x__expm1_minus_log_ratio__mutmut_28": _FLOAT32_TERMS,
    "x__expm1_minus_log_ratio__mutmut_70": _FRESH_BUFFER,
    "x__expm1_minus_log_ratio__mutmut_73": _FRESH_BUFFER,
    "x__expm1_minus_log_ratio__mutmut_77": _FRESH_BUFFER,
    "x__expm1_minus_log_ratio__mutmut_81": _FRESH_BUFFER,
    "x__half_sum_last__mutmut_4": _SUM_AT_32,
    "x__half_sum_last__mutmut_13": _ON_CPU,
    "x__sum_last__mutmut_2": _ROWS_2D,
    "x__sum_last__mutmut_4": _SUM_AT_32,
    "x__sum_last__mutmut_6": _ROWS_2D,
    "x__sum_last__mutmut_11": _ON_CPU,
    "x__diag_kl_values__mutmut_7": _FRESH_BUFFER,
    "x__diag_kl_values__mutmut_8": _DIAG_LATER,
    "x__diag_kl_values__mutmut_11": _FRESH_BUFFER,
    "x__diag_kl_values__mutmut_14": _FRESH_BUFFER,
    "x__diag_kl_values__mutmut_15": _DIAG_LATER,
    "x__diag_kl_values__mutmut_16": _DIAG_LATER,
    "x__diag_kl_values__mutmut_20": (
        "equivalent: the mean term is added in place or out of place, the same values either way"
    ),
    "x__diag_kl_values__mutmut_33": _DEAD_EXPAND,
    "x__diag_kl_values__mutmut_34": _DEAD_EXPAND,
    "x__diag_kl_values__mutmut_35": _DEAD_EXPAND,
    "x__diag_kl_values__mutmut_44": (
        "equivalent: a zero variance always makes the KL non-finite (1 280 cases checked, both "
        "dtypes), which the same line rejects, so > 0 and ≥ 0 reject the same inputs"
    ),
    "x__diag_kl_grads__mutmut_3": (
        "equivalent: summed is False only for 0-d inputs, where a (1,)-shaped gradient summed "
        "back to shape () is the same number (first and second derivatives compared)"
    ),
    "x__diag_kl_grads__mutmut_10": _DIAG_LATER,
    "x__diag_kl_grads__mutmut_11": _DIAG_LATER,
    "x__diag_kl_grads__mutmut_12": _DIAG_LATER,
    "x__diag_kl_grads__mutmut_19": (
        "equivalent: autograd drops a gradient returned for an input that needs none "
        "(first and second derivatives compared)"
    ),
    "x__diag_kl_grads__mutmut_22": _DIAG_LATER,
    "x__diag_kl_grads__mutmut_26": (
        "equivalent: autograd drops a gradient returned for an input that needs none "
        "(first and second derivatives compared)"
    ),
    "x__diag_kl_grads__mutmut_28": _DIAG_LATER,
    "x__diag_kl_grads__mutmut_29": _DIAG_LATER,
    "x__diag_kl_careful__mutmut_22": _DEAD_EXPAND,
    "x__diag_kl_careful__mutmut_24": _DEAD_EXPAND,
    "x__diag_kl_careful__mutmut_25": _DEAD_EXPAND,
    "x__diag_kl_careful__mutmut_29": (
        "equivalent: shape is () only for 0-d terms, and sum(−1) of a 0-d tensor is itself"
    ),
    "x__finish__mutmut_2": (
        "equivalent: the finiteness checks then run on every careful-path call; they raise "
        "only for a NaN or inf argument, which makes the KL non-finite, where they run anyway; "
        "only slower"
    ),
    "x__finish__mutmut_6": _DIAG_LATER,
    "x__positive_diagonal__mutmut_11": (
        "equivalent: a zero diagonal entry is refused before (check_lower_triangular), so "
        "< 0 and ≤ 0 select the same columns"
    ),
    "x__positive_diagonal__mutmut_15": (
        "equivalent: x / ±1 is x · ±1 exactly, and so is its gradient"
    ),
    "x__positive_diagonal__mutmut_16": _DIAG_LATER,
    "x_gaussian_kl_diag__mutmut_1": _AS_TENSORS,
    "x_gaussian_kl_diag__mutmut_2": _AS_TENSORS,
    "x_gaussian_kl_diag__mutmut_3": _AS_TENSORS,
    "x_gaussian_kl_diag__mutmut_4": _AS_TENSORS,
    "x_gaussian_kl_diag__mutmut_5": _AS_TENSORS,
    "x_gaussian_kl_diag__mutmut_23": _DIAG_LATER,
    "x_gaussian_kl_diag__mutmut_25": _DIAG_LATER,
    "x_gaussian_kl_diag__mutmut_34": _DIAG_LATER,
    "x_gaussian_kl_diag__mutmut_42": (
        "equivalent: without a tensor that requires grad, the autograd Function's forward is "
        "the same no-grad kernel, and its output needs no gradient"
    ),
    "x_gaussian_kl_diag__mutmut_43": _DIAG_LATER,
    "x_gaussian_kl_diag__mutmut_44": _DIAG_LATER,
    "x_gaussian_kl_diag__mutmut_45": _DIAG_LATER,
    "x_gaussian_kl_diag__mutmut_94": _DIAG_LATER,
    "x_gaussian_kl_diag__mutmut_97": _DIAG_LATER,
    "x_gaussian_kl_diag__mutmut_98": _DIAG_LATER,
    "x_gaussian_kl_diag__mutmut_99": _DIAG_LATER,
    "x_gaussian_kl_diag__mutmut_100": _DIAG_LATER,
    "x_gaussian_kl_diag__mutmut_101": _DIAG_LATER,
    "x_gaussian_kl_diag__mutmut_102": _DIAG_LATER,
    "x_gaussian_kl_diag__mutmut_103": _DIAG_LATER,
    "x_gaussian_kl_diag__mutmut_105": _DIAG_LATER,
}.items():
    SURVIVOR_REASONS[f"klmath.gaussian.{_name}"] = _reason


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
