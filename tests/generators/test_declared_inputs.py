"""Inputs declared once (styx.core.inputs): a plugin's generator that takes a painting at
run time works through the command line, the library, ONNX export and styx infer with no
code of its own beyond the generator (docs/plugins.md, "Declaring inputs")."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from trained_models import read_float, write_photo

import styx
from styx.core.inputs import (
    Input,
    check_declaration,
    content_image,
    noise,
    setting,
    style_image,
)
from styx.core.specs import MethodSpec
from styx.generators.generator import Generator


class Tinter(Generator):
    """Tints a photo with the painting's mean colour (the example of docs/plugins.md)."""

    inputs = (content_image(), style_image(), setting("amount", 0.5, "How much tint."))

    def __init__(self) -> None:
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(1))

    def architecture(self):
        return {}

    @classmethod
    def from_architecture(cls, architecture):
        return cls()

    def forward(self, image, style, amount):
        colour = style.mean(dim=(2, 3), keepdim=True)
        return (image + amount.reshape(-1, 1, 1, 1) * (colour - image)) * self.scale


class TintPlugin:
    @styx.hookimpl
    def register_methods(self, register):
        register(MethodSpec(name="tint", summary="Tints photos with a painting's colour.",
                            config="styx.core.bundles:ModelRunOptions",
                            run="styx.generators.models:run_feed_forward", generator=Tinter))


@pytest.fixture
def tint(use_plugins, tmp_path):
    from styx.exports import onnx as onnx_exporter
    from styx.files.modelstore import save_model

    use_plugins({"tint": TintPlugin(), "onnx": onnx_exporter})
    model = save_model(Tinter(), {"method": "tint", "architecture": {}}, path=tmp_path / "m")
    photo = write_photo(tmp_path / "photo.png", 40, 56, seed=1)
    painting = tmp_path / "painting.png"
    from PIL import Image

    Image.new("RGB", (30, 20), (200, 40, 10)).save(painting)
    return {"model": model, "photo": photo, "painting": painting, "root": tmp_path}


def expected(photo_path, amount):
    image = read_float(photo_path)
    colour = np.array([200, 40, 10]) / 255.0
    return image + amount * (colour - image)


def test_the_command_line_offers_the_declared_painting(tint, styx_cli):
    out = tint["root"] / "out.png"
    result = styx_cli("run", "tint", "--model", str(tint["model"]), str(tint["photo"]),
                      "--style-image", str(tint["painting"]), "--amp", "off", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert np.abs(read_float(out) - expected(tint["photo"], 0.5)).max() <= 1.5 / 255
    assert "--style-image" in styx_cli("run", "tint", "--help").stdout  # feed-forward's


def test_the_library_takes_the_painting_and_the_setting_defaults(tint):
    photo = torch.from_numpy(read_float(tint["photo"])).permute(2, 0, 1)[None].float()
    out = styx.load_model(tint["model"])(photo, style=str(tint["painting"]), amp="off")
    assert np.abs(out[0].permute(1, 2, 0).numpy() - expected(tint["photo"], 0.5)).max() < 1e-3
    with pytest.raises(styx.StyxError, match="takes a style image at run time"):
        styx.load_model(tint["model"])(photo)


def test_export_and_infer_follow_the_declaration(tint, styx_cli):
    path = styx.export(tint["model"], "onnx", tint["root"] / "tint.onnx", verify=True)
    from styx.inference.onnxfile import OnnxGenerator

    inputs = OnnxGenerator.open(path, provider="cpu").metadata["inputs"]
    assert [(name, entry["kind"]) for name, entry in inputs.items()] == \
        [("image", "content"), ("style", "style"), ("amount", "setting")]
    out = tint["root"] / "infer.png"
    result = styx_cli("infer", str(path), str(tint["photo"]), "--style-image",
                      str(tint["painting"]), "--set", "amount=0.8", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert np.abs(read_float(out) - expected(tint["photo"], 0.8)).max() <= 1.5 / 255
    result = styx_cli("infer", str(path), str(tint["photo"]), "--set", "amount=1,2",
                      "--style-image", str(tint["painting"]), "-o", str(out))
    assert result.exit_code == 2 and "takes 1 value(s), not 2" in result.stderr


def test_a_style_image_of_the_photos_size_is_never_cut_into_tiles(tint):
    from styx.generators.models import apply_generator, load_model

    model = load_model(tint["model"])
    photo = torch.zeros(1, 3, 300, 400)
    painting = torch.zeros(1, 3, 300, 400)
    painting[..., :, 200:] = 1.0  # the mean colour is 0.5 only over the whole painting
    out = apply_generator(model, photo, seed=0, device="cpu", amp="off", tile=160,
                          overlap=32, style=painting)
    assert torch.allclose(out, torch.full_like(out, 0.25), atol=1e-5)


def test_declarations_are_checked():
    with pytest.raises(ValueError, match="kind 'colour' is not one of"):
        Input("x", "colour")
    with pytest.raises(ValueError, match="needs its default values"):
        Input("x", "setting")
    with pytest.raises(ValueError, match="not a Python identifier"):
        Input("two words", "style")
    with pytest.raises(ValueError, match="share a name"):
        check_declaration((content_image(), style_image("image")), "Net")
    with pytest.raises(ValueError, match="more than one content image"):
        check_declaration((content_image(), content_image("photo")), "Net")
    assert noise("noise", 4).per_pixel and not style_image().per_pixel
    assert setting("w", [1, 0]).default == (1.0, 0.0)


def test_a_generator_that_only_names_its_inputs_still_works_with_a_warning():
    class Old(Generator):
        input_names = ("image", "noise", "gain")

        def make_inputs(self, image, *, size=None, batch=1, generator=None, **options):
            return {"image": image, "noise": torch.rand(1, 2, *image.shape[-2:]),
                    "gain": torch.full((3,), 0.5)}

        def forward(self, image, noise, gain):
            return image

    with pytest.warns(DeprecationWarning, match="declare Generator.inputs"):
        declared = Old().declared_inputs()
    assert [(item.name, item.kind) for item in declared] == \
        [("image", "content"), ("noise", "noise"), ("gain", "setting")]
    assert declared[2].default == (0.5, 0.5, 0.5) and declared[1].channels == 2


def test_an_unknown_spec_field_points_to_the_upgrade_notes():
    from styx.core.specs import UnknownSpecField

    with pytest.raises(UnknownSpecField, match="MethodSpec has no field 'run_command'") as info:
        MethodSpec(name="old", summary="An old plugin.", run_command="old:command")
    assert isinstance(info.value, TypeError) and isinstance(info.value, styx.StyxError)
    assert "Upgrading a plugin written for styx 0.1" in info.value.hint
