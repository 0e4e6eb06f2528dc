"""Crops and low-resolution copies of a style image, the layer check, option parsing."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from styx.core.errors import StyxError
from styx.experiments.derived import crop_style, lower_resolution, parse_crop, parse_long_side
from styx.experiments.options import StudyOptions, split_values


@pytest.fixture
def painting(tmp_path):
    """A 40 x 20 image: left half black, right half a fine checkerboard."""
    pixels = np.zeros((20, 40, 3), np.uint8)
    pixels[:, 20:] = ((np.indices((20, 20)).sum(axis=0) % 2) * 255)[..., None]
    path = tmp_path / "painting.png"
    Image.fromarray(pixels).save(path)
    return path


def test_a_crop_keeps_the_region_named(painting, tmp_path):
    right = Image.open(crop_style(painting, parse_crop("right"), tmp_path / "inputs"))
    assert right.size == (20, 20)
    assert np.asarray(right).mean() == pytest.approx(127.5, abs=1)  # the checkerboard
    box = Image.open(crop_style(painting, parse_crop("0,0,0.25,1"), tmp_path / "inputs"))
    assert box.size == (10, 20) and np.asarray(box).max() == 0  # the black part
    assert crop_style(painting, parse_crop("full"), tmp_path) == painting


def test_a_crop_is_written_once_under_a_name_from_the_source_bytes(painting, tmp_path):
    first = crop_style(painting, parse_crop("center"), tmp_path / "inputs")
    stamp = first.stat().st_mtime_ns
    assert crop_style(painting, parse_crop("center"), tmp_path / "inputs") == first
    assert first.stat().st_mtime_ns == stamp


def test_a_low_resolution_copy_keeps_the_size_and_loses_the_detail(painting, tmp_path):
    copy = Image.open(lower_resolution(painting, 10, tmp_path / "inputs"))
    assert copy.size == (40, 20)
    checker = np.asarray(copy, dtype=np.float32)[:, 24:36, 0]
    assert checker.std() < 40  # the 1-pixel checkerboard is averaged away (it was 127.5)
    assert lower_resolution(painting, 64, tmp_path) == painting  # not smaller: unchanged
    assert lower_resolution(painting, None, tmp_path) == painting


@pytest.mark.parametrize("text", ["centre", "0,0,1", "0.5,0,0.5,1", "0,0,1.5,1", "a,b,c,d"])
def test_bad_crops_are_refused(text):
    with pytest.raises(StyxError, match="bad crop"):
        parse_crop(text)


@pytest.mark.parametrize(("text", "side"), [("full", None), ("64", 64), ("32px", 32)])
def test_long_sides(text, side):
    assert parse_long_side(text) == side


def test_values_split_on_semicolons_when_they_hold_commas():
    assert split_values("1e3,1e4", "--values") == ("1e3", "1e4")
    assert split_values("relu1_1:0.5,relu2_1;relu3_1", "--values") == (
        "relu1_1:0.5,relu2_1", "relu3_1")
    with pytest.raises(StyxError, match="empty --values"):
        split_values(" , ", "--values")


def test_vary_takes_flags_or_field_names_once_each():
    options = StudyOptions(vary=["--style-weight=1,2", "tv_weight=0;5"])
    assert options.vary == {"style_weight": ("1", "2"), "tv_weight": ("0", "5")}
    with pytest.raises(StyxError, match="given twice"):
        StudyOptions(vary=["style_weight=1", "style-weight=2"])


def test_layer_names_are_checked_from_the_spec_aliases_included():
    """A study's cells are configs, checked when made: aliases pass, unknown names fail."""
    from styx.experiments.studies import run_config

    run_config("gatys", {"style_layers": "block1_conv1,relu2_1", "weights": "random"})
    with pytest.raises(StyxError, match="has no layer 'relu2_9'") as error:
        run_config("gatys", {"content_layers": "relu2_9", "weights": "random"})
    assert "relu2_" in error.value.hint
