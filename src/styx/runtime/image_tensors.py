"""The one image loader and writer every styx command uses.

Reading (:func:`read_image`) applies the EXIF orientation, turns every Pillow mode into RGB
float32 in [0, 1] (16-bit and float images scaled, not clipped), keeps an alpha channel
aside, resizes by the long side and refuses images with too many pixels. Every problem a
user can cause (missing, empty, truncated, not an image, a folder) is a one-line
:class:`~styx.core.errors.StyxError` naming the file.

Writing (:func:`save_image`) refuses NaN/inf, clamps to [0, 1], re-attaches alpha where the
format has one (PNG, WebP, TIFF) and writes atomically: a temporary file in the same folder,
then a rename, so a failure never leaves a half-written image.

Tensors are float32 RGB in [0, 1], N x 3 x H x W (N = 1 here). Decoding and encoding the
files themselves is :mod:`styx.files.image_arrays`, which imports no torch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image

from styx.core.errors import StyxError
from styx.core.method import RunRequest
from styx.files.formats import ALPHA_SUFFIXES, image_format
from styx.files.image_arrays import (
    DEFAULT_MAX_PIXELS,
    apply_exif_orientation,
    arrays_to_pil,
    decode_image,
    long_side_size,
    pil_to_arrays,
    sample_image,
    upright_image_size,
    upright_size,
    write_picture,
)

#: The hint of an image tensor of the wrong shape passed from Python.
TENSOR_HINT = "images are 1 x 3 x H x W tensors in [0, 1] (styx.runtime.image_tensors.load_image reads one)"


@dataclass
class LoadedImage:
    """An image as read from disk.

    ``rgb``: 1 x 3 x H x W float32 in [0, 1]; ``alpha``: 1 x 1 x H x W in [0, 1] or None;
    ``original_size``: (height, width) in the file, after the EXIF rotation, before resizing.
    """

    rgb: torch.Tensor
    alpha: torch.Tensor | None
    path: Path | None
    original_size: tuple[int, int] = (0, 0)

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) of ``rgb``."""
        return int(self.rgb.shape[-2]), int(self.rgb.shape[-1])


# -- reading ---------------------------------------------------------------------------------
def read_image(path: str | os.PathLike[str], *, long_side: int | None = None,
               max_pixels: int | None = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """Read an image file as RGB float32 in [0, 1], with its alpha channel kept aside.

    ``long_side``: resize (antialiased) so the longer side has this many pixels.
    ``max_pixels``: refuse larger images (a StyxError, before decoding); None disables the
    check (Pillow's own decompression-bomb limit still applies).
    """
    if long_side is not None and int(long_side) < 1:
        raise StyxError(f"bad image size {long_side!r}", "the long side must be >= 1 pixel")
    path = Path(path).expanduser()
    rgb, alpha = decode_image(path, max_pixels=max_pixels)
    rgb_tensor = torch.from_numpy(rgb).permute(2, 0, 1).unsqueeze(0).contiguous()
    alpha_tensor = None if alpha is None else torch.from_numpy(alpha)[None, None].contiguous()
    original_size = (int(rgb_tensor.shape[-2]), int(rgb_tensor.shape[-1]))
    if long_side is not None:
        rgb_tensor = resize_long_side(rgb_tensor, int(long_side))
        if alpha_tensor is not None:
            alpha_tensor = resize_to(alpha_tensor, rgb_tensor.shape[-2:])
    return LoadedImage(rgb=rgb_tensor, alpha=alpha_tensor, path=path,
                       original_size=original_size)


def image_input(image: str | os.PathLike[str] | torch.Tensor | Image.Image, *,
                long_side: int | None = None, what: str = "content",
                batch: bool = False) -> LoadedImage:
    """An image a caller gave, whatever its kind, as a :class:`LoadedImage`.

    ``image``: a path (read with :func:`read_image`), a PIL image, or a tensor in [0, 1]
    (3 x H x W or 1 x 3 x H x W; N x 3 x H x W with ``batch``). ``long_side`` resizes it.
    Anything else, or values outside [0, 1], is a StyxError naming ``what``.
    """
    if isinstance(image, (str, os.PathLike)):
        return read_image(image, long_side=long_side)
    alpha = None
    if isinstance(image, Image.Image):
        rgb_array, alpha_array = pil_to_arrays(apply_exif_orientation(image))
        tensor = torch.from_numpy(rgb_array).permute(2, 0, 1).unsqueeze(0).contiguous()
        if alpha_array is not None:
            alpha = torch.from_numpy(alpha_array)[None, None].contiguous()
    elif isinstance(image, torch.Tensor):
        tensor = image.detach()
        if tensor.dim() == 3:
            tensor = tensor.unsqueeze(0)
        if tensor.dim() != 4 or tensor.shape[1] != 3 or (tensor.shape[0] != 1 and not batch):
            shape = "N x 3 x H x W" if batch else "3 x H x W or 1 x 3 x H x W"
            raise StyxError(f"the {what} tensor has shape {tuple(image.shape)}",
                            f"give RGB images, {shape}")
        tensor = tensor.float().cpu()
        if not torch.isfinite(tensor).all() or tensor.min() < 0 or tensor.max() > 1:
            raise StyxError(f"the {what} tensor has values outside [0, 1]",
                            "images are float RGB in [0, 1]")
    else:
        raise StyxError(f"the {what} image is a {type(image).__name__}",
                        "give a file path, a PIL image or a tensor in [0, 1]")
    original = (int(tensor.shape[-2]), int(tensor.shape[-1]))
    if long_side is not None:
        tensor = resize_long_side(tensor, int(long_side))
        if alpha is not None:
            alpha = resize_to(alpha, tensor.shape[-2:])
    return LoadedImage(rgb=tensor, alpha=alpha, path=None, original_size=original)


def input_size(image: Any, *, what: str = "content", long_side: int | None = None
               ) -> tuple[int, int]:
    """(height, width) that :func:`image_input` (or, for None, the bundled sample of kind
    ``what``) will give ``image`` resized to ``long_side``, found without decoding a file:
    what memory estimates start from. An unreadable file is the StyxError reading gives."""
    if image is None:
        image = sample_image(what)
    if isinstance(image, (str, os.PathLike)):
        width, height = upright_size(image)
    elif isinstance(image, Image.Image):
        width, height = upright_image_size(image)
    elif isinstance(image, torch.Tensor) and image.dim() >= 2:
        height, width = int(image.shape[-2]), int(image.shape[-1])
    else:
        return image_input(image, what=what).rgb.shape[-2:]  # its own error
    return (height, width) if long_side is None else long_side_size(height, width, long_side)


def load_image(path: str | os.PathLike[str], long_side: int | None = None) -> torch.Tensor:
    """The RGB of :func:`read_image`: 1 x 3 x H x W float32 in [0, 1]."""
    return read_image(path, long_side=long_side).rgb


class TensorImages:
    """The :class:`~styx.core.method.ImageIO` of every request styx makes: this module's
    loader (:func:`image_input`, the bundled samples for images not given) and writer
    (:func:`tensor_to_pil`)."""

    def read(self, image: Any, *, long_side: int | None, what: str,
             batch: bool = False) -> LoadedImage:
        if image is None:
            image = sample_image(what)
        return image_input(image, long_side=long_side, what=what, batch=batch)

    def to_pil(self, image: torch.Tensor, alpha: torch.Tensor | None = None) -> Image.Image:
        return tensor_to_pil(image, alpha)


#: The one :class:`TensorImages`.
TENSOR_IMAGES = TensorImages()


def run_request(**fields: Any) -> RunRequest:
    """A :class:`~styx.core.method.RunRequest` (``content=``, ``styles=``, ``model=``, ...)
    that reads its images with :data:`TENSOR_IMAGES`."""
    return RunRequest(images=TENSOR_IMAGES, **fields)


# -- resizing --------------------------------------------------------------------------------
def _as_batch(image: torch.Tensor) -> tuple[torch.Tensor, bool]:
    if image.dim() == 3:
        return image.unsqueeze(0), True
    if image.dim() == 4:
        return image, False
    raise StyxError(f"expected a C x H x W or N x C x H x W image, got shape {tuple(image.shape)}",
                     TENSOR_HINT)


def resize_to(image: torch.Tensor, size: tuple[int, int] | torch.Size) -> torch.Tensor:
    """``image`` (C x H x W or N x C x H x W) resized to (height, width), antialiased bicubic,
    clamped to [0, 1]. Returns the input unchanged when it already has that size."""
    batch, squeezed = _as_batch(image)
    height, width = int(size[0]), int(size[1])
    if height < 1 or width < 1:
        raise StyxError(f"bad image size {height}x{width}", "sizes must be >= 1 pixel")
    if tuple(batch.shape[-2:]) == (height, width):
        return image
    dtype = batch.dtype
    out = F.interpolate(batch.float(), size=(height, width), mode="bicubic",
                        align_corners=False, antialias=True).clamp_(0.0, 1.0).to(dtype)
    return out.squeeze(0) if squeezed else out


def resize_long_side(image: torch.Tensor, long_side: int) -> torch.Tensor:
    """``image`` resized (up or down, antialiased) so its longer side is ``long_side`` px."""
    if int(long_side) < 1:
        raise StyxError(f"bad image size {long_side!r}", "the long side must be >= 1 pixel")
    height, width = int(image.shape[-2]), int(image.shape[-1])
    return resize_to(image, long_side_size(height, width, int(long_side)))


# -- writing ---------------------------------------------------------------------------------
def tensor_to_pil(image: torch.Tensor, alpha: torch.Tensor | None = None) -> Image.Image:
    """A 3 x H x W or 1 x 3 x H x W tensor in [0, 1] (and alpha) as an 8-bit RGB(A) image."""
    batch, _ = _as_batch(image.detach())
    if batch.shape[0] != 1 or batch.shape[1] != 3:
        raise StyxError(f"expected one RGB image (1 x 3 x H x W), got shape {tuple(image.shape)}",
                        TENSOR_HINT)
    rgb = batch[0].float().cpu().permute(1, 2, 0).numpy()
    if alpha is None:
        return arrays_to_pil(rgb)
    alpha_batch, _ = _as_batch(alpha.detach().float().cpu())
    if alpha_batch.dim() != 4 or alpha_batch.shape[:2] != (1, 1):
        raise StyxError(f"expected a 1 x 1 x H x W alpha, got shape {tuple(alpha.shape)}",
                        "load_image(..., alpha=True) returns the alpha in that shape")
    alpha_batch = resize_to(torch.nan_to_num(alpha_batch, nan=1.0).clamp(0, 1),
                            batch.shape[-2:])
    return arrays_to_pil(rgb, alpha_batch[0, 0].numpy())


def save_image(image: torch.Tensor, path: str | os.PathLike[str], *,
               alpha: torch.Tensor | None = None, quality: int = 95) -> Path:
    """Write ``image`` (1 x 3 x H x W or 3 x H x W in [0, 1]) to ``path``, atomically.

    The format follows the suffix. ``alpha`` (resized to the image if needed) is written
    where the format keeps it (PNG, WebP, TIFF) and dropped otherwise. NaN/inf values are a
    StyxError; values are clamped to [0, 1]. ``quality`` applies to JPEG and WebP.
    """
    # The suffix and the path are checked, not the folder: the write itself (atomic, its
    # folder created) reports what goes wrong, and the commands tried the folder first.
    path, fmt = image_format(path)
    picture = tensor_to_pil(image, alpha if path.suffix.lower() in ALPHA_SUFFIXES else None)
    return write_picture(picture, path, fmt, quality=quality)


# -- colour ----------------------------------------------------------------------------------
_RGB_TO_YIQ = torch.tensor([[0.299, 0.587, 0.114],
                            [0.595716, -0.274453, -0.321263],
                            [0.211456, -0.522591, 0.311135]], dtype=torch.float64)
_YIQ_TO_RGB = torch.linalg.inv(_RGB_TO_YIQ)


def _mix(image: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    batch, squeezed = _as_batch(image)
    if batch.shape[1] != 3:
        raise StyxError(f"expected 3 colour channels, got shape {tuple(image.shape)}", TENSOR_HINT)
    out = torch.einsum("ij,njhw->nihw", matrix.to(batch.device, torch.float32), batch.float())
    return out.squeeze(0) if squeezed else out


def rgb_to_yiq(image: torch.Tensor) -> torch.Tensor:
    """RGB -> YIQ (Y luminance in [0, 1], I and Q chroma), per pixel, for (N x) 3 x H x W."""
    return _mix(image, _RGB_TO_YIQ)


def yiq_to_rgb(image: torch.Tensor) -> torch.Tensor:
    """YIQ -> RGB (not clamped), the inverse of :func:`rgb_to_yiq`."""
    return _mix(image, _YIQ_TO_RGB)


def match_color(content: torch.Tensor, stylised: torch.Tensor) -> torch.Tensor:
    """Luminance-only transfer (``--preserve-color``): the stylised image's luminance with
    the content image's chroma (I, Q). ``content`` is resized to ``stylised`` if needed;
    the result has the stylised image's shape, clamped to [0, 1]."""
    if content.shape[-2:] != stylised.shape[-2:]:
        content = resize_to(content, stylised.shape[-2:])
    content_yiq = rgb_to_yiq(content.to(stylised.device))
    stylised_yiq = rgb_to_yiq(stylised)
    if content_yiq.shape != stylised_yiq.shape:  # e.g. one content image, a batch of results
        content_yiq = content_yiq.reshape(-1, *content_yiq.shape[-3:])[:1]
        content_yiq = content_yiq.expand(*stylised_yiq.shape[:-3], *content_yiq.shape[-3:])
    mixed = torch.cat([stylised_yiq[..., :1, :, :], content_yiq[..., 1:, :, :]], dim=-3)
    return yiq_to_rgb(mixed).clamp(0.0, 1.0).to(stylised.dtype)

