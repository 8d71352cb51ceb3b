"""Time a command (``make test``, ``make demo``) and write its wall and CPU time as a record.

    python bench/time_command.py NAME -- COMMAND [ARG ...]

Runs COMMAND once, as is, and writes the record ``docs/results/time_NAME.json``:
wall seconds, the CPU seconds of the command and everything it started, its exit
code, and the machine's 1-minute load average before and after (one run: no
spread; the load says how quiet the machine was). A failing command is recorded
too, with its exit code, and this script exits with that code.
"""

from __future__ import annotations

import argparse
import os
import resource
import shlex
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from klmath._records import write_record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", help="record name suffix, e.g. make-test -> time_make-test")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command after --, e.g. -- make test")
    load_before = os.getloadavg()[0]
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    code = subprocess.call(command)
    wall = time.perf_counter() - start
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    text = shlex.join(command)
    print(f"{text}: {wall:.1f} s wall, {cpu:.1f} s CPU, exit code {code}")
    path = write_record(
        f"time_{args.name}",
        {
            "command": text,
            "wall_s": wall,
            "cpu_s": cpu,
            "exit_code": code,
            "load_average_1min": {"before": load_before, "after": os.getloadavg()[0]},
        },
        command=f"python bench/time_command.py {args.name} -- {text}",
        notes="One run: no spread.",
    )
    print(f"record: {path}")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
