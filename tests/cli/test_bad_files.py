"""README "Bad files": one policy in every command that reads many images. By default a bad
file is skipped with one line naming it and why, the rest are written, a summary ends the
run and the exit code is 1; ``--json`` lists them in ``"failed"``. ``--strict`` makes the
first bad file the error (exit 2): headers are checked before anything is written.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
from pattern_images import write_image
from PIL import Image
from trained_models import save_stylebank, save_texture_nets

#: What each bad file of the folder is reported as (its reason, after the path).
NOT_AN_IMAGE = "not an image file (or not a format Pillow reads)"
TRUNCATED = "image file is truncated"


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Tiny convolutions: one intra-op thread (the root conftest's ``one_thread``)."""


def write_truncated_jpeg(path: Path) -> Path:
    """A real JPEG cut short: its header reads, its pixels do not."""
    buffer = io.BytesIO()
    Image.open(write_image(path.with_suffix(".png"), 64, 80, seed=9)).save(buffer, "JPEG")
    path.with_suffix(".png").unlink()
    data = buffer.getvalue()
    path.write_bytes(data[: len(data) * 2 // 3])
    with Image.open(path) as opened:  # the premise: the header is fine
        assert opened.size == (80, 64)
        with pytest.raises(OSError, match="truncated"):
            opened.load()
    return path


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("models")
    return {"texture-nets": save_texture_nets(root / "tn", strength=0.1),
            "stylebank": save_stylebank(root / "sb", strength=0.1)}


@pytest.fixture(scope="module")
def onnx_file(models, tmp_path_factory) -> Path:
    import styx

    return styx.export(models["texture-nets"], "onnx",
                       tmp_path_factory.mktemp("onnx") / "tn.onnx")


@pytest.fixture
def photos(tmp_path) -> Path:
    """a.png and c.png good; b.jpg a truncated JPEG; d.jpg a text file."""
    folder = tmp_path / "photos"
    write_image(folder / "a.png", 24, 32, seed=1)
    write_truncated_jpeg(folder / "b.jpg")
    write_image(folder / "c.png", 24, 32, seed=3)
    (folder / "d.jpg").write_text("not an image")
    return folder


def skip_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("skipped ")]


def check_skipped(result, photos: Path, out: Path) -> None:
    """Every good photo written, each bad one reported in one line, exit 1."""
    assert result.exit_code == 1, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "c.png"]
    lines = skip_lines(result.stderr)
    assert len(lines) == 2, result.stderr
    assert lines[0].startswith(f"skipped {photos / 'b.jpg'}: {TRUNCATED}")
    assert lines[1] == f"skipped {photos / 'd.jpg'}: {NOT_AN_IMAGE}"
    assert "Traceback" not in result.stderr


RUNS = {"texture-nets": [], "stylebank": ["--style", "starry"]}


@pytest.mark.parametrize("method", sorted(RUNS))
def test_styx_run_skips_bad_files_writes_the_rest_and_exits_1(method, models, photos, styx_cli,
                                                               tmp_path):
    out = tmp_path / "out"
    result = styx_cli("run", method, "-m", str(models[method]), str(photos), "--output-dir",
                      str(out), *RUNS[method])
    check_skipped(result, photos, out)
    assert "2 written, 2 skipped (bad files)" in result.stderr
    assert result.stdout.split() == [str(out / "a.png"), str(out / "c.png")]


def test_styx_run_json_lists_the_bad_files(models, photos, styx_cli, tmp_path):
    result = styx_cli("run", "texture-nets", "-m", str(models["texture-nets"]), str(photos),
                      "--output-dir", str(tmp_path / "out"), "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["outputs"] == [str(tmp_path / "out" / n) for n in ("a.png", "c.png")]
    assert [f["input"] for f in report["failed"]] == [str(photos / "b.jpg"),
                                                     str(photos / "d.jpg")]
    assert report["failed"][0]["error"].startswith(TRUNCATED)
    assert report["failed"][1]["error"] == NOT_AN_IMAGE
    assert len(skip_lines(result.stderr)) == 2  # said on stderr even with --json


@pytest.mark.parametrize("method", sorted(RUNS))
def test_styx_run_strict_refuses_a_bad_header_before_writing_anything(method, models, photos,
                                                                      styx_cli, tmp_path):
    out = tmp_path / "out"
    result = styx_cli("run", method, "-m", str(models[method]), str(photos), "--output-dir",
                      str(out), "--strict", *RUNS[method])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: {photos / 'd.jpg'} is {NOT_AN_IMAGE}",
        "hint: give a PNG, JPEG, WebP, BMP or TIFF image; without --strict bad files are skipped"]
    assert not out.exists() or not any(out.iterdir())


def test_styx_run_strict_stops_at_a_body_cut_short(models, photos, styx_cli, tmp_path):
    """Only decoding finds a JPEG cut short: the run stops there (exit 2); what was written
    before stays, nothing after it is written."""
    (photos / "d.jpg").unlink()
    out = tmp_path / "out"
    result = styx_cli("run", "texture-nets", "-m", str(models["texture-nets"]), str(photos),
                      "--output-dir", str(out), "--strict", "-q")
    assert result.exit_code == 2
    error, hint = result.stderr.splitlines()
    assert error.startswith(f"error: cannot read image {photos / 'b.jpg'}: {TRUNCATED}")
    assert hint == "hint: the file may be truncated or corrupt; without --strict bad files " \
                   "are skipped"
    assert sorted(p.name for p in out.iterdir()) == ["a.png"]


def test_styx_infer_follows_the_same_policy_with_the_same_lines_and_json(
        models, onnx_file, photos, styx_cli, tmp_path):
    ran = styx_cli("run", "texture-nets", "-m", str(models["texture-nets"]), str(photos),
                   "--output-dir", str(tmp_path / "ran"), "--json")
    out = tmp_path / "out"
    result = styx_cli("infer", str(onnx_file), str(photos), "--output-dir", str(out))
    check_skipped(result, photos, out)
    assert "2 written, 2 skipped (bad files) in " in result.stderr
    assert skip_lines(result.stderr) == skip_lines(ran.stderr)
    as_json = styx_cli("infer", str(onnx_file), str(photos), "--output-dir",
                       str(tmp_path / "json"), "--json")
    assert as_json.exit_code == 1
    assert json.loads(as_json.stdout)["failed"] == json.loads(ran.stdout)["failed"]

    strict = styx_cli("infer", str(onnx_file), str(photos), "--output-dir",
                      str(tmp_path / "strict"), "--strict", "-q")
    assert strict.exit_code == 2
    assert strict.stderr.splitlines()[0] == f"error: {photos / 'd.jpg'} is {NOT_AN_IMAGE}"
    assert not (tmp_path / "strict").exists() or not any((tmp_path / "strict").iterdir())
    (photos / "d.jpg").unlink()
    cut = styx_cli("infer", str(onnx_file), str(photos), "--output-dir",
                   str(tmp_path / "cut"), "--strict", "--batch-size", "1", "-q")
    assert cut.exit_code == 2
    assert cut.stderr.startswith(f"error: cannot read image {photos / 'b.jpg'}: {TRUNCATED}")
    written = [p.name for p in (tmp_path / "cut").iterdir()] if (tmp_path / "cut").exists() \
        else []
    assert set(written) <= {"a.png"}  # a.png only if its batch ran before b.jpg was read


# -- training ------------------------------------------------------------------------------
TRAIN = ["--iterations", "1", "--batch-size", "1", "--image-size", "16", "--weights",
         "random", "--scales", "2", "--channels", "4", "--content-layers", "relu2_1",
         "--style-layers", "relu1_1,relu2_1", "--device", "cpu"]


@pytest.fixture
def content(tmp_path, photos) -> Path:
    """The photos folder with the bad files first (met when training starts)."""
    folder = tmp_path / "content"
    shutil.copytree(photos, folder)
    (folder / "b.jpg").rename(folder / "0-b.jpg")
    (folder / "d.jpg").rename(folder / "0-d.jpg")
    write_image(tmp_path / "style.png", 24, 24, seed=5)
    return folder


def test_training_reports_each_bad_file_once_trains_and_exits_1(content, styx_cli, tmp_path):
    result = styx_cli("train", "texture-nets", "--style", str(tmp_path / "style.png"),
                      "--content-dir", str(content), "-o", str(tmp_path / "model"), *TRAIN)
    assert result.exit_code == 1, result.stderr  # the model is saved; not every file was read
    lines = skip_lines(result.stderr)
    assert len(lines) == 2
    assert lines[0].startswith(f"skipped {content / '0-b.jpg'}: {TRUNCATED}")
    assert lines[1] == f"skipped {content / '0-d.jpg'}: {NOT_AN_IMAGE}"
    assert "(2 skipped (bad files))" in result.stderr
    assert (tmp_path / "model" / "model.json").is_file()


def test_training_json_lists_the_bad_files_as_run_and_infer_do(content, styx_cli, tmp_path):
    result = styx_cli("train", "texture-nets", "--style", str(tmp_path / "style.png"),
                      "--content-dir", str(content), "-o", str(tmp_path / "model"), "--json",
                      *TRAIN)
    assert result.exit_code == 1, result.stderr
    failed = json.loads(result.stdout)["failed"]
    assert [entry["input"] for entry in failed] == [str(content / "0-b.jpg"),
                                                    str(content / "0-d.jpg")]
    assert failed[1]["error"] == NOT_AN_IMAGE and failed[0]["error"].startswith(TRUNCATED)


def test_training_strict_refuses_a_folder_with_a_bad_file(content, styx_cli, tmp_path):
    (content / "0-d.jpg").unlink()  # the truncated JPEG alone: found by decoding it
    result = styx_cli("train", "texture-nets", "--style", str(tmp_path / "style.png"),
                      "--content-dir", str(content), "-o", str(tmp_path / "model"),
                      "--strict", *TRAIN)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: cannot read image {content / '0-b.jpg'}: "
                                     f"{TRUNCATED}")
    assert len(result.stderr.splitlines()) == 2 and "Traceback" not in result.stderr
    assert not (tmp_path / "model").exists() and not (tmp_path / "model.run").exists()


def test_one_image_given_with_o_is_strict_by_itself(models, onnx_file, photos, styx_cli,
                                                     tmp_path):
    """Nothing else to write: the bad file is the command's error, as it is (exit 2)."""
    out = tmp_path / "out.png"
    for command in (["run", "texture-nets", "-m", str(models["texture-nets"])],
                    ["infer", str(onnx_file)]):
        result = styx_cli(*command, str(photos / "b.jpg"), "-o", str(out), "-q")
        assert result.exit_code == 2, result.stderr
        error, hint = result.stderr.splitlines()
        assert error.startswith(f"error: cannot read image {photos / 'b.jpg'}: {TRUNCATED}")
        assert hint == "hint: the file may be truncated or corrupt"
        assert not out.exists()
