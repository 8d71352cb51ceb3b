"""Sweep every pair of torch 2.13's KL registry: klmath's and torch's exact values against
an independent reference, many more draws than the test suite takes.

For each of the 87 registered (P, Q) pairs, Hypothesis draws ``--examples`` parameter
sets (the strategies and the reference of ``tests/test_kl_reference.py``: quadrature at
25 digits, exact sums, the matrix formula, stick-breaking; boundary values included),
and for each the script records

* klmath: which formula ``kl(p, q, method="exact")`` used, and its largest error;
* torch: ``torch.distributions.kl_divergence(p, q)`` classified as agreeing (same
  tolerance as the tests: 1e−10 relative + 1e−12 absolute), wrong (with the largest
  error), NaN, negative, ∞ where the reference is finite, finite where it is ∞, or
  raising — with one example parameter set per failure.

Writes the record ``kl_reference_sweep`` (``docs/results/``), from which
``docs/topics/kl-registry.md``'s table is rendered (``python docs/gen_results.py``).

Usage::

    python bench/kl_reference.py [--examples 40] [--only Normal-Laplace ...]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]

import torch  # noqa: E402
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from test_kl_reference import ATOL, REGISTRY_PAIRS, RTOL, draw_case  # noqa: E402
from torch import distributions as D  # noqa: E402

from klmath import kl  # noqa: E402
from klmath._records import write_record  # noqa: E402

REFERENCE_METHOD = {
    "MultivariateNormal": "matrix formula, 40 digits",
    "LowRankMultivariateNormal": "matrix formula, 40 digits",
    "Dirichlet": "stick-breaking into 2 beta KLs, quadrature",
    "Categorical": "exact sum, 40 digits",
    "OneHotCategorical": "exact sum, 40 digits",
    "ExponentialFamily": "textbook Wishart formula, 40 digits",
    "Independent": "sum of 1-D quadratures",
    "TransformedDistribution": "quadrature of the log-normal densities",
}
DISCRETE = {"Bernoulli", "Binomial", "Poisson", "Geometric"}


def reference_method(p_name: str) -> str:
    if p_name in REFERENCE_METHOD:
        return REFERENCE_METHOD[p_name]
    if p_name in DISCRETE:
        return "exact sum, 25 digits"
    return "quadrature, 25 digits"


def classify(value: float | None, expected: float) -> tuple[str, float]:
    """('ok' | failure kind, error) of one value against the reference."""
    if value is None:
        return "raises", math.nan
    if math.isnan(value):
        return "nan", math.nan
    if math.isinf(expected):
        return ("ok", 0.0) if value == math.inf else ("finite-for-inf", math.inf)
    if math.isinf(value):
        return "inf-for-finite", math.inf
    error = abs(value - expected) / max(1.0, abs(expected))  # relative where |KL| > 1
    if value < 0:
        return "negative", error
    if abs(value - expected) > RTOL * abs(expected) + ATOL:
        return "wrong", error
    return "ok", error


def describe(pair: tuple[Any, Any]) -> str:
    """The pair with its parameters (torch's repr of a Beta shows none)."""

    names = ("loc", "scale", "low", "high", "concentration1", "concentration0", "concentration")
    names += ("rate", "probs", "alpha", "total_count", "df", "cov_diag", "covariance_matrix")

    def one(dist: Any) -> str:
        params = {}
        for k in names:
            try:
                value = getattr(dist, k)
            except (AttributeError, NotImplementedError):
                continue
            if isinstance(value, torch.Tensor):
                params[k] = value.tolist()
        if not params and hasattr(dist, "base_dist"):
            return f"{type(dist).__name__}({one(dist.base_dist)})"
        body = ", ".join(f"{k}={v!r}" for k, v in params.items())
        return f"{type(dist).__name__}({body})"

    return " ‖ ".join(one(d) for d in pair)


def sweep_pair(p_name: str, q_name: str, examples: int) -> dict[str, Any]:
    stats: dict[str, Any] = {
        "reference": reference_method(p_name),
        "examples": 0,
        "klmath_formulas": set(),
        "klmath_failures": {},
        "klmath_max_error": 0.0,
        "torch_failures": {},
        "torch_max_error": 0.0,
    }

    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        p, q, expected = draw_case(p_name, q_name, data)
        stats["examples"] += 1
        try:
            res = kl(p, q, method="exact")
            ours: float | None = float(res.value)
            stats["klmath_formulas"].add(res.formula)
        except Exception:
            ours = None
        kind, error = classify(ours, expected)
        if kind != "ok":
            stats["klmath_failures"].setdefault(kind, {"count": 0, "example": describe((p, q))})
            stats["klmath_failures"][kind]["count"] += 1
        elif math.isfinite(error):
            stats["klmath_max_error"] = max(stats["klmath_max_error"], error)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                theirs: float | None = float(D.kl_divergence(p, q).detach())
        except Exception:
            theirs = None
        kind, error = classify(theirs, expected)
        if kind != "ok":
            entry = stats["torch_failures"].setdefault(
                kind,
                {"count": 0, "example": describe((p, q)), "value": theirs, "reference": expected},
            )
            entry["count"] += 1
            if kind in ("wrong", "negative") and math.isfinite(error):
                stats["torch_max_error"] = max(stats["torch_max_error"], error)
        elif math.isfinite(error):
            stats["torch_max_error"] = max(stats["torch_max_error"], error)

    run()
    stats["klmath_formulas"] = sorted(stats["klmath_formulas"])
    return stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=40, help="draws per pair (default 40)")
    parser.add_argument("--only", nargs="*", default=None, help="pairs as P-Q")
    parser.add_argument("--no-record", action="store_true", help="print only")
    args = parser.parse_args()
    torch.set_num_threads(1)
    pairs = [(p, q) for p, q in REGISTRY_PAIRS if args.only is None or f"{p}-{q}" in args.only]
    results: dict[str, Any] = {}
    start = time.perf_counter()
    for p_name, q_name in pairs:
        t0 = time.perf_counter()
        stats = sweep_pair(p_name, q_name, args.examples)
        results[f"{p_name}-{q_name}"] = stats
        torch_bad = ", ".join(f"{k} ×{v['count']}" for k, v in stats["torch_failures"].items())
        ours_bad = ", ".join(f"{k} ×{v['count']}" for k, v in stats["klmath_failures"].items())
        print(
            f"{p_name:>26} ‖ {q_name:<26} n={stats['examples']:3d} "
            f"klmath err {stats['klmath_max_error']:.1e} {ours_bad or 'ok':<12} "
            f"torch {torch_bad or 'ok'}  ({time.perf_counter() - t0:.1f}s)",
            flush=True,
        )
    elapsed = time.perf_counter() - start
    n_torch = sum(1 for s in results.values() if s["torch_failures"])
    n_ours = sum(1 for s in results.values() if s["klmath_failures"])
    print(
        f"{len(results)} pairs, {elapsed:.0f} s: torch disagrees on {n_torch}, klmath on {n_ours}"
    )
    if not args.no_record and args.only is None:
        path = write_record(
            "kl_reference_sweep",
            {"examples_per_pair": args.examples, "pairs": results, "seconds": elapsed},
            command=f"python bench/kl_reference.py --examples {args.examples}",
            notes="klmath's and torch's exact KL against tests/kl_reference.py",
        )
        print(f"record: {path}")


if __name__ == "__main__":
    main()
