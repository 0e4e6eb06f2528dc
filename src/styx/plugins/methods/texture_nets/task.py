"""The texture-nets training task: what the shared training loop needs from this method.

The loop (:func:`styx.core.training.train`) owns data, optimiser, schedule, checkpoints,
resume, DDP, AMP and progress. This task builds the generator, measures a batch of
stylised crops with the :class:`~styx.core.objective.PerceptualObjective` (content of each
crop + the style image's Gram statistics + total variation), and describes itself for the
checkpoint and model metadata.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from styx import __version__
from styx.core.errors import StyxError
from styx.core.objective import LossTerms, PerceptualObjective
from styx.core.perceptual import (
    DEFAULT_CONTENT_WEIGHT,
    DEFAULT_STYLE_WEIGHT,
    DEFAULT_TV_WEIGHT,
    LossSettings,
    build_objective,
)
from styx.plugins.methods.texture_nets.generator import (
    GeneratorConfig,
    TextureNetwork,
    build_generator,
)

METHOD = "texture-nets"

# LossSettings and the default weights live in styx.core.perceptual, shared by every method;
# they are re-exported here for the imports that name this module.
__all__ = ["DEFAULT_CONTENT_WEIGHT", "DEFAULT_STYLE_WEIGHT", "DEFAULT_TV_WEIGHT", "METHOD",
           "LossSettings", "TextureNetsTask"]


class TextureNetsTask:
    """A :class:`styx.core.training.TrainingTask` for one style image.

    ``texture=True`` trains a texture generator: noise in, the style's texture out; content
    crops only set the batch size and crop size, and no content loss is used.
    """

    def __init__(self, style: str | Path, *, generator: GeneratorConfig | None = None,
                 losses: LossSettings | None = None, style_size: int = 256,
                 texture: bool = False, seed: int = 0) -> None:
        from styx.core.image import read_image
        from styx.core.modelstore import sha256_file

        self.losses = losses = losses or LossSettings()
        config = generator or GeneratorConfig()
        if texture and config.content_channels:
            config = GeneratorConfig(**{**config.to_dict(), "content_channels": 0})
        self.generator_config = config
        self.texture = texture
        self.style_path = Path(style).expanduser()
        self.style_image = read_image(self.style_path, long_side=style_size).rgb
        self.style_size = style_size
        self.style_sha256 = sha256_file(self.style_path)
        self.seed = seed

        content_layers, style_layers = losses.layer_weights()
        if texture:
            content_layers = {}
        if not style_layers:
            raise StyxError("no style layer selected", "give --style-layers, e.g. relu1_1,relu2_1")
        self.content_layers = content_layers
        self.style_layers = style_layers
        self.objective: PerceptualObjective = build_objective(
            losses, content_layers, style_layers, seed=seed)
        self._device: torch.device | None = None

    # -- TrainingTask ----------------------------------------------------------------------
    def build_model(self) -> TextureNetwork:
        return build_generator(self.generator_config)

    def training_step(self, model: torch.nn.Module, batch: torch.Tensor, step: int) -> LossTerms:
        """Stylise ``batch`` (N x 3 x S x S content crops) with fresh noise and score it."""
        self._move_to(batch.device)
        n, _, height, width = batch.shape
        depth = self.generator_config.noise_depth
        noise = torch.rand(n, depth, height, width, device=batch.device) if depth else None
        if self.texture:
            output = model(None, noise)
            return self.objective(output, {})
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
                **self.losses.as_metadata(self.content_layers, self.style_layers),
                "style_size": self.style_size,
                "seed": self.seed,
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
