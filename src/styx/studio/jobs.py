"""The job queue: every stylisation and training the page asks for, run with the library.

Two lanes, each one worker thread taking its jobs in order: ``heavy`` (iterative methods
such as gatys, and training: one at a time by default) and ``light`` (a trained model's
run, about a second, so it never waits behind a long job). A job is a row of the
:class:`~styx.studio.store.Store`; its live progress (steps, losses, the latest frame or
sample) is kept in memory and sent to the page by :class:`Events` as it happens.

The work itself is ``styx.stylize`` and ``styx.train``, the calls of the command line:
a job knows a method only by name. Stopping a job raises KeyboardInterrupt from the run's
callback, which the library treats as Ctrl-C: gatys returns its best image so far, a
training run writes its checkpoint (and can be resumed).

A stylisation whose content is a clip runs a trained model through
:func:`styx.video.pipeline.stylise_clip`, as ``styx run --model M CLIP`` does, in the heavy
lane (a clip takes minutes); :class:`ClipReporter` sends its frames done, frames/s and the
time left, keeps a stylised frame now and then as the live frame, and stops it: before each
batch, once asked, it raises KeyboardInterrupt from the stylising function, which the
pipeline takes as Ctrl-C (the frames done stay, a playable video). Its segments are made in
the store's ``work/ID`` folder, removed when the job ends.

A run's loss curve is written to the store as it comes (:class:`Curve`: every two seconds,
at most :data:`CURVE_POINTS` points), so that a server killed outright leaves it behind;
the time left is reckoned at the pace of the recent steps (:class:`Pace`).
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import queue
import shutil
import threading
import time
import traceback
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from styx.core.errors import StyxError
from styx.studio.forms import method_fields, page_error
from styx.studio.store import (
    CANCELLED,
    DONE,
    FAILED,
    INTERRUPTED,
    QUEUED,
    RUNNING,
    STOPPED,
    Job,
    Store,
)
from styx.studio.uploads import upright, upright_picture

log = logging.getLogger("styx.studio")

HEAVY, LIGHT = "heavy", "light"
#: Frames of a run are sent at most this often (seconds), and about this many in all.
FRAME_INTERVAL = 0.15
FRAMES_PER_RUN = 40
#: Progress without a new frame is sent at most this often (seconds).
PROGRESS_INTERVAL = 0.1
#: A training run's sample output is made at most this often (seconds).
SAMPLE_INTERVAL = 2.0
#: A run's loss curve is written to the store at most this often (seconds), and at its end.
CURVE_INTERVAL = 2.0
#: A loss curve keeps at most this many points: older ones are thinned as it grows.
CURVE_POINTS = 1000
#: The time left is reckoned from the pace of about this many recent reports.
PACE_WINDOW = 20
#: Frames of a clip stylised together (``styx run --batch-size``'s default).
CLIP_BATCH = 4


class Events:
    """Fan-out of job events to every open event stream (one asyncio queue each). Worker
    threads publish; each stream's queue lives on the server's event loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._streams: list[tuple[asyncio.AbstractEventLoop, asyncio.Queue]] = []
        self.closed = False

    def subscribe(self) -> asyncio.Queue:
        stream: asyncio.Queue = asyncio.Queue()
        with self._lock:
            self._streams.append((asyncio.get_running_loop(), stream))
        return stream

    def unsubscribe(self, stream: asyncio.Queue) -> None:
        with self._lock:
            self._streams = [(loop, s) for loop, s in self._streams if s is not stream]

    def publish(self, event: dict[str, Any] | None) -> None:
        """Send ``event`` to every stream (None ends them)."""
        with self._lock:
            streams = list(self._streams)
        for loop, stream in streams:
            try:
                loop.call_soon_threadsafe(stream.put_nowait, event)
            except RuntimeError:  # that loop has closed
                self.unsubscribe(stream)

    def close(self) -> None:
        """End every stream: the server is stopping."""
        self.closed = True
        self.publish(None)


@dataclass
class Live:
    """What the page sees of a job while it runs."""

    progress: dict[str, Any] = field(default_factory=dict)
    frame: bytes | None = None
    frames: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    #: Why it was stopped: ``"user"`` or ``"shutdown"``.
    reason: str = "user"

    @property
    def halted(self) -> str:
        """The state of a job that stopped before the end: stopped by the user, or
        interrupted by the shutdown."""
        return STOPPED if self.reason == "user" else INTERRUPTED


def png_bytes(picture: Any) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def write_png(picture: Any, path: Path) -> None:
    """Save ``picture`` as ``path`` atomically (the CLI's writer)."""
    from styx.files.image_arrays import write_picture

    write_picture(picture, path, "PNG")


class Pace:
    """How fast a run goes now: the seconds per step over its last ``window`` reports. The
    first report gives no pace, since the time before it holds the start (loading the
    model, building the descriptor, a first step that is slower than the rest)."""

    def __init__(self, window: int = PACE_WINDOW) -> None:
        self._reports: deque[tuple[int, float]] = deque(maxlen=max(2, window + 1))

    def report(self, step: int, seconds: float) -> None:
        if self._reports and step <= self._reports[-1][0]:
            self._reports.clear()  # a run that went back (resumed): its pace starts again
        self._reports.append((step, seconds))

    def seconds_left(self, total: int) -> float | None:
        """Seconds to step ``total`` at the recent pace; None before the second report."""
        if len(self._reports) < 2:
            return None
        (first_step, first_seconds), (step, seconds) = self._reports[0], self._reports[-1]
        per_step = max(seconds - first_seconds, 0.0) / (step - first_step)
        return round(per_step * max(total - step, 0), 1)


def step_progress(step: int, total: int, seconds: float, losses: Any,
                  pace: Pace) -> dict[str, Any]:
    """What the page is told of a step: where the run is, and the time left at the pace of
    its recent steps (``eta``: None at the first)."""
    pace.report(step, seconds)
    return {"step": step, "total": total, "seconds": round(seconds, 3),
            "eta": pace.seconds_left(total), "losses": losses}


def thinned(points: list[dict[str, Any]], limit: int = CURVE_POINTS) -> list[dict[str, Any]]:
    """``points`` (a loss curve), at most ``limit`` of them: while there are more, every
    other point of the older half is left out. The first and the last are always kept, and
    the recent part keeps every point."""
    limit = max(limit, 4)
    while len(points) > limit:
        recent = limit // 2
        points = points[:-recent][::2] + points[-recent:]
    return points


class Curve:
    """A job's loss curve as its run reports it, kept bounded (:func:`thinned`) and written
    to the store's ``history`` at most every ``interval`` seconds and by :meth:`save`, so
    that a server killed outright leaves it up to its last few seconds. ``earlier``: the
    curve a resumed run continues (its points from where the run went on are replaced)."""

    def __init__(self, store: Store, job_id: str, earlier: Iterable[dict[str, Any]] = (), *,
                 interval: float = CURVE_INTERVAL, limit: int = CURVE_POINTS) -> None:
        self.store, self.job_id = store, job_id
        self.interval, self.limit = interval, limit
        self.points: list[dict[str, Any]] = list(earlier)
        self._saved_at = float("-inf")
        self._unsaved = False

    def add(self, point: dict[str, Any]) -> None:
        step = point.get("step")
        if self.points and isinstance(step, (int, float)) and _at_or_after(self.points[-1], step):
            self.points = [p for p in self.points if not _at_or_after(p, step)]
        self.points.append(point)
        if len(self.points) > self.limit:
            self.points = thinned(self.points, self.limit)
        self._unsaved = True
        if time.monotonic() - self._saved_at >= self.interval:
            self.save()

    def save(self, points: list[dict[str, Any]] | None = None) -> None:
        """Write the curve now (``points``, the run's own full curve, in its place when
        given, thinned)."""
        if points is not None:
            self.points, self._unsaved = thinned(list(points), self.limit), True
        if self._unsaved:
            self.store.update_job(self.job_id, history=self.points)
            self._unsaved = False
        self._saved_at = time.monotonic()


def _at_or_after(point: dict[str, Any], step: float) -> bool:
    earlier = point.get("step")
    return isinstance(earlier, (int, float)) and earlier >= step


class Runner:
    """The lanes, their workers and the live state of every job they hold."""

    def __init__(self, store: Store, events: Events, *, heavy_workers: int = 1) -> None:
        self.store, self.events = store, events
        self.live: dict[str, Live] = {}
        self._queues = {HEAVY: queue.Queue(), LIGHT: queue.Queue()}
        self._threads: list[threading.Thread] = []
        self._workers = {HEAVY: max(1, int(heavy_workers)), LIGHT: 1}
        self._models: dict[str, tuple[float, Any]] = {}
        self._models_lock = threading.Lock()
        self.preview_lock = threading.Lock()

    # -- the workers -----------------------------------------------------------------------
    def start(self) -> None:
        for lane, count in self._workers.items():
            for number in range(count):
                thread = threading.Thread(target=self._work, args=(lane,), daemon=True,
                                          name=f"styx-studio-{lane}-{number}")
                thread.start()
                self._threads.append(thread)
        _warm_up()

    def shutdown(self, timeout: float = 20.0) -> None:
        """Stop every job (as interrupted, their pictures and checkpoints so far kept),
        wait up to ``timeout`` seconds for the workers, mark what is left interrupted."""
        for live in list(self.live.values()):
            live.reason = "shutdown"
            live.stop.set()
        for lane_queue in self._queues.values():
            for _ in range(len(self._threads)):
                lane_queue.put(None)
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self.store.mark_interrupted()
        self.events.close()

    def _work(self, lane: str) -> None:
        while True:
            job_id = self._queues[lane].get()
            if job_id is None:
                return
            job = self.store.job(job_id)
            if job is None or job.state != QUEUED:
                self.live.pop(job_id, None)
                continue
            live = self.live.setdefault(job_id, Live())
            if live.stop.is_set():
                self._finish(job, CANCELLED if live.reason == "user" else INTERRUPTED)
                continue
            self._run(job, live)

    # -- submitting and stopping -----------------------------------------------------------
    def submit(self, job: Job, lane: str) -> None:
        self.live[job.id] = Live()
        self._announce(job.id)
        self._queues[lane].put(job.id)

    def requeue(self, job: Job, lane: str) -> None:
        self.store.update_job(job.id, state=QUEUED, error=None, finished=None)
        self.submit(self.store.job(job.id), lane)  # type: ignore[arg-type]

    def stop(self, job_id: str) -> bool:
        """Ask job ``job_id`` to stop (a queued one is cancelled); False if not live."""
        job = self.store.job(job_id)
        if job is None or not job.live:
            return False
        live = self.live.setdefault(job_id, Live())
        live.reason = "user"
        live.stop.set()
        if job.state == QUEUED:
            self._finish(job, CANCELLED)
        return True

    def describe(self, job_id: str) -> dict[str, Any] | None:
        job = self.store.job(job_id)
        if job is None:
            return None
        out = job.to_json(has_result=self.store.result_path(job.id).is_file(),
                          has_sample=self.store.sample_path(job.id).is_file(),
                          has_video=self.store.video_path(job.id).is_file())
        live = self.live.get(job_id)
        if live is not None and job.live:
            out.update(progress=live.progress, frames=live.frames)
        return out

    # -- running ---------------------------------------------------------------------------
    def _run(self, job: Job, live: Live) -> None:
        self.store.update_job(job.id, state=RUNNING, started=time.time())
        self._announce(job.id)
        try:
            if job.kind == "train":
                state = self._train(job, live)
            else:
                state = self._stylize(job, live)
        except StyxError as error:
            self._finish(job, FAILED, error=str(page_error(error, _fields_of(job))))
        except KeyboardInterrupt:
            self._finish(job, live.halted)
        except Exception as error:  # noqa: BLE001 - a bug must not kill the worker
            log.error("job %s failed:\n%s", job.id, traceback.format_exc())
            self._finish(job, FAILED, error=f"internal error: {type(error).__name__}: {error}")
        else:
            self._finish(job, live.halted if live.stop.is_set() and state != DONE else state)

    def _finish(self, job: Job, state: str, *, error: str | None = None) -> None:
        values: dict[str, Any] = {"state": state, "finished": time.time()}
        if error is not None:
            values["error"] = error
        self.store.update_job(job.id, **values)
        self._announce(job.id)
        self.live.pop(job.id, None)

    def _announce(self, job_id: str) -> None:
        self.events.publish({"type": "job", "job": self.describe(job_id)})

    def _progress(self, job_id: str, live: Live, **progress: Any) -> None:
        live.progress = progress
        self.events.publish({"type": "progress", "id": job_id, "frames": live.frames,
                             **progress})

    def model(self, name: str) -> Any:
        """The stored model ``name``, loaded once (again when its files change)."""
        import styx
        from styx.files.modelstore import resolve_model

        folder = resolve_model(name)
        stamp = max((p.stat().st_mtime for p in folder.iterdir()), default=0.0)
        with self._models_lock:
            cached = self._models.get(name)
            if cached is None or cached[0] != stamp:
                self._models[name] = (stamp, styx.load_model(folder))
            return self._models[name][1]

    def style_inputs(self, name: str) -> list[Any]:
        """The style images stored model ``name`` takes at run time: its generator's
        declared style inputs (:mod:`styx.core.inputs`); none if it does not load (its run
        says why)."""
        try:
            return list(self.model(name).generator.style_inputs)
        except StyxError:
            return []

    def _stylize(self, job: Job, live: Live) -> str:
        import styx
        from styx.core.method import method_spec

        request = job.request
        if request.get("clip"):
            return self._stylize_clip(job, live)
        content = self.store.image_path(request["content"]) if request.get("content") else None
        styles = [self.store.image_path(i) for i in request.get("styles", [])]
        model = self.model(request["model"]) if request.get("model") else None
        curve = Curve(self.store, job.id)
        try:
            result = styx.stylize(method_spec(job.method).name, content, styles or None,
                                  model=model, callback=FrameReporter(self, job.id, live, curve),
                                  **request.get("options", {}))
        except BaseException:
            curve.save()  # the points so far, whatever ended the run
            raise
        curve.save(result.history or curve.points)
        write_png(result.to_pil(), self.store.result_path(job.id))
        summary = {**result.summary(), "description": result.describe()}
        self.store.update_job(job.id, settings=result.config.to_dict() if result.config else {},
                              summary=summary)
        return live.halted if result.interrupted else DONE

    def _stylize_clip(self, job: Job, live: Live) -> str:
        """Stylise the job's clip with its model (see the module docstring): the video, and
        its first frame as the job's picture; stopped, the frames done so far."""
        import styx
        from styx.core.method import method_spec
        from styx.generators.models import clip_stylist
        from styx.runtime.device import precision_of
        from styx.video.clips import open_clip
        from styx.video.pipeline import ClipSettings, frame_size, stylise_clip

        request = job.request
        clip = open_clip(self.store.clip_path(request["clip"]))
        model = self.model(request["model"])
        config = styx.method_config(method_spec(job.method).name, **request.get("options", {}))
        styles = [self.store.image_path(i) for i in request.get("styles", [])]
        stylise, fingerprint = clip_stylist(model, config, {}, styles)
        long_side = getattr(config, "long_side", None)
        settings = ClipSettings(batch=CLIP_BATCH, long_side=long_side, overwrite=True,
                                temporal=(request.get("video") or {}).get("temporal"))
        work = self.store.work_folder(job.id)
        work.mkdir(parents=True, exist_ok=True)
        reporter = ClipReporter(self, job.id, live, clip.rotation)
        try:
            report = stylise_clip(clip, work / "result.mp4", reporter.watch(stylise),
                                  settings, fingerprint=fingerprint, progress=reporter.progress)
            kept = report.kept if report.interrupted else report.frames
            if kept and (work / "result.mp4").is_file():
                os.replace(work / "result.mp4", self.store.video_path(job.id))
                if reporter.poster is not None:
                    self.store.result_path(job.id).write_bytes(reporter.poster)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        height, width = frame_size(clip, long_side)
        width, height = upright(width, height, clip.rotation)
        precision = precision_of(config)
        summary = {"frames": report.frames, "total": report.total, "kept": kept,
                   "width": width, "height": height, "seconds": round(report.seconds, 3),
                   "fps": round(report.fps, 3), "interrupted": report.interrupted,
                   "device": str(precision.device), "precision": precision.name,
                   "clip": clip.describe(),
                   "description": f"{report.frames} of {report.total} frames in "
                                  f"{report.seconds:.1f} s ({report.fps:.2f} frames/s)"}
        self.store.update_job(job.id, summary=summary,
                              settings={**config.to_dict(), "video": settings.to_dict()})
        return live.halted if report.interrupted else DONE

    def _train(self, job: Job, live: Live) -> str:
        """Train; once the model is saved, its summary, settings and curve are kept, then
        its picture is made (a picture that cannot be made fails nothing)."""
        import styx

        options = dict(job.request["train_options"])
        curve = Curve(self.store, job.id, job.history if options.get("resume") else ())
        sampler = TrainingSampler(self, job.id, live, self.store.sample_path(job.id), curve)
        try:
            trained = styx.train(job.method, callback=sampler, quiet=True, **options)
        except BaseException:
            curve.save()  # the points so far, whatever ended the run
            raise
        curve.save(trained.result.history or curve.points)
        summary = {**trained.summary(), "seconds": round(trained.result.seconds, 3)}
        settings = styx.method_config(job.method, train=True, **options).to_dict()
        self.store.update_job(job.id, summary=summary, settings=settings)
        self._keep_model_picture(job, trained.path, int(options.get("image_size") or 256))
        return DONE

    def _keep_model_picture(self, job: Job, model_path: Path, long_side: int) -> None:
        """The picture of a finished training job: the saved model's output for the bundled
        photo; where the model cannot make one alone (a StyleBank of several styles asks
        which), the run's last sample (the same model, its first style)."""
        import shutil

        import styx

        result, sample = self.store.result_path(job.id), self.store.sample_path(job.id)
        try:
            write_png(styx.load_model(model_path)(_sample_photo(long_side)), result)
        except StyxError as problem:
            log.info("job %s: the sample stands for the model's picture (%s)", job.id, problem)
        except Exception:  # noqa: BLE001 - the model is saved: a picture is no reason to fail
            log.warning("job %s: no picture of the model:\n%s", job.id, traceback.format_exc())
        if not result.is_file() and sample.is_file():
            shutil.copyfile(sample, result)


def _sample_photo(long_side: int) -> Any:
    """The bundled photo as a PIL image of ``long_side``."""
    from PIL import Image

    from styx.files.image_arrays import sample_image

    with Image.open(sample_image("content")) as opened:
        picture = opened.convert("RGB")
    picture.thumbnail((long_side, long_side))
    return picture


def _warm_up() -> None:
    """Import torch and the model loader before the first request (about 2 s here), so
    that neither the first page load nor the first trained model waits for them."""
    try:
        import styx.generators.models
        import styx.runtime.image_tensors  # noqa: F401
    except Exception:
        log.debug("warm-up import failed", exc_info=True)


class FrameReporter:
    """A run's callback: progress after each step, the loss curve (when the step read the
    losses), a frame now and then, and the stop."""

    def __init__(self, runner: Runner, job_id: str, live: Live,
                 curve: Curve | None = None) -> None:
        self.runner, self.job_id, self.live = runner, job_id, live
        self.curve = curve
        self.pace = Pace()
        self.last_frame = self.last_sent = 0.0

    def __call__(self, info: Any) -> None:
        if self.live.stop.is_set():
            raise KeyboardInterrupt
        if self.curve is not None and info.losses is not None:
            scale = {} if getattr(info, "scale", None) is None else {"scale": info.scale}
            self.curve.add({"step": info.step, **scale, **info.losses,
                            "seconds": info.seconds})
        progress = step_progress(info.step, info.total_steps, info.seconds, info.losses,
                                 self.pace)
        now = time.monotonic()
        every = max(1, info.total_steps // FRAMES_PER_RUN)
        if (info.step % every == 0 or info.step == info.total_steps) and \
                now - self.last_frame >= FRAME_INTERVAL:
            from styx.runtime.image_tensors import tensor_to_pil

            self.live.frame = png_bytes(tensor_to_pil(info.image()[:1]))
            self.live.frames += 1
            self.last_frame = now
        elif now - self.last_sent < PROGRESS_INTERVAL and info.step != info.total_steps:
            self.live.progress = progress  # kept for a reload, not sent
            return
        self.last_sent = now
        self.runner._progress(self.job_id, self.live, **progress)


class ClipReporter:
    """A clip run's hooks (see the module docstring). :meth:`watch` wraps the stylising
    function, which runs on the job's thread: the stop, before each batch, and a stylised
    frame now and then as the live frame (the first one is kept: the job's picture).
    :meth:`progress` hears each frame written, from the pipeline's encoding thread."""

    def __init__(self, runner: Runner, job_id: str, live: Live, rotation: int = 0) -> None:
        self.runner, self.job_id, self.live, self.rotation = runner, job_id, live, rotation
        self.started: float | None = None
        self.last_frame = float("-inf")
        self.last_sent = 0.0
        #: The first stylised frame, as PNG.
        self.poster: bytes | None = None

    def watch(self, stylise: Any) -> Any:
        def watched(frames: Any) -> Any:
            if self.live.stop.is_set():
                raise KeyboardInterrupt
            if self.started is None:
                self.started = time.monotonic()
            results = stylise(frames)
            now = time.monotonic()
            if self.poster is None or now - self.last_frame >= FRAME_INTERVAL:
                self.show(results[0])
                self.last_frame = now
            return results
        return watched

    def show(self, result: Any) -> None:
        """``result`` (3 x H x W in [0, 1]) as the live frame, upright."""
        import numpy as np

        frame = np.rint(np.clip(result, 0.0, 1.0) * 255).astype(np.uint8).transpose(1, 2, 0)
        picture = png_bytes(upright_picture(np.ascontiguousarray(frame), self.rotation))
        if self.poster is None:
            self.poster = picture
        self.live.frame = picture
        self.live.frames += 1

    def progress(self, done: int, total: int) -> None:
        """Frames ``done`` of ``total``: sent at most every :data:`PROGRESS_INTERVAL`
        seconds (the last always), with the frames per second since the first batch and the
        time left at that pace."""
        now = time.monotonic()
        seconds = now - (self.started if self.started is not None else now)
        fps = done / seconds if seconds > 0 else None
        progress = {"unit": "frame", "step": done, "total": total,
                    "seconds": round(seconds, 3), "losses": None,
                    "fps": None if fps is None else round(fps, 3),
                    "eta": None if not fps else round((total - done) / fps, 1)}
        if done != total and now - self.last_sent < PROGRESS_INTERVAL:
            self.live.progress = progress  # kept for a reload, not sent
            return
        self.last_sent = now
        self.runner._progress(self.job_id, self.live, **progress)


class TrainingSampler:
    """A training run's callback: the losses at each log step (into ``curve``, written to
    the store as they come), a sample every few seconds, and the stop."""

    def __init__(self, runner: Runner, job_id: str, live: Live, path: Path,
                 curve: Curve | None = None, interval: float = SAMPLE_INTERVAL) -> None:
        self.runner, self.job_id, self.live, self.path = runner, job_id, live, path
        self.curve = curve if curve is not None else Curve(runner.store, job_id)
        self.interval = interval
        self.pace = Pace()
        self.last_sample = float("-inf")
        self._photo: Any = None

    @property
    def history(self) -> list[dict[str, Any]]:
        return self.curve.points

    def __call__(self, step: Any) -> None:
        self.curve.add({"step": step.step, **(step.losses or {})})
        now = time.monotonic()
        if now - self.last_sample >= self.interval or step.step == step.total_steps:
            self.save_sample(step)
            self.last_sample = now
        self.runner._progress(self.job_id, self.live, **step_progress(
            step.step, step.total_steps, step.seconds, step.losses, self.pace))
        if self.live.stop.is_set():
            raise KeyboardInterrupt

    def save_sample(self, step: Any) -> None:
        from styx.files.image_arrays import sample_image
        from styx.runtime.image_tensors import image_input, tensor_to_pil

        if self._photo is None:
            self._photo = image_input(sample_image("content"), long_side=192).rgb
        try:
            out = step.image(self._photo, size=tuple(self._photo.shape[-2:]))
        except StyxError:
            return
        write_png(tensor_to_pil(out), self.path)
        self.live.frames += 1


def _fields_of(job: Job) -> list[dict[str, Any]]:
    """The form fields of ``job``'s method (whose flags its errors may name); none if the
    method is gone."""
    try:
        return method_fields(job.method, training=job.kind == "train")
    except StyxError:
        return []


def lane_of(spec: Any, kind: str) -> str:
    """The lane of a job of ``kind`` for the method ``spec``."""
    return LIGHT if kind == "stylize" and spec.feed_forward else HEAVY


__all__ = ["HEAVY", "LIGHT", "ClipReporter", "Curve", "Events", "FrameReporter", "Live", "Pace", "Runner",
           "TrainingSampler", "lane_of", "step_progress", "thinned"]
