"""Options that contradict each other, or that would do nothing, are refused (exit 2, one
line naming what the user typed, with a hint); a value left at its default never is. Also
the hints that point the way: the removed ``--gram-normalization``, ``--device cuda``
without a GPU, a bad model name, the studio's ``--folder``."""

from __future__ import annotations

import re
import string

import pytest
from pattern_images import write_image
from ports import free_port
from styx_errors import styx_error

import styx
from styx.core.checks import MODEL_NAME, check_model_name

#: A gatys run that builds only VGG19's first layer, with random weights: quick.
TINY_GATYS = ("--weights", "random", "--size", "16", "--steps", "1", "--content-layers",
              "relu1_1", "--style-layers", "relu1_1", "-q")


def error_lines(stderr: str) -> list[str]:
    """One ``error:`` line and one ``hint:`` line, nothing else (no traceback)."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 2 and lines[0].startswith("error: ") and \
        lines[1].startswith("hint: "), stderr
    return [lines[0].removeprefix("error: "), lines[1].removeprefix("hint: ")]


# -- gatys: --lbfgs-history is for L-BFGS ---------------------------------------------------
def test_lbfgs_history_with_adam_is_refused_on_the_command_line(styx_cli, tmp_path):
    result = styx_cli("run", "gatys", "--optimizer", "adam", "--lbfgs-history", "5",
                      "-o", str(tmp_path / "out.png"), *TINY_GATYS)
    assert result.exit_code == 2
    message, hint = error_lines(result.stderr)
    assert message == "--lbfgs-history is for --optimizer lbfgs"
    assert "leave out --lbfgs-history" in hint
    assert not (tmp_path / "out.png").exists()


def test_lbfgs_history_with_adam_is_refused_by_the_library():
    message, hint = styx_error(styx.method_config, "gatys", optimizer="adam", lbfgs_history=5)
    assert message == "--lbfgs-history is for --optimizer lbfgs" and hint
    # a config made for L-BFGS, then switched to adam with its history still set
    lbfgs = styx.method_config("gatys", lbfgs_history=5)
    assert styx_error(lbfgs.with_options, optimizer="adam")[0] == message


def test_the_default_history_never_stands_in_the_way_of_adam(styx_cli, tmp_path):
    adam = styx.method_config("gatys", optimizer="adam")
    assert adam.lbfgs_history is None and adam.history_size == 20
    assert styx.method_config("gatys", lbfgs_history=7).history_size == 7
    result = styx_cli("run", "gatys", "--optimizer", "adam", "-o", str(tmp_path / "out.png"),
                      *TINY_GATYS)
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "out.png").is_file()


def test_lr_is_for_both_optimisers():
    assert styx.method_config("gatys", optimizer="adam", lr=0.1).learning_rate == 0.1
    assert styx.method_config("gatys", lr=0.5).learning_rate == 0.5


# -- --overlap is for tiled runs ----------------------------------------------------------
def test_overlap_without_tile_is_refused_by_styx_infer(styx_cli, tmp_path):
    photo = write_image(tmp_path / "a.png", 20, 24)
    result = styx_cli("infer", str(tmp_path / "model.onnx"), str(photo), "-o",
                      str(tmp_path / "out.png"), "--overlap", "32")
    assert result.exit_code == 2
    assert error_lines(result.stderr) == ["--overlap is for tiled runs",
                                          "give --tile N too, or leave out --overlap"]


def test_overlap_without_tile_is_refused_by_styx_run(styx_cli, tmp_path):
    photo = write_image(tmp_path / "a.png", 20, 24)
    for method in ("texture-nets", "stylebank"):
        result = styx_cli("run", method, "-m", "no-such-model", str(photo), "-o",
                          str(tmp_path / "out.png"), "--overlap", "32")
        assert result.exit_code == 2, method
        assert error_lines(result.stderr)[0] == "--overlap is for tiled runs", method


def test_overlap_with_tile_and_tile_alone_are_fine():
    config = styx.method_config("texture-nets", tile=320, overlap=32)
    assert (config.tile, config.overlap) == (320, 32)
    assert styx.method_config("texture-nets", tile=320).overlap is None  # 64 when it runs
    assert styx_error(styx.method_config, "texture-nets", overlap=32)[0] == \
        "--overlap is for tiled runs"


# -- styx experiment: --set of a --vary option ---------------------------------------------
def test_set_of_an_option_the_study_varies_is_refused(styx_cli, tmp_path):
    result = styx_cli("experiment", "sweep", "--vary", "style_weight=1e3,1e4", "--set",
                      "style-weight=1e5", "--weights", "random", "-o", str(tmp_path / "study"))
    assert result.exit_code == 2
    assert error_lines(result.stderr) == [
        "--set style_weight conflicts with --vary style_weight",
        "the study varies style_weight; leave out --set style_weight"]
    assert not (tmp_path / "study").exists()


def test_set_and_vary_conflict_in_the_library_too():
    from styx.experiments.options import StudyOptions

    message, _ = styx_error(StudyOptions.from_options,
                            {"vary": {"tv_weight": "0,1"}, "settings": {"tv_weight": "2"}})
    assert message == "--set tv_weight conflicts with --vary tv_weight"
    both = StudyOptions.from_options({"vary": {"tv_weight": "0,1"},
                                      "settings": {"init": "noise"}})
    assert both.settings == {"init": "noise"}


# -- --gram-normalization: gone, and the error says what replaced it ------------------------
def test_the_removed_gram_normalization_points_to_its_replacement(styx_cli, tmp_path):
    for given in (["--gram-normalization", "gaty"], ["--gram-normalization=gatys"]):
        result = styx_cli("run", "gatys", *given, "-o", str(tmp_path / "out.png"))
        assert result.exit_code == 2
        message, hint = error_lines(result.stderr)
        assert message == "no such option: --gram-normalization"
        assert "--loss-option style.normalization=N" in hint
        assert "elements, gatys, none" in hint
    # and the replacement words a misspelling as typed, with "did you mean"
    message, hint = styx_error(styx.method_config, "gatys",
                               loss_options=["style.normalization=gaty"])
    assert "--loss-option style.normalization" in message and "gatys" in hint


# -- --device cuda where torch sees no GPU ---------------------------------------------------
def test_device_cuda_on_a_cuda_build_without_a_gpu_says_so(monkeypatch):
    import torch

    from styx.runtime.device import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.version, "cuda", "12.8")
    message, hint = styx_error(resolve_device, "cuda")
    assert message == "device 'cuda' asked for, but CUDA is not available"
    assert "CUDA build (CUDA 12.8) but sees no GPU" in hint
    for check in ("nvidia-smi", "driver", "CUDA_VISIBLE_DEVICES", "--device cpu"):
        assert check in hint
    assert "install" not in hint

    monkeypatch.setattr(torch.version, "cuda", None)
    monkeypatch.setattr(torch.version, "hip", None, raising=False)
    _, hint = styx_error(resolve_device, "cuda:0")
    assert "CPU-only build" in hint and "install a CUDA build of torch" in hint


# -- model names: the hint names exactly what the rule takes --------------------------------
def test_the_bad_name_hint_names_exactly_the_characters_names_may_hold():
    _, hint = styx_error(check_model_name, "bad name!")
    listed = hint.split("(", 1)[0]
    assert listed.startswith("use letters, digits, ")
    named = set(re.findall(r"'(.)'", listed))
    assert "+" in named
    for character in named:
        assert check_model_name(f"a{character}b") == f"a{character}b"
    # no other punctuation is accepted, and every letter and digit is
    taken = {c for c in string.punctuation + " " if MODEL_NAME.match(f"a{c}b")}
    assert taken == named
    assert all(MODEL_NAME.match(c) for c in string.ascii_letters + string.digits)


# -- styx serve --folder -------------------------------------------------------------------
@pytest.fixture
def never_started(monkeypatch):
    """Fails the test if styx serve gets as far as making the studio."""
    from styx.studio import app

    def started(*args, **kwargs):
        raise AssertionError("styx serve started the studio")

    monkeypatch.setattr(app, "create_app", started)


def test_serve_folder_that_is_a_file_is_refused_before_anything_starts(
        styx_cli, never_started, tmp_path):
    picture = write_image(tmp_path / "some-file.png", 8, 8)
    result = styx_cli("serve", "--port", str(free_port()), "--folder", str(picture))
    assert result.exit_code == 2
    message, hint = error_lines(result.stderr)
    assert message == f"--folder {picture} is a file, not a folder"
    assert "folder" in hint


def test_serve_folder_that_cannot_be_made_is_one_error_line(styx_cli, never_started,
                                                             tmp_path):
    picture = write_image(tmp_path / "some-file.png", 8, 8)
    result = styx_cli("serve", "--port", str(free_port()), "--folder",
                      str(picture / "studio"))
    assert result.exit_code == 2
    message, _ = error_lines(result.stderr)
    assert message == f"cannot make --folder {picture / 'studio'}: {picture} is a file"
