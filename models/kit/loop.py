"""The training loop every model uses: epochs, a progress bar, metrics, checkpoints, early stop."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from models.kit.checkpoint import Checkpoint
from models.kit.progress import bar
from models.kit.state import TrainState

__all__ = ["train"]

EpochFn = Callable[[int], dict[str, float]]


def train(
    state: TrainState,
    run_epoch: EpochFn,
    *,
    epochs: int,
    checkpoint: Checkpoint | None = None,
    resume: bool = False,
    map_location: torch.device | str = "cpu",
    progress: bool = True,
    desc: str = "train",
    save_every: int = 1,
    should_stop: Callable[[TrainState], bool] | None = None,
    on_epoch: Callable[[int, dict[str, Any]], None] | None = None,
) -> TrainState:
    """Run ``run_epoch(epoch)`` for epochs ``state.epoch .. epochs - 1``; return ``state``.

    ``run_epoch`` trains one epoch (0-based index) and returns its metrics; they are
    appended to ``state.history`` with ``"epoch"`` (1-based). After every
    ``save_every`` epochs, after the last one and after an early stop, ``state`` is
    written to ``checkpoint``. ``resume=True`` first restores ``state`` from it
    (refusing a checkpoint of another set-up). ``should_stop(state)`` is asked after
    each epoch; True ends training (and is remembered, so a resume does not go on).
    ``on_epoch(epoch, metrics)`` is called last, after the checkpoint is written.
    """
    if checkpoint is not None:
        checkpoint.remove_stale_temporaries()
        if resume:
            checkpoint.restore(state, map_location)
    if state.extra.get("stopped_early"):
        return state
    progress_bar = bar(range(state.epoch, epochs), desc=desc, enabled=progress)
    for epoch in progress_bar:
        metrics = run_epoch(epoch)
        state.history.append({"epoch": epoch + 1, **metrics})
        state.epoch = epoch + 1
        stop = should_stop is not None and should_stop(state)
        if stop:
            state.extra["stopped_early"] = True
        progress_bar.set_postfix(
            {k: f"{v:.4g}" for k, v in metrics.items() if isinstance(v, float)}, refresh=False
        )
        last = stop or state.epoch == epochs or state.epoch % save_every == 0
        if checkpoint is not None and last:
            checkpoint.save(state)
        if on_epoch is not None:
            on_epoch(state.epoch, metrics)
        if stop:
            break
    progress_bar.close()
    return state
