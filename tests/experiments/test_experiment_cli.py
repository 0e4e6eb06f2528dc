"""``styx experiment``: generated options, exit codes, study files, Ctrl-C, and the report
page in a real browser."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

TINY = ["--weights", "random", "--size", "40", "--steps", "2", "--thumbnail", "48",
        "--set", "content_layers=relu2_1"]


def test_every_study_is_a_command_with_the_options_of_studyoptions(styx_cli):
    from styx.experiments import STUDIES, StudyOptions

    listed = styx_cli("experiment", "list", "--json")
    assert listed.exit_code == 0
    assert [row["name"] for row in json.loads(listed.stdout)] == list(STUDIES)
    shown = styx_cli("experiment", "tv-weight", "--help").stdout
    for info in StudyOptions.options():
        assert info.flag in shown


def test_a_study_prints_where_its_files_are(styx_cli, tmp_path):
    result = styx_cli("experiment", "tv-weight", *TINY, "--values", "0,10",
                      "-o", str(tmp_path / "tv"), "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["status"] == "done" and summary["cells_done"] == 2
    assert Path(summary["report"]).is_file()


@pytest.mark.parametrize(("args", "message"), [
    (["style-layers", "--values", "relu1_1,relu9_1"], "has no layer 'relu9_1'"),
    (["descriptors", "--values", "vgg19,vgg91"], "unknown descriptor 'vgg91'"),
    (["methods", "--values", "gatys,gatsy"], "unknown method 'gatsy'"),
    (["sweep", "--vary", "style_wieght=1,2"], "unknown option 'style_wieght'"),
    (["sweep", "--vary", "style_weight"], "bad --vary 'style_weight'"),
    (["tv-weight", "--iterations", "0"], "bad --iterations 0"),
])
def test_bad_options_exit_2_with_one_line_before_any_cell(styx_cli, tmp_path, args, message):
    result = styx_cli("experiment", *args, *TINY, "-o", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_study_file_runs_with_paths_from_its_folder(styx_cli, tmp_path):
    from styx.files.image_arrays import sample_image

    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "photo.jpg").write_bytes(sample_image("content").read_bytes())
    study = tmp_path / "weights.toml"
    study.write_text('study = "sweep"\ncontent = ["images/photo.jpg"]\nweights = "random"\n'
                     'size = 40\nsteps = 2\nthumbnail = 48\n'
                     '[set]\ncontent_layers = "relu2_1"\n'
                     '[vary]\nstyle_weight = [1e3, 1e5]\n')
    result = styx_cli("experiment", "run", str(study), "--json")
    assert result.exit_code == 0, result.stderr
    document = json.loads((tmp_path / "weights" / "results.json").read_text())
    assert document["columns"] == ["1000.0", "100000.0"]
    assert document["cells"][0]["content"] == str(tmp_path / "images" / "photo.jpg")


@pytest.mark.parametrize(("text", "message"), [
    ('study = "sweep"\nstyle_wieght = 1\n', "unknown option 'style_wieght'"),
    ('study = "nope"\n', "no study 'nope'"),
    ('study = \n', "is not valid TOML"),
])
def test_a_bad_study_file_is_one_line(styx_cli, tmp_path, text, message):
    study = tmp_path / "bad.toml"
    study.write_text(text)
    result = styx_cli("experiment", "run", str(study))
    assert result.exit_code == 2 and message in result.stderr


@pytest.mark.slow
def test_ctrl_c_exits_130_keeping_finished_cells_and_the_same_command_goes_on(tmp_path):
    folder = tmp_path / "noise"
    command = [sys.executable, "-m", "styx", "experiment", "noise-ratio", "--weights",
               "random", "--size", "48", "--steps", "60", "--values", "0,0.5,1", "--amp",
               "off", "-o", str(folder)]
    env = {**os.environ, "NO_COLOR": "1"}
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 120
    while not list((folder / "cells").glob("*.json")) and time.monotonic() < deadline:
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "cells done and kept; run the same command again" in stderr
    document = json.loads((folder / "results.json").read_text())
    assert document["status"] == "interrupted" and 1 <= document["cells_done"] < 3
    again = subprocess.run(command + ["--json"], capture_output=True, text=True, env=env,
                           check=False,
                           timeout=300)
    assert again.returncode == 0, again.stderr
    document = json.loads((folder / "results.json").read_text())
    assert document["status"] == "done"
    assert sum(c["reused"] for c in document["cells"]) >= 1


@pytest.mark.browser
def test_the_report_page_shows_every_image_it_names(tmp_path, browser_page, save_screenshot):
    from styx.experiments import run_study

    document = run_study("style-layers", weights="random", size=40, steps=2, thumbnail=48,
                         values=["relu1_1", "relu2_1"], output=tmp_path / "study",
                         settings={"content_layers": "relu2_1"})
    import shutil

    moved = shutil.copytree(tmp_path / "study", tmp_path / "elsewhere" / "copy")
    shutil.rmtree(tmp_path / "study")  # the page must not need the folder it was written in
    report = moved / "report.html"
    browser_page.goto(report.as_uri())
    browser_page.wait_for_load_state("load")
    images = browser_page.evaluate(
        "() => [...document.images].map(i => ({src: i.getAttribute('src'), "
        "width: i.naturalWidth, done: i.complete}))")
    shown = {i["src"] for i in images}
    named = {document["files"]["grid"], *document["files"]["plots"],
             *(c["image"] for c in document["cells"])}
    assert named <= shown
    assert all(i["done"] and i["width"] > 0 for i in images), images
    assert "Style from one layer at a time" in browser_page.title()
    rows = browser_page.locator("table tbody tr").count()
    assert rows >= len(document["cells"])
    save_screenshot(browser_page, "experiment-report")


def test_each_app_gets_its_own_experiment_group():
    """In-process CLI calls build the app again each time; the group must not grow."""
    from styx.cli.app import build_app

    def experiment_commands():
        app = build_app(["experiment"])
        group = next(g for g in app.registered_groups if g.name == "experiment")
        return [c.name for c in group.typer_instance.registered_commands]

    first = experiment_commands()
    assert experiment_commands() == first and "run" in first and "sweep" in first
