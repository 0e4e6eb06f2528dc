"""AdaIN: any painting at run time, through every layer that the input declaration feeds
(docs/adain.md). The models are untrained (tests/trained_models.py); what is tested is
that each promise holds, not the quality of the pictures."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from trained_models import photo, read_float, run_model, save_adain, write_photo

import styx
from styx.core.errors import StyxError


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("adain")
    return {"root": root, "model": save_adain(root / "model"),
            "photo": write_photo(root / "photo.png", 72, 96, seed=0),
            "photo2": write_photo(root / "photo2.png", 72, 96, seed=5),
            "starry": write_photo(root / "starry.png", 60, 44, seed=1),
            "scream": write_photo(root / "scream.png", 50, 70, seed=2)}


def out(files, name):
    return files["root"] / "out" / name


def tensor(path):
    return torch.from_numpy(read_float(path)).permute(2, 0, 1)[None].float()


# -- the command line ------------------------------------------------------------------------
def test_a_painting_given_at_run_time_styles_the_photo(files, styx_cli):
    run_model(styx_cli, "adain", files["model"], str(files["photo"]), "--style-image",
              str(files["starry"]), "-o", str(out(files, "a.png")))
    run_model(styx_cli, "adain", files["model"], str(files["photo"]), "--style-image",
              str(files["scream"]), "-o", str(out(files, "b.png")))
    a, b = read_float(out(files, "a.png")), read_float(out(files, "b.png"))
    assert a.shape == (72, 96, 3)
    assert np.abs(a - b).mean() > 1e-3  # another painting, another picture


def test_strength_weights_and_regions_blend_as_the_paper_says(files, styx_cli):
    def run(*args):
        name = f"{len(list((files['root'] / 'out').glob('*')))}.png"
        run_model(styx_cli, "adain", files["model"], str(files["photo"]), "--amp", "off",
                  *args, "-o", str(out(files, name)))
        return read_float(out(files, name))

    starry = run("--style-image", str(files["starry"]))
    both = ["--style-image", str(files["starry"]), "--style-image", str(files["scream"])]
    assert np.abs(run(*both, "--style-weights", "1,0") - starry).max() < 2 / 255
    halfway = run(*both, "--style-weights", "1,1")
    assert np.abs(halfway - starry).mean() > 1e-3
    assert np.abs(run("--style-image", str(files["starry"]), "--strength", "0") - starry
                  ).mean() > 1e-3
    from PIL import Image

    white = files["root"] / "white.png"
    Image.new("L", (8, 8), 255).save(white)
    assert np.abs(run(*both, "--region", f"{white}:0") - starry).max() < 2 / 255
    assert np.abs(run(*both, "--region", f"{white}:starry") - starry).max() < 2 / 255


@pytest.mark.parametrize("args, message", [
    ([], "no style image given"),
    (["--style-image", "{starry}", "--style-weights", "1,2"], "2 --style-weights for 1"),
    (["--style-image", "{starry}", "--region", "{starry}:3"], "no such --style-image"),
    (["--style-image", "{root}/nothing.png"], "nothing.png"),
])
def test_bad_style_inputs_are_one_line_errors(files, styx_cli, args, message):
    args = [a.format(**files) for a in args]
    result = styx_cli("run", "adain", "--model", str(files["model"]), str(files["photo"]),
                      *args, "-o", str(out(files, "bad.png")))
    assert result.exit_code == 2 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert not out(files, "bad.png").exists()


def test_the_output_may_not_overwrite_the_painting(files, styx_cli):
    painting = files["root"] / "painting.png"
    painting.write_bytes(files["starry"].read_bytes())
    before = painting.read_bytes()
    result = styx_cli("run", "adain", "--model", str(files["model"]), str(files["photo"]),
                      "--style-image", str(painting), "-o", str(painting))
    assert result.exit_code == 2 and "would overwrite the input image" in result.stderr
    assert painting.read_bytes() == before


def test_models_that_hold_their_styles_take_no_style_image(files, styx_cli, tmp_path):
    from trained_models import save_texture_nets

    model = save_texture_nets(tmp_path / "tn")
    result = styx_cli("run", "texture-nets", "--model", str(model), str(files["photo"]),
                      "--style-image", str(files["starry"]), "-o", str(tmp_path / "o.png"))
    assert result.exit_code == 2 and "takes no style image: it holds its style" in result.stderr
    assert not (tmp_path / "o.png").exists()


def test_loading_a_model_says_nothing_about_random_weights(files, styx_cli):
    for quiet in ([], ["-q"]):
        result = run_model(styx_cli, "adain", files["model"], str(files["photo"]),
                           "--style-image", str(files["starry"]), "-o",
                           str(out(files, "q.png")), *quiet)
        assert "random weights" not in result.stderr


# -- the library -------------------------------------------------------------------------------
def test_the_library_takes_the_painting_by_the_input_name(files):
    content, painting = tensor(files["photo"]), tensor(files["starry"])
    model = styx.load_model(files["model"])
    assert model.style_inputs == ["style"]
    by_model = model(content, style=painting, amp="off")
    by_stylize = styx.stylize("adain", content, [painting], model=files["model"],
                              amp="off").image
    assert torch.allclose(by_model, by_stylize)
    with pytest.raises(StyxError, match="no style image given"):
        model(content)
    from PIL import Image

    pil = model(Image.open(files["photo"]), style=str(files["starry"]))
    assert pil.size == (96, 72)


def test_a_painting_is_never_tiled_and_is_encoded_once(files, monkeypatch):
    from styx.plugins.methods.adain.network import AdaINNetwork

    model = styx.load_model(files["model"])
    content = torch.from_numpy(photo(200, 260, 3)).permute(2, 0, 1)[None].float() / 255
    painting = torch.from_numpy(photo(200, 260, 4)).permute(2, 0, 1)[None].float() / 255
    seen = []
    encode = AdaINNetwork.encode

    def watched(self, image, layers=None):
        from styx.runtime.meta import is_fake

        if not is_fake(image):  # the memory estimate's shape pass encodes shapes only
            seen.append(tuple(image.shape[-2:]))
        return encode(self, image, layers)

    monkeypatch.setattr(AdaINNetwork, "encode", watched)
    whole = model(content, style=painting, amp="off", style_size=None)
    seen.clear()
    tiled = model(content, style=painting, amp="off", style_size=None, tile=160, overlap=32)
    # The painting, of the photo's very size, went in whole, once; the photo (padded to a
    # multiple of 8) as a thumbnail and in tiles of 160 px.
    assert seen.count((200, 260)) == 1 and len(seen) > 3
    assert all(max(size) <= 168 for size in seen if size != (200, 260)), seen
    assert (tiled - whole).abs().mean() < 0.05  # tiles normalised by the thumbnail's


# -- export and styx infer -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def onnx_file(files):
    path = files["root"] / "adain.onnx"
    styx.export(files["model"], "onnx", path, verify=True)
    return path


def test_the_onnx_file_takes_the_painting_as_an_input_of_its_own(onnx_file):
    from styx.inference.onnxfile import OnnxGenerator

    inputs = OnnxGenerator.open(onnx_file, provider="cpu").metadata["inputs"]
    assert inputs["style"]["kind"] == "style" and inputs["style"]["fill"] == "image"
    assert inputs["style"]["shape"] == [1, 3, "style_height", "style_width"]
    assert inputs["strength"] == {"kind": "setting", "shape": [1], "fill": "default",
                                  "default": [1.0], "help": inputs["strength"]["help"]}


def test_infer_matches_run_and_needs_the_painting(files, onnx_file, styx_cli):
    run_model(styx_cli, "adain", files["model"], str(files["photo"]), "--style-image",
              str(files["starry"]), "--amp", "off", "-o", str(out(files, "eager.png")))
    result = styx_cli("infer", str(onnx_file), str(files["photo"]), "--style-image",
                      str(files["starry"]), "-o", str(out(files, "ort.png")))
    assert result.exit_code == 0, result.stderr
    assert np.abs(read_float(out(files, "eager.png")) - read_float(out(files, "ort.png"))
                  ).max() <= 2 / 255
    result = styx_cli("infer", str(onnx_file), str(files["photo"]), "-o",
                      str(out(files, "none.png")))
    assert result.exit_code == 1 or result.exit_code == 2
    assert "--style-image" in result.stderr and not out(files, "none.png").exists()
    result = styx_cli("infer", str(onnx_file), str(files["photo"]), "--style-image",
                      str(files["starry"]), "--set", "strength=0", "-o",
                      str(out(files, "weak.png")))
    assert result.exit_code == 0, result.stderr
    assert np.abs(read_float(out(files, "weak.png")) - read_float(out(files, "ort.png"))
                  ).mean() > 1e-3


def test_infer_batches_and_shards_with_one_painting_for_all(files, onnx_file, styx_cli):
    folder = files["root"] / "many"
    for index in range(4):
        write_photo(folder / f"p{index}.png", 40, 56, seed=10 + index)
    shards = []
    for shard in ("0/2", "1/2"):
        result = styx_cli("infer", str(onnx_file), str(folder), "--style-image",
                          str(files["starry"]), "--output-dir", str(files["root"] / "sharded"),
                          "--shard", shard, "--batch-size", "4", "--json")
        assert result.exit_code == 0, result.stderr
        shards += json.loads(result.stdout)["written"]
    assert len(shards) == 4
    result = styx_cli("infer", str(onnx_file), str(folder / "p2.png"), "--style-image",
                      str(files["starry"]), "-o", str(files["root"] / "alone.png"))
    assert result.exit_code == 0
    assert np.abs(read_float(files["root"] / "alone.png") -
                  read_float(files["root"] / "sharded" / "p2.png")).max() <= 1 / 255


def test_int8_files_take_the_painting_too(files, tmp_path, styx_cli):
    calibrate = tmp_path / "calibrate"
    for index in range(3):
        write_photo(calibrate / f"c{index}.png", 48, 64, seed=20 + index)
    path = styx.export(files["model"], "onnx", tmp_path / "int8.onnx", quantize="int8",
                       calibrate=calibrate, calibrate_size=64)
    result = styx_cli("infer", str(path), str(files["photo"]), "--style-image",
                      str(files["starry"]), "-o", str(tmp_path / "o.png"))
    assert result.exit_code == 0, result.stderr
    import onnx

    graph = onnx.load(str(path)).graph
    made_by = {output: node.op_type for node in graph.node for output in node.output}
    encoder = [node for node in graph.node if node.op_type == "Conv" and "/encoder/" in node.name]
    # The encoder does most of the work, so its heaviest convolutions are the int8 ones.
    assert any(made_by.get(node.input[0]) == "DequantizeLinear" for node in encoder)


def test_int8_names_the_traced_module_of_every_convolution():

    from styx.exports.onnx.quantize import module_of

    cases = {"/generator/joins.4/joins.4.1/Conv": "joins.4.1",
             "/generator/encoder/stages.3/Conv": "encoder.stages.3",
             "/generator/encoder/stages.3/stages.3.0/Conv": "encoder.stages.3.0",
             "/generator/to_rgb/Conv": "to_rgb", "Conv_12": ""}
    for name, module in cases.items():
        assert module_of(name) == module


def test_export_check_fails_a_file_whose_style_input_changes_nothing(files, tmp_path,
                                                                    monkeypatch):
    from styx.plugins.methods.adain.network import AdaINNetwork

    def ignoring(self, content, style, strength=1.0, **options):  # never looks at the painting
        return self.adain(content, (content.mean(dim=(2, 3), keepdim=True), 1.0))

    monkeypatch.setattr(AdaINNetwork, "target", ignoring)
    with pytest.raises(StyxError, match="ignores its input.s. 'style', 'strength'"):
        styx.export(files["model"], "onnx", tmp_path / "ignores.onnx")

    def barely(self, content, style, strength=1.0, **options):  # reads it, changes nothing
        mean = content.mean(dim=(2, 3), keepdim=True) + 0 * style.mean() * strength.mean()
        return self.adain(content, (mean, 1.0))

    monkeypatch.setattr(AdaINNetwork, "target", barely)
    with pytest.raises(StyxError, match="does not change when the style image 'style'"):
        styx.export(files["model"], "onnx", tmp_path / "barely.onnx", verify=True)
    assert not list(tmp_path.glob("*.onnx"))


def test_quiet_silences_the_notes_of_a_generator_that_draws_its_descriptor(files, tmp_path,
                                                                          monkeypatch,
                                                                          styx_cli):
    from styx.plugins.methods.adain.network import AdaINArchitecture, AdaINNetwork

    def drawn(cls, architecture):  # as a plugin that rebuilds with random weights would
        return cls(AdaINArchitecture.from_options(dict(architecture)), weights="random")

    monkeypatch.setattr(AdaINNetwork, "from_architecture", classmethod(drawn))
    export = ["export", "adain", "-m", str(files["model"]), "--onnx", "--overwrite", "-o"]
    loud = styx_cli(*export, str(tmp_path / "loud.onnx"))
    quiet = styx_cli(*export, str(tmp_path / "quiet.onnx"), "-q")
    assert loud.exit_code == quiet.exit_code == 0, quiet.stderr
    assert "random weights" in loud.stderr and "random weights" not in quiet.stderr
    run = ["run", "adain", "--model", str(files["model"]), str(files["photo"]),
           "--style-image", str(files["starry"]), "-q", "-o", str(tmp_path / "o.png")]
    assert "random weights" not in styx_cli(*run).stderr
