"""Building the Inception v3 descriptor from torchvision's network (imports torch).

torchvision's ImageNet weights for Inception v3 are Google's, trained on images scaled to
[-1, 1]: ``Inception3._transform_input`` turns an ImageNet-normalised image back into
``(x - 0.5) / 0.5``. The descriptor therefore normalises a [0, 1] image with mean 0.5 and
std 0.5 and skips ``_transform_input``: the same numbers reach ``Conv2d_1a_3x3``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torchvision
from torch import nn

from styx.perceptual.descriptor import Descriptor
from styx.perceptual.weights import WeightsInfo, declares_weights, descriptor_from_network
from styx.plugins.descriptors.inception import LAYERS, MIN_SIZE
from styx.plugins.descriptors.inception import spec as inception_spec

#: What torchvision's Inception v3 weights expect of a [0, 1] image: (x - 0.5) / 0.5.
MEAN = (0.5, 0.5, 0.5)
STD = (0.5, 0.5, 0.5)

INFO = WeightsInfo(
    imagenet="torchvision.models:Inception_V3_Weights.IMAGENET1K_V1",
    # aux_logits=True: torchvision's weights file holds the auxiliary classifier too.
    network=lambda: torchvision.models.inception_v3(weights=None, aux_logits=True,
                                                    init_weights=False),
    unused_prefixes=("fc.", "AuxLogits."),
)


def stages(network: torchvision.models.Inception3) -> list[tuple[str, nn.Module]]:
    """torchvision's Inception v3 modules in forward order, by their own names."""
    return [(name, getattr(network, name)) for name in LAYERS]


@declares_weights(INFO)
def inception_v3(weights: str | os.PathLike[str] = "imagenet", *, seed: int = 0,
                 layers: Sequence[str] | None = None) -> Descriptor:
    """Inception v3 with torchvision's ImageNet weights, a weights file, or random weights."""
    return descriptor_from_network(inception_spec(), INFO, stages, weights, seed=seed,
                                   layers=layers, mean=MEAN, std=STD, min_size=MIN_SIZE)
