"""``python -m models.vae`` (see ``--help``)."""

import sys

from models.kit import run_cli
from models.vae.cli import main

if __name__ == "__main__":
    sys.exit(run_cli(main))
