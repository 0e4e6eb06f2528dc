"""Promises of docs/onnx.md (`styx export METHOD --onnx` and `styx infer`), each with a
test that fails when the promise breaks (tests/exports/ holds the others)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from trained_models import (
    STYLES,
    read_alpha,
    read_float,
    save_stylebank,
    save_texture_nets,
    write_photo,
    write_rgba,
)

import styx


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("models")
    return {"texture-nets": save_texture_nets(root / "tn"),
            "stylebank": save_stylebank(root / "bank")}


@pytest.fixture(scope="module")
def files(models, tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("onnx")
    return {name: styx.export(path, "onnx", folder / f"{name}.onnx")
            for name, path in models.items()}


def infer(styx_cli, *args):
    result = styx_cli("infer", *map(str, args))
    assert result.exit_code == 0, result.stderr
    return result


# -- styx infer: what it writes --------------------------------------------------------------
def test_infer_keeps_the_alpha_channel_where_the_format_can_hold_it(files, styx_cli,
                                                                    tmp_path):
    """"Its image loading is styx's own (... alpha kept ...)": for texture-nets files too,
    and in --output-dir runs; a JPEG output has none."""
    alpha = write_rgba(tmp_path / "in" / "logo.png", 30, 44, seed=2)
    infer(styx_cli, files["texture-nets"], tmp_path / "in" / "logo.png", "-o",
          tmp_path / "out.png")
    assert np.array_equal(read_alpha(tmp_path / "out.png"), alpha)
    original = np.asarray(Image.open(tmp_path / "in" / "logo.png").convert("RGB")) / 255.0
    assert np.abs(read_float(tmp_path / "out.png") - original).mean() > 0.02
    infer(styx_cli, files["stylebank"], tmp_path / "in", "--output-dir", tmp_path / "dir",
          "--style", "hat")
    assert np.array_equal(read_alpha(tmp_path / "dir" / "logo.png"), alpha)
    infer(styx_cli, files["stylebank"], tmp_path / "in", "--output-dir", tmp_path / "jpg",
          "--format", "jpg", "--style", "hat")
    with Image.open(tmp_path / "jpg" / "logo.jpg") as image:
        assert image.mode == "RGB" and image.size == (44, 30)


def test_o_replaces_an_existing_file(files, styx_cli, tmp_path):
    """`-o FILE`: "the output for a single input (replaced if it exists)"."""
    photo = write_photo(tmp_path / "photo.png", 20, 24)
    out = tmp_path / "out.png"
    out.write_bytes(b"an older result")
    infer(styx_cli, files["stylebank"], photo, "-o", out, "--style", "0")
    assert read_float(out).shape == (20, 24, 3)


def test_duplicate_names_in_output_dir_get_a_number(files, styx_cli, tmp_path):
    first = write_photo(tmp_path / "x" / "a.png", 16, 16, seed=1)
    second = write_photo(tmp_path / "y" / "a.jpg", 16, 16, seed=2)
    report = json.loads(infer(styx_cli, files["texture-nets"], first, second,
                              "--output-dir", tmp_path / "out", "--json").stdout)
    assert sorted(Path(p).name for p in report["written"]) == ["a-2.png", "a.png"]
    assert not np.array_equal(read_float(tmp_path / "out" / "a.png"),
                              read_float(tmp_path / "out" / "a-2.png"))
    # --json: the documented report
    assert {"written", "skipped", "failed", "seconds", "provider"} <= set(report)
    assert report["provider"] == "CPUExecutionProvider" and report["failed"] == []


def test_the_smallest_size_is_refused_in_one_line_and_a_circular_file_takes_1_px(
        files, styx_cli, tmp_path):
    """"5 px for StyleBank's default reflect padding, 1 px for texture-nets' circular
    padding ... styx infer refuses a smaller image with a one-line error"."""
    thin = write_photo(tmp_path / "thin.png", 1, 9)
    infer(styx_cli, files["texture-nets"], thin, "-o", tmp_path / "thin-out.png")
    assert read_float(tmp_path / "thin-out.png").shape == (1, 9, 3)
    small = write_photo(tmp_path / "small.png", 4, 30)
    result = styx_cli("infer", str(files["stylebank"]), str(small), "-o",
                      str(tmp_path / "small-out.png"), "--style", "0")
    assert result.exit_code != 0
    assert "5 px" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "small-out.png").exists()


# -- what is in the file ------------------------------------------------------------------
def test_the_inputs_outputs_and_metadata_the_file_holds(files, models):
    from styx.inference.onnxfile import OnnxGenerator, read_metadata
    from styx.plugins.methods.texture_nets.generator import TextureNetwork

    texture = OnnxGenerator.open(files["texture-nets"], provider="cpu")
    inputs = {i.name: i for i in texture.session.get_inputs()}
    assert list(inputs) == ["image", "noise", "norm_statistics", "norm_blend"]
    assert inputs["image"].shape == ["batch", 3, "height", "width"]
    assert inputs["noise"].shape[1] == 3 * 3  # 3 scales x 3 noise channels: per scale
    assert [o.name for o in texture.session.get_outputs()] == ["output", "kept_statistics"]
    # "texture-nets' noise (N x 18 x H x W by default)"
    assert TextureNetwork().example_inputs(1, 8, 8)["noise"].shape[1] == 18
    bank = OnnxGenerator.open(files["stylebank"], provider="cpu")
    shapes = {i.name: i.shape for i in bank.session.get_inputs()}
    assert shapes["style_weights"] == [len(STYLES)]
    metadata = read_metadata(files["texture-nets"])
    assert metadata["styx_version"] == styx.__version__
    assert (metadata["method"], metadata["model"], metadata["precision"],
            metadata["opset"]) == ("texture-nets", "tn", "fp32", 17)
    assert metadata["styles"] == ["starry.png"] and metadata["smallest_size"] == 1
    stored = json.loads((models["texture-nets"] / "model.json").read_text())
    assert metadata["architecture"] == stored["architecture"]
    assert "training" in metadata
    assert read_metadata(files["stylebank"])["styles"] == STYLES


def test_models_show_json_of_a_file(files, styx_cli):
    shown = json.loads(styx_cli("models", "show", str(files["stylebank"]), "--json").stdout)
    assert set(shown) == {"path", "size_bytes", "metadata"}
    assert shown["size_bytes"] == files["stylebank"].stat().st_size


# -- styx export --onnx ----------------------------------------------------------------------
def test_the_default_output_is_model_dot_onnx_here_and_is_kept_without_overwrite(
        models, styx_cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = styx_cli("export", "texture-nets", "--onnx", "-m", str(models["texture-nets"]),
                      "-q")
    assert result.exit_code == 0, result.stderr
    written = tmp_path / "tn.onnx"
    before = written.read_bytes()
    assert styx.inference.onnxfile.read_metadata(written)["model"] == "tn"
    again = styx_cli("export", "texture-nets", "--onnx", "-m", str(models["texture-nets"]))
    assert again.exit_code == 2 and "--overwrite" in again.stderr
    assert written.read_bytes() == before
    wrong = styx_cli("export", "texture-nets", "--onnx", "-m", str(models["texture-nets"]),
                     "-o", str(tmp_path / "tn.onx"))
    assert wrong.exit_code == 2 and ".onnx" in wrong.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tn.onnx"]


def test_check_runs_the_three_documented_sizes_and_a_style_mix(models, styx_cli, tmp_path):
    """"The check runs three sizes: 96x128 with a batch of two, the odd size 97x131, and
    256x192 ... A StyleBank file is also run with a random mix of its styles"."""
    result = styx_cli("export", "stylebank", "--onnx", "-m", str(models["stylebank"]), "-o",
                      str(tmp_path / "b.onnx"), "--check", "--json")
    assert result.exit_code == 0, result.stderr
    cases = json.loads(result.stdout)["check_cases"]
    assert any(c.startswith("96x128 x2") for c in cases), cases
    assert any(c.startswith("97x131 x1") for c in cases), cases
    assert any(c.startswith("256x192 x1") for c in cases), cases
    assert any("mix" in c for c in cases), cases
    for case in cases:  # each within the fp32 bound
        assert float(case.rsplit(": ", 1)[1]) <= 1e-3
