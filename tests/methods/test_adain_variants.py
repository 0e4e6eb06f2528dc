"""AdaIN's fast variant (docs/adain.md, "The fast variant"): chosen at training time,
recorded in the model, and from then on trained, resumed, exported, tiled and run like the
paper's network; models saved before variants existed load as the paper's."""

from __future__ import annotations

import pytest
import torch
from test_adain_training import folders, train  # noqa: F401 - the tiny training folders
from trained_models import save_adain

import styx
from styx.plugins.methods.adain.network import AdaINArchitecture, AdaINNetwork


def convolutions(network: AdaINNetwork) -> list[torch.nn.Conv2d]:
    return [module for module in network.decoder if isinstance(module, torch.nn.Conv2d)]


def macs(network: AdaINNetwork, height: int = 96, width: int = 128) -> int:
    """Multiply-accumulates of every convolution for a photo and a painting of its size."""
    total = 0

    def count(module, inputs, output):
        nonlocal total
        total += output.numel() * module.in_channels * module.weight[0, 0].numel()

    hooks = [module.register_forward_hook(count) for module in network.modules()
             if isinstance(module, torch.nn.Conv2d)]
    with torch.no_grad():
        network(torch.rand(1, 3, height, width), torch.rand(1, 3, height, width))
    for hook in hooks:
        hook.remove()
    return total


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("variants")
    return {variant: save_adain(root / variant, variant=variant)
            for variant in ("paper", "fast")}


def test_the_fast_variant_trains_and_loads_back_as_itself(folders):  # noqa: F811
    trained = train(folders, variant="fast", iterations=2)
    architecture = trained.metadata["architecture"]
    assert architecture["variant"] == "fast" and architecture["layer"] == "relu3_1"
    assert trained.metadata["loss"]["style_layers"] == \
        ["relu1_1", "relu2_1", "relu3_1"]
    loaded = styx.load_model(trained.path)
    network = loaded.generator
    assert network.config.variant == "fast" and network.layer == "relu3_1"
    assert [conv.out_channels for conv in convolutions(network)] == [64, 32, 3]
    for key, value in trained.generator.state_dict().items():
        assert torch.equal(network.state_dict()[key], value), key
    assert loaded(torch.rand(1, 3, 40, 52), style=torch.rand(1, 3, 30, 30)).shape == \
        (1, 3, 40, 52)


def test_an_explicit_layer_wins_over_the_variants(folders):  # noqa: F811
    trained = train(folders, variant="fast", layer="relu2_1", iterations=1)
    assert trained.metadata["architecture"]["layer"] == "relu2_1"
    network = styx.load_model(trained.path).generator
    assert network.layer == "relu2_1" and network.stride == 2
    assert [conv.out_channels for conv in convolutions(network)] == [32, 3]  # still fast


def test_a_model_saved_before_variants_loads_as_the_papers(tmp_path):
    from styx.files.modelstore import save_model
    from styx.perceptual.weights import notes

    with notes(False):
        paper = AdaINNetwork(AdaINArchitecture(layer="relu4_1", convs_per_level=2),
                             weights="random")
    old = {"descriptor": "vgg19", "layer": "relu4_1", "descriptor_options": {},
           "convs_per_level": 2}  # no "variant": as styx wrote it before
    path = save_model(paper, {"method": "adain", "architecture": old}, path=tmp_path / "old")
    network = styx.load_model(path).generator
    assert network.config.variant == "paper" and network.layer == "relu4_1"
    assert [conv.out_channels for conv in convolutions(network)] == \
        [conv.out_channels for conv in convolutions(paper)]


def test_resume_continues_the_fast_variant_exactly(folders, interrupted_at):  # noqa: F811
    from styx.plugins.methods.adain.task import AdaINTask

    straight = train(folders, variant="fast", iterations=3, output=folders / "straight",
                     run_dir=folders / "run-straight")
    with interrupted_at(AdaINTask, 2), pytest.raises(KeyboardInterrupt):
        train(folders, variant="fast", iterations=3, output=folders / "resumed",
              run_dir=folders / "run-r")
    resumed = train(folders, variant="fast", iterations=3, output=folders / "resumed",
                    run_dir=folders / "run-r", resume=True, overwrite=False)
    assert resumed.metadata["architecture"]["variant"] == "fast"
    assert [h["total"] for h in resumed.result.history] == \
        [h["total"] for h in straight.result.history]
    state = resumed.generator.state_dict()
    for key, value in straight.generator.state_dict().items():
        assert torch.equal(state[key], value), key


def test_the_fast_variant_exports_to_onnx_as_pytorch_runs_it(models, tmp_path):
    from styx.inference.onnxfile import OnnxGenerator

    path = styx.export(models["fast"], "onnx", tmp_path / "fast.onnx", verify=True)
    photo = torch.rand(1, 3, 44, 60, generator=torch.Generator().manual_seed(1))
    painting = torch.rand(1, 3, 36, 28, generator=torch.Generator().manual_seed(2))
    eager = styx.load_model(models["fast"])(photo, style=painting, amp="off", style_size=None)
    onnx = OnnxGenerator.open(path, provider="cpu").run(photo.numpy(), style=painting.numpy())
    assert onnx.shape == (1, 3, 44, 60)
    assert abs(torch.from_numpy(onnx) - eager).max() < 1e-3


@pytest.mark.parametrize("variant", ["paper", "fast"])
def test_a_tiled_run_agrees_with_the_whole_as_the_papers_does(models, variant):
    model = styx.load_model(models[variant])
    photo = torch.rand(1, 3, 40, 50, generator=torch.Generator().manual_seed(3))
    content = torch.nn.functional.interpolate(photo, size=(176, 232), mode="bilinear")
    painting = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(4))
    whole = model(content, style=painting, amp="off")
    tiled = model(content, style=painting, amp="off", tile=160, overlap=32)
    assert tiled.shape == whole.shape == (1, 3, 176, 232)
    assert (tiled - whole).abs().mean() < 0.05  # tiles normalised by the thumbnail's


def test_the_fast_variant_costs_a_fraction_of_the_papers_work(models):
    paper, fast = (styx.load_model(models[variant]).generator for variant in models)
    assert macs(fast) * 2.5 < macs(paper)  # 2.7x; 3.1x at 1024x768 with a 512 px painting
    assert sum(p.numel() for p in fast.decoder.parameters()) * 10 < \
        sum(p.numel() for p in paper.decoder.parameters())


def test_an_unknown_variant_is_a_one_line_error(folders, styx_cli):  # noqa: F811
    result = styx_cli("train", "adain", "--content-dir", str(folders / "photos"),
                      "--style-dir", str(folders / "paintings"), "--weights", "random",
                      "--variant", "nonsense", "--output", str(folders / "bad"))
    assert result.exit_code == 2, result.stderr
    assert "bad --variant 'nonsense'" in result.stderr and "Traceback" not in result.stderr
    assert not (folders / "bad").exists()
