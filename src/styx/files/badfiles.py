"""One policy for bad input files, in every command that reads many images (README "Bad
files"): ``styx run`` of a feed-forward method, ``styx infer``, training's ``--content-dir``.

A bad file is one that cannot be read as an image: missing, empty, not an image, cut short,
too large. By default it is skipped: one line on stderr names it and says why
(``skipped photos/b.jpg: image file is truncated ...``), the rest go on, and the command
ends with ``N written, M skipped (bad files)`` and exit code 1; ``--json`` lists the files
as ``"failed": [{"input": ..., "error": ...}]``. With ``--strict`` the first bad file is the
command's error (exit 2): every input's header is checked before the first output is
written, and a body cut short that only decoding finds stops the run where it is met (the
outputs already written stay). One image given with ``-o`` is strict by itself: there is
nothing else to write. No torch here.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from styx.core.errors import StyxError


def reason_of(error: StyxError) -> str:
    """Why a file is bad, without its path (the path is said beside it)."""
    from styx.files.image_arrays import UnreadableImage

    return error.reason if isinstance(error, UnreadableImage) else error.message


def skip_line(path: str | os.PathLike[str], reason: str) -> str:
    """The one line that reports a skipped file."""
    return f"skipped {path}: {reason}"


#: What ``--strict``'s error adds to the file's own hint.
STRICT_HINT = "without --strict bad files are skipped"


def strict_error(error: StyxError, hint: str | None = STRICT_HINT) -> StyxError:
    """``error`` as a strict command reports it: its one-line error (exit 2), ``hint``
    added to the error's own."""
    if hint is None:
        return error
    return StyxError(error.message, "; ".join([*([error.hint] if error.hint else []), hint]))


class BadFiles:
    """The bad files of one command: :meth:`skip` each as it is met, :meth:`check` all
    inputs first. ``strict``: the first bad file is raised instead (:func:`strict_error`
    with ``strict_hint``; None: the error as it is, for one image given with ``-o``).
    ``say``: where each :func:`skip_line` goes (the CLI's stderr; None: nowhere)."""

    def __init__(self, *, strict: bool = False, say: Callable[[str], None] | None = None,
                 strict_hint: str | None = STRICT_HINT) -> None:
        self.strict = strict
        self.say = say
        self.strict_hint = strict_hint
        #: (input, reason) of each file skipped, in order.
        self.failed: list[tuple[str, str]] = []

    def check(self, paths: Iterable[str | os.PathLike[str]], *, decode: bool = False
              ) -> None:
        """With ``strict``: read each file's header (``decode``: all its pixels), and raise
        the first bad one. Without: nothing (each bad file is skipped when it is read)."""
        from styx.files.image_arrays import UnreadableImage, check_image_header, decode_image

        if not self.strict:
            return
        for path in paths:
            try:
                decode_image(path) if decode else check_image_header(path)
            except UnreadableImage as error:
                self.skip(path, error)

    def skip(self, path: str | os.PathLike[str], error: StyxError) -> None:
        """``path`` is bad (``error``): reported and remembered, or raised with ``strict``."""
        if self.strict:
            raise strict_error(error, self.strict_hint) from None
        reason = reason_of(error)
        self.failed.append((str(path), reason))
        if self.say is not None:
            self.say(skip_line(path, reason))

    def summary(self, written: int, *others: str) -> str:
        """``N written[, OTHERS], M skipped (bad files)`` (the last part when any were)."""
        parts = [f"{written} written", *others]
        if self.failed:
            parts.append(f"{len(self.failed)} skipped (bad files)")
        return ", ".join(parts)

    def to_json(self) -> list[dict[str, Any]]:
        """``--json``'s ``"failed"``: ``[{"input": ..., "error": ...}]``."""
        return failed_json(self.failed)


def failed_json(failed: Iterable[tuple[str, str]]) -> list[dict[str, Any]]:
    """(input, reason) pairs as ``--json`` lists them."""
    return [{"input": str(path), "error": reason} for path, reason in failed]
