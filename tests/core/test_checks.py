"""The one numeric check, the value checks configs use, image sizes and "did you mean"."""

from __future__ import annotations

import math

import pytest

from styx.core.checks import (
    check_number,
    choice,
    image_size,
    key_values,
    not_all_zero,
    number,
    numbers,
    parse_size,
)
from styx.core.errors import StyxError
from styx.core.suggest import close_matches, did_you_mean


# -- numbers ---------------------------------------------------------------------------------
def test_check_number_accepts_numbers_and_text():
    assert check_number("1e-3", "--lr", above=0) == 0.001
    assert check_number(3, "--steps", minimum=1, integer=True) == 3
    assert check_number("12", "--steps", integer=True) == 12
    assert check_number(2.0, "--steps", integer=True) == 2
    assert isinstance(check_number(2.0, "--steps", integer=True), int)
    big = 1733000000123456789  # beyond float precision: kept exactly
    assert check_number(big, "--seed", integer=True) == big
    assert check_number(str(big), "--seed", integer=True, minimum=0) == big
    assert check_number("1e3", "--steps", integer=True) == 1000


@pytest.mark.parametrize("value, bounds, rule", [
    (-1, {"minimum": 0}, ">= 0"), (0, {"above": 0}, "> 0"), (1.5, {"maximum": 1}, "<= 1"),
    (float("nan"), {}, "finite"), (math.inf, {"minimum": 0}, "finite"),
    ("abc", {}, "give a number"), (True, {}, "give a number"), (2.5, {"integer": True}, "whole"),
])
def test_check_number_refuses_with_the_label_and_the_rule(value, bounds, rule):
    with pytest.raises(StyxError, match="bad --x ") as caught:
        check_number(value, "--x", **bounds)
    assert rule in caught.value.hint


def test_number_and_numbers_make_checks():
    assert number(minimum=1, optional=True)(None, "--size") is None
    with pytest.raises(StyxError, match="bad --size 0"):
        number(minimum=1)(0, "--size")
    parse = numbers(minimum=16, integer=True)
    assert parse("256, 512", "--scales") == (256, 512)
    assert parse([256, 512], "--scales") == (256, 512)
    assert parse(300, "--steps") == (300,)
    assert parse(parse("32,64", "--x"), "--x") == (32, 64)  # its own output is accepted
    with pytest.raises(StyxError, match="bad --scales '8'"):
        parse("8,512", "--scales")
    with pytest.raises(StyxError, match="empty --scales"):
        parse(" , ", "--scales")
    assert numbers(optional=True)("", "--blend") is None


def test_choice_is_case_insensitive_with_aliases_and_suggestions():
    check = choice("lbfgs", "adam", aliases={"l-bfgs": "lbfgs"})
    assert check("LBFGS", "--optimizer") == "lbfgs"
    assert check("L-BFGS", "--optimizer") == "lbfgs"
    with pytest.raises(StyxError, match="bad --optimizer 'adma'") as caught:
        check("adma", "--optimizer")
    assert "did you mean 'adam'" in caught.value.hint
    with pytest.raises(StyxError) as caught:
        check("sgd", "--optimizer")
    assert "choose one of lbfgs, adam" in caught.value.hint


def test_key_values():
    assert key_values(["pooling=avg", "max-pool = 1"], "--descriptor-option") == \
        {"pooling": "avg", "max_pool": "1"}
    assert key_values({"a-b": 1}, "--x") == {"a_b": 1}
    assert key_values(None, "--x") == {}
    with pytest.raises(StyxError, match="KEY=VALUE"):
        key_values(["pool"], "--descriptor-option")
    with pytest.raises(StyxError, match="KEY=VALUE"):
        key_values(["=avg"], "--descriptor-option")


def test_not_all_zero():
    not_all_zero((0, 1, 0), ("a", "b", "c"))
    with pytest.raises(StyxError, match="the a, b and c are all zero"):
        not_all_zero((0, 0.0, 0), ("a", "b", "c"))


# -- sizes -----------------------------------------------------------------------------------
def test_parse_size():
    assert parse_size("512") == (512, 512)
    assert parse_size(256) == (256, 256)
    assert parse_size("512x384") == (384, 512)  # WIDTHxHEIGHT in, (height, width) out
    assert parse_size(" 640 X 480 ") == (480, 640)
    assert image_size((48, 64), "--size") == (48, 64)
    assert image_size("64x48", "--size") == (48, 64)


@pytest.mark.parametrize("text", ["", "0", "512x0", "-5", "12.5", "axb", "1x2x3", "x512"])
def test_parse_size_rejects(text):
    with pytest.raises(StyxError, match="bad size"):
        parse_size(text)


# -- did you mean ----------------------------------------------------------------------------
def test_did_you_mean():
    assert did_you_mean("vgg91", ["vgg19", "vgg16", "resnet50"]) == \
        "did you mean 'vgg19' or 'vgg16'?"
    assert did_you_mean("zzz", ["vgg19"]) is None
    assert close_matches("Texture_Nets", ["texture-nets"],
                         key=lambda s: s.lower().replace("_", "-")) == ["texture-nets"]
