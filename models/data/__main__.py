"""``python -m models.data``: fetch the data sets, or show where they are found."""

from __future__ import annotations

import argparse
import sys

from models.data import catalog
from models.data.fetch import fetch
from models.data.locate import (
    DataChecksumError,
    cache_dir,
    candidate_roots,
    find_source,
    load_dataset,
)
from models.kit.cli import run_cli
from models.kit.errors import UserError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m models.data",
        description="MNIST, KMNIST and Fashion-MNIST: download the official files (verified by "
        "SHA-256) into the user cache, or show where each is found.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    f = sub.add_parser("fetch", help="download the official files, verified, into the cache")
    f.add_argument(
        "--dataset",
        action="append",
        choices=catalog.DATASETS,
        help="data set to fetch (repeatable; default: all three)",
    )
    f.add_argument("--dest", default=None, help=f"data root to fill (default: {cache_dir()})")
    f.add_argument("--quiet", action="store_true", help="no progress bars")
    w = sub.add_parser("where", help="show which files each data set is read from, verified")
    w.add_argument("--data-root", default=None, help="the only folder to search")
    w.add_argument(
        "--check",
        action="store_true",
        help="exit with an error unless every set is found and right",
    )
    return parser


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if args.command == "fetch":
        for name in args.dataset or catalog.DATASETS:
            folder = fetch(name, args.dest, progress=not args.quiet)
            print(f"{name}: verified in {folder}")
        return
    roots = candidate_roots(args.data_root)
    print("searched, in order: " + ", ".join(map(str, roots)))
    bad = []
    for name in catalog.DATASETS:
        for split in catalog.SPLITS:
            source = find_source(name, split, roots)
            if source is None:
                state = f"missing (python -m models.data fetch --dataset {name})"
                bad.append(name)
            else:
                try:
                    load_dataset(name, split, args.data_root)
                    state = f"ok: {source}"
                except (DataChecksumError, ValueError) as exc:
                    state = f"REFUSED: {exc}"
                    bad.append(name)
            print(f"{name:>13} {split:<5} {state}")
    if args.check and bad:
        names = " ".join(f"--dataset {n}" for n in dict.fromkeys(bad))
        raise UserError(f"data missing or refused; run: python -m models.data fetch {names}")


if __name__ == "__main__":
    sys.exit(run_cli(main))
