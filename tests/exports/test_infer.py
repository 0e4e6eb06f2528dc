"""``styx infer``: exported files in onnxruntime, with no torch, over photos and folders."""

from __future__ import annotations

import itertools
import json
import shutil

import numpy as np
import onnx
import pytest
import torch
from pattern_images import read_rgb
from PIL import Image

import styx
from styx.core.errors import StyxError
from styx.files.tiling import ALIGN, check_tiling, tile_spans, tiled
from styx.inference.onnxfile import OnnxGenerator


@pytest.fixture(scope="module")
def files(models, tmp_path_factory):
    folder = tmp_path_factory.mktemp("files")
    return {name: styx.export(models[name], "onnx", folder / f"{name}.onnx")
            for name in ("texture-nets", "stylebank", "texture-nets-batch")}


# -- the command -------------------------------------------------------------------------
def test_infer_imports_no_torch(styx_subprocess, files, photos, tmp_path):
    result = styx_subprocess("infer", str(files["stylebank"]), str(photos / "a.png"), "-o",
                             str(tmp_path / "out.png"), "--style", "hat",
                             python_flags=("-X", "importtime"))
    assert result.returncode == 0, result.stderr[-2000:]
    torch_lines = [line for line in result.stderr.splitlines() if "torch" in line]
    assert torch_lines == [], torch_lines[:5]
    assert "onnxruntime" in result.stderr  # importtime really reported
    assert read_rgb(tmp_path / "out.png").shape == (48, 64, 3)


def test_infer_equals_styx_run_for_each_method(files, models, photos, styx_cli, tmp_path):
    """docs/onnx.md: ``styx infer --seed 3`` and ``styx run ... --seed 3 --amp off`` agree to
    within 1/255 (both fp32; the suite's CPU has no native bf16, but --amp off says so)."""
    cases = {"stylebank": ["--style", "scream"], "texture-nets": ["--seed", "3"]}
    for name, choice in cases.items():
        method = "stylebank" if name == "stylebank" else "texture-nets"
        ran = styx_cli("run", method, "-m", str(models[name]), str(photos / "a.png"), "-o",
                       str(tmp_path / f"{name}-run.png"), *choice, "--amp", "off", "-q")
        assert ran.exit_code == 0, ran.stderr
        inferred = styx_cli("infer", str(files[name]), str(photos / "a.png"), "-o",
                            str(tmp_path / f"{name}-infer.png"), *choice, "-q")
        assert inferred.exit_code == 0, inferred.stderr
        difference = np.abs(read_rgb(tmp_path / f"{name}-run.png") -
                            read_rgb(tmp_path / f"{name}-infer.png"))
        # noise drawn by pixel position: the same pixels, rounding aside
        assert difference.max() <= 1 / 255 + 1e-9, name


def test_style_choice_and_mix_and_strength(files, photos, styx_cli, tmp_path):
    outputs = {}
    for label, choice in {"starry": ["--style", "starry"], "one": ["--style", "1"],
                          "mix": ["--style-mix", "starry:1,scream:1"],
                          "none": ["--style", "starry", "--strength", "0"],
                          "plain": ["--reconstruct"]}.items():
        result = styx_cli("infer", str(files["stylebank"]), str(photos / "a.png"), "-o",
                          str(tmp_path / f"{label}.png"), *choice, "-q")
        assert result.exit_code == 0, result.stderr
        outputs[label] = read_rgb(tmp_path / f"{label}.png")
    assert np.abs(outputs["starry"] - outputs["one"]).mean() > 1e-3
    assert np.abs(outputs["none"] - outputs["plain"]).max() <= 1 / 255 + 1e-9
    between = (outputs["starry"] + outputs["one"]) / 2
    assert np.abs(outputs["mix"] - between).mean() < np.abs(outputs["mix"] - outputs["one"]).mean()
    for args, message in {("--style", "nope"): "has no style 'nope'",
                          ("--style", "7"): "has no style 7",
                          (): "holds 3 styles: choose one",
                          ("--style", "1", "--style-mix", "0:1"): "not both",
                          ("--reconstruct", "--style", "1"): "--reconstruct applies no style"
                          }.items():
        result = styx_cli("infer", str(files["stylebank"]), str(photos / "a.png"), "-o",
                          str(tmp_path / "x.png"), *args)
        assert result.exit_code == 2 and message in result.stderr, (args, result.stderr)
    result = styx_cli("infer", str(files["texture-nets"]), str(photos / "a.png"), "-o",
                      str(tmp_path / "x.png"), "--style", "1")
    assert result.exit_code == 2 and "--style and --style-mix are for files of many styles" in \
        result.stderr


def test_a_folder_with_a_broken_image_goes_on_and_a_rerun_skips_what_is_written(
        files, photos, styx_cli, tmp_path):
    inputs = tmp_path / "in"
    shutil.copytree(photos, inputs)
    shutil.copy(photos / "a.png", inputs / "a-copy.png")  # one batch with a.png
    (inputs / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (inputs / "sub").mkdir()
    Image.fromarray(np.full((20, 30, 3), 128, np.uint8)).save(inputs / "sub" / "d.webp")
    out = tmp_path / "out"
    first = styx_cli("infer", str(files["texture-nets"]), str(inputs), "--output-dir",
                     str(out), "--batch-size", "2", "--json")
    assert first.exit_code == 1  # a failure is reported, after the others are done
    report = json.loads(first.stdout)
    assert sorted(p.rsplit("/", 1)[1] for p in report["written"]) == [
        "a-copy.png", "a.png", "b.png", "c.png", "d.png"]
    # a photo's picture does not depend on the photos it ran with (noise included)
    assert np.array_equal(read_rgb(out / "a.png"), read_rgb(out / "a-copy.png"))
    assert [f["input"].rsplit("/", 1)[1] for f in report["failed"]] == ["broken.png"]
    assert "truncated or corrupt" in report["failed"][0]["error"] or \
        "not an image" in report["failed"][0]["error"]
    assert sorted(p.name for p in out.iterdir()) == ["a-copy.png", "a.png", "b.png", "c.png",
                                                      "d.png"]
    assert read_rgb(out / "c.png").shape == (37, 53, 3)
    written = (out / "a.png").stat().st_mtime_ns
    (inputs / "broken.png").unlink()
    again = styx_cli("infer", str(files["texture-nets"]), str(inputs), "--output-dir",
                     str(out), "--json")
    assert again.exit_code == 0
    assert len(json.loads(again.stdout)["skipped"]) == 5
    assert (out / "a.png").stat().st_mtime_ns == written


def test_shards_split_a_folder_with_no_overlap(files, photos, styx_cli, tmp_path):
    seen = []
    for shard in ("0/2", "1/2"):
        result = styx_cli("infer", str(files["stylebank"]), str(photos), "--output-dir",
                          str(tmp_path), "--style", "0", "--shard", shard, "--json")
        assert result.exit_code == 0, result.stderr
        seen.append(sorted(p.rsplit("/", 1)[1] for p in json.loads(result.stdout)["written"]))
    assert seen == [["a.png", "c.png"], ["b.png"]]
    bad = styx_cli("infer", str(files["stylebank"]), str(photos), "--output-dir",
                   str(tmp_path), "--shard", "2/2")
    assert bad.exit_code == 2 and "bad --shard '2/2'" in bad.stderr


def test_outputs_are_atomic_and_keep_alpha(files, styx_cli, tmp_path):
    rgba = np.zeros((40, 40, 4), np.uint8)
    rgba[..., :3] = 200
    rgba[..., 3] = np.tile(np.linspace(0, 255, 40).astype(np.uint8), (40, 1))
    Image.fromarray(rgba, "RGBA").save(tmp_path / "in.png")
    result = styx_cli("infer", str(files["stylebank"]), str(tmp_path / "in.png"), "-o",
                      str(tmp_path / "out.png"), "--style", "0")
    assert result.exit_code == 0, result.stderr
    out = np.asarray(Image.open(tmp_path / "out.png"))
    assert out.shape == (40, 40, 4) and np.array_equal(out[..., 3], rgba[..., 3])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.png", "out.png"]


def test_bad_model_files_give_clear_errors(files, photos, styx_cli, tmp_path):
    (tmp_path / "corrupt.onnx").write_bytes(files["stylebank"].read_bytes()[:5000])
    wrong = onnx.load(str(files["stylebank"]))
    wrong.graph.input[0].name = "picture"  # a graph whose inputs are not styx's
    for node in wrong.graph.node:
        node.input[:] = ["picture" if i == "image" else i for i in node.input]
    onnx.save(wrong, str(tmp_path / "wrong.onnx"))
    foreign = onnx.load(str(files["stylebank"]))
    del foreign.metadata_props[:]
    onnx.save(foreign, str(tmp_path / "foreign.onnx"))
    cases = {"corrupt.onnx": "cannot open", "wrong.onnx": "takes no N x 3 x H x W content image",
             "foreign.onnx": "has no styx metadata", "missing.onnx": "model file not found"}
    for name, message in cases.items():
        result = styx_cli("infer", str(tmp_path / name), str(photos / "a.png"), "-o",
                          str(tmp_path / "out.png"))
        assert result.exit_code == 2, (name, result.stderr)
        assert message in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert not (tmp_path / "out.png").exists()
    shown = styx_cli("models", "show", str(tmp_path / "corrupt.onnx"))
    assert shown.exit_code == 2 and "not a readable ONNX file" in shown.stderr


CPU, CUDA, TENSORRT = "CPUExecutionProvider", "CUDAExecutionProvider", \
    "TensorrtExecutionProvider"


def test_providers(files):
    """The real CPU path, whichever onnxruntime wheel is installed."""
    with pytest.raises(StyxError, match="unknown --provider"):
        OnnxGenerator.open(files["stylebank"], provider="gpu")
    cpu = OnnxGenerator.open(files["stylebank"], provider="cpu")
    assert cpu.provider == CPU and cpu.fallback is None
    image = np.random.default_rng(0).random((1, 3, 32, 40), dtype=np.float32)
    out = cpu.run(image)
    assert out.shape == image.shape and np.isfinite(out).all()


def fake_onnxruntime(monkeypatch, *, providers: list[str], gpu: bool,
                     starts: tuple[str, ...] = ()) -> list[list[str]]:
    """onnxruntime as another wheel on another machine shows it: the ``providers`` it
    lists, whether styx sees a GPU, and the accelerated providers that start (``starts``).
    Sessions really run on the CPU; one asked for a provider that does not start falls back
    to the CPU, as onnxruntime's does. Gives the provider lists sessions were asked for."""
    import onnxruntime

    from styx.inference import onnxfile

    real_session = onnxruntime.InferenceSession
    asked: list[list[str]] = []

    class Session:
        def __init__(self, path, sess_options=None, providers=()):
            asked.append(list(providers))
            self._session = real_session(path, sess_options=sess_options, providers=[CPU])
            self._started = [p for p in providers if p in starts]

        def get_providers(self) -> list[str]:
            return [*self._started, CPU]

        def __getattr__(self, name):
            return getattr(self._session, name)

    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: list(providers))
    monkeypatch.setattr(onnxruntime, "InferenceSession", Session)
    monkeypatch.setattr(onnxfile, "_has_gpu", lambda: gpu)
    return asked


@pytest.mark.parametrize("gpu", [False, True], ids=["no-gpu", "gpu"])
def test_a_wheel_without_cuda_runs_auto_on_the_cpu_and_refuses_cuda(files, monkeypatch, gpu):
    asked = fake_onnxruntime(monkeypatch, providers=[CPU], gpu=gpu)
    auto = OnnxGenerator.open(files["stylebank"], provider="auto")
    assert auto.provider == CPU and "pip install onnxruntime-gpu" in auto.fallback
    assert asked == [[CPU]]
    for provider, missing in (("cuda", CUDA), ("tensorrt", TENSORRT)):
        with pytest.raises(StyxError, match=f"has no {missing}"):
            OnnxGenerator.open(files["stylebank"], provider=provider)
    assert asked == [[CPU]]  # refused before any session


def test_a_cuda_wheel_without_a_gpu_runs_auto_on_the_cpu(files, monkeypatch):
    asked = fake_onnxruntime(monkeypatch, providers=[TENSORRT, CUDA, CPU], gpu=False)
    auto = OnnxGenerator.open(files["stylebank"], provider="auto")
    assert auto.provider == CPU and "no CUDA GPU" in auto.fallback
    assert asked == [[CPU]]  # CUDA not even tried
    # Asked for, CUDA cannot start: an error, not a quiet CPU run.
    with pytest.raises(StyxError, match="could not start CUDAExecutionProvider"):
        OnnxGenerator.open(files["stylebank"], provider="cuda")
    assert asked[-1] == [CUDA, CPU]


def test_a_cuda_wheel_with_a_gpu_takes_cuda(files, monkeypatch):
    asked = fake_onnxruntime(monkeypatch, providers=[CUDA, CPU], gpu=True, starts=(CUDA,))
    auto = OnnxGenerator.open(files["stylebank"], provider="auto")
    assert auto.provider == CUDA and auto.fallback is None
    assert asked == [[CUDA, CPU]]
    assert OnnxGenerator.open(files["stylebank"], provider="cuda").provider == CUDA


def test_a_gpu_that_cuda_cannot_start_on_falls_back_under_auto_only(files, monkeypatch):
    fake_onnxruntime(monkeypatch, providers=[CUDA, CPU], gpu=True)
    auto = OnnxGenerator.open(files["stylebank"], provider="auto")
    assert auto.provider == CPU and auto.fallback == "onnxruntime could not start CUDA"
    with pytest.raises(StyxError, match="could not start CUDAExecutionProvider and fell "
                                        "back to CPUExecutionProvider"):
        OnnxGenerator.open(files["stylebank"], provider="cuda")


# -- tiling ------------------------------------------------------------------------------
@pytest.mark.parametrize("length,tile,overlap", [(100, 64, 0), (1000, 256, 64),
                                                 (4096, 1024, 64), (300, 256, 16),
                                                 (257, 256, 64), (999, 97, 20)])
def test_tiles_cover_the_side_overlap_enough_and_start_on_the_grid(length, tile, overlap):
    spans = tile_spans(length, tile, overlap)
    assert spans[0][0] == 0 and spans[-1][1] == length
    for (start, end), (next_start, _) in itertools.pairwise(spans):
        assert end - next_start >= overlap  # every seam has the overlap to blend over
        assert start % ALIGN == 0 and end - start == tile
    assert spans[-1][0] % ALIGN == 0 and tile <= spans[-1][1] - spans[-1][0] < tile + ALIGN


def test_tiled_identity_is_the_image_and_bad_tiles_are_refused():
    image = np.random.default_rng(0).random((2, 3, 300, 517), dtype=np.float32)
    calls = []

    def apply(part, origin):
        calls.append(origin)
        return part * 1.0

    assert np.allclose(tiled(apply, image, tile=160, overlap=32), image, atol=1e-6)
    assert len(calls) > 4
    with pytest.raises(StyxError, match="too small"):
        check_tiling(32, 0)
    with pytest.raises(StyxError, match="does not fit"):
        check_tiling(160, 70)
    check_tiling(160, 64)  # the smallest tile takes the default overlap


def interior(array: np.ndarray, margin: int = 24) -> np.ndarray:
    return array[..., margin:-margin, margin:-margin]


def test_tiled_batch_norm_generator_equals_the_whole_image_in_pytorch_and_onnx(files, models):
    """With batch norm nothing depends on the tile's own statistics: tiles blended over
    their overlap give the one-pass picture, up to the receptive field at tile edges."""
    from styx.generators.models import apply_generator, load_model

    model = load_model(models["texture-nets-batch"])
    image = torch.from_numpy(np.random.default_rng(3).random((1, 3, 200, 260),
                                                             dtype=np.float32))
    from styx.inference.batch import InferSettings, stylise_batch

    whole = apply_generator(model, image, seed=5).numpy()
    parts = apply_generator(model, image, seed=5, tile=160, overlap=48).numpy()
    assert np.abs(interior(whole) - interior(parts)).mean() < 0.005
    generator = OnnxGenerator.open(files["texture-nets-batch"], provider="cpu")
    onnx_parts = stylise_batch(generator, image.numpy(), InferSettings(seed=5, tile=160,
                                                                  overlap=48))
    assert np.abs(onnx_parts - parts).max() < 1e-3


def test_tiles_given_the_whole_images_statistics_give_the_one_pass_picture(models):
    """The mechanism of thumbnail normalisation, exactly: tiles normalised by the whole
    image's own statistics reproduce the one-pass picture (up to what the receptive field
    sees across a tile's edge), while tiles normalised by their own do not."""
    from styx.generators.blocks import given_statistics, instance_norms, kept_statistics
    from styx.generators.models import apply_generator, load_model

    model = load_model(models["texture-nets"])
    image = torch.from_numpy(np.random.default_rng(4).random((1, 3, 200, 260),
                                                             dtype=np.float32))
    image = image * torch.linspace(0.2, 1.0, 260)  # tiles that differ: dark left, light right
    network = model.generator
    with kept_statistics(network) as layers:
        whole = apply_generator(model, image, seed=3).numpy()
    statistics = [layer.kept for layer in layers]

    def tile(part, origin):
        return apply_generator(model, torch.from_numpy(part), seed=3, origin=origin).numpy()

    own = tiled(tile, image.numpy(), tile=160, overlap=48)
    with given_statistics(network, statistics):
        given = tiled(tile, image.numpy(), tile=160, overlap=48)
    assert np.abs(interior(given) - interior(whole)).mean() < 0.01
    assert np.abs(interior(own) - interior(whole)).mean() > \
        3 * np.abs(interior(given) - interior(whole)).mean()
    assert all(layer.given is None and not layer.keep for layer in instance_norms(network))


def test_pytorch_and_onnxruntime_tile_alike(files, models, photos):
    from styx.generators.models import apply_generator, load_model
    from styx.inference.batch import InferSettings, stylise_batch
    from styx.runtime.image_tensors import read_image, resize_to

    image = resize_to(read_image(photos / "a.png").rgb, (240, 320))
    for name, given in {"stylebank": {"style_weights": np.array([0, 1, 0], np.float32)},
                        "texture-nets": {}}.items():
        model = load_model(models[name])
        options = {key: torch.from_numpy(value) for key, value in given.items()}
        tiles = apply_generator(model, image, seed=2, tile=160, overlap=32,
                                **options).numpy()
        generator = OnnxGenerator.open(files[name], provider="cpu")
        onnx_tiles = stylise_batch(generator, image.numpy(), InferSettings(
            seed=2, tile=160, overlap=32, inputs=given))
        assert np.abs(onnx_tiles - tiles).max() < 1e-3, name


def test_infer_tiles_large_photos(files, photos, styx_cli, tmp_path):
    from pattern_images import write_image

    write_image(tmp_path / "big.png", 300, 410, seed=5)
    for tile in ("none", "160"):
        extra = [] if tile == "none" else ["--tile", tile]
        result = styx_cli("infer", str(files["texture-nets"]), str(tmp_path / "big.png"),
                          "-o", str(tmp_path / f"{tile}.png"), *extra)
        assert result.exit_code == 0, result.stderr
    whole, parts = read_rgb(tmp_path / "none.png"), read_rgb(tmp_path / "160.png")
    assert parts.shape == whole.shape == (300, 410, 3)
    # close (how close, for trained models: docs/onnx.md), and really tiled
    assert 1e-4 < np.abs(whole - parts).mean() < 0.1
    result = styx_cli("infer", str(files["stylebank"]), str(tmp_path / "big.png"), "-o",
                      str(tmp_path / "x.png"), "--tile", "16")
    assert result.exit_code == 2 and "--tile 16 is too small" in result.stderr


def test_overwrite_long_side_and_format(files, photos, styx_cli, tmp_path):
    base = ("infer", str(files["stylebank"]), str(photos / "a.png"), "--output-dir",
            str(tmp_path), "--long-side", "32", "--format", "jpg")
    first = styx_cli(*base, "--style", "0", "--json")
    assert first.exit_code == 0, first.stderr
    assert json.loads(first.stdout)["written"] == [str(tmp_path / "a.jpg")]
    assert Image.open(tmp_path / "a.jpg").size == (32, 24)  # 64x48 to a long side of 32
    before = read_rgb(tmp_path / "a.jpg")
    kept = styx_cli(*base, "--style", "1", "--json")
    assert json.loads(kept.stdout)["skipped"] == [str(tmp_path / "a.jpg")]
    assert np.array_equal(read_rgb(tmp_path / "a.jpg"), before)
    replaced = styx_cli(*base, "--style", "1", "--overwrite", "--json")
    assert json.loads(replaced.stdout)["written"] == [str(tmp_path / "a.jpg")]
    assert np.abs(read_rgb(tmp_path / "a.jpg") - before).mean() > 1e-3


def test_a_file_that_holds_its_styles_refuses_a_painting_and_unknown_settings(
        files, photos, styx_cli, tmp_path):
    photo, out = str(photos / "a.png"), tmp_path / "out.png"
    result = styx_cli("infer", str(files["stylebank"]), photo, "--style", "1", "--style-image", photo,
                      "-o", str(out))
    assert result.exit_code == 2 and "takes no style image: it holds its style" in result.stderr
    result = styx_cli("infer", str(files["texture-nets"]), photo, "--set", "strength=0.5",
                      "-o", str(out))
    assert result.exit_code == 2 and "bad --set 'strength=0.5'" in result.stderr
    assert "the file's settings: none" in result.stderr
    assert not out.exists()
