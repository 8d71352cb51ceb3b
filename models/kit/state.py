"""What a training run carries from epoch to epoch, and what a checkpoint saves of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

__all__ = ["TrainState"]


@dataclass
class TrainState:
    """The parts of a run that a checkpoint saves and a resume restores.

    Attributes
    ----------
    modules, optimizers, schedulers : dict
        Objects with ``state_dict``/``load_state_dict``, by name.
    generators : dict of torch.Generator
        Explicit generators (batch order, binarisation noise, ...), by name.
    epoch : int
        Epochs completed.
    history : list of dict
        One record per completed epoch (``{"epoch": n, metric: value, ...}``).
    extra : dict
        Anything else the model keeps (best weights so far, a stop flag, ...).
    """

    modules: dict[str, Any] = field(default_factory=dict)
    optimizers: dict[str, Any] = field(default_factory=dict)
    schedulers: dict[str, Any] = field(default_factory=dict)
    generators: dict[str, torch.Generator] = field(default_factory=dict)
    epoch: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
