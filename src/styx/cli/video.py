"""Clips on the command line: the video options and behaviour ``styx infer`` and ``styx run``
share (the work is :mod:`styx.video`, torch-free).

An input is a clip when it is a video file (by suffix: mp4, mov, m4v, mkv, webm, avi), or a
folder while ``-o`` names a video or a folder of frames. A clip's output is ``-o`` (a video
file, or a folder for PNG frames) or ``--output-dir DIR/NAME.SUFFIX`` (the source's suffix).
Every clip is opened and checked, and every output tried, before any work.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from styx.cli.params import io_parameter, note
from styx.core.errors import StyxError
from styx.video import SEGMENT_FRAMES

PANEL = "Video"
#: Exit code of a run stopped by Ctrl-C (as ``styx run``'s).
INTERRUPTED = 130


def video_parameters(*, batch_and_shard: bool) -> list[inspect.Parameter]:
    """The video options (``io_`` parameters, in the Video panel of ``--help``);
    ``batch_and_shard``: also ``--batch-size``, ``--shard`` and ``--overwrite`` (for a
    command without its own)."""
    def option(name: str, default: Any, annotation: Any, *flags: str, **more: Any):
        return io_parameter(name, typer.Option(default, *flags, rich_help_panel=PANEL, **more),
                            annotation)

    parameters = [
        option("fps", None, float | None, "--fps", min=0.01, show_default=False,
               help="Frame rate of a folder of frames read as a clip [default: 25]."),
        option("codec", None, str | None, "--codec", show_default=False,
               help="Video encoder: h264, hevc, vp9, mpeg4 or an FFmpeg encoder name "
                    "[default: h264; vp9 for .webm]."),
        option("crf", 18, int, "--crf", min=0, max=63,
               help="Constant quality of h264, hevc and vp9: lower is better and larger "
                    "(0: lossless)."),
        option("preset", "medium", str, "--preset",
               help="h264/hevc speed preset: ultrafast ... veryslow (slower: smaller)."),
        option("temporal", None, float | None, "--temporal", metavar="WEIGHT", min=0.0,
               max=1.0, show_default=False,
               help="Steadier video: blend WEIGHT (e.g. 0.6) of the previous result, "
                    "warped by optical flow, into each frame where the flow is reliable "
                    "(needs OpenCV: pip install \"styx-nst[temporal]\")."),
        option("join", False, bool, "--join",
               help="Only join into the output video the segments the --shard runs wrote."),
        option("segment_frames", SEGMENT_FRAMES, int, "--segment-frames", min=1,
               help="Frames per segment of a clip: what a re-run or a shard starts from."),
    ]
    if batch_and_shard:
        parameters += [
            option("batch_size", 4, int, "--batch-size", min=1,
                   help="Frames of a clip stylised together."),
            option("shard", None, str | None, "--shard", metavar="K/N", show_default=False,
                   help="Clips: stylise the K-th (0-based) of N runs of segments, so N "
                        "processes share one clip; then --join."),
            option("overwrite", False, bool, "--overwrite",
                   help="Clips: make every segment again instead of going on from those an "
                        "earlier run of the same command left."),
        ]
    return parameters


@dataclass
class ClipJob:
    """One clip and where its result goes."""

    clip: Any  # styx.video.clips.Clip
    target: Path


@dataclass
class VideoOptions:
    """The video options of one command, as given."""

    fps: float | None = None
    codec: str | None = None
    crf: int = 18
    preset: str = "medium"
    temporal: float | None = None
    join: bool = False
    segment_frames: int = SEGMENT_FRAMES
    batch_size: int = 4
    shard: str | None = None
    overwrite: bool = False

    @classmethod
    def of(cls, io: dict[str, Any], **more: Any) -> VideoOptions:
        fields = inspect.signature(cls).parameters
        given = {name: io[name] for name in fields if name in io}
        return cls(**{**given, **more})

    def settings(self, *, long_side: int | None, overwrite: bool):
        from styx.video.encoding import EncodeSettings
        from styx.video.pipeline import ClipSettings

        return ClipSettings(batch=self.batch_size, long_side=long_side,
                            encode=EncodeSettings(codec=self.codec, crf=self.crf,
                                                  preset=self.preset),
                            temporal=self.temporal, shard=self.shard, join=self.join,
                            overwrite=overwrite, segment_frames=self.segment_frames)

    def refuse_without_clips(self) -> None:
        """The video-only options given to a command with no clip are its error."""
        used = [flag for flag, on in (("--temporal", self.temporal is not None),
                                      ("--join", self.join), ("--codec", self.codec),
                                      ("--fps", self.fps)) if on]
        if used:
            raise StyxError(f"{used[0]} is for clips, and no input is one",
                            "give a video file (mp4, mov, mkv, webm, avi), or a folder of "
                            "frames with -o OUT.mp4")


def split_clips(inputs: list[Path], output: Path | None, output_dir: Path | None,
                options: VideoOptions) -> tuple[list[ClipJob], list[Path]]:
    """The clips among ``inputs`` (opened and checked, with their outputs tried) and the
    rest (photos, or folders of photos), in order."""
    from styx.video.clips import VIDEO_SUFFIXES, is_video_path, open_clip
    from styx.video.pipeline import is_frames_target

    sequence_output = output is not None and (is_video_path(output) or
                                              is_frames_target(output))
    clips, rest = [], []
    for given in inputs:
        path = Path(given).expanduser()
        if (path.is_file() and is_video_path(path)) or (path.is_dir() and sequence_output):
            clips.append(open_clip(path, rate=options.fps))
        elif not path.exists() and is_video_path(path):
            raise StyxError(f"video not found: {given}", "check the path")
        else:
            rest.append(path)
    if not clips:
        options.refuse_without_clips()
        return [], rest
    if options.temporal is not None:
        from styx.video.temporal import TemporalBlend

        TemporalBlend(options.temporal)  # the weight in range, OpenCV there
    if output is not None and (len(clips) > 1 or rest):
        raise StyxError(f"{len(clips) + len(rest)} inputs but one --output",
                        "use --output-dir DIR for several clips or photos")
    if output is None and output_dir is None:
        raise StyxError("missing --output", "give -o OUT.mp4 (or a folder for frames), "
                                            "or --output-dir DIR")
    jobs = []
    for clip in clips:
        suffix = clip.path.suffix.lower() if clip.path.suffix.lower() in VIDEO_SUFFIXES \
            else ".mp4"
        target = output.expanduser() if output is not None else \
            output_dir.expanduser() / f"{clip.path.stem}{suffix}"
        jobs.append(ClipJob(clip, _checked_target(target, clip, options)))
    return jobs, rest


def _checked_target(target: Path, clip, options: VideoOptions) -> Path:
    from styx.files.atomic import check_writable_folder, same_file
    from styx.video.encoding import EncodeSettings, check_video_output
    from styx.video.pipeline import is_frames_target

    if target.exists() and same_file(target, clip.path):
        raise StyxError(f"the output {target} is the input clip", "give another output name")
    if is_frames_target(target):
        if options.join:
            raise StyxError("--join is for a video output",
                            "frames in a folder need no join: each shard writes its own")
        check_writable_folder(target, what="output folder")
        return target
    return check_video_output(target, EncodeSettings(codec=options.codec, crf=options.crf,
                                                     preset=options.preset))


def run_clips(jobs: list[ClipJob], stylise: Callable, settings, *,
              fingerprint: dict[str, Any], talk: bool) -> list[dict[str, Any]]:
    """Stylise each clip of ``jobs`` with ``stylise`` (see
    :func:`styx.video.pipeline.stylise_clip`), with a progress bar when ``talk``; the
    reports, as dicts. Ctrl-C: what was kept is said, and the command exits 130."""
    from styx.video.pipeline import stylise_clip

    reports = []
    for job in jobs:
        if talk:
            note(f"{job.clip.path.name}: {job.clip.describe()}")
        with _FrameBar(job, talk) as bar:
            report = stylise_clip(job.clip, job.target, stylise, settings,
                                  fingerprint=fingerprint, progress=bar.update)
        reports.append(report.to_dict())
        if report.interrupted:  # said even with --quiet, like an error
            kept = f"{job.target} holds the first {report.kept} frames; " if report.kept \
                else ""
            note(f"interrupted: {kept}run the same command again to go on from the "
                 f"segments done")
            raise typer.Exit(INTERRUPTED)
        if talk:
            note(_summary(job, report))
    return reports


def _summary(job: ClipJob, report) -> str:
    done = f"{report.frames} frames in {report.seconds:.1f} s ({report.fps:.2f} frames/s)"
    resumed = f", {report.resumed} done before" if report.resumed else ""
    if report.shard is not None:
        return f"shard {report.shard} of {job.target.name}: {done}{resumed}; join the " \
               "shards with --join once every one is done"
    return f"wrote {job.target}: {done}{resumed}"


class _FrameBar:
    """A progress bar of a clip's frames with frames/s and the time left (on stderr)."""

    def __init__(self, job: ClipJob, talk: bool) -> None:
        self.job, self.talk = job, talk
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> _FrameBar:  # noqa: PYI034
        if not self.talk:
            return self
        import rich.progress as rp
        from rich.console import Console

        self._bar = rp.Progress(
            rp.TextColumn("[bold]{task.description}"), rp.BarColumn(),
            rp.MofNCompleteColumn(), rp.TextColumn("frames"),
            rp.TextColumn("{task.fields[rate]}"), rp.TimeElapsedColumn(),
            rp.TextColumn("eta"), rp.TimeRemainingColumn(),
            console=Console(stderr=True), transient=False)
        self._bar.__enter__()
        self._task = self._bar.add_task(self.job.clip.path.name, total=None, rate="")
        return self

    def update(self, done: int, total: int) -> None:
        if self._bar is None:
            return
        task = self._bar.tasks[0]
        rate = task.speed
        self._bar.update(self._task, completed=done, total=total,
                         rate=f"{rate:.2f}/s" if rate else "")

    def __exit__(self, *exc_info: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc_info)
