"""The Inception v3 descriptor (plugin module: registers the spec, imports no torch).

Taps use torchvision's module names: ``Conv2d_1a_3x3 ... maxpool2``, ``Mixed_5b ... Mixed_7c``.
Images must be at least 75 px on each side (the stride-2 valid convolutions and pools
leave nothing of anything smaller by ``Mixed_7a``).
"""

from __future__ import annotations

from styx.core.hookspecs import hookimpl
from styx.core.specs import DescriptorSpec

LAYERS = (
    "Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1",
    "Conv2d_3b_1x1", "Conv2d_4a_3x3", "maxpool2",
    "Mixed_5b", "Mixed_5c", "Mixed_5d",
    "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e",
    "Mixed_7a", "Mixed_7b", "Mixed_7c",
)

#: The smallest image side every tap works at.
MIN_SIZE = 75

#: Content at 1/8 resolution like VGG19's relu4_2; style from 1/2 to 1/32 resolution.
DEFAULT_CONTENT = ("Mixed_5d",)
DEFAULT_STYLE = ("Conv2d_2b_3x3", "Conv2d_4a_3x3", "Mixed_5b", "Mixed_6b", "Mixed_7b")


def spec() -> DescriptorSpec:
    return DescriptorSpec(
        name="inception_v3",
        summary="Inception v3 (torchvision, ImageNet); images of 75 px or more",
        aliases=("inception",),
        factory="styx.plugins.descriptors.inception_net:inception_v3",
        layers=LAYERS,
        default_content_layers=DEFAULT_CONTENT,
        default_style_layers=DEFAULT_STYLE,
    )


@hookimpl
def register_descriptors(register) -> None:
    register(spec())
