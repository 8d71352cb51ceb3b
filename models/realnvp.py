"""``python -m models.realnvp``: RealNVP on toy densities or MNIST (see ``--help``)."""

import sys

from models.flows.realnvp_cli import main
from models.kit import run_cli

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(run_cli(main))
