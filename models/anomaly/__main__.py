"""``python -m models.anomaly`` (also ``python -m models.autoencoder``)."""

import sys

from models.anomaly.cli import main
from models.kit import run_cli

if __name__ == "__main__":
    sys.exit(run_cli(main))
