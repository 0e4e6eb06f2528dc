"""The texture-nets training task: what the shared training loop needs from this method.

The loop (:func:`styx.training.loop.train`) owns data, optimiser, schedule, checkpoints,
resume, DDP, AMP and progress; :class:`~styx.training.feedforward.PerceptualTask` loads the
style image and builds the perceptual objective. This task builds the generator and scores
a batch of stylised crops (content of each crop + the style image's Gram statistics + total
variation) with fresh noise.
"""

from __future__ import annotations

from typing import Any

import torch

from styx.perceptual.objective import LossTerms
from styx.plugins.methods.texture_nets.config import TextureNetsTrainConfig
from styx.plugins.methods.texture_nets.generator import TextureNetwork
from styx.training.feedforward import PerceptualTask


class TextureNetsTask(PerceptualTask):
    """The training of a texture network for one style image.

    With ``config.texture`` it trains a texture generator: noise in, the style's texture
    out; the loop then reads no content (its batches are shapes only) and no content loss
    is used.
    """

    method = "texture-nets"

    def __init__(self, config: TextureNetsTrainConfig) -> None:
        super().__init__(config, [config.style], content=not config.texture)
        self.generator_config = config.generator_config()

    def build_model(self) -> TextureNetwork:
        return TextureNetwork(self.generator_config)

    def training_step(self, model: torch.nn.Module, batch: torch.Tensor, step: int) -> LossTerms:
        """Stylise ``batch`` (N x 3 x S x S content crops; N x 0 x S x S in texture mode)
        with fresh noise and score it."""
        objective = self.objective_on(batch.device)
        n, _, height, width = batch.shape
        depth = self.generator_config.noise_depth
        noise = torch.rand(n, depth, height, width, device=batch.device) if depth else None
        if not self.content:
            return objective(model(None, noise), {})
        return objective(model(batch, noise), objective.content_targets(batch))

    def architecture(self) -> dict[str, Any]:
        return self.generator_config.to_dict()

    def describe(self) -> dict[str, Any]:
        [record] = self.style_records
        return {"texture": not self.content, "style": {"name": record["file"], **record}}
