"""Promises of docs/models.md (the model store and `styx models`), each with a test that
fails when the promise breaks (tests/files/test_modelstore.py and tests/cli/test_models_cli.py
hold the others)."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file
from trained_models import STYLES, save_stylebank

from styx.core.errors import StyxError
from styx.files.modelstore import (
    add_model_part,
    model_destination,
    models_home,
    read_model,
    save_model,
)

META = {"method": "texture-nets", "style": {"name": "starry.jpg", "size": [24, 40]}}


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("STYX_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_show_prints_sizes_as_width_x_height(tmp_path, styx_cli):
    """"Sizes in the metadata are [height, width] ...; styx models show prints them as
    WIDTHxHEIGHT"."""
    bank = save_stylebank(tmp_path / "bank")  # every style trained at [24, 40]
    shown = styx_cli("models", "show", str(bank))
    assert shown.exit_code == 0, shown.stderr
    for index, name in enumerate(STYLES):
        row = next(line for line in shown.stdout.splitlines()
                   if line.split()[:2] == [str(index), name])
        assert row.rstrip().endswith("40x24"), row


def test_a_stored_model_wins_over_a_folder_of_that_name_here_and_a_slash_means_a_path(
        tmp_path, monkeypatch):
    """read_model: "A string with a / (or starting with . or ~) is a path; otherwise a
    stored model of that name wins over a folder of that name in the current directory"."""
    save_model({"w": torch.ones(2)}, {**META, "which": "store"}, name="starry")
    save_model({"w": torch.zeros(2)}, {**META, "which": "here"}, path=tmp_path / "starry")
    monkeypatch.chdir(tmp_path)
    assert read_model("starry")[1]["which"] == "store"
    assert read_model("./starry")[1]["which"] == "here"
    assert read_model(f"../{tmp_path.name}/starry")[1]["which"] == "here"
    # a folder here with no stored model of its name is found by the bare name
    save_model({"w": torch.zeros(2)}, {**META, "which": "only here"},
               path=tmp_path / "elsewhere")
    assert read_model("elsewhere")[1]["which"] == "only here"


def test_a_part_file_no_model_json_lists_is_never_read(home):
    folder = save_model({"w": torch.ones(2)}, META, name="grown")
    add_model_part(folder, {"banks.1": torch.full((2,), 2.0)},
                   {**META, "styles": ["a", "b"]}, part="styles-1-1")
    (folder / "parts").mkdir(exist_ok=True)
    save_file({"stray": torch.ones(1), "w": torch.zeros(2)},
              str(folder / "parts" / "stray.safetensors"))
    state, metadata = read_model("grown")
    assert set(state) == {"w", "banks.1"} and torch.equal(state["w"], torch.ones(2))
    assert metadata["parts"] == ["parts/styles-1-1.safetensors"]


def test_rm_keeps_the_run_folder(home, styx_cli):
    """"The run folder of a model ($STYX_HOME/runs/NAME, its checkpoint) is kept"."""
    save_model({"w": torch.ones(2)}, META, name="starry")
    run_dir = home / "runs" / "starry"
    run_dir.mkdir(parents=True)
    (run_dir / "checkpoint.safetensors").write_bytes(b"checkpoint")
    result = styx_cli("models", "rm", "starry", "-y")
    assert result.exit_code == 0, result.stderr
    assert not (models_home() / "starry").exists()
    assert (run_dir / "checkpoint.safetensors").read_bytes() == b"checkpoint"


@pytest.mark.parametrize("name", ["a", "9lives", "starry+scream", "v1.2_final-3",
                                  "x" * 100])
def test_the_names_the_docs_allow_are_accepted(name, home):
    """"letters, digits, ., _, - and +, up to 100 characters, starting with a letter or a
    digit" (tests/files/test_modelstore.py checks the refusals)."""
    assert save_model({"w": torch.ones(1)}, META, name=name) == models_home() / name


def test_model_target_refuses_a_taken_name_without_writing(home, tmp_path):
    folder = save_model({"w": torch.ones(1)}, META, name="taken")
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    with pytest.raises(StyxError, match="already exists"):
        model_destination(name="taken")
    assert model_destination(name="taken", overwrite=True) == folder
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "notes.txt").write_text("mine")
    with pytest.raises(StyxError):
        model_destination(path=tmp_path / "plain", overwrite=True)  # not a model: never replaced
    assert model_destination(name="fresh") == models_home() / "fresh"
    assert not (models_home() / "fresh").exists()


def test_load_model_gives_the_documented_attributes(tmp_path):
    from styx.generators.models import load_model
    from styx.plugins.methods.stylebank.network import StyleBankNetwork

    model = load_model(save_stylebank(tmp_path / "bank"))
    assert isinstance(model.generator, StyleBankNetwork)
    assert model.method == "stylebank" and model.path == tmp_path / "bank"
    assert model.styles == STYLES
    assert json.loads((tmp_path / "bank" / "model.json").read_text()) == model.metadata
    image = torch.rand(1, 3, 12, 16)
    assert model(image, style=0).shape == (1, 3, 12, 16)
