"""Building the ResNet-50 descriptor from torchvision's network (imports torch)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import torchvision
from torch import nn

from styx.perceptual.descriptor import Descriptor
from styx.perceptual.weights import WeightsInfo, declares_weights, descriptor_from_network
from styx.plugins.descriptors.resnet import BLOCKS, extra_taps
from styx.plugins.descriptors.resnet import spec as resnet_spec

INFO = WeightsInfo(
    imagenet="torchvision.models:ResNet50_Weights.IMAGENET1K_V1",
    network=lambda: torchvision.models.resnet50(weights=None),
    unused_prefixes=("fc.",),
)


def stages(network: torchvision.models.ResNet) -> list[tuple[str, nn.Module]]:
    """The stem modules and every bottleneck block as named stages."""
    named: list[tuple[str, nn.Module]] = [
        ("conv1", network.conv1), ("bn1", network.bn1),
        ("relu", nn.ReLU(inplace=False)),  # torchvision's is in place; its input is a tap
        ("maxpool", network.maxpool),
    ]
    for s, count in enumerate(BLOCKS, start=1):
        layer = getattr(network, f"layer{s}")
        if len(layer) != count:
            raise RuntimeError(f"torchvision's resnet50 layer{s} has {len(layer)} blocks")
        named += [(f"layer{s}.{b}", block) for b, block in enumerate(layer)]
    return named


@declares_weights(INFO)
def resnet50(weights: str | os.PathLike[str] = "imagenet", *, seed: int = 0,
             layers: Sequence[str] | None = None) -> Descriptor:
    """ResNet-50 with torchvision's ImageNet (V1) weights, a weights file, or random weights."""
    return descriptor_from_network(resnet_spec(), INFO, stages, weights, seed=seed,
                                   layers=layers, extra_taps=extra_taps())
