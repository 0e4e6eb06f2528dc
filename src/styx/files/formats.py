"""Which image files styx writes, and checking an output path before any work (no torch
here, so a bad ``-o`` fails before torch is even imported)."""

from __future__ import annotations

import os
from pathlib import Path

from styx.core.errors import StyxError
from styx.files.atomic import check_writable_file

#: Output suffix -> Pillow format name.
OUTPUT_FORMATS: dict[str, str] = {
    ".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".bmp": "BMP",
    ".tif": "TIFF", ".tiff": "TIFF",
}
SUPPORTED_OUTPUT_SUFFIXES: tuple[str, ...] = tuple(OUTPUT_FORMATS)
#: Output formats that keep an alpha channel.
ALPHA_SUFFIXES: tuple[str, ...] = (".png", ".webp", ".tif", ".tiff")


def image_format(path: str | os.PathLike[str]) -> tuple[Path, str]:
    """``(path, Pillow format)`` for an image to be written at ``path`` (``~`` expanded): a
    StyxError for a suffix styx cannot write (:data:`SUPPORTED_OUTPUT_SUFFIXES`) or a path
    that is a folder. Only looks; :func:`check_output_path` also tries the folder."""
    path = Path(path).expanduser()
    suffix = path.suffix.lower()
    if suffix not in OUTPUT_FORMATS:
        raise StyxError(f"cannot write images as {suffix or 'no suffix'} ({path})",
                        "use one of " + ", ".join(SUPPORTED_OUTPUT_SUFFIXES))
    if path.is_dir():
        raise StyxError(f"output {path} is a folder", "give a file name, e.g. out.png")
    return path, OUTPUT_FORMATS[suffix]


def check_output_path(path: str | os.PathLike[str]) -> Path:
    """Check, before any long work, that an image can be written at ``path``: what
    :func:`image_format` checks, and that its folder exists or can be made, and is writable
    (tried: see :func:`styx.files.atomic.check_writable_folder`). Returns ``path`` as a
    Path; leaves nothing behind."""
    path, _ = image_format(path)
    return check_writable_file(path, what="output")
