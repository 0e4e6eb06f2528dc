"""Promises of docs/stylebank.md, each with a test that fails when the promise breaks
(the ones tests/methods/test_stylebank.py already holds are listed in docs/testing.md)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tiny
import torch
from PIL import Image
from trained_models import (
    STYLES,
    read_alpha,
    read_float,
    run_model,
    save_stylebank,
    write_photo,
    write_rgba,
    yiq,
)

from styx.generators.models import load_model


@pytest.fixture(scope="module")
def bank(tmp_path_factory) -> Path:
    return save_stylebank(tmp_path_factory.mktemp("sb") / "bank")


def run(styx_cli, model, *args):
    return run_model(styx_cli, "stylebank", model, *args)


# -- what `styx run stylebank` writes --------------------------------------------------------
def test_the_alpha_channel_of_the_content_comes_back_unchanged(bank, styx_cli, tmp_path):
    """stylebank.md: the run options are "as for every feed-forward method", which carry
    an alpha channel over to outputs that can hold it (texture-nets.md, images.md)."""
    alpha = write_rgba(tmp_path / "logo.png", 36, 44, seed=3)
    run(styx_cli, bank, str(tmp_path / "logo.png"), "-o", str(tmp_path / "out.png"),
        "--style", "scream")
    assert np.array_equal(read_alpha(tmp_path / "out.png"), alpha)
    original = np.asarray(Image.open(tmp_path / "logo.png").convert("RGB")) / 255.0
    assert np.abs(read_float(tmp_path / "out.png") - original).mean() > 0.02


def test_preserve_color_keeps_the_content_chroma_and_the_stylised_luminance(bank, styx_cli,
                                                                            tmp_path):
    content = write_photo(tmp_path / "photo.png", 40, 48, seed=5)
    run(styx_cli, bank, str(content), "-o", str(tmp_path / "plain.png"), "--style", "hat")
    run(styx_cli, bank, str(content), "-o", str(tmp_path / "kept.png"), "--style", "hat",
        "--preserve-color")
    original, plain, kept = (yiq(read_float(p)) for p in
                             (content, tmp_path / "plain.png", tmp_path / "kept.png"))
    assert np.abs(plain[..., 0] - original[..., 0]).mean() > 0.05
    assert np.abs(plain[..., 1:] - original[..., 1:]).mean() > 0.03
    inside = np.abs(kept[..., 0] - plain[..., 0]) < 0.02  # not clamped to the RGB cube
    assert inside.mean() > 0.6
    assert np.abs(kept[..., 1:] - original[..., 1:])[inside].mean() < 0.01
    assert np.abs(kept[..., 0] - original[..., 0]).mean() > 0.04


def test_region_fusion_in_tiles_cuts_the_masks_to_each_tile(tmp_path, styx_cli):
    """"--tile N ... (region masks are cut to each tile)": with batch norm nothing depends
    on a tile's statistics, so the tiled picture is the one-pass picture away from the
    tiles' edges, which it could not be if a tile got the wrong part of the masks."""
    model = save_stylebank(tmp_path / "bn", norm="batch")
    content = write_photo(tmp_path / "photo.png", 200, 260, seed=2)
    mask = np.zeros((200, 260), np.uint8)
    mask[:, :130] = 255  # left half: scream; the rest reconstructed
    Image.fromarray(mask).save(tmp_path / "left.png")
    region = ["--region", f"{tmp_path / 'left.png'}:scream"]
    run(styx_cli, model, str(content), "-o", str(tmp_path / "whole.png"), *region)
    run(styx_cli, model, str(content), "-o", str(tmp_path / "tiled.png"), *region,
        "--tile", "160", "--overlap", "48")
    whole, tiled = read_float(tmp_path / "whole.png"), read_float(tmp_path / "tiled.png")
    interior = (slice(24, -24), slice(24, -24))
    assert np.abs(whole[interior] - tiled[interior]).mean() < 0.01
    styled = load_model(model)(torch.from_numpy(read_float(content)).permute(2, 0, 1)[None]
                               .float(), style="scream")[0].permute(1, 2, 0).numpy()
    # the regions really differ: the left is styled, the right is not
    assert np.abs(tiled[24:-24, 24:100] - styled[24:-24, 24:100]).mean() < \
        np.abs(tiled[24:-24, 170:-24] - styled[24:-24, 170:-24]).mean()


# -- style weights ---------------------------------------------------------------------------
def test_a_strength_below_one_is_that_share_of_the_bank_and_the_rest_reconstruction(bank):
    """"Wherever the weights sum to less than 1, the rest of F goes to the decoder
    unchanged ... a partial sum is a weaker style (--strength)"."""
    model = load_model(bank)
    image = torch.rand(1, 3, 28, 36, generator=torch.Generator().manual_seed(0))
    half = model(image, style="scream", strength=0.5)
    direct = model.generator(image, torch.tensor([0.0, 0.5, 0.0]))
    torch.testing.assert_close(half, direct, rtol=1e-4, atol=1e-5)
    full, plain = model(image, style="scream"), model(image, reconstruct=True)
    assert (half - full).abs().mean() > 1e-3 and (half - plain).abs().mean() > 1e-3
    mix = model(image, style_mix={"starry": 3, "hat": 1}, strength=0.4)
    torch.testing.assert_close(mix, model.generator(image, torch.tensor([0.3, 0.0, 0.1])),
                               rtol=1e-4, atol=1e-5)


def test_a_new_bank_starts_as_the_identity_so_a_new_style_starts_from_the_reconstruction(
        bank, tmp_path):
    from styx.plugins.methods.stylebank.config import StyleBankTrainConfig
    from styx.plugins.methods.stylebank.task import StyleBankTask

    write_photo(tmp_path / "content" / "a.png", 32, 32)
    config = StyleBankTrainConfig(from_model=str(bank), content_dir=tmp_path / "content",
                                  add_style=[write_photo(tmp_path / "wave.png", 24, 24, 4)],
                                  width=8, weights="random", content_layers="relu1_2",
                                  style_layers="relu1_2")
    torch.manual_seed(0)
    network = StyleBankTask(config, base=load_model(bank)).build_model().eval()
    assert network.num_styles == 4
    image = torch.rand(1, 3, 32, 40, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        new = network(image, torch.tensor([0.0, 0.0, 0.0, 1.0]))
        plain = network(image)
        old = network(image, torch.tensor([0.0, 1.0, 0.0, 0.0]))
    assert (new - plain).abs().mean() < 0.2 * (old - plain).abs().mean()


# -- the network's size and the documented defaults -----------------------------------------
def test_the_default_network_has_201k_parameters_and_147k_per_style(tmp_path):
    from styx.plugins.methods.stylebank.network import NetworkConfig, StyleBankNetwork

    one, three = (StyleBankNetwork(NetworkConfig(num_styles=k)) for k in (1, 3))
    count = sum(p.numel() for p in one.parameters())
    per_style = (sum(p.numel() for p in three.parameters()) - count) / 2
    assert 146_500 <= per_style < 147_500  # "each style adds 147k (0.6 MB on disk)"
    assert 200_500 <= count - per_style < 201_500  # "the encoder and decoder have 201k"
    assert 0.55e6 < 4 * per_style < 0.65e6


def test_the_option_tables_defaults_are_the_configs(tmp_path):
    from styx.core.plugins import descriptors
    from styx.plugins.methods.stylebank.config import StyleBankRunConfig, StyleBankTrainConfig

    style = write_photo(tmp_path / "starry.png", 16, 16)
    train = StyleBankTrainConfig(style=[style], content_dir=tmp_path, weights="random")
    documented = {"style_steps": 2, "balance": 1.0, "width": 32, "padding": "reflect",
                  "norm": "instance", "style_size": None, "descriptor": "vgg16",
                  "from_model": None, "add_style": [], "style_dir": None}
    assert {k: getattr(train, k) for k in documented} == documented
    vgg16 = descriptors().get("vgg16")
    assert vgg16.default_content_layers == ("relu2_2",)
    assert vgg16.default_style_layers == ("relu1_2", "relu2_2", "relu3_3", "relu4_3")
    run_config = StyleBankRunConfig()
    assert (run_config.strength, run_config.reconstruct, run_config.amp) == (1.0, False, "auto")


def test_style_names_come_from_file_names_and_a_file_given_twice_trains_once(tmp_path):
    from styx.plugins.methods.stylebank.config import StyleBankTrainConfig
    from styx.plugins.methods.stylebank.task import style_entries

    folder = tmp_path / "paintings"
    starry = write_photo(folder / "The Starry Night.jpg", 8, 8)
    write_photo(folder / "123.jpg", 8, 8, seed=1)
    write_photo(folder / "sub" / "The Starry Night.png", 8, 8, seed=2)
    config = StyleBankTrainConfig(style=[starry], style_dir=folder, content_dir=tmp_path,
                                  weights="random")
    paths = config.style_paths()
    assert [p.relative_to(folder).as_posix() for p in paths] == [
        "The Starry Night.jpg", "123.jpg", "sub/The Starry Night.png"]  # starry once
    names = [e["name"] for e in style_entries(paths, [torch.zeros(1, 3, 8, 8)] * 3, [])]
    assert names == ["The-Starry-Night", "style-123", "The-Starry-Night-2"]
    # the same image added to a model that has it already is a style of its own
    again = style_entries([starry], [torch.zeros(1, 3, 8, 8)], names)
    assert again[0]["name"] == "The-Starry-Night-3"
    assert again[0]["sha256"] == style_entries([starry], [torch.zeros(1, 3, 8, 8)],
                                               [])[0]["sha256"]


def test_the_default_model_name_joins_the_style_names(tmp_path):
    from styx.plugins.methods.stylebank.config import StyleBankTrainConfig

    two = [write_photo(tmp_path / f"{n}.png", 8, 8) for n in ("starry", "scream")]
    config = StyleBankTrainConfig(style=two, content_dir=tmp_path, weights="random")
    assert config.default_model_name() == "stylebank-starry+scream"
    ten = [two[0], *(write_photo(tmp_path / "more" / f"s{i}.png", 8, 8) for i in range(9))]
    config = StyleBankTrainConfig(style=ten, content_dir=tmp_path, weights="random")
    assert config.default_model_name() == "stylebank-starry+9"


def test_the_logs_carry_both_branches_on_every_line(tmp_path):
    """"The logs and --log-json carry both branches on every line: content, style, tv and
    total of the last stylising step, and reconstruction of the last auto-encoder step
    (from the first one on)"."""
    import styx

    for i in range(2):
        write_photo(tmp_path / "content" / f"{i}.png", 40, 40, seed=i)
    styles = [write_photo(tmp_path / f"{n}.png", 32, 32, seed=5 + i)
              for i, n in enumerate(("starry", "scream"))]
    log = tmp_path / "log.jsonl"
    styx.train("stylebank", style=styles, content_dir=tmp_path / "content",
               output=tmp_path / "model", log_json=log,
               **{**tiny.TRAINING, "width": 4, "content_layers": "relu1_2",
                  "style_layers": "relu1_2", "checkpoint_every": 0})
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [line["step"] for line in lines] == [1, 2, 3, 4]
    for line in lines:
        assert {"content", "style", "tv", "total"} <= set(line), line
        assert ("reconstruction" in line) == (line["step"] >= 3), line
    assert lines[3]["reconstruction"] == lines[2]["reconstruction"]  # step 4 carries it
    # step 3 is the auto-encoder step (T = 2): its reconstruction is new, its style terms
    # are those of step 2, the last stylising step
    assert lines[2]["style"] == lines[1]["style"]


# -- errors ----------------------------------------------------------------------------------
def test_the_documented_error_messages_and_hints(bank, styx_cli, tmp_path):
    photo = write_photo(tmp_path / "photo.png", 20, 20)
    notes = tmp_path / "notes.png"
    notes.write_text("not an image")
    out = tmp_path / "out.png"
    name = bank.name
    cases = [
        (["--style", "starri"], f"model '{name}' has no style 'starri'",
         "did you mean 'starry'?"),
        (["--style", "7"], f"model '{name}' has no style 7 (it has 3: 0 to 2)", None),
        (["--region", f"{notes}:starry"], f"bad --region mask: {notes} is not an image file",
         None),
        (["--region", "sky.png"], "bad --region 'sky.png'", "MASK:STYLE"),
        ([], f"model '{name}' holds 3 styles: choose one",
         ", ".join(f"{i} {style}" for i, style in enumerate(STYLES))),
    ]
    for args, message, hint in cases:
        result = styx_cli("run", "stylebank", "--model", str(bank), str(photo), "-o",
                          str(out), *args)
        assert result.exit_code == 2, (args, result.stderr)
        flat = " ".join(result.stderr.split())
        assert message in flat, (args, result.stderr)
        if hint is not None:
            assert hint in flat, (args, result.stderr)
    assert not out.exists()


def test_the_aliases_name_the_method():
    from styx.core.plugins import methods

    assert {methods().get(name).name for name in ("stylebank", "style-bank", "chen")} == \
        {"stylebank"}
