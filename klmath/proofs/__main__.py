"""``python -m klmath.proofs``: run the six claims, print a table, exit 1 if any fails.

Options: ``--steps`` also prints each claim's proof steps; ``--json PATH`` writes
the results (claim, expression, status, seconds, steps) as JSON.
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
        f"{result.cpu_seconds:>7.2f}  {result.claim}"
    )


def main(argv: list[str] | None = None) -> int:
    """Run the claims; return 0 if all are verified, 1 otherwise."""
    parser = argparse.ArgumentParser(prog="python -m klmath.proofs", description=__doc__)
    parser.add_argument("--steps", action="store_true", help="print each claim's proof steps")
    parser.add_argument("--json", type=Path, default=None, help="write the results as JSON")
    args = parser.parse_args(argv)

    print(f"{'#':>2}  {'claim':<24} {'status':<9} {'wall s':>7} {'cpu s':>7}  statement")
    index = iter(range(1, len(CLAIMS) + 1))

    def show(result: ProofResult) -> None:
        print(_row(next(index), result), flush=True)
        if args.steps or not result.verified:
            for step in result.steps:
                print(f"      ✓ {step}")
        if not result.verified:
            print(f"      ✗ {result.detail}")

    start, cpu_start = time.perf_counter(), time.process_time()
    results = run_all(CLAIMS, progress=show)
    total, cpu_total = time.perf_counter() - start, time.process_time() - cpu_start
    verified = sum(r.verified for r in results)
    print(f"{verified}/{len(results)} claims verified in {total:.2f} s wall, {cpu_total:.2f} s CPU")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = [
            {
                "name": r.name,
                "claim": r.claim,
                "expression": str(r.expression),
                "status": r.status,
                "seconds": r.seconds,
                "cpu_seconds": r.cpu_seconds,
                "steps": list(r.steps),
                "detail": r.detail,
            }
            for r in results
        ]
        args.json.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    return 0 if verified == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
