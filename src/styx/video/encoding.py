"""Writing stylised frames: video segments encoded by PyAV, joined into one file with the
source's sound, or a folder of PNG frames.

A clip is written in segments of consecutive frames (:class:`SegmentWriter`), each its own
small video file that starts with a key frame, written under a temporary name and renamed
when whole. :func:`join_segments` copies their packets, unchanged, one after the other into
the output (no second encoding), with the source's audio packets up to the last frame, and
the source's display rotation. So an interrupted run keeps its finished segments (a re-run
continues), shards of a clip are written by separate processes, and a Ctrl-C still leaves a
playable file of the frames done.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from styx.core.errors import StyxError
from styx.files.atomic import atomic_path
from styx.video.clips import pyav

#: ``--codec`` names -> the encoder PyAV runs; any other encoder name is taken as it is.
CODECS = {"h264": "libx264", "hevc": "libx265", "h265": "libx265", "vp9": "libvpx-vp9",
          "mpeg4": "mpeg4"}
#: The codec of an output suffix, unless ``--codec`` says.
DEFAULT_CODECS = {".webm": "vp9"}
#: Encoders that take ``crf`` (constant quality: lower is better, 0 lossless).
CRF_ENCODERS = ("libx264", "libx265", "libvpx-vp9")
#: The frame names of a folder output.
FRAME_NAME = "frame-{:06d}.png"


@dataclass(frozen=True)
class EncodeSettings:
    """How the result is encoded (``--codec``, ``--crf``, ``--preset``)."""

    codec: str | None = None
    crf: int = 18
    preset: str = "medium"
    pix_fmt: str = "yuv420p"

    def encoder(self, suffix: str) -> str:
        name = self.codec or DEFAULT_CODECS.get(suffix.lower(), "h264")
        return CODECS.get(name.lower(), name)

    def options(self, encoder: str) -> dict[str, str]:
        options: dict[str, str] = {}
        if encoder in CRF_ENCODERS:
            options["crf"] = str(self.crf)
        if encoder in ("libx264", "libx265"):
            options["preset"] = self.preset
        if encoder == "libvpx-vp9":
            options.update({"b": "0", "row-mt": "1"})
        return options

    def check(self, suffix: str) -> str:
        """The encoder for an output of ``suffix``; a StyxError when this FFmpeg has none
        of that name, or ``--crf`` is out of range."""
        av = pyav()
        encoder = self.encoder(suffix)
        if encoder not in av.codecs_available:
            raise StyxError(f"no video encoder {encoder!r} in PyAV's FFmpeg",
                            "choose --codec h264, vp9 or mpeg4")
        try:
            codec = av.Codec(encoder, "w")
        except Exception:  # noqa: BLE001 - PyAV's error kinds vary between versions
            raise StyxError(f"{encoder!r} is not a video encoder",
                            "choose --codec h264, vp9 or mpeg4") from None
        if codec.type != "video":
            raise StyxError(f"{encoder!r} is not a video encoder",
                            "choose --codec h264, vp9 or mpeg4")
        if not 0 <= self.crf <= 63:
            raise StyxError(f"bad --crf {self.crf}", "give 0 (lossless) to 51 (h264) or 63")
        return encoder

    def to_dict(self) -> dict[str, object]:
        return {"codec": self.codec, "crf": self.crf, "preset": self.preset,
                "pix_fmt": self.pix_fmt}


def even_size(width: int, height: int, pix_fmt: str = "yuv420p") -> tuple[int, int]:
    """The size frames are encoded at: 4:2:0 needs even sides (an odd one loses its last
    pixel row or column)."""
    if pix_fmt.endswith("420p") and width > 1 and height > 1:
        return width - width % 2, height - height % 2
    return width, height


class SegmentWriter:
    """One segment of the result: frames ``first`` on, encoded into ``path`` (under a
    temporary name until :meth:`commit`; :meth:`discard` leaves nothing)."""

    def __init__(self, path: Path, settings: EncodeSettings, *, width: int, height: int,
                 rate: Fraction, first: int) -> None:
        av = pyav()
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.temporary = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}"
                                             f"{self.path.suffix}")
        self.frames = 0
        self._first = first
        self._frame_time = Fraction(1) / rate  # the frames' pts count frames
        encoder = settings.encoder(self.path.suffix)
        self.width, self.height = even_size(width, height, settings.pix_fmt)
        try:
            self._container = av.open(str(self.temporary), "w")
            self._stream = self._container.add_stream(encoder, rate=rate,
                                                      options=settings.options(encoder))
            self._stream.width, self._stream.height = self.width, self.height
            self._stream.pix_fmt = settings.pix_fmt
        except BaseException:
            self.discard()
            raise

    def write(self, frame: np.ndarray) -> None:
        """Encode one H x W x 3 uint8 RGB frame."""
        av = pyav()
        picture = av.VideoFrame.from_ndarray(
            np.ascontiguousarray(frame[:self.height, :self.width]), format="rgb24")
        picture.pts = self._first + self.frames
        picture.time_base = self._frame_time
        self._container.mux(self._stream.encode(picture))
        self.frames += 1

    def commit(self, path: Path | None = None) -> Path:
        """Flush the encoder and put the segment in place: at its path, or at ``path``
        (an interrupted segment, kept apart from the whole ones)."""
        try:
            self._container.mux(self._stream.encode(None))
            self._container.close()
            final = self.path if path is None else Path(path)
            os.replace(self.temporary, final)
        except BaseException:
            self.discard()
            raise
        return final

    def discard(self) -> None:
        with contextlib.suppress(Exception):
            self._container.close()
        remove_quietly(self.temporary)


def join_segments(segments: list[tuple[int, Path]], target: Path, *, rate: Fraction,
                  rotation: int = 0, audio_from: Path | None = None,
                  frames: int | None = None) -> Path:
    """Write ``target`` (atomically) from ``segments`` ((first frame, file), in order):
    their video packets as they are, timed by frame number at ``rate``; the display
    ``rotation``; and ``audio_from``'s first audio stream, its packets up to the end of
    ``frames`` frames (copied where the container takes the codec, else encoded as AAC)."""
    av = pyav()
    if not segments:
        raise StyxError(f"no frames to write to {target}", "let the run do a segment first")
    end = Fraction(frames if frames is not None else 0) / rate
    with atomic_path(target) as temporary:
        inputs = [av.open(str(path)) for _, path in segments]
        try:
            with av.open(str(temporary), "w") as output:
                video = output.add_stream_from_template(inputs[0].streams.video[0])
                if rotation:
                    video.set_display_rotation(rotation)
                sound = _SoundCopy(output, audio_from, end) if audio_from is not None else None
                delay = max(_decode_delay(source) for source in inputs)
                for (first, _), source in zip(segments, inputs):
                    _copy_video(source, video, first, rate, delay)
                if sound is not None:
                    sound.copy()
        finally:
            for source in inputs:
                source.close()
    return target


def _pts_in_order(source) -> list[int]:
    """The pts of ``source``'s video packets, in decoding order (the file rewound)."""
    stream = source.streams.video[0]
    stamps = [p.pts for p in source.demux(stream) if p.pts is not None and p.size]
    source.seek(0)
    return stamps


def _decode_delay(source) -> int:
    """How far (in the stream's time base) decoding runs ahead of display in a segment: the
    least ``delay`` for which the i-th smallest pts, less ``delay``, is at most the pts of
    the i-th packet decoded (B-frames are decoded before the frames they sit between)."""
    stamps = _pts_in_order(source)
    return max((a - b for a, b in zip(sorted(stamps), stamps)), default=0)


def _copy_video(source, video, first: int, rate: Fraction, delay: int) -> None:
    """``source``'s video packets into ``video``, from frame ``first`` on: pts moved so
    the segment starts there; dts the sorted pts less one ``delay`` for every segment, so
    they rise evenly across the joins (players and muxers derive the frame rate from
    them)."""
    stream = source.streams.video[0]
    stamps = _pts_in_order(source)
    if not stamps:
        return
    packets = (p for p in source.demux(stream) if p.pts is not None and p.size)
    offset = round(Fraction(first) / rate / stream.time_base) - min(stamps)
    for packet, decoded_at in zip(packets, sorted(stamps)):
        packet.pts += offset
        packet.dts = decoded_at + offset - delay
        packet.stream = video
        video.container.mux(packet)


class _SoundCopy:
    """The source's first audio stream into ``output``, up to ``end`` seconds."""

    def __init__(self, output, source_path: Path, end: Fraction) -> None:
        av = pyav()
        self.source = av.open(str(source_path))
        self.end = end
        streams = self.source.streams
        self.input = streams.audio[0] if streams.audio else None
        self.start = _start_seconds(streams.video[0]) if streams.video else Fraction(0)
        self.output, self.stream, self.encoder = output, None, None
        if self.input is None:
            self.source.close()
            return
        if _container_takes(output, self.input.codec_context.name):
            self.stream = output.add_stream_from_template(self.input)
        else:  # encoded again, in what the container takes
            codec = "libopus" if "webm" in output.format.name else "aac"
            self.encoder = output.add_stream(codec, rate=48000 if codec == "libopus"
                                             else self.input.rate or 48000)

    def copy(self) -> None:
        if self.input is None:
            return
        try:
            if self.encoder is None:
                self._remux()
            else:
                self._reencode()
        finally:
            self.source.close()

    def _remux(self) -> None:
        base = self.input.time_base
        shift = round(self.start / base)
        for packet in self.source.demux(self.input):
            if packet.pts is None or not packet.size:
                continue
            if Fraction(packet.pts - shift) * base >= self.end:
                break
            packet.pts -= shift
            packet.dts = packet.pts if packet.dts is None else packet.dts - shift
            packet.stream = self.stream
            self.output.mux(packet)

    def _reencode(self) -> None:
        av = pyav()
        context = self.encoder.codec_context
        resample = av.AudioResampler(format=context.format.name, layout=context.layout.name,
                                     rate=context.rate)
        for frame in self.source.decode(self.input):
            if frame.time is not None and frame.time - float(self.start) >= float(self.end):
                break
            frame.pts = None
            for converted in resample.resample(frame):
                self.output.mux(self.encoder.encode(converted))
        for converted in resample.resample(None):
            self.output.mux(self.encoder.encode(converted))
        self.output.mux(self.encoder.encode(None))


def _container_takes(output, codec: str) -> bool:
    """Whether ``output``'s format can hold audio of ``codec`` (mp4 and mov take the common
    ones; webm only Opus and Vorbis)."""
    name = output.format.name
    if "webm" in name:
        return codec in ("opus", "vorbis")
    if "mp4" in name or "mov" in name:
        return codec in ("aac", "mp3", "alac", "opus", "ac3", "eac3", "flac")
    return True


def _start_seconds(stream) -> Fraction:
    if stream.start_time is None:
        return Fraction(0)
    return Fraction(stream.start_time) * stream.time_base


def write_frame_file(frame: np.ndarray, folder: Path, index: int) -> Path:
    """Frame ``index`` (0-based) as ``folder/frame-NNNNNN.png`` (numbered from 1),
    atomically."""
    from PIL import Image

    from styx.files.image_arrays import write_picture

    path = folder / FRAME_NAME.format(index + 1)
    return write_picture(Image.fromarray(frame), path, "PNG")


def check_video_output(target: Path, settings: EncodeSettings) -> Path:
    """Check, before any work, that a video can be written at ``target``: a known suffix,
    an encoder this FFmpeg has, a folder that can be written to."""
    from styx.files.atomic import check_writable_file
    from styx.video.clips import VIDEO_SUFFIXES

    target = Path(target).expanduser()
    if target.suffix.lower() not in VIDEO_SUFFIXES:
        raise StyxError(f"cannot write videos as {target.suffix or 'no suffix'} ({target})",
                        "use one of " + ", ".join(VIDEO_SUFFIXES) + ", or a folder for frames")
    if target.is_dir():
        raise StyxError(f"output {target} is a folder", "give a file name, e.g. out.mp4")
    settings.check(target.suffix)
    return check_writable_file(target, what="output")


def remove_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)
