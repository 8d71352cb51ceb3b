"""``python -m klmath.proofs``: check every claim, print a table, exit 1 if any fails.

Options: ``--steps`` also prints each claim's proof steps; ``--json PATH`` writes the
results (statement, generality, status, seconds, steps, concrete-size steps, theorems
used) as JSON; ``--claim NAME`` (repeatable) runs only the named claims; ``--record``
writes the run as the record ``proofs`` (``docs/results/proofs.json``, see
:mod:`klmath._records`), from which the README and the docs quote the timings.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from klmath.proofs import CLAIMS, ProofResult, run_all


def _row(index: int, result: ProofResult) -> str:
    return (
        f"{index:>2}  {result.name:<24} {result.status:<9} {result.seconds:>7.2f} "
        f"{result.cpu_seconds:>7.2f}  {result.generality}"
    )


def main(argv: list[str] | None = None) -> int:
    """Run the claims; return 0 if all are verified, 1 otherwise."""
    parser = argparse.ArgumentParser(prog="python -m klmath.proofs", description=__doc__)
    parser.add_argument("--steps", action="store_true", help="print each claim's proof steps")
    parser.add_argument("--json", type=Path, default=None, help="write the results as JSON")
    parser.add_argument(
        "--claim", action="append", default=None, help="run only this claim (repeatable)"
    )
    parser.add_argument(
        "--record", action="store_true", help="write the run as the record 'proofs'"
    )
    args = parser.parse_args(argv)
    claims = CLAIMS
    if args.claim:
        known = {c.__name__: c for c in CLAIMS}
        unknown = [name for name in args.claim if name not in known]
        if unknown:
            parser.error(f"unknown claim(s) {unknown}; choose from {sorted(known)}")
        claims = tuple(known[name] for name in args.claim)

    print(f"{'#':>2}  {'claim':<24} {'status':<9} {'wall s':>7} {'cpu s':>7}  proved for")
    index = iter(range(1, len(claims) + 1))

    def show(result: ProofResult) -> None:
        print(_row(next(index), result), flush=True)
        print(f"      {result.claim}")
        for item in result.concrete:
            print(f"      concrete size only — {item}")
        if args.steps or not result.verified:
            for step in result.steps:
                print(f"      ✓ {step}")
            for use in result.uses:
                print(f"      (uses: {use})")
        if not result.verified:
            print(f"      ✗ {result.detail}")

    start, cpu_start = time.perf_counter(), time.process_time()
    results = run_all(claims, progress=show)
    total, cpu_total = time.perf_counter() - start, time.process_time() - cpu_start
    verified = sum(r.verified for r in results)
    print(f"{verified}/{len(results)} claims verified in {total:.2f} s wall, {cpu_total:.2f} s CPU")
    payload = {
        "verified": verified,
        "claims": [r.as_dict() for r in results],
        "seconds": total,
        "cpu_seconds": cpu_total,
    }
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    if args.record:
        from klmath._records import write_record

        write_record(
            "proofs",
            payload,
            command="python -m klmath.proofs --record",
            notes="seconds: wall time; cpu_seconds: CPU time of the process (SymPy, mpmath "
            "and z3 are single-threaded, so CPU time is what a run costs on a quiet machine)",
        )
    return 0 if verified == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
