"""Every study on tiny images with random weights: the files it writes, the grid, the numbers,
reuse on a second run, Ctrl-C and resume, and errors before any cell runs."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from PIL import Image

from styx.core.errors import StyxError
from styx.experiments import STUDIES, run_study, runner
from styx.experiments.render import GAP, ROW_LABEL_WIDTH

#: Tiny, fast cells: 40 px outputs, 2 steps, random VGG weights trimmed to two blocks.
TINY = {"weights": "random", "size": 40, "steps": 2, "thumbnail": 48,
        "settings": {"content_layers": "relu2_1"}}
#: What each study needs on top of TINY to be tiny too (and the columns it then has).
PER_STUDY = {
    "layer-losses": ({"values": ["vgg16", "vgg19"]}, 2),
    "style-layers": ({"values": ["relu1_1", "relu2_1"]}, 2),
    "content-layers": ({"values": ["relu1_1", "relu2_1"], "settings": {}}, 2),
    "tv-weight": ({"values": ["0", "100"]}, 2),
    "noise-ratio": ({"values": ["0", "1"]}, 2),
    "descriptors": ({"values": ["vgg16", "resnet50", "inception_v3"], "size": 128,
                     "settings": {}}, 3),
    "style-crop": ({"values": ["full", "center", "0,0,0.5,1"]}, 3),
    "style-resolution": ({"values": ["full", "8"]}, 2),
    "methods": ({"settings": {}, "iterations": 2, "train_size": 32,
                 "train_settings": {"batch_size": 1, "style_layers": "relu1_2,relu2_1",
                                    "content_layers": "relu2_1"}}, 4),
    "sweep": ({"vary": {"style_weight": ["1e3", "1e5"]}}, 2),
}


def options_for(name, tmp_path, **more):
    extra, _ = PER_STUDY[name]
    return {**TINY, **extra, "output": tmp_path / name, **more}


def test_every_study_has_a_tiny_configuration_here():
    assert set(PER_STUDY) == set(STUDIES)


@pytest.mark.parametrize("name", sorted(PER_STUDY))
def test_each_study_writes_its_files_and_a_number_for_every_cell(name, tmp_path):
    document = run_study(name, **options_for(name, tmp_path))
    folder = tmp_path / name
    _, columns = PER_STUDY[name]
    rows = 2 if name == "style-layers" else 1  # with and without content and TV
    assert (len(document["columns"]), len(document["rows"])) == (columns, rows)
    assert document["status"] == "done" and document["cells_done"] == columns * rows
    saved = json.loads((folder / "results.json").read_text())
    assert saved["study"] == name and saved["styx_version"]
    assert saved["descriptor_weights"] and all(
        w["weights"] == "random" for w in saved["descriptor_weights"])
    for cell in saved["cells"]:
        for metric in ("seconds", "judge_content", "judge_style", "judge_tv"):
            assert math.isfinite(cell["metrics"][metric]), (cell["column"], metric)
        assert cell["config"] and (folder / cell["image"]).is_file()
    plots = saved["files"]["plots"]
    assert plots and all((folder / p).stat().st_size > 1000 for p in plots)
    assert "<img" in (folder / "report.html").read_text()
    grid = Image.open(folder / "grid.png")
    thumbnail = TINY["thumbnail"]
    assert grid.width == ROW_LABEL_WIDTH + GAP + columns * (thumbnail + GAP)


def test_the_layer_losses_study_records_each_style_layer_at_start_and_end(tmp_path):
    from styx.core.plugins import descriptors

    document = run_study("layer-losses", **options_for("layer-losses", tmp_path))
    for cell in document["cells"]:
        style = {k: v for k, v in cell["layers"].items() if k.startswith("style/")}
        defaults = descriptors().get(cell["column"]).default_style_layers
        assert sorted(style) == sorted(f"style/{layer}" for layer in defaults)
        assert all(v["start"] > 0 and v["end"] > 0 for v in style.values())
    assert "plots/layer-losses.png" in document["files"]["plots"]
    assert "Style loss per layer" in (tmp_path / "layer-losses" / "report.html").read_text()


def test_the_methods_study_reports_training_time_and_model_size(tmp_path):
    document = run_study("methods", **options_for("methods", tmp_path))
    by_method = {c["column"]: c["metrics"] for c in document["cells"]}
    assert set(by_method) == {"gatys", "texture-nets", "stylebank", "adain"}
    for method in ("texture-nets", "stylebank", "adain"):  # adain: trained on the row's style
        assert by_method[method]["model_bytes"] > 10_000
        assert by_method[method]["train_seconds"] > 0
    assert "model_bytes" not in by_method["gatys"]


def test_a_model_is_trained_once_for_every_cell_that_runs_it(tmp_path, monkeypatch):
    import styx

    real, trained = styx.train, []
    monkeypatch.setattr(styx, "train", lambda *a, **k: trained.append(a) or real(*a, **k))
    options = options_for("methods", tmp_path, method="texture-nets",
                          vary={"long_side": ["40", "48"]})
    document = run_study("sweep", **options)
    assert document["cells_done"] == 2 and len(trained) == 1
    run_study("sweep", **{**options, "vary": {"long_side": ["40", "56"]}})  # one new cell
    assert len(trained) == 1  # the model of the first run is reused


def test_the_tv_weight_study_smooths_as_the_weight_grows(tmp_path):
    document = run_study("tv-weight", **options_for("tv-weight", tmp_path, steps=8,
                                                    values=["0", "1e4"]))
    tv = [c["metrics"]["judge_tv"] for c in document["cells"]]
    assert tv[1] < tv[0]


def _cells_with_pictures(grid, rows, columns, thumbnail):
    """Which grid cells hold a picture (not the white sheet, not the grey 'not run' box)."""
    pixels = np.asarray(grid.convert("RGB"), dtype=np.float32)
    header = grid.height - GAP - rows * (thumbnail + GAP) - 15 - 2 * GAP
    found = []
    for i in range(rows):
        for j in range(columns):
            x = ROW_LABEL_WIDTH + GAP + j * (thumbnail + GAP)
            y = header + GAP + i * (thumbnail + GAP)
            box = pixels[y + 4:y + thumbnail - 4, x + 4:x + thumbnail - 4]
            grey = (box == 221).all(axis=-1).mean() > 0.8  # the #dddddd box, its text aside
            found.append("picture" if box.std() > 5 and not grey else
                         "not run" if grey else "empty")
    return found, pixels[:header]


def test_the_grid_has_a_labelled_picture_per_cell(tmp_path):
    run_study("style-layers", **options_for("style-layers", tmp_path))
    grid = Image.open(tmp_path / "style-layers" / "grid.png")
    found, header = _cells_with_pictures(grid, 2, 2, TINY["thumbnail"])
    assert found == ["picture"] * 4
    for j in range(2):  # each column has its label above it
        x = ROW_LABEL_WIDTH + GAP + j * (TINY["thumbnail"] + GAP)
        assert (header[:, x:x + TINY["thumbnail"]] < 100).any()
    assert (np.asarray(grid.convert("L"))[:, :ROW_LABEL_WIDTH - GAP] < 100).any()  # rows


def test_a_second_run_reuses_every_finished_cell(tmp_path, monkeypatch):
    options = options_for("tv-weight", tmp_path)
    first = run_study("tv-weight", **options)
    monkeypatch.setattr(runner, "run_cell", _must_not_run)
    again = run_study("tv-weight", **options)
    assert [c["reused"] for c in again["cells"]] == [True, True]
    assert [c["metrics"] for c in again["cells"]] == [c["metrics"] for c in first["cells"]]


def test_only_the_changed_cells_run_again(tmp_path, monkeypatch):
    run_study("tv-weight", **options_for("tv-weight", tmp_path))
    calls = _count_calls(monkeypatch)
    document = run_study("tv-weight", **options_for("tv-weight", tmp_path, values=["0", "5"]))
    assert len(calls) == 1 and calls[0].labels["tv_weight"] == "5"
    assert [c["reused"] for c in document["cells"]] == [True, False]


def test_two_studies_in_one_folder_share_the_cells_they_have_in_common(tmp_path, monkeypatch):
    run_study("tv-weight", **options_for("tv-weight", tmp_path, output=tmp_path / "shared"))
    calls = _count_calls(monkeypatch)
    document = run_study("sweep", **{**TINY, "output": tmp_path / "shared",
                                     "vary": {"tv_weight": ["100", "7"]}})
    assert [c["reused"] for c in document["cells"]] == [True, False]
    assert len(calls) == 1


def test_fresh_runs_every_cell_again(tmp_path, monkeypatch):
    run_study("tv-weight", **options_for("tv-weight", tmp_path))
    calls = _count_calls(monkeypatch)
    run_study("tv-weight", **options_for("tv-weight", tmp_path, fresh=True))
    assert len(calls) == 2


def test_ctrl_c_keeps_the_finished_cells_and_a_rerun_goes_on(tmp_path, monkeypatch):
    real = runner.run_cell
    calls = []

    def interrupt_second(cell, folder, judge):
        calls.append(cell)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(cell, folder, judge)

    monkeypatch.setattr(runner, "run_cell", interrupt_second)
    options = options_for("noise-ratio", tmp_path, values=["0", "0.5", "1"])
    stopped = run_study("noise-ratio", **options)
    assert stopped.interrupted and stopped["status"] == "interrupted"
    assert stopped["cells_done"] == 1
    saved = json.loads((tmp_path / "noise-ratio" / "results.json").read_text())
    assert [c["done"] for c in saved["cells"]] == [True, False, False]
    grid = Image.open(tmp_path / "noise-ratio" / "grid.png")
    found, _ = _cells_with_pictures(grid, 1, 3, TINY["thumbnail"])
    assert found == ["picture", "not run", "not run"]
    assert len(list((tmp_path / "noise-ratio" / "cells").glob("*.json"))) == 1

    monkeypatch.setattr(runner, "run_cell", real)
    calls_after = _count_calls(monkeypatch)
    finished = run_study("noise-ratio", **options)
    assert not finished.interrupted and finished["cells_done"] == 3
    assert len(calls_after) == 2


def _must_not_run(cell, folder, judge):
    raise AssertionError(f"cell {cell.labels} ran again")


def _count_calls(monkeypatch):
    real, calls = runner.run_cell, []

    def counting(cell, folder, judge):
        calls.append(cell)
        return real(cell, folder, judge)

    monkeypatch.setattr(runner, "run_cell", counting)
    return calls


@pytest.mark.parametrize(("name", "more", "message"), [
    ("style-layers", {"values": ["relu1_1", "relu9_1"]}, "has no layer 'relu9_1'"),
    ("content-layers", {"values": ["conv9_9"]}, "has no layer 'conv9_9'"),
    ("tv-weight", {"settings": {"style_layers": "relu1_1,relu6_1"}}, "has no layer 'relu6_1'"),
    ("descriptors", {"values": ["vgg19", "vgg91"]}, "unknown descriptor 'vgg91'"),
    ("tv-weight", {"descriptor": "resnet5"}, "unknown descriptor 'resnet5'"),
    ("tv-weight", {"judge": "nope"}, "unknown descriptor 'nope'"),
    ("methods", {"values": ["gatys", "gatsy"]}, "unknown method 'gatsy'"),
    ("tv-weight", {"method": "gatsy"}, "unknown method 'gatsy'"),
    ("sweep", {"vary": {"style_wieght": ["1", "2"]}}, "unknown option 'style_wieght'"),
    ("sweep", {"vary": {"style_weight": ["1", "-2"]}}, "bad --style-weight '-2'"),
    ("sweep", {"vary": {}}, "needs an option to vary"),
    ("tv-weight", {"vary": {"tv_weight": ["1"]}}, "varies tv_weight itself"),
    ("tv-weight", {"settings": {"tv_weight": "1"}}, "sets tv_weight itself"),
    ("style-crop", {"values": ["full", "0,0,2,1"]}, "bad crop '0,0,2,1'"),
    ("style-resolution", {"values": ["full", "2"]}, "bad style resolution '2'"),
    ("methods", {"train_settings": {"batch_sise": 1}}, "unknown option 'batch_sise'"),
])
def test_a_bad_study_fails_before_any_cell_runs(name, more, message, tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "run_cell", _must_not_run)
    extra = {k: v for k, v in PER_STUDY[name][0].items() if k not in more}
    with pytest.raises(StyxError, match=message.replace("(", r"\(")):
        run_study(name, **{**TINY, **extra, **more, "output": tmp_path / "out"})
    assert not (tmp_path / "out" / "cells").exists()


def test_an_unknown_study_suggests_the_close_one():
    with pytest.raises(StyxError, match="no study 'tv-wieght'") as error:
        run_study("tv-wieght")
    assert "tv-weight" in error.value.hint


def test_peak_memory_sees_a_large_allocation():
    with runner.peak_memory("cpu") as found:
        block = np.ones(256 * 2**20 // 8)  # 256 MiB, every page touched
        block.sum()
    assert found["peak_memory_mb"] >= 128


def test_the_judge_scores_the_content_itself_as_zero_content_loss():
    from styx.files.image_arrays import sample_image
    from styx.runtime.image_tensors import image_input

    judge = runner.Judge("vgg16", "random", 0)
    content = sample_image("content")
    picture = image_input(content, long_side=48, what="content").rgb
    scores = judge(picture, content, (sample_image("style"),))
    assert scores["judge_content"] == pytest.approx(0.0, abs=1e-6)
    assert scores["judge_style"] > 0 and scores["judge_tv"] > 0
    assert judge.describe()["weights"] == "random"
