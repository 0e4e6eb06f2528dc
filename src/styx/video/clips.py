"""Clips to stylise: a video file (decoded by PyAV) or a folder of frames (a PNG sequence).

:func:`open_clip` checks a clip before any work and describes it (:class:`Clip`): its size,
frame rate, frame count, display rotation and whether it has sound. A file PyAV cannot
open, one without a video stream, a codec this FFmpeg cannot decode and a clip of no frames
are each a one-line StyxError. :meth:`Clip.frames` decodes the frames of a range, as
H x W x 3 uint8 RGB arrays in the orientation they are stored in (the rotation is kept as
the output's display rotation, so players turn the result as they turn the source).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from styx.core.errors import StyxError

#: File suffixes read and written as videos (anything else is a photo or a folder).
VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi")
#: The frame rate of a folder of frames, unless ``--fps`` says.
DEFAULT_FOLDER_RATE = Fraction(25)


def is_video_path(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names a video by its suffix (:data:`VIDEO_SUFFIXES`)."""
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


@dataclass(frozen=True)
class Clip:
    """A clip, checked (see :func:`open_clip`)."""

    path: Path
    width: int
    height: int
    #: How many frames it has (counted from the container's packets where it does not say).
    frame_count: int
    rate: Fraction
    #: The display rotation in degrees, counter-clockwise (0, 90, 180, 270).
    rotation: int = 0
    #: Whether the file has an audio stream (copied into the result).
    audio: bool = False
    codec: str = ""
    #: The frames of a folder clip, in order (None for a video file).
    frame_files: tuple[Path, ...] | None = None

    @property
    def is_folder(self) -> bool:
        return self.frame_files is not None

    @property
    def seconds(self) -> float:
        return float(self.frame_count / self.rate)

    def describe(self) -> str:
        turned = f", turned {self.rotation} degrees" if self.rotation else ""
        sound = ", with sound" if self.audio else ""
        return (f"{self.width}x{self.height}, {self.frame_count} frames at "
                f"{float(self.rate):.3g} fps{turned}{sound}")

    def frames(self, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
        """The frames ``start`` to ``stop`` (exclusive; None: the last) as H x W x 3 uint8
        RGB arrays of the clip's size. A video is decoded from its start, the frames before
        ``start`` decoded but not converted (a fraction of the time a frame takes to
        stylise)."""
        stop = self.frame_count if stop is None else min(stop, self.frame_count)
        if self.frame_files is not None:
            for path in self.frame_files[start:stop]:
                yield _frame_file(path, self.width, self.height)
            return
        yield from _decoded(self, start, stop)

    def to_dict(self) -> dict[str, object]:
        return {"path": str(self.path), "width": self.width, "height": self.height,
                "frames": self.frame_count, "fps": float(self.rate),
                "rotation": self.rotation, "audio": self.audio, "codec": self.codec}


def open_clip(path: str | os.PathLike[str], *, rate: Fraction | float | None = None) -> Clip:
    """The clip at ``path`` (a video file or a folder of frames), checked: a StyxError for
    anything that cannot be stylised as a clip. ``rate``: a folder's frame rate (default
    :data:`DEFAULT_FOLDER_RATE`); a video keeps its own."""
    path = Path(path).expanduser()
    if not path.exists():
        raise StyxError(f"video not found: {path}", "check the path")
    if path.is_dir():
        return _folder_clip(path, Fraction(rate).limit_denominator(1001) if rate
                            else DEFAULT_FOLDER_RATE)
    return _video_clip(path)


def pyav():
    try:
        import av
    except ImportError:  # pragma: no cover - a dependency of styx-nst
        raise StyxError("videos need PyAV", "pip install av") from None
    return av


def _video_clip(path: Path) -> Clip:
    av = pyav()
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError, UnicodeDecodeError) as error:
        raise StyxError(f"{path} is not a video styx can read ({_reason(error)})",
                        "give a video file (mp4, mov, mkv, webm, avi) or a folder of "
                        "frames") from None
    with container:
        if not container.streams.video:
            raise StyxError(f"{path} has no video stream", "give a file with a picture")
        stream = container.streams.video[0]
        codec = stream.codec_context.name if stream.codec_context is not None else ""
        if stream.codec_context is None or not stream.codec_context.is_decoder:
            raise StyxError(f"{path}: its video codec ({codec or 'unknown'}) cannot be "
                            "decoded by PyAV's FFmpeg", "convert it to H.264 first")
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        count = stream.frames or _count_packets(container, stream)
        first = _first_frame(container, stream, path) if count else None
        if first is None:
            raise StyxError(f"{path} has no video frames", "give a clip with frames in it")
        audio = bool(container.streams.audio)
        return Clip(path=path, width=first.width, height=first.height, frame_count=count,
                    rate=Fraction(rate) if rate else Fraction(25),
                    rotation=int(getattr(first, "rotation", 0) or 0) % 360, audio=audio,
                    codec=codec)


def _count_packets(container, stream) -> int:
    """The frames of ``stream`` counted from its packets (demuxed, not decoded), the file
    rewound (not one of no frames: an empty AVI refuses the seek)."""
    count = sum(1 for packet in container.demux(stream) if packet.size)
    if count:
        container.seek(0)
    return count


def _first_frame(container, stream, path: Path):
    av = pyav()
    try:
        for frame in container.decode(stream):
            return frame
    except (av.FFmpegError, ValueError) as error:
        raise StyxError(f"{path}: its frames cannot be decoded ({_reason(error)})",
                        "is the file whole? Convert it to H.264 first") from None
    return None


def _decoded(clip: Clip, start: int, stop: int) -> Iterator[np.ndarray]:
    av = pyav()
    with av.open(str(clip.path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        index = 0
        try:
            for frame in container.decode(stream):
                if index >= stop:
                    return
                if index >= start:
                    yield resized_frame(frame.to_ndarray(format="rgb24"),  # a size change
                                        clip.width, clip.height)
                index += 1
        except av.FFmpegError as error:
            raise StyxError(f"{clip.path}: frame {index + 1} cannot be decoded "
                            f"({_reason(error)})", "is the file whole?") from None


def _folder_clip(folder: Path, rate: Fraction) -> Clip:
    from styx.files.image_arrays import find_images, upright_size

    files = tuple(find_images(folder, recursive=False))
    if not files:
        raise StyxError(f"no frames found in {folder}",
                        "give a folder of frames (png, jpg, ...) named in order")
    width, height = upright_size(files[0])
    return Clip(path=folder, width=width, height=height, frame_count=len(files), rate=rate,
                codec="images", frame_files=files)


def _frame_file(path: Path, width: int, height: int) -> np.ndarray:
    from styx.files.image_arrays import decode_image, to_uint8

    rgb, _ = decode_image(path)
    return resized_frame(to_uint8(rgb), width, height)


def resized_frame(picture: np.ndarray, width: int, height: int) -> np.ndarray:
    """An H x W x 3 uint8 frame at ``width`` x ``height`` (Pillow's bicubic): a frame of
    another size than the clip's first (a folder's odd one out, a stream whose size
    changes) brought to the clip's size, or a frame to ``--long-side``'s; unchanged when
    it has that size."""
    from PIL import Image

    if picture.shape[:2] == (height, width):
        return picture
    return np.asarray(Image.fromarray(picture).resize((width, height),
                                                      Image.Resampling.BICUBIC))


def _reason(error: BaseException) -> str:
    text = getattr(error, "strerror", None) or str(error) or type(error).__name__
    return " ".join(str(text).split())
