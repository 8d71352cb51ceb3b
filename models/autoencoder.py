"""``python -m models.autoencoder``: an alias of ``python -m models.anomaly`` (see its help)."""

import sys

from models.anomaly.cli import main
from models.kit import run_cli

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(run_cli(main))
