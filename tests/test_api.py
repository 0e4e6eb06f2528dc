"""The public library API at ``styx``: the same methods, options and models as the CLI."""

from __future__ import annotations

import subprocess
import sys

import pytest
import tiny
import torch
from PIL import Image

import styx
from styx.core.method import RunResult

FAST = tiny.GATYS


def test_import_styx_is_cheap():
    code = "import sys, styx; print('torch' in sys.modules, callable(styx.stylize))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["False", "True"]


def test_stylize_takes_keyword_options_and_returns_a_result():
    content, style = torch.rand(1, 3, 24, 32), torch.rand(3, 20, 20)
    result = styx.stylize("gatys", content, style, **FAST)
    assert isinstance(result, RunResult)
    assert result.image.shape == (1, 3, 24, 32) and result.steps == 2
    assert result.config.weights == "random" and len(result.history) == 2


def test_stylize_takes_a_config_and_pil_images():
    config = styx.method_config("gatys", **FAST)
    assert config.steps == (2,) and config.to_dict()["size"] == 32
    content = Image.new("RGB", (40, 30), (30, 120, 200))
    result = styx.stylize("neural-style", content, [content.rotate(90)], config=config,
                          steps=1)  # an alias, a config and an override
    assert result.steps == 1 and config.steps == (2,)
    picture = result.to_pil()
    assert isinstance(picture, Image.Image) and picture.size == (32, 24)


def test_bad_calls_are_styx_errors():
    with pytest.raises(styx.StyxError, match="did you mean 'gatys'"):
        styx.stylize("gatis")
    with pytest.raises(styx.StyxError, match="did you mean 'steps'"):
        styx.stylize("gatys", stepz=3)
    with pytest.raises(styx.StyxError, match="not a GatysConfig"):
        styx.stylize("gatys", config=styx.method_config("texture-nets"))
    with pytest.raises(styx.StyxError, match="2 style blend weights for 1"):
        styx.stylize("gatys", style_blend="1,1", **FAST)
    with pytest.raises(styx.StyxError, match="missing --style"):
        styx.train("texture-nets", content_dir=".")
    with pytest.raises(styx.StyxError, match="method 'gatys' cannot train"):
        styx.train("gatys")


def test_listing_functions(tmp_path, monkeypatch):
    monkeypatch.setenv("STYX_HOME", str(tmp_path))
    assert {"gatys", "texture-nets"} <= {spec.name for spec in styx.list_methods()}
    assert {"vgg16", "vgg19", "resnet50", "inception_v3"} <= \
        {spec.name for spec in styx.list_descriptors()}
    assert {"content", "gram", "tv"} <= {spec.name for spec in styx.list_losses()}
    assert isinstance(styx.list_exporters(), list)
    assert styx.list_models() == []
    (tmp_path / "s.png").write_bytes(b"")
    train_config = styx.method_config("texture-nets", train=True, style=tmp_path / "s.png",
                                      texture=True)
    assert train_config.tv_weight == 1e-3 and train_config.default_model_name() == "s"


def test_a_config_changed_by_assignment_is_checked_again_when_used():
    config = styx.method_config("gatys", **FAST)
    config.steps = 1  # not checked by the assignment...
    assert styx.stylize("gatys", config=config).steps == 1  # ...but when the config is used
    config.steps = 0
    with pytest.raises(styx.StyxError, match="bad --steps 0"):
        styx.stylize("gatys", config=config)


def test_inputs_a_method_cannot_use_are_refused(tmp_path):
    from trained_models import save_texture_nets

    with pytest.raises(styx.StyxError, match="'gatys' runs no trained model"):
        styx.stylize("gatys", model="starry", **FAST)
    model = save_texture_nets(tmp_path / "tn")  # its generator declares no style input
    with pytest.raises(styx.StyxError, match="takes no style image: it holds its style"):
        styx.stylize("texture-nets", torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8),
                     model=model)
    with pytest.raises(styx.StyxError, match="unknown option 'style'"):
        styx.load_model(model)(torch.rand(1, 3, 8, 8), style=torch.rand(1, 3, 8, 8))


def test_names_are_checked_with_the_options_before_any_heavy_work():
    code = ("import sys, styx\n"
            "for options in ({'descriptor': 'vgg91'}, {'style_loss': 'tv'},\n"
            "                {'descriptor_options': {'pool': 'x'}}):\n"
            "    try:\n"
            "        styx.method_config('gatys', **options)\n"
            "    except styx.StyxError as error:\n"
            "        print(error.message)\n"
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert out == ["unknown descriptor 'vgg91'", "loss 'tv' works on image, not on features",
                   "descriptor 'vgg19' has no option 'pool'", "False"]


def test_an_exporter_names_its_methods_by_any_of_their_names():
    from styx.core.plugins import methods
    from styx.core.specs import ExporterSpec

    spec = ExporterSpec(name="x", summary="", export="m:f", methods=("ulyanov",))
    assert spec.exports(methods().get("texture-nets")) and spec.exports(methods().get("TEXTURE_NETS"))
    assert not spec.exports(methods().get("gatys"))
    assert ExporterSpec(name="y", summary="", export="m:f",
                        methods=("Texture_Nets",)).exports(methods().get("ulyanov"))


def test_gatys_takes_any_registered_loss_and_its_options():
    result = styx.stylize("gatys", style_loss="style", content_loss="mse",
                          loss_options={"tv": {"power": "1.5"}}, **FAST)
    assert result.config.loss_options == {"tv": {"power": 1.5}}
    assert result.config.term_loss_options("tv") == {"power": 1.5}
    with pytest.raises(styx.StyxError, match="has no option 'strength'"):
        styx.stylize("gatys", loss_options={"style": {"strength": 2}}, **FAST)
    with pytest.raises(styx.StyxError, match="unknown option 'gram_normalization'"):
        styx.method_config("gatys", gram_normalization="gatys")  # removed in styx 0.2
