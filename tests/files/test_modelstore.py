"""The model store: save/load round trip, names and paths, metadata JSON, listing,
removal, atomic writes, and STYX_HOME."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from styx.core.errors import StyxError
from styx.files import modelstore
from styx.files.modelstore import (
    list_models,
    model_info,
    models_home,
    read_model,
    remove_model,
    save_model,
    sha256_file,
    styx_home,
)


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("STYX_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def tiny_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.InstanceNorm2d(4,
                                                                              affine=True))


META = {"method": "texture-nets", "architecture": {"channels": 4},
        "style": {"name": "starry.jpg", "sha256": "ab" * 32},
        "training": {"iterations": 10, "lr": 1e-3}}


def test_styx_home_is_honoured_and_defaults_to_the_user_data_folder(home, monkeypatch):
    assert styx_home() == home
    assert models_home() == home / "models"
    monkeypatch.delenv("STYX_HOME")
    import platformdirs

    assert styx_home() == __import__("pathlib").Path(
        platformdirs.user_data_dir("styx", appauthor=False))


def test_save_and_load_round_trip(home):
    model = tiny_model()
    folder = save_model(model, META, name="starry")
    assert folder == home / "models" / "starry"
    assert sorted(p.name for p in folder.iterdir()) == ["model.json", "model.safetensors"]
    state, metadata = read_model("starry")
    assert state.keys() == model.state_dict().keys()
    for key, value in model.state_dict().items():
        assert torch.equal(state[key], value)
    for key, value in META.items():
        assert metadata[key] == value
    assert metadata["styx_version"] == __import__("styx").__version__
    assert metadata["format"] == "styx-model" and metadata["version"] == 1
    assert "T" in metadata["created"]
    # Loading by folder or by file gives the same; a fresh module loads the state.
    assert read_model(folder)[1] == metadata
    assert read_model(str(folder / "model.safetensors"))[1] == metadata
    fresh = tiny_model()
    fresh.load_state_dict(state)


def test_metadata_is_plain_json_beside_and_inside_the_weights(home):
    folder = save_model({"w": torch.ones(2, 2), "b": torch.zeros(3)}, META, name="plain")
    on_disk = json.loads((folder / "model.json").read_text())
    assert on_disk["method"] == "texture-nets"
    from safetensors import safe_open

    with safe_open(str(folder / "model.safetensors"), framework="pt") as handle:
        assert json.loads(handle.metadata()["styx_model"]) == on_disk
    assert set(load_file(str(folder / "model.safetensors"))) == {"w", "b"}


def test_save_to_a_path_and_tensors_are_copied_contiguously(tmp_path):
    shared = torch.arange(12.0).reshape(3, 4)
    folder = save_model({"a": shared, "a_t": shared.t()}, META, path=tmp_path / "out" / "m")
    state, _ = read_model(tmp_path / "out" / "m")
    assert torch.equal(state["a_t"], shared.t())
    assert folder == tmp_path / "out" / "m"


@pytest.mark.parametrize("name", ["", "../evil", "a/b", ".hidden", "a..b", "x" * 101,
                                  "sp ace", "-dash"])
def test_bad_names_are_refused(name):
    with pytest.raises(StyxError, match="bad model name"):
        save_model({"w": torch.ones(1)}, META, name=name)


def test_bad_arguments_and_metadata(tmp_path):
    with pytest.raises(ValueError, match="exactly one"):
        save_model({"w": torch.ones(1)}, META)
    with pytest.raises(ValueError, match="exactly one"):
        save_model({"w": torch.ones(1)}, META, name="a", path=tmp_path / "a")
    with pytest.raises(ValueError, match="JSON"):
        save_model({"w": torch.ones(1)}, {"method": "x", "bad": object()}, name="m")
    with pytest.raises(ValueError, match="JSON"):
        save_model({"w": torch.ones(1)}, {"method": "x", "lr": float("nan")}, name="m")
    with pytest.raises(TypeError):
        save_model({"w": 1.0}, META, name="m")
    assert not (models_home() / "m").exists()


def test_an_existing_model_is_kept_unless_overwrite(home):
    save_model({"w": torch.ones(1)}, META, name="m")
    with pytest.raises(StyxError, match="already exists") as error:
        save_model({"w": torch.zeros(1)}, META, name="m")
    assert "styx models rm m" in error.value.hint
    assert read_model("m")[0]["w"].item() == 1.0
    elsewhere = save_model({"w": torch.ones(1)}, META, path=home / "elsewhere")
    with pytest.raises(StyxError, match="already exists") as error:
        save_model({"w": torch.zeros(1)}, META, path=elsewhere)
    assert "models rm" not in error.value.hint  # rm takes store names, never paths
    save_model({"w": torch.zeros(1)}, META, name="m", overwrite=True)
    assert read_model("m")[0]["w"].item() == 0.0


def test_a_folder_that_is_not_a_model_is_never_replaced(tmp_path):
    precious = tmp_path / "documents"
    precious.mkdir()
    (precious / "thesis.txt").write_text("years of work")
    for overwrite in (False, True):
        with pytest.raises(StyxError, match="not a styx model folder"):
            save_model({"w": torch.ones(1)}, META, path=precious, overwrite=overwrite)
    assert (precious / "thesis.txt").read_text() == "years of work"


def test_a_failed_save_leaves_no_folder_and_the_old_model_intact(home, monkeypatch):
    save_model({"w": torch.ones(1)}, META, name="keep")

    def broken_save_file(*args, **kwargs):
        raise OSError("disk full")

    import safetensors.torch

    with monkeypatch.context() as patch:
        patch.setattr(safetensors.torch, "save_file", broken_save_file)
        with pytest.raises(OSError, match="disk full"):
            save_model({"w": torch.ones(1)}, META, name="new")
        with pytest.raises(OSError, match="disk full"):
            save_model({"w": torch.zeros(1)}, META, name="keep", overwrite=True)
    assert sorted(p.name for p in models_home().iterdir()) == ["keep"]  # no temp folders
    assert read_model("keep")[0]["w"].item() == 1.0


def test_list_models_sorted_with_damaged_ones_flagged(home):
    assert list_models() == []
    save_model({"w": torch.ones(1)}, META, name="b")
    save_model({"w": torch.ones(1)}, {**META, "method": "stylebank"}, name="a")
    damaged = models_home() / "c"
    damaged.mkdir()
    (damaged / "model.json").write_text("{not json")
    (models_home() / ".a.tmp-1-x").mkdir()  # a leftover temp folder is not a model
    infos = list_models()
    assert [i.name for i in infos] == ["a", "b", "c"]
    assert infos[0].metadata["method"] == "stylebank" and infos[0].error is None
    assert infos[0].size_bytes > 0
    assert infos[2].error and "cannot read" in infos[2].error
    assert json.loads(json.dumps([i.to_json() for i in infos]))[1]["name"] == "b"


def test_load_errors_are_styx_errors(home, tmp_path):
    with pytest.raises(StyxError, match="no model named 'nope'") as error:
        read_model("nope")
    assert "styx train" in error.value.hint
    save_model({"w": torch.ones(1)}, META, name="starry")
    with pytest.raises(StyxError, match="no model named 'stary'") as error:
        read_model("stary")
    assert "did you mean 'starry'" in error.value.hint
    with pytest.raises(StyxError, match="no model at"):
        read_model(tmp_path / "missing")
    folder = models_home() / "starry"
    (folder / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{tru")
    with pytest.raises(StyxError, match="cannot read .*model.safetensors"):
        read_model("starry")
    (folder / "model.safetensors").unlink()
    with pytest.raises(StyxError, match="has no model.safetensors"):
        read_model("starry")
    (folder / "model.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(StyxError, match="not styx model metadata"):
        read_model("starry")
    (folder / "model.json").unlink()
    with pytest.raises(StyxError, match="no model.json"):
        read_model(folder)
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(StyxError, match="not a styx model folder"):
        read_model(tmp_path / "file.txt")


def test_remove_model(home, tmp_path):
    save_model({"w": torch.ones(1)}, META, name="gone")
    save_model({"w": torch.ones(1)}, META, name="stays")
    assert remove_model("gone") == models_home() / "gone"
    assert [i.name for i in list_models()] == ["stays"]
    assert sorted(p.name for p in models_home().iterdir()) == ["stays"]
    with pytest.raises(StyxError, match="no model named 'gone'"):
        remove_model("gone")
    outside = save_model({"w": torch.ones(1)}, META, path=tmp_path / "outside")
    with pytest.raises(StyxError, match="bad model name"):
        remove_model(str(outside))
    with pytest.raises(StyxError, match="bad model name"):
        remove_model("../outside")
    assert outside.is_dir()


def test_model_info_and_sha256(home, tmp_path):
    folder = save_model(tiny_model(), META, name="info")
    info = model_info("info")
    assert info.path == folder and info.metadata["method"] == "texture-nets"
    assert info.size_bytes == sum(p.stat().st_size for p in folder.iterdir())
    (tmp_path / "f.bin").write_bytes(b"abc")
    assert sha256_file(tmp_path / "f.bin") == \
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_importing_the_store_does_not_import_torch():
    import subprocess
    import sys

    code = ("import sys, styx.files.modelstore, styx.cli.models; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
    assert modelstore.WEIGHTS_FILE == "model.safetensors"


def test_a_truncated_or_garbage_weights_file_is_listed_as_damaged(home):
    save_model(tiny_model(), META, name="good")
    for name, damage in (("cut", lambda d: d[:len(d) // 2]), ("tail", lambda d: d[:-4]),
                         ("garbage", lambda d: b"\x00\xff" * 1500), ("empty", lambda d: b"")):
        folder = save_model(tiny_model(), META, name=name)
        weights = folder / "model.safetensors"
        weights.write_bytes(damage(weights.read_bytes()))
    infos = {i.name: i for i in list_models()}
    assert infos["good"].error is None and model_info("good").error is None
    for name in ("cut", "tail", "garbage", "empty"):
        assert infos[name].error and "model.safetensors" in infos[name].error, name
        assert model_info(name).error == infos[name].error
        with pytest.raises(StyxError):
            read_model(name)
    (models_home() / "cut" / "model.safetensors").unlink()
    assert model_info("cut").error == "no model.safetensors"


def test_the_weights_file_is_as_readable_as_the_metadata(home):
    import os
    import stat

    old = os.umask(0o022)
    try:
        folder = save_model(tiny_model(), META, name="shared")
    finally:
        os.umask(old)
    mode = stat.S_IMODE((folder / "model.safetensors").stat().st_mode)
    assert mode == stat.S_IMODE((folder / "model.json").stat().st_mode) == 0o644


# -- growing a model by parts ----------------------------------------------------------------
def test_a_part_adds_tensors_without_rewriting_the_weights(home):
    from styx.files.modelstore import add_model_part

    folder = save_model(tiny_model(), META, name="grown")
    weights = (folder / "model.safetensors").read_bytes()
    extra = {"extra.weight": torch.ones(2, 2)}
    add_model_part(folder, extra, {**META, "note": "grown"}, part="more")
    assert (folder / "model.safetensors").read_bytes() == weights
    state, metadata = read_model("grown")
    assert torch.equal(state["extra.weight"], torch.ones(2, 2))
    assert metadata["parts"] == ["parts/more.safetensors"] and metadata["note"] == "grown"
    assert metadata["created"] == json.loads((folder / "model.json").read_text())["created"]
    assert model_info("grown").error is None
    with pytest.raises(ValueError, match="already has tensor"):
        add_model_part(folder, extra, META, part="again")
    (folder / "parts" / "more.safetensors").write_bytes(b"12345678")
    assert "parts/more.safetensors is truncated" in model_info("grown").error


def test_a_part_that_fails_to_write_leaves_the_model_as_it_was(home, monkeypatch):
    import safetensors.torch

    from styx.files.modelstore import add_model_part

    folder = save_model(tiny_model(), META, name="grown")
    before = (folder / "model.json").read_text()

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(safetensors.torch, "save_file", disk_full)
    with pytest.raises(OSError):
        add_model_part(folder, {"extra.weight": torch.ones(1)}, META, part="more")
    assert (folder / "model.json").read_text() == before
    assert list((folder / "parts").iterdir()) == []  # no temporary file left either
    state, _ = read_model("grown")
    assert "extra.weight" not in state
