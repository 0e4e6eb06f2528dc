"""The options of StyleBank, declared once (no torch here).

* :class:`NetworkOptions`: the network's shape, as ``styx train stylebank`` offers it;
  :class:`NetworkConfig` adds the number of styles, and is what a model's metadata stores
  as its ``architecture``.
* :class:`StyleBankTrainConfig`: ``styx train stylebank`` / ``styx.train``, new models and
  new styles for a trained one (``--from MODEL --add-style C.jpg``).
* :class:`StyleBankRunConfig`: ``styx run stylebank`` / ``styx.stylize``: which style, a
  linear fusion of styles, a style per mask region, or the auto-encoder alone.
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
from styx.core.checks import each, existing_path, number, optional, text
from styx.core.config import option
from styx.core.errors import StyxError
from styx.files.modelstore import name_from_file
from styx.files.regions import parse_regions
from styx.generators.variants import FAST, variant_option
from styx.plugins.methods.stylebank.styles import parse_style_mix

STYLES = "Styles"


@dataclass(kw_only=True)
class NetworkOptions(ConvGeneratorOptions):
    """The network's shape: the options ``styx train stylebank`` offers (reflection
    padding by default, as in the paper's reference code)."""

    padding: str = "reflect"
    width: int = option(32, panel=GENERATOR, check=number(minimum=1, integer=True),
                        help="Channels of the encoder's first layer; its next two layers "
                             "have 2x and 4x, and each style's filter bank works on 4x "
                             "(fast: 1/4x, 1/2x and 2x, the bank on 2x).")
    variant: str = variant_option("3x3 end kernels, 8 channels at full resolution, "
                                  "10x fewer operations")


@dataclass(kw_only=True)
class NetworkConfig(NetworkOptions):
    """Everything that fixes the network's shape (a model's ``architecture``)."""

    num_styles: int = option(1, cli=False, check=number(minimum=1, integer=True),
                             help="Filter banks, one per style.")

    @property
    def feature_channels(self) -> int:
        """Channels of the encoder's output, which every filter bank maps to itself."""
        return self.encoder_layers[-1][1]

    @property
    def encoder_layers(self) -> tuple[tuple[int, int, int], ...]:
        """(kernel, channels, stride) of the encoder's three convolutions."""
        w = self.width
        if self.variant == FAST:
            return (3, _share(w, 4), 1), (3, _share(w, 2), 2), (3, 2 * w, 2)
        return (9, w, 1), (3, 2 * w, 2), (3, 4 * w, 2)

    @property
    def decoder_channels(self) -> tuple[int, int]:
        """Channels of the decoder's two 3x3 convolutions, at 1/2 and full size: the
        encoder's, mirrored."""
        return self.encoder_layers[1][1], self.encoder_layers[0][1]

    @property
    def rgb_kernel(self) -> int:
        """Kernel of the last convolution, to RGB (the first's, mirrored)."""
        return self.encoder_layers[0][0]


def _share(width: int, divisor: int) -> int:
    """``width / divisor`` channels, at least one."""
    return max(1, width // divisor)


@dataclass(kw_only=True)
class StyleBankTrainConfig(NetworkOptions, LossOptions, TrainingOptions, ModelOutputOptions):
    """Training a StyleBank network: one filter bank per style, with the paper's T+1
    schedule; or, with ``from_model``, new banks for a trained network (nothing else moves).

    The loss weights follow the texture-nets defaults (Johnson et al.'s per-element ratio
    for the 'elements' Gram normalisation); the descriptor is VGG16, as in the paper.
    """

    label = "stylebank training"

    style: list[Path] = option(default_factory=list, panel=STYLES, metavar="PATH",
                               check=each(existing_path("file")),
                               help="A style image; repeat it for more styles (one filter "
                                    "bank each).")
    style_dir: Path | None = option(None, panel=STYLES,
                                    check=existing_path("folder", optional=True),
                                    help="A folder of style images (searched recursively), "
                                         "one bank each; adds to --style.")
    content_dir: Path = option(check=existing_path("folder"),
                               help="Folder of content photos, searched recursively "
                                    "(unreadable files are skipped and counted).")
    from_model: str | None = option(None, name="from", metavar="MODEL", panel=STYLES,
                                    check=optional(text()),
                                    help="Add styles to this trained StyleBank model: only "
                                         "the new banks train; the encoder, decoder and old "
                                         "banks stay bit for bit as they were.")
    add_style: list[Path] = option(default_factory=list, panel=STYLES, metavar="PATH",
                                   check=each(existing_path("file")),
                                   help="With --from: a style image to add (repeatable; "
                                        "--style-dir adds a folder).")
    style_size: int | None = option(
        None, panel=LOSS, check=number(minimum=8, integer=True, optional=True),
        default_text="--image-size", help="Long side of the style images in pixels.")
    style_steps: int = option(2, panel=STYLES, check=number(minimum=1, integer=True),
                              help="T of the paper's T+1 schedule: stylising steps before "
                                   "each auto-encoder step.")
    balance: float = option(1.0, panel=STYLES, check=number(above=0),
                            help="lambda of the paper: an auto-encoder step's gradient is "
                                 "rescaled to lambda x the norm of the last stylising "
                                 "step's (encoder and decoder).")
    descriptor: str = "vgg16"
    content_weight: float = 1.0
    style_weight: float = 1e5
    tv_weight: float = 1e-3

    def check(self) -> None:
        super().check()
        if self.from_model is None:
            if self.add_style:
                raise StyxError("--add-style adds styles to a trained model",
                                "give the model with --from MODEL, or the styles of a new "
                                "model with --style")
            if not self.style_paths():
                raise StyxError("no style image given",
                                "give --style A.jpg (repeatable) or --style-dir DIR")
        else:
            if self.style:
                raise StyxError("--style with --from",
                                "give the styles to add with --add-style (or --style-dir)")
            if not self.style_paths():
                raise StyxError("no style to add", "give --add-style C.jpg (repeatable) or "
                                "--style-dir DIR")

    def style_paths(self) -> list[Path]:
        """The style images to train, in order: ``--style`` (or ``--add-style``) then the
        ``--style-dir`` images, sorted, each file once."""
        from styx.files.image_arrays import find_images

        given = list(self.add_style if self.from_model is not None else self.style)
        if self.style_dir is not None:
            found = find_images(self.style_dir, recursive=True)
            if not found:
                raise StyxError(f"no images found in --style-dir {self.style_dir}",
                                "give a folder of style images (png, jpg, webp, bmp, tif)")
            given += found
        unique: dict[Path, Path] = {}  # each file once, however often or however named
        for path in given:
            unique.setdefault(path.resolve(), path)
        return list(unique.values())

    def default_model_name(self) -> str:
        names = [name_from_file(p, fallback="style") for p in self.style_paths()]
        joined = "+".join(names)
        if len(names) > 3 or len(joined) > 60:
            joined = f"{names[0]}+{len(names) - 1}"
        return ("stylebank-" + joined)[:100]

    def network_config(self, num_styles: int) -> NetworkConfig:
        shape = {f.name: getattr(self, f.name) for f in fields(NetworkOptions)}
        return NetworkConfig(**shape, num_styles=num_styles)


# -- running ---------------------------------------------------------------------------------
@dataclass(kw_only=True)
class StyleBankRunConfig(ModelRunOptions):
    """Running a StyleBank model: one style, a fusion of several, or the auto-encoder.

    Give at most one of ``style``, ``style_mix``, ``region`` (repeatable) and
    ``reconstruct``; with none, a model of one style uses it.
    """

    label = "stylebank"

    style: str | None = option(None, check=optional(text()), metavar="NAME|INDEX",
                               panel=STYLES,
                               help="The style: its name or index ('styx models show M' "
                                    "lists them) [default: the model's only style].")
    style_mix: dict[str, float] | None = option(
        None, cli_type=str, check=parse_style_mix, metavar="NAME:W,...", panel=STYLES,
        help="Linear fusion in feature space, e.g. starry:0.7,scream:0.3 (names or "
             "indices; the weights are relative).")
    region: list[tuple[Any, str]] = option(
        default_factory=list, cli_type=list[str], check=parse_regions, metavar="MASK:STYLE",
        panel=STYLES,
        help="A style for the white (or opaque) part of a mask image, e.g. sky.png:starry "
             "(repeatable; masks are stretched to the photo; where they overlap the styles "
             "blend, where none covers the photo is reconstructed unstylised).")
    strength: float = option(1.0, check=number(minimum=0, maximum=1), panel=STYLES,
                             help="How much style: 1 full, 0 none (the reconstruction); in "
                                  "between blends the features.")
    reconstruct: bool = option(False, panel=STYLES,
                               help="Run the auto-encoder branch alone (encoder and decoder, "
                                    "no bank): shows how well the model keeps a photo.")

    def check(self) -> None:
        super().check()
        chosen = [flag for flag, given in (("--style", self.style is not None),
                                           ("--style-mix", self.style_mix is not None),
                                           ("--region", bool(self.region)),
                                           ("--reconstruct", self.reconstruct)) if given]
        if len(chosen) > 1:
            raise StyxError(f"give one of {' and '.join(chosen)}",
                            "--style, --style-mix, --region and --reconstruct each choose "
                            "what the model applies")
        if self.reconstruct and self.strength != 1.0:
            raise StyxError("--strength with --reconstruct",
                            "--reconstruct applies no style; --strength 0 with a style is "
                            "the same image")
