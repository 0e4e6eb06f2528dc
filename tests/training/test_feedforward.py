"""A feed-forward method is a config, a task and a Generator: everything else is shared.

A third-party method defined here ("shade": a one-layer generator that learns 1 - x) is
trained, stored, listed, loaded, run from the command line and as a library call, with no
code of its own for any of it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

import styx
from styx.core.bundles import (
    ConvGeneratorOptions,
    LossOptions,
    ModelOutputOptions,
    ModelRunOptions,
    TrainingOptions,
)
from styx.core.checks import existing_path, number
from styx.core.config import option
from styx.core.errors import StyxError
from styx.core.inputs import content_image
from styx.core.specs import MethodSpec
from styx.generators.blocks import conv
from styx.generators.generator import Generator
from styx.generators.models import Model, load_model, run_feed_forward
from styx.training.feedforward import PerceptualTask, train_generator


class Shade(Generator):
    """A 3x3 convolution and a sigmoid: the smallest generator there is."""

    inputs = (content_image(),)

    def __init__(self, width: int = 4) -> None:
        super().__init__()
        self.width = width
        self.net = nn.Sequential(nn.Conv2d(3, width, 3, padding=1), nn.ReLU(),
                                 nn.Conv2d(width, 3, 1))

    def architecture(self) -> dict:
        return {"width": self.width}

    @classmethod
    def from_architecture(cls, architecture: dict) -> Shade:
        return cls(**architecture)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.net(image))


@dataclass(kw_only=True)
class ShadeTrainConfig(TrainingOptions, ModelOutputOptions):
    content_dir: Path | None = option(None, help="Photos to learn from.")
    width: int = option(4, check=number(minimum=1, integer=True), help="Channels.")

    def default_model_name(self) -> str:
        return "shade"


class ShadeTask:
    def __init__(self, config: ShadeTrainConfig) -> None:
        self.config = config

    def build_model(self) -> Shade:
        return Shade(self.config.width)

    def training_step(self, model, batch, step):
        return F.mse_loss(model(batch), 1.0 - batch)

    def metadata(self) -> dict:
        return {"method": "shade", "width": self.config.width}


HOOKED: list[int] = []


def train_shade(config: ShadeTrainConfig):
    return train_generator(ShadeTask(config), config, content_dir=config.content_dir,
                           hook=lambda model, step, terms: HOOKED.append(step))


class ShadePlugin:
    @styx.hookimpl
    def register_methods(self, register):
        register(MethodSpec(name="shade", summary="Learns 1 - x.", config=ModelRunOptions,
                            run=run_feed_forward, train_config=ShadeTrainConfig,
                            train=train_shade, generator=Shade))


@pytest.fixture
def shade(use_plugins, tmp_path, monkeypatch):
    monkeypatch.setenv("STYX_HOME", str(tmp_path / "home"))
    HOOKED.clear()
    use_plugins({"shade": ShadePlugin()})
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for index in range(3):
        pixels = rng.integers(0, 256, size=(24, 30, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(photos / f"p{index}.png")
    return {"photos": photos, "root": tmp_path}


TINY = {"iterations": 3, "batch_size": 2, "image_size": 16, "quiet": True, "device": "cpu",
        "checkpoint_every": 0}


def test_a_plugin_method_trains_saves_and_loads_through_the_shared_machinery(shade):
    trained = styx.train("shade", content_dir=shade["photos"], name="s1", width=5, **TINY)
    assert trained.path == shade["root"] / "home" / "models" / "s1"
    assert HOOKED == [0, 1, 2]  # the method's step hook ran at every step
    metadata = trained.metadata
    assert metadata["method"] == "shade" and metadata["architecture"] == {"width": 5}
    assert metadata["training"]["iterations"] == 3
    assert metadata["training"]["content_dir"] == str(shade["photos"])
    assert set(metadata["training"]["final_losses"]) >= {"total"}

    model = styx.load_model("s1")  # rebuilt through the method's registration
    assert isinstance(model, Model) and isinstance(model.generator, Shade)
    assert model.generator.width == 5 and model.method == "shade"
    for key, value in trained.generator.state_dict().items():
        assert torch.equal(model.generator.state_dict()[key], value), key
    assert [info.name for info in styx.list_models()] == ["s1"]


def test_the_default_name_and_the_output_folder(shade):
    by_default = styx.train("shade", content_dir=shade["photos"], **TINY)
    assert by_default.path.name == "shade" and by_default.name == "shade"
    folder = shade["root"] / "elsewhere" / "m"
    at_path = styx.train("shade", content_dir=shade["photos"], output=folder, **TINY)
    assert at_path.path == folder and at_path.name is None
    assert (folder.parent / "m.run" / "checkpoint.safetensors").is_file()
    with pytest.raises(StyxError, match="already exists"):
        styx.train("shade", content_dir=shade["photos"], output=folder, **TINY)


def test_a_loaded_model_stylises_tensors_and_pil_images(shade):
    styx.train("shade", content_dir=shade["photos"], name="s1", **TINY)
    model = styx.load_model("s1")
    tensor = torch.rand(2, 3, 11, 13)
    out = model(tensor, device="cpu")
    assert out.shape == (2, 3, 11, 13) and 0 <= float(out.min()) <= float(out.max()) <= 1
    picture = Image.new("RGB", (21, 17), (200, 30, 90))
    styled = model(picture, long_side=42)
    assert isinstance(styled, Image.Image) and styled.size == (42, 34)
    with torch.no_grad():
        expected = model.generator(tensor)
    torch.testing.assert_close(out, expected)
    with pytest.raises(StyxError, match="no content image"):
        model()
    # --amp auto by default (fp32 on this suite's CPU, see tests/conftest.py); --amp reaches
    # the generator.
    assert ModelRunOptions().amp == "auto"
    low = model(tensor, device="cpu", amp="bf16")
    assert not torch.equal(low, out) and (low - out).abs().max() < 0.05


def test_the_generated_commands_train_and_run_it(shade, styx_cli):
    result = styx_cli("train", "shade", "--content-dir", str(shade["photos"]), "--name", "cli",
                      "--iterations", "2", "--image-size", "16", "--batch-size", "2",
                      "--width", "3", "--device", "cpu", "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["iterations"] == 2 and summary["name"] == "cli"
    assert styx.load_model("cli").generator.width == 3
    said = styx_cli("train", "shade", "--content-dir", str(shade["photos"]), "--name", "said",
                    "--iterations", "1", "--image-size", "16", "--device", "cpu")
    assert said.exit_code == 0 and "saved model said to" in said.stderr
    quiet = styx_cli("train", "shade", "--content-dir", str(shade["photos"]), "--name", "hush",
                     "--iterations", "1", "--image-size", "16", "--device", "cpu", "-q")
    assert quiet.exit_code == 0 and quiet.stderr == "" and quiet.stdout == ""

    photo = shade["photos"] / "p0.png"
    out = shade["root"] / "out.png"
    result = styx_cli("run", "shade", "--model", "cli", str(photo), "-o", str(out),
                      "--long-side", "15", "--preserve-color")
    assert result.exit_code == 0, result.stderr
    with Image.open(out) as image:
        assert image.size == (15, 12)
    copy = shade["root"] / "copy.png"
    copy.write_bytes(photo.read_bytes())
    for args, said in ((["-o", str(copy)], f"-o {copy} would overwrite the input image"),
                       (["--output-dir", str(shade["root"])],
                        (f"--output-dir {shade['root']} would overwrite the input image "
                         f"{copy} (with its result, copy.png)"))):
        result = styx_cli("run", "shade", "--model", "cli", str(copy), *args)
        assert result.exit_code == 2 and said in result.stderr
    assert copy.read_bytes() == photo.read_bytes()
    folder = shade["root"] / "many"
    result = styx_cli("run", "shade", "-m", "cli", str(photo), str(shade["photos"] / "p1.png"),
                      "--output-dir", str(folder), "--json")
    assert result.exit_code == 0, result.stderr
    assert sorted(Path(p).name for p in json.loads(result.stdout)["outputs"]) == \
        ["p0.png", "p1.png"]
    # a folder stands for its images (recursively, sorted), as in styx infer
    result = styx_cli("run", "shade", "-m", "cli", str(shade["photos"]), "--output-dir",
                      str(shade["root"] / "all"), "--json")
    assert result.exit_code == 0, result.stderr
    assert [Path(p).name for p in json.loads(result.stdout)["outputs"]] == \
        [p.with_suffix(".png").name for p in sorted(shade["photos"].rglob("*.png"))]
    (shade["root"] / "empty").mkdir()
    result = styx_cli("run", "shade", "-m", "cli", str(shade["root"] / "empty"), "-o",
                      str(shade["root"] / "x.png"))
    assert result.exit_code == 2 and "no images found in" in result.stderr


def test_a_model_of_another_method_or_of_no_installed_method_is_refused(shade, tmp_path):
    from styx.files.modelstore import save_model

    save_model({"w": torch.zeros(1)}, {"method": "texture-nets", "architecture": {}},
               name="other")
    with pytest.raises(StyxError, match="was trained by 'texture-nets', not 'shade'"):
        load_model("other", method="shade")
    with pytest.raises(StyxError, match="unknown method 'texture-nets'"):
        load_model("other")
    styx.train("shade", content_dir=shade["photos"], name="s1", **TINY)
    with pytest.raises(StyxError, match="runs a trained model; none was given"):
        styx.stylize("shade", torch.rand(1, 3, 8, 8))


def test_a_model_the_store_could_not_rebuild_fails_before_training(shade):
    class Plain(ShadeTask):
        def build_model(self):
            return nn.Conv2d(3, 3, 1)

    class Forgetful(Shade):
        def architecture(self):
            return {}  # rebuilds a Shade of the default width, not this one

    class Other(ShadeTask):
        def build_model(self):
            return Forgetful(self.config.width)

    config = ShadeTrainConfig(content_dir=shade["photos"], name="bad", width=7, **TINY)
    for task, message in ((Plain(config), "not a styx.generators.generator.Generator"),
                          (Other(config), "does not rebuild the same network")):
        with pytest.raises(TypeError, match=message):
            train_generator(task, config, content_dir=config.content_dir)
        assert HOOKED == [] and not (shade["root"] / "home" / "runs" / "bad").exists()

    class Wrong(ShadeTask):
        def metadata(self):
            return {"method": "texture-nets"}

    with pytest.raises(StyxError, match="unknown method 'texture-nets'"):
        train_generator(Wrong(config), config, content_dir=config.content_dir)


def test_example_inputs_follow_the_input_names():
    from styx.plugins.methods.texture_nets.generator import GeneratorConfig, TextureNetwork

    assert set(Shade(4).example_inputs(2, 8, 10)) == {"image"}
    assert Shade(4).example_inputs(2, 8, 10)["image"].shape == (2, 3, 8, 10)
    network = TextureNetwork(GeneratorConfig(scales=3, channels=4))
    assert network.input_names == ("image", "noise")
    inputs = network.example_inputs(1, 12, 20)
    assert inputs["noise"].shape == (1, network.noise_depth, 12, 20)
    assert torch.equal(inputs["noise"], network.example_inputs(1, 12, 20)["noise"])  # seeded
    texture = TextureNetwork(GeneratorConfig(scales=3, content_channels=0))
    assert texture.input_names == ("noise",) and not texture.takes_image
    assert texture(**texture.example_inputs(2, 9, 7)).shape == (2, 3, 9, 7)
    rebuilt = TextureNetwork.from_architecture(network.architecture())
    assert rebuilt.architecture() == network.architecture()


# -- a method that registers only its task (docs/plugins.md, "Feed-forward methods") -------
@dataclass(kw_only=True)
class SwirlShape(ConvGeneratorOptions):
    width: int = option(4, check=number(minimum=1, integer=True), help="Channels.")


class Swirler(Generator):
    """Built from a config: ``architecture`` and ``from_architecture`` come from the base."""

    inputs = (content_image(),)
    config_class = SwirlShape

    def __init__(self, config: SwirlShape) -> None:
        super().__init__()
        self.config = config
        self.net = nn.Sequential(conv(3, config.width, 3, padding=config.padding), nn.ReLU(),
                                 nn.Conv2d(config.width, 3, 1))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.net(image))


@dataclass(kw_only=True)
class SwirlTrainConfig(LossOptions, TrainingOptions, ModelOutputOptions):
    style: Path = option(check=existing_path("file"), help="The style image.")
    content_dir: Path = option(check=existing_path("folder"), help="Photos to train on.")
    width: int = option(4, check=number(minimum=1, integer=True), help="Channels.")
    content_weight: float = 1.0
    style_weight: float = 1e5
    tv_weight: float = 1e-3


class SwirlTask(PerceptualTask):
    method = "swirl"

    def __init__(self, config: SwirlTrainConfig) -> None:
        super().__init__(config, [config.style])
        self.shape = SwirlShape(width=config.width)

    def build_model(self) -> Swirler:
        return Swirler(self.shape)

    def training_step(self, model, batch, step):
        objective = self.objective_on(batch.device)
        return objective(model(batch), objective.content_targets(batch))

    def architecture(self) -> dict:
        return self.shape.to_dict()

    def describe(self) -> dict:
        return {"style": self.style_records[0]}


class SwirlPlugin:
    @styx.hookimpl
    def register_methods(self, register):
        register(MethodSpec(name="swirl", summary="A perceptual task, nothing more.",
                            config=ModelRunOptions, run=run_feed_forward,
                            train_config=SwirlTrainConfig, task=SwirlTask,
                            generator=Swirler))


def test_a_method_that_registers_its_task_trains_with_the_shared_machinery(
        use_plugins, tmp_path, monkeypatch):
    import tiny

    from styx.files.image_arrays import sample_image
    from styx.files.modelstore import sha256_file
    from styx.plugins.descriptors import vgg
    from styx.plugins.losses import builtin

    monkeypatch.setenv("STYX_HOME", str(tmp_path / "home"))
    use_plugins({"vgg": vgg, "losses": builtin, "swirl": SwirlPlugin()})
    style = sample_image("style")
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.open(sample_image("content")).resize((48, 36)).save(photos / "p.png")
    assert styx.list_methods()[0].commands == ("run", "train", "export")
    trained = styx.train("swirl", style=style, content_dir=photos, name="sw", width=3,
                         **{**tiny.TRAINING, **tiny.SHALLOW, "descriptor": "vgg16"})
    metadata = trained.metadata
    assert metadata["method"] == "swirl" and metadata["styx_version"] == styx.__version__
    assert metadata["architecture"] == {"padding": "circular", "norm": "instance", "width": 3}
    assert metadata["style"] == {"file": style.name, "sha256": sha256_file(style),
                                 "size": [20, 32]}  # the style at --image-size: 32 px long
    assert metadata["loss"]["descriptor"] == "vgg16" and metadata["loss"]["style_size"] == 32
    assert trained.result.iterations_done == tiny.TRAINING["iterations"]
    model = styx.load_model("sw")  # rebuilt by Swirler's config_class alone
    assert model.generator.config == SwirlShape(width=3)
    out = model(torch.rand(1, 3, 20, 24))
    assert out.shape == (1, 3, 20, 24) and 0 <= float(out.min()) <= float(out.max()) <= 1
    with pytest.raises(StyxError, match="already exists"):  # checked before the task loads
        styx.train("swirl", style=style, content_dir=photos, name="sw", **tiny.TRAINING)
