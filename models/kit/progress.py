"""The one progress-bar style of every model (tqdm, on stderr); the only place tqdm is set up."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

__all__ = ["bar"]


def bar(
    iterable: Iterable[Any] | None = None,
    *,
    desc: str,
    total: int | None = None,
    unit: str = "epoch",
    enabled: bool = True,
    leave: bool = True,
) -> Any:
    """Return a tqdm progress bar (a silent one when ``enabled`` is False).

    Every bar goes to stderr, refreshes at most once a second and adapts to the
    terminal width, so logs stay short.
    """
    from tqdm.auto import tqdm

    return tqdm(
        iterable,
        desc=desc,
        total=total,
        unit=unit,
        disable=not enabled,
        leave=leave,
        file=sys.stderr,
        mininterval=1.0,
        dynamic_ncols=True,
    )
