"""Image files without torch: reading, writing and finding them.

The one decoder and encoder behind every styx command: :mod:`styx.runtime.image_tensors` turns what
:func:`decode_image` reads into tensors, and ``styx infer`` (which imports no torch) uses
these functions directly on NumPy arrays.

Reading applies the EXIF orientation, turns every Pillow mode into RGB float32 in [0, 1]
(16-bit and float images scaled, not clipped), keeps an alpha channel aside and refuses
images with too many pixels before decoding them. Every problem a user can cause (missing,
empty, truncated, not an image, a folder) is a one-line StyxError naming the file.
Writing (:func:`write_image`) refuses NaN/inf, clamps to [0, 1], re-attaches alpha where
the format keeps it (PNG, WebP, TIFF) and writes atomically.

Arrays are H x W x 3 float32 RGB in [0, 1] and H x W float32 alpha.
"""

from __future__ import annotations

import contextlib
import os
import struct
import warnings
from collections.abc import Iterable, Iterator
from importlib import resources
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from styx.core.errors import StyxError
from styx.files.atomic import atomic_path
from styx.files.formats import ALPHA_SUFFIXES, SUPPORTED_OUTPUT_SUFFIXES, image_format

#: Suffixes :func:`find_images` collects (everything Pillow reads that photos come in).
IMAGE_SUFFIXES: tuple[str, ...] = (*SUPPORTED_OUTPUT_SUFFIXES, ".gif", ".ppm", ".pgm", ".pbm",
                                   ".pnm", ".tga")
#: Images with more pixels than this are refused (about 100 megapixels, e.g. 10000 x 10000).
DEFAULT_MAX_PIXELS = 100_000_000

_HINT_IMAGE = "give a PNG, JPEG, WebP, BMP or TIFF image"


class UnreadableImage(StyxError):
    """:func:`decode_image`'s refusal of a file it cannot read (missing, empty, not an
    image, truncated, too large): the one-line message names the file; ``path`` and
    ``reason`` (the message without the path) serve a command that lists bad files
    (:mod:`styx.files.badfiles`)."""

    def __init__(self, path: Path, message: str, hint: str, *, reason: str) -> None:
        super().__init__(message, hint)
        self.path, self.reason = path, reason


class TooManyPixels(UnreadableImage):
    """:func:`decode_image`'s refusal of an image over its ``max_pixels``, found from the
    file's header before anything is decoded; ``width``, ``height`` and ``max_pixels`` say
    by how much (a caller with a limit of its own words it its way)."""

    def __init__(self, path: Path, width: int, height: int, max_pixels: int) -> None:
        size = (f"{width}x{height} ({width * height / 1e6:.0f} megapixels), more than the "
                f"limit of {max_pixels / 1e6:.0f} megapixels")
        super().__init__(path, f"image {path} is {size}",
                         "shrink it first (a long side of 512-2048 px is plenty)", reason=size)
        self.width, self.height, self.max_pixels = width, height, max_pixels


def decode_image(path: str | os.PathLike[str], *, max_pixels: int | None = DEFAULT_MAX_PIXELS
                 ) -> tuple[np.ndarray, np.ndarray | None]:
    """The pixels of the image file ``path``, upright: (H x W x 3 RGB, H x W alpha or None),
    float32 in [0, 1]. ``max_pixels``: refuse larger images before decoding (None: only
    Pillow's own decompression-bomb limit)."""
    path = Path(path).expanduser()
    with _reading(path), _opened(path, max_pixels) as opened:
        opened.load()
        image = apply_exif_orientation(opened)
    return pil_to_arrays(image)


def check_image_header(path: str | os.PathLike[str], *,
                       max_pixels: int | None = DEFAULT_MAX_PIXELS) -> tuple[int, int]:
    """The (width, height) of an image file, from its header and Pillow's ``verify``
    (a PNG's or WebP's body cut short shows there; a JPEG's only when it is decoded): the
    refusals of :func:`decode_image`, without decoding. Cheap: what ``--strict`` checks of
    every input before the first output is written."""
    path = Path(path).expanduser()
    with _reading(path), _opened(path, max_pixels) as opened:
        opened.verify()
        return opened.size


@contextlib.contextmanager
def _opened(path: Path, max_pixels: int | None) -> Iterator[Image.Image]:
    _check_readable_file(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with Image.open(path) as opened:
            width, height = opened.size
            if max_pixels is not None and width * height > max_pixels:
                raise TooManyPixels(path, width, height, max_pixels)
            yield opened


@contextlib.contextmanager
def _reading(path: Path) -> Iterator[None]:
    """Pillow's errors while reading ``path`` as :class:`UnreadableImage`."""
    try:
        yield
    except StyxError:
        raise
    except Image.DecompressionBombError:
        raise UnreadableImage(path, f"image {path} has too many pixels to decode safely",
                              "shrink it first (a long side of 512-2048 px is plenty)",
                              reason="too many pixels to decode safely") from None
    except UnidentifiedImageError:
        reason = "not an image file (or not a format Pillow reads)"
        raise UnreadableImage(path, f"{path} is {reason}", _HINT_IMAGE, reason=reason) from None
    except PermissionError:
        raise UnreadableImage(path, f"cannot read image {path}: permission denied",
                              "check the file's permissions, or copy it somewhere you can "
                              "read", reason="permission denied") from None
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, MemoryError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UnreadableImage(path, f"cannot read image {path}: {reason}",
                              "the file may be truncated or corrupt", reason=reason) from None


def _check_readable_file(path: Path) -> None:
    if not path.exists():
        raise UnreadableImage(path, f"image file not found: {path}", "check the path",
                              reason="file not found")
    if path.is_dir():
        raise UnreadableImage(path, f"{path} is a folder, not an image file", _HINT_IMAGE,
                              reason="a folder, not an image file")
    if not path.is_file():
        raise UnreadableImage(path, f"{path} is not a regular file", _HINT_IMAGE,
                              reason="not a regular file")
    if path.stat().st_size == 0:
        raise UnreadableImage(path, f"image file {path} is empty", _HINT_IMAGE,
                              reason="empty file")


def upright_size(path: str | os.PathLike[str]) -> tuple[int, int]:
    """(width, height) of the image file ``path`` once turned upright by its EXIF
    orientation, from its header alone (nothing decoded): what memory estimates start from.
    A file Pillow cannot open is the StyxError :func:`decode_image` would give."""
    path = Path(path).expanduser()
    _check_readable_file(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as opened:
                return upright_image_size(opened)
    except (OSError, SyntaxError, ValueError, EOFError, struct.error):
        return decode_image(path, max_pixels=1)[0].shape[1::-1]  # its own error


def upright_image_size(image: Image.Image) -> tuple[int, int]:
    """(width, height) of ``image`` once :func:`apply_exif_orientation` has turned it: swapped
    by an EXIF quarter turn (bad EXIF is ignored, as when decoding)."""
    width, height = image.size
    try:
        turned = image.getexif().get(0x0112) in (5, 6, 7, 8)
    except Exception:  # noqa: BLE001 - bad EXIF is ignored, as when decoding
        turned = False
    return (height, width) if turned else (width, height)


def apply_exif_orientation(image: Image.Image) -> Image.Image:
    """The image turned upright by its EXIF orientation tag (a copy; bad EXIF is ignored)."""
    try:
        upright = ImageOps.exif_transpose(image)
    except Exception:  # noqa: BLE001 - a broken EXIF block must not stop the image loading
        upright = None
    if upright is None or upright is image:
        upright = image.copy()
    return upright


def pil_to_arrays(image: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """A Pillow image as (H x W x 3 float32 RGB in [0, 1], H x W float32 alpha or None).

    Modes: 1, L, LA, La, P/PA (palette transparency becomes alpha), RGB, RGBA, RGBa, CMYK,
    YCbCr, LAB, HSV; 16-bit I;16* divided by 65535; I (32-bit) divided by 65535 when its
    values lie in [0, 65535] (16-bit data), else stretched min..max; F (float) kept when in
    [0, 1], divided by 255 or 65535 when in those ranges, else stretched min..max.
    """
    mode = image.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        gray = _scale_high_depth(np.asarray(image).astype(np.float64), mode)
        return _gray_to_rgb(gray), None
    if mode == "La":  # premultiplied: Pillow converts it only to LA
        image, mode = image.convert("LA"), "LA"
    has_alpha = mode in ("RGBA", "RGBa", "LA", "PA") or (
        mode in ("P", "L", "RGB") and "transparency" in image.info)
    if has_alpha:
        rgba = np.asarray(image.convert("RGBA"), dtype=np.float32) / 255.0
        return np.ascontiguousarray(rgba[..., :3]), np.ascontiguousarray(rgba[..., 3])
    rgb = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    return np.ascontiguousarray(rgb), None


def _scale_high_depth(values: np.ndarray, mode: str) -> np.ndarray:
    if values.size == 0:
        return values.astype(np.float32)
    finite = np.isfinite(values)
    values = np.where(finite, values, 0.0)
    low, high = float(values.min()), float(values.max())
    if mode.startswith("I;16"):
        scaled = values / 65535.0
    elif mode == "F" and low >= 0.0 and high <= 1.0:
        scaled = values
    elif mode == "F" and low >= 0.0 and high <= 255.0:
        scaled = values / 255.0
    elif low >= 0.0 and high <= 65535.0:
        scaled = values / 65535.0
    elif high > low:
        scaled = (values - low) / (high - low)
    else:
        scaled = np.zeros_like(values)
    return np.clip(scaled, 0.0, 1.0).astype(np.float32)


def _gray_to_rgb(gray: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.repeat(gray[..., None], 3, axis=2))


# -- finding ---------------------------------------------------------------------------------
def images_named(inputs: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """The images ``inputs`` name, for commands that take files and folders alike: a file
    as given, a folder's images (recursively, sorted). A missing path or an empty folder is
    a StyxError."""
    images: list[Path] = []
    for given in inputs:
        path = Path(given).expanduser()
        if path.is_dir():
            found = find_images(path)
            if not found:
                raise StyxError(f"no images found in {path}",
                                "give photos (png, jpg, webp, bmp, tif) or folders of them")
            images.extend(found)
        elif path.exists():
            images.append(path)
        else:
            raise StyxError(f"image file not found: {given}", "check the path")
    return images


def find_images(folder: str | os.PathLike[str], *, recursive: bool = True) -> list[Path]:
    """Image files under ``folder`` (by suffix, case-insensitive), sorted; hidden ones skipped."""
    folder = Path(folder).expanduser()
    if not folder.exists():
        raise StyxError(f"folder not found: {folder}", "check the path")
    if not folder.is_dir():
        raise StyxError(f"{folder} is not a folder", "give a folder of images")
    candidates = folder.rglob("*") if recursive else folder.iterdir()
    found = []
    for candidate in candidates:
        relative = candidate.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if candidate.suffix.lower() in IMAGE_SUFFIXES and candidate.is_file():
            found.append(candidate)
    return sorted(found)


def long_side_size(height: int, width: int, long_side: int) -> tuple[int, int]:
    """(height, width) scaled so the longer side is ``long_side`` (the shorter side >= 1):
    the one rounding of every resize by long side, in NumPy, torch and the estimates."""
    scale = long_side / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def resize_array(array: np.ndarray, long_side: int) -> np.ndarray:
    """H x W x C floats in [0, 1] resized so its longer side is ``long_side`` pixels (bicubic,
    antialiased when shrinking, by Pillow), as float32; unchanged when it already is."""
    height, width = array.shape[:2]
    size = long_side_size(height, width, long_side)[::-1]  # Pillow's (width, height)
    if size == (width, height):
        return array
    planes = np.ascontiguousarray(array, dtype=np.float32)  # Pillow's float mode "F" is 32-bit
    channels = [np.asarray(Image.fromarray(np.ascontiguousarray(planes[..., c]))
                           .resize(size, Image.Resampling.BICUBIC)) for c in range(array.shape[2])]
    return np.clip(np.stack(channels, axis=2), 0.0, 1.0).astype(np.float32)


# -- writing ---------------------------------------------------------------------------------
def arrays_to_pil(rgb: np.ndarray, alpha: np.ndarray | None = None) -> Image.Image:
    """H x W x 3 RGB (and H x W alpha of the same size) in [0, 1] as an 8-bit RGB(A) image;
    NaN or infinite colours are a StyxError, NaN alpha counts as opaque."""
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise StyxError(f"expected one H x W x 3 RGB image, got shape {tuple(rgb.shape)}",
                        "pil_to_arrays gives arrays of that shape")
    if not np.isfinite(rgb).all():
        raise StyxError("the image contains NaN or infinite values",
                        "the optimisation diverged: lower the learning rate or the weights")
    array = to_uint8(rgb)
    if alpha is None:
        return Image.fromarray(array, mode="RGB")
    if alpha.shape != rgb.shape[:2]:
        raise StyxError(f"an alpha of {alpha.shape} for an image of {rgb.shape[:2]}",
                        "the alpha is H x W, the size of the image")
    opacity = to_uint8(np.nan_to_num(alpha, nan=1.0))[..., None]
    return Image.fromarray(np.concatenate([array, opacity], axis=2), mode="RGBA")


def to_uint8(values: np.ndarray) -> np.ndarray:
    """Values in [0, 1] (clamped) as 0-255 bytes, rounded to nearest."""
    return np.round(np.clip(values, 0.0, 1.0) * 255.0).astype(np.uint8)


def write_image(rgb: np.ndarray, path: str | os.PathLike[str], *,
                alpha: np.ndarray | None = None, quality: int = 95) -> Path:
    """Write H x W x 3 ``rgb`` in [0, 1] to ``path`` atomically, in the format its suffix
    names; ``alpha`` where the format keeps it (PNG, WebP, TIFF), else dropped.
    ``quality`` applies to JPEG and WebP."""
    path, fmt = image_format(path)
    picture = arrays_to_pil(rgb, alpha if path.suffix.lower() in ALPHA_SUFFIXES else None)
    return write_picture(picture, path, fmt, quality=quality)


#: How PNGs are compressed: zlib level 1 with the run-length strategy (``Z_RLE``), OpenCV's
#: defaults for ``imwrite``. A 1024x768 photo: 0.07 s instead of Pillow's default (level 6)
#: 0.29 s, for a file 0-8% larger; the pixels are the same (PNG is lossless).
PNG_OPTIONS = {"compress_level": 1, "compress_type": 3}


def write_picture(picture: Image.Image, path: Path, fmt: str, *, quality: int = 95) -> Path:
    """Save ``picture`` atomically at ``path`` as ``fmt`` (PNG: :data:`PNG_OPTIONS`); a
    failure is a StyxError."""
    options: dict[str, object] = dict(PNG_OPTIONS) if fmt == "PNG" else {}
    if fmt in ("JPEG", "WEBP"):
        options["quality"] = int(quality)
    try:
        with atomic_path(path) as temporary:
            picture.save(temporary, format=fmt, **options)
    except PermissionError:
        raise StyxError(f"cannot write {path}: permission denied",
                        "choose a folder you can write to") from None
    except OSError as exc:
        raise StyxError(f"cannot write {path}: {exc.strerror or exc}",
                        "choose a folder you can write to") from None
    return path


# -- the bundled samples ------------------------------------------------------------------
#: The images shipped with styx, by kind.
SAMPLE_IMAGES = {"content": "tubingen.jpg", "style": "starry_night.jpg"}


def sample_image(kind: str = "content") -> Path:
    """A small image shipped with styx: ``"content"`` (Tübingen photo) or ``"style"``
    (Van Gogh's Starry Night); provenance in ``styx/data/SOURCES.md``."""
    key = kind.strip().lower()
    if key not in SAMPLE_IMAGES:
        raise StyxError(f"no sample image {kind!r}", "choose 'content' or 'style'")
    resource = resources.files("styx").joinpath("data", SAMPLE_IMAGES[key])
    path = Path(str(resource))
    if not path.is_file():
        raise StyxError(f"the sample image {path} is missing", "reinstall styx-nst")
    return path
