"""Many photos through one exported generator: batches, shards, skips and atomic outputs.

:func:`stylise_files` takes (input, output) pairs. Photos of the same size (after
``long_side``) go through the session together, ``batch`` at a time; photos larger than
``tile`` go alone, in tiles. Each output is written atomically, so an interrupted run
leaves only whole files, and a re-run skips outputs that exist. A photo that cannot be read
or stylised is reported and skipped, the others go on; or, strict, it stops the run
(:mod:`styx.files.badfiles`, the policy of every command). No torch here.
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
from styx.files.badfiles import BadFiles, failed_json
from styx.files.shards import parse_shard
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
                "failed": failed_json(self.failed),
                "seconds": round(self.seconds, 3)}


@dataclass
class Group:
    """Photos that run together (:func:`plan_groups`): consecutive ones of one size after
    ``long_side``, ``batch`` at most; a photo larger than ``tile`` alone, in tiles."""

    pairs: list[tuple[Path, Path]]
    height: int
    width: int
    #: (height, width) in its file of the group's largest photo (before ``long_side``).
    source_size: tuple[int, int]
    #: Whether a photo of the group has an alpha channel (kept beside its pixels).
    alpha: bool = False
    tiled: bool = False

    @property
    def source_pixels(self) -> int:
        return self.source_size[0] * self.source_size[1]


def photo_size(source: Path, long_side: int | None) -> tuple[tuple[int, int],
                                                             tuple[int, int], bool]:
    """A photo's (height, width) for its run (after ``long_side``, rounded as
    :func:`~styx.files.image_arrays.resize_array` rounds), in its file (upright) and
    whether it has alpha, from the file's header alone; a file :func:`load_photo` would
    refuse (unreadable, too many pixels) is that StyxError."""
    from PIL import Image

    from styx.files.image_arrays import (
        DEFAULT_MAX_PIXELS,
        TooManyPixels,
        long_side_size,
        upright_size,
    )

    width, height = upright_size(source)
    if width * height > DEFAULT_MAX_PIXELS:
        raise TooManyPixels(Path(source), width, height, DEFAULT_MAX_PIXELS)
    alpha = False
    # The header was read above; a second look for alpha is a detail.
    with contextlib.suppress(Exception), Image.open(source) as opened:
        alpha = "A" in opened.mode or "transparency" in opened.info
    size = (height, width) if long_side is None else long_side_size(height, width, long_side)
    return size, (height, width), alpha


def plan_groups(todo: list[tuple[Path, Path]], settings: InferSettings,
                fail: Callable[[Path, StyxError], None]) -> list[Group]:
    """The runs of ``todo``'s (input, output) pairs, from the photos' headers (nothing
    decoded): consecutive photos of one size, ``settings.batch`` at most; a photo larger
    than ``settings.tile`` alone. A photo whose header cannot be read goes to ``fail``."""
    sized = _sizes(todo, settings)
    for (source, _), size in sized:
        if isinstance(size, StyxError):
            fail(source, size)
    return _grouped(sized, settings)


def _sizes(todo: list[tuple[Path, Path]], settings: InferSettings) -> list[tuple[Any, Any]]:
    """Each pair of ``todo`` with :func:`photo_size`'s answer, or its StyxError."""
    sized: list[tuple[Any, Any]] = []
    for pair in todo:
        try:
            sized.append((pair, photo_size(pair[0], settings.long_side)))
        except StyxError as error:
            sized.append((pair, error))
    return sized


def _grouped(sized: list[tuple[Any, Any]], settings: InferSettings) -> list[Group]:
    groups: list[Group] = []
    for pair, answer in sized:
        if isinstance(answer, StyxError):
            continue
        size, source_size, alpha = answer
        tiled = settings.tile is not None and max(size) > settings.tile
        last = groups[-1] if groups else None
        if last is not None and not last.tiled and not tiled and \
                (last.height, last.width) == size and len(last.pairs) < settings.batch:
            last.pairs.append(pair)
            last.alpha = last.alpha or alpha
            if source_size[0] * source_size[1] > last.source_pixels:
                last.source_size = source_size
        else:
            groups.append(Group([pair], *size, source_size, alpha, tiled))
    return groups


def pending(pairs: list[tuple[Path, Path]], settings: InferSettings
            ) -> list[tuple[Path, Path]]:
    """The pairs whose output is still to be written (all of them with ``overwrite``)."""
    return [(source, target) for source, target in pairs
            if settings.overwrite or not target.exists()]


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
    index, shards = parse_shard(spec)
    return items[index::shards]


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
                  on_done: Callable[[str, str], None] | None = None,
                  bad: BadFiles | None = None) -> InferReport:
    """Stylise each (input, output) pair (see the module docstring). ``on_done(kind,
    text)`` hears each ``written``, ``skipped`` (output already there) and ``failed``
    file as it happens. ``bad``: the policy for bad files (default: skip them); a strict
    one checks every input's header first and raises the first bad file."""
    from styx.files.image_arrays import write_image

    started = time.perf_counter()
    report = InferReport()
    tell = on_done or (lambda kind, text: None)
    bad = bad or BadFiles()

    def fail(source: Path, error: StyxError) -> None:
        bad.skip(source, error)  # raises when strict
        report.failed.append(bad.failed[-1])
        tell("failed", f"{source}: {bad.failed[-1][1]}")

    todo = []
    for source, target in pairs:
        if target.exists() and not settings.overwrite:
            report.skipped.append(str(target))
            tell("skipped", f"{target} exists")
        else:
            todo.append((source, target))
    bad.check(source for source, _ in todo)
    for group in _batches(todo, settings, fail):
        try:
            outputs = stylise_batch(generator, np.concatenate([photo.rgb for photo in group]),
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
    """The photos of each of :func:`plan_groups`' groups, decoded when their turn comes
    (not while the group before runs: the memory estimate counts one group at a time);
    unreadable ones go to ``fail`` in the order of ``todo``, as they are met."""
    sized = _sizes(todo, settings)
    place = {id(pair): index for index, (pair, _) in enumerate(sized)}
    errors = [(index, pair[0], answer) for index, (pair, answer) in enumerate(sized)
              if isinstance(answer, StyxError)]

    def fail_before(index: int) -> None:
        while errors and errors[0][0] < index:
            fail(*errors.pop(0)[1:])

    for group in _grouped(sized, settings):
        photos: list[_Photo] = []
        for pair in group.pairs:
            fail_before(place[id(pair)])
            source, target = pair
            try:
                rgb, alpha = load_photo(source, settings.long_side)
            except StyxError as error:
                fail(source, error)
                continue
            if photos and photos[0].rgb.shape != rgb.shape:  # not the size its header said
                yield photos
                photos = []
            photos.append(_Photo(source, target, rgb, alpha))
        if photos:
            yield photos
    fail_before(len(sized))


def stylise_batch(generator: OnnxGenerator, images: np.ndarray, settings: InferSettings
                  ) -> np.ndarray:
    """``images`` (N x 3 x H x W float32 in [0, 1]) stylised with ``settings``' inputs,
    seed and tiling."""
    height, width = images.shape[-2:]
    if settings.tile is None or max(height, width) <= settings.tile:
        return generator.run(images, seed=settings.seed, **settings.inputs)
    from styx.files.tiling import thumbnail, tiled

    statistics = generator.statistics_of(thumbnail(images, settings.tile),
                                         seed=settings.seed, **settings.inputs)
    return tiled(lambda part, origin: generator.run(part, seed=settings.seed, origin=origin,
                                                    statistics=statistics, **settings.inputs),
                 images, tile=settings.tile, overlap=settings.overlap)


def clip_group(clip: Any, target: Path, settings: InferSettings, batch: int) -> Group:
    """The run of ``batch`` frames of ``clip`` (a :class:`styx.video.clips.Clip`), for the
    memory estimate (:mod:`styx.inference.footprint`)."""
    from styx.files.image_arrays import long_side_size

    size = (clip.height, clip.width) if settings.long_side is None else \
        long_side_size(clip.height, clip.width, settings.long_side)
    tiled = settings.tile is not None and max(size) > settings.tile
    return Group([(clip.path, target)] * (1 if tiled else batch), *size,
                 (clip.height, clip.width), tiled=tiled)


def clip_fingerprint(generator: OnnxGenerator, settings: InferSettings) -> dict[str, Any]:
    """What makes a clip's frames what they are, besides the clip's own options: the file,
    its inputs, the seed and the tiling (a re-run with another starts the segments afresh)."""
    import hashlib

    inputs = {name: hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest()[:16]
              for name, value in sorted(settings.inputs.items())}
    return {"model": generator.digest, "inputs": inputs, "seed": settings.seed,
            "tile": settings.tile, "overlap": settings.overlap}
