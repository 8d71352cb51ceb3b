"""``python -m models.demo``: what ``make demo`` runs, one progress line per stage with its time.

Each stage is a command; its standard output goes to ``OUT/NAME.txt`` (the proof
and benchmark tables) or its own folder, everything else to ``OUT/logs/NAME.log``.
The models write their canonical records (``--record``) into ``docs/results/``; a
full run also records its own time (``demo_time``), and the last stage re-renders
the README's and the docs' tables from the records. A failing stage stops the demo
and shows the end of its log.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

__all__ = ["main", "stages"]


def stages(out: Path) -> list[tuple[str, list[str], str | None]]:
    """(name, command, file for its standard output or None) of every stage, in order."""
    py = sys.executable
    model = [py, "-m"]
    common = ["--quiet", "--record"]
    return [
        ("data", [*model, "models.data", "where", "--check"], None),
        ("proofs", [*model, "klmath.proofs"], "proofs.txt"),
        ("demo_kl", [py, "bench/demo_kl.py"], "demo_kl.txt"),
        ("kl_near_identical", [py, "bench/kl_near_identical.py"], "kl_near_identical.txt"),
        ("bench_gaussian_kl", [py, "bench/gaussian_kl.py"], "bench_gaussian_kl.txt"),
        ("bench_coupling", [py, "bench/coupling.py"], "bench_coupling.txt"),
        ("flow1d", [*model, "models.flow1d", "--out", f"{out}/flow1d", *common], None),
        ("autoencoder", [*model, "models.autoencoder", "--out", f"{out}/autoencoder", *common],
         None),
        ("realnvp_moons", [*model, "models.realnvp", "--dataset", "moons", "--out",
                           f"{out}/realnvp_moons", *common], None),
        ("vae_linear", [*model, "models.vae", "--linear", "--out", f"{out}/vae_linear", *common],
         None),
        ("vae_mnist", [*model, "models.vae", "--out", f"{out}/vae_mnist", *common], None),
        ("report", [*model, "models.report", str(out)], None),
    ]  # fmt: skip


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m models.demo", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("results"), help="output folder")
    parser.add_argument("--only", nargs="*", default=None, help="run only these stages")
    args = parser.parse_args(argv)
    logs = args.out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    todo = [s for s in stages(args.out) if args.only is None or s[0] in args.only]
    total = len(todo) + (args.only is None)
    start = time.perf_counter()
    seconds_by_stage: dict[str, float] = {}
    cpu_by_stage: dict[str, float] = {}
    load = 0.0
    for i, (name, command, stdout) in enumerate(todo, 1):
        print(f"[{i:2d}/{total}] {name:<18}", end=" ", flush=True)
        t0, cpu0 = time.perf_counter(), _children_cpu()
        log = logs / f"{name}.log"
        with log.open("w") as err:
            target = (args.out / stdout).open("w") if stdout else err
            try:
                rc = subprocess.run(command, stdout=target, stderr=err, check=False).returncode
            finally:
                if stdout:
                    target.close()
        seconds = time.perf_counter() - t0
        if rc != 0:
            print(f"FAILED (exit {rc}) after {seconds:.1f} s; end of {log}:")
            print("\n".join(log.read_text().splitlines()[-15:]))
            return rc
        cpu = _children_cpu() - cpu0
        print(
            f"ok {seconds:7.1f} s ({cpu:.1f} s CPU)"
            + (f" -> {args.out / stdout}" if stdout else "")
        )
        seconds_by_stage[name] = round(seconds, 1)
        cpu_by_stage[name] = round(cpu, 1)
        load += os.getloadavg()[0] * seconds
    elapsed = time.perf_counter() - start
    if args.only is None:  # a full run: record its time, then render the pages' tables
        from klmath._records import write_record

        write_record(
            "demo_time",
            {
                "seconds": elapsed,
                "cpu_seconds": sum(cpu_by_stage.values()),
                "stages": seconds_by_stage,
                "stages_cpu_seconds": cpu_by_stage,
                "load_average": load / elapsed,
            },
            command="make demo",
            notes="wall-clock and CPU seconds (user + system of the stage's processes) of each "
            "stage of python -m models.demo; load_average is the 1-minute load average sampled "
            "after each stage, weighted by its duration (the machine is shared)",
        )
        print(f"[{total:2d}/{total}] {'tables':<18}", end=" ", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.run(
            [sys.executable, "docs/gen_results.py"], capture_output=True, text=True, check=False
        ).returncode
        print(f"{'ok' if rc == 0 else f'FAILED (exit {rc})'} {time.perf_counter() - t0:7.1f} s")
        if rc:
            return rc
    print(f"all stages in {time.perf_counter() - start:.0f} s; see {args.out}/REPORT.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
