"""Images and clips into the studio: uploads and the bundled samples, through the CLI's
loaders.

An upload is written to a temporary file of the server's own naming and decoded by
:func:`styx.files.image_arrays.decode_image`, which first measures it against the studio's
pixel budget from its header alone (``styx serve --max-upload-megapixels``: a small file can
declare a huge picture, whose decoding would take seconds and gigabytes), then applies the
decompression-bomb guard, EXIF rotation and every format the CLI takes. It is stored as a
PNG named by the digest of its bytes. The file name the browser sent is kept for display
only.

A clip (:func:`store_clip`) is copied, in chunks and counted, to a file of the server's own
naming. What it is comes from its first bytes, never from its name or the browser's word:
an MP4/QuickTime, Matroska/WebM or AVI file, nothing else (FFmpeg opens much more, among it
playlists that name other files and addresses). Its frame size is read from the container's
header and measured against the studio's budget before a frame is decoded; then
:func:`styx.video.clips.open_clip` checks it (its video stream decodes, it has frames) and
counts its frames, measured against the studio's length limit. It is kept as sent, named
by its digest, with its first frame, upright and small, as its picture. No torch here.
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
from pathlib import Path
from typing import IO, TYPE_CHECKING

from styx.core.errors import StyxError
from styx.studio.store import ClipRecord, ImageRecord, Store

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

    from styx.video.clips import Clip

#: The largest upload taken, in bytes.
MAX_UPLOAD_BYTES = 64 * 1024 * 1024
#: The most pixels an upload may have unless ``styx serve --max-upload-megapixels`` says.
DEFAULT_MAX_UPLOAD_PIXELS = 40_000_000
#: The largest clip taken, in bytes, unless the studio's settings say.
DEFAULT_MAX_CLIP_BYTES = 200 * 1024 * 1024
#: The most frames a clip may have (a minute at 30 frames/s), unless the settings say.
DEFAULT_MAX_CLIP_FRAMES = 1800
#: The most pixels a clip's frame may have (4K UHD), unless the settings say.
DEFAULT_MAX_CLIP_PIXELS = 3840 * 2160
#: The long side of a clip's picture (its first frame, for the page).
POSTER_SIDE = 640
#: What the page says a clip may be; what it is comes from :func:`clip_format`.
CLIP_KINDS = "mp4, mov, m4v, mkv, webm or avi"
_CHUNK = 1024 * 1024


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


# -- clips ---------------------------------------------------------------------------------
def clip_format(head: bytes) -> str | None:
    """The FFmpeg demuxer for a clip that starts with ``head`` (its first 16 bytes or more):
    ``mov`` (MP4, MOV, M4V: an ISO/QuickTime box first), ``matroska`` (MKV, WebM: the EBML
    magic) or ``avi`` (a RIFF AVI file); None for anything else."""
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "matroska"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    if head[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"pnot"):
        return "mov"
    return None


def store_clip(store: Store, source: IO[bytes], filename: str | None, *,
               max_bytes: int = DEFAULT_MAX_CLIP_BYTES,
               max_frames: int = DEFAULT_MAX_CLIP_FRAMES,
               max_pixels: int = DEFAULT_MAX_CLIP_PIXELS) -> ClipRecord:
    """Check the clip read from ``source`` and keep it (see the module docstring); a bad or
    too large clip is a StyxError that names the upload by its display name, never by a
    server path."""
    name = display_name(filename) if filename else "clip"
    folder = store.folder / "clips"
    handle, temporary = tempfile.mkstemp(prefix="upload-", dir=folder)
    try:
        digest, size = _copy_counted(source, handle, name, max_bytes)
        if not size:
            raise StyxError(f"{name} is empty", "choose a video file")
        clip_id = digest[:16]
        known = store.clip(clip_id)
        if known is not None:
            return known
        clip = _checked_clip(Path(temporary), name, max_frames, max_pixels)
        os.replace(temporary, store.clip_path(clip_id))
        try:
            _write_poster(clip, store.clip_path(clip_id), store.clip_poster_path(clip_id))
        except BaseException as error:
            store.clip_path(clip_id).unlink(missing_ok=True)
            if isinstance(error, StyxError):  # its words name a server path
                raise StyxError(f"{name}: its first frame cannot be decoded",
                                f"upload an {CLIP_KINDS} file that plays") from None
            raise
    finally:
        Path(temporary).unlink(missing_ok=True)
    width, height = upright(clip.width, clip.height, clip.rotation)
    return store.add_clip(ClipRecord(clip_id, name, width, height, clip.frame_count,
                                     float(clip.rate), clip.audio))


def _copy_counted(source: IO[bytes], handle: int, name: str, max_bytes: int
                  ) -> tuple[str, int]:
    """Copy ``source`` to the open file ``handle`` (closed after): its digest and size; a
    StyxError as soon as it passes ``max_bytes``."""
    digest, size = hashlib.sha256(), 0
    with os.fdopen(handle, "wb") as out:
        while chunk := source.read(_CHUNK):
            size += len(chunk)
            if size > max_bytes:
                raise too_large(name, size, max_bytes)
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest(), size


def too_large(name: str, size: int | None, max_bytes: int) -> StyxError:
    """The refusal of a clip over ``max_bytes`` (``size``: its size, when known)."""
    how_big = f"is {size / 2**20:.0f} MiB, more" if size else "is more"
    return StyxError(f"{name} {how_big} than this studio's limit of "
                     f"{max_bytes / 2**20:.0f} MiB for a clip", "shorten or shrink it first")


def _checked_clip(path: Path, name: str, max_frames: int, max_pixels: int) -> Clip:
    """The clip at ``path`` (an upload of display name ``name``), checked: its kind by its
    first bytes, its frame size by the container's header, then
    :func:`~styx.video.clips.open_clip`, then its length."""
    from styx.video.clips import open_clip

    with open(path, "rb") as opened:
        kind = clip_format(opened.read(16))
    if kind is None:
        raise StyxError(f"{name} is not a video file the studio takes",
                        f"upload an {CLIP_KINDS} file")
    width, height = _declared_size(path, kind, name)
    if width * height > max_pixels:
        raise _too_many_pixels(name, width, height, max_pixels)
    try:
        clip = open_clip(path)
    except StyxError as error:
        raise StyxError(str(error.message).replace(str(path), name),
                        f"upload an {CLIP_KINDS} file that plays") from None
    if clip.width * clip.height > max_pixels:
        raise _too_many_pixels(name, clip.width, clip.height, max_pixels)
    if clip.frame_count > max_frames:
        rate = float(clip.rate)
        raise StyxError(f"{name} has {clip.frame_count} frames ({clip.seconds:.1f} s at "
                        f"{rate:.3g} frames/s), more than this studio's limit of "
                        f"{max_frames} frames",
                        f"trim it to {max_frames / rate:.1f} s or less first")
    return clip


def _declared_size(path: Path, kind: str, name: str) -> tuple[int, int]:
    """The frame size ``path``'s container declares for its first video stream, read with
    the demuxer ``kind`` alone, nothing decoded; (0, 0) when it declares none."""
    from styx.video.clips import pyav

    av = pyav()
    try:
        with av.open(str(path), format=kind) as container:
            streams = container.streams.video
            if not streams:
                raise StyxError(f"{name} has no video stream", "upload a clip with a picture")
            context = streams[0].codec_context
            return int(context.width or 0), int(context.height or 0)
    except (av.FFmpegError, OSError, UnicodeDecodeError):
        raise StyxError(f"{name} is not a video styx can read",
                        f"upload an {CLIP_KINDS} file that plays") from None


def _too_many_pixels(name: str, width: int, height: int, max_pixels: int) -> StyxError:
    return StyxError(f"{name} is {width} x {height} ({width * height / 1e6:.1f} megapixels "
                     f"a frame), more than this studio's limit of {max_pixels / 1e6:g} "
                     "megapixels for a clip", "shrink it first")


def upright(width: int, height: int, rotation: int) -> tuple[int, int]:
    """A frame's (width, height) as players show it, turned ``rotation`` degrees."""
    return (height, width) if rotation % 180 == 90 else (width, height)


def upright_picture(frame: np.ndarray, rotation: int) -> Image.Image:
    """A PIL image of ``frame`` (H x W x 3 uint8, as stored) turned as players show it: by
    the clip's display rotation, counter-clockwise."""
    from PIL import Image

    picture = Image.fromarray(frame)
    turns = {90: Image.Transpose.ROTATE_90, 180: Image.Transpose.ROTATE_180,
             270: Image.Transpose.ROTATE_270}
    return picture.transpose(turns[rotation]) if rotation in turns else picture


def _write_poster(clip: Clip, stored: Path, poster: Path) -> None:
    """The first frame of ``clip`` (now at ``stored``), upright, at most
    :data:`POSTER_SIDE` pixels long, as the PNG ``poster``."""
    import dataclasses

    from styx.files.image_arrays import write_picture

    frame = next(iter(dataclasses.replace(clip, path=stored).frames(0, 1)))
    picture = upright_picture(frame, clip.rotation)
    picture.thumbnail((POSTER_SIDE, POSTER_SIDE))
    write_picture(picture, poster, "PNG")
