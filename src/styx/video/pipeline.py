"""A clip through any stylising function, frames in batches, with bounded memory, resumable,
in shards: the video side of ``styx infer`` (onnxruntime) and ``styx run`` (PyTorch).

:func:`stylise_clip` takes a :class:`~styx.video.clips.Clip`, an output (a video file, or a
folder for PNG frames) and ``stylise``, a function from N x 3 x H x W float32 frames in
[0, 1] to the same: the runtime's, which this module never imports (no torch here).
Three threads work at once: one decodes and resizes frames into batches, the caller's
thread stylises them, one blends (``--temporal``) and encodes the results; the queues
between them hold :data:`QUEUED_BATCHES` batches each, so memory follows the batch, not the
clip.

The clip is cut into segments of :data:`SEGMENT_FRAMES` frames. A video output's segments
are encoded into a folder beside it (``.NAME.styx-parts``, with a manifest of what made
them), then joined (:func:`~styx.video.encoding.join_segments`) and the folder removed; a
folder output's segment is its frame files. A re-run of the same command finds the whole
segments and does the rest; ``shard="K/N"`` does the K-th of N runs of segments, and a
last run (``join=True``, or one without ``shard``) joins them. Ctrl-C stops after the batch
in hand: the finished segments stay for a re-run, and a video output gets the frames done
so far, playable.

Every batch has ``batch`` frames (the last is filled up with copies of its last frame), so
every frame runs in the same shapes: with noise drawn by pixel position, not by frame, a
still scene gives identical frames.
"""

from __future__ import annotations

import json
import queue
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from styx.core.errors import StyxError
from styx.files.shards import parse_shard
from styx.video import SEGMENT_FRAMES
from styx.video.clips import Clip, is_video_path, resized_frame
from styx.video.encoding import (
    FRAME_NAME,
    EncodeSettings,
    SegmentWriter,
    join_segments,
    write_frame_file,
)

#: Batches each queue between the threads holds.
QUEUED_BATCHES = 2
#: The marker of the end of a queue.
_END = None

Stylise = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class ClipSettings:
    """How a clip is run (the video options of ``styx infer`` and ``styx run``)."""

    batch: int = 4
    long_side: int | None = None
    encode: EncodeSettings = field(default_factory=EncodeSettings)
    #: ``--temporal``: the weight of the previous result, warped (None: off).
    temporal: float | None = None
    shard: str | None = None
    #: ``--join``: only join the segments the shards wrote (stylise nothing).
    join: bool = False
    #: ``--overwrite``: this run's segments made again, not taken from an earlier run.
    overwrite: bool = False
    segment_frames: int = SEGMENT_FRAMES

    def to_dict(self) -> dict[str, Any]:
        return {"long_side": self.long_side, "temporal": self.temporal,
                "segment_frames": self.segment_frames, "encode": self.encode.to_dict()}


@dataclass
class ClipReport:
    """What :func:`stylise_clip` did."""

    source: str
    target: str
    #: Frames stylised by this run, and the frames of the clip (of the shard, with one).
    frames: int = 0
    total: int = 0
    #: Frames found done by an earlier run.
    resumed: int = 0
    seconds: float = 0.0
    #: Whether the output file was written (False for a shard, or a join still waiting).
    finished: bool = False
    interrupted: bool = False
    #: Frames in the output after an interruption (the playable part).
    kept: int = 0
    shard: str | None = None
    missing: list[int] = field(default_factory=list)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "output": self.target, "frames": self.frames,
                "total": self.total, "resumed": self.resumed,
                "seconds": round(self.seconds, 3), "fps": round(self.fps, 3),
                "finished": self.finished, "interrupted": self.interrupted,
                "kept": self.kept, "shard": self.shard}


def is_frames_target(path: Path) -> bool:
    """Whether an output path names a folder for frames (a folder, or a name without a
    suffix) rather than a video file."""
    path = Path(path).expanduser()
    return path.is_dir() or (not path.suffix and not is_video_path(path))


def segments_of(frame_count: int, size: int) -> list[tuple[int, int]]:
    """The (first, stop) frames of each segment of a clip."""
    return [(first, min(first + size, frame_count)) for first in range(0, frame_count, size)]


def shard_range(count: int, spec: str | None) -> range:
    """The segments (of ``count``) the shard ``spec`` ("K/N") does: the K-th of N
    contiguous runs (all of them for None)."""
    if spec is None:
        return range(count)
    index, shards = parse_shard(spec)
    return range(count * index // shards, count * (index + 1) // shards)


def frame_size(clip: Clip, long_side: int | None) -> tuple[int, int]:
    """The (height, width) frames are stylised at."""
    from styx.files.image_arrays import long_side_size

    if long_side is None:
        return clip.height, clip.width
    return long_side_size(clip.height, clip.width, long_side)


# -- where the segments go -----------------------------------------------------------------
class _Segments:
    """The segments of one output: done, to do, where each goes."""

    def __init__(self, clip: Clip, target: Path, settings: ClipSettings,
                 fingerprint: dict[str, Any]) -> None:
        self.clip, self.target, self.settings = clip, target, settings
        self.ranges = segments_of(clip.frame_count, settings.segment_frames)
        self.frames = is_frames_target(target)
        self.folder = target if self.frames else \
            target.with_name(f".{target.name}.styx-parts")
        self.manifest = {"source": str(clip.path), "clip": clip.to_dict(),
                         "settings": settings.to_dict(), "run": fingerprint}

    def prepare(self, mine: range) -> None:
        """Make the parts folder, or check the one there was made by the same run (else
        start afresh; a shard refuses, as other shards may be writing there)."""
        if self.frames:
            return
        manifest = self.folder / "manifest.json"
        if manifest.is_file():
            try:
                same = json.loads(manifest.read_text()) == json.loads(json.dumps(self.manifest))
            except (OSError, ValueError):
                same = False
            if not same and self.settings.shard is not None:
                raise StyxError(f"{self.folder} holds segments of another run",
                                "remove it, or run every shard with the same options")
            if not same:
                shutil.rmtree(self.folder, ignore_errors=True)
        from styx.files.atomic import atomic_path

        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            if not manifest.is_file():
                with atomic_path(manifest) as temporary:
                    temporary.write_text(json.dumps(self.manifest, indent=1) + "\n")
        except OSError as error:
            raise StyxError(f"cannot write {self.folder}: {error.strerror or error}",
                            "choose a folder you can write to") from None
        if self.settings.overwrite:
            for index in mine:
                self.path(index).unlink(missing_ok=True)

    def path(self, index: int) -> Path:
        return self.folder / f"segment-{index:06d}{self.target.suffix}"

    def frame_path(self, frame: int) -> Path:
        return self.folder / FRAME_NAME.format(frame + 1)

    def done(self, index: int) -> bool:
        if self.frames:
            first, stop = self.ranges[index]
            return not self.settings.overwrite and \
                all(self.frame_path(frame).is_file() for frame in range(first, stop))
        return self.path(index).is_file()

    def join(self, upto: int | None = None, partial: Path | None = None,
             partial_frames: int = 0) -> int:
        """Join the segments (the first ``upto``, and ``partial`` after them) into the
        output; the frames it holds."""
        count = len(self.ranges) if upto is None else upto
        parts = [(self.ranges[i][0], self.path(i)) for i in range(count)]
        frames = self.ranges[count - 1][1] if count else 0
        if partial is not None:
            parts.append((frames, partial))
            frames += partial_frames
        join_segments(parts, self.target, rate=self.clip.rate, rotation=self.clip.rotation,
                      audio_from=self.clip.path if self.clip.audio else None, frames=frames)
        return frames

    def remove(self) -> None:
        if not self.frames:
            shutil.rmtree(self.folder, ignore_errors=True)


# -- the run -------------------------------------------------------------------------------
def stylise_clip(clip: Clip, target: str | Path, stylise: Stylise, settings: ClipSettings,
                 *, fingerprint: dict[str, Any] | None = None,
                 progress: Callable[[int, int], None] | None = None) -> ClipReport:
    """Stylise ``clip`` into ``target`` (see the module docstring). ``fingerprint``: what
    else makes the frames what they are (the model, its style, the seed): a re-run with
    another throws the earlier segments away. ``progress(done, total)`` hears each frame
    written (from another thread). Returns what was done; an interrupted run (Ctrl-C)
    returns ``interrupted=True``."""
    started = time.perf_counter()
    target = Path(target).expanduser()
    segments = _Segments(clip, target, settings, fingerprint or {})
    mine = shard_range(len(segments.ranges), settings.shard)
    report = ClipReport(source=str(clip.path), target=str(target), shard=settings.shard,
                        total=sum(segments.ranges[i][1] - segments.ranges[i][0] for i in mine))
    if settings.join:
        return _join_only(segments, report, started)
    run = _Run(clip, segments, settings, stylise, progress, report)  # checks --temporal
    segments.prepare(mine)
    todo = [index for index in mine if not segments.done(index)]
    report.resumed = report.total - sum(segments.ranges[i][1] - segments.ranges[i][0]
                                        for i in todo)
    try:
        run.go(todo)
    except KeyboardInterrupt:
        run.halt_threads()
        report.interrupted = True
        if settings.shard is None and not segments.frames:
            report.kept = run.keep_playable()
        report.seconds = time.perf_counter() - started
        return report
    finally:
        run.stop()
    if settings.shard is None:
        if not segments.frames:
            segments.join()
            segments.remove()
        report.finished = True
    report.seconds = time.perf_counter() - started
    return report


def _join_only(segments: _Segments, report: ClipReport, started: float) -> ClipReport:
    missing = [index for index in range(len(segments.ranges)) if not segments.done(index)]
    if missing:
        shown = ", ".join(str(i) for i in missing[:8]) + (" ..." if len(missing) > 8 else "")
        raise StyxError(f"--join: {len(missing)} of {len(segments.ranges)} segments of "
                        f"{segments.target.name} are not done (segments {shown})",
                        "run every --shard K/N first, with the same options")
    if not segments.frames:
        segments.join()
        segments.remove()
    report.finished = True
    report.seconds = time.perf_counter() - started
    return report


@dataclass
class _Batch:
    frames: list[int]               # the frame numbers
    sources: list[np.ndarray]       # H x W x 3 uint8, at the stylised size
    pixels: np.ndarray | None = None  # batch x 3 x H x W float32 (filled up to batch)
    results: np.ndarray | None = None


class _Run:
    """The three threads of :func:`stylise_clip`."""

    def __init__(self, clip: Clip, segments: _Segments, settings: ClipSettings,
                 stylise: Stylise, progress: Callable[[int, int], None] | None,
                 report: ClipReport) -> None:
        self.clip, self.segments, self.settings = clip, segments, settings
        self.stylise, self.report = stylise, report
        self.progress = progress or (lambda done, total: None)
        self.size = frame_size(clip, settings.long_side)
        self.decoded: queue.Queue = queue.Queue(QUEUED_BATCHES)
        self.stylised: queue.Queue = queue.Queue(QUEUED_BATCHES)
        #: Input batches stylised already, for the decoding thread to fill again.
        self.spare: queue.SimpleQueue = queue.SimpleQueue()
        self.halt = threading.Event()
        self.failure: BaseException | None = None
        self.writer: SegmentWriter | None = None
        self.writing: int | None = None   # the segment being encoded
        self.written: set[int] = set()
        self.blend = None
        if settings.temporal is not None:
            from styx.video.temporal import TemporalBlend

            self.blend = TemporalBlend(settings.temporal)
        self.threads: list[threading.Thread] = []

    # the caller's thread
    def go(self, todo: list[int]) -> None:
        if not todo:
            return
        self.threads = [threading.Thread(target=self._guard, args=(self._read, todo),
                                         daemon=True, name="styx-decode"),
                        threading.Thread(target=self._guard, args=(self._write,),
                                         daemon=True, name="styx-encode")]
        for thread in self.threads:
            thread.start()
        while (batch := self._get(self.decoded)) is not _END:
            batch.results = self.stylise(batch.pixels)[:len(batch.frames)]
            if not np.may_share_memory(batch.results, batch.pixels):
                self.spare.put(batch.pixels)  # the next batch's: no fresh pages to fault in
            batch.pixels = None
            self._put(self.stylised, batch)
        self._raise_failure()  # a thread's failure halted the run: it is the caller's
        self._put(self.stylised, _END)
        self.threads[1].join()
        self._raise_failure()

    def _get(self, source: queue.Queue) -> Any:
        """The next item of ``source``, waiting while the run goes on; :data:`_END` once it
        is halted (a thread failed, or Ctrl-C)."""
        while not self.halt.is_set():
            try:
                return source.get(timeout=0.1)
            except queue.Empty:
                continue
        return _END

    def _put(self, target: queue.Queue, item: Any) -> None:
        """Put ``item`` in ``target``, waiting while the run goes on (a halted run drops
        it)."""
        while not self.halt.is_set():
            try:
                target.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def _raise_failure(self) -> None:
        if self.failure is not None:
            raise self.failure

    def _guard(self, work: Callable[..., None], *args: Any) -> None:
        try:
            work(*args)
        except BaseException as error:  # noqa: BLE001 - handed to the caller's thread
            if not self.halt.is_set():
                self.failure = error
            self.halt.set()

    def halt_threads(self) -> None:
        self.halt.set()
        for thread in self.threads:
            thread.join(timeout=10)
        self.threads = []

    def stop(self) -> None:
        self.halt_threads()
        if self.writer is not None:
            self.writer.discard()
            self.writer = None

    # the decoding thread
    def _read(self, todo: list[int]) -> None:
        batch = self.settings.batch
        for first, stop in _runs(todo, self.segments.ranges):
            pending = _Batch([], [])
            for number, frame in enumerate(self.clip.frames(first, stop), start=first):
                if self.halt.is_set():
                    return
                pending.frames.append(number)
                pending.sources.append(resized_frame(frame, self.size[1], self.size[0]))
                if len(pending.frames) == batch:
                    self._queue_batch(pending)
                    pending = _Batch([], [])
            if pending.frames:
                self._queue_batch(pending)
        self._put(self.decoded, _END)

    def _queue_batch(self, batch: _Batch) -> None:
        try:
            used = self.spare.get_nowait()
        except queue.Empty:
            used = None
        batch.pixels = batch_of(batch.sources, self.settings.batch, out=used)
        self._put(self.decoded, batch)

    # the encoding thread
    def _write(self) -> None:
        previous = None
        done = 0
        while (batch := self._get(self.stylised)) is not _END:
            for number, source, result in zip(batch.frames, batch.sources, batch.results):
                frame = to_bytes(result)
                if self.blend is not None:
                    if previous is None or number != previous + 1:
                        self.blend.reset()
                    frame = self.blend(source, frame)
                self._encode(number, frame)
                previous = number
                done += 1
                self.report.frames = done
                self.progress(done, self.report.total - self.report.resumed)

    def _encode(self, number: int, frame: np.ndarray) -> None:
        index = number // self.settings.segment_frames
        first, stop = self.segments.ranges[index]
        if self.segments.frames:
            write_frame_file(frame, self.segments.folder, number)
            if number == stop - 1:
                self.written.add(index)
            return
        if self.writer is None:
            height, width = frame.shape[:2]
            self.writer = SegmentWriter(self.segments.path(index), self.settings.encode,
                                        width=width, height=height, rate=self.clip.rate,
                                        first=first)
            self.writing = index
        self.writer.write(frame)
        if number == stop - 1:
            writer, self.writer, self.writing = self.writer, None, None
            writer.commit()
            self.written.add(index)

    # after Ctrl-C
    def keep_playable(self) -> int:
        """Join the segments done from the first on (and the one cut short, when it
        follows them) into the output; the frames it holds (0: nothing written)."""
        ranges = self.segments.ranges
        upto = 0
        while upto < len(ranges) and self.segments.done(upto):
            upto += 1
        partial, partial_frames = None, 0
        writer = self.writer
        if writer is not None and writer.frames and self.writing == upto:
            self.writer = None
            partial = self.segments.folder / f"partial{self.segments.target.suffix}"
            partial_frames = writer.frames
            try:
                writer.commit(partial)
            except Exception:  # noqa: BLE001 - the whole segments are still kept
                partial, partial_frames = None, 0
        if upto == 0 and partial is None:
            return 0
        try:
            return self.segments.join(upto, partial, partial_frames)
        finally:
            if partial is not None:
                partial.unlink(missing_ok=True)


def batch_of(frames: list[np.ndarray], size: int, out: np.ndarray | None = None
             ) -> np.ndarray:
    """``frames`` (H x W x 3 uint8) as one size x 3 x H x W float32 batch in [0, 1], filled
    up with copies of the last frame (each frame written straight into its place: into
    ``out`` when it has that shape, a batch used before, whose pages are mapped already)."""
    height, width = frames[0].shape[:2]
    shape = (size, 3, height, width)
    pixels = out if out is not None and out.shape == shape else \
        np.empty(shape, dtype=np.float32)
    for index, planes in enumerate(pixels):
        frame = frames[min(index, len(frames) - 1)]
        np.multiply(frame.transpose(2, 0, 1), np.float32(1 / 255), out=planes)
    return pixels


def to_bytes(result: np.ndarray) -> np.ndarray:
    """A stylised frame (3 x H x W floats in [0, 1]) as H x W x 3 uint8, rounded to nearest:
    one float copy, worked on in place."""
    values = np.empty((*result.shape[1:], 3), dtype=np.float32)
    np.multiply(result.transpose(1, 2, 0), np.float32(255), out=values)
    np.clip(values, 0.0, 255.0, out=values)
    np.rint(values, out=values)
    return values.astype(np.uint8)


def _runs(todo: list[int], ranges: list[tuple[int, int]]) -> Iterator[tuple[int, int]]:
    """The (first, stop) frames of each run of consecutive segments of ``todo``."""
    start = previous = None
    for index in todo:
        if start is None:
            start = previous = index
        elif index == previous + 1:
            previous = index
        else:
            yield ranges[start][0], ranges[previous][1]
            start = previous = index
    if start is not None:
        yield ranges[start][0], ranges[previous][1]
