"""Atomic writes: a file or folder appears complete at its final path, or not at all.

Write to the temporary path these context managers yield; on success it is moved onto the
final path with :func:`os.replace` (atomic on one filesystem), on any exception, including
``KeyboardInterrupt``, it is deleted and the final path is left as it was.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

from styx.core.errors import StyxError


def _temp_name(path: Path, kind: str) -> Path:
    token = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    # Keep the real suffix last so writers that pick a format by suffix still work.
    return path.with_name(f".{path.name}.{kind}-{token}{path.suffix}")


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary file path beside ``path`` (same suffix); move it onto ``path`` on success.

    The parent folder is created. If the body raises, or leaves no file at the temporary
    path, nothing is written at ``path`` and the temporary file is removed.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    temp = _temp_name(final, "tmp")
    try:
        yield temp
        if not temp.exists():
            raise FileNotFoundError(f"nothing was written to the temporary file {temp}")
        os.replace(temp, final)
    except BaseException:
        _remove(temp)
        raise


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a fresh temporary folder beside ``path``; swap it in for ``path`` on success.

    An existing folder at ``path`` is replaced only once the new one is complete: it is first
    renamed aside, the new folder renamed into place, then the old one deleted. If the body
    raises, the temporary folder is deleted and ``path`` is untouched.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    temp = final.with_name(f".{final.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    temp.mkdir()
    try:
        yield temp
    except BaseException:
        _remove(temp)
        raise
    old: Path | None = None
    try:
        if final.exists() or final.is_symlink():
            if final.is_dir() and not final.is_symlink():
                old = final.with_name(f".{final.name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}")
                os.replace(final, old)
            else:
                final.unlink()
        os.replace(temp, final)
    except BaseException:
        if old is not None and not final.exists():
            os.replace(old, final)
            old = None
        _remove(temp)
        raise
    finally:
        if old is not None:
            _remove(old)


def check_writable_file(path: str | os.PathLike[str], *, what: str = "output") -> Path:
    """Check, before any long work, that a file can be written at ``path``.

    ``path`` must not be a folder, and its folder must exist or be creatable, and
    writable (see :func:`check_writable_folder`). ``what`` names the file in errors.
    Returns ``path`` as a Path (``~`` expanded); leaves nothing behind.
    """
    path = Path(path).expanduser()
    if path.is_dir():
        raise StyxError(f"{what} {path} is a folder", "give a file name, e.g. out.png"
                        if what == "output" else "give a file name")
    check_writable_folder(path.parent, what=f"{what} {path}")
    return path


def check_writable_folder(folder: str | os.PathLike[str], *, what: str) -> Path:
    """Check, before any long work, that files can be written in ``folder``.

    A file is created and removed in ``folder``, or, where it does not exist yet, in its
    nearest existing ancestor (making a folder takes the same right as making a file):
    permissions, read-only mounts and pseudo-filesystems such as ``/proc`` are all caught,
    even for root, which ``os.access`` would wave through. Nothing is created that stays,
    and processes checking one folder at once (DDP ranks) cannot disturb each other.
    ``what`` (the option and its value) begins the error. Returns ``folder`` as a Path.
    """
    folder = Path(folder).expanduser()
    ancestor = folder
    while not ancestor.exists() and not ancestor.is_symlink() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise StyxError(f"cannot write {what}: {ancestor} is a file, not a folder",
                        "give a path in a folder")
    try:
        handle, probe = tempfile.mkstemp(dir=ancestor, prefix=".styx-probe-")
        os.close(handle)
        os.unlink(probe)
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise StyxError(f"cannot write {what}: {reason} ({ancestor})",
                        "choose a folder you can write to") from None
    return folder


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Whether paths ``a`` and ``b`` name the same file (links, ``..`` and case-folding
    filesystems included when both exist; otherwise their resolved paths are compared)."""
    first, second = Path(a).expanduser(), Path(b).expanduser()
    try:
        if first.exists() and second.exists():
            return os.path.samefile(first, second)
    except OSError:
        pass
    return first.resolve() == second.resolve()
