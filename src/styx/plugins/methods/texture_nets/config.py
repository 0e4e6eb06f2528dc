"""The options of texture-nets, declared once (no torch here).

* :class:`GeneratorOptions`: the generator's shape, as ``styx train`` offers it;
  :class:`GeneratorConfig` adds what the command line does not set, and is what a model's
  metadata stores as its ``architecture``.
* :class:`TextureNetsTrainConfig`: ``styx train texture-nets`` / ``styx.train``.
* :class:`TextureNetsRunConfig`: ``styx run texture-nets`` / ``styx.stylize``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from styx.core.bundles import (
    GENERATOR,
    LOSS,
    ConvGeneratorOptions,
    LossOptions,
    ModelOutputOptions,
    ModelRunOptions,
    TrainingOptions,
)
from styx.core.checks import existing_path, image_size, number, optional
from styx.core.config import option
from styx.core.errors import StyxError
from styx.files.modelstore import name_from_file
from styx.generators.variants import variant_option


@dataclass(kw_only=True)
class GeneratorOptions(ConvGeneratorOptions):
    """The generator's shape: the options ``styx train texture-nets`` offers (padding and
    normalisation as every generator offers them, circular padding by default)."""

    scales: int = option(6, panel=GENERATOR, check=number(minimum=1, maximum=12, integer=True),
                         help="Scales K of the noise pyramid (1-12).")
    channels: int = option(8, panel=GENERATOR, check=number(minimum=1, integer=True),
                           help="Channels per scale.")
    noise_channels: int = option(3, panel=GENERATOR, check=number(minimum=0, integer=True),
                                 help="Noise channels per scale (0: none).")
    variant: str = variant_option("16-channel joins of two convolutions at full and half "
                                  "size: 7x fewer multiply-adds")


def _content_channels(value: Any, label: str) -> int:
    channels = number(integer=True)(value, label)
    if channels not in (0, 3):
        raise StyxError(f"bad content channels {value!r}", "3 (stylisation) or 0 (texture "
                        "synthesis)")
    return channels


@dataclass(kw_only=True)
class GeneratorConfig(GeneratorOptions):
    """Everything that fixes the generator's shape (a model's ``architecture``)."""

    content_channels: int = option(3, cli=False, check=_content_channels,
                                   help="3 (stylisation) or 0 (texture synthesis).")
    leaky_slope: float = option(0.01, cli=False, check=number(minimum=0),
                                help="Negative slope of the LeakyReLUs.")

    def check(self) -> None:
        super().check()
        if self.content_channels == 0 and self.noise_channels == 0:
            raise StyxError("a texture generator needs noise channels",
                            "give --noise-channels 1 or more")

    @property
    def noise_depth(self) -> int:
        """Channels of the ``noise`` input: ``noise_channels`` for each scale."""
        return self.noise_channels * self.scales



@dataclass(kw_only=True)
class TextureNetsTrainConfig(GeneratorOptions, LossOptions, TrainingOptions, ModelOutputOptions):
    """Training a texture network for one style.

    The default weights follow Johnson et al.'s per-element ratio for the 'elements' Gram
    normalisation (style 1e5 : content 1); a small TV weight suits feed-forward training.
    """

    label = "texture-nets training"

    style: Path = option(check=existing_path("file"), help="The style image.")
    content_dir: Path | None = option(
        None, check=existing_path("folder", optional=True), help="Folder of content photos, searched recursively (unreadable files are "
                   "skipped and counted). Not needed with --texture.")
    texture: bool = option(False, help="Train a texture generator: noise in, the style's "
                                       "texture out (no content loss).")
    style_size: int | None = option(
        None, panel=LOSS, check=number(minimum=8, integer=True, optional=True),
        default_text="--image-size", help="Long side of the style image in pixels.")
    content_weight: float = 1.0
    style_weight: float = 1e5
    tv_weight: float = 1e-3

    def check(self) -> None:
        super().check()
        if self.content_dir is None and not self.texture:
            raise StyxError("missing --content-dir", "give a folder of content photos "
                            "(or --texture to train a texture generator)")
        if self.content_dir is not None and self.texture:
            raise StyxError("--texture trains without content photos: leave out --content-dir",
                            "a texture generator learns the style image's texture alone")
        self.generator_config()  # a shape no generator can have fails now

    def default_model_name(self) -> str:
        return name_from_file(self.style, fallback="texture-net")

    def generator_config(self) -> GeneratorConfig:
        shape = {f.name: getattr(self, f.name) for f in fields(GeneratorOptions)}
        return GeneratorConfig(**shape, content_channels=0 if self.texture else 3)


#: The size (height, width) of a texture when ``--size`` is not given.
TEXTURE_SIZE = (512, 512)


@dataclass(kw_only=True)
class TextureNetsRunConfig(ModelRunOptions):
    """Running a texture network: stylise photos, or synthesise a texture."""

    label = "texture-nets"

    texture: bool = option(False, help="Synthesise a texture instead of stylising a photo.")
    size: tuple[int, int] | None = option(None, cli_type=str, check=optional(image_size),
                                          default_text="512x512",
                                          help="Texture size WIDTHxHEIGHT (with --texture; "
                                               "a photo keeps its size).")

    def check_inputs(self, *, contents: int, styles: int) -> None:
        if self.texture:
            if contents:
                raise StyxError("--texture takes no content images",
                                "styx run texture-nets --model M --texture --size WxH -o OUT")
            return
        if contents == 0:
            raise StyxError("no content image given",
                            "styx run texture-nets --model M IMAGE -o OUT, or --texture")
