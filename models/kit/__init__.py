"""What every model shares: runtime, command line, training loop, checkpoints, plots, reports.

* :mod:`~models.kit.runtime` — device (a clear error for one that is not there),
  threads, dtype, seeds, random states;
* :mod:`~models.kit.cli` — the common options of every ``python -m models.NAME``,
  the writable-output check, one-line errors;
* :mod:`~models.kit.loop` with :mod:`~models.kit.state` — the epoch loop (progress
  bar, per-epoch metrics, checkpoints, early stop);
* :mod:`~models.kit.checkpoint` — one checkpoint schema, atomic writes, refused
  resumes;
* :mod:`~models.kit.plotting` and :mod:`~models.kit.progress` — the only places
  matplotlib and tqdm are set up;
* :mod:`~models.kit.reports` — ``report.json`` + ``report.md`` and records;
* :mod:`~models.kit.detection` — thresholds and metrics every anomaly detector is
  judged by.
"""

from models.kit.checkpoint import Checkpoint, save_atomic
from models.kit.cli import check_positive, model_parser, prepare_out, run_cli
from models.kit.errors import UserError
from models.kit.loop import train
from models.kit.reports import Stopwatch, command_line, write_record, write_report
from models.kit.runtime import pick_device, seed_everything, set_threads
from models.kit.state import TrainState

__all__ = [
    "Checkpoint",
    "Stopwatch",
    "TrainState",
    "UserError",
    "check_positive",
    "command_line",
    "model_parser",
    "pick_device",
    "prepare_out",
    "run_cli",
    "save_atomic",
    "seed_everything",
    "set_threads",
    "train",
    "write_record",
    "write_report",
]
