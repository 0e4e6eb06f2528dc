"""Building VGG16/VGG19 descriptors from torchvision's networks (imports torch)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import torchvision
from torch import nn

from styx.core.errors import StyxError
from styx.perceptual.descriptor import Descriptor
from styx.perceptual.weights import WeightsInfo, declares_weights, descriptor_from_network
from styx.plugins.descriptors.vgg import BLOCKS, MIN_SIZE, POOLING, layer_names
from styx.plugins.descriptors.vgg import spec as vgg_spec


def _info(name: str) -> WeightsInfo:
    return WeightsInfo(
        imagenet=f"torchvision.models:{name.upper()}_Weights.IMAGENET1K_V1",
        network=lambda: getattr(torchvision.models, name)(weights=None),
        unused_prefixes=("classifier.",),
    )


def stages(features: nn.Sequential, name: str, pooling: str) -> list[tuple[str, nn.Module]]:
    """torchvision's ``features`` as named stages: ReLUs out of place, pools as chosen."""
    names = layer_names(BLOCKS[name])
    modules = list(features)
    if len(modules) != len(names):
        raise RuntimeError(f"torchvision's {name} has {len(modules)} feature modules, "
                           f"expected {len(names)}")
    named: list[tuple[str, nn.Module]] = []
    for stage_name, module in zip(names, modules):
        if isinstance(module, nn.ReLU):
            module = nn.ReLU(inplace=False)  # its input is a tap
        elif isinstance(module, nn.MaxPool2d) and pooling == "avg":
            module = nn.AvgPool2d(kernel_size=2, stride=2)
        named.append((stage_name, module))
    return named


def build(name: str, weights: str | os.PathLike[str] = "imagenet", *, seed: int = 0,
          pooling: str = "max", layers: Sequence[str] | None = None) -> Descriptor:
    pooling = str(pooling).lower()
    if pooling not in POOLING:
        raise StyxError(f"bad pooling {pooling!r} for descriptor {name!r}",
                        "choose pooling=max or pooling=avg")
    return descriptor_from_network(
        vgg_spec(name), _info(name), lambda network: stages(network.features, name, pooling),
        weights, seed=seed, layers=layers, min_size=MIN_SIZE)


@declares_weights(_info("vgg16"))
def vgg16(weights: str | os.PathLike[str] = "imagenet", *, seed: int = 0,
          pooling: str = "max", layers: Sequence[str] | None = None) -> Descriptor:
    """VGG16 with torchvision's ImageNet weights (``weights="imagenet"``), a file, or random."""
    return build("vgg16", weights, seed=seed, pooling=pooling, layers=layers)


@declares_weights(_info("vgg19"))
def vgg19(weights: str | os.PathLike[str] = "imagenet", *, seed: int = 0,
          pooling: str = "max", layers: Sequence[str] | None = None) -> Descriptor:
    """VGG19 with torchvision's ImageNet weights (``weights="imagenet"``), a file, or random."""
    return build("vgg19", weights, seed=seed, pooling=pooling, layers=layers)
