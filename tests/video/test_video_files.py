"""Clips in and out of ``styx infer`` and ``styx run``: what the result keeps of the source
(frame rate, size, rotation, sound), the encoder options, folders of frames both ways, and
the inputs and outputs refused before any work (docs/video.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from video_clips import (
    audio_packets,
    audio_seconds,
    describe,
    files_under,
    moving_frames,
    read_frames,
    write_audio_only,
    write_clip,
    write_frame_folder,
    write_undecodable,
    write_zero_frames,
)


@pytest.mark.parametrize("command", ["infer", "run"])
def test_the_result_keeps_the_frame_rate_size_rotation_and_sound(command, infer, run_tn,
                                                                  tmp_path):
    source = write_clip(tmp_path / "clip.mp4", moving_frames(5), rate=15, rotation=90,
                        audio=True)
    out = tmp_path / "out.mp4"
    result = (infer if command == "infer" else run_tn)(source, "-o", out)
    assert result.exit_code == 0, result.stderr
    assert describe(out) == {"size": (48, 32), "frames": 5, "rate": 15, "codec": "h264",
                             "rotations": {90}, "audio": ["aac"]}
    # the sound copied packet for packet (no second encoding), cut at the last frame
    copied, original = audio_packets(out), audio_packets(source)
    assert copied and all(original[pts] == data for pts, data in copied.items())
    assert audio_seconds(out) == pytest.approx(5 / 15, abs=0.03)


def test_long_side_resizes_the_frames(infer, tmp_path):
    source = write_clip(tmp_path / "clip.mp4", moving_frames(3))
    assert infer(source, "-o", tmp_path / "out.mp4", "--long-side", "24").exit_code == 0
    assert describe(tmp_path / "out.mp4")["size"] == (24, 16)


def test_vp9_to_webm_with_the_sound_encoded_again(infer, tmp_path):
    """AAC cannot go into WebM: it is encoded again (as Opus)."""
    source = write_clip(tmp_path / "clip.mp4", moving_frames(4), audio=True)
    result = infer(source, "-o", tmp_path / "out.webm", "--codec", "vp9")
    assert result.exit_code == 0, result.stderr
    info = describe(tmp_path / "out.webm")
    assert (info["codec"], info["frames"], info["audio"]) == ("vp9", 4, ["opus"])


def test_crf_sets_the_quality_and_so_the_size(infer, tmp_path):
    source = write_clip(tmp_path / "clip.mp4", moving_frames(6))
    sizes = {}
    for crf in (4, 40):
        out = tmp_path / f"crf{crf}.mp4"
        assert infer(source, "-o", out, "--crf", str(crf)).exit_code == 0
        assert describe(out)["frames"] == 6
        sizes[crf] = out.stat().st_size
    assert sizes[4] > 2 * sizes[40], sizes


def test_a_folder_of_frames_in_makes_a_video_at_fps(infer, tmp_path):
    frames = write_frame_folder(tmp_path / "frames", moving_frames(4))
    assert infer(frames, "-o", tmp_path / "at12.mp4", "--fps", "12").exit_code == 0
    assert infer(frames, "-o", tmp_path / "default.mp4").exit_code == 0
    assert describe(tmp_path / "at12.mp4")["rate"] == 12
    assert describe(tmp_path / "default.mp4")["rate"] == 25
    assert describe(tmp_path / "at12.mp4")["frames"] == 4


def test_a_folder_out_gets_numbered_png_frames(infer, tmp_path):
    source = write_clip(tmp_path / "clip.mp4", moving_frames(5))
    assert infer(source, "-o", tmp_path / "out").exit_code == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == \
        [f"frame-{n:06d}.png" for n in range(1, 6)]
    frames = read_frames(tmp_path / "out")
    assert {frame.shape for frame in frames} == {(32, 48, 3)}
    assert not np.array_equal(frames[0], frames[1])  # each frame its own


# -- refused before any work ---------------------------------------------------------------
def _text_file(folder: Path) -> list[str]:
    (folder / "clip.mp4").write_text("not a video\n")
    return [folder / "clip.mp4", "-o", folder / "out.mp4"]


def _audio_only(folder: Path) -> list[str]:
    return [write_audio_only(folder / "clip.mp4"), "-o", folder / "out.mp4"]


def _undecodable(folder: Path) -> list[str]:
    return [write_undecodable(folder / "clip.avi"), "-o", folder / "out.mp4"]


def _zero_frames(folder: Path) -> list[str]:
    return [write_zero_frames(folder / "clip.avi"), "-o", folder / "out.mp4"]


def _unknown_codec(folder: Path) -> list[str]:
    return [write_clip(folder / "clip.mp4", moving_frames(2)), "-o", folder / "out.mp4",
            "--codec", "nosuch"]


def _audio_codec(folder: Path) -> list[str]:
    return [write_clip(folder / "clip.mp4", moving_frames(2)), "-o", folder / "out.mp4",
            "--codec", "aac"]


def _temporal_with_photos(folder: Path) -> list[str]:
    from PIL import Image

    Image.fromarray(moving_frames(1)[0]).save(folder / "photo.png")
    return [folder / "photo.png", "-o", folder / "out.png", "--temporal", "0.6"]


def _two_clips_one_output(folder: Path) -> list[str]:
    return [write_clip(folder / "a.mp4", moving_frames(2)),
            write_clip(folder / "b.mp4", moving_frames(2)), "-o", folder / "out.mp4"]


def _join_to_frames(folder: Path) -> list[str]:
    return [write_clip(folder / "clip.mp4", moving_frames(2)), "-o", folder / "frames",
            "--join"]


def _proc_output(folder: Path) -> list[str]:
    """A pseudo-filesystem (nobody, root included, makes files in ``/proc``)."""
    if not Path("/proc/self").is_dir():
        pytest.skip("no /proc here")
    return [write_clip(folder / "clip.mp4", moving_frames(2)), "-o",
            "/proc/styx-video-test/out.mp4"]


#: Each bad command (made in a folder) and the start of its error line.
REFUSED = [
    (_text_file, "{tmp}/clip.mp4 is not a video styx can read ("),
    (_audio_only, "{tmp}/clip.mp4 has no video stream"),
    (_undecodable, "{tmp}/clip.avi: its video codec (unknown) cannot be decoded"),
    (_zero_frames, "{tmp}/clip.avi has no video frames"),
    (_unknown_codec, "no video encoder 'nosuch' in PyAV's FFmpeg"),
    (_audio_codec, "'aac' is not a video encoder"),
    (_temporal_with_photos, "--temporal is for clips, and no input is one"),
    (_two_clips_one_output, "2 inputs but one --output"),
    (_join_to_frames, "--join is for a video output"),
    (_proc_output, "cannot write output /proc/styx-video-test/out.mp4: "),
]


@pytest.mark.parametrize(("make", "message"), REFUSED,
                         ids=[make.__name__.lstrip("_") for make, _ in REFUSED])
def test_bad_inputs_and_outputs_are_one_line_errors_and_write_nothing(make, message, infer,
                                                                       tmp_path):
    args = make(tmp_path)
    before = files_under(tmp_path)
    result = infer(*args)
    assert result.exit_code == 2, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0].startswith("error: " + message.format(tmp=tmp_path)), lines
    assert len(lines) == 2 and lines[1].startswith("hint: "), lines  # no traceback
    assert files_under(tmp_path) == before


def test_styx_run_refuses_a_bad_clip_before_it_loads_the_model(run_tn, tmp_path,
                                                               monkeypatch):
    from styx.generators import models

    monkeypatch.setattr(models, "load_model", lambda *args, **kwargs: pytest.fail("loaded"))
    args = _audio_only(tmp_path)
    before = files_under(tmp_path)
    result = run_tn(*args)
    assert result.exit_code == 2 and result.stderr.startswith(
        f"error: {tmp_path}/clip.mp4 has no video stream\nhint: "), result.stderr
    assert files_under(tmp_path) == before


def test_an_output_folder_that_cannot_be_written_is_refused(infer, tmp_path):
    source = write_clip(tmp_path / "clip.mp4", moving_frames(2))
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        try:
            (locked / "probe").touch()
        except PermissionError:
            pass
        else:  # root writes anyway: /proc is the unwritable output it is tested with
            (locked / "probe").unlink()
            pytest.skip("running as root: a folder of mode 0o500 is writable")
        for target in (locked / "out.mp4", locked / "frames"):
            result = infer(source, "-o", target)
            assert result.exit_code == 2, result.stderr
            assert result.stderr.startswith("error: cannot write output") and \
                "Permission denied" in result.stderr, result.stderr
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o700)
