"""VGG16 and VGG19 descriptors (plugin module: registers the specs, imports no torch).

Taps are named ``conv1_1, relu1_1, conv1_2, relu1_2, pool1, ..., pool5``. The Keras names of
the seed report are accepted too: ``block1_conv1`` is the output of Keras' first
convolution, which has its ReLU built in, so it means ``relu1_1``; ``block1_pool`` means
``pool1``.
"""

from __future__ import annotations

from dataclasses import dataclass

from styx.core.checks import choice
from styx.core.config import Config, option
from styx.core.hookspecs import hookimpl
from styx.core.specs import DescriptorSpec

#: Convolutions per block.
BLOCKS = {"vgg16": (2, 2, 3, 3, 3), "vgg19": (2, 2, 4, 4, 4)}

DEFAULTS = {
    # Gatys et al. (2016).
    "vgg19": (("relu4_2",), ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")),
    # Johnson et al. (2016), "Perceptual losses".
    "vgg16": (("relu2_2",), ("relu1_2", "relu2_2", "relu3_3", "relu4_3")),
}

SUMMARIES = {
    "vgg16": "VGG16 (torchvision, ImageNet), the perceptual-loss network of Johnson et al.",
    "vgg19": "VGG19 (torchvision, ImageNet), the descriptor of Gatys et al.",
}

#: The smallest image side that reaches pool5 (five 2x2 pools).
MIN_SIZE = 32

#: The pooling layers VGG can have.
POOLING = ("max", "avg")


@dataclass(kw_only=True)
class VGGOptions(Config):
    """Options of the VGG descriptors (``--descriptor-option pooling=avg``)."""

    pooling: str = option("max", check=choice(*POOLING, aliases={"average": "avg"}),
                          help="max or avg: VGG's max pools, or average pools as Gatys et "
                               "al. suggest.")


def layer_names(blocks: tuple[int, ...]) -> tuple[str, ...]:
    """``conv1_1, relu1_1, ..., pool1, conv2_1, ...`` for convolutions per block ``blocks``."""
    names: list[str] = []
    for block, convs in enumerate(blocks, start=1):
        for i in range(1, convs + 1):
            names += [f"conv{block}_{i}", f"relu{block}_{i}"]
        names.append(f"pool{block}")
    return tuple(names)


def keras_aliases(blocks: tuple[int, ...]) -> dict[str, str]:
    """Keras' ``block{b}_conv{i}`` -> ``relu{b}_{i}`` (Keras convs include the ReLU),
    ``block{b}_pool`` -> ``pool{b}``."""
    aliases: dict[str, str] = {}
    for block, convs in enumerate(blocks, start=1):
        for i in range(1, convs + 1):
            aliases[f"block{block}_conv{i}"] = f"relu{block}_{i}"
        aliases[f"block{block}_pool"] = f"pool{block}"
    return aliases


def spec(name: str) -> DescriptorSpec:
    content, style = DEFAULTS[name]
    return DescriptorSpec(
        name=name,
        summary=SUMMARIES[name],
        factory=f"styx.plugins.descriptors.vgg_net:{name}",
        layers=layer_names(BLOCKS[name]),
        layer_aliases=keras_aliases(BLOCKS[name]),
        default_content_layers=content,
        default_style_layers=style,
        config="styx.plugins.descriptors.vgg:VGGOptions",
        default=name == "vgg19",  # the seed report's, and every method's unless it says
    )


@hookimpl
def register_descriptors(register) -> None:
    for name in BLOCKS:
        register(spec(name))
