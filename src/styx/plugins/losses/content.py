"""Content loss: the mean squared difference between two feature maps."""

from __future__ import annotations

import torch


class ContentLoss:
    """``mean((F - P)^2)`` over channels and positions, averaged over the batch.

    The seed report writes ``1/2 * sum((F - P)^2)``; the mean differs from it only by the
    constant ``2 / (C*H*W)``, which the content weight absorbs, and keeps the loss
    comparable across image sizes.
    """

    def prepare(self, features: torch.Tensor) -> torch.Tensor:
        return features.detach().float()

    def __call__(self, features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return torch.mean((features.float() - target) ** 2)
