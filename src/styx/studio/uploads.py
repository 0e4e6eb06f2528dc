"""Images into the studio: uploads and the bundled samples, through the CLI's one loader.

An upload is written to a temporary file of the server's own naming and decoded by
:func:`styx.files.image_arrays.decode_image`, which first measures it against the studio's
pixel budget from its header alone (``styx serve --max-upload-megapixels``: a small file can
declare a huge picture, whose decoding would take seconds and gigabytes), then applies the
decompression-bomb guard, EXIF rotation and every format the CLI takes. It is stored as a
PNG named by the digest of its bytes. The file name the browser sent is kept for display
only. No torch here.
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
from pathlib import Path

from styx.core.errors import StyxError
from styx.studio.store import ImageRecord, Store

#: The largest upload taken, in bytes.
MAX_UPLOAD_BYTES = 64 * 1024 * 1024
#: The most pixels an upload may have unless ``styx serve --max-upload-megapixels`` says.
DEFAULT_MAX_UPLOAD_PIXELS = 40_000_000


def display_name(filename: str | None) -> str:
    """The last part of a browser's file name, for display: at most 100 printable
    characters, ``image`` when there is nothing left."""
    text = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    text = "".join(ch for ch in text if ch.isprintable()).strip()[:100]
    return text or "image"


def over_budget(name: str, width: int, height: int, max_pixels: int) -> StyxError:
    """The refusal of upload ``name``, ``width`` x ``height``, over the studio's budget of
    ``max_pixels``, with the ``styx serve`` option that would take it."""
    megapixels = width * height / 1e6
    enough = max(10, math.ceil(megapixels * 1.2 / 10) * 10)
    return StyxError(f"{name} is {width} x {height} ({megapixels:.1f} megapixels), more than "
                     f"this studio's limit of {max_pixels / 1e6:g} megapixels",
                     f"shrink it, or start styx serve with --max-upload-megapixels {enough}")


def store_image(store: Store, data: bytes, filename: str | None, *,
                source: str = "upload", max_pixels: int | None = None) -> ImageRecord:
    """Check ``data`` as an image file and keep it; a bad file is a StyxError that names
    the upload by its display name, never by a server path. ``max_pixels``: the studio's
    budget, which the loader checks from the file's header before decoding (None: the
    loader's own limit only)."""
    from styx.files.image_arrays import (
        DEFAULT_MAX_PIXELS,
        TooManyPixels,
        arrays_to_pil,
        decode_image,
        write_picture,
    )

    name = display_name(filename)
    if not data:
        raise StyxError(f"{name} is empty", "choose an image file")
    if len(data) > MAX_UPLOAD_BYTES:
        raise StyxError(f"{name} is {len(data) / 2**20:.0f} MiB, more than the limit of "
                        f"{MAX_UPLOAD_BYTES // 2**20} MiB", "shrink it first")
    image_id = hashlib.sha256(data).hexdigest()[:16]
    known = store.image(image_id)
    if known is not None:
        return known
    handle, temporary = tempfile.mkstemp(prefix="upload-", dir=store.folder / "images")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        try:
            rgb, alpha = decode_image(temporary, max_pixels=max_pixels or DEFAULT_MAX_PIXELS)
        except StyxError as error:
            if max_pixels is not None and isinstance(error, TooManyPixels):
                raise over_budget(name, error.width, error.height, max_pixels) from None
            raise StyxError(str(error.message).replace(temporary, name), error.hint) from None
        write_picture(arrays_to_pil(rgb, alpha), store.image_path(image_id), "PNG")
    finally:
        Path(temporary).unlink(missing_ok=True)
    height, width = rgb.shape[:2]
    return store.add_image(ImageRecord(image_id, name, int(width), int(height), source))


def add_samples(store: Store) -> list[ImageRecord]:
    """The photo and painting shipped with styx, as images of the studio."""
    from styx.files.image_arrays import SAMPLE_IMAGES, sample_image

    return [store_image(store, sample_image(kind).read_bytes(), sample_image(kind).name,
                        source="sample") for kind in SAMPLE_IMAGES]
