"""Gram-matrix style loss with a selectable normalisation.

For a feature map ``F`` of C channels and M = H * W positions (one image), the Gram matrix
is ``G = F F^T`` (C x C) and ``A`` is the style image's. Every normalisation computes
``k * sum_ij (G_ij - A_ij)^2`` (then the mean over the batch); they differ in ``k``:

=============  ======================  ==================================================
name           k                       from
=============  ======================  ==================================================
elements       1 / (C^4 M^2)           Grams divided by C*M, then the mean over the C^2
                                       entries (Johnson et al.); the default
gatys          1 / (4 C^2 M^2)         Gatys et al. 2016, eq. 4; the seed report's
                                       1 / (2 C M)^2 is the same, so ``seed-report``
                                       is another name of it
none           1                       the raw sum of squares
=============  ======================  ==================================================

So ``elements = gatys * 4 / C^2`` and ``none = gatys * 4 C^2 M^2``. ``elements`` keeps
the layers' losses within about one order of magnitude of each other and independent of the
image size, so one style weight works at 256 and at 1024 px. The Gram matrix and the loss
are always computed in float32, whatever the autocast dtype.
"""

from __future__ import annotations

import torch

from styx.core.checks import choice
from styx.core.errors import StyxError
from styx.core.registry import normalize_name
from styx.plugins.losses.options import (
    DEFAULT_NORMALIZATION,
    NORMALIZATION_ALIASES,
    NORMALIZATIONS,
)


class _Gram(torch.autograd.Function):
    """``X^T X`` per image for X = N x M x C, with a one-matmul backward.

    autograd would differentiate ``bmm(X^T, X)`` as two matmuls (one per operand); the
    gradient is ``X (dG + dG^T)``, one matmul, which matters because the Gram matrices are
    the largest cost of a style loss after the descriptor itself.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return torch.bmm(x.transpose(1, 2), x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (x,) = ctx.saved_tensors
        return torch.bmm(x, grad + grad.transpose(1, 2))


def gram_matrix(features: torch.Tensor, *, normalize: bool = True) -> torch.Tensor:
    """``F F^T`` per image, N x C x C, in float32; divided by C*H*W when ``normalize``.

    Computed as ``X^T X`` with X = N x (H*W) x C, which is a view, not a copy, of
    channels-last features (the layout descriptors run in for speed).
    """
    if features.dim() != 4:
        raise StyxError(f"a Gram matrix needs N x C x H x W features, got shape "
                        f"{tuple(features.shape)}", "pass a descriptor's feature map")
    n, c, h, w = features.shape
    with torch.autocast(device_type=features.device.type, enabled=False):
        positions = features.float().permute(0, 2, 3, 1).reshape(n, h * w, c)
        gram = _Gram.apply(positions)
    return gram / (c * h * w) if normalize else gram


def normalization_scale(normalization: str, channels: int, positions: int) -> float:
    """``k`` of the table above, for the unscaled Gram difference (``elements`` included)."""
    c, m = float(channels), float(positions)
    return {"elements": 1.0 / (c ** 4 * m ** 2),
            "gatys": 1.0 / (4.0 * c ** 2 * m ** 2),
            "none": 1.0}[normalization]


class GramLoss:
    """Style loss ``k * sum((G - A)^2)``, mean over the batch; ``prepare`` gives ``A``."""

    def __init__(self, normalization: str | None = DEFAULT_NORMALIZATION) -> None:
        key = DEFAULT_NORMALIZATION if normalization is None else \
            normalize_name(str(normalization))
        self.normalization = choice(*NORMALIZATIONS, aliases=NORMALIZATION_ALIASES)(
            key, "Gram normalization")

    def prepare(self, features: torch.Tensor) -> torch.Tensor:
        """The target Gram matrix (1 x C x C for one style image), float32."""
        return self._gram(features.detach())

    def _gram(self, features: torch.Tensor) -> torch.Tensor:
        # "elements" scales the Grams themselves, so targets of blended styles and the
        # values seen in experiments do not depend on the image size.
        return gram_matrix(features, normalize=self.normalization == "elements")

    def __call__(self, features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device_type=features.device.type, enabled=False):
            squared = (self._gram(features) - target.float()) ** 2  # N x C x C
            if self.normalization == "elements":
                return squared.mean()  # the Grams are already divided by C*M
            _, c, h, w = features.shape
            scale = normalization_scale(self.normalization, c, h * w)
            return squared.sum() * scale / squared.shape[0]
