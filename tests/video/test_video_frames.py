"""The frames of a stylised clip: a still scene gives identical frames in both runtimes,
the batch size changes no frame, and ``--temporal`` steadies a pan and leaves a still scene
alone (docs/video.md, "Stable output" and "Temporal consistency").

Frames are compared as PNG frames (``-o FOLDER``): exact, with no video encoding between
the stylised pixels and the test."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from video_clips import (
    LOSSLESS,
    files_under,
    moving_frames,
    pan_frames,
    read_frames,
    write_clip,
    write_still,
)

from styx.core.errors import StyxError
from styx.video.clips import open_clip
from styx.video.pipeline import ClipSettings, stylise_clip
from styx.video.temporal import TemporalBlend, flicker


def _frames(command, *args) -> list[np.ndarray]:
    result = command(*args)
    assert result.exit_code == 0, result.stderr
    return read_frames(args[args.index("-o") + 1])


@pytest.mark.parametrize("command", ["infer", "run"])
def test_a_still_scene_gives_identical_frames(command, infer, run_tn, tmp_path):
    """Texture-nets adds noise: drawn by pixel position, and every batch filled up to the
    batch size (7 frames in batches of 4), every frame gets the same."""
    source = write_still(tmp_path / "still.mp4", 7)
    assert flicker(read_frames(source)) == 0.0  # the source decodes to identical frames
    frames = _frames(infer if command == "infer" else run_tn, source, "-o",
                     tmp_path / "out", "--batch-size", "4")
    assert len(frames) == 7
    assert flicker(frames) == 0.0
    assert all(np.array_equal(frame, frames[0]) for frame in frames)


def test_the_batch_size_changes_no_frame_in_onnxruntime(infer, tmp_path):
    """Exact: onnxruntime's CPU convolutions compute each image of a batch alone, in the
    same order, so a frame's pixels do not depend on its batch (measured, and what
    tests/inference relies on too)."""
    source = write_clip(tmp_path / "clip.mp4", moving_frames(7))
    one = _frames(infer, source, "-o", tmp_path / "one", "--batch-size", "1")
    four = _frames(infer, source, "-o", tmp_path / "four", "--batch-size", "4")
    assert len(one) == len(four) == 7
    assert all(np.array_equal(a, b) for a, b in zip(one, four))


def test_the_batch_size_changes_no_frame_in_pytorch_beyond_rounding(run_tn, tmp_path):
    """Within 1/255: PyTorch's batched convolutions sum in another order than one image's,
    which moves a few pixels across a rounding step."""
    source = write_clip(tmp_path / "clip.mp4", moving_frames(7))
    one = _frames(run_tn, source, "-o", tmp_path / "one", "--batch-size", "1")
    four = _frames(run_tn, source, "-o", tmp_path / "four", "--batch-size", "4")
    assert len(one) == len(four) == 7
    assert max(np.abs(a.astype(int) - b).max() for a, b in zip(one, four)) <= 1


def test_temporal_steadies_a_slow_pan(infer, tmp_path):
    source = write_clip(tmp_path / "pan.mp4", pan_frames(8), options=LOSSLESS,
                        pix_fmt="yuv444p")
    plain = _frames(infer, source, "-o", tmp_path / "plain")
    steady = _frames(infer, source, "-o", tmp_path / "steady", "--temporal", "0.6")
    assert len(plain) == len(steady) == 8
    assert np.array_equal(plain[0], steady[0])  # the first frame has nothing to follow
    assert flicker(steady) < 0.85 * flicker(plain), (flicker(steady), flicker(plain))


def test_temporal_leaves_a_still_scene_as_it_is(infer, tmp_path):
    source = write_still(tmp_path / "still.mp4", 5)
    plain = _frames(infer, source, "-o", tmp_path / "plain")
    steady = _frames(infer, source, "-o", tmp_path / "steady", "--temporal", "0.6")
    assert flicker(steady) == 0.0
    assert all(np.array_equal(a, b) for a, b in zip(plain, steady))


def test_temporal_without_opencv_is_a_one_line_error(infer, tmp_path, monkeypatch):
    source = write_clip(tmp_path / "clip.mp4", moving_frames(2))
    monkeypatch.setitem(sys.modules, "cv2", None)  # import cv2 raises ImportError
    with pytest.raises(StyxError) as caught:
        TemporalBlend(0.6)
    assert caught.value.message == "--temporal needs OpenCV's optical flow"
    assert 'pip install "styx-nst[temporal]"' in caught.value.hint
    before = files_under(tmp_path)
    for target in ("out.mp4", "frames"):
        result = infer(source, "-o", tmp_path / target, "--temporal", "0.6")
        assert result.exit_code == 2, result.stderr
        lines = result.stderr.splitlines()
        assert lines[0] == "error: --temporal needs OpenCV's optical flow", lines
        assert len(lines) == 2 and "opencv-python-headless" in lines[1]
    with pytest.raises(StyxError, match="--temporal needs OpenCV"):  # the library's
        stylise_clip(open_clip(source), tmp_path / "out.mp4", lambda x: x,
                     ClipSettings(temporal=0.6))
    assert files_under(tmp_path) == before  # no parts folder either
