"""The built-in loss plugins: content, Gram (four normalisations), total variation."""

from __future__ import annotations

import pytest
import torch

from styx.core.errors import StyxError
from styx.core.plugins import losses, reset_plugins
from styx.perceptual.losses import build_loss
from styx.plugins.losses.content import ContentLoss
from styx.plugins.losses.gram import NORMALIZATIONS, GramLoss, gram_matrix, normalization_scale
from styx.plugins.losses.tv import TotalVariationLoss


@pytest.fixture(autouse=True)
def real_plugins():
    reset_plugins()  # the installed entry points, whatever another test left behind
    torch.manual_seed(0)  # every random tensor below is reproducible
    yield
    reset_plugins()


# -- Gram matrix -----------------------------------------------------------------------------
def tiny_features() -> torch.Tensor:
    """1 x 2 x 2 x 2: channel 0 = [[1, 2], [3, 4]], channel 1 = [[0, 1], [0, 1]]."""
    return torch.tensor([[[[1.0, 2.0], [3.0, 4.0]], [[0.0, 1.0], [0.0, 1.0]]]])


def test_gram_matrix_by_hand():
    # F = [[1, 2, 3, 4], [0, 1, 0, 1]]:  F F^T = [[1+4+9+16, 2+4], [2+4, 1+1]].
    expected = torch.tensor([[[30.0, 6.0], [6.0, 2.0]]])
    assert torch.equal(gram_matrix(tiny_features(), normalize=False), expected)
    # Normalised: divided by C * H * W = 2 * 2 * 2 = 8.
    assert torch.equal(gram_matrix(tiny_features()), expected / 8)


def test_gram_matrix_per_image_in_a_batch():
    features = torch.cat([tiny_features(), 2 * tiny_features()])
    gram = gram_matrix(features, normalize=False)
    assert gram.shape == (2, 2, 2)
    assert torch.equal(gram[1], 4 * gram[0])


def test_gram_is_fp32_under_bf16_autocast_on_cpu():
    torch.manual_seed(0)
    features = torch.rand(2, 16, 12, 12) * 3
    reference = torch.bmm(features.double().flatten(2), features.double().flatten(2).transpose(1, 2))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        plain = torch.bmm(features.flatten(2), features.flatten(2).transpose(1, 2))
        gram = gram_matrix(features, normalize=False)
        loss = GramLoss("none")(features, gram_matrix(features.flip(0), normalize=False))
    assert plain.dtype == torch.bfloat16  # what would happen without the guard
    assert gram.dtype == torch.float32 and loss.dtype == torch.float32
    relative = ((gram.double() - reference).abs().max() / reference.abs().max()).item()
    assert relative < 1e-6
    bf16_relative = ((plain.double() - reference).abs().max() / reference.abs().max()).item()
    assert bf16_relative > 1e-4  # bf16 really is coarser, so the check above means something


def test_gram_of_bf16_features_is_fp32():
    features = torch.rand(1, 4, 3, 3).to(torch.bfloat16)
    assert gram_matrix(features).dtype == torch.float32


# -- Gram loss and its normalisations ----------------------------------------------------------
def gram_values(channels: int, height: int, width: int) -> dict[str, float]:
    generator = torch.Generator().manual_seed(1)
    style = torch.rand(1, channels, height, width, generator=generator)
    image = torch.rand(1, channels, height, width, generator=generator)
    values = {}
    for name in (*NORMALIZATIONS, "seed-report"):  # the seed report's: another name of gatys
        loss = GramLoss(name)
        values[name] = float(loss(image, loss.prepare(style)))
    return values


def test_gram_loss_none_is_the_raw_sum_of_squares():
    a, b = tiny_features(), torch.zeros(1, 2, 2, 2)
    # A = 0, so the loss is the sum of the squared entries of G: 30^2 + 2 * 6^2 + 2^2.
    assert float(GramLoss("none")(a, GramLoss("none").prepare(b))) == 900 + 72 + 4


@pytest.mark.parametrize("shape", [(3, 4, 5), (8, 6, 6), (16, 2, 9)])
def test_normalisations_relative_to_each_other(shape):
    channels, height, width = shape
    m = height * width
    values = gram_values(*shape)
    # gatys: 1 / (4 C^2 M^2); the seed report's 1 / (2 C M)^2 is the same number.
    assert values["seed-report"] == pytest.approx(values["gatys"], rel=1e-6)
    assert values["none"] == pytest.approx(values["gatys"] * 4 * channels ** 2 * m ** 2,
                                           rel=1e-5)
    # elements: Grams / (C M), then the mean over C^2 entries = 1 / (C^4 M^2).
    assert values["elements"] == pytest.approx(values["gatys"] * 4 / channels ** 2, rel=1e-5)
    for name, value in values.items():
        scale = normalization_scale(GramLoss(name).normalization, channels, m)
        assert value == pytest.approx(values["none"] * scale, rel=1e-5)


def test_elements_normalisation_is_independent_of_image_size():
    # The same texture tiled 2x2: Grams / (C M) are equal, so the loss is too;
    # unnormalised, the loss grows with M^2 (4x the positions: 16x).
    generator = torch.Generator().manual_seed(2)
    style = torch.rand(1, 4, 6, 6, generator=generator)
    image = torch.rand(1, 4, 6, 6, generator=generator)
    tiled_style, tiled_image = style.repeat(1, 1, 2, 2), image.repeat(1, 1, 2, 2)
    for name, growth in (("elements", 1.0), ("gatys", 1.0), ("none", 4.0 ** 2)):
        loss = GramLoss(name)
        small = float(loss(image, loss.prepare(style)))
        large = float(loss(tiled_image, loss.prepare(tiled_style)))
        assert large == pytest.approx(small * growth, rel=1e-4), name


def test_gram_loss_zero_for_the_style_itself_and_positive_otherwise():
    loss = GramLoss()
    style = torch.rand(1, 5, 7, 7)
    assert float(loss(style, loss.prepare(style))) == 0.0
    assert float(loss(torch.rand(1, 5, 7, 7), loss.prepare(style))) > 0.0


def test_gram_loss_target_is_shared_by_the_batch_and_averaged():
    loss = GramLoss("gatys")
    style = torch.rand(1, 3, 4, 4)
    a, b = torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 4)
    target = loss.prepare(style)
    both = float(loss(torch.cat([a, b]), target))
    assert both == pytest.approx((float(loss(a, target)) + float(loss(b, target))) / 2, rel=1e-6)


def test_gram_gradient_matches_autograd_of_the_plain_product():
    # gram_matrix has a hand-written one-matmul backward; check it against autograd and
    # gradcheck, for contiguous and channels-last features.
    from styx.plugins.losses.gram import _Gram

    positions = torch.randn(2, 20, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(_Gram.apply, (positions,))
    weights = torch.randn(2, 6, 6)
    for layout in (torch.contiguous_format, torch.channels_last):
        x = torch.randn(2, 6, 5, 7).to(memory_format=layout).requires_grad_(True)
        (gram_matrix(x) * weights).sum().backward()
        ours = x.grad.clone()
        x.grad = None
        flat = x.reshape(2, 6, 35)
        ((flat @ flat.transpose(1, 2)) / (6 * 35) * weights).sum().backward()
        torch.testing.assert_close(ours, x.grad, rtol=1e-5, atol=1e-6)


def test_gram_loss_gradient_flows():
    image = torch.rand(1, 3, 5, 5, requires_grad=True)
    loss = GramLoss()
    loss(image, loss.prepare(torch.rand(1, 3, 5, 5))).backward()
    assert image.grad is not None and float(image.grad.abs().sum()) > 0


@pytest.mark.parametrize("spelling", ["seed_report", "SEED-REPORT", " Gatys "])
def test_normalisation_names_are_forgiving(spelling):
    assert GramLoss(spelling).normalization in NORMALIZATIONS


def test_normalisation_default_is_elements():
    assert GramLoss().normalization == "elements"
    assert GramLoss(None).normalization == "elements"  # an unset CLI option


@pytest.mark.parametrize("bad", ["mean", "johnson", "", 3])
def test_unknown_normalisation_is_a_styx_error(bad):
    with pytest.raises(StyxError, match="bad Gram normalization") as caught:
        GramLoss(bad)
    assert "elements" in caught.value.hint


# -- content ---------------------------------------------------------------------------------
def test_content_loss():
    loss = ContentLoss()
    features = torch.rand(2, 4, 3, 3)
    target = loss.prepare(features)
    assert float(loss(features, target)) == 0.0
    shifted = features + 0.5
    assert float(loss(shifted, target)) == pytest.approx(0.25)  # mean of 0.5^2
    assert loss(features.to(torch.bfloat16), target).dtype == torch.float32


def test_content_target_is_detached():
    features = torch.rand(1, 2, 3, 3, requires_grad=True)
    assert not ContentLoss().prepare(features * 2).requires_grad


# -- total variation -------------------------------------------------------------------------
def test_tv_zero_for_a_constant_image():
    assert float(TotalVariationLoss()(torch.full((1, 3, 9, 7), 0.3))) == 0.0


def test_tv_lower_for_a_smoother_image():
    generator = torch.Generator().manual_seed(3)
    noisy = torch.rand(1, 3, 32, 32, generator=generator)
    smooth = torch.nn.functional.avg_pool2d(noisy, 5, stride=1, padding=2,
                                            count_include_pad=False)
    tv = TotalVariationLoss()
    assert float(tv(smooth)) < 0.5 * float(tv(noisy))


def test_tv_by_hand():
    image = torch.tensor([[[[0.0, 1.0], [0.0, 3.0]]]])
    # dx: (1, 3) -> mean of squares 5; dy: (0, 2) -> 2.  Power 1: dx 2, dy 1.
    assert float(TotalVariationLoss()(image)) == pytest.approx(7.0)
    assert float(TotalVariationLoss(power=1)(image)) == pytest.approx(3.0)


def test_tv_of_a_one_pixel_wide_image_is_finite():
    value = TotalVariationLoss()(torch.tensor([[[[0.0], [1.0], [1.0]]]]))
    assert float(value) == pytest.approx(0.5)


@pytest.mark.parametrize("power", [0, 0.5, -1, "x", float("inf")])
def test_tv_bad_power(power):
    with pytest.raises(StyxError, match="bad TV power"):
        TotalVariationLoss(power=power)


# -- through the registry ----------------------------------------------------------------------
def test_builtin_losses_are_registered_through_the_entry_point():
    registry = losses()
    assert {"content", "gram", "tv"} <= set(registry.names())
    assert registry.get("gram").plugin == "losses"
    assert registry.get("tv").scores == "image" and registry.get("gram").scores == "features"


@pytest.mark.parametrize(("name", "kind"), [
    ("gram", GramLoss), ("style", GramLoss), ("Style", GramLoss),
    ("content", ContentLoss), ("mse", ContentLoss),
    ("tv", TotalVariationLoss), ("total_variation", TotalVariationLoss),
])
def test_build_loss_by_name_and_alias(name, kind):
    assert isinstance(build_loss(name), kind)


def test_build_loss_passes_options():
    assert build_loss("gram", normalization="gatys").normalization == "gatys"
    assert build_loss("tv", scores="image", power=1).power == 1.0


def test_build_loss_unknown_option():
    with pytest.raises(StyxError, match="no option 'weight'") as caught:
        build_loss("gram", weight=2)
    assert "normalization" in caught.value.hint


def test_build_loss_that_scores_the_wrong_kind():
    with pytest.raises(StyxError, match="works on image"):
        build_loss("tv", scores="features")
    # styx 0.1's name of scores=: still checked, with a warning
    with pytest.warns(DeprecationWarning, match="target= is now scores="), \
            pytest.raises(StyxError, match="works on image, not on features"):
        build_loss("tv", target="features")
    with pytest.warns(DeprecationWarning):
        assert build_loss("tv", target="image", power=1).power == 1.0


def test_build_loss_unknown_name_suggests():
    with pytest.raises(StyxError, match="unknown loss 'gramm'") as caught:
        build_loss("gramm")
    assert "gram" in (caught.value.hint or "")
