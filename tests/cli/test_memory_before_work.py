"""docs/memory.md: every command that allocates by size estimates its memory from a shape
pass before any work, refuses a size that cannot fit (one line: the estimate, what is free,
the fix; exit 2; nothing written), and says the estimate with ``--dry-run`` and ``--json``.
``STYX_MEMORY_LIMIT`` stands in for a small machine."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from trained_models import save_stylebank, save_texture_nets, write_photo

from styx.runtime import meta
from styx.runtime.memory import MemoryNeed, human, parse_bytes, watching

REFUSAL = re.compile(r"^error: (.+) needs about ([0-9.]+ [KMGT]iB) of memory, but cpu has "
                     r"([0-9.]+ [KMGT]?i?B) free")


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Tiny convolutions: one intra-op thread (the root conftest's ``one_thread``)."""


@pytest.fixture
def files(tmp_path, monkeypatch):
    monkeypatch.setenv("STYX_HOME", str(tmp_path / "home"))
    photos = tmp_path / "photos"
    photos.mkdir()
    for index in range(2):
        write_photo(photos / f"{index}.png", 48, 64, seed=index)
    return {"root": tmp_path, "photos": photos, "photo": photos / "0.png",
            "texture": save_texture_nets(tmp_path / "tn"),
            "bank": save_stylebank(tmp_path / "sb")}


def refusal(result) -> tuple[str, str]:
    """The (error, hint) lines of a refusal, checked to be one line each, exit 2."""
    assert result.exit_code == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith(("error:", "hint:"))]
    assert len(lines) == 2 and "Traceback" not in result.stderr, result.stderr
    assert REFUSAL.match(lines[0]), lines[0]
    return lines[0], lines[1]


# -- the shape pass --------------------------------------------------------------------------
def test_the_shape_pass_counts_live_tensors_once_and_frees_the_dead():
    def work():
        a = torch.empty(1000)              # 4,000 bytes
        view = a[:10]                      # the same storage: not counted again
        a.add_(1)                          # in place: the same storage
        b = torch.empty(500, dtype=torch.float64)   # + 4,000 -> 8,000 alive at once
        del a, view, b
        torch.empty(1500)                  # 6,000, alone: below the peak

    assert meta.peak_bytes(work) == 8000


def test_a_value_read_back_in_a_shape_pass_reads_as_zero_and_nothing_is_real():
    with meta.shape_pass():
        image = torch.rand(1, 3, 100_000, 100_000)   # 120 GB were it real
        assert meta.is_fake(image) and float(image.sum()) == 0.0


def test_the_estimate_of_gatys_grows_with_the_pixels(files):
    import styx

    needs = {}
    for size in (128, 256):
        with watching(stop=True) as checked, pytest.raises(Exception, match="about"):
            styx.stylize("gatys", str(files["photo"]), weights="random", size=size, steps=1)
        needs[size] = checked[-1].parts["work"]
    assert 3.5 < needs[256] / needs[128] < 4.5   # activations follow the area


def test_parse_and_print_amounts():
    assert parse_bytes("8GiB") == 8 * 2**30 and parse_bytes("512 MB") == 512 * 10**6
    assert parse_bytes("2e9") == 2 * 10**9
    assert human(3 * 2**30) == "3.0 GiB" and human(640 * 2**20) == "640 MiB"
    with pytest.raises(ValueError):
        parse_bytes("lots")
    held = MemoryNeed("x", "cpu", {"weights": 100, "work": 50}, available=60, held=100)
    assert held.bytes == 150 and held.fits   # loaded weights are no longer free memory


# -- the commands ----------------------------------------------------------------------------
def test_gatys_at_a_huge_size_is_refused_before_any_work(styx_cli, files):
    out = files["root"] / "x.png"
    error, hint = refusal(styx_cli("run", "gatys", str(files["photo"]), "--weights", "random",
                                   "--size", "100000", "-o", str(out), "--log-json",
                                   str(files["root"] / "log.json")))
    assert "gatys at 100000x75000 px" in error and "TiB" in error
    assert "--size" in hint
    assert not out.exists() and not (files["root"] / "log.json").exists()


def test_a_small_machine_refuses_what_a_large_one_runs(styx_cli, files, monkeypatch):
    args = ("run", "gatys", str(files["photo"]), "--weights", "random", "--size", "96",
            "--steps", "1", "-o", str(files["root"] / "x.png"))
    monkeypatch.setenv("STYX_MEMORY_LIMIT", "1MiB")
    error, _ = refusal(styx_cli(*args))
    assert "1.0 MiB free (capped by STYX_MEMORY_LIMIT)" in error
    monkeypatch.setenv("STYX_MEMORY_LIMIT", "8GiB")
    result = styx_cli(*args, "--json")
    assert result.exit_code == 0, result.stderr
    memory = json.loads(result.stdout)["memory"]
    assert memory["fits"] and memory["available_bytes"] <= 8 * 2**30
    assert memory["estimate_bytes"] == sum(memory["parts"].values()) > 0


def test_a_bad_memory_limit_is_a_clear_error(styx_cli, files, monkeypatch):
    monkeypatch.setenv("STYX_MEMORY_LIMIT", "lots")
    result = styx_cli("run", "gatys", "--weights", "random", "--size", "64", "--steps", "1",
                      "-o", str(files["root"] / "x.png"))
    assert result.exit_code == 2 and "bad STYX_MEMORY_LIMIT='lots'" in result.stderr


def test_dry_run_prints_the_estimate_and_writes_nothing(styx_cli, files):
    out = files["root"] / "x.png"
    result = styx_cli("run", "gatys", str(files["photo"]), "--weights", "random", "--size",
                      "128", "-o", str(out), "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert re.match(r"fits: gatys at 128x96 px: about [0-9.]+ MiB on cpu \(", result.stdout)
    assert not out.exists()
    result = styx_cli("run", "gatys", "--weights", "random", "--size", "128", "-o", str(out),
                      "--dry-run", "--json")
    report = json.loads(result.stdout)
    assert report["dry_run"] and report["memory"][0]["what"] == "gatys at 128x96 px"
    assert not out.exists()


def test_a_feed_forward_run_names_the_tile_as_the_fix_and_tiles_fit(styx_cli, files,
                                                                    monkeypatch):
    out = files["root"] / "big.png"
    common = ("run", "texture-nets", "-m", str(files["texture"]), str(files["photo"]),
              "-o", str(out))
    monkeypatch.setenv("STYX_MEMORY_LIMIT", "2GiB")
    error, hint = refusal(styx_cli(*common, "--long-side", "4000"))
    assert error.startswith("error: stylising 0.png at 4000x3000 px")
    assert hint == "hint: use --tile 1024 (memory follows the tile), or use a smaller " \
                   "--long-side"
    tiled = styx_cli(*common, "--long-side", "4000", "--tile", "512", "--dry-run", "--json")
    assert tiled.exit_code == 0, tiled.stderr  # the network's part follows the tile
    [need] = json.loads(tiled.stdout)["memory"]
    assert need["fits"] and need["parts"]["work"] < need["parts"]["images"]
    # So large that the whole image's own copies do not fit: tiles would not help.
    error, hint = refusal(styx_cli(*common, "--long-side", "60000", "--tile", "512"))
    assert error.startswith("error: stylising 0.png at 60000x45000 px")
    assert hint == "hint: use a smaller --long-side"
    assert not out.exists()


def test_a_feed_forward_dry_run_over_a_folder_gives_one_estimate_a_photo(styx_cli, files):
    result = styx_cli("run", "stylebank", "-m", str(files["bank"]), "--style", "1",
                      str(files["photos"]), "--output-dir", str(files["root"] / "out"),
                      "--dry-run", "--json")
    assert result.exit_code == 0, result.stderr
    needs = json.loads(result.stdout)["memory"]
    assert [n["what"] for n in needs] == ["stylising 0.png at 64x48 px",
                                          "stylising 1.png at 64x48 px"]
    assert not (files["root"] / "out").exists()


def test_a_texture_too_large_is_refused(styx_cli, files):
    save_texture_nets(files["root"] / "weave", content_channels=0)
    error, hint = refusal(styx_cli("run", "texture-nets", "-m", str(files["root"] / "weave"),
                                   "--texture", "--size", "90000x90000", "-o",
                                   str(files["root"] / "t.png")))
    assert "a texture at 90000x90000 px" in error and hint == "hint: use a smaller --size"


def test_training_at_a_huge_size_is_refused_before_any_iteration(styx_cli, files):
    run_dir = files["root"] / "run"
    error, hint = refusal(styx_cli("train", "texture-nets", "--style", str(files["photo"]),
                                   "--content-dir", str(files["photos"]), "--name", "big",
                                   "--weights", "random", "--image-size", "100000",
                                   "--run-dir", str(run_dir)))
    assert "--image-size 100000" in error and "--image-size" in hint
    assert not (run_dir / "checkpoint.safetensors").exists()


def test_training_names_the_batch_as_the_fix_and_dry_run_trains_nothing(styx_cli, files,
                                                                       monkeypatch):
    run_dir = files["root"] / "run"
    args = ("train", "texture-nets", "--style", str(files["photo"]), "--content-dir",
            str(files["photos"]), "--name", "small", "--weights", "random", "--image-size",
            "64", "--batch-size", "2", "--run-dir", str(run_dir))
    result = styx_cli(*args, "--dry-run", "--json")
    assert result.exit_code == 0, result.stderr
    needs = json.loads(result.stdout)["memory"]
    assert needs[-1]["what"] == "training at 2 x 64x64 px" and needs[-1]["fits"]
    assert set(needs[-1]["parts"]) == {"weights", "optimizer", "work"}
    assert not (run_dir / "checkpoint.safetensors").exists()
    assert not (files["root"] / "home" / "models" / "small").exists()
    limit = needs[-1]["estimate_bytes"] - needs[-1]["parts"]["weights"] - 1
    monkeypatch.setenv("STYX_MEMORY_LIMIT", str(limit))
    error, hint = refusal(styx_cli(*args))
    assert "training at 2 x 64x64 px" in error and "--batch-size" in hint


def test_the_training_estimate_leaves_the_task_and_model_as_they_were(files):
    """The shape pass runs the task's training_step: no fake tensor may stay behind (a
    resumed run must continue exactly, and a trained model must hold real weights)."""
    import styx

    trained = styx.train("stylebank", style=[str(files["photo"])] * 2,
                         content_dir=str(files["photos"]), weights="random", image_size=32,
                         batch_size=1, iterations=2, quiet=True, name="b",
                         run_dir=str(files["root"] / "b"))
    model = styx.load_model(trained.path)
    assert not any(meta.is_fake(t) for t in model.generator.state_dict().values())
    assert Path(trained.path).exists()


def test_an_experiment_checks_every_cells_memory_before_the_first_runs(styx_cli, tmp_path,
                                                                       monkeypatch):
    """The cell that does not fit is the last: no cell runs, no cells/ folder is made."""
    out = tmp_path / "study"
    args = ("experiment", "descriptors", "--values", "resnet50,vgg19", "--size", "64",
            "--weights", "random", "--steps", "1", "-o", str(out))
    from styx.experiments import runner

    ran = []
    monkeypatch.setattr(runner, "run_cell", lambda cell, *a: ran.append(cell) or None)
    sizes = {}

    def vgg19_only(self):  # resnet50's cell fits, vgg19's does not
        need = original(self)
        sizes[self.config.descriptor] = need.bytes
        return MemoryNeed(need.what, need.device, need.parts,
                          0 if self.config.descriptor == "vgg19" else need.available,
                          need.fixes, need.held)

    from styx.plugins.methods.gatys.api import GatysRun

    original = GatysRun.memory_need
    monkeypatch.setattr(GatysRun, "memory_need", vgg19_only)
    result = styx_cli(*args)
    assert result.exit_code == 2, result.stderr
    assert "cell 'vgg19' of study 'descriptors': gatys at 64x48 px needs about" in result.stderr
    assert set(sizes) == {"resnet50", "vgg19"} and not ran
    assert not (out / "cells").exists()


def test_dry_run_refuses_the_result_of_a_method_that_makes_no_memory_check(styx_cli, files,
                                                                          monkeypatch):
    """docs/plugins.md: a run that never checks its memory still works, but ``--dry-run``
    cannot stop it before its work: its result is refused, not written."""
    monkeypatch.setattr(MemoryNeed, "check", lambda self, last=True: self)  # checks nothing
    out = files["root"] / "x.png"
    result = styx_cli("run", "gatys", str(files["photo"]), "--weights", "random", "--size",
                      "32", "--steps", "1", "-o", str(out), "--dry-run")
    assert result.exit_code == 2
    assert "error: method 'gatys' makes no memory estimate: --dry-run ran it" in result.stderr
    assert not out.exists()
