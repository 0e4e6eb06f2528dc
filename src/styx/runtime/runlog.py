"""What a training run says: notes on stderr (rank 0, unless quiet) and a JSON-lines log."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from styx.core.errors import StyxError


class RunLog:
    """The ``say()`` of the main process and the JSON-lines log of a run.

    ``main`` is whether this process is rank 0 (the only one that speaks and writes);
    ``quiet`` silences the notes but not :meth:`say_always`.
    """

    def __init__(self, *, main: bool, quiet: bool, log_json: Path | None) -> None:
        self.main = main
        self.enabled = main and not quiet
        self.path = Path(log_json) if (log_json is not None and main) else None

    def say(self, text: str) -> None:
        if self.enabled:
            print(text, file=sys.stderr, flush=True)

    def say_always(self, text: str) -> None:
        """Said even when quiet (rank 0), like an error: where a stopped run's checkpoint
        is and how to continue it."""
        if self.main:
            print(text, file=sys.stderr, flush=True)

    def start(self, history: list[dict[str, Any]]) -> None:
        """Write the log afresh with ``history`` (a resumed run's entries so far)."""
        if self.path is None:
            return
        from styx.files.atomic import atomic_path

        try:
            with atomic_path(self.path) as temp:
                temp.write_text("".join(json.dumps(h) + "\n" for h in history),
                                encoding="utf-8")
        except OSError as error:
            raise write_error("the JSON log", self.path, error) from None

    def record(self, entry: dict[str, Any]) -> None:
        if self.path is not None:
            try:
                with open(self.path, "a", encoding="utf-8") as handle:
                    handle.write(json.dumps(entry) + "\n")
            except OSError as error:
                raise write_error("the JSON log", self.path, error) from None


def write_error(what: str, path: Path, error: OSError) -> StyxError:
    """The StyxError of a run that cannot write ``what`` (a checkpoint, its log)."""
    return StyxError(f"cannot write {what} {path}: {error.strerror or error}",
                     "check the path and the free disk space; --resume continues from the "
                     "last checkpoint")
