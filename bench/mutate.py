"""Mutation testing of klmath's core modules with mutmut, one module at a time.

``make mutate`` runs every module; ``make mutate MODULE=coupling`` one of them
(``python bench/mutate.py coupling``). Each module is mutated in its own scratch
copy of the repository (``build/mutmut/MODULE``), and each mutant is tested only by
that module's tests (the ``TESTS`` table below; mutmut further narrows them to the
tests that call the mutated function). The score, the wall time and every
surviving mutant (with its diff) are written as the record ``mutation_MODULE``
(``docs/results/mutation_MODULE.json``); ``docs/mutation.md`` renders the scores
and lists each survivor with the reason it is equivalent or out of scope.

mutmut 3 mutates the bodies of functions and methods (not module-level constants:
those are checked by the proof run, ``python -m klmath.proofs``).

``python bench/mutate.py MODULE --survivors`` (or ``--only NAME...``) reruns only the
survivors of the module's record (or the named ones) after tests were added, and
merges the outcome into the record: the mutants killed by the full run stay killed,
which holds only if the module is the one that run mutated. The record stores the
SHA-256 of ``klmath/MODULE.py`` (older records: the file at the record's git commit);
a rerun refuses to merge when the module differs.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from klmath._records import read_record, write_record  # noqa: E402

# Module -> the tests that state its mathematics (globs relative to the repository).
# The whole-proof-run tests (tests/test_proofs_claims.py) are left out: each mutant
# would rerun every claim; tests/test_proofs_library.py runs the same library checks.
TESTS: dict[str, list[str]] = {
    "gaussian": [
        "tests/test_gaussian_*.py",
        "tests/test_proofs_library.py",
    ],
    "_gaussian_fast": ["tests/test_gaussian_*.py"],
    "gaussian_matrix": ["tests/test_gaussian_matrix*.py", "tests/test_mixture_*.py"],
    "registry": ["tests/test_registry_*.py", "tests/test_kl_guarantees.py"],
    "divergence": [
        "tests/test_kl_*.py",
        "tests/test_entropy*.py",
        "tests/test_registry_*.py",
    ],
    "montecarlo": ["tests/test_montecarlo_*.py"],
    "mixture": ["tests/test_montecarlo_mixture.py", "tests/test_mixture_*.py"],
    "coupling": [
        "tests/test_coupling_properties.py",
        "tests/test_coupling_errors.py",
        "tests/test_coupling_api.py",
        "tests/test_proofs_numerics.py",
        "tests/test_proofs_library.py",
    ],
    "flow1d": [
        "tests/test_flow1d_properties.py",
        "tests/test_flow1d_errors.py",
        "tests/test_flow1d_inverse_ends.py",
        "tests/test_flow1d_brackets.py",
        "tests/test_proofs_numerics.py",
        "tests/test_proofs_library.py",
    ],
    "lemma": ["tests/test_lemma_*.py", "tests/test_proofs_library.py"],
}

_COPY = ("klmath", "tests", "pyproject.toml", "docs/results", "bench")


def _config(module: str, tests: list[str]) -> str:
    def toml_list(items: list[str]) -> str:
        return "[" + ", ".join(json.dumps(i) for i in items) + "]"

    return (
        "\n[tool.mutmut]\n"
        'source_paths = ["klmath"]\n'
        # Tests read bench/kl_edge_cases.py and the committed records.
        'also_copy = ["bench", "docs/results"]\n'
        f'only_mutate = ["klmath/{module}.py"]\n'
        f"pytest_add_cli_args_test_selection = {toml_list(tests)}\n"
        # The patched-copy tests run the proofs on a copy of klmath in a subprocess:
        # meaningless (and failing) inside mutmut's trampolined copy; so are the tests
        # that a warning points at the caller's line (the trampoline adds a frame).
        'pytest_add_cli_args = ["-p", "no:cacheprovider", "-q", "-x", '
        '"-k", "not patched and not callers_line"]\n'
    )


def _scratch(module: str) -> Path:
    work = ROOT / "build" / "mutmut" / module
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    for name in _COPY:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, work / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif src.exists():
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, work / name)
    tests = sorted({str(p.relative_to(ROOT)) for g in TESTS[module] for p in ROOT.glob(g)})
    with (work / "pyproject.toml").open("a") as fh:
        fh.write(_config(module, tests))
    return work


def _results(work: Path, mutmut: str) -> dict[str, str]:
    out = subprocess.run(
        [mutmut, "results", "--all", "true"], cwd=work, capture_output=True, text=True, check=True
    ).stdout
    status: dict[str, str] = {}
    for line in out.splitlines():
        name, _, state = line.strip().rpartition(": ")
        if name:
            status[name] = state
    return status


def _diff(work: Path, mutmut: str, name: str) -> str:
    done = subprocess.run([mutmut, "show", name], cwd=work, capture_output=True, text=True)
    return done.stdout.strip()


def run(module: str, max_children: int) -> dict[str, object]:
    """Mutate ``module``, test every mutant, write the record; return its values."""
    mutmut = str(Path(sys.executable).parent / "mutmut")
    work = _scratch(module)
    env = dict(os.environ, CI="1", OMP_NUM_THREADS="1", PYTHONHASHSEED="0")
    start = time.perf_counter()
    done = subprocess.run(
        [mutmut, "run", "--max-children", str(max_children)], cwd=work, env=env, text=True
    )
    seconds = time.perf_counter() - start
    status = _results(work, mutmut)
    counts: dict[str, int] = {}
    for state in status.values():
        counts[state] = counts.get(state, 0) + 1
    judged = {k: v for k, v in status.items() if v not in ("skipped", "not checked")}
    killed = sum(
        v in ("killed", "timeout", "segfault", "caught by type check") for v in judged.values()
    )
    if not judged:
        # mutmut tests the unmutated copy first; when that fails nothing is judged.
        raise SystemExit(
            f"mutmut judged no mutant of {module} (exit code {done.returncode}): the tests fail "
            f"on the unmutated copy in {work}; see the output above. No record written."
        )
    survivors = {
        k: _diff(work, mutmut, k) for k, v in status.items() if v in ("survived", "no tests")
    }
    values = {
        "module": module,
        "mutants": len(status),
        "killed": killed,
        "score": killed / len(judged) if judged else None,
        "counts": counts,
        "seconds": round(seconds, 1),
        "tests": TESTS[module],
        "survivors": survivors,
        "exit_code": done.returncode,
        "source_sha256": _source_hash(module),
    }
    write_record(f"mutation_{module}", values, command=f"make mutate MODULE={module}")
    return values


def _source_hash(module: str, commit: str | None = None) -> str:
    """SHA-256 of klmath/MODULE.py: the working copy, or the file at ``commit``."""
    path = f"klmath/{module}.py"
    if commit is None:
        data = (ROOT / path).read_bytes()
    else:
        data = subprocess.run(
            ["git", "show", f"{commit}:{path}"], cwd=ROOT, capture_output=True, check=True
        ).stdout
    return hashlib.sha256(data).hexdigest()


_KILLED = ("killed", "timeout", "segfault", "caught by type check")


def rerun(module: str, patterns: list[str] | None, max_children: int) -> dict[str, object]:
    """Rerun survivors of the record ``mutation_MODULE`` (all, or those matching ``patterns``)
    and merge the outcome into it; refuse if klmath/MODULE.py is not the module it mutated."""
    record = read_record(f"mutation_{module}")
    values = dict(record["values"])
    stored = values.get("source_sha256")
    source = "the record's source_sha256"
    if stored is None:  # records before source hashes: the module at the record's commit
        stored, source = (
            _source_hash(module, record["git"]),
            f"klmath/{module}.py at {record['git']}",
        )
    if stored != _source_hash(module):
        raise SystemExit(
            f"klmath/{module}.py differs from the module the record mutation_{module} was made "
            f"from ({source}); its killed mutants are not known to stay killed. Run the whole "
            f"module again: make mutate MODULE={module}"
        )
    survivors: dict[str, str] = dict(values["survivors"])
    names = sorted(
        n for n in survivors if patterns is None or any(fnmatch.fnmatch(n, p) for p in patterns)
    )
    if not names:
        raise SystemExit(f"no survivor of mutation_{module} matches {patterns}")
    mutmut = str(Path(sys.executable).parent / "mutmut")
    work = _scratch(module)
    env = dict(os.environ, CI="1", OMP_NUM_THREADS="1", PYTHONHASHSEED="0")
    start = time.perf_counter()
    done = subprocess.run(
        [mutmut, "run", "--max-children", str(max_children), *names], cwd=work, env=env, text=True
    )
    seconds = time.perf_counter() - start
    status = _results(work, mutmut)
    if len(status) != values["mutants"]:
        raise SystemExit(
            f"mutmut made {len(status)} mutants of {module}, the record has {values['mutants']}: "
            "not the same mutants (another mutmut version?). No record written."
        )
    missing = [n for n in names if status.get(n) in (None, "not checked", "skipped")]
    if missing:
        raise SystemExit(f"mutmut did not judge {missing} (exit code {done.returncode}).")
    killed = [n for n in names if status[n] in _KILLED]
    counts: dict[str, int] = dict(values["counts"])
    for n in killed:
        old = "survived" if survivors[n].startswith(f"# {n}: survived") else "no tests"
        counts[old] -= 1
        counts[status[n]] = counts.get(status[n], 0) + 1
        del survivors[n]
    judged = sum(v for k, v in counts.items() if k not in ("skipped", "not checked"))
    values.update(
        killed=int(values["killed"]) + len(killed),
        score=(int(values["killed"]) + len(killed)) / judged,
        counts={k: v for k, v in counts.items() if v},
        survivors=survivors,
        source_sha256=stored,
        reruns=[
            *values.get("reruns", []),
            {
                "mutants": len(names),
                "killed": killed,
                "seconds": round(seconds, 1),
                "tests": sorted(
                    str(p.relative_to(ROOT)) for g in TESTS[module] for p in ROOT.glob(g)
                ),
            },
        ],
    )
    values.setdefault("full_run", {"git": record["git"], "date": record["date"]})
    write_record(
        f"mutation_{module}",
        values,
        command=f"make mutate MODULE={module}",
        notes=(
            "Full run (git and date in values.full_run), then the survivors rerun against the "
            "tests added since (values.reruns: python bench/mutate.py MODULE --survivors); the "
            "module itself unchanged (values.source_sha256)."
        ),
    )
    return values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", default=list(TESTS), help="modules (default: all)")
    parser.add_argument("--max-children", type=int, default=2, help="parallel test processes")
    again = parser.add_mutually_exclusive_group()
    again.add_argument(
        "--survivors", action="store_true", help="rerun the survivors of the module's record"
    )
    again.add_argument(
        "--only", nargs="+", metavar="NAME", help="rerun these survivors (mutmut names or globs)"
    )
    args = parser.parse_args(argv)
    unknown = [m for m in args.modules if m not in TESTS]
    if unknown:
        parser.error(f"unknown module(s) {unknown}; choose from {sorted(TESTS)}")
    if (args.survivors or args.only) and len(args.modules) != 1:
        parser.error("--survivors and --only rerun one module: name it")
    for module in args.modules:
        if args.survivors or args.only:
            values = rerun(module, args.only, args.max_children)
        else:
            values = run(module, args.max_children)
        score = values["score"]
        print(
            f"{module}: {values['killed']}/{values['mutants']} killed "
            f"({'n/a' if score is None else f'{100 * float(score):.1f} %'}), "
            f"{len(values['survivors'])} survivors, {values['seconds']} s",  # type: ignore[arg-type]
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
