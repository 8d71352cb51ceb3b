"""The one place matplotlib is set up: the Agg backend (no display needed) and one style."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["STYLE", "pyplot", "save"]

STYLE = {
    "figure.dpi": 100,
    "savefig.dpi": 110,
    "font.size": 9,
    "axes.titlesize": 10,
    "legend.fontsize": 8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "image.interpolation": "nearest",
}


def pyplot() -> Any:
    """Return ``matplotlib.pyplot`` with the Agg backend and the models' style."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update(STYLE)
    return plt


def save(fig: Any, path: str | os.PathLike[str], **kwargs: Any) -> str:
    """Save ``fig`` as PNG at ``path``, close it, and return the file name."""
    plt = pyplot()
    fig.savefig(path, **kwargs)
    plt.close(fig)
    return Path(path).name
