"""The options of AdaIN, declared once (no torch here).

* :class:`AdaINTrainConfig`: ``styx train adain`` / ``styx.train``: content photos, a
  folder of paintings, the encoder and the loss.
* :class:`AdaINRunConfig`: ``styx run adain`` / ``styx.stylize``: strength, several styles
  with weights, regions; the painting itself is the ``--style-image`` that the network's
  declared style input brings.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from styx.core.bundles import (
    LOSS,
    TRAINING,
    DescriptorOptions,
    ModelOutputOptions,
    ModelRunOptions,
    TrainingOptions,
)
from styx.core.checks import existing_path, number, numbers, optional, text
from styx.core.config import option
from styx.core.errors import StyxError
from styx.core.plugins import descriptors
from styx.files.regions import parse_regions
from styx.generators.variants import FAST, PAPER, variant_option

STYLES = "Styles"
#: The paper's encoder layer, and its style layers (each relu up to it).
PAPER_LAYER = "relu4_1"
PAPER_STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
#: Each variant's encoder layer (docs/adain.md, "The fast variant").
VARIANT_LAYERS = {PAPER: PAPER_LAYER, FAST: "relu3_1"}
FAST_DESCRIPTION = "the encoder to relu3_1, one narrow decoder convolution per resolution"


def variant_layer(variant: str, descriptor: str) -> str:
    """The encoder layer of ``variant`` on ``descriptor``: the variant's VGG layer where the
    descriptor has it, else the descriptor's deepest default content layer."""
    spec = descriptors().get(descriptor)
    layer = VARIANT_LAYERS[variant]
    if layer in [*spec.layers, *spec.layer_aliases]:
        return layer
    if not spec.default_content_layers:
        raise StyxError(f"descriptor {spec.name!r} has no default content layer",
                        f"give --layer (see 'styx list layers {spec.name}')")
    return list(spec.default_content_layers)[-1]


def _names(value: Any, label: str) -> list[str] | None:
    if value is None:
        return None
    items = value.split(",") if isinstance(value, str) else list(value)
    names = [str(item).strip() for item in items if str(item).strip()]
    if not names:
        raise StyxError(f"bad {label} {value!r}", "give layer names, e.g. relu1_1,relu2_1")
    return names


@dataclass(kw_only=True)
class AdaINTrainConfig(DescriptorOptions, TrainingOptions, ModelOutputOptions):
    """Training one decoder for every style: content crops and painting crops, two streams.

    The loss is the paper's: the content loss between the output's features and the AdaIN
    target at the encoder layer, and a mean/std style loss over the style layers.
    """

    label = "adain training"

    content_dir: Path = option(check=existing_path("folder"),
                               help="Folder of content photos, searched recursively.")
    style_dir: Path = option(check=existing_path("folder"), panel=STYLES,
                             help="Folder of paintings, searched recursively (WikiArt's tens "
                                  "of thousands, or a handful).")
    style_short_side: int | None = option(
        None, panel=STYLES, check=number(minimum=8, integer=True, optional=True),
        default_text="keep each painting's own resolution",
        help="Resize every painting to this shorter side before cropping (the paper: 512).")
    variant: str = variant_option(FAST_DESCRIPTION)
    layer: str | None = option(None, panel=LOSS, check=optional(text()),
                               default_text="relu4_1 (fast: relu3_1), or the descriptor's "
                                            "content layer",
                               help="The encoder's last layer, where AdaIN happens.")
    style_layers: list[str] | None = option(
        None, panel=LOSS, cli_type=str, check=_names,
        default_text="the descriptor's style layers up to --layer",
        help="Layers of the mean/std style loss, e.g. relu1_1,relu2_1,relu3_1,relu4_1.")
    content_weight: float = option(1.0, panel=LOSS, check=number(minimum=0),
                                   help="Weight of the content loss.")
    style_weight: float = option(10.0, panel=LOSS, check=number(minimum=0),
                                 help="Weight of the style loss (the paper's lambda).")
    content_loss: str = option("content", panel=LOSS, check=text(),
                               help="Registered feature loss against the AdaIN target.")
    style_loss: str = option("mean-std", panel=LOSS, check=text(),
                             help="Registered feature loss against the paintings' features.")
    lr: float = option(1e-4, panel=TRAINING, check=number(above=0),
                       help="Learning rate of Adam.")
    lr_decay: float = option(1.0, panel=TRAINING, check=number(above=0, maximum=1),
                             help="Multiply the learning rate by this ...")

    def check(self) -> None:
        super().check()
        spec = descriptors().get(self.descriptor)
        listed = [*spec.layers, *spec.layer_aliases]
        if self.layer is None:
            self.layer = variant_layer(self.variant, self.descriptor)
        if self.style_layers is None:
            order = list(spec.layers)
            deepest = order.index(spec.layer_aliases.get(self.layer, self.layer)) \
                if spec.layer_aliases.get(self.layer, self.layer) in order else len(order)
            defaults = PAPER_STYLE_LAYERS if set(PAPER_STYLE_LAYERS) <= set(listed) else \
                spec.default_style_layers
            self.style_layers = [name for name in defaults if name in order and
                                 order.index(name) <= deepest] or [self.layer]
        if self.content_weight == 0 and self.style_weight == 0:
            raise StyxError("the content and style weights are both 0",
                            "give one of them a positive weight")

    def default_model_name(self) -> str:
        return "adain"

    def architecture(self) -> dict[str, Any]:
        """The network's architecture (:class:`~.network.AdaINArchitecture` as a dict)."""
        return {"descriptor": self.descriptor, "layer": self.layer,
                "descriptor_options": dict(self.descriptor_options), "variant": self.variant}


@dataclass(kw_only=True)
class AdaINRunConfig(ModelRunOptions):
    """Running an AdaIN model: any painting, given at run time."""

    label = "adain"

    strength: float = option(1.0, check=number(minimum=0, maximum=1), panel=STYLES,
                             help="How much style: 1 full, 0 the photo as the decoder "
                                  "rebuilds it; in between blends the features (the paper's "
                                  "alpha).")
    style_size: int | None = option(
        512, panel=STYLES, check=number(minimum=16, integer=True, optional=True),
        help="Resize each painting to this long side first.")
    style_weights: tuple[float, ...] | None = option(
        None, panel=STYLES, cli_type=str, metavar="W,W,...",
        check=numbers(minimum=0, optional=True),
        help="Blend several --style-image paintings, e.g. 0.7,0.3 (relative weights; "
             "default: equal).")
    region: list[tuple[Any, str]] = option(
        default_factory=list, cli_type=list[str], check=parse_regions, metavar="MASK:STYLE",
        panel=STYLES,
        help="A painting for the white (or opaque) part of a mask, e.g. sky.png:0 (STYLE: "
             "the index or file name of a --style-image; repeatable; where no mask covers, "
             "the photo is rebuilt unstylised).")

    def check(self) -> None:
        super().check()
        if self.style_weights is not None and self.region:
            raise StyxError("give --style-weights or --region, not both",
                            "weights blend the paintings everywhere; regions place them")
        if self.style_weights is not None and sum(self.style_weights) <= 0:
            raise StyxError("the style weights sum to 0", "give at least one positive weight")

    def check_inputs(self, *, contents: int, styles: int) -> None:
        super().check_inputs(contents=contents, styles=styles)
        if styles == 0:
            raise StyxError("no style image given", "give a painting: --style-image "
                            "PAINTING (style=PAINTING in the library)")
        if self.style_weights is not None and len(self.style_weights) != styles:
            raise StyxError(f"{len(self.style_weights)} --style-weights for {styles} "
                            "style image(s)", "give one weight per --style-image")
