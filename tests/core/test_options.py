"""Parsing comma-separated floats and image sizes."""

from __future__ import annotations

import pytest

from styx.core.errors import StyxError
from styx.core.options import parse_floats, parse_size


def test_parse_floats():
    assert parse_floats("0.5,0.5") == [0.5, 0.5]
    assert parse_floats(" 1, 2e-3 ,-4 ") == [1.0, 0.002, -4.0]
    assert parse_floats("7") == [7.0]


@pytest.mark.parametrize("text", ["", "  ", "0.5,,0.5", "a,b", "1,nan", "inf", "0.5;0.5"])
def test_parse_floats_rejects(text):
    with pytest.raises(StyxError):
        parse_floats(text)


def test_parse_floats_error_names_the_bad_part():
    with pytest.raises(StyxError, match="'x'") as caught:
        parse_floats("1,x,3", name="blend weight")
    assert "blend weight" in caught.value.message


def test_parse_size():
    assert parse_size("512") == (512, 512)
    assert parse_size(256) == (256, 256)
    assert parse_size("512x384") == (384, 512)  # WIDTHxHEIGHT in, (height, width) out
    assert parse_size(" 640 X 480 ") == (480, 640)


@pytest.mark.parametrize("text", ["", "0", "512x0", "-5", "12.5", "axb", "1x2x3", "x512"])
def test_parse_size_rejects(text):
    with pytest.raises(StyxError, match="bad size"):
        parse_size(text)
