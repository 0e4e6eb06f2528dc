"""The ResNet-50 descriptor (plugin module: registers the spec, imports no torch).

Taps use torchvision's module paths: ``conv1, bn1, relu, maxpool``, then one tap per
bottleneck block ``layer1.0 ... layer4.2``, and ``layer1 ... layer4`` for the output of each
stage (the same tensor as its last block).
"""

from __future__ import annotations

from styx.core.hookspecs import hookimpl
from styx.core.specs import DescriptorSpec

#: Bottleneck blocks per stage.
BLOCKS = (3, 4, 6, 3)
STEM = ("conv1", "bn1", "relu", "maxpool")


def stage_names() -> tuple[str, ...]:
    """The stages a forward pass runs through, in order."""
    return STEM + tuple(f"layer{s}.{b}" for s, n in enumerate(BLOCKS, start=1) for b in range(n))


def extra_taps() -> dict[str, str]:
    """``layer1`` -> ``layer1.2`` etc.: a stage's output is its last block's."""
    return {f"layer{s}": f"layer{s}.{n - 1}" for s, n in enumerate(BLOCKS, start=1)}


def layer_names() -> tuple[str, ...]:
    """Every tap in forward order, each ``layerN`` right after its last block."""
    by_stage = {stage: tap for tap, stage in extra_taps().items()}
    return tuple(name for stage in stage_names() for name in (stage, by_stage.get(stage)) if name)


#: Content at 1/8 resolution like VGG19's relu4_2; style at every resolution, like Gatys.
DEFAULT_CONTENT = ("layer2",)
DEFAULT_STYLE = ("relu", "layer1", "layer2", "layer3", "layer4")


def spec() -> DescriptorSpec:
    return DescriptorSpec(
        name="resnet50",
        summary="ResNet-50 (torchvision, ImageNet); taps named by module path",
        aliases=("resnet",),
        factory="styx.plugins.descriptors.resnet_net:resnet50",
        layers=layer_names(),
        default_content_layers=DEFAULT_CONTENT,
        default_style_layers=DEFAULT_STYLE,
    )


@hookimpl
def register_descriptors(register) -> None:
    register(spec())
