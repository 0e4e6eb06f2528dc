"""StyleBank's fast variant (docs/stylebank.md "The fast variant"): chosen at training time,
stored in the model's architecture, and trained, resumed, grown, exported and tiled like
the paper's network; models saved before variants load as the paper's.

Tiny images and a width-8 network (2, 4 and 16 channels in the fast variant).
"""

from __future__ import annotations

import json

import pytest
import torch
from test_stylebank import TINY_TRAIN, data, train_tiny  # noqa: F401 - data is a fixture
from trained_models import read_float, run_model, save_stylebank, saved_before_variants, write_photo

from styx.generators.models import load_model
from styx.generators.variants import FAST, PAPER
from styx.plugins.methods.stylebank.config import NetworkConfig
from styx.plugins.methods.stylebank.network import StyleBankNetwork
from styx.plugins.methods.stylebank.task import StyleBankTask


def fast_network(num_styles: int = 3, width: int = 8) -> StyleBankNetwork:
    torch.manual_seed(0)
    return StyleBankNetwork(NetworkConfig(num_styles=num_styles, width=width,
                                          variant=FAST)).eval()


def convolution_macs(network: StyleBankNetwork, height: int, width: int) -> int:
    """Multiply-accumulates of every convolution of one style at ``height`` x ``width``."""
    total = 0

    def count(module, _inputs, output):
        nonlocal total
        total += output.numel() * module.in_channels * module.kernel_size[0] * \
            module.kernel_size[1] // module.groups

    hooks = [m.register_forward_hook(count) for m in network.modules()
             if isinstance(m, torch.nn.Conv2d)]
    with torch.no_grad():
        network(torch.rand(1, 3, height, width), network.one_hot(torch.tensor(0)))
    for hook in hooks:
        hook.remove()
    channels = network.config.feature_channels
    return total + (height + 3) // 4 * ((width + 3) // 4) * channels * channels * 9


# -- the network -------------------------------------------------------------------------------
def test_the_fast_network_keeps_the_strides_with_3x3_kernels_and_narrow_ends():
    net = fast_network(width=32)
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size[0], c.stride[0]) for c in convs] == [
        (3, 8, 3, 1), (8, 16, 3, 2), (16, 64, 3, 2),  # encoder
        (64, 16, 3, 1), (16, 8, 3, 1), (8, 3, 3, 1)]  # decoder, to RGB
    assert [tuple(b.shape) for b in net.banks] == [(64, 64, 3, 3)] * 3
    for size in [(37, 53), (1, 9), (2, 3)]:
        assert net(torch.rand(2, 3, *size), torch.tensor([0.5, 0.5, 0.0])).shape == \
            (2, 3, *size)


def test_the_fast_network_needs_a_tenth_of_the_papers_operations_and_parameters():
    paper = StyleBankNetwork(NetworkConfig(num_styles=1))
    fast = StyleBankNetwork(NetworkConfig(num_styles=1, variant=FAST))
    assert convolution_macs(fast, 96, 128) < 0.12 * convolution_macs(paper, 96, 128)
    assert sum(p.numel() for p in fast.parameters()) < \
        0.2 * sum(p.numel() for p in paper.parameters())


def test_an_architecture_without_a_variant_is_the_papers():
    fast = fast_network()
    assert fast.architecture()["variant"] == FAST
    rebuilt = StyleBankNetwork.from_architecture(fast.architecture())
    assert rebuilt.config == fast.config
    old = {key: value for key, value in fast.architecture().items() if key != "variant"}
    assert StyleBankNetwork.from_architecture(old).config.variant == PAPER


def test_an_old_model_without_a_variant_loads_as_the_papers(tmp_path):
    model = load_model(saved_before_variants(save_stylebank(tmp_path / "old")))
    assert model.generator.config.variant == PAPER
    assert model.generator.encoder[0][0][1].kernel_size == (9, 9)


# -- training ----------------------------------------------------------------------------------
def test_the_fast_variant_trains_resumes_and_keeps_its_variant_when_styles_are_added(
        data, interrupted_at):  # noqa: F811 - data is the fixture
    config = {"iterations": 4, "checkpoint_every": 2, "variant": FAST, "width": 8}
    run_dir = data["root"] / "run"
    with interrupted_at(StyleBankTask, 3), pytest.raises(KeyboardInterrupt):
        train_tiny(data, name="fast", run_dir=run_dir, **config)
    resumed = train_tiny(data, name="fast", run_dir=run_dir, resume=True, **config)
    assert [h["step"] for h in resumed.result.history] == [1, 2, 3, 4]
    straight = train_tiny(data, name="straight", **config)
    assert [h["total"] for h in resumed.result.history] == \
        [h["total"] for h in straight.result.history]
    model = load_model("fast")
    assert model.metadata["architecture"]["variant"] == FAST
    assert model.generator.config == fast_network(num_styles=2).config

    train_tiny(data, styles=0, from_model="fast", add_style=[data["styles"][2]],
               iterations=1, width=8)
    grown = load_model("fast")
    assert grown.metadata["architecture"]["variant"] == FAST
    assert grown.generator.config == fast_network(num_styles=3).config


def test_variant_errors_are_one_line(data, styx_cli):  # noqa: F811 - data is the fixture
    content = str(data["content"])
    train_tiny(data, name="paper4", iterations=1)  # width 4, as TINY_TRAIN gives
    cases = [(["--style", str(data["styles"][0]), "--variant", "nonsense"], "--variant"),
             (["--from", "paper4", "--add-style", str(data["styles"][2]), "--variant", "fast"],
              "--variant fast with --from")]
    for args, message in cases:
        result = styx_cli("train", "stylebank", *TINY_TRAIN, "--content-dir", content,
                          "--iterations", "1", *args)
        assert result.exit_code == 2, (args, result.stderr)
        assert message in result.stderr and "Traceback" not in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) <= 2, result.stderr


# -- export and tiles --------------------------------------------------------------------------
def test_a_fast_model_exports_to_onnx_within_the_check(tmp_path, styx_cli):
    model = save_stylebank(tmp_path / "fast", variant=FAST)
    result = styx_cli("export", "stylebank", "--onnx", "-m", str(model), "-o",
                      str(tmp_path / "fast.onnx"), "--check", "--json")
    assert result.exit_code == 0, result.stderr
    cases = json.loads(result.stdout)["check_cases"]
    assert any(c.startswith("97x131") for c in cases), cases  # odd sizes: the crops
    assert all(float(case.rsplit(": ", 1)[1]) <= 1e-3 for case in cases), cases


def test_a_fast_model_in_tiles_is_the_whole_picture_away_from_the_seams(tmp_path, styx_cli):
    model = save_stylebank(tmp_path / "bn", norm="batch", variant=FAST)
    content = write_photo(tmp_path / "photo.png", 200, 260, seed=2)
    run_model(styx_cli, "stylebank", model, str(content), "-o", str(tmp_path / "whole.png"),
              "--style", "scream")
    run_model(styx_cli, "stylebank", model, str(content), "-o", str(tmp_path / "tiled.png"),
              "--style", "scream", "--tile", "160", "--overlap", "48")
    whole, tiled = read_float(tmp_path / "whole.png"), read_float(tmp_path / "tiled.png")
    assert abs(whole[24:-24, 24:-24] - tiled[24:-24, 24:-24]).mean() < 0.01
