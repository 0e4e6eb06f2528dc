"""Total variation: penalises differences between neighbouring pixels (high frequencies)."""

from __future__ import annotations

import torch


class TotalVariationLoss:
    """``mean(|dx|^p) + mean(|dy|^p)`` over the image (p = 2 by default), in float32.

    ``dx`` / ``dy`` are the differences between horizontal / vertical neighbours; a
    direction with no neighbours (an image one pixel wide or high) contributes zero.
    """

    def __init__(self, power: float = 2.0) -> None:
        from styx.core.checks import check_number

        # Below 1 the gradient is infinite where neighbours are equal.
        self.power = check_number(power, "TV power", minimum=1,
                                  hint="give a finite number >= 1, e.g. 2")

    def _term(self, difference: torch.Tensor) -> torch.Tensor:
        if difference.numel() == 0:
            return difference.new_zeros(())
        if self.power == 2.0:
            return (difference * difference).mean()
        return difference.abs().pow(self.power).mean()

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        image = image.float()
        dx = image[..., :, 1:] - image[..., :, :-1]
        dy = image[..., 1:, :] - image[..., :-1, :]
        return self._term(dx) + self._term(dy)
