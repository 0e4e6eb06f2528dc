"""The layers generators share (styx.generators.blocks)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from styx.generators.blocks import PADDINGS, Pad, conv, make_norm


@pytest.mark.parametrize("mode", PADDINGS)
def test_padding_matches_torch_where_torch_can(mode):
    x = torch.rand(2, 3, 7, 9)
    expected = F.pad(x, (2, 2, 2, 2), mode="constant" if mode == "zero" else mode)
    assert torch.equal(Pad(mode, 2)(x), expected)


def test_circular_padding_wraps_as_often_as_it_takes():
    x = torch.arange(3.0).view(1, 1, 1, 3)
    out = Pad("circular", 4)(x)
    assert out.shape == (1, 1, 9, 11)
    # Every row is the one row of x; columns run -4..6 modulo 3.
    assert out[0, 0, 0].tolist() == [2.0, 0.0, 1.0, 2.0, 0.0, 1.0, 2.0, 0.0, 1.0, 2.0, 0.0]
    assert torch.equal(out[0, 0], out[0, 0, :1].expand(9, 11))


def test_reflect_padding_of_a_thin_map_replicates():
    x = torch.rand(1, 2, 1, 5)
    assert torch.equal(Pad("reflect", 1)(x), F.pad(x, (1, 1, 1, 1), mode="replicate"))


def test_conv_keeps_the_size_divided_by_the_stride_rounded_up():
    layer = conv(3, 4, 9, padding="reflect", stride=2)
    assert layer(torch.rand(1, 3, 37, 20)).shape == (1, 4, 19, 10)


def test_unknown_padding_or_norm_is_a_bug_reported_as_such():
    with pytest.raises(ValueError, match="padding"):
        Pad("mirror", 1)
    with pytest.raises(ValueError, match="normalisation"):
        make_norm("layer", 4)
