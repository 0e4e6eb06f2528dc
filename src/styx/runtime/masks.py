"""Region masks (``--region MASK:STYLE``) as tensors, for every method with regions."""

from __future__ import annotations

from typing import Any

import torch

from styx.core.errors import StyxError
from styx.runtime.image_tensors import image_input, resize_to, rgb_to_yiq


def load_mask(mask: Any, size: tuple[int, int]) -> torch.Tensor:
    """A mask as 1 x 1 x H x W in [0, 1], stretched to ``size``: its alpha channel when it
    has one (a cut-out), else its luminance (white = the region). ``mask``: an image file,
    a PIL image, or a tensor in [0, 1] (H x W, 1 x H x W or 1 x 1 x H x W)."""
    if isinstance(mask, torch.Tensor):
        values = mask.detach().float().cpu()
        while values.dim() < 4:
            values = values.unsqueeze(0)
        if values.dim() != 4 or values.shape[:2] != (1, 1):
            raise StyxError(f"a mask tensor is H x W (or 1 x H x W, 1 x 1 x H x W), got shape "
                            f"{tuple(mask.shape)}", "one value in [0, 1] per pixel")
        if not torch.isfinite(values).all() or values.min() < 0 or values.max() > 1:
            raise StyxError("a mask tensor has values outside [0, 1]",
                            "masks are 0 (not the region) to 1 (the region)")
    else:
        try:
            loaded = image_input(mask, what="mask")
        except StyxError as error:
            raise StyxError(f"bad --region mask: {error.message}", error.hint) from None
        values = loaded.alpha if loaded.alpha is not None else rgb_to_yiq(loaded.rgb)[:, :1]
    return resize_to(values, size).clamp(0.0, 1.0)
