"""Total variation: penalises differences between neighbouring pixels (high frequencies)."""

from __future__ import annotations

import torch


class TotalVariationLoss:
    """Mean of ``|dx|^p`` and ``|dy|^p`` over the image (p = 2 by default)."""

    def __init__(self, power: float = 2.0) -> None:
        self.power = float(power)

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        image = image.float()
        dx = image[..., :, 1:] - image[..., :, :-1]
        dy = image[..., 1:, :] - image[..., :-1, :]
        if self.power == 2.0:
            return (dx * dx).mean() + (dy * dy).mean()
        return dx.abs().pow(self.power).mean() + dy.abs().pow(self.power).mean()
