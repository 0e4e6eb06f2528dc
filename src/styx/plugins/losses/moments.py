"""Style loss by feature statistics (Huang & Belongie 2017): match each channel's mean and
standard deviation, the statistics AdaIN transfers; cheaper than a Gram matrix and blind to
how channels co-vary."""

from __future__ import annotations

import torch

#: Added to variances before the square root (a flat channel has a finite gradient).
EPSILON = 1e-5


def channel_moments(features: torch.Tensor) -> torch.Tensor:
    """N x C x 2: each image's per-channel mean and standard deviation, in float32."""
    values = features.float()
    mean = values.mean(dim=(2, 3))
    std = torch.sqrt((values - mean[..., None, None]).square().mean(dim=(2, 3)) + EPSILON)
    return torch.stack([mean, std], dim=-1)


class MeanStdLoss:
    """``mean((mu(F) - mu(S))^2) + mean((sigma(F) - sigma(S))^2)`` over channels, averaged
    over the batch; the target is one painting (1 x ...) or one per image (N x ...)."""

    def prepare(self, features: torch.Tensor) -> torch.Tensor:
        return channel_moments(features.detach())

    def __call__(self, features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return torch.mean((channel_moments(features) - target) ** 2) * 2
