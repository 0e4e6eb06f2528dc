"""The smallest image each descriptor takes at the layers used, found by a shape pass:
the real boundary (a real forward one pixel below it fails), per side, and the one-line
error that names the descriptor, the layer and the side it needs."""

from __future__ import annotations

import pytest
import torch

from styx.core.errors import StyxError
from styx.core.plugins import descriptors, reset_plugins
from styx.perceptual.descriptor import build_descriptor
from styx.perceptual.sizes import check_image_size, long_side_for, smallest_side
from styx.runtime.image_tensors import long_side_size

#: The smallest side of each built-in descriptor at its default layers, as docs/descriptors.md
#: tables it.
DEFAULT_MINIMUM = {"vgg16": 8, "vgg19": 16, "resnet50": 1, "inception_v3": 75}


@pytest.fixture(autouse=True)
def real_plugins():
    reset_plugins()
    yield
    reset_plugins()


def default_layers(name: str) -> list[str]:
    spec = descriptors().get(name)
    return [*spec.default_content_layers, *spec.default_style_layers]


def reaches(descriptor, layers, height: int, width: int) -> bool:
    """Whether a real forward pass of an ``height`` x ``width`` image gets to ``layers``."""
    try:
        with torch.no_grad():
            descriptor(torch.rand(1, 3, height, width), layers)
    except (StyxError, RuntimeError):
        return False
    return True


def test_vgg19_at_its_default_layers_needs_16_px_and_a_real_forward_agrees():
    layers = default_layers("vgg19")
    side = smallest_side("vgg19", layers)
    assert side == 16  # four 2x2 pools before relu5_1: 16 -> 1
    vgg19 = build_descriptor("vgg19", "random", layers=layers)
    assert vgg19.smallest_side(layers) == side  # the built one agrees with its name
    assert reaches(vgg19, layers, side, side)
    assert not reaches(vgg19, layers, side - 1, side - 1)
    # A shallower deepest layer needs less, a deeper one more.
    assert smallest_side("vgg19", ["relu4_2"]) == 8
    assert smallest_side("vgg19", ["block5_pool"]) == 32  # the Keras name of pool5
    assert smallest_side("vgg19", []) == 1


@pytest.mark.parametrize("name", sorted(DEFAULT_MINIMUM))
def test_each_side_alone_must_reach_the_deepest_layer(name):
    """Convolutions and pools act on each axis alone, so an H x W image is accepted iff
    min(H, W) is the smallest side: long and wide images at the boundary, and one pixel
    below it on either side, in real forward passes (unfilled weights: shapes are all
    that matter)."""
    layers = default_layers(name)
    side = smallest_side(name, layers)
    assert side == DEFAULT_MINIMUM[name]
    network = build_descriptor(name, "empty", layers=layers)
    long = 3 * side + 5
    assert reaches(network, layers, side, long) and reaches(network, layers, long, side)
    assert reaches(network, layers, side, side)
    if side > 1:
        assert not reaches(network, layers, side - 1, long)
        assert not reaches(network, layers, long, side - 1)


def test_a_too_small_image_is_one_line_naming_descriptor_layer_and_side():
    layers = default_layers("vgg19")
    check_image_size("vgg19", layers, 16, 40, what="content image", fix="never shown")
    with pytest.raises(StyxError) as caught:
        check_image_size("vgg19", layers, 12, 16, what="content image (--size 16)",
                         fix=lambda needed, layer: f"use --size {needed + 9} or more, or "
                         f"shallower layers than {layer}", where="somewhere")
    error = caught.value
    assert error.message == (
        "somewhere: a 16x12 px content image (--size 16) is too small for descriptor 'vgg19' "
        "at layer 'relu5_1' (it needs at least 16 px a side)")
    assert error.hint == "use --size 25 or more, or shallower layers than relu5_1"
    assert "\n" not in str(error)


def test_a_descriptor_run_on_a_too_small_image_says_what_the_failing_layer_needs():
    vgg19 = build_descriptor("vgg19", "random", layers=["relu5_1"])
    with pytest.raises(StyxError, match=r"a 16x12 px image is too small for descriptor "
                       r"'vgg19' at layer 'pool4' \(it needs at least 16 px a side\)"):
        vgg19(torch.rand(1, 3, 12, 16), ["relu5_1"])


def test_the_long_side_that_gives_a_short_side_is_the_smallest():
    for height, width, short in ((384, 512, 16), (512, 384, 75), (320, 512, 16), (9, 9, 4)):
        side = long_side_for(height, width, short)
        assert min(long_side_size(height, width, side)) >= short
        assert min(long_side_size(height, width, side - 1)) < short
