"""Promises of docs/texture-nets.md (and docs/images.md for what `styx run texture-nets`
reads and writes), each with a test that fails when the promise breaks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from trained_models import (
    read_alpha,
    read_float,
    run_model,
    save_texture_nets,
    write_photo,
    write_rgba,
    yiq,
)


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return save_texture_nets(tmp_path_factory.mktemp("tn") / "model")


def run(styx_cli, model, *args):
    return run_model(styx_cli, "texture-nets", model, *args)


# -- alpha -----------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_the_alpha_channel_of_the_content_comes_back_unchanged(model, styx_cli, tmp_path,
                                                               suffix):
    """texture-nets.md: "An alpha channel in the content image is carried over to outputs
    that can hold it"; images.md: PNG and TIFF keep alpha."""
    alpha = write_rgba(tmp_path / "logo.png", 36, 44, seed=3)
    out = tmp_path / f"out{suffix}"
    run(styx_cli, model, str(tmp_path / "logo.png"), "-o", str(out))
    with Image.open(out) as image:
        assert image.mode == "RGBA" and image.size == (44, 36)
    assert np.array_equal(read_alpha(out), alpha)
    # the colour is really stylised, not the input passed through
    original = np.asarray(Image.open(tmp_path / "logo.png").convert("RGB")) / 255.0
    assert np.abs(read_float(out) - original).mean() > 0.02


def test_alpha_is_kept_in_output_dir_runs_and_dropped_where_the_format_has_none(
        model, styx_cli, tmp_path):
    alpha = write_rgba(tmp_path / "in" / "a.png", 30, 20, seed=1)
    write_photo(tmp_path / "in" / "b.png", 30, 20, seed=2)  # no alpha: none comes back
    run(styx_cli, model, str(tmp_path / "in" / "a.png"), str(tmp_path / "in" / "b.png"),
        "--output-dir", str(tmp_path / "png"))
    assert np.array_equal(read_alpha(tmp_path / "png" / "a.png"), alpha)
    assert read_alpha(tmp_path / "png" / "b.png") is None
    run(styx_cli, model, str(tmp_path / "in" / "a.png"), "--output-dir",
        str(tmp_path / "jpg"), "--format", "jpg")
    with Image.open(tmp_path / "jpg" / "a.jpg") as image:
        assert image.mode == "RGB" and image.size == (20, 30)


def test_with_long_side_the_alpha_channel_is_resized_with_the_image(model, styx_cli,
                                                                    tmp_path):
    """images.md: the result gets the alpha back "resized to the result's size"."""
    alpha = write_rgba(tmp_path / "logo.png", 40, 60, seed=4)
    out = tmp_path / "small.png"
    run(styx_cli, model, str(tmp_path / "logo.png"), "-o", str(out), "--long-side", "30")
    kept = read_alpha(out)
    assert kept.shape == (20, 30)
    expected = np.asarray(Image.fromarray(alpha).resize((30, 20), Image.BICUBIC),
                          np.float64)
    assert np.abs(kept.astype(np.float64) - expected).max() <= 3


# -- --preserve-color ----------------------------------------------------------------------
def test_preserve_color_takes_the_luminance_of_the_stylised_image_and_the_content_chroma(
        model, styx_cli, tmp_path):
    """images.md: "the result takes its luminance (Y of YIQ) from the stylised image and
    its chroma (I and Q) from the content image". So the output is neither the content
    (its luminance is the stylised one) nor the plain stylised output (its colours are the
    content's)."""
    content = write_photo(tmp_path / "photo.png", 40, 48, seed=5)
    run(styx_cli, model, str(content), "-o", str(tmp_path / "plain.png"), "--seed", "2")
    run(styx_cli, model, str(content), "-o", str(tmp_path / "kept.png"), "--seed", "2",
        "--preserve-color")
    original, plain, kept = (yiq(read_float(p)) for p in
                             (content, tmp_path / "plain.png", tmp_path / "kept.png"))
    # the model changes both luminance and colour, so the two cases can be told apart
    assert np.abs(plain[..., 0] - original[..., 0]).mean() > 0.05
    assert np.abs(plain[..., 1:] - original[..., 1:]).mean() > 0.03
    # pixels where mixing the two stayed inside the RGB cube (no clamping), which is most
    inside = np.abs(kept[..., 0] - plain[..., 0]) < 0.02
    assert inside.mean() > 0.6
    luminance_error = np.abs(kept[..., 0] - plain[..., 0])[inside].mean()
    chroma_error = np.abs(kept[..., 1:] - original[..., 1:])[inside].mean()
    assert luminance_error < 0.01 and chroma_error < 0.01, (luminance_error, chroma_error)
    # and overall it is far from both images it was made of
    assert np.abs(kept[..., 0] - original[..., 0]).mean() > 0.04
    assert np.abs(kept[..., 1:] - plain[..., 1:]).mean() > 0.02


# -- other run options ---------------------------------------------------------------------
def test_paths_go_to_stdout_json_replaces_them_and_quiet_prints_nothing(model, styx_cli,
                                                                        tmp_path):
    """The run table: "-q: print nothing but errors (otherwise the written paths go to
    stdout)"; "--json: print {"model", "outputs"} on stdout instead of the paths"."""
    photos = [write_photo(tmp_path / f"{n}.png", 16, 20, seed=i) for i, n in
              enumerate("ab")]
    plain = run(styx_cli, model, *map(str, photos), "--output-dir", str(tmp_path / "o1"))
    assert plain.stdout.split() == [str(tmp_path / "o1" / "a.png"),
                                    str(tmp_path / "o1" / "b.png")]
    as_json = json.loads(run(styx_cli, model, *map(str, photos), "--output-dir",
                             str(tmp_path / "o2"), "--json").stdout)
    memory = as_json.pop("memory")
    assert as_json == {"model": str(model), "outputs": [str(tmp_path / "o2" / "a.png"),
                                                         str(tmp_path / "o2" / "b.png")],
                       "failed": [], "device": "cpu", "precision": "fp32"}
    assert [need["what"].split(" at ")[0] for need in memory] == ["stylising a.png",
                                                                  "stylising b.png"]
    quiet = run(styx_cli, model, str(photos[0]), "-o", str(tmp_path / "q.png"), "-q")
    assert quiet.stdout == "" and quiet.stderr == ""
    assert (tmp_path / "q.png").is_file()


def test_an_output_that_would_overwrite_a_content_image_is_refused(model, styx_cli,
                                                                   tmp_path):
    folder = tmp_path / "photos"
    first = write_photo(folder / "a.png", 16, 16, seed=1)
    second = write_photo(folder / "b.png", 16, 16, seed=2)
    before = first.read_bytes(), second.read_bytes()
    for args in (["-o", str(first)], ["--output-dir", str(folder)]):
        contents = [str(first)] if args[0] == "-o" else [str(first), str(second)]
        result = styx_cli("run", "texture-nets", "--model", str(model), *contents, *args)
        assert result.exit_code == 2, (args, result.stderr)
        assert "would overwrite the input image" in result.stderr
    assert (first.read_bytes(), second.read_bytes()) == before
    assert sorted(p.name for p in folder.iterdir()) == ["a.png", "b.png"]


def test_long_side_resizes_each_content_image_first(model, styx_cli, tmp_path):
    write_photo(tmp_path / "wide.png", 30, 50, seed=1)
    write_photo(tmp_path / "tall.png", 44, 22, seed=2)
    run(styx_cli, model, str(tmp_path / "wide.png"), str(tmp_path / "tall.png"),
        "--output-dir", str(tmp_path / "out"), "--long-side", "20")
    assert Image.open(tmp_path / "out" / "wide.png").size == (20, 12)
    assert Image.open(tmp_path / "out" / "tall.png").size == (10, 20)


def test_a_seed_repeats_the_picture_and_another_seed_varies_it(model, styx_cli, tmp_path):
    content = write_photo(tmp_path / "photo.png", 24, 24, seed=1)
    for name, seed in (("a", "3"), ("b", "3"), ("c", "4")):
        run(styx_cli, model, str(content), "-o", str(tmp_path / f"{name}.png"), "--seed", seed)
    a, b, c = (read_float(tmp_path / f"{n}.png") for n in "abc")
    assert np.array_equal(a, b)
    assert np.abs(a - c).mean() > 1e-3


def test_without_noise_channels_the_seed_does_not_matter(styx_cli, tmp_path):
    """--noise-channels 0: "the output then depends on the content alone"."""
    model = save_texture_nets(tmp_path / "quiet", noise_channels=0)
    content = write_photo(tmp_path / "photo.png", 24, 24, seed=1)
    for seed in ("1", "2"):
        run(styx_cli, model, str(content), "-o", str(tmp_path / f"{seed}.png"), "--seed", seed)
    assert np.array_equal(read_float(tmp_path / "1.png"), read_float(tmp_path / "2.png"))


def test_a_stylisation_model_makes_textures_of_the_size_asked_for(model, styx_cli, tmp_path):
    """"A stylisation model can make textures too", `--size WxH`."""
    run(styx_cli, model, "--texture", "--size", "36x20", "-o", str(tmp_path / "t.png"))
    with Image.open(tmp_path / "t.png") as image:
        assert image.size == (36, 20)
        assert np.asarray(image).std() > 1  # not a flat image


# -- the generator and the documented defaults ---------------------------------------------
def test_the_default_generator_has_118k_parameters_about_half_a_megabyte(tmp_path):
    from styx.files.modelstore import save_model
    from styx.plugins.methods.texture_nets.generator import TextureNetwork

    network = TextureNetwork()
    count = sum(p.numel() for p in network.parameters())
    assert 117_500 <= count < 118_500, count  # "118k"
    folder = save_model(network, {"method": "texture-nets",
                                  "architecture": network.architecture()},
                        path=tmp_path / "m")
    assert 0.4e6 < (folder / "model.safetensors").stat().st_size < 0.6e6


def test_the_option_tables_defaults_are_the_configs():
    from styx.plugins.methods.texture_nets.config import (
        TextureNetsRunConfig,
        TextureNetsTrainConfig,
    )

    train = TextureNetsTrainConfig(style=Path(__file__), content_dir=Path(__file__).parent,
                                   weights="random")
    documented = {"descriptor": "vgg19", "content_weight": 1, "style_weight": 1e5,
                  "tv_weight": 1e-3, "content_loss": "content", "style_loss": "gram",
                  "tv_loss": "tv", "style_size": None,
                  "image_size": 256, "short_side": None, "batch_size": 4,
                  "iterations": 2000, "lr": 1e-3, "lr_decay": 0.8, "lr_decay_every": 2000,
                  "checkpoint_every": 500, "log_every": 10, "resume": False, "seed": 0,
                  "device": "auto", "amp": "auto", "num_workers": 0, "scales": 6,
                  "channels": 8, "noise_channels": 3, "padding": "circular",
                  "norm": "instance", "texture": False, "overwrite": False}
    assert {k: getattr(train, k) for k in documented} == documented
    # the Gram normalisation (--loss-option style.normalization): unset, the gram loss's
    # own default, `elements`
    from styx.plugins.losses.options import GramOptions

    assert train.term_loss_options("style") == {} and GramOptions().normalization == "elements"
    # --name: the style file's name
    assert train.default_model_name() == Path(__file__).stem
    run_config = TextureNetsRunConfig()
    from styx.plugins.methods.texture_nets.config import TEXTURE_SIZE

    assert TEXTURE_SIZE == (512, 512)  # --size when not given (with --texture only)
    documented = {"texture": False, "size": None, "long_side": None,
                  "preserve_color": False, "seed": 0, "tile": None, "overlap": None,
                  "device": "auto", "amp": "auto"}
    assert {k: getattr(run_config, k) for k in documented} == documented
    from styx.files.tiling import DEFAULT_OVERLAP

    assert DEFAULT_OVERLAP == 64  # --overlap when --tile is given without it


def test_the_aliases_name_the_method():
    from styx.core.plugins import methods

    assert {methods().get(name).name for name in ("texture-nets", "texture_nets",
                                                  "ulyanov")} == {"texture-nets"}
