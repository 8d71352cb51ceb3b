"""One command-line builder for every model, and the wrapper that turns errors into one line.

Every ``python -m models.NAME`` gets the same common options::

    --epochs --batch-size --lr --seed --device --threads --data-root --out
    --resume --quiet --record

plus its own. :func:`run_cli` prints a :class:`~models.kit.errors.UserError` as one
line and exits with status 2; an interrupt (Ctrl-C) exits with 130 and says that
``--resume`` continues from the last checkpoint.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from models.kit.errors import UserError

__all__ = ["COMMON_OPTIONS", "check_positive", "model_parser", "prepare_out", "run_cli"]

COMMON_OPTIONS = (
    "epochs", "batch_size", "lr", "seed", "device", "threads", "data_root", "out", "resume",
    "quiet", "record",
)  # fmt: skip

DATA_HELP = (
    "folder holding MNIST/KMNIST/Fashion-MNIST in any usual layout (default: $KLMATH_DATA, "
    "else ./data, else ../shared/data, else the download cache; see python -m models.data)"
)


class _Formatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows a default unless it is None/False or the help already states it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default is None or action.default is False or "default" in text:
            return text
        return super()._get_help_string(action) or text


def model_parser(
    name: str,
    description: str,
    *,
    epochs: int | None,
    batch_size: int | None,
    lr: float | None,
    threads: int | None = 1,
    uses_data: bool = True,
    epochs_help: str = "training epochs",
    batch_help: str = "training batch size",
    lr_help: str = "Adam learning rate",
    out_help: str | None = None,
) -> argparse.ArgumentParser:
    """Return a parser with the common options (defaults as given) in their own group.

    ``threads`` is the measured default of ``--threads`` (None: torch's choice);
    ``uses_data=False`` marks ``--data-root`` as unused (the model draws its own data).
    """
    parser = argparse.ArgumentParser(
        prog=f"python -m models.{name}",
        description=description,
        formatter_class=_Formatter,
    )
    common = parser.add_argument_group("common options (every model)")
    common.add_argument("--epochs", type=int, default=epochs, help=epochs_help)
    common.add_argument("--batch-size", type=int, default=batch_size, help=batch_help)
    common.add_argument("--lr", type=float, default=lr, help=lr_help)
    common.add_argument("--seed", type=int, default=0, help="seed of every random choice")
    common.add_argument(
        "--device", default="auto", help="auto (CUDA if any, else cpu), cpu, cuda:N"
    )
    common.add_argument(
        "--threads",
        type=int,
        default=threads,
        help="torch CPU threads (1 measured fastest on 2 cores)",
    )
    common.add_argument(
        "--data-root",
        type=Path,
        default=None,
        help=DATA_HELP if uses_data else "not used: this model draws its own data",
    )
    common.add_argument(
        "--out", type=Path, default=Path("results") / name, help=out_help or "output folder"
    )
    common.add_argument(
        "--resume", action="store_true", help="continue from the checkpoint in --out"
    )
    common.add_argument("--quiet", action="store_true", help="no progress bars")
    common.add_argument("--no-progress", dest="quiet", action="store_true", help=argparse.SUPPRESS)
    common.add_argument(
        "--record",
        nargs="?",
        const="",
        default=None,
        metavar="NAME",
        help="also write the headline numbers as the record docs/results/NAME.json "
        "(default NAME: the model's; make demo does this)",
    )
    return parser


def check_positive(args: argparse.Namespace, *names: str) -> None:
    """Raise UserError naming the first option among ``names`` that is not > 0."""
    for name in names:
        value = getattr(args, name)
        if value is not None and not value > 0:
            raise UserError(f"--{name.replace('_', '-')} must be positive, got {value}")


def prepare_out(out: Path) -> Path:
    """Create ``out`` and check that a file can be written there, before any training.

    Raises
    ------
    UserError
        The folder cannot be created or written (read-only, a file in the way, ...).
    """
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".write-test.") as handle:
            handle.write(b"ok")
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        raise UserError(f"--out {out} is not writable ({exc.strerror or exc})") from None
    return out


def run_cli(main: Callable[[list[str] | None], Any], argv: list[str] | None = None) -> int:
    """Call ``main(argv)``; print a UserError or an interrupt as one line; return the exit code."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    module = spec.name if spec is not None and spec.name.startswith("models.") else main.__module__
    prog = "python -m " + module.removesuffix(".__main__").removesuffix(".cli")
    try:
        main(argv)
    except UserError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; rerun with --resume to continue", file=sys.stderr)
        return 130
    return 0
