"""``styx infer`` knows its memory before the work: a run that does not fit is refused
before any photo is decoded (exit 2, one line naming the estimate, what is free and the
fix); ``--dry-run`` prints the estimates and writes nothing; ``--json`` carries them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pattern_images import write_image

import styx


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    from trained_models import save_texture_nets

    root = tmp_path_factory.mktemp("memory")
    return styx.export(save_texture_nets(root / "tn"), "onnx", root / "tn.onnx")


@pytest.fixture
def photos(tmp_path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    write_image(folder / "a.png", 48, 64, seed=1)
    write_image(folder / "big.png", 768, 1024, seed=2)
    return folder


def estimate(styx_cli, *args: str) -> int:
    result = styx_cli("infer", *args, "--dry-run", "--json")
    assert result.exit_code == 0, result.stderr
    return max(need["estimate_bytes"] for need in json.loads(result.stdout)["memory"])


def test_a_small_machine_refuses_the_run_before_any_photo_is_decoded(
        model, photos, styx_cli, tmp_path, monkeypatch):
    big = photos / "big.png"
    whole = estimate(styx_cli, str(model), str(big), "-o", str(tmp_path / "x.png"))
    tiled = estimate(styx_cli, str(model), str(big), "-o", str(tmp_path / "x.png"),
                     "--tile", "256")
    assert tiled < whole
    monkeypatch.setenv("STYX_MEMORY_LIMIT", str((whole + tiled) // 2))
    import styx.files.image_arrays

    monkeypatch.setattr(styx.files.image_arrays, "decode_image",
                        lambda *a, **k: pytest.fail("a photo was decoded"))
    out = tmp_path / "out"
    result = styx_cli("infer", str(model), str(photos), "--output-dir", str(out))
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    error = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1
    assert "stylising big.png at 1024x768 px needs about" in error[0]
    assert "of memory, but cpu has" in error[0] and "free (capped by STYX_MEMORY_LIMIT)" in \
        error[0]
    assert "use --tile 512 (memory follows the tile), or a smaller --long-side" in \
        result.stderr or "use --tile 256 (memory follows the tile), or a smaller " \
        "--long-side" in result.stderr
    assert not out.exists() or list(out.iterdir()) == []  # not even the small photo's


def test_a_size_whose_photo_alone_does_not_fit_asks_for_a_smaller_long_side(
        model, photos, styx_cli, tmp_path):
    out = tmp_path / "x.png"
    result = styx_cli("infer", str(model), str(photos / "a.png"), "-o", str(out),
                      "--long-side", "100000")
    assert result.exit_code == 2
    assert "stylising a.png at 100000x75000 px needs about" in result.stderr
    assert "TiB of memory, but cpu has" in result.stderr
    assert "hint: use a smaller --long-side" in result.stderr and "--tile" not in \
        result.stderr  # tiles cannot help: the full-size arrays alone do not fit
    assert not out.exists()


def test_dry_run_prints_the_estimate_of_each_size_and_writes_nothing(
        model, photos, styx_cli, tmp_path):
    out = tmp_path / "out"
    result = styx_cli("infer", str(model), str(photos), "--output-dir", str(out),
                      "--dry-run")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("stylising a.png at 64x48 px: about ")
    assert lines[1].startswith("stylising big.png at 1024x768 px: about ")
    assert " on cpu (" in lines[1] and " free)" in lines[1]
    assert not out.exists()
    result = styx_cli("infer", str(model), str(photos), "--output-dir", str(out),
                      "--dry-run", "--json", "--tile", "256")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["photos"] == 2 and not out.exists()
    what = [need["what"] for need in report["memory"]]
    assert what == ["stylising a.png at 64x48 px",
                    "stylising big.png at 1024x768 px in 256 px tiles"]
    for need in report["memory"]:
        assert set(need["parts"]) == {"weights", "network", "images"}
        assert need["estimate_bytes"] == sum(need["parts"].values()) > 0
        assert need["fits"] is True and need["device"] == "cpu"


def test_the_json_result_carries_the_estimate_it_checked(model, photos, styx_cli, tmp_path):
    out = tmp_path / "out"
    result = styx_cli("infer", str(model), str(photos / "a.png"), "-o", str(out / "a.png"),
                      "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["written"] == [str(out / "a.png")]
    (need,) = report["memory"]
    assert need["what"] == "stylising a.png at 64x48 px" and need["fits"] is True
    assert need["estimate_bytes"] > 64 * 48 * 3 * 4
    assert need["available_bytes"] is None or need["available_bytes"] > 0


def test_the_next_group_is_decoded_only_after_the_one_before_is_written(
        model, photos, styx_cli, tmp_path, monkeypatch):
    """One group of photos in memory at a time, as the estimate counts them."""
    from styx.inference import batch
    from styx.inference.onnxfile import OnnxGenerator

    write_image(photos / "b.png", 40, 30, seed=3)
    events = []
    load, run = batch.load_photo, OnnxGenerator.run
    monkeypatch.setattr(batch, "load_photo", lambda source, long_side: (
        events.append(("decode", source.name)), load(source, long_side))[1])
    monkeypatch.setattr(OnnxGenerator, "run", lambda self, images, **kw: (
        events.append(("run", images.shape[-2:])), run(self, images, **kw))[1])
    result = styx_cli("infer", str(model), str(photos), "--output-dir", str(tmp_path / "o"))
    assert result.exit_code == 0, result.stderr
    assert events == [("decode", "a.png"), ("run", (48, 64)), ("decode", "b.png"),
                      ("run", (40, 30)), ("decode", "big.png"), ("run", (768, 1024))]
