"""What a study is: cells laid out on a grid of labelled axes (no torch here).

A :class:`Study` is a list of :class:`Cell` s, each one method run with its own config, and
the axes that place them: the first axis of :attr:`Study.axes` gives the grid's columns,
the others (the images first) its rows. Every cell's config is made, and so checked, when
the study is made, so an unknown option, layer, descriptor or method fails before any cell
runs. A cell's :attr:`~Cell.key` is a digest of everything that decides its result (the
method, every config value, the bytes of its images, the model it runs), which is how a
study run again finds the cells it has already done.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from styx.core.config import Config, to_jsonable
from styx.core.errors import StyxError

#: The name of the images axis (one row per content and style pair).
IMAGES_AXIS = "images"


@dataclass(frozen=True)
class Variant:
    """One value of an axis: its label and what it changes in a cell."""

    label: str
    #: Options of the method's run config.
    options: dict[str, Any] = field(default_factory=dict)
    #: Another method (the methods study), with its own options.
    method: str | None = None
    #: Other style images (crops, low-resolution copies) than the row's.
    styles: tuple[Path, ...] | None = None


@dataclass(frozen=True)
class Axis:
    name: str
    variants: tuple[Variant, ...]

    @property
    def labels(self) -> list[str]:
        return [v.label for v in self.variants]


@dataclass(frozen=True)
class Inputs:
    """One row of images: a content photo and a style image."""

    content: Path
    styles: tuple[Path, ...]

    @property
    def label(self) -> str:
        return " + ".join(p.stem for p in (self.content, *self.styles))


@dataclass
class TrainPlan:
    """How a feed-forward cell's model is trained (the methods study)."""

    method: str
    config: Config
    key: str
    folder: Path


@dataclass
class Cell:
    """One run of the study."""

    labels: dict[str, str]
    method: str
    config: Config
    content: Path
    styles: tuple[Path, ...]
    train: TrainPlan | None = None
    key: str = ""

    def __post_init__(self) -> None:
        if not self.key:
            self.key = digest({"method": self.method, "config": self.config.to_dict(),
                               "content": file_digest(self.content),
                               "styles": [file_digest(s) for s in self.styles],
                               "model": None if self.train is None else self.train.key})

    def label(self, axes: Sequence[Axis]) -> tuple[str, str]:
        """``(row label, column label)`` on the grid of ``axes``."""
        column = self.labels[axes[0].name]
        row = ", ".join(self.labels[a.name] for a in axes[1:])
        return row, column


@dataclass
class Study:
    """A named study: its cells, axes and how its results are shown."""

    name: str
    title: str
    description: str
    axes: list[Axis]
    cells: list[Cell]
    #: Metrics the plots and the table show, most telling first.
    metrics: list[str] = field(default_factory=list)
    #: Extra plots (names understood by :mod:`styx.experiments.render`).
    plots: list[str] = field(default_factory=list)

    @property
    def columns(self) -> list[str]:
        return self.axes[0].labels

    @property
    def rows(self) -> list[str]:
        return [", ".join(parts) for parts in
                itertools.product(*(axis.labels for axis in self.axes[1:]))] or [""]

    def cell_error(self, cell: Cell, error: StyxError) -> StyxError:
        """``error`` of ``cell``, named: ``cell 'vgg19' (row) of study 'descriptors': ...``
        (the row only where the study has several)."""
        row, column = cell.label(self.axes)
        where = f"cell {column!r}" + (f" ({row})" if len(self.rows) > 1 else "")
        return StyxError(f"{where} of study {self.name!r}: {error.message}", error.hint)


def digest(data: Any) -> str:
    text = json.dumps(to_jsonable(data), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


@functools.cache
def _file_digest(path: str, size: int, mtime: int) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            hasher.update(block)
    return hasher.hexdigest()[:20]


def file_digest(path: Path) -> str:
    """The digest of a file's bytes (so a moved or renamed image keeps its cells)."""
    stat = Path(path).stat()
    return _file_digest(str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)


def choices(axes: Sequence[Axis]) -> list[dict[str, Variant]]:
    """Every combination of the axes' variants, each mapping an axis name to its variant;
    rows first, then columns, so they come in the grid's reading order."""
    if not axes:
        raise StyxError("a study needs at least one axis", "give --vary OPTION=V1,V2")
    row_axes, column_axis = list(axes[1:]), axes[0]
    return [{column_axis.name: column, **{a.name: v for a, v in zip(row_axes, row)}}
            for row in itertools.product(*(a.variants for a in row_axes))
            for column in column_axis.variants]
