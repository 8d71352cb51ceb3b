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


# montecarlo: names as numbered on the current klmath/montecarlo.py (the k2 overflow
# threshold and klmath._warn renumbered _Welford.result's mutants; the others are unchanged).
_TENSOR_ON_CPU = (
    "out of scope here: np.asarray reads a CPU tensor as .cpu().numpy() does; only a tensor on "
    "an accelerator (pytest --device cuda runs tests/test_montecarlo_scripted.py and "
    "tests/test_montecarlo_check.py there) can tell"
)
_FLOAT64_ALREADY = (
    "equivalent: the scipy and protocol adapters already return NumPy log densities as float64 "
    "(np.asarray(..., dtype=np.float64)), so the conversion is a no-op"
)
_CHUNK_ON_CPU = (
    "out of scope here: on the CPU on_gpu is False either way; only a p on an accelerator "
    "(pytest --device cuda runs tests/test_montecarlo_chunk_sizes.py there) can tell"
)
_NO_INF_MINUS_INF = (
    "equivalent: log r is never +∞ (q's +∞ log density is refused), so expm1(t) − t is never "
    "∞ − ∞ (no invalid-value warning to silence)"
)
_ONE_SCORER = (
    "equivalent: every scipy object adapt accepts has logpdf or logpmf and none has both (no "
    "scipy.stats multivariate family does), so 'has logpmf' alone decides"
)
for _name, _reason in {
    "xǁMCResultǁci__mutmut_81": (
        "equivalent: ≥ and > differ only at low = ±0.0, where both return a zero (−0.0 == 0.0)"
    ),
    "x_mc_kl__mutmut_52": "equivalent: adapt reads need_sample as a truth value (None ≡ False)",
    "x_mc_kl__mutmut_100": _CHUNK_ON_CPU,
    "x_mc_kl__mutmut_106": _CHUNK_ON_CPU,
    "x_mc_kl__mutmut_114": (
        "equivalent: int(budget / per_draw) = budget // per_draw for positive ints, and "
        "max(1, ·) takes 0 and any fraction below 1 to 1"
    ),
    "x_estimator_terms__mutmut_18": (
        "out of scope: differs only at |t| = ¼ exactly, where the polynomial (0.07 ulp) is more "
        "accurate than expm1(t) − t (2.8 ulp); both within the few ulp documented"
    ),
    "x_estimator_terms__mutmut_27": (
        "equivalent: the unused polynomial is evaluated at 1 instead of 0, finite either way, "
        "and discarded by where()"
    ),
    "x_estimator_terms__mutmut_29": (
        "out of scope: flips the sign of the t¹³/13! coefficient, moving k3 by at most 0.7 eps "
        "relative (at |t| → ¼), inside the 2 eps tests/test_montecarlo_terms.py allows"
    ),
    "x_estimator_terms__mutmut_38": _NO_INF_MINUS_INF,
    "x_estimator_terms__mutmut_40": _NO_INF_MINUS_INF,
    "x__to_backend__mutmut_4": _ON_CPU,
    "x__to_backend__mutmut_6": _ON_CPU,
    "x__to_backend__mutmut_9": _ON_CPU,
    "x__to_backend__mutmut_11": _ON_CPU,
    "x__to_backend__mutmut_13": _FLOAT64_ALREADY,
    "x__to_backend__mutmut_15": _FLOAT64_ALREADY,
    "x__to_backend__mutmut_20": _FLOAT64_ALREADY,
    "x__to_backend__mutmut_22": _FLOAT64_ALREADY,
    "x__log_ratio__mutmut_19": "equivalent: with extra = 0 the reshape adds no axes",
    "x__log_ratio__mutmut_69": (
        "equivalent: log p is checked finite just above, so lq − lp is never ∞ − ∞ (no "
        "invalid-value warning to silence)"
    ),
    "xǁ_Welfordǁ__init____mutmut_38": "equivalent: Moments reads third as a truth value",
    "xǁ_Welfordǁ__init____mutmut_42": (
        "equivalent: the check's M₃ is computed but never read (only its mean and standard error)"
    ),
    "xǁ_Welfordǁ__init____mutmut_51": "equivalent: Moments reads third as a truth value",
    "xǁ_Welfordǁ__init____mutmut_55": (
        "equivalent: the check's M₃ is computed but never read (only its mean and standard error)"
    ),
    "xǁ_Welfordǁmerge__mutmut_2": (
        "equivalent: the chunks of one call share the estimator: both checks are None or neither"
    ),
    "xǁ_Welfordǁresult__mutmut_57": "equivalent: gap is read only for k2, which sets it",
    "x__host__mutmut_1": _TENSOR_ON_CPU,
    "x__host__mutmut_3": _TENSOR_ON_CPU,
    "x__like__mutmut_5": _ON_CPU,
    "x__like__mutmut_7": _ON_CPU,
    "x__like__mutmut_9": "equivalent: x[()] of an array of ndim ≥ 1 is a view of x itself",
    "x__is_discrete__mutmut_6": "equivalent: every adapter has a dist attribute",
    "x__is_discrete__mutmut_15": _ONE_SCORER,
    "x__is_discrete__mutmut_23": _ONE_SCORER,
    "x__is_discrete__mutmut_27": _ONE_SCORER,
    "x__is_discrete__mutmut_28": _ONE_SCORER,
    "x__infinite_result__mutmut_20": _ON_CPU,
    "x__infinite_result__mutmut_24": _ON_CPU,
    "x__infinite_result__mutmut_33": "equivalent: t[()] of a torch tensor is a view of t itself",
    "x__diagnostic__mutmut_1": _TENSOR_ON_CPU,
    "x__diagnostic__mutmut_3": _TENSOR_ON_CPU,
    "x__diagnostic__mutmut_11": (
        "equivalent: np.argwhere of a 0-d True mask gives one empty index, so first = () either way"
    ),
}.items():
    SURVIVOR_REASONS[f"klmath.montecarlo.{_name}"] = _reason


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
