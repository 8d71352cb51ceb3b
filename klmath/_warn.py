"""Private: issue a warning at the user's line, however deep inside klmath it is raised.

A fixed ``stacklevel`` is right for one call path only: ``mc_kl`` warns from a helper
two frames down, but ``kl`` reaches the same helper four frames down (``kl`` →
``_monte_carlo_kl`` → ``mc_kl`` → the helper), and the warning would then point at
klmath's own source, where ``filterwarnings(module=...)`` and the "once per location"
registry cannot tell one user call from another. :func:`warn` walks up to the first
frame outside this package instead (pandas' ``find_stack_level``; Python ≥ 3.12 has
``warnings.warn(skip_file_prefixes=...)``, klmath supports 3.10).
"""

from __future__ import annotations

import os
import sys
import warnings

__all__ = ["stack_level", "warn"]

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def stack_level() -> int:
    """The ``stacklevel`` that makes a ``warnings.warn`` in the caller point at the first
    frame outside klmath (the caller's caller's ... until one is not klmath's)."""
    frame = sys._getframe(1)  # the function that will call warnings.warn
    level = 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE_DIR):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level


def warn(message: str | Warning, category: type[Warning]) -> None:
    """``warnings.warn(message, category)`` attributed to the first frame outside klmath."""
    warnings.warn(message, category, stacklevel=stack_level())
