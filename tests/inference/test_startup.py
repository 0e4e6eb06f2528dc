"""What ``styx infer`` does before the network runs, made cheap: the metadata read from the
protobuf wire format (no ``onnx`` import), the graph onnxruntime optimised kept in
``$STYX_HOME/cache/onnx-graphs`` and the next session started from it (the same pixels),
PNGs written fast; a second run of a file at a size seen before imports no ``onnx``."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from PIL import Image

from styx.core.errors import StyxError
from styx.files.image_arrays import decode_image, write_image
from styx.inference import onnxfile
from styx.inference.onnxfile import GRAPH_CACHE, OnnxGenerator, read_metadata


def test_the_metadata_is_read_without_onnx_as_onnx_reads_it(files, tmp_path):
    for path in files.values():
        props = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
        expected = onnxfile._parse_metadata(props[onnxfile.METADATA_KEY], path)
        assert read_metadata(path) == expected == json.loads(json.dumps(expected))
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(files["stylebank"].read_bytes()[:5000])
    with pytest.raises(StyxError, match="not a readable ONNX file"):
        read_metadata(cut)


def test_a_second_session_starts_from_the_graph_the_first_optimised(files, tmp_path,
                                                                     monkeypatch):
    monkeypatch.setenv("STYX_HOME", str(tmp_path))
    started = []
    original = onnxfile._start
    monkeypatch.setattr(onnxfile, "_start", lambda ort, path, *rest: (
        started.append(path), original(ort, path, *rest))[1])
    model = files["texture-nets"]
    first = OnnxGenerator.open(model, provider="cpu", keep_graph=True)
    assert first.graph_file.parent == tmp_path / GRAPH_CACHE and first.graph_file.is_file()
    again = OnnxGenerator.open(model, provider="cpu", keep_graph=True)
    plain = OnnxGenerator.open(model, provider="cpu")
    assert started == [model, first.graph_file, model]
    assert again.graph_file == first.graph_file and plain.graph_file is None
    assert again.metadata == plain.metadata and again.graph == first.graph
    images = np.random.default_rng(0).random((1, 3, 40, 56), dtype=np.float32)
    assert np.array_equal(again.run(images, seed=1), plain.run(images, seed=1))
    first.graph_file.write_bytes(b"damaged")  # made again from the file
    mended = OnnxGenerator.open(model, provider="cpu", keep_graph=True)
    assert np.array_equal(mended.run(images, seed=1), plain.run(images, seed=1))
    assert mended.graph_file.stat().st_size > 1000


def test_a_cache_that_cannot_be_written_still_keeps_the_graph(files, tmp_path, monkeypatch):
    (tmp_path / "home").write_text("a file, not a folder")
    monkeypatch.setenv("STYX_HOME", str(tmp_path / "home"))
    generator = OnnxGenerator.open(files["stylebank"], provider="cpu", keep_graph=True)
    assert generator.graph_file is not None and generator.graph.startswith(b"\x08")


def test_pngs_are_written_fast_with_the_same_pixels(tmp_path):
    rgb = np.random.default_rng(0).random((64, 80, 3), dtype=np.float32)
    write_image(rgb, tmp_path / "out.png")
    written, _ = decode_image(tmp_path / "out.png")
    assert np.array_equal(np.round(rgb * 255), np.round(written * 255))


def test_a_second_run_at_a_size_seen_before_imports_no_onnx(styx_subprocess, files, tmp_path):
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (40, 56, 3), np.uint8)).save(
        tmp_path / "photo.jpg")
    args = ("infer", str(files["texture-nets"]), str(tmp_path / "photo.jpg"), "-o",
            str(tmp_path / "out.png"))
    env = {"STYX_HOME": str(tmp_path / "home")}
    assert styx_subprocess(*args, env=env).returncode == 0
    again = styx_subprocess(*args, env=env, python_flags=("-X", "importtime"))
    assert again.returncode == 0, again.stderr[-2000:]
    imported = {line.rpartition("|")[2].strip() for line in again.stderr.splitlines()
                if line.startswith("import time:")}
    assert "onnxruntime" in imported and "onnx" not in imported
    assert list((tmp_path / "home" / GRAPH_CACHE).glob("*.onnx"))
    Image.fromarray(np.random.default_rng(2).integers(0, 255, (48, 64, 3), np.uint8)).save(
        tmp_path / "other.jpg")  # a new size: cleared by a bound from the size seen
    other = styx_subprocess(*args[:2], str(tmp_path / "other.jpg"), "-o",
                            str(tmp_path / "other.png"), env=env,
                            python_flags=("-X", "importtime"))
    assert other.returncode == 0, other.stderr[-2000:]
    assert "onnx" not in {line.rpartition("|")[2].strip() for line in other.stderr.splitlines()
                          if line.startswith("import time:")}


def test_int8_files_open_on_the_cpu_without_the_optimisers_that_slow_them(files, tmp_path,
                                                                          monkeypatch):
    """A CPU session of an int8 file (by its metadata) leaves out
    INT8_CPU_OPTIMIZERS_OFF, when it optimises the graph and when it starts from the graph
    kept in the cache, which is another than a float file's; a float file keeps them all."""
    monkeypatch.setenv("STYX_HOME", str(tmp_path))
    proto = onnx.load(str(files["texture-nets"]))
    metadata = json.loads(proto.metadata_props[0].value)
    proto.metadata_props[0].value = json.dumps({**metadata, "precision": "int8"})
    labelled = tmp_path / "int8.onnx"
    onnx.save(proto, str(labelled))
    started = []
    original = onnxfile._start
    monkeypatch.setattr(onnxfile, "_start", lambda ort, path, options, providers, off: (
        started.append((path, off)), original(ort, path, options, providers, off))[1])
    plain = OnnxGenerator.open(files["texture-nets"], provider="cpu", keep_graph=True)
    first = OnnxGenerator.open(labelled, provider="cpu", keep_graph=True)
    again = OnnxGenerator.open(labelled, provider="cpu", keep_graph=True)
    off = list(onnxfile.INT8_CPU_OPTIMIZERS_OFF)
    assert started == [(files["texture-nets"], []), (labelled, off), (first.graph_file, off)]
    assert "NhwcTransformer" in off and first.graph_file.name != plain.graph_file.name
    images = np.random.default_rng(1).random((1, 3, 40, 56), dtype=np.float32)
    assert np.array_equal(again.run(images, seed=1), first.run(images, seed=1))
