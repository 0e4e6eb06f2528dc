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


def test_the_exported_moments_match_the_centred_ones_far_from_zero():
    """The statistics an ONNX export computes (mean and mean of squares, summed in two
    stages) agree with the centred ones on maps whose mean is 10 deviations from zero,
    and a 1x1 map's variance is 0."""
    from styx.generators.blocks import centred_moments, row_moments

    values = torch.randn(2, 5, 37, 53, generator=torch.Generator().manual_seed(0)) * 0.5 + 5
    (mean, variance), (row_mean, row_variance) = centred_moments(values), row_moments(values)
    assert row_mean.shape == row_variance.shape == (2, 5, 1)  # kept dimension: no reshape
    assert torch.allclose(row_mean[..., 0], mean, rtol=1e-6)
    assert torch.allclose(row_variance[..., 0], variance, rtol=1e-4)
    assert torch.equal(row_moments(torch.rand(3, 4, 1, 1))[1], torch.zeros(3, 4, 1))


def test_the_one_pass_scale_and_shift_is_values_times_scale_plus_shift():
    from styx.generators.blocks import scaled_in_one_pass

    maps, scale, shift = torch.randn(1, 12, 9, 7), torch.rand(12), torch.randn(12)
    expected = maps * scale[:, None, None] + shift[:, None, None]
    assert torch.allclose(scaled_in_one_pass(maps, scale, shift), expected, atol=1e-6)


@pytest.mark.parametrize("shape", [(1, -1, 0, 0), (-1, 4, 0, 0), (-1,), (0, -1)])
def test_reshaped_follows_onnx_rules_zero_copies_a_dimension(shape):
    from styx.generators.blocks import reshaped

    values = torch.randn(3, 4, 5, 6)
    expected = values.reshape([values.shape[i] if size == 0 else size
                               for i, size in enumerate(shape)])
    assert torch.equal(reshaped(values, shape), expected)


def test_the_exported_forward_pass_equals_the_pytorch_one():
    """InstanceNorm's export path (run in PyTorch: :func:`reshaped` reshapes as the Reshape
    node does) normalises, keeps and blends as the PyTorch path does, in float16 too."""
    from styx.generators.blocks import InstanceNorm

    norm = InstanceNorm(4)
    with torch.no_grad():
        norm.weight.uniform_(0.5, 1.5)
        norm.bias.normal_()
    x = torch.randn(2, 4, 9, 11, generator=torch.Generator().manual_seed(1)) * 2 + 1
    given = torch.stack([torch.randn(2, 4), torch.rand(2, 4) + 0.5], dim=-1)
    for blend in (torch.zeros(1), torch.full((1,), 0.5), torch.ones(1)):
        outputs = []
        for exported in (False, True):
            norm.given, norm.blend, norm.keep = given, blend, True
            with torch.no_grad():
                out = norm._exported(x) if exported else norm(x)
            outputs.append((out, norm.kept))
        (out, kept), (exported_out, exported_kept) = outputs
        assert exported_kept.shape == kept.shape == (2, 4, 2)
        assert torch.allclose(exported_kept, kept, rtol=1e-5, atol=1e-6)
        assert torch.allclose(exported_out, out, atol=1e-5)
