"""The library side of clips: ``Model.stylize_video`` with a method's own options and a
progress callback, memory that follows the batch (the threads of
:mod:`styx.video.pipeline`), and ``styx infer`` on a clip without torch."""

from __future__ import annotations

import time

import numpy as np
from PIL import Image
from video_clips import describe, moving_frames, read_frames, write_clip

import styx
from styx.video.clips import Clip, open_clip
from styx.video.pipeline import QUEUED_BATCHES, ClipSettings, stylise_clip


def test_stylize_video_takes_the_methods_options_and_reports_progress(models, tmp_path):
    """A StyleBank model's ``style=``: each frame as ``model(frame, style=...)`` makes it
    (within 1/255: 3 frames a batch against one), and another style gives other frames."""
    source = write_clip(tmp_path / "clip.mp4", moving_frames(5))
    bank = styx.load_model(models["stylebank"])
    heard = []
    report = bank.stylize_video(source, tmp_path / "hat", style="hat", batch=3,
                                progress=lambda done, total: heard.append((done, total)))
    assert report.finished and (report.frames, report.total) == (5, 5)
    assert heard == [(done, 5) for done in range(1, 6)]
    frames = read_frames(tmp_path / "hat")
    for frame, original in zip(frames, read_frames(source), strict=True):
        alone = np.asarray(bank(Image.fromarray(original), style="hat"))
        assert np.abs(frame.astype(int) - alone).max() <= 1
    bank.stylize_video(source, tmp_path / "starry.mp4", style="starry", crf=0)
    assert describe(tmp_path / "starry.mp4")["frames"] == 5
    other = read_frames(tmp_path / "starry.mp4")
    assert np.mean([np.abs(a.astype(int) - b).mean() for a, b in zip(frames, other)]) > 10


def test_the_decoder_stays_within_a_few_batches_of_the_encoder(tmp_path, monkeypatch):
    """The encoder (the progress callback runs on its thread) holds on at its first frame
    until the decoder stops: the frames decoded and not yet written are then at most one
    batch in each of the three threads (being decoded, stylised, encoded) and
    ``QUEUED_BATCHES`` in each of the two queues between them, however long the clip."""
    batch, decoded, written, ahead = 2, [0], [0], []
    clip = open_clip(write_clip(tmp_path / "clip.mp4", moving_frames(40)))
    frames = Clip.frames

    def counted(self, start=0, stop=None):
        for frame in frames(self, start, stop):
            decoded[0] += 1
            ahead.append(decoded[0] - written[0])
            yield frame

    def encoder_held_at_first(done: int, total: int) -> None:
        written[0] = done
        if done == 1:  # until the decoder waits: nothing decoded for 0.2 s
            seen, since = decoded[0], time.monotonic()
            while time.monotonic() - since < 0.2:
                time.sleep(0.01)
                if decoded[0] != seen:
                    seen, since = decoded[0], time.monotonic()

    monkeypatch.setattr(Clip, "frames", counted)
    report = stylise_clip(clip, tmp_path / "out", lambda x: 1 - x,
                          ClipSettings(batch=batch, segment_frames=8),
                          progress=encoder_held_at_first)
    assert report.finished and decoded[0] == 40
    assert QUEUED_BATCHES * batch < max(ahead) <= (2 * QUEUED_BATCHES + 3) * batch < 40


def test_infer_on_a_clip_imports_no_torch(styx_subprocess, models, tmp_path):
    source = write_clip(tmp_path / "clip.mp4", moving_frames(4), audio=True)
    result = styx_subprocess("infer", str(models["texture-nets.onnx"]), str(source), "-o",
                             str(tmp_path / "out.mp4"), "--temporal", "0.5",
                             python_flags=("-X", "importtime"))
    assert result.returncode == 0, result.stderr[-2000:]
    imported = {line.rpartition("|")[2].strip() for line in result.stderr.splitlines()
                if line.startswith("import time:")}
    assert {"onnxruntime", "av", "cv2", "styx.video.pipeline"} <= imported  # reported
    assert not {name for name in imported if name.split(".")[0] == "torch"}
    assert describe(tmp_path / "out.mp4")["frames"] == 4
