"""Long clips (docs/video.md, "Long clips"): an interrupted run keeps a playable output and
its segments, and a re-run does only the rest; shards and ``--join`` give the frames of one
run; a real Ctrl-C exits 130.

Outputs that are compared frame for frame are encoded losslessly (``crf=0``): a lossless
segment decodes to the same pixels however the encoder chose to code it. At crf 18,
libx264 (PyAV 18's) coded the same frames into different bits now and then (about one
segment in twenty) while other threads kept the CPUs busy, even with ``threads=1``, so
two runs of a clip may differ in a few frames by a few levels: seen, not a styx bug."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
from video_clips import audio_seconds, describe, moving_frames, read_frames, write_clip

from styx.video.clips import open_clip
from styx.video.encoding import EncodeSettings
from styx.video.pipeline import ClipSettings, stylise_clip

#: Segments of 4 frames, batches of 2, lossless.
SETTINGS = ClipSettings(batch=2, segment_frames=4,
                        encode=EncodeSettings(crf=0, preset="ultrafast"))
#: The same for the command line.
OPTIONS = ["--segment-frames", "4", "--batch-size", "2", "--crf", "0", "--preset",
           "ultrafast"]


def invert(frames: np.ndarray) -> np.ndarray:
    """A stylise function of plain numpy (N x 3 x H x W in [0, 1])."""
    return 1.0 - frames


def _same_frames(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


def test_an_interrupted_run_keeps_what_it_did_and_a_rerun_does_the_rest(tmp_path):
    clip = open_clip(write_clip(tmp_path / "clip.mp4", moving_frames(12), audio=True))
    whole = stylise_clip(clip, tmp_path / "whole.mp4", invert, SETTINGS)
    assert whole.finished and whole.frames == 12
    expected = read_frames(tmp_path / "whole.mp4")

    six_written, batches = threading.Event(), []

    def progress(done: int, total: int) -> None:
        if done >= 6:
            six_written.set()

    def stopped_at_the_fourth_batch(frames: np.ndarray) -> np.ndarray:
        batches.append(len(frames))
        if len(batches) == 4:  # frames 6 and 7: Ctrl-C once 0-5 are written
            assert six_written.wait(30)
            raise KeyboardInterrupt
        return invert(frames)

    target, parts = tmp_path / "out.mp4", tmp_path / ".out.mp4.styx-parts"
    report = stylise_clip(clip, target, stopped_at_the_fourth_batch, SETTINGS,
                          progress=progress)
    assert report.interrupted and not report.finished
    assert (report.frames, report.kept) == (6, 6)
    # the whole segment kept for a re-run; the one cut short only in the output
    assert sorted(p.name for p in parts.iterdir()) == ["manifest.json", "segment-000000.mp4"]
    kept = read_frames(target)  # playable: the frames done, with the sound up to them
    assert _same_frames(kept, expected[:6])
    assert describe(target)["audio"] == ["aac"]
    assert audio_seconds(target) <= 6 / 12 + 0.03

    again = stylise_clip(clip, target, invert, SETTINGS)
    assert again.finished and not again.interrupted
    assert (again.resumed, again.frames, again.total) == (4, 8, 12)
    assert not parts.exists()
    assert _same_frames(read_frames(target), expected)
    assert audio_seconds(target) == audio_seconds(tmp_path / "whole.mp4")


def _interrupted_after_one_segment(clip, target) -> None:
    """A run of ``clip`` into ``target`` stopped (Ctrl-C) once its first segment is whole."""
    calls, four_written = [], threading.Event()

    def stop_at_the_third_batch(frames: np.ndarray) -> np.ndarray:
        calls.append(1)
        if len(calls) == 3:  # frames 4 and 5: Ctrl-C once 0-3 (a segment) are written
            assert four_written.wait(30)
            raise KeyboardInterrupt
        return invert(frames)

    report = stylise_clip(clip, target, stop_at_the_third_batch, SETTINGS,
                          fingerprint={"style": "a"},
                          progress=lambda done, total: done >= 4 and four_written.set())
    assert report.interrupted
    assert (target.parent / f".{target.name}.styx-parts" / "segment-000000.mp4").is_file()


def test_a_rerun_with_other_options_or_overwrite_starts_afresh(tmp_path):
    clip = open_clip(write_clip(tmp_path / "clip.mp4", moving_frames(8)))
    target = tmp_path / "out.mp4"
    stylise_clip(clip, tmp_path / "plain.mp4", lambda frames: frames, SETTINGS)
    plain = read_frames(tmp_path / "plain.mp4")

    _interrupted_after_one_segment(clip, target)
    other = stylise_clip(clip, target, lambda frames: frames, SETTINGS,
                         fingerprint={"style": "b"})  # another style: its own segments
    assert (other.resumed, other.frames) == (0, 8)
    assert _same_frames(read_frames(target), plain)

    _interrupted_after_one_segment(clip, target)
    fresh = stylise_clip(clip, target, lambda frames: frames,
                         dataclasses.replace(SETTINGS, overwrite=True),
                         fingerprint={"style": "a"})
    assert (fresh.resumed, fresh.frames) == (0, 8)
    assert _same_frames(read_frames(target), plain)


def test_a_frames_folder_output_is_resumed_from_its_frame_files(tmp_path):
    """A folder output's segments are its frame files: a re-run stylises none of them
    again, and one of a segment that is missing makes that segment again."""
    clip = open_clip(write_clip(tmp_path / "clip.mp4", moving_frames(7)))
    settings = ClipSettings(batch=2, segment_frames=3)
    assert stylise_clip(clip, tmp_path / "out", invert, settings).frames == 7
    expected = read_frames(tmp_path / "out")
    (tmp_path / "out" / "frame-000005.png").unlink()  # segment 1: frames 4-6
    stylised = []

    def counted(frames: np.ndarray) -> np.ndarray:
        stylised.append(len(frames))
        return invert(frames)

    again = stylise_clip(clip, tmp_path / "out", counted, settings)
    assert again.finished and (again.resumed, again.frames, stylised) == (4, 3, [2, 2])
    assert _same_frames(read_frames(tmp_path / "out"), expected)


def test_shards_then_join_give_the_frames_of_one_run(infer, tmp_path):
    source = write_clip(tmp_path / "clip.mp4", moving_frames(12), audio=True)
    assert infer(source, "-o", tmp_path / "whole.mp4", *OPTIONS).exit_code == 0
    target, parts = tmp_path / "out.mp4", tmp_path / ".out.mp4.styx-parts"
    for shard in ("1/2", "0/2"):
        result = infer(source, "-o", target, "--shard", shard, *OPTIONS)
        assert result.exit_code == 0, result.stderr
        assert not target.exists()  # a shard leaves the output alone
    assert sorted(p.name for p in parts.iterdir()) == [
        "manifest.json", "segment-000000.mp4", "segment-000001.mp4", "segment-000002.mp4"]
    result = infer(source, "-o", target, "--join", *OPTIONS)
    assert result.exit_code == 0, result.stderr
    assert not parts.exists()
    assert describe(target) == describe(tmp_path / "whole.mp4")
    assert _same_frames(read_frames(target), read_frames(tmp_path / "whole.mp4"))


def test_join_names_the_missing_segments_and_shards_must_agree(infer, tmp_path):
    source = write_clip(tmp_path / "clip.mp4", moving_frames(12))
    target, parts = tmp_path / "out.mp4", tmp_path / ".out.mp4.styx-parts"
    assert infer(source, "-o", target, "--shard", "0/2", *OPTIONS).exit_code == 0
    result = infer(source, "-o", target, "--join", *OPTIONS)
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[0] == "error: --join: 2 of 3 segments of out.mp4 are not done (segments 1, 2)"
    assert len(lines) == 2 and lines[1].startswith("hint: ")
    other = infer(source, "-o", target, "--shard", "1/2", *OPTIONS, "--crf", "20")
    assert other.exit_code == 2
    assert other.stderr.splitlines()[0] == f"error: {parts} holds segments of another run"
    assert sorted(p.name for p in parts.iterdir()) == ["manifest.json", "segment-000000.mp4"]
    assert not target.exists()


def test_ctrl_c_exits_130_with_a_playable_output_and_a_rerun_finishes(models, infer,
                                                                      tmp_path):
    """A real SIGINT to ``styx infer`` in its own process, once the first segment is
    written (frames upscaled by --long-side, so that 16 take a few seconds)."""
    source = write_clip(tmp_path / "clip.mp4", moving_frames(16))
    target, parts = tmp_path / "out.mp4", tmp_path / ".out.mp4.styx-parts"
    args = [source, "-o", target, "--long-side", "384", *OPTIONS]
    process = subprocess.Popen(
        [sys.executable, "-m", "styx", "infer", str(models["texture-nets.onnx"]),
         *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1"})
    try:
        deadline = time.monotonic() + 60
        while not (parts / "segment-000000.mp4").exists():
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "no segment written in 60 s"
            time.sleep(0.01)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    kept = describe(target)["frames"]
    assert 4 <= kept < 16
    assert f"interrupted: {target} holds the first {kept} frames" in stderr
    assert (parts / "segment-000000.mp4").is_file()

    again = infer(*args, "--json")
    assert again.exit_code == 0, again.stderr
    report = json.loads(again.stdout)["clips"][0]
    assert report["finished"] and report["resumed"] >= 4
    assert report["resumed"] + report["frames"] == 16
    assert describe(target)["frames"] == 16 and not parts.exists()
