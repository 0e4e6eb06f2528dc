"""Gram-matrix style loss with a selectable normalisation.

For a feature map of C channels and M = H * W positions, ``G = F F^T`` (C x C). The loss
is ``k * sum((G - A)^2)`` with ``A`` the style image's Gram matrix and ``k``:

=============  ===============================  =========================================
name           k (and G)                        from
=============  ===============================  =========================================
elements       G / (C*M), then mean over C^2    Johnson et al.; sizes do not matter
gatys          1 / (4 C^2 M^2), G unscaled      Gatys et al. 2016, eq. 4
seed-report    1 / (2 C M)^2, G unscaled        the seed report's formula
none           1, G unscaled                    raw sum of squares
=============  ===============================  =========================================

``elements`` is the default: it keeps layer losses of one order of magnitude across image
sizes, so one style weight works at 256 and 1024 px. The Gram matrix is always computed in
float32, whatever the autocast dtype.
"""

from __future__ import annotations

import torch

from styx.core.errors import StyxError

NORMALIZATIONS = ("elements", "gatys", "seed-report", "none")


def gram_matrix(features: torch.Tensor, *, normalize: bool = True) -> torch.Tensor:
    """``F F^T`` per image, N x C x C, in float32; divided by C*H*W when ``normalize``."""
    n, c, h, w = features.shape
    flat = features.float().reshape(n, c, h * w)
    with torch.autocast(device_type=flat.device.type, enabled=False):
        gram = torch.bmm(flat, flat.transpose(1, 2))
    return gram / (c * h * w) if normalize else gram


class GramLoss:
    def __init__(self, normalization: str = "elements") -> None:
        normalization = normalization.lower().replace("_", "-")
        if normalization not in NORMALIZATIONS:
            raise StyxError(f"unknown Gram normalization {normalization!r}",
                            f"choose one of {', '.join(NORMALIZATIONS)}")
        self.normalization = normalization

    def prepare(self, features: torch.Tensor) -> torch.Tensor:
        return self._gram(features.detach())

    def _gram(self, features: torch.Tensor) -> torch.Tensor:
        return gram_matrix(features, normalize=self.normalization == "elements")

    def __call__(self, features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        _, c, h, w = features.shape
        squared = (self._gram(features) - target) ** 2
        batch = features.shape[0]
        if self.normalization == "elements":
            return squared.mean()
        m = h * w
        scale = {"gatys": 1.0 / (4.0 * c * c * m * m),
                 "seed-report": 1.0 / (2.0 * c * m) ** 2,
                 "none": 1.0}[self.normalization]
        return squared.sum() * scale / batch
