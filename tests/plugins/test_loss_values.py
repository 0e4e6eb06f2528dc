"""Exact values of the built-in losses on small tensors, against references written
independently of the implementation (explicit sums in float64, the formulas of the
docstrings), and the messages of their option errors."""

from __future__ import annotations

import pytest
import torch

from styx.core.errors import StyxError
from styx.plugins.losses.content import ContentLoss
from styx.plugins.losses.gram import GramLoss, gram_matrix, normalization_scale
from styx.plugins.losses.tv import TotalVariationLoss


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Tiny tensors: one intra-op thread."""


def reference_gram_loss(features: torch.Tensor, style: torch.Tensor, normalization: str) -> float:
    """``k * sum_ij (G_ij - A_ij)^2``, the mean over the batch; G, A by explicit sums."""
    n, c, h, w = features.shape
    m = h * w

    def gram(image):  # C x H x W -> C x C, by the definition G_ij = sum_p F_ip F_jp
        flat = image.double().reshape(c, m)
        return torch.tensor([[float(sum(flat[i, p] * flat[j, p] for p in range(m)))
                              for j in range(c)] for i in range(c)], dtype=torch.float64)

    k = {"elements": 1 / (c ** 4 * m ** 2), "gatys": 1 / (4 * c ** 2 * m ** 2),
         "seed-report": 1 / (2 * c * m) ** 2, "none": 1.0}[normalization]
    target = gram(style[0])
    return sum(k * float(((gram(features[b]) - target) ** 2).sum()) for b in range(n)) / n


NORMALIZATIONS = ("elements", "gatys", "seed-report", "none")


@pytest.mark.parametrize("normalization", NORMALIZATIONS)
def test_gram_loss_values_match_the_formula(normalization):
    torch.manual_seed(1)
    features = torch.randint(-3, 4, (2, 3, 2, 3)).float()  # N=2, C=3, M=6
    style = torch.randint(-3, 4, (1, 3, 2, 3)).float()
    loss = GramLoss(normalization)
    value = loss(features, loss.prepare(style))
    assert value.dim() == 0 and value.dtype == torch.float32
    expected = reference_gram_loss(features, style, normalization)
    assert float(value) == pytest.approx(expected, rel=1e-6)


def test_gram_loss_of_one_channel_by_hand():
    # F = [1, 2, 3]: G = 14; style [1, 1, 1]: A = 3; (G - A)^2 = 121; C = 1, M = 3.
    features = torch.tensor([[[[1.0, 2.0, 3.0]]]])
    style = torch.ones(1, 1, 1, 3)
    values = {name: float(GramLoss(name)(features, GramLoss(name).prepare(style)))
              for name in NORMALIZATIONS}
    assert values["none"] == pytest.approx(121.0)
    assert values["gatys"] == pytest.approx(121.0 / 36)
    assert values["seed-report"] == pytest.approx(121.0 / 36)
    assert values["elements"] == pytest.approx(121.0 / 9)  # (14/3 - 3/3)^2


def test_gram_loss_of_a_batch_is_the_mean_of_its_images():
    torch.manual_seed(2)
    features = torch.rand(3, 2, 3, 3)
    for name in NORMALIZATIONS:
        loss = GramLoss(name)
        target = loss.prepare(torch.rand(1, 2, 3, 3))
        each = [float(loss(features[i:i + 1], target)) for i in range(3)]
        assert float(loss(features, target)) == pytest.approx(sum(each) / 3, rel=1e-6), name


def test_gram_loss_accepts_a_target_per_image():
    torch.manual_seed(3)
    features = torch.rand(2, 2, 2, 2)
    loss = GramLoss("gatys")
    targets = torch.cat([loss.prepare(torch.rand(1, 2, 2, 2)) for _ in range(2)])
    both = float(loss(features, targets))
    each = [float(loss(features[i:i + 1], targets[i:i + 1])) for i in range(2)]
    assert both == pytest.approx(sum(each) / 2, rel=1e-6)


def test_prepared_targets_are_float32_and_cut_from_the_graph():
    style = torch.rand(1, 2, 2, 2, dtype=torch.float64, requires_grad=True)
    for name in ("elements", "none"):
        target = GramLoss(name).prepare(style)
        assert target.dtype == torch.float32 and not target.requires_grad
        assert target.shape == (1, 2, 2)
    assert torch.allclose(GramLoss("elements").prepare(style) * 8,
                          GramLoss("none").prepare(style))


def test_normalization_scales_by_the_table():
    # C = 3, M = 5: the four k of the module docstring.
    assert normalization_scale("elements", 3, 5) == pytest.approx(1 / (81 * 25))
    assert normalization_scale("gatys", 3, 5) == pytest.approx(1 / (4 * 9 * 25))
    assert GramLoss("seed-report").normalization == "gatys"  # (2 C M)^2 = 4 C^2 M^2 = 900
    assert normalization_scale("none", 3, 5) == 1.0


def test_gram_matrix_refuses_features_that_are_not_four_dimensional():
    with pytest.raises(StyxError) as caught:
        gram_matrix(torch.ones(2, 3, 4))
    assert caught.value.message == \
        "a Gram matrix needs N x C x H x W features, got shape (2, 3, 4)"
    assert caught.value.hint == "pass a descriptor's feature map"


def test_gram_gradient_by_hand():
    # d/dF sum(G * W) for G = F F^T is (W + W^T) F; with W = ones, 2 * (column sums) ...
    features = torch.tensor([[[[1.0, 2.0]], [[3.0, -1.0]]]], requires_grad=True)  # C=2, M=2
    weights = torch.tensor([[[1.0, 2.0], [0.0, 3.0]]])
    (gram_matrix(features, normalize=False) * weights).sum().backward()
    flat = features.detach().reshape(2, 2)
    expected = (weights[0] + weights[0].T) @ flat
    assert torch.allclose(features.grad.reshape(2, 2), expected)


def test_bad_normalization_names_the_option():
    with pytest.raises(StyxError) as caught:
        GramLoss("mean")
    assert caught.value.message == "bad Gram normalization 'mean'"
    assert GramLoss(None).normalization == "elements"
    assert GramLoss(" Seed_Report ".replace("_", "-")).normalization == "gatys"


# -- content --------------------------------------------------------------------------------
def test_content_loss_is_the_mean_squared_difference():
    features = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]], dtype=torch.float64)
    target = ContentLoss().prepare(torch.tensor([[[[1.0, 0.0], [5.0, 4.0]]]]))
    value = ContentLoss()(features, target)
    assert float(value) == pytest.approx((0 + 4 + 4 + 0) / 4)
    assert value.dtype == torch.float32


# -- total variation ------------------------------------------------------------------------
IMAGE = torch.tensor([[[[1.0, 0.0, 2.0], [0.0, 0.0, 4.0]]]])  # 1 x 1 x 2 x 3
# dx = [-1, 2], [0, 4]; dy = [-1, 0, 2]


@pytest.mark.parametrize("power, expected", [
    (2.0, (1 + 4 + 0 + 16) / 4 + (1 + 0 + 4) / 3),
    (1.0, (1 + 2 + 0 + 4) / 4 + (1 + 0 + 2) / 3),
    (3.0, (1 + 8 + 0 + 64) / 4 + (1 + 0 + 8) / 3),
    (1.5, (1 + 2 ** 1.5 + 0 + 8) / 4 + (1 + 0 + 2 ** 1.5) / 3),
])
def test_tv_values_by_hand(power, expected):
    value = TotalVariationLoss(power)(IMAGE)
    assert float(value) == pytest.approx(expected, rel=1e-6)
    assert value.dim() == 0


def test_tv_is_float32_for_any_input_dtype():
    for dtype in (torch.float64, torch.bfloat16):
        value = TotalVariationLoss()(IMAGE.to(dtype))
        assert value.dtype == torch.float32
        assert float(value) == pytest.approx(21 / 4 + 5 / 3, rel=1e-6)


def test_tv_of_a_line_or_a_pixel_counts_only_the_direction_with_neighbours():
    row = torch.tensor([[[[0.0, 1.0, 3.0]]]])  # one pixel high: dy is empty
    assert float(TotalVariationLoss()(row)) == pytest.approx((1 + 4) / 2)
    assert float(TotalVariationLoss(1)(row.transpose(-1, -2))) == pytest.approx(1.5)
    pixel = TotalVariationLoss()(torch.ones(1, 3, 1, 1))
    assert float(pixel) == 0.0 and pixel.dim() == 0


def test_tv_power_error_names_the_option_and_the_fix():
    with pytest.raises(StyxError) as caught:
        TotalVariationLoss(0.5)
    assert caught.value.message.startswith("bad TV power 0.5")
    assert caught.value.hint == "give a finite number >= 1, e.g. 2"
    assert TotalVariationLoss("3").power == 3.0
