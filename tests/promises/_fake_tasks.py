"""A training task for the loop's promises that reads no content folder."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from styx.perceptual.objective import LossTerms


class ShapeTask:
    """One convolution fed seeded noise (no content folder), learning a colour flip."""

    def build_model(self) -> nn.Module:
        return nn.Conv2d(3, 3, 3, padding=1)

    def training_step(self, model, batch, step):
        noise = torch.rand(batch.shape[0], 3, *batch.shape[-2:], device=batch.device)
        loss = F.mse_loss(model(noise), 1.0 - noise.flip(1))
        return LossTerms(total=loss, content={"mse": loss})

    def metadata(self) -> dict:
        return {"method": "fake-shape"}
