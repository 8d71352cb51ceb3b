"""Tables of the proof run (record ``proofs``) and of mutation testing (``mutation_*``)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from _format import markdown_table, source  # type: ignore[import-not-found]

MUTATION_MODULES = (
    "coupling",
    "flow1d",
    "lemma",
    "gaussian",
    "montecarlo",
    "mixture",
    "registry",
    "gaussian_matrix",
    "divergence",
)
"""Modules whose mutation record is committed."""

_KLMATH = Path(__file__).resolve().parents[2] / "klmath"


def _mutated_module(module: str, values: dict[str, Any]) -> str:
    """Whether the record was made from today's ``klmath/MODULE.py`` (its SHA-256)."""
    stored = values.get("source_sha256")
    if stored is None:
        return "not recorded"
    current = hashlib.sha256((_KLMATH / f"{module}.py").read_bytes()).hexdigest()
    return "current" if stored == current else "**an earlier version**"


# Why each surviving mutant of a committed run is left alive: equivalent (no behaviour
# change) or out of scope. Keyed by mutmut's mutant name.
_ON_CPU = (
    "out of scope here: on the CPU the default device is the inputs' device; only a run on "
    "an accelerator (pytest --device cuda) can tell"
)
_UNREACHABLE_NAME = (
    "equivalent: every registry key is a str (spelled above) or a class, and classes "
    "have __name__, so the repr fallback is never read"
)
_HAS_MODULE = (
    "equivalent: registered rules and formulas are Python functions, which always have "
    "__module__, so the getattr default is never read"
)
_GM_BOUND = (
    "not observable by a test: a constant or factor of the a-priori rounding bound E "
    "(κ, the norms, the γ constant) that decides which pairs are recomputed carefully; "
    "a looser E recomputes more pairs (same values), a tighter one stays above the "
    "actual rounding on every tested input (κ up to 1e8, near-identical pairs), since "
    "E is a worst-case bound (K·ε against a typical √K·ε); only inputs attaining the "
    "worst case could tell"
)
_GM_CHUNK = (
    "equivalent: a chunk or batch size (or the test that skips one torch.cat); "
    "chunking changes no value beyond the rounding the chunk tests allow (1e-14)"
)
_GM_SAME_SHAPE = (
    "equivalent: the tensors compared have the same shape there (index tuples from "
    "nonzero, the gathered pair arguments, a square matrix's last two axes)"
)
SURVIVOR_REASONS: dict[str, str] = {
    "klmath.coupling.x_coupling_permutation__mutmut_12": _ON_CPU,
    "klmath.coupling.x_coupling_permutation__mutmut_16": _ON_CPU,
    "klmath.coupling.x_coupling_permutation__mutmut_19": _ON_CPU,
    "klmath.coupling.x_coupling_permutation__mutmut_21": _ON_CPU,
    "klmath.coupling.xǁAffineCouplingǁ__init____mutmut_24": 'equivalent: float("INF") is inf',
    "klmath.mixture.x_gaussian_mixture_kl_bounds__mutmut_1": (
        "out of scope: the default iteration count; every count gives a valid upper bound "
        "and more never loosen it (test_more_iterations_never_loosen_the_upper_bound)"
    ),
    "klmath.mixture.x_gaussian_mixture_kl_bounds__mutmut_26": (
        "equivalent on one CPU device: x.to(None) keeps q's dtype, and torch's type "
        "promotion then computes in p's float64 anyway (test_q_in_float32_is_read_in_p_s_dtype); "
        "the .to also moves q to p's device, which only a second device could show"
    ),
    "klmath.mixture.x__components__mutmut_28": (
        "equivalent: check_finite reads event_dims None as 0 (a falsy count of event axes)"
    ),
    "klmath.mixture.x__log_normalized__mutmut_18": (
        "equivalent: the replaced value is subtracted only from an all-(−inf) slice, and "
        "−inf − 1 = −inf − 0"
    ),
    "klmath.registry.x_key_name__mutmut_10": _UNREACHABLE_NAME,
    "klmath.registry.x_key_name__mutmut_13": _UNREACHABLE_NAME,
    "klmath.registry.x_key_name__mutmut_16": _UNREACHABLE_NAME,
    "klmath.registry.x__user_torch_rule__mutmut_20": _HAS_MODULE,
    "klmath.registry.x__user_torch_rule__mutmut_23": _HAS_MODULE,
    "klmath.registry.x__user_torch_rule__mutmut_26": _HAS_MODULE,
    "klmath.registry.x__is_klmath_formula__mutmut_5": _HAS_MODULE,
    "klmath.registry.x__is_klmath_formula__mutmut_8": _HAS_MODULE,
    "klmath.registry.x__is_klmath_formula__mutmut_11": _HAS_MODULE,
    "klmath.registry.x__user_torch_rule__mutmut_2": (
        "equivalent: for a torch p and a non-torch q, torch's _dispatch_kl finds no rule "
        "for q's class, so the answer is False either way"
    ),
    "klmath.registry.x__user_torch_rule__mutmut_5": (
        "equivalent: the answer is read only when klmath's formula declined; for a "
        "non-torch pair closed_form_kl then skips torch's branch (it needs two torch "
        "distributions) and returns None either way"
    ),
    "klmath.registry.x_closed_form_entropy__mutmut_11": (
        "equivalent where we looked: klmath's entropy formulas decline for a torch "
        "distribution only when its base has no entropy (Independent), and then torch's "
        "own entropy raises NotImplementedError too, so both paths end in Monte Carlo"
    ),
    "klmath.registry.x__key__mutmut_16": (
        "equivalent in-process: with scipy not yet imported, the mutant imports it before "
        "refusing the key with the same TypeError; tests/test_registry_keys.py::"
        "test_registering_by_name_imports_neither_torch_nor_scipy sees the import, but "
        "in a subprocess, which mutmut does not run against the mutant"
    ),
    "klmath.registry.x__key__mutmut_19": (
        "equivalent: a torch distribution instance is neither an rv_generic nor a "
        "multi_rv_generic, so it reaches the same TypeError"
    ),
    "klmath.gaussian_matrix.x__factor__mutmut_31": _GM_BOUND,
    "klmath.gaussian_matrix.x__factor__mutmut_33": _GM_BOUND,
    "klmath.gaussian_matrix.x__factor__mutmut_39": _GM_BOUND,
    "klmath.gaussian_matrix.x__factor__mutmut_41": _GM_BOUND,
    "klmath.gaussian_matrix.x__factor__mutmut_43": _GM_BOUND,
    "klmath.gaussian_matrix.x__factor__mutmut_95": _GM_BOUND,
    "klmath.gaussian_matrix.x__terms__mutmut_98": _GM_BOUND,
    "klmath.gaussian_matrix.x__terms__mutmut_99": _GM_BOUND,
    "klmath.gaussian_matrix.x__terms__mutmut_107": _GM_BOUND,
    "klmath.gaussian_matrix.x__terms__mutmut_109": _GM_BOUND,
    "klmath.gaussian_matrix.x__terms__mutmut_131": _GM_BOUND,
    "klmath.gaussian_matrix.x__terms__mutmut_132": _GM_BOUND,
    "klmath.gaussian_matrix.x__terms__mutmut_133": _GM_BOUND,
    "klmath.gaussian_matrix.x__terms__mutmut_134": _GM_BOUND,
    "klmath.gaussian_matrix.x__terms__mutmut_135": _GM_BOUND,
    "klmath.gaussian_matrix.x__terms__mutmut_136": _GM_BOUND,
    "klmath.gaussian_matrix.x__terms__mutmut_137": _GM_BOUND,
    "klmath.gaussian_matrix.x__terms__mutmut_144": _GM_BOUND,
    "klmath.gaussian_matrix.x__terms__mutmut_145": _GM_BOUND,
    "klmath.gaussian_matrix.x__terms__mutmut_165": _GM_BOUND,
    "klmath.gaussian_matrix.x__terms__mutmut_166": _GM_BOUND,
    "klmath.gaussian_matrix.x__terms__mutmut_167": _GM_BOUND,
    "klmath.gaussian_matrix.x__terms__mutmut_169": _GM_BOUND,
    "klmath.gaussian_matrix.x__terms__mutmut_171": _GM_BOUND,
    "klmath.gaussian_matrix.x__terms__mutmut_190": _GM_BOUND,
    "klmath.gaussian_matrix.x_gaussian_kl_matrix__mutmut_110": _GM_BOUND,
    "klmath.gaussian_matrix.x_gaussian_kl_matrix__mutmut_124": _GM_CHUNK,
    "klmath.gaussian_matrix.x_gaussian_kl_matrix__mutmut_130": _GM_CHUNK,
    "klmath.gaussian_matrix.x_gaussian_kl_matrix__mutmut_165": _GM_CHUNK,
    "klmath.gaussian_matrix.x_gaussian_kl_matrix__mutmut_172": _GM_CHUNK,
    "klmath.gaussian_matrix.x_gaussian_kl_matrix__mutmut_177": _GM_CHUNK,
    "klmath.gaussian_matrix.x_gaussian_kl_matrix__mutmut_184": _GM_CHUNK,
    "klmath.gaussian_matrix.x__recompute__mutmut_87": _GM_CHUNK,
    "klmath.gaussian_matrix.x__recompute__mutmut_88": _GM_CHUNK,
    "klmath.gaussian_matrix.x__recompute__mutmut_92": _GM_CHUNK,
    "klmath.gaussian_matrix.x__recompute__mutmut_100": _GM_CHUNK,
    "klmath.gaussian_matrix.x__recompute__mutmut_140": _GM_CHUNK,
    "klmath.gaussian_matrix.x__recompute__mutmut_142": _GM_CHUNK,
    "klmath.gaussian_matrix.x__packed__mutmut_3": _GM_SAME_SHAPE,
    "klmath.gaussian_matrix.x__careful_pairs__mutmut_13": _GM_SAME_SHAPE,
    "klmath.gaussian_matrix.x_gaussian_kl_matrix__mutmut_193": _GM_SAME_SHAPE,
    "klmath.gaussian_matrix.x__recompute__mutmut_103": _GM_SAME_SHAPE,
    "klmath.gaussian_matrix.x__packed__mutmut_6": (
        "equivalent on one CPU device: _packing's index on device None is on the CPU"
    ),
    "klmath.gaussian_matrix.x__packed__mutmut_7": (
        "equivalent: the weights 1 and 2 are exact in the default float32, and the "
        "product with the packed entries promotes to their float64"
    ),
    "klmath.gaussian_matrix.x__terms__mutmut_46": "equivalent: weighted=None is falsy like False",
    "klmath.gaussian_matrix.x__inner_block__mutmut_5": (
        "equivalent below K = 65 537 (d ≈ 360): the block is max(256, ⌈√K⌉) = 256 there; "
        "above, it changes only the blocking of the sum (rounding)"
    ),
    "klmath.gaussian_matrix.x__careful_pairs__mutmut_19": (
        "equivalent: _kl_from_factors takes its careful (differentiable) path by itself "
        "whenever an input requires grad, and the in-place path gives the same values "
        "otherwise"
    ),
    "klmath.gaussian_matrix.x__careful_pairs__mutmut_20": (
        "equivalent: careful more often (whenever grad mode is on): the same values, out of place"
    ),
    "klmath.gaussian_matrix.x__careful_pairs__mutmut_22": (
        "equivalent: _kl_from_factors takes its careful (differentiable) path by itself "
        "whenever an input requires grad, and the in-place path gives the same values "
        "otherwise"
    ),
    "klmath.gaussian_matrix.x__careful_pairs__mutmut_24": (
        "equivalent: _kl_from_factors takes its careful (differentiable) path by itself "
        "whenever an input requires grad, and the in-place path gives the same values "
        "otherwise"
    ),
    "klmath.gaussian_matrix.x_gaussian_kl_matrix__mutmut_79": (
        "equivalent: target=None is falsy like False"
    ),
    "klmath.gaussian_matrix.x_gaussian_kl_matrix__mutmut_85": (
        "equivalent: the first set's inverse and κ are computed but never read (only the "
        "target set's enter the product and the bound)"
    ),
    "klmath.gaussian_matrix.x__recompute__mutmut_143": (
        "not caught: differs only when the recomputed pairs fall in exactly two batches "
        "(then the second batch's values are dropped); the chunk test makes ten"
    ),
    "klmath.gaussian_matrix.x__recompute__mutmut_149": (
        "equivalent: the recomputed values are already in the result's dtype"
    ),
    "klmath.gaussian_matrix.x__inner_block__mutmut_7": (
        "equivalent below K = 65 537 (d ≈ 360): the block is max(256, ⌈√K⌉) = 256 there; "
        "above, it changes only the blocking of the sum (rounding)"
    ),
    "klmath.gaussian_matrix.x__inner_block__mutmut_8": (
        "equivalent below K = 65 537 (d ≈ 360): the block is max(256, ⌈√K⌉) = 256 there; "
        "above, it changes only the blocking of the sum (rounding)"
    ),
    "klmath.gaussian_matrix.x__inner_block__mutmut_9": (
        "equivalent below K = 65 537 (d ≈ 360): the block is max(256, ⌈√K⌉) = 256 there; "
        "above, it changes only the blocking of the sum (rounding)"
    ),
    "klmath.lemma.x__table__mutmut_26": (
        "equivalent on this platform: np.longdouble has itemsize 16 on x86-64 (12 only on "
        "32-bit x86), so > 8 and > 9 refuse the same dtypes"
    ),
    "klmath.lemma.x__table__mutmut_42": "equivalent: NumPy reads dtype None as float64",
    "klmath.lemma.x__table__mutmut_43": (
        "equivalent: copy=None copies only when needed, as copy=False; the table is never "
        "written to"
    ),
    "klmath.lemma.x__table__mutmut_45": (
        "equivalent: the copy astype makes by default holds the same values, never written to"
    ),
    "klmath.lemma.x__table__mutmut_46": (
        "equivalent: an explicit copy holds the same values, never written to"
    ),
}


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
    "x__prepare__mutmut_31": (
        "equivalent: only a, the last argument, can be None past _given's check, so stopping "
        "the loop there skips nothing"
    ),
    "x__prepare__mutmut_40": "equivalent: 'X' is no dtype kind, so the test is the same",
    "x__prepare__mutmut_48": (
        "equivalent on this platform: np.longdouble has itemsize 16 on x86-64 (12 only on "
        "32-bit x86), so > 8 and > 9 refuse the same dtypes"
    ),
    "x__prepare__mutmut_53": _ON_CPU,
    "x__prepare__mutmut_56": _ON_CPU,
    "x__prepare__mutmut_57": "equivalent: NumPy reads dtype None as float64",
    "x__check_representable__mutmut_8": (
        "equivalent: only a, the last parameter checked, can be None, so stopping the loop "
        "there skips nothing"
    ),
    "x__check_representable__mutmut_20": (
        "equivalent: only a is 0-d, and for a 0-d mask _first_index gives () as the else branch"
    ),
    "x__check_representable__mutmut_24": (
        "equivalent: only a is 0-d, and t[()] of a 0-d tensor is float(t) as the else branch"
    ),
    "x__check_representable__mutmut_32": (
        "equivalent: a value of 0 is never refused (e^0 = 1), so > 0 and ≥ 0 name the same "
        "direction"
    ),
    "x__check_representable__mutmut_33": (
        "equivalent: a value in (0, 1] is never refused (e^v ∈ (1, e]), so > 0 and > 1 name "
        "the same direction"
    ),
    "x__check_params__mutmut_32": (
        "equivalent: the per-argument checks then always run and find nothing for finite "
        "parameters; only slower"
    ),
    "x_flow1d_mass__mutmut_13": _ON_CPU,
    "x_flow1d_mass__mutmut_16": _ON_CPU,
    "x_flow1d_missing_mass__mutmut_13": _ON_CPU,
    "x_flow1d_missing_mass__mutmut_16": _ON_CPU,
    "x_flow1d_inverse__mutmut_2": "equivalent: the iteration cap is never reached (≤ 12 needed)",
    "x__solve__mutmut_24": "equivalent: at z = 0 both tail forms of the residual are exact",
    "x__solve__mutmut_42": _BRACKET,
    "x__solve__mutmut_43": _BRACKET,
    "x__solve__mutmut_50": _BRACKET,
    "x__solve__mutmut_51": _BRACKET,
    "x__solve__mutmut_114": _BRACKET,
    "x__solve__mutmut_117": _BRACKET,
    "x__widen_bracket__mutmut_2": "equivalent: 64 or 65 rounds, never reached for a real root",
    "x__rtsafe__mutmut_3": _NEWTON,
    "x__rtsafe__mutmut_4": _NEWTON,
    "x__rtsafe__mutmut_6": _NEWTON,
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
_CAREFUL_TERMS = (
    "equivalent in result: {} the careful form of the same Σᵢ (eᵛ − 1 − v) (_expm1_minus_x "
    "of _log_ratio, a few ulps) instead of the fast one (≤ 7 ulp against mpmath), so the same "
    "values to rounding; only slower"
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
    "x__expm1_minus_x__mutmut_34": _ON_CPU,
    "x__expm1_minus_x__mutmut_37": _ON_CPU,
    "x__log_ratio__mutmut_5": (
        "equivalent in accuracy: at |r| = ½ exactly the mutant takes log1p(r), within 0.25 ulp "
        "of log(a/b) (6 584 pairs measured, both dtypes, magnitudes 1e±300)"
    ),
    "x__log_ratio__mutmut_33": (
        "equivalent: any positive finite filler works; log's value is discarded by the outer "
        "where() wherever the quotient is not normal, and the correction carries no gradient"
    ),
    "x__log_ratio__mutmut_48": (
        "equivalent: any argument > −1 works; log1p's value is discarded where |r| ≥ ½ and "
        "the where() passes no gradient to r there (log1p′(1) = ½ is finite)"
    ),
    "x__diagonal_terms__mutmut_1": _CAREFUL_TERMS.format("without autograd, always"),
    "x__diagonal_terms__mutmut_2": _CAREFUL_TERMS.format(
        "with grad mode on (no input needing grad),"
    ),
    "x__diagonal_terms__mutmut_13": _CAREFUL_TERMS.format("always"),
    "x__diagonal_terms__mutmut_3": (
        "equivalent: _diagonal_terms is reached only without autograd (its callers take the "
        "careful form, or run inside an autograd Function's forward, when a gradient is needed)"
    ),
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
    "x__diag_kl_values__mutmut_11": _FRESH_BUFFER,
    "x__diag_kl_values__mutmut_14": _FRESH_BUFFER,
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
    "x__diag_kl_grads__mutmut_19": (
        "equivalent: autograd drops a gradient returned for an input that needs none "
        "(first and second derivatives compared)"
    ),
    "x__diag_kl_grads__mutmut_26": (
        "equivalent: autograd drops a gradient returned for an input that needs none "
        "(first and second derivatives compared)"
    ),
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
    "x__positive_diagonal__mutmut_11": (
        "equivalent: a zero diagonal entry is refused before (check_lower_triangular), so "
        "< 0 and ≤ 0 select the same columns"
    ),
    "x__positive_diagonal__mutmut_15": (
        "equivalent: x / ±1 is x · ±1 exactly, and so is its gradient"
    ),
    "x_gaussian_kl_diag__mutmut_1": _AS_TENSORS,
    "x_gaussian_kl_diag__mutmut_2": _AS_TENSORS,
    "x_gaussian_kl_diag__mutmut_3": _AS_TENSORS,
    "x_gaussian_kl_diag__mutmut_4": _AS_TENSORS,
    "x_gaussian_kl_diag__mutmut_5": _AS_TENSORS,
    "x_gaussian_kl_diag__mutmut_42": (
        "equivalent: without a tensor that requires grad, the autograd Function's forward is "
        "the same no-grad kernel, and its output needs no gradient"
    ),
}.items():
    SURVIVOR_REASONS[f"klmath.gaussian.{_name}"] = _reason


# klmath.gaussian: the covariance and Cholesky-factor forms and the shared helpers
# (gaussian_kl, gaussian_kl_tril, _full_*, _tril_*, _solved_squares*, _unrolled_*,
# _fast_factor_kl, _kl_from_factors, _rescaled, _check_matrix_pair_shapes, _same_batch,
# _plain_tensors).
_SQUARE = "equivalent: the matrix is square (checked first), so shape[-2] is d as shape[-1]"
_PATH = (
    "equivalent in result: only which evaluation runs changes (unrolled or LAPACK, the same "
    "non-negative sum with the same checks); all agree to rounding"
)
_SPLIT_AT = (
    "equivalent in result: at d = 64 the solve is done in one piece instead of split; the "
    "same ‖L₁⁻¹[δ | L₀ − L₁]‖², rounded differently"
)
_SPLIT_H = (
    "equivalent in result: the 2 × 2 block elimination of the triangular solve is exact for "
    "any split point 1 ≤ h < d"
)
_NO_OVERWRITE = (
    "equivalent in result: L₀ (a temporary of the caller's) is not overwritten; the same "
    "‖L₁⁻¹[δ | L₀ − L₁]‖² is computed in a separate buffer, rounded differently"
)
_EMPTY_MEAN = (
    "equivalent: the mutant lets through a batch that is empty in {} alone; the fast path then "
    "reduces over the matrices (not empty) and returns the empty KL of the broadcast shape, as "
    "the careful path does (tests/test_gaussian_full_paths.py, {}-only, d = 1 to 4 and 64)"
)
_GENERAL = (
    "equivalent in result: the general conversion (klmath._backend.as_tensors) returns the "
    "same tensors for same-dtype float tensors; only slower"
)
_SYMMETRY_FIRST = (
    "equivalent: unreachable, as every covariance with a NaN or inf is refused by "
    "check_symmetric first (Σᵢⱼ − Σⱼᵢ is NaN there: inf − inf)"
)
_ZERO_PIVOT = (
    "equivalent: a zero on a factor's diagonal makes a term infinite (log 0 or a division "
    "by 0), so the finiteness check refuses the pair anyway"
)
_TOLERANCE_COVARIANCES = "equivalent: factor_kl reads the tolerance for covariances only"
_ZERO_TOLERANCE = (
    "equivalent in result: covariances asymmetric within √ε·max Σₖₖ then fail the fast check "
    "and the careful path accepts them, with the same KL"
)
_UNUSED_GRAD = (
    "equivalent: autograd discards a gradient returned for an input that does not require one"
)
for _name, _reason in {
    "x_gaussian_kl__mutmut_1": _GENERAL,
    "x_gaussian_kl__mutmut_2": _GENERAL,
    "x_gaussian_kl__mutmut_3": _GENERAL,
    "x_gaussian_kl__mutmut_4": _GENERAL,
    "x_gaussian_kl__mutmut_5": _GENERAL,
    "x_gaussian_kl__mutmut_89": _SYMMETRY_FIRST,
    "x_gaussian_kl__mutmut_90": _SYMMETRY_FIRST,
    "x_gaussian_kl__mutmut_91": _SYMMETRY_FIRST,
    "x_gaussian_kl__mutmut_95": _SYMMETRY_FIRST,
    "x_gaussian_kl__mutmut_96": _SYMMETRY_FIRST,
    "x_gaussian_kl__mutmut_97": _SYMMETRY_FIRST,
    "x_gaussian_kl_tril__mutmut_1": _GENERAL,
    "x_gaussian_kl_tril__mutmut_2": _GENERAL,
    "x_gaussian_kl_tril__mutmut_3": _GENERAL,
    "x_gaussian_kl_tril__mutmut_4": _GENERAL,
    "x_gaussian_kl_tril__mutmut_5": _GENERAL,
    "x__plain_tensors__mutmut_1": _GENERAL,
    "x__plain_tensors__mutmut_12": (
        "out of scope here: on one device every tensor's device is the first one's, so the "
        "mutant always takes the general conversion (same tensors); only a second device can "
        "tell"
    ),
    "x__solved_squares__mutmut_3": _SQUARE,
    "x__solved_squares__mutmut_5": (
        "equivalent: torch.broadcast_shapes skips None, and L₀ − L₁ already carries L₁'s batch"
    ),
    "x__solved_squares__mutmut_8": "equivalent: L₀ − L₁ already carries L₁'s batch shape",
    "x__solved_squares__mutmut_30": _SPLIT_AT,
    "x__solved_squares__mutmut_56": _SPLIT_H,
    "x__solved_squares_in_place__mutmut_1": (
        "equivalent: the default is never used (the one caller always passes overwrite_tril0)"
    ),
    "x__solved_squares_in_place__mutmut_4": _SQUARE,
    "x__solved_squares_in_place__mutmut_21": (
        "equivalent in result: at d = 64 the split solve runs in the separate buffer instead "
        "of in L₀'s storage; the same ‖L₁⁻¹[δ | L₀ − L₁]‖², rounded differently"
    ),
    "x__solved_squares_in_place__mutmut_23": (
        "equivalent in result: L₀'s shape without its last three axes equals the broadcast "
        "batch only where its batch does too (L₀ unbatched, batch ()); elsewhere it is shorter, "
        "so the mutant only declines the overwrite path, and the buffer path gives the same "
        "‖L₁⁻¹[δ | L₀ − L₁]‖², rounded differently"
    ),
    "x__solved_squares_in_place__mutmut_27": _SPLIT_H,
    "x__solved_squares_in_place__mutmut_106": (
        "equivalent in result: at d = 64 with one L₁ for the whole batch, one unsplit solve "
        "of every pair's columns instead of the split solve; the same ‖L₁⁻¹[δ | L₀ − L₁]‖², "
        "rounded differently"
    ),
    "x__solved_squares_in_place__mutmut_132": _SPLIT_AT,
    "x__solved_squares_in_place__mutmut_144": _SPLIT_H,
    "x__solved_squares_in_place__mutmut_83": _ON_CPU,
    "x__solved_squares_in_place__mutmut_86": _ON_CPU,
    # _1 and _22: an empty batch now goes to the careful path before reaching here
    # (_empty_batch), so these are survivors, for these reasons.
    "x__kl_from_factors__mutmut_1": (
        "equivalent in result: the two callers that rely on the default (the whole-batch "
        "no-grad paths) get the out-of-place evaluation of the same sum"
    ),
    "x__kl_from_factors__mutmut_22": (
        "equivalent in result: with grad mode on and no input requiring grad, the "
        "out-of-place evaluation of the same sum"
    ),
    "x__kl_from_factors__mutmut_51": _NO_OVERWRITE,
    "x__kl_from_factors__mutmut_55": _NO_OVERWRITE,
    "x__unrolled_factor__mutmut_3": _SQUARE,
    "x__unrolled_factor__mutmut_8": (
        "equivalent: the failed order (0 to 3) is exact in a float tensor and int() of it is "
        "the same"
    ),
    "x__unrolled_factor__mutmut_9": _ON_CPU,
    "x__unrolled_factor__mutmut_11": (
        "equivalent: the failed order (0 to 3) is exact in a float tensor and int() of it is "
        "the same"
    ),
    "x__unrolled_factor__mutmut_12": _ON_CPU,
    "x__unrolled_factor__mutmut_41": (
        "equivalent: the extra entries (row i above column j) are appended after every entry "
        "that is read (rows[i][j], j ≤ i) and never read"
    ),
    "x__unrolled_cholesky__mutmut_7": _SYMMETRY_FIRST,
    "x__unrolled_cholesky__mutmut_8": _SYMMETRY_FIRST,
    "x__unrolled_cholesky__mutmut_12": _SYMMETRY_FIRST,
    "x__unrolled_cholesky__mutmut_24": (
        "equivalent: for one matrix first_index of the 0-d mask is (), and a 0-d tensor "
        "indexed by () is itself"
    ),
    "x__unrolled_asymmetry_excess__mutmut_3": _SQUARE,
    "x__unrolled_asymmetry_excess__mutmut_20": (
        "equivalent: d = 1 has no pair to compare; −tol/scale and −tol·scale are both ≤ 0 for "
        "every scale ≥ 0 (and NaN for NaN)"
    ),
    "x__fast_factor_kl__mutmut_3": _SQUARE,
    "x__fast_factor_kl__mutmut_22": _ZERO_TOLERANCE,
    "x__fast_factor_kl__mutmut_51": _ZERO_TOLERANCE,
    "x__fast_factor_kl__mutmut_52": _TOLERANCE_COVARIANCES,
    "x__fast_factor_kl__mutmut_54": _TOLERANCE_COVARIANCES,
    "x__fast_factor_kl__mutmut_57": (
        "equivalent: for factors the extra largest diagonal entry is computed but never read "
        "(in_range is True without covariances); only slower"
    ),
    "x__fast_factor_kl__mutmut_76": (
        "equivalent: smallest = 0 needs a zero on a factor's diagonal: for covariances potrf "
        "flags that pivot (worst > 0), for factors the KL is then NaN (measured), so the "
        "pair is refused anyway"
    ),
    "x__same_batch__mutmut_1": (
        "equivalent in result: None equals no batch shape, so equal batch shapes also take "
        "the whole-batch path for broadcast shapes (the same sum; its checks raise the "
        "careful path's errors); only slower"
    ),
    "x__full_kl_no_grad__mutmut_5": _EMPTY_MEAN.format("mean0", "mean0"),
    "x__full_kl_no_grad__mutmut_7": _EMPTY_MEAN.format("mean1", "mean1"),
    "x__full_kl_no_grad__mutmut_10": _PATH,
    "x__full_kl_no_grad__mutmut_11": _SQUARE,
    "x__full_kl_no_grad__mutmut_12": _PATH,
    "x__full_kl_no_grad__mutmut_31": (
        "equivalent: torch.stack promotes the int64 failed order (0 to 3) to the float dtype "
        "of the other checks, exactly"
    ),
    "x__full_kl_no_grad__mutmut_41": (
        "equivalent in result: at an asymmetry of exactly √ε·max Σₖₖ (worst = 0) the careful "
        "path accepts the matrix too, with the same KL"
    ),
    "x__full_kl_no_grad__mutmut_102": _NO_OVERWRITE,
    "x__full_kl_no_grad__mutmut_107": _NO_OVERWRITE,
    "x__full_kl_no_grad__mutmut_108": _NO_OVERWRITE,
    "x__full_kl_careful__mutmut_22": _PATH,
    "x__full_kl_careful__mutmut_23": _SQUARE,
    "x__full_kl_careful__mutmut_24": _PATH,
    "x__full_kl_grads__mutmut_23": _UNUSED_GRAD,
    "x__full_kl_grads__mutmut_30": _UNUSED_GRAD,
    "x__tril_kl_no_grad__mutmut_5": _EMPTY_MEAN.format("mean0", "mean0"),
    "x__tril_kl_no_grad__mutmut_7": _EMPTY_MEAN.format("mean1", "mean1"),
    "x__tril_kl_no_grad__mutmut_11": _SQUARE,
    "x__tril_kl_no_grad__mutmut_12": _PATH,
    "x__tril_kl_no_grad__mutmut_53": _ZERO_PIVOT,
    "x__tril_kl_no_grad__mutmut_98": "equivalent: covariances=None is falsy, as False",
    "x__rescaled__mutmut_7": (
        "equivalent: where it differs (top = 0 or +inf) the mutant goes on to math.frexp, "
        "whose exponent is 0 there, so c = 1: the same values and gradients come back"
    ),
    "x__rescaled__mutmut_11": (
        "equivalent: at top = 0 the mutant goes on to math.frexp(0.0) = (0.0, 0), so c = 1: "
        "the same values and gradients come back (the factorization then refuses Σ₁)"
    ),
    "x__check_matrix_pair_shapes__mutmut_12": _SQUARE,
}.items():
    SURVIVOR_REASONS[f"klmath.gaussian.{_name}"] = _reason

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
                len(v.get("reruns", [])),
                _mutated_module(module, v),
            ]
        )
    header = ["module", "mutants", "killed", "survived", "score", "minutes", "reruns", "mutated"]
    return markdown_table(header, rows, "lrrrrrrl")


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
