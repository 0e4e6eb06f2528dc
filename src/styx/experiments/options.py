"""The options every study takes, declared once as a config (no torch here).

``styx experiment NAME`` offers these fields as its options, ``styx experiment run
study.toml`` reads them from a TOML file, and :func:`styx.experiments.run_study` takes them
as keyword arguments: three doors, one set of names and checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from styx.core.bundles import RuntimeOptions
from styx.core.checks import each, existing_path, key_values, number, optional, text
from styx.core.config import option
from styx.core.errors import StyxError

STUDY = "Study"
IMAGES = "Images"
TRAINING = "Training (methods study)"


def split_values(value: Any, label: str) -> tuple[str, ...]:
    """``"a,b,c"`` (or ``"a;b;c"`` when the values hold commas themselves, as weighted
    layers and crops do) or a list -> the values as text; empty is an error."""
    if isinstance(value, (list, tuple)):
        items = [str(v).strip() for v in value]
    else:
        raw = str(value)
        items = [part.strip() for part in raw.split(";" if ";" in raw else ",")]
    items = [item for item in items if item]
    if not items:
        raise StyxError(f"empty {label}", "give one or more values, e.g. 1e3,1e4,1e5")
    return tuple(items)


def _vary(value: Any, label: str) -> dict[str, tuple[str, ...]]:
    """``["style_weight=1e3,1e4", "tv-weight=0;1"]`` or a mapping -> ``{"style_weight":
    ("1e3", "1e4"), "tv_weight": ("0", "1")}``. Whether the option exists is checked
    against the method's config when the study is made."""
    if not value:
        return {}
    items = value.items() if isinstance(value, Mapping) else \
        [_key_and_values(item, label) for item in ([value] if isinstance(value, str) else value)]
    out: dict[str, tuple[str, ...]] = {}
    for key, values in items:
        name = str(key).strip().lstrip("-").replace("-", "_")
        if not name:
            raise StyxError(f"bad {label} {key!r}", "write OPTION=V1,V2, e.g. "
                                                    "style_weight=1e3,1e4")
        if name in out:
            raise StyxError(f"{label} {name} is given twice", "give each option once")
        out[name] = split_values(values, f"{label} {name}")
    return out


def _key_and_values(item: Any, label: str) -> tuple[str, str]:
    key, sep, values = str(item).partition("=")
    if not sep:
        raise StyxError(f"bad {label} {item!r}", "write OPTION=V1,V2, e.g. style_weight=1e3,1e4")
    return key, values


@dataclass(kw_only=True)
class StudyOptions(RuntimeOptions):
    """Everything a study can be told; a study reads the fields it uses."""

    label = "styx experiment"

    content: list[Path] = option(
        default_factory=list, panel=IMAGES, metavar="PATH", check=each(existing_path("file")),
        help="A content image (repeatable; each is a row) [default: the sample photo].")
    style: list[Path] = option(
        default_factory=list, panel=IMAGES, metavar="PATH", check=each(existing_path("file")),
        help="A style image (repeatable; each is a row) [default: the sample painting].")
    output: Path | None = option(
        None, flags=("-o",), default_text="experiments/NAME",
        help="The study's folder: grid.png, plots, results.json, report.html, cells/.")
    method: str = option("gatys", panel=STUDY, check=text(),
                         help="The method of the cells (not for the methods study).")
    values: tuple[str, ...] | None = option(
        None, panel=STUDY, cli_type=str, check=optional(split_values), metavar="V1,V2",
        default_text="the study's",
        help="The study's own columns: layers, weights, ratios, descriptors, crops, sizes or "
             "methods (see 'styx experiment list'); separate with ';' when values hold "
             "commas.")
    vary: dict[str, tuple[str, ...]] = option(
        default_factory=dict, panel=STUDY, cli_type=list[str], check=_vary,
        metavar="OPTION=V1,V2",
        help="Sweep any option of the method's config, e.g. style_weight=1e3,1e4,1e5 "
             "(repeatable; each is one more axis of the grid).")
    settings: dict[str, Any] = option(
        default_factory=dict, name="set", panel=STUDY, cli_type=list[str], check=key_values,
        metavar="OPTION=VALUE",
        help="An option of the method's config for every cell, e.g. init=noise "
             "(repeatable).")
    descriptor: str | None = option(
        None, flags=("-d",), panel=STUDY, check=optional(text()), default_text="the method's",
        help="Descriptor of the cells ('styx list descriptors').")
    weights: str = option("imagenet", panel=STUDY, check=text(),
                          help="Descriptor weights: imagenet, random (seeded; for tests) or a "
                               ".safetensors/.pth file.")
    judge: str | None = option(
        None, panel=STUDY, check=optional(text()), default_text="--descriptor, else vgg19",
        help="The descriptor every output is scored with (content, style and TV losses), "
             "the same for every cell so that cells compare.")
    size: int = option(192, panel=STUDY, check=number(minimum=16, integer=True),
                       help="Long side of every output in pixels.")
    steps: int = option(100, panel=STUDY, check=number(minimum=1, integer=True),
                        help="Optimisation steps of iterative methods.")
    thumbnail: int = option(192, panel=STUDY, check=number(minimum=32, integer=True),
                            help="Long side of each picture in grid.png.")
    fresh: bool = option(False, panel=STUDY,
                         help="Run every cell again instead of reusing finished ones.")
    iterations: int = option(300, panel=TRAINING, check=number(minimum=1, integer=True),
                             help="Training iterations of each feed-forward method.")
    train_size: int = option(128, panel=TRAINING, check=number(minimum=8, integer=True),
                             help="Training crop size of the feed-forward methods.")
    content_dir: Path | None = option(
        None, panel=TRAINING, check=existing_path("folder", optional=True),
        default_text="the content images",
        help="Folder of training photos for the feed-forward methods.")
    train_settings: dict[str, Any] = option(
        default_factory=dict, name="train-set", panel=TRAINING, cli_type=list[str],
        check=key_values, metavar="OPTION=VALUE",
        help="An option of every feed-forward method's training config, e.g. batch_size=2 "
             "(repeatable).")

    def check(self) -> None:
        super().check()
        both = [name for name in self.settings if name in self.vary]
        if both:  # the vary would silently win
            raise StyxError(f"--set {both[0]} conflicts with --vary {both[0]}",
                            f"the study varies {both[0]}; leave out --set {both[0]}")

    def judge_descriptor(self) -> str:
        return self.judge or self.descriptor or "vgg19"
