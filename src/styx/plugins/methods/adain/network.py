"""The AdaIN network (Huang & Belongie 2017): a frozen encoder, AdaIN, a trained decoder.

* The encoder is any registered descriptor up to one layer (VGG19's ``relu4_1`` by
  default, as in the paper), frozen, its weights stored with the model so that a model
  file is whole; rebuilt from the metadata with ``weights="empty"`` and then filled.
* Adaptive instance normalisation: the content features, normalised per channel (by
  :class:`styx.generators.blocks.InstanceNorm`, so tiles can share a thumbnail's statistics),
  scaled and shifted by the style features' standard deviation and mean.
* The decoder mirrors the encoder: for each halving of the resolution, a 3x3 convolution
  that halves the channels and a nearest upsampling, then convolutions at that width;
  reflect padding; no normalisation.
* Two variants (:mod:`styx.generators.variants`), chosen at training time and stored in
  the architecture: ``paper`` (above) and ``fast`` (the encoder to ``relu3_1``, a decoder
  of one narrow zero-padded convolution per resolution: :data:`DECODERS`; docs/adain.md
  gives the per-layer profile it was chosen from).

Inputs (declared in :attr:`AdaINNetwork.inputs`): the photo, the style image (any size,
given at run time) and ``strength`` (1: the full AdaIN target; 0: the content features,
decoded). In Python, ``style`` may also be a list of images blended by ``style_weights``
or, where ``regions`` (K x 1 x H x W masks) say, one per region.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from styx.core.config import Config, option
from styx.core.errors import StyxError
from styx.core.inputs import content_image, setting, style_image
from styx.generators.blocks import InstanceNorm, Pad
from styx.generators.generator import Generator, no_image_given, one_style
from styx.generators.variants import FAST, PAPER, variant_option
from styx.perceptual.descriptor import Descriptor, build_descriptor
from styx.plugins.methods.adain.config import FAST_DESCRIPTION, variant_layer

#: The smallest style side the encoder is given (smaller paintings are enlarged).
EPSILON = 1e-5


@dataclass(frozen=True)
class DecoderShape:
    """How a variant's decoder narrows: ``first``, the divisor of the encoder's channels
    at the first convolution (2 after it); ``minimum``, the narrowest width;
    ``convs_per_level``, convolutions at each resolution; ``padding``, reflect or zero."""

    first: int
    minimum: int
    convs_per_level: int
    padding: str = "reflect"


#: Each variant's decoder (docs/adain.md, "The fast variant", gives the measurements).
#: Saved models name their variant, so a variant's shape never changes: a new shape is a
#: new variant.
DECODERS = {PAPER: DecoderShape(first=2, minimum=64, convs_per_level=2),
            FAST: DecoderShape(first=4, minimum=32, convs_per_level=1, padding="zero")}


@dataclass(kw_only=True)
class AdaINArchitecture(Config):
    """Everything that fixes the network's shape (a model's ``architecture``). A model
    saved before variants existed has no ``variant`` and is the paper's network."""

    descriptor: str = option("vgg19", help="The encoder's descriptor.")
    layer: str | None = option(None, help="The encoder's last layer (AdaIN happens there); "
                                          "default: the variant's (see variant_layer).")
    descriptor_options: dict[str, Any] = option(default_factory=dict,
                                                help="The descriptor's own options.")
    convs_per_level: int | None = option(None, help="Decoder convolutions at each "
                                                    "resolution; default: the variant's.")
    variant: str = variant_option(FAST_DESCRIPTION)

    def decoder_shape(self) -> DecoderShape:
        """The variant's decoder, with ``convs_per_level`` where it is given."""
        shape = DECODERS[self.variant]
        if self.convs_per_level is None:
            return shape
        return replace(shape, convs_per_level=int(self.convs_per_level))


class AdaINNetwork(Generator):
    """Encoder, AdaIN, decoder (see the module docstring)."""

    inputs = (content_image(), style_image(),
              setting("strength", 1.0, help="How much style: 1 the full AdaIN target, 0 "
                                            "the photo as the decoder rebuilds it."))
    config_class = AdaINArchitecture

    def __init__(self, config: AdaINArchitecture | None = None, *,
                 weights: str = "empty", seed: int = 0) -> None:
        super().__init__()
        config = config or AdaINArchitecture()
        # The layer recorded, not left to the variant's default: a saved model keeps it.
        self.config = config = replace(config, layer=config.layer or variant_layer(
            config.variant, config.descriptor))
        self.encoder: Descriptor = build_descriptor(
            config.descriptor, weights, seed=seed, layers=[config.layer],
            **config.descriptor_options)
        self.layer = self.encoder.resolve_layer(config.layer)
        channels, self.stride = _shape_at(self.encoder, self.layer)
        self.norm = InstanceNorm(channels)
        self.norm.requires_grad_(False)  # a plain normalisation: weight 1, bias 0
        self.decoder = _mirror(channels, self.stride, config.decoder_shape())
        self._style_cache: tuple[torch.Tensor, int, tuple[torch.Tensor, torch.Tensor]] | None \
            = None

    @classmethod
    def from_architecture(cls, architecture: Any) -> AdaINNetwork:
        return cls(AdaINArchitecture.from_options(dict(architecture)))

    def train(self, mode: bool = True) -> AdaINNetwork:
        super().train(mode)
        self.encoder.train(False)  # frozen: batch-norm statistics never move
        return self

    # -- the parts -------------------------------------------------------------------------
    def encode(self, image: torch.Tensor, layers: list[str] | None = None
               ) -> dict[str, torch.Tensor]:
        """The encoder's features of ``image`` at ``layers`` (default: the AdaIN layer)."""
        return self.encoder(image, layers or [self.layer])

    def style_statistics(self, style: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The per-channel mean and standard deviation (1 x C x 1 x 1 each) of ``style``'s
        features, in float32; a painting given again (the tiles of one photo) is encoded
        once."""
        cached = self._style_cache
        if cached is not None and cached[0] is style and cached[1] == style._version and \
                not torch.is_grad_enabled():
            return cached[2]
        features = self.encode(style)[self.layer].float()
        statistics = mean_std(features)
        if not torch.is_grad_enabled() and not torch.jit.is_tracing():
            self._style_cache = (style, style._version, statistics)
        return statistics

    def adain(self, content: torch.Tensor, statistics: tuple[torch.Tensor, torch.Tensor]
              ) -> torch.Tensor:
        """Content features normalised, then given the style's mean and deviation."""
        mean, std = statistics
        return self.norm(content.float()) * std + mean

    def target(self, content: torch.Tensor, style: Any, *, strength: Any = 1.0,
               style_weights: Any = None, regions: torch.Tensor | None = None) -> torch.Tensor:
        """The AdaIN target of ``content``'s features (N x C x h x w): for one style or
        several, blended by ``style_weights`` or by ``regions`` (K x 1 x H x W masks;
        where no mask covers, the content features), moved towards the content features
        by ``1 - strength``."""
        styles = list(style) if isinstance(style, (list, tuple)) else [style]
        targets = [self.adain(content, self.style_statistics(one)) for one in styles]
        if regions is not None:
            masks = F.interpolate(regions.float().to(content.device), size=content.shape[-2:],
                                  mode="bilinear", align_corners=False).transpose(0, 1)
            total = masks.sum(1, keepdim=True).clamp(max=1.0)
            masks = masks / masks.sum(1, keepdim=True).clamp(min=1.0)
            mixed = sum(masks[:, k:k + 1] * target for k, target in enumerate(targets))
            mixed = mixed + (1 - total) * content.float()
        elif len(targets) > 1:
            weights = torch.as_tensor(style_weights if style_weights is not None else
                                      [1.0] * len(targets), dtype=torch.float32)
            weights = weights / weights.sum()
            mixed = sum(w * target for w, target in zip(weights.tolist(), targets))
        else:
            mixed = targets[0]
        strength = torch.as_tensor(strength, dtype=torch.float32,
                                   device=content.device).reshape(-1, 1, 1, 1)
        return content.float() + strength * (mixed - content.float())

    def decode(self, features: torch.Tensor) -> torch.Tensor:
        return self.decoder(features)

    # -- the Generator interface -----------------------------------------------------------
    def forward(self, image: torch.Tensor, style: Any, strength: Any = 1.0, *,
                style_weights: Any = None, regions: torch.Tensor | None = None,
                target: torch.Tensor | None = None) -> torch.Tensor:
        """The photo in the style; ``target``: decode these features instead (training
        computes the target itself, with the style features it needs anyway)."""
        height, width = image.shape[-2], image.shape[-1]
        if target is None:
            # Reflect-padded to a multiple of the encoder's reduction, so any size comes
            # back whole (the decoder doubles what the encoder halved).
            padded = F.pad(image, (0, (-width) % self.stride, 0, (-height) % self.stride),
                           mode="reflect")
            target = self.target(self.encode(padded)[self.layer], style, strength=strength,
                                 style_weights=style_weights, regions=regions)
        return self.decode(target.to(image.dtype))[..., :height, :width]

    def make_inputs(self, image: torch.Tensor | None, *, size: tuple[int, int] | None = None,
                    batch: int = 1, generator: torch.Generator | None = None,
                    origin: tuple[int, int] | None = None, style: Any = None,
                    strength: Any = None, style_weights: Any = None,
                    regions: torch.Tensor | None = None) -> dict[str, Any]:
        """The photo, the style image(s) and the strength; ``style_weights`` and
        ``regions`` for several styles (see :meth:`target`). Nothing is random."""
        if image is None:
            raise no_image_given()
        device = image.device
        item = self.style_inputs[0]
        if isinstance(style, (list, tuple)) and len(style) > 1:
            styles: Any = [one_style(one, item, device) for one in style]
        else:
            styles = one_style(style, item, device)
        count = len(styles) if isinstance(styles, list) else 1
        if style_weights is not None and len(list(style_weights)) != count:
            raise StyxError(f"{len(list(style_weights))} style weights for {count} style "
                            "image(s)", "give one weight per style image")
        if regions is not None and regions.shape[0] != count:
            raise StyxError(f"{regions.shape[0]} region masks for {count} style image(s)",
                            "give one mask per style image")
        inputs: dict[str, Any] = {
            "image": image, "style": styles,
            "strength": torch.tensor([1.0 if strength is None else float(strength)],
                                     device=device)}
        if style_weights is not None:
            inputs["style_weights"] = list(style_weights)
        if regions is not None:
            inputs["regions"] = regions
        return inputs


def mean_std(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image, per-channel mean and standard deviation (N x C x 1 x 1 each)."""
    mean = features.mean(dim=(2, 3), keepdim=True)
    variance = (features - mean).square().mean(dim=(2, 3), keepdim=True)
    return mean, torch.sqrt(variance + EPSILON)


def _shape_at(encoder: Descriptor, layer: str) -> tuple[int, int]:
    """The channels of ``layer`` and how many times smaller than the image it is (a power
    of two), from one small image."""
    with torch.no_grad():
        size = max(64, encoder.min_size)
        features = encoder(torch.zeros(1, 3, size, size), [layer])[layer]
    stride = size / features.shape[-1]
    if stride < 1 or 2 ** round(math.log2(stride)) != stride:
        raise StyxError(f"layer {layer!r} of {encoder.name!r} is not a power-of-two "
                        f"reduction of the image ({stride:g})", "choose another --layer")
    return int(features.shape[1]), int(stride)


def _mirror(channels: int, stride: int, shape: DecoderShape) -> nn.Sequential:
    """The decoder: per halving, a convolution narrowing the channels (by ``shape.first``
    after the encoder, by 2 after that; ``shape.minimum`` at least) and a nearest 2x
    upsampling, ``shape.convs_per_level - 1`` convolutions after it; then RGB."""
    layers: list[nn.Module] = []
    width, divisor = channels, shape.first
    for _ in range(int(math.log2(stride))):
        narrower = max(shape.minimum, width // divisor)
        layers += _conv(width, narrower, shape.padding) + \
            [nn.Upsample(scale_factor=2, mode="nearest")]
        width, divisor = narrower, 2
        for _ in range(shape.convs_per_level - 1):
            layers += _conv(width, width, shape.padding)
    return nn.Sequential(*layers, *_conv(width, 3, shape.padding)[:-1])


def _conv(inputs: int, outputs: int, padding: str) -> list[nn.Module]:
    """A 3x3 convolution and its ReLU; ``zero`` padding is the convolution's own (no pass
    of its own over the map), ``reflect`` a :class:`Pad` before it."""
    if padding == "zero":
        return [nn.Conv2d(inputs, outputs, 3, padding=1), nn.ReLU()]
    return [Pad(padding, 1), nn.Conv2d(inputs, outputs, 3), nn.ReLU()]
