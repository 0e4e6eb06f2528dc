"""The AdaIN training task: one decoder for every painting.

The shared loop (:func:`styx.training.loop.train`) owns the data (content crops and, from
this task's ``style_dir``, painting crops: two streams, each with workers, shuffling, DDP
sharding and a resume fingerprint), the optimiser, checkpoints, bf16 and progress. Each step
encodes both batches once with the frozen encoder, computes the AdaIN target (painting
``i`` for photo ``i``), decodes it through the model (the only trained part) and scores the
result: the content loss against the target at the encoder layer, the style loss (mean and
standard deviation, by default) against the paintings at every style layer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from styx.core import __version__
from styx.perceptual.losses import build_loss
from styx.perceptual.objective import LossTerms
from styx.plugins.methods.adain.config import AdaINTrainConfig
from styx.plugins.methods.adain.network import AdaINArchitecture, AdaINNetwork, mean_std


class AdaINTask:
    """What the shared loop needs from AdaIN (see the module docstring)."""

    method = "adain"

    def __init__(self, config: AdaINTrainConfig) -> None:
        self.config = config
        self.content_dir: Path = Path(config.content_dir).expanduser()
        #: The second data stream: the loop gives ``training_step`` a batch of its crops.
        self.style_dir: Path = Path(config.style_dir).expanduser()
        self.style_short_side = config.style_short_side
        self.content_loss = build_loss(config.content_loss, scores="features")
        self.style_loss = build_loss(config.style_loss, scores="features")
        self.network: AdaINNetwork | None = None

    def check_sizes(self) -> None:
        """Refuse crops (``--image-size``) too small for the encoder at ``--layer`` and the
        style layers (a shape pass that loads no weights); the shared training calls it
        before the model is built."""
        from styx.perceptual.sizes import check_image_size

        config = self.config
        size = int(config.image_size)
        check_image_size(config.descriptor, [config.layer, *(config.style_layers or [])],
                         size, size, options=dict(config.descriptor_options),
                         what=f"training crop (--image-size {size})",
                         fix=lambda needed, layer: f"use --image-size {needed} or more, or "
                         "a shallower --layer and --style-layers")

    def build_model(self) -> AdaINNetwork:
        config = self.config
        self.network = AdaINNetwork(AdaINArchitecture.from_options(config.architecture()),
                                    weights=config.weights, seed=config.seed)
        self.layers = self.network.encoder.resolve_layers(config.style_layers)
        return self.network

    def training_step(self, model: torch.nn.Module, batch: torch.Tensor, step: int, *,
                      styles: torch.Tensor) -> LossTerms:
        network = self.network
        assert network is not None, "build_model() first"
        layer, config = network.layer, self.config
        every = [*dict.fromkeys([layer, *self.layers])]
        with torch.no_grad():
            content = network.encode(batch)[layer]
            style_features = network.encode(styles, every)
            target = network.adain(content, mean_std(style_features[layer].float()))
        output = model(batch, styles, target=target)
        features = network.encode(output, every)
        content_term = self.content_loss(features[layer], self.content_loss.prepare(target))
        style_terms = {name: self.style_loss(features[name],
                                             self.style_loss.prepare(style_features[name]))
                       for name in self.layers}
        total = config.content_weight * content_term + \
            config.style_weight * sum(style_terms.values())
        return LossTerms(total=total, content={layer: content_term}, style=style_terms)

    def metadata(self) -> dict[str, Any]:
        config = self.config
        return {"method": self.method, "styx_version": __version__,
                "architecture": config.architecture(),
                "descriptor": {"name": config.descriptor, "weights": str(config.weights)},
                "style_dir": str(self.style_dir),
                "loss": {"content_loss": config.content_loss, "style_loss": config.style_loss,
                         "content_weight": config.content_weight,
                         "style_weight": config.style_weight, "layer": config.layer,
                         "style_layers": list(config.style_layers or [])}}
