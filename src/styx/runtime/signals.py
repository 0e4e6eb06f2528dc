"""Ctrl-C and SIGTERM during long work: finish the current step, then stop cleanly."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable
from typing import Any


class StopRequests:
    """SIGINT/SIGTERM ask a loop to stop after the current iteration (``requested``); a
    second one raises KeyboardInterrupt at once. Installed only in the main thread
    (elsewhere it is a no-op, and Python delivers signals there anyway).

    ``say`` is told once, at the first request, what is going to happen.
    """

    def __init__(self, say: Callable[[str], None]) -> None:
        self.requested = False
        self._say = say
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(ValueError, OSError):
                    self._previous[signum] = signal.signal(signum, self._handle)

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        self._say("stopping after this iteration to save a checkpoint "
                  "(press Ctrl-C again to stop at once)")

    def restore(self) -> None:
        for signum, handler in self._previous.items():
            with contextlib.suppress(ValueError, OSError):
                signal.signal(signum, handler)
        self._previous.clear()

    def __enter__(self) -> StopRequests:  # noqa: PYI034
        self.install()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.restore()
