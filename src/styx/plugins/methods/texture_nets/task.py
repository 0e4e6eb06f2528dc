"""The texture-nets training task: what the shared training loop needs from this method.

The loop (:func:`styx.training.loop.train`) owns data, optimiser, schedule, checkpoints,
resume, DDP, AMP and progress. This task builds the generator, measures a batch of
stylised crops with the :class:`~styx.perceptual.objective.PerceptualObjective` (content of each
crop + the style image's Gram statistics + total variation), and describes itself for the
checkpoint and model metadata.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from styx.core import __version__
from styx.perceptual.objective import LossTerms, PerceptualObjective
from styx.perceptual.objective import build_objective, used_layers
from styx.plugins.methods.texture_nets.config import TextureNetsTrainConfig
from styx.plugins.methods.texture_nets.generator import TextureNetwork

METHOD = "texture-nets"


class TextureNetsTask:
    """A :class:`styx.training.loop.TrainingTask` for one style image.

    With ``config.texture`` it trains a texture generator: noise in, the style's texture
    out; the loop then reads no content (its batches are shapes only) and no content loss
    is used.
    """

    def __init__(self, config: TextureNetsTrainConfig) -> None:
        from styx.runtime.image_tensors import read_image
        from styx.files.modelstore import sha256_file

        self.config = config
        self.generator_config = config.generator_config()
        self.texture = config.texture
        self.style_path = Path(config.style).expanduser()
        self.style_size = config.style_size or config.image_size
        self.style_image = read_image(self.style_path, long_side=self.style_size).rgb
        self.style_sha256 = sha256_file(self.style_path)
        # The layers are known now; the descriptor is built at the first step, after the
        # shared loop has checked the content folder and built the generator.
        self.content_layers, self.style_layers = used_layers(config, content=not self.texture)
        self._objective: PerceptualObjective | None = None
        self._device: torch.device | None = None

    @property
    def objective(self) -> PerceptualObjective:
        """The perceptual objective (the descriptor and losses), built on first use."""
        if self._objective is None:
            self._objective = build_objective(self.config, seed=self.config.seed,
                                              content=not self.texture)
        return self._objective

    # -- TrainingTask ----------------------------------------------------------------------
    def build_model(self) -> TextureNetwork:
        return TextureNetwork(self.generator_config)

    def training_step(self, model: torch.nn.Module, batch: torch.Tensor, step: int) -> LossTerms:
        """Stylise ``batch`` (N x 3 x S x S content crops; N x 0 x S x S in texture mode)
        with fresh noise and score it."""
        self._move_to(batch.device)
        n, _, height, width = batch.shape
        depth = self.generator_config.noise_depth
        noise = torch.rand(n, depth, height, width, device=batch.device) if depth else None
        if self.texture:
            return self.objective(model(None, noise), {})
        output = model(batch, noise)
        return self.objective(output, self.objective.content_targets(batch))

    def metadata(self) -> dict[str, Any]:
        """JSON-able description: method, architecture, style image and training settings."""
        return {
            "method": METHOD,
            "styx_version": __version__,
            "architecture": self.generator_config.to_dict(),
            "texture": self.texture,
            "style": {"name": self.style_path.name, "sha256": self.style_sha256,
                      "size": [int(s) for s in self.style_image.shape[-2:]]},
            "loss": {
                **self.config.loss_metadata(self.content_layers, self.style_layers),
                "style_size": self.style_size,
                "seed": self.config.seed,
            },
        }

    # -- helpers ---------------------------------------------------------------------------
    def _move_to(self, device: torch.device) -> None:
        """Put the descriptor on ``device`` and compute the style targets there (once)."""
        if self._device == device:
            return
        self.objective.to(device)
        with torch.autocast(device.type, enabled=False):  # style targets in full precision
            self.objective.set_style([self.style_image.to(device)])
        self._device = device
