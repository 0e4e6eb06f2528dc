"""``styx models list|show|rm`` against a model store in a temporary STYX_HOME."""

from __future__ import annotations

import io
import json

import pytest
import torch

from styx.files.modelstore import models_home, save_model


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("STYX_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def stored():
    save_model({"w": torch.ones(2)}, {"method": "texture-nets",
                                      "style": {"name": "starry.jpg", "sha256": "ab" * 32},
                                      "training": {"iterations_done": 2000}}, name="starry")
    save_model({"w": torch.ones(2)}, {"method": "stylebank",
                                      "style": [{"name": "a.jpg"}, {"name": "b.jpg"}]},
               name="bank")


def test_list_empty_store(styx_cli, home):
    result = styx_cli("models", "list")
    assert result.exit_code == 0
    assert "no models" in result.stdout and str(home / "models") in result.stdout
    data = json.loads(styx_cli("models", "list", "--json").stdout)
    assert data == {"models_home": str(home / "models"), "models": []}


def test_list_shows_every_model(styx_cli, stored):
    (models_home() / "broken").mkdir()
    result = styx_cli("models", "list")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    row = next(line for line in lines if "starry" in line)
    assert "texture-nets" in row and "starry.jpg" in row and "2000" in row
    assert "a.jpg, b.jpg" in next(line for line in lines if "bank" in line)
    assert "damaged" in next(line for line in lines if "broken" in line)
    data = json.loads(styx_cli("models", "list", "--json").stdout)
    assert [m["name"] for m in data["models"]] == ["bank", "broken", "starry"]
    assert data["models"][2]["metadata"]["method"] == "texture-nets"
    assert data["models"][1]["error"]


def test_list_never_folds_a_long_style_name(styx_cli, monkeypatch):
    style = "Portrait-of-Doctor-Gachet-by-Vincent-van-Gogh.png"
    save_model({"w": torch.ones(2)}, {"method": "texture-nets", "style": {"name": style},
                                      "training": {"iterations_done": 3}},
               name="a-rather-long-model-name-for-testing")
    wide = styx_cli("models", "list").stdout  # COLUMNS=200: a table
    assert "┃ name" in wide and style in next(line for line in wide.splitlines()
                                             if "a-rather-long" in line)
    monkeypatch.setenv("COLUMNS", "80")
    narrow = styx_cli("models", "list").stdout.splitlines()
    assert not any("┃" in line for line in narrow)  # one model per line instead
    [row] = [line for line in narrow if "a-rather-long" in line]
    assert f"style={style}" in row and "method=texture-nets" in row and "iters=3" in row


def test_show_by_name_or_folder(styx_cli, stored):
    result = styx_cli("models", "show", "starry", "--json")
    assert result.exit_code == 0
    info = json.loads(result.stdout)
    assert info["metadata"]["style"]["sha256"] == "ab" * 32
    assert info["size_bytes"] > 0
    text = styx_cli("models", "show", str(models_home() / "bank"))
    assert text.exit_code == 0 and "stylebank" in text.stdout


def test_show_unknown_is_one_line_error_with_suggestion(styx_cli, stored):
    result = styx_cli("models", "show", "stary")
    assert result.exit_code == 2
    assert "no model named 'stary'" in result.stderr
    assert "did you mean 'starry'" in result.stderr
    assert "Traceback" not in result.stderr


def test_rm_with_yes_and_with_confirmation(styx_cli, stored, monkeypatch):
    result = styx_cli("models", "rm", "bank", "--yes")
    assert result.exit_code == 0 and "removed" in result.stderr
    assert not (models_home() / "bank").exists()
    monkeypatch.setattr("sys.stdin", io.StringIO("n\n"))
    result = styx_cli("models", "rm", "starry")
    assert result.exit_code == 1 and "nothing deleted" in result.stderr
    assert (models_home() / "starry").is_dir()
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))
    assert styx_cli("models", "rm", "starry").exit_code == 0
    assert not (models_home() / "starry").exists()


def test_rm_refuses_unknown_names_and_paths_before_deleting_anything(styx_cli, stored,
                                                                     tmp_path):
    result = styx_cli("models", "rm", "starry", "nope", "-y")
    assert result.exit_code == 2 and "no model named 'nope'" in result.stderr
    assert (models_home() / "starry").is_dir()
    outside = save_model({"w": torch.ones(1)}, {"method": "x"}, path=tmp_path / "outside")
    result = styx_cli("models", "rm", str(outside), "-y")
    assert result.exit_code == 2 and "bad model name" in result.stderr
    assert outside.is_dir()


def test_models_help_lists_the_commands(styx_cli):
    result = styx_cli("models", "--help")
    assert result.exit_code == 0
    for command in ("list", "show", "rm"):
        assert command in result.stdout


def test_show_and_list_flag_a_truncated_weights_file(styx_cli, stored):
    weights = models_home() / "starry" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-3])
    result = styx_cli("models", "show", "starry")
    assert result.exit_code == 0 and "damaged" in result.stdout
    info = json.loads(styx_cli("models", "show", "starry", "--json").stdout)
    assert "truncated" in info["error"]
    listed = json.loads(styx_cli("models", "list", "--json").stdout)["models"]
    assert [m["name"] for m in listed if m["error"]] == ["starry"]
    assert "damaged" in next(line for line in styx_cli("models", "list").stdout.splitlines()
                             if "starry" in line)


def test_rm_of_a_name_given_twice_deletes_it_once_without_error(styx_cli, stored):
    result = styx_cli("models", "rm", "starry", "starry", "bank", "-y")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.count("removed") == 2
    assert not any(models_home().iterdir())


def test_rm_of_a_path_says_rm_takes_names(styx_cli, stored):
    result = styx_cli("models", "rm", str(models_home() / "starry"), "-y")
    assert result.exit_code == 2 and "never a folder path" in result.stderr
    assert "give a folder path instead" not in result.stderr
    assert (models_home() / "starry").is_dir()


@pytest.mark.parametrize("damage", [b"{bad", b"[]", b"\xff\xfe"])
def test_show_flags_an_unreadable_model_json_as_list_does(styx_cli, stored, damage):
    (models_home() / "starry" / "model.json").write_bytes(damage)
    result = styx_cli("models", "show", "starry")
    assert result.exit_code == 0, result.stderr
    damaged = [line for line in result.stdout.splitlines() if line.startswith("damaged:")]
    assert len(damaged) == 1 and "model.json" in damaged[0]
    info = json.loads(styx_cli("models", "show", "starry", "--json").stdout)
    assert info["name"] == "starry" and "model.json" in info["error"]
    assert info["metadata"] == {}
    listed = json.loads(styx_cli("models", "list", "--json").stdout)["models"]
    assert next(m["error"] for m in listed if m["name"] == "starry") == info["error"]


def test_show_of_a_folder_that_is_no_model_is_an_error(styx_cli, tmp_path):
    (tmp_path / "photos").mkdir()
    result = styx_cli("models", "show", str(tmp_path / "photos"))
    assert result.exit_code == 2
    assert "is not a styx model folder" in result.stderr and "hint:" in result.stderr
