"""``styx infer``'s memory estimate (styx.inference.footprint): a shape pass over the graph
onnxruntime runs, its CPU arena modelled, the run's own arrays counted; the photos' sizes
from their headers (styx.inference.batch.plan_groups)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import styx
from styx.core.errors import StyxError
from styx.inference.batch import Group, InferSettings, load_photo, photo_size, plan_groups
from styx.inference.footprint import (
    Arena,
    feeds_for,
    footprint,
    network_of,
    run_events,
    tensor_bytes,
)
from styx.inference.onnxfile import OnnxGenerator

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def generator(files) -> OnnxGenerator:
    return OnnxGenerator.open(files["texture-nets"], provider="cpu", threads=1, keep_graph=True)


def group(height: int, width: int, *, count: int = 1, tiled: bool = False) -> Group:
    pairs = [(Path(f"p{i}.png"), Path(f"o{i}.png")) for i in range(count)]
    return Group(pairs, height, width, (height, width), tiled=tiled)


def total(parts) -> int:
    return parts.weights + parts.network + parts.images


# -- the shape pass ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["texture-nets", "stylebank"])
@pytest.mark.parametrize("optimised", [True, False], ids=["onnxruntime's graph", "file's graph"])
def test_the_shape_pass_knows_every_tensor_and_the_output_it_gives(files, name, optimised):
    generator = OnnxGenerator.open(files[name], provider="cpu", threads=1,
                                   keep_graph=optimised)
    assert (generator.graph is not None) == optimised
    network = network_of(generator)
    weights = generator.style_weights("hat") if name == "stylebank" else None
    given = {} if weights is None else {generator.per_style_input: weights}
    images = np.random.default_rng(0).random((2, 3, 37, 53), dtype=np.float32)
    sizes, unknown = tensor_bytes(network, feeds_for(generator, 2, 37, 53, given))
    assert unknown == 0  # Pad, Slice, Resize, Conv, NCHWc reorders: all resolved
    out = generator.run(images, **given)
    assert sizes["output"] == out.nbytes == 2 * 3 * 37 * 53 * 4


def test_the_estimate_grows_about_four_times_when_the_side_doubles(generator):
    settings = InferSettings()
    small, large = footprint(generator, group(256, 384), settings), \
        footprint(generator, group(512, 768), settings)
    assert 3.5 < large.network / small.network < 4.5
    assert 3.5 < large.images / small.images < 4.5
    assert large.weights == small.weights > 0
    pair = footprint(generator, group(256, 384, count=2), InferSettings(batch=2))
    assert 1.7 < pair.network / small.network < 2.3  # a batch of two: about twice


def test_tiling_caps_the_network_part_and_the_full_size_arrays_still_count(generator):
    settings = InferSettings(tile=256)
    whole = footprint(generator, group(1024, 1024), InferSettings())
    tiled = footprint(generator, group(1024, 1024, tiled=True), settings)
    larger = footprint(generator, group(2048, 2048, tiled=True), settings)
    assert tiled.network < whole.network / 4
    assert larger.network < tiled.network * 1.2  # the tile's, not the photo's
    assert 3.5 < larger.images / tiled.images < 4.5  # the photo, the blend: full size
    assert total(tiled) < total(whole)


def test_onnxruntime_runs_an_estimated_run_of_one_size_again_in_the_same_memory(generator):
    """The events of a run freed and replayed: the arena model reuses its chunks (the
    memory pattern, which would plan a second block, is off on the CPU)."""
    events, outputs, _ = run_events(network_of(generator), feeds_for(generator, 1, 64, 64, {}))
    arena = Arena()
    arena.replay(events, 0)
    first = arena.touched
    for key in outputs:
        arena.free((0, key))
    arena.replay(events, 1)
    assert arena.touched == first > 0


# -- the arena model ---------------------------------------------------------------------------
def test_the_arena_reuses_freed_chunks_and_touches_new_memory_only_when_none_fits():
    mib = 2**20
    arena = Arena(first_region=mib)  # onnxruntime's default first region
    arena.alloc("a", 3 * mib)  # a region of 4 MiB (1 MiB doubled until it holds 3)
    arena.free("a")
    arena.alloc("b", 3 * mib)  # the same chunk again
    assert arena.touched == 3 * mib
    arena.alloc("c", 3 * mib)  # "b" holds the first region: a second one
    assert arena.touched == 6 * mib
    arena.free("b")
    arena.free("c")
    arena.alloc("d", 5 * mib)  # two free 4 MiB regions, never merged: a third
    assert arena.touched == 11 * mib
    arena.alloc("e", 100)  # 256 bytes, in memory already touched
    assert arena.touched == 11 * mib


def test_the_arena_regions_double_so_a_run_can_touch_more_than_it_holds_at_once():
    mib = 2**20
    arena = Arena(first_region=mib)
    for index in range(4):  # 8, 9, 10, 11 MiB, each freed before the next: none fits
        arena.alloc(index, (8 + index) * mib)
        arena.free(index)
    assert arena.touched > 11 * mib  # more than the largest live tensor
    assert arena.touched <= (8 + 9 + 10 + 11) * mib


# -- the photos' sizes, from their headers ----------------------------------------------------
def test_a_photo_size_from_its_header_is_the_decoded_size(tmp_path):
    rng = np.random.default_rng(0)
    pixels = (rng.random((30, 50, 3)) * 255).astype(np.uint8)
    plain, turned, clear = tmp_path / "plain.jpg", tmp_path / "turned.jpg", tmp_path / "a.png"
    Image.fromarray(pixels).save(plain)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90 degrees: width and height swap
    Image.fromarray(pixels).save(turned, exif=exif)
    Image.fromarray(np.dstack([pixels, pixels[..., :1]]), "RGBA").save(clear)
    for path in (plain, turned, clear):
        for long_side in (None, 37, 101):
            size, source, alpha = photo_size(path, long_side)
            rgb, decoded_alpha = load_photo(path, long_side)
            assert size == rgb.shape[-2:], (path.name, long_side)
            assert alpha == (decoded_alpha is not None)
            assert source == ((50, 30) if path == turned else (30, 50))


def test_groups_are_planned_from_headers_and_a_bad_header_fails_alone(tmp_path):
    for name, (height, width) in {"a.png": (20, 30), "b.png": (20, 30), "c.png": (20, 30),
                                  "d.png": (40, 30), "e.png": (400, 300)}.items():
        Image.new("RGB", (width, height)).save(tmp_path / name)
    (tmp_path / "bad.png").write_bytes(b"not a picture")
    todo = [(tmp_path / n, tmp_path / f"out-{n}") for n in
            ("a.png", "b.png", "bad.png", "c.png", "d.png", "e.png")]
    failed = []
    groups = plan_groups(todo, InferSettings(batch=2, tile=256),
                         lambda source, error: failed.append((source.name, error)))
    assert [[s.name for s, _ in g.pairs] for g in groups] == [
        ["a.png", "b.png"], ["c.png"], ["d.png"], ["e.png"]]
    assert [(g.height, g.width, g.tiled) for g in groups] == [
        (20, 30, False), (20, 30, False), (40, 30, False), (400, 300, True)]
    assert [name for name, _ in failed] == ["bad.png"]
    assert isinstance(failed[0][1], StyxError) and "not an image" in failed[0][1].message


# -- against the memory really taken -------------------------------------------------------------
@pytest.mark.slow
def test_the_estimate_is_within_a_quarter_of_the_peak_a_run_takes(tmp_path):
    """docs/onnx.md "Memory": benchmarks/memory_infer.py's measurement, one case, with a
    default-architecture file (the work dominates the interpreter at 1024 px)."""
    import torch

    from styx.files.modelstore import save_model
    from styx.plugins.methods.texture_nets.generator import TextureNetwork

    torch.manual_seed(0)
    network = TextureNetwork()
    folder = save_model(network, {"method": "texture-nets", "architecture":
                                  network.architecture(), "styles": [{"name": "a"}]},
                        path=tmp_path / "tn")
    model = styx.export(folder, "onnx", tmp_path / "tn.onnx")
    photo = tmp_path / "photo.jpg"
    Image.fromarray((np.random.default_rng(0).random((1024, 768, 3)) * 255).astype(
        np.uint8)).save(photo)
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "memory_infer.py"),
                           "--phase", "case", "--", str(model), str(photo), "--output-dir",
                           str(tmp_path / "out"), "--json", "--threads", "1"],
                          capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["written"] == 1
    assert 0.75 <= result["ratio"] <= 1.25, result


def test_a_footprint_is_remembered_by_what_it_depends_on(generator, monkeypatch, tmp_path):
    """The shape pass imports onnx (half a second): a size seen before is remembered in
    $STYX_HOME/cache, and a new size, other settings or a cache that cannot be read
    compute it afresh, to the same numbers."""
    from styx.inference import footprint as module

    monkeypatch.setenv("STYX_HOME", str(tmp_path))
    computed = []
    original = module.footprint

    def counting(*args):
        computed.append(args[1].height)
        return original(*args)

    monkeypatch.setattr(module, "footprint", counting)
    settings = InferSettings()
    first = module.memory_need(generator, group(96, 128), settings, available=2**40)
    again = module.memory_need(generator, group(96, 128), settings, available=2**40)
    assert computed == [96] and first.parts == again.parts
    module.memory_need(generator, group(64, 128), settings, available=2**40, exact=True)
    module.memory_need(generator, group(96, 128), InferSettings(tile=64), available=2**40)
    assert computed == [96, 64, 96]
    (tmp_path / module.CACHE_FILE).write_text("{not json")
    assert module.memory_need(generator, group(96, 128), settings,
                              available=2**40).parts == first.parts
    assert computed == [96, 64, 96, 96]


def test_a_new_size_is_cleared_by_a_bound_from_the_largest_seen_or_computed(
        generator, monkeypatch, tmp_path):
    """A photo of a new size, of a file seen before, needs no shape pass (no onnx import)
    when a bound from the largest run seen fits; the bound is never below the real need,
    and a run it cannot clear is computed, so a refusal names the real need."""
    from styx.inference import footprint as module

    monkeypatch.setenv("STYX_HOME", str(tmp_path))
    settings = InferSettings()
    exact = {size: module.footprint(generator, group(*size), settings)
             for size in ((96, 128), (64, 80), (192, 256))}
    computed = []
    original = module.footprint
    monkeypatch.setattr(module, "footprint",
                        lambda *args: computed.append(args[1].height) or original(*args))
    module.memory_need(generator, group(96, 128), settings, available=2**40)
    for size in ((64, 80), (192, 256)):  # smaller and larger: bounded, not computed
        need = module.memory_need(generator, group(*size), settings, available=2**40)
        assert need.fits and need.bytes >= total(exact[size])
    assert computed == [96]
    tight = total(exact[(192, 256)]) + 1  # fits the real need, not the bound
    need = module.memory_need(generator, group(192, 256), settings, available=tight)
    assert computed == [96, 192] and need.fits and need.bytes == total(exact[(192, 256)])


def test_one_large_first_region_holds_a_run_in_less_memory_than_doubling_ones(generator):
    """styx's arena starts with one large region (styx.inference.onnxfile.ARENA_FIRST_REGION):
    a run's tensors fit in it with less waste than in regions doubling from 1 MiB."""
    from styx.inference.footprint import FIRST_REGION

    events, _, _ = run_events(network_of(generator), feeds_for(generator, 1, 384, 512, {}))
    doubling, large = Arena(first_region=2**20), Arena()
    doubling.replay(events, 0)
    large.replay(events, 0)
    assert FIRST_REGION >= 2**28 and large.touched < doubling.touched
