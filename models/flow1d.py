"""``python -m models.flow1d``: the 1-D flow of seed problem 2 (see ``--help``)."""

import sys

from models.flows.flow1d_cli import main
from models.kit import run_cli

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(run_cli(main))
