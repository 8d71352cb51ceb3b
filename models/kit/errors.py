"""The one exception a user can act on: printed as one line, never as a traceback."""

from __future__ import annotations

__all__ = ["UserError"]


class UserError(Exception):
    """A problem the user can fix (bad option, missing data, unwritable folder, wrong checkpoint).

    The entry points print its message on one line, ``python -m models.NAME: error: ...``,
    and exit with status 2; the message names the option or the file involved.
    """
