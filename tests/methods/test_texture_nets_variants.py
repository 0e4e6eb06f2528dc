"""The fast variant of texture-nets (``--variant fast``): a lighter pyramid that trains,
resumes, saves, loads, exports and tiles as the paper's does (docs/texture-nets.md).

Tiny everywhere: 3-scale, 4-channel generators on 32-64 px images (the cost comparison
alone builds the default network), a random VGG19 trimmed to relu2_1 for training.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import tiny
import torch
from pattern_images import write_image
from trained_models import save_texture_nets, saved_before_variants

import styx
from styx.core.errors import StyxError
from styx.generators.blocks import InstanceNorm, Pad
from styx.generators.models import apply_generator, load_model
from styx.generators.variants import FAST, PAPER
from styx.plugins.methods.texture_nets.generator import GeneratorConfig, TextureNetwork

#: Two iterations of two 32 px crops through a tiny fast network, checkpointed at the end.
TINY_FAST = {**tiny.TRAINING, **tiny.SHALLOW, "scales": 3, "channels": 4, "batch_size": 2,
             "iterations": 2, "variant": FAST}


@pytest.fixture
def data(tmp_path, monkeypatch):
    """A style image and a folder of two photos; STYX_HOME isolated."""
    monkeypatch.setenv("STYX_HOME", str(tmp_path / "home"))
    write_image(tmp_path / "content" / "a.png", 40, 48, seed=1)
    write_image(tmp_path / "content" / "b.png", 36, 60, seed=2)
    style = write_image(tmp_path / "style.png", 48, 48, seed=7)
    return {"style": style, "content": tmp_path / "content", "root": tmp_path}


def train_fast(data, **options):
    return styx.train("texture-nets", **{**TINY_FAST, "style": data["style"],
                                         "content_dir": data["content"], **options})


def convolution_macs(network: TextureNetwork, height: int, width: int) -> int:
    """Multiply-accumulates of every convolution of one forward pass at ``height`` x
    ``width``."""
    counts: list[int] = []

    def count(layer, inputs, output):
        kernel = layer.kernel_size[0] * layer.kernel_size[1]
        counts.append(output.numel() * layer.in_channels // layer.groups * kernel)

    hooks = [layer.register_forward_hook(count) for layer in network.modules()
             if isinstance(layer, torch.nn.Conv2d)]
    with torch.no_grad():
        network.eval()(torch.rand(1, 3, height, width))
    for hook in hooks:
        hook.remove()
    return sum(counts)


def parameters(network: torch.nn.Module) -> int:
    return sum(parameter.numel() for parameter in network.parameters())


# -- the shape -------------------------------------------------------------------------------
def test_the_fast_variant_costs_a_fraction_of_the_paper_and_keeps_its_structure():
    paper = TextureNetwork(GeneratorConfig())
    fast = TextureNetwork(GeneratorConfig(variant=FAST))
    assert paper.config.variant == PAPER  # the default
    # docs/texture-nets.md: 42.8 against 5.75 GMAC at 1024x768, 118k against 52k parameters
    assert convolution_macs(fast, 96, 128) * 7 < convolution_macs(paper, 96, 128)
    assert parameters(fast) < 0.5 * parameters(paper)
    # narrower joins at full and half size; the coarser ones are the paper's
    assert [join[1].out_channels for join in fast.joins] == [16, 24, 32, 16, 16]
    assert fast.to_rgb.in_channels == 16
    # still texture-nets: a branch per scale, noise, instance norms, circular padding
    assert len(fast.branches) == 6 and len(fast.joins) == 5
    assert fast.noise_depth == paper.noise_depth == 18
    assert {layer.mode for layer in fast.modules() if isinstance(layer, Pad)} == {"circular"}
    assert any(isinstance(layer, InstanceNorm) for layer in fast.modules())


def test_the_variant_is_checked_as_every_setting_is():
    with pytest.raises(StyxError, match="bad --variant 'nonsense'"):
        GeneratorConfig(variant="nonsense")


# -- training, storing, loading --------------------------------------------------------------
def test_a_fast_model_trains_records_its_variant_and_loads_back_as_fast(data):
    trained = train_fast(data, name="quick")
    assert trained.metadata["architecture"]["variant"] == FAST
    model = styx.load_model("quick")
    assert model.generator.config.variant == FAST
    assert model.generator.architecture() == trained.generator.architecture()
    for key, value in trained.generator.state_dict().items():
        assert torch.equal(model.generator.state_dict()[key], value), key
    out = styx.stylize("texture-nets", torch.rand(1, 3, 37, 53), model="quick", seed=1,
                       device="cpu").image
    assert out.shape == (1, 3, 37, 53)


def test_a_model_saved_before_variants_loads_as_the_paper_network(tmp_path):
    old = load_model(saved_before_variants(save_texture_nets(tmp_path / "old"))).generator
    assert old.config.variant == PAPER
    assert old.architecture() == TextureNetwork(GeneratorConfig(scales=3, channels=4)).architecture()


def test_resume_continues_the_fast_network_and_refuses_the_paper_one(data):
    run_dir = data["root"] / "run"
    train_fast(data, output=data["root"] / "m", run_dir=run_dir)
    resumed = train_fast(data, output=data["root"] / "m", run_dir=run_dir, resume=True,
                         iterations=3)
    assert [entry["step"] for entry in resumed.result.history] == [1, 2, 3]
    assert load_model(data["root"] / "m").generator.config.variant == FAST
    with pytest.raises(StyxError, match="variant"):
        train_fast(data, output=data["root"] / "m", run_dir=run_dir, resume=True,
                   iterations=4, variant=PAPER)


def test_variant_nonsense_is_a_one_line_error(data, styx_cli):
    result = styx_cli("train", "texture-nets", "--style", str(data["style"]), "--content-dir",
                      str(data["content"]), "--variant", "nonsense", "--weights", "random")
    assert result.exit_code == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "--variant" in errors[0] and "nonsense" in errors[0]
    assert "Traceback" not in result.stderr


# -- export and tiles ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fast_model(tmp_path_factory):
    return save_texture_nets(tmp_path_factory.mktemp("models") / "fast", strength=0.1,
                             variant=FAST)


def test_the_exported_fast_network_matches_pytorch(fast_model, styx_cli, tmp_path):
    result = styx_cli("export", "texture-nets", "--onnx", "--model", str(fast_model), "-o",
                      str(tmp_path / "fast.onnx"), "--check", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["check"].startswith("passed: fp32")


@pytest.mark.parametrize("variant", [PAPER, FAST])
def test_tiles_normalised_by_a_thumbnail_give_the_one_pass_picture(variant, tmp_path):
    """As docs/onnx.md promises for the paper's network: a photo in tiles, each normalised
    by a thumbnail's statistics, comes out close to the photo in one pass."""
    model = load_model(save_texture_nets(tmp_path / variant, strength=0.1, variant=variant))
    image = torch.from_numpy(np.random.default_rng(4).random((1, 3, 200, 260),
                                                             dtype=np.float32))
    image = image * torch.linspace(0.2, 1.0, 260)  # tiles that differ: dark left, light right
    whole = apply_generator(model, image, seed=3, device="cpu").numpy()
    tiles = apply_generator(model, image, seed=3, device="cpu", tile=160, overlap=48).numpy()
    interior = np.s_[..., 24:-24, 24:-24]
    assert np.abs(whole[interior] - tiles[interior]).mean() < 0.02


def test_pytorch_and_onnxruntime_tile_the_fast_network_alike(fast_model, tmp_path):
    from styx.inference.batch import InferSettings, stylise_batch
    from styx.inference.onnxfile import OnnxGenerator

    image = torch.from_numpy(np.random.default_rng(5).random((1, 3, 240, 320),
                                                             dtype=np.float32))
    tiles = apply_generator(load_model(fast_model), image, seed=2, device="cpu", tile=160,
                            overlap=32).numpy()
    generator = OnnxGenerator.open(styx.export(fast_model, "onnx", tmp_path / "fast.onnx"),
                                   provider="cpu")
    onnx_tiles = stylise_batch(generator, image.numpy(), InferSettings(seed=2, tile=160,
                                                                  overlap=32))
    assert np.abs(onnx_tiles - tiles).max() < 1e-3
