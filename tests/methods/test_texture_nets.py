"""Texture Networks: the generator, the training task, the API and the train/run commands.

Everything runs on tiny images (24-64 px) with a randomly initialised VGG19 trimmed to its
first layers, so no weights are downloaded and the whole file stays fast.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tiny
import torch
from child_styx import torchrun_styx
from pattern_images import pattern, write_image
from PIL import Image

import styx
from styx.core.errors import StyxError
from styx.generators.blocks import NORMS, PADDINGS, halved_sizes
from styx.generators.variants import VARIANTS
from styx.plugins.methods.texture_nets.generator import (
    GeneratorConfig,
    TextureNetwork,
)

# -- helpers (kept in this file: tests/methods/conftest.py belongs to another module) -------

#: Options that make `styx train texture-nets` tiny: random VGG19 trimmed to relu2_1.
TINY_TRAIN = ["--weights", "random", "--image-size", "32", "--batch-size", "2",
              "--scales", "3", "--channels", "4", "--content-layers", "relu2_1",
              "--style-layers", "relu1_1,relu2_1", "--quiet"]


@pytest.fixture
def data(tmp_path, monkeypatch):
    """A style image and a content folder (nested, one corrupt file); STYX_HOME isolated."""
    monkeypatch.setenv("STYX_HOME", str(tmp_path / "home"))
    content = tmp_path / "content"
    write_image(content / "a.png", 40, 48, seed=1)
    write_image(content / "nested" / "b.jpg", 36, 60, seed=2)
    write_image(content / "nested" / "deeper" / "c.png", 24, 30, seed=3)  # smaller than crop
    (content / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not really a png")
    style = write_image(tmp_path / "style.png", 48, 48, seed=7)
    return {"style": style, "content": content, "root": tmp_path}


#: The library options of a tiny run: a small generator and a random VGG19 trimmed to
#: relu2_1, four iterations of two 32 px crops.
TINY = {**tiny.TRAINING, **tiny.SHALLOW, "scales": 3, "channels": 4, "style_weight": 1e6,
        "batch_size": 2, "checkpoint_every": 2}


def train_tiny(data, **options):
    """``styx.train("texture-nets", ...)`` with :data:`TINY` options on the test images."""
    values = {**TINY, "style": data["style"], "content_dir": data["content"], **options}
    return styx.train("texture-nets", **values)


def tiny_config(data, **options):
    from styx.plugins.methods.texture_nets.config import TextureNetsTrainConfig

    return TextureNetsTrainConfig(**{**TINY, "style": data["style"],
                                     "content_dir": data["content"], **options})


def stylize(model, content, **options):
    return styx.stylize("texture-nets", content, model=model, **options).image


def png_size(path: Path) -> tuple[int, int]:
    with Image.open(path) as image:
        return image.size


# -- the generator ---------------------------------------------------------------------------
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("padding", PADDINGS)
@pytest.mark.parametrize("size", [(37, 53), (1, 9), (1, 1), (2, 3), (64, 64)])
def test_every_padding_mode_keeps_any_size(padding, size, variant):
    torch.manual_seed(0)
    network = TextureNetwork(GeneratorConfig(padding=padding, scales=6, variant=variant)).eval()
    content = torch.rand(2, 3, *size)
    with torch.no_grad():
        out = network(content)
    assert out.shape == (2, 3, *size)
    assert torch.isfinite(out).all() and out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize("norm", NORMS)
def test_norms_train_on_odd_sizes_and_gradients_reach_every_scale(norm):
    torch.manual_seed(0)
    network = TextureNetwork(GeneratorConfig(norm=norm, scales=4, channels=4)).train()
    out = network(torch.rand(3, 3, 37, 53))
    out.mean().backward()
    for name, parameter in network.named_parameters():
        assert parameter.grad is not None, name
    # Every scale's branch receives a gradient, the coarsest included.
    for branch in network.branches:
        assert branch[1].weight.grad.abs().sum() > 0


def test_the_pyramid_sizes_halve_rounding_up():
    assert halved_sizes(37, 53, 6) == [(37, 53), (19, 27), (10, 14), (5, 7), (3, 4), (2, 2)]
    assert halved_sizes(1, 5, 3) == [(1, 5), (1, 3), (1, 2)]


def test_channels_grow_by_scale_as_in_the_reference():
    network = TextureNetwork(GeneratorConfig(scales=6, channels=8))
    assert [join[1].out_channels for join in network.joins] == [16, 24, 32, 40, 48]
    assert network.to_rgb.in_channels == 48
    assert network.branches[0][1].in_channels == 3 + 3  # content + noise


def test_noise_is_an_input():
    torch.manual_seed(0)
    network = TextureNetwork(GeneratorConfig(scales=3, channels=4)).eval()
    content = torch.rand(1, 3, 20, 28)
    noise = network.make_noise(1, 20, 28, generator=torch.Generator().manual_seed(1))
    assert noise.shape == (1, network.noise_depth, 20, 28)
    with torch.no_grad():
        a, b = network(content, noise), network(content, noise)
        c = network(content, network.make_noise(1, 20, 28,
                                                 generator=torch.Generator().manual_seed(2)))
    assert torch.equal(a, b)
    assert not torch.allclose(a, c)
    with pytest.raises(StyxError, match="noise channels"):
        network(content, torch.rand(1, 2, 20, 28))


def test_without_noise_channels_the_output_is_deterministic():
    network = TextureNetwork(GeneratorConfig(scales=3, channels=4, noise_channels=0)).eval()
    content = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(network(content), network(content))


def test_texture_generator_makes_any_size_from_noise_only():
    torch.manual_seed(0)
    network = TextureNetwork(GeneratorConfig(content_channels=0, scales=4)).eval()
    with torch.no_grad():
        by_size = network(size=(33, 71))
        noise = network.make_noise(2, 19, 5)
        by_noise = network(None, noise)
    assert by_size.shape == (1, 3, 33, 71)
    assert by_noise.shape == (2, 3, 19, 5)
    with pytest.raises(StyxError, match="noise or an output size"):
        network()


@pytest.mark.parametrize("variant", VARIANTS)
def test_circular_padding_makes_the_generator_shift_equivariant(variant):
    """With circular padding a shift of the noise by a whole coarse pixel shifts the texture
    by the same amount: the texture tiles. Zero padding breaks this at the borders."""
    torch.manual_seed(0)
    shift = 2 ** 2  # one pixel of the coarsest of 3 scales

    def shifted_difference(padding: str) -> float:
        network = TextureNetwork(GeneratorConfig(content_channels=0, scales=3,
                                                  padding=padding, variant=variant)).eval()
        noise = network.make_noise(1, 32, 32, generator=torch.Generator().manual_seed(3))
        with torch.no_grad():
            out = network(None, noise)
            rolled = network(None, torch.roll(noise, (shift, shift), dims=(2, 3)))
        return float((torch.roll(out, (shift, shift), dims=(2, 3)) - rolled).abs().max())

    assert shifted_difference("circular") < 1e-5
    assert shifted_difference("zero") > 1e-3


def test_bad_generator_settings_are_styx_errors():
    with pytest.raises(StyxError, match="bad --padding 'mirror'"):
        GeneratorConfig(padding="mirror")
    with pytest.raises(StyxError, match="bad --norm 'layer'"):
        GeneratorConfig(norm="layer")
    with pytest.raises(StyxError, match="bad --scales 13"):
        GeneratorConfig(scales=13)
    with pytest.raises(StyxError, match="scales"):
        GeneratorConfig(scales=0)
    with pytest.raises(StyxError, match="noise"):
        GeneratorConfig(content_channels=0, noise_channels=0)
    with pytest.raises(StyxError, match="newer styx"):
        GeneratorConfig.from_dict({"scales": 3, "wings": 2})
    assert GeneratorConfig(padding="zeros").padding == "zero"
    network = TextureNetwork(GeneratorConfig(scales=2))
    with pytest.raises(StyxError, match="content image"):
        network(None)
    with pytest.raises(StyxError, match="N x 3 x H x W"):
        network(torch.rand(1, 1, 8, 8))


def test_onnx_export_with_explicit_noise_matches_torch(tmp_path):
    """The forward pass traces: content and noise in, dynamic sizes, same numbers."""
    import warnings

    onnxruntime = pytest.importorskip("onnxruntime")
    torch.manual_seed(0)
    network = TextureNetwork(GeneratorConfig(scales=4, channels=4)).eval()
    path = tmp_path / "generator.onnx"
    content = torch.rand(1, 3, 32, 40)
    noise = network.make_noise(1, 32, 40)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(network, (content, noise), str(path), dynamo=False, opset_version=17,
                          input_names=["content", "noise"], output_names=["image"],
                          dynamic_axes={"content": {0: "n", 2: "h", 3: "w"},
                                        "noise": {0: "n", 2: "h", 3: "w"}})
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for size in [(32, 40), (37, 53)]:  # a size other than the traced one, odd too
        content = torch.rand(1, 3, *size)
        noise = network.make_noise(1, *size)
        (out,) = session.run(None, {"content": content.numpy(), "noise": noise.numpy()})
        with torch.no_grad():
            expected = network(content, noise).numpy()
        assert out.shape == expected.shape
        assert np.abs(out - expected).max() < 1e-4


# -- the plugin ------------------------------------------------------------------------------
def test_plugin_registers_the_method():
    from styx.core.plugins import methods

    spec = methods().get("ulyanov")
    assert spec.name == "texture-nets" and spec.feed_forward
    assert methods().get("texture_nets") is spec
    assert spec.commands == ("run", "train", "export")


def test_config_module_imports_no_torch():
    code = ("import sys; import styx.plugins.methods.texture_nets.config, "
            "styx.plugins.methods.texture_nets, styx.cli.run, styx.cli.train, styx.cli.export; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


# -- training --------------------------------------------------------------------------------
def test_short_training_lowers_the_loss(data):
    from styx.plugins.methods.texture_nets.task import TextureNetsTask

    trained = train_tiny(data, output=data["root"] / "model", iterations=40, lr=1e-2,
                         log_every=5, checkpoint_every=0)
    task = TextureNetsTask(tiny_config(data, style_size=32))
    torch.manual_seed(0)
    untrained = task.build_model()
    batch = torch.stack([torch.from_numpy(pattern(32, 32, s)).permute(2, 0, 1).float() / 255
                         for s in (11, 12)])

    def loss_of(model):
        model.eval()
        torch.manual_seed(5)  # the same noise for both
        with torch.no_grad():
            return float(task.training_step(model, batch, 0).total)

    before, after = loss_of(untrained), loss_of(trained.generator)
    history = trained.result.history
    assert after < 0.5 * before, (before, after)
    assert history[-1]["total"] < history[0]["total"]
    assert trained.path == data["root"] / "model"


def test_save_load_and_stylise_round_trip(data):
    from styx.generators.models import Model
    from styx.plugins.methods.texture_nets.api import synthesize_texture

    trained = train_tiny(data, name="tiny")
    assert trained.path.name == "tiny"
    model = styx.load_model("tiny")
    network, metadata = model.generator, model.metadata
    assert isinstance(network, TextureNetwork) and model.method == "texture-nets"
    for key, value in trained.generator.state_dict().items():
        assert torch.equal(network.state_dict()[key], value), key
    assert metadata["method"] == "texture-nets"
    assert metadata["architecture"] == trained.generator.config.to_dict()
    assert metadata["style"]["name"] == "style.png"
    assert len(metadata["style"]["sha256"]) == 64
    assert metadata["loss"]["style_layers"] == {"relu1_1": 1.0, "relu2_1": 1.0}
    assert metadata["training"]["iterations"] == 4
    assert metadata["training"]["skipped_files"] == 1  # broken.png
    assert metadata["styx_version"]

    content = torch.rand(1, 3, 37, 53)
    by_name = stylize("tiny", content, seed=3, device="cpu")
    by_path = stylize(trained.path, content, seed=3, device="cpu")
    in_memory = stylize(Model(trained.generator, trained.metadata), content, seed=3,
                        device="cpu")
    assert by_name.shape == (1, 3, 37, 53)
    assert torch.equal(by_name, by_path) and torch.allclose(by_name, in_memory)
    assert not torch.allclose(by_name, stylize("tiny", content, seed=4, device="cpu"))
    assert torch.equal(model(content, seed=3, device="cpu"), by_name)  # the Model calls
    texture = synthesize_texture(model, (20, 30), seed=1, batch=2, device="cpu")
    assert texture.shape == (2, 3, 20, 30)
    assert torch.equal(texture, synthesize_texture(model, (20, 30), seed=1, batch=2,
                                                   device="cpu"))
    one = styx.stylize("texture-nets", model="tiny", texture=True, size="30x20", seed=1,
                       device="cpu").image
    assert torch.equal(one, synthesize_texture(model, (20, 30), seed=1, device="cpu"))


def test_resume_after_an_interruption_matches_an_uninterrupted_run(data, interrupted_at):
    from styx.plugins.methods.texture_nets.task import TextureNetsTask

    config = {"iterations": 6, "checkpoint_every": 2}
    straight = train_tiny(data, output=data["root"] / "straight", **config,
                          run_dir=data["root"] / "run-straight")

    run_dir = data["root"] / "run-resumed"
    with interrupted_at(TextureNetsTask, 3), pytest.raises(KeyboardInterrupt):
        train_tiny(data, output=data["root"] / "resumed", **config, run_dir=run_dir)
    assert (run_dir / "checkpoint.safetensors").is_file()
    assert not (data["root"] / "resumed").exists()  # no model until training finishes

    resumed = train_tiny(data, output=data["root"] / "resumed", **config,
                         run_dir=run_dir, resume=True)
    assert [h["step"] for h in resumed.result.history] == [1, 2, 3, 4, 5, 6]
    # docs/training.md: bit for bit on the CPU, the losses and the weights.
    assert [h["total"] for h in resumed.result.history] == \
        [h["total"] for h in straight.result.history]
    resumed_state = resumed.generator.state_dict()
    for key, value in straight.generator.state_dict().items():
        assert torch.equal(resumed_state[key], value), key


def test_resume_with_another_style_is_refused(data):
    run_dir = data["root"] / "run"
    train_tiny(data, output=data["root"] / "m1", iterations=2, run_dir=run_dir)
    other = write_image(data["root"] / "other.png", 40, 40, seed=9)
    with pytest.raises(StyxError, match="other settings"):
        train_tiny(data, style=other, output=data["root"] / "m1", run_dir=run_dir,
                   resume=True, iterations=4)


def test_existing_model_is_refused_before_training(data, monkeypatch):
    train_tiny(data, name="taken", iterations=1)
    from styx.training import loop as training

    def no_training(*args, **kwargs):
        raise AssertionError("training started although the name is taken")

    monkeypatch.setattr(training, "train", no_training)
    with pytest.raises(StyxError, match="already exists"):
        train_tiny(data, name="taken", iterations=1)



def test_overwrite_retrains_a_taken_name_from_scratch(data):
    first = train_tiny(data, name="again", iterations=2)
    second = train_tiny(data, name="again", overwrite=True, iterations=3)
    # A fresh run: it did not resume the first run's checkpoint, and it replaced the model.
    assert second.result.iterations_done == 3
    assert second.result.history[0]["step"] == 1
    assert second.path == first.path
    assert second.metadata["training"]["iterations"] == 3


def test_a_failed_overwrite_keeps_the_earlier_runs_checkpoint(data):
    first = train_tiny(data, name="keep", iterations=2)
    checkpoint = data["root"] / "home" / "runs" / "keep" / "checkpoint.safetensors"
    before = checkpoint.read_bytes()
    with pytest.raises(StyxError):
        train_tiny(data, name="keep", overwrite=True, content_dir=data["root"] / "nowhere",
                   iterations=2)
    assert checkpoint.read_bytes() == before
    assert first.path.is_dir()


def test_batch_of_one_trains_down_to_one_pixel_maps(data):
    # 32 px crops over 6 scales put 1x1 maps at the coarsest scale; instance norm must cope.
    trained = train_tiny(data, name="one", scales=6, channels=4, iterations=2, batch_size=1)
    assert trained.result.iterations_done == 2


# -- the commands ----------------------------------------------------------------------------
def test_train_and_run_commands(data, styx_cli):
    root = data["root"]
    log = root / "log.jsonl"
    result = styx_cli("train", "texture-nets", "--style", str(data["style"]),
                      "--content-dir", str(data["content"]), "--name", "cli-model",
                      "--iterations", "3", "--checkpoint-every", "2", "--log-every", "1",
                      "--padding", "reflect", "--norm", "batch", "--json",
                      "--log-json", str(log), *TINY_TRAIN)
    assert result.exit_code == 1, result.stderr  # the model is saved; broken.png was skipped
    assert "random weights" not in result.stderr  # --quiet: no notes
    summary = json.loads(result.stdout)
    assert summary["iterations"] == 3 and summary["skipped_files"] == 1
    assert [Path(entry["input"]).name for entry in summary["failed"]] == ["broken.png"]
    assert Path(summary["model"]) == root / "home" / "models" / "cli-model"
    assert {"total", "content", "style", "tv"} <= set(summary["final_losses"])
    assert [json.loads(line)["step"] for line in log.read_text().splitlines()] == [1, 2, 3]
    assert (root / "home" / "runs" / "cli-model" / "checkpoint.safetensors").is_file()

    listed = styx_cli("models", "list", "--json")
    assert listed.exit_code == 0
    assert "cli-model" in listed.stdout and "texture-nets" in listed.stdout

    odd = write_image(root / "odd.png", 37, 53, seed=4)
    thin = write_image(root / "thin.png", 1, 9, seed=5)
    out = root / "out" / "odd.png"
    result = styx_cli("run", "texture-nets", "--model", "cli-model", str(odd), "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert png_size(out) == (53, 37)
    result = styx_cli("run", "ulyanov", "--model", "cli-model", str(odd), str(thin),
                      "--output-dir", str(root / "many"), "--format", "jpg")
    assert result.exit_code == 0, result.stderr
    assert png_size(root / "many" / "odd.jpg") == (53, 37)
    assert png_size(root / "many" / "thin.jpg") == (9, 1)

    texture = root / "texture.png"
    result = styx_cli("run", "texture-nets", "--model", "cli-model", "--texture",
                      "--size", "40x24", "-o", str(texture), "--seed", "2")
    assert result.exit_code == 0, result.stderr
    assert png_size(texture) == (40, 24)


def test_preserve_color_keeps_the_content_chroma(data, styx_cli):
    from styx.runtime.image_tensors import load_image, rgb_to_yiq

    train_tiny(data, name="colour", iterations=1)
    content = write_image(data["root"] / "photo.png", 32, 40, seed=6)
    out = data["root"] / "kept.png"
    result = styx_cli("run", "texture-nets", "--model", "colour", str(content), "-o", str(out),
                      "--preserve-color")
    assert result.exit_code == 0, result.stderr
    chroma_in = rgb_to_yiq(load_image(content))[:, 1:]
    chroma_out = rgb_to_yiq(load_image(out))[:, 1:]
    assert (chroma_in - chroma_out).abs().mean() < 0.02


def test_texture_mode_trains_without_content_and_synthesises_any_size(data, styx_cli):
    root = data["root"]
    result = styx_cli("train", "texture-nets", "--style", str(data["style"]), "--texture",
                      "--output", str(root / "tex-model"), "--iterations", "2", *TINY_TRAIN)
    assert result.exit_code == 0, result.stderr
    metadata = json.loads((root / "tex-model" / "model.json").read_text())
    assert metadata["texture"] is True
    assert metadata["architecture"]["content_channels"] == 0
    assert metadata["loss"]["content_layers"] == {}
    out = root / "tex.png"
    result = styx_cli("run", "texture-nets", "--model", str(root / "tex-model"), "--texture",
                      "--size", "45x17", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert png_size(out) == (45, 17)
    photo = write_image(root / "photo.png", 20, 20)
    result = styx_cli("run", "texture-nets", "--model", str(root / "tex-model"), str(photo),
                      "-o", str(root / "x.png"))
    assert result.exit_code == 2 and "texture generator" in result.stderr
    assert not (root / "x.png").exists()


def test_unreadable_content_is_skipped_but_all_unreadable_is_an_error(data, styx_cli):
    bad = data["root"] / "all-bad"
    bad.mkdir()
    (bad / "one.jpg").write_bytes(b"garbage")
    (bad / "two.png").write_bytes(b"")
    result = styx_cli("train", "texture-nets", "--style", str(data["style"]),
                      "--content-dir", str(bad), "--name", "never", "--iterations", "2",
                      *TINY_TRAIN)
    assert result.exit_code == 2
    assert "can be read" in result.stderr and "Traceback" not in result.stderr
    assert not (data["root"] / "home" / "models" / "never").exists()
    empty = data["root"] / "empty"
    empty.mkdir()
    result = styx_cli("train", "texture-nets", "--style", str(data["style"]),
                      "--content-dir", str(empty), "--iterations", "2", *TINY_TRAIN)
    assert result.exit_code == 2 and "no images found" in result.stderr


@pytest.mark.parametrize("problem", ["missing-name", "missing-path", "not-a-model", "a-file",
                                     "other-method", "damaged-weights", "wrong-architecture"])
def test_bad_model_is_a_styx_error(data, styx_cli, problem):
    from styx.files.modelstore import save_model

    root = data["root"]
    content = write_image(root / "photo.png", 20, 20)
    if problem in ("damaged-weights", "wrong-architecture"):
        train_tiny(data, output=root / "model", iterations=1)
    model = {
        "missing-name": "no-such-model",
        "missing-path": str(root / "nowhere" / "model"),
        "not-a-model": str(root / "content"),
        "a-file": str(content),
        "other-method": str(root / "model"),
        "damaged-weights": str(root / "model"),
        "wrong-architecture": str(root / "model"),
    }[problem]
    expected = {
        "missing-name": "no model named", "missing-path": "no model at",
        "not-a-model": "not a styx model", "a-file": "not a styx model",
        "other-method": "'stylebank'", "damaged-weights": "cannot read",
        "wrong-architecture": "does not fit",
    }[problem]
    if problem == "other-method":
        save_model({"w": torch.zeros(2)}, {"method": "stylebank"}, path=root / "model")
    elif problem == "damaged-weights":
        (root / "model" / "model.safetensors").write_bytes(b"\x00" * 40)
    elif problem == "wrong-architecture":
        meta_path = root / "model" / "model.json"
        meta = json.loads(meta_path.read_text())
        meta["architecture"]["channels"] = 5
        meta_path.write_text(json.dumps(meta))
    out = root / "out.png"
    result = styx_cli("run", "texture-nets", "--model", model, str(content), "-o", str(out))
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert expected in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) <= 2
    assert not out.exists()


def test_run_option_errors(data, styx_cli):
    root = data["root"]
    photo = write_image(root / "photo.png", 20, 20)
    cases = [
        (["--model", "m"], "no content image"),
        ([str(photo)], "missing --model"),
        (["--model", "m", str(photo)], "missing --output"),
        (["--model", "m", str(photo), str(photo), "-o", str(root / "o.png")], "--output-dir"),
        (["--model", "m", str(photo), "-o", str(root / "o.png"), "--output-dir", str(root)],
         "not both"),
        (["--model", "m", "--texture", str(photo), "-o", str(root / "o.png")],
         "no content images"),
        (["--model", "m", "--texture", "-o", str(root / "o.png"), "--size", "0x3"], "size"),
        (["--model", "m", str(root / "missing.png"), "-o", str(root / "o.png")], "not found"),
        (["--model", "m", str(photo), "-o", str(root / "o.xyz")], "xyz"),
    ]
    for args, message in cases:
        result = styx_cli("run", "texture-nets", *args)
        assert result.exit_code == 2, (args, result.stderr)
        assert message in result.stderr, (args, result.stderr)
    assert not (root / "o.png").exists()


def test_train_option_errors(data, styx_cli):
    base = ["train", "texture-nets", "--style", str(data["style"])]
    cases = [
        ([], "--content-dir"),
        (["--content-dir", str(data["content"]), "--padding", "mirror"], "padding"),
        (["--content-dir", str(data["content"]), "--norm", "layer"], "bad --norm"),
        (["--content-dir", str(data["content"]), "--iterations", "0"], "--iterations"),
        (["--content-dir", str(data["content"]), "--lr", "-1"], "--lr"),
        (["--content-dir", str(data["content"]), "--name", "a", "-o", "b"], "not both"),
        (["--content-dir", str(data["content"]), "--name", "bad/name"], "bad model name"),
        (["--content-dir", str(data["content"]), "--style-layers", "relu9_9"], "relu9_9"),
        (["--content-dir", str(data["content"]), "--descriptor", "vgg91"], "vgg19"),
        (["--content-dir", str(data["content"]), "--style-loss", "tv"], "works on image"),
        (["--content-dir", str(data["content"]), "--texture"], "leave out --content-dir"),
    ]
    for args, message in cases:
        result = styx_cli(*base, *args, "--weights", "random", "--quiet")
        assert result.exit_code == 2, (args, result.stderr)
        assert message in result.stderr, (args, result.stderr)
    result = styx_cli("train", "texture-nets", "--style", str(data["root"] / "nope.jpg"),
                      "--content-dir", str(data["content"]), "--weights", "random")
    assert result.exit_code == 2 and "not found" in result.stderr


# -- several processes -----------------------------------------------------------------------
@pytest.mark.slow
def test_two_process_gloo_training_writes_the_model_once(data):
    root = data["root"]
    summaries = torchrun_styx(
        ["train", "texture-nets", "--style", str(data["style"]), "--content-dir",
         str(data["content"]), "--name", "ddp", "--device", "cpu", "--iterations", "3",
         "--checkpoint-every", "2", "--log-every", "1", "--json", *TINY_TRAIN],
        env={"STYX_HOME": str(root / "home")}, failed=True)  # broken.png: exit 1
    assert len(summaries) == 1  # rank 0 alone reports and saves
    assert [Path(entry["input"]).name for entry in summaries[0]["failed"]] == ["broken.png"]
    assert summaries[0]["iterations"] == 3
    models = root / "home" / "models"
    assert [p.name for p in models.iterdir()] == ["ddp"]  # no temp folder left behind
    metadata = json.loads((models / "ddp" / "model.json").read_text())
    assert metadata["method"] == "texture-nets"
    out = stylize("ddp", torch.rand(1, 3, 24, 24), seed=0, device="cpu")
    assert out.shape == (1, 3, 24, 24)


def test_descriptor_options_reach_the_descriptor_and_the_model(data, styx_cli):
    result = styx_cli("train", "texture-nets", "--style", str(data["style"]),
                      "--content-dir", str(data["content"]), "--name", "avg-pool",
                      "--iterations", "1", "--descriptor-option", "pooling=avg", *TINY_TRAIN)
    assert result.exit_code == 0, result.stderr
    metadata = json.loads((data["root"] / "home" / "models" / "avg-pool" / "model.json")
                          .read_text())
    assert metadata["loss"]["descriptor_options"] == {"pooling": "avg"}

    bad = styx_cli("train", "texture-nets", "--style", str(data["style"]),
                   "--content-dir", str(data["content"]), "--name", "bad-option",
                   "--iterations", "1", "--descriptor-option", "pooling=median", *TINY_TRAIN)
    assert bad.exit_code == 2
    assert "pooling" in bad.stderr and "Traceback" not in bad.stderr
    assert not (data["root"] / "home" / "models" / "bad-option").exists()


def test_instance_norm_matches_torch_and_copes_with_single_values():
    from styx.generators.blocks import InstanceNorm

    norm = InstanceNorm(4)
    with torch.no_grad():
        norm.weight.copy_(torch.tensor([1.0, 2.0, 0.5, -1.0]))
        norm.bias.copy_(torch.tensor([0.0, 0.1, -0.2, 0.3]))
    x = torch.randn(2, 4, 5, 3)
    expected = torch.nn.functional.instance_norm(x, weight=norm.weight, bias=norm.bias)
    torch.testing.assert_close(norm(x), expected, rtol=1e-4, atol=1e-5)
    single = norm(torch.randn(1, 4, 1, 1, requires_grad=True))
    torch.testing.assert_close(single.detach().flatten(), norm.bias.detach())
    single.sum().backward()  # the graph stays intact for training


# -- review fixes ----------------------------------------------------------------------------
def test_output_dir_names_never_collide_even_on_case_insensitive_disks(tmp_path):
    from styx.cli.run import output_paths

    contents = [Path("x/a.jpg"), Path("y/A.jpg"), Path("y/a.png"), Path("y/a-2.jpg"),
                Path("z/A-2.JPG")]
    paths = output_paths(contents, None, tmp_path, "PNG")
    names = [p.name for p in paths]
    assert len({n.casefold() for n in names}) == len(contents), names
    assert names[0] == "a.png" and all(p.parent == tmp_path for p in paths)


def test_an_existing_output_folder_hint_does_not_suggest_models_rm(data, monkeypatch):
    out = data["root"] / "model-folder"
    train_tiny(data, output=out, iterations=1)
    with pytest.raises(StyxError, match="already exists") as error:
        train_tiny(data, output=out, iterations=1)
    assert "models rm" not in error.value.hint and "--overwrite" in error.value.hint


def test_a_run_dir_that_is_a_file_is_refused_before_anything_is_written(data, styx_cli):
    a_file = data["root"] / "not-a-folder"
    a_file.write_text("x")
    for content in (["--content-dir", str(data["content"])], ["--texture"]):
        result = styx_cli("train", "texture-nets", "--style", str(data["style"]), *content,
                          "--name", "m", "--run-dir", str(a_file), "--iterations", "1",
                          *TINY_TRAIN)
        assert result.exit_code == 2, result.stderr
        assert "is a file, not a folder" in result.stderr and "Traceback" not in result.stderr
    result = styx_cli("train", "texture-nets", "--style", str(data["style"]),
                      "--content-dir", str(data["content"]), "--name", "m",
                      "--log-json", str(data["root"]), "--iterations", "1", *TINY_TRAIN)
    assert result.exit_code == 2 and "is a folder" in result.stderr
    assert not (data["root"] / "home" / "models" / "m").exists()
    assert a_file.read_text() == "x"


def test_loss_options_reach_the_losses_and_the_metadata(data):
    trained = train_tiny(data, output=data["root"] / "model", iterations=2,
                         loss_options=["tv.power=1.5", "gram.normalization=gatys"])
    assert trained.metadata["loss"]["loss_options"] == {
        "style": {"normalization": "gatys"}, "tv": {"power": 1.5}}
    from styx.plugins.methods.texture_nets.task import TextureNetsTask

    task = TextureNetsTask(tiny_config(data, loss_options={"tv": {"power": 1.5}}))
    assert task.objective.tv_loss.power == 1.5
