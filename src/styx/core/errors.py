"""Errors a user can cause, reported as one line plus a hint, never a traceback."""

from __future__ import annotations


class StyxError(Exception):
    """A problem the user can fix: a bad file, an unknown name, a bad option, missing weights.

    The CLI prints ``message`` (and ``hint`` when given) in red on stderr and exits with
    code 2. Set ``STYX_DEBUG=1`` to see the traceback as well.
    """

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"

