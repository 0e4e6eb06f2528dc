"""Many photos through one exported generator: batches, shards, skips and atomic outputs.

:func:`stylise_files` takes (input, output) pairs. Photos of the same size (after
``long_side``) go through the session together, ``batch`` at a time; photos larger than
``tile`` go alone, in tiles. Each output is written atomically, so an interrupted run
leaves only whole files, and a re-run skips outputs that exist. A photo that cannot be read
or stylised is reported and skipped; the others go on. No torch here.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from styx.core.errors import StyxError
from styx.inference.onnxfile import OnnxGenerator


@dataclass
class InferSettings:
    """How each photo is run (``styx infer``'s options)."""

    seed: int = 0
    long_side: int | None = None
    batch: int = 4
    tile: int | None = None
    overlap: int = 64
    overwrite: bool = False
    #: Extra inputs (``style_weights``) given to every run.
    inputs: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class InferReport:
    """What a run did, file by file."""

    written: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"written": self.written, "skipped": self.skipped,
                "failed": [{"input": src, "error": why} for src, why in self.failed],
                "seconds": round(self.seconds, 3)}


@dataclass
class _Photo:
    source: Path
    target: Path
    rgb: np.ndarray  # 1 x 3 x H x W
    alpha: np.ndarray | None


def shard(items: list[Any], spec: str | None) -> list[Any]:
    """Every N-th item from the K-th (0-based) for ``spec`` ``"K/N"``; None: all."""
    if spec is None:
        return items
    head, sep, tail = str(spec).strip().partition("/")
    if not sep or not head.strip().isdigit() or not tail.strip().isdigit() or \
            int(tail) < 1 or int(head) >= int(tail):
        raise StyxError(f"bad --shard {spec!r}",
                        "write K/N with 0 <= K < N, e.g. --shard 0/4 ... --shard 3/4")
    return items[int(head)::int(tail)]


def readable_photos(folder: Path, *, limit: int, long_side: int | None = None
                    ) -> list[np.ndarray]:
    """The first ``limit`` readable photos of ``folder`` (sorted, searched recursively) as
    1 x 3 x H x W arrays resized by their long side; unreadable files are skipped, as
    training's ``--content-dir`` skips them."""
    from styx.files.image_arrays import find_images

    photos: list[np.ndarray] = []
    for path in find_images(folder):
        if len(photos) == limit:
            break
        with contextlib.suppress(StyxError):
            photos.append(load_photo(path, long_side)[0])
    return photos


def load_photo(source: Path, long_side: int | None) -> tuple[np.ndarray, np.ndarray | None]:
    """A photo as 1 x 3 x H x W float32 (and H x W alpha), resized by its long side."""
    from styx.files.image_arrays import decode_image, resize_array

    rgb, alpha = decode_image(source)
    if long_side is not None:
        rgb = resize_array(rgb, long_side)
        alpha = None if alpha is None else resize_array(alpha[..., None], long_side)[..., 0]
    return np.ascontiguousarray(rgb.transpose(2, 0, 1)[None]), alpha


def stylise_files(generator: OnnxGenerator, pairs: list[tuple[Path, Path]],
                  settings: InferSettings, *,
                  on_done: Callable[[str, str], None] | None = None) -> InferReport:
    """Stylise each (input, output) pair (see the module docstring). ``on_done(kind,
    text)`` hears each ``written``, ``skipped`` and ``failed`` file as it happens."""
    from styx.files.image_arrays import write_image

    started = time.perf_counter()
    report = InferReport()
    tell = on_done or (lambda kind, text: None)

    def fail(source: Path, error: StyxError) -> None:
        report.failed.append((str(source), error.message))
        tell("failed", f"{source}: {error.message}")

    todo = []
    for source, target in pairs:
        if target.exists() and not settings.overwrite:
            report.skipped.append(str(target))
            tell("skipped", f"{target} exists")
        else:
            todo.append((source, target))
    for group in _batches(todo, settings, fail):
        try:
            outputs = _stylise(generator, np.concatenate([photo.rgb for photo in group]),
                               settings)
        except StyxError as error:
            for photo in group:
                fail(photo.source, error)
            continue
        for photo, out in zip(group, outputs):
            try:
                write_image(out.transpose(1, 2, 0), photo.target, alpha=photo.alpha)
            except StyxError as error:
                fail(photo.source, error)
                continue
            report.written.append(str(photo.target))
            tell("written", str(photo.target))
    report.seconds = time.perf_counter() - started
    return report


def _batches(todo: list[tuple[Path, Path]], settings: InferSettings,
             fail: Callable[[Path, StyxError], None]) -> Iterator[list[_Photo]]:
    """Consecutive readable photos of one size, ``settings.batch`` at most (one alone
    when it is tiled, so of another size); unreadable ones go to ``fail`` as they come."""
    group: list[_Photo] = []
    for source, target in todo:
        try:
            rgb, alpha = load_photo(source, settings.long_side)
        except StyxError as error:
            fail(source, error)
            continue
        if group and (len(group) >= settings.batch or group[0].rgb.shape != rgb.shape):
            yield group
            group = []
        group.append(_Photo(source, target, rgb, alpha))
        if settings.tile is not None and max(rgb.shape[-2:]) > settings.tile:
            yield group
            group = []
    if group:
        yield group


def _stylise(generator: OnnxGenerator, images: np.ndarray, settings: InferSettings
             ) -> np.ndarray:
    height, width = images.shape[-2:]
    if settings.tile is None or max(height, width) <= settings.tile:
        return generator.run(images, seed=settings.seed, **settings.inputs)
    from styx.files.tiling import thumbnail, tiled

    statistics = generator.statistics_of(thumbnail(images, settings.tile),
                                         seed=settings.seed, **settings.inputs)
    return tiled(lambda part, origin: generator.run(part, seed=settings.seed, origin=origin,
                                                    statistics=statistics, **settings.inputs),
                 images, tile=settings.tile, overlap=settings.overlap)
