"""Short clips made with PyAV for the video tests, and what the tests read back from the
results (imported as ``from video_clips import ...``: pytest puts this folder, the one of
the root ``conftest.py``, on ``sys.path``).

Every clip is a few small frames, so a test stylises it in a fraction of a second: frames
that change (:func:`moving_frames`), a still scene (:func:`still_frames`, written losslessly
so that its frames decode bit-identical), a slow pan over a texture (:func:`pan_frames`),
and the files a clip can fail on: no video stream, no frames, a codec FFmpeg cannot decode.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image
from trained_models import photo

#: The size of the test clips (even sides: 4:2:0 keeps them).
HEIGHT, WIDTH = 32, 48
#: The frame rate of the test clips.
RATE = 12
#: Lossless H.264 (every frame decodes to the same pixels each time).
LOSSLESS = {"crf": "0", "preset": "ultrafast"}


def moving_frames(count: int, height: int = HEIGHT, width: int = WIDTH,
                  seed: int = 0) -> list[np.ndarray]:
    """``count`` different photo-like H x W x 3 uint8 frames."""
    return [photo(height, width, seed + index) for index in range(count)]


def still_frames(count: int, height: int = HEIGHT, width: int = WIDTH,
                 seed: int = 0) -> list[np.ndarray]:
    """``count`` identical frames (a still scene)."""
    return [photo(height, width, seed)] * count


def pan_frames(count: int, height: int = HEIGHT, width: int = WIDTH, step: int = 1,
               seed: int = 0) -> list[np.ndarray]:
    """A slow pan: windows of one textured picture, each ``step`` pixels right of the
    previous one."""
    rng = np.random.default_rng(seed)
    wide = width + step * count
    texture = photo(height, wide, seed).astype(np.int16) + \
        rng.integers(-40, 40, (height, wide, 3))  # strokes for the flow to follow
    texture = np.clip(texture, 0, 255).astype(np.uint8)
    return [np.ascontiguousarray(texture[:, index * step:index * step + width])
            for index in range(count)]


def write_clip(path: Path, frames: list[np.ndarray], *, rate: int = RATE,
               codec: str = "libx264", options: dict[str, str] | None = None,
               pix_fmt: str = "yuv420p", rotation: int = 0, audio: bool = False) -> Path:
    """``frames`` as a video at ``path``: H.264 (``options``: the encoder's) by default;
    ``rotation``: the display rotation in degrees; ``audio``: with an AAC stream (a tone)
    as long as the picture."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        fast = {"preset": "ultrafast"} if codec == "libx264" else {}
        stream = container.add_stream(codec, rate=rate, options={**fast, **(options or {})})
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = pix_fmt
        if rotation:
            stream.set_display_rotation(rotation)
        sound = container.add_stream("aac", rate=44100) if audio else None
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode(None))
        if sound is not None:
            _write_tone(container, sound, Fraction(len(frames), rate))
    return path


def write_still(path: Path, count: int, **more) -> Path:
    """A still scene of ``count`` frames, lossless (4:4:4, crf 0): its frames decode
    bit-identical."""
    return write_clip(path, still_frames(count), options=LOSSLESS, pix_fmt="yuv444p", **more)


def _write_tone(container, stream, seconds: Fraction) -> None:
    samples = int(44100 * seconds)
    tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(samples) / 44100)
    frame = av.AudioFrame.from_ndarray(tone.astype(np.float32)[None], format="fltp",
                                       layout="mono")
    frame.sample_rate, frame.pts = 44100, 0
    container.mux(stream.encode(frame))
    container.mux(stream.encode(None))


def write_frame_folder(folder: Path, frames: list[np.ndarray]) -> Path:
    """``frames`` as ``folder/0001.png`` ... (a clip given as a folder of frames)."""
    folder.mkdir(parents=True, exist_ok=True)
    for index, frame in enumerate(frames):
        Image.fromarray(frame).save(folder / f"{index + 1:04d}.png")
    return folder


def write_audio_only(path: Path) -> Path:
    """An .mp4 with an AAC stream and no picture."""
    with av.open(str(path), "w") as container:
        _write_tone(container, container.add_stream("aac", rate=44100), Fraction(1, 2))
    return path


def write_zero_frames(path: Path) -> Path:
    """An .avi with a video stream (MPEG-4 part 2) and no frames in it."""
    path = path.with_suffix(".avi")
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=RATE)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        container.start_encoding()
    return path


def write_undecodable(path: Path) -> Path:
    """An .avi whose video stream's codec (its fourcc, ``QQQQ``) no FFmpeg knows: an
    MPEG-4 clip with its ``FMP4`` tags overwritten."""
    path = path.with_suffix(".avi")
    write_clip(path, moving_frames(3), codec="mpeg4")
    data = path.read_bytes()
    assert data.count(b"FMP4") == 2  # the stream header's and the bitmap header's
    path.write_bytes(data.replace(b"FMP4", b"QQQQ"))
    return path


# -- reading results back ------------------------------------------------------------------
def read_frames(path: Path) -> list[np.ndarray]:
    """A video's frames (H x W x 3 uint8, as stored), or a folder's ``frame-*.png``."""
    if path.is_dir():
        return [np.asarray(Image.open(file).convert("RGB"))
                for file in sorted(path.glob("frame-*.png"))]
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def describe(path: Path) -> dict[str, object]:
    """What a video file holds: its frames' size, count and rotations, its frame rate, its
    codec, and whether it has sound."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
        return {"size": (frames[0].width, frames[0].height), "frames": len(frames),
                "rate": stream.average_rate, "codec": stream.codec_context.name,
                "rotations": {frame.rotation for frame in frames},
                "audio": [s.codec_context.name for s in container.streams.audio]}


def audio_packets(path: Path) -> dict[int, bytes]:
    """A file's first audio stream's packets, by pts."""
    with av.open(str(path)) as container:
        return {packet.pts: bytes(packet) for packet in container.demux(audio=0)
                if packet.pts is not None and packet.size}


def audio_seconds(path: Path) -> float:
    """The length of a file's first audio stream, from its packets."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        ends = [packet.pts + packet.duration for packet in container.demux(stream)
                if packet.pts is not None and packet.size]
        return float(max(ends) * stream.time_base)


def files_under(folder: Path) -> list[str]:
    """Every file and folder under ``folder`` (hidden ones too), relative, sorted."""
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))
