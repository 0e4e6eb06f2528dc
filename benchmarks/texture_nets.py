"""Texture Networks: training throughput, inference latency and peak memory.

Prints one JSON document:

* ``training``: images/s of the shared training loop (``styx.train("texture-nets")``) at
  256 px, batch 4 (VGG19 with random weights, the default layers; the first iteration is a
  warm-up and not counted);
* ``inference``: latency of one forward pass of the default generator at 512 and 1024 px
  (median of several runs);
* peak memory of each measurement: on CUDA ``torch.cuda.max_memory_allocated``; on the CPU
  the growth of the process's peak resident set (``ru_maxrss``) over the measurement,
  each measurement in a fresh process so earlier peaks do not hide later ones.

Usage: ``python benchmarks/texture_nets.py [--device cpu|cuda] [--iterations N]
[--repeat N] [--threads N] [--sizes 512,1024]``. Unknown arguments are ignored (nox passes
its own).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _maxrss_mib() -> float:
    """Peak resident set of this process so far, MiB (ru_maxrss is KiB on Linux)."""
    scale = 1 / 1024 / 1024 if sys.platform == "darwin" else 1 / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def _write_images(folder: Path, count: int = 4, size: int = 320) -> None:
    import torch

    from styx.core.image import save_image

    generator = torch.Generator().manual_seed(0)
    for i in range(count):
        save_image(torch.rand(1, 3, size, size, generator=generator), folder / f"c{i}.png")


def measure_training(args: argparse.Namespace) -> dict:
    """Images/s of ``styx.train("texture-nets", ...)`` at 256 px, batch 4, random VGG19
    weights."""
    import torch

    import styx

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ["STYX_HOME"] = str(root / "home")
        _write_images(root / "content")
        _write_images(root / "style", count=1)
        cuda = torch.device(args.device).type == "cuda" if args.device != "auto" else \
            torch.cuda.is_available()
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        before = _maxrss_mib()
        trained = styx.train("texture-nets", style=root / "style" / "c0.png",
                             content_dir=root / "content", output=root / "model",
                             run_dir=root / "run", weights="random",
                             iterations=args.iterations + 1, batch_size=4, image_size=256,
                             checkpoint_every=0, log_every=1, quiet=True, device=args.device,
                             amp=args.amp)
        rates = [h["images_per_second"] for h in trained.result.history[1:]]
        out = {"image_size": 256, "batch_size": 4, "iterations_timed": len(rates),
               "images_per_second": round(statistics.median(rates), 3),
               "seconds_per_iteration": round(4 / statistics.median(rates), 3),
               "descriptor": "vgg19 (random weights), relu4_2 + relu1_1..relu5_1"}
        if cuda:
            out["peak_cuda_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
        out["peak_rss_growth_mib"] = round(_maxrss_mib() - before, 1)
        return out


def measure_inference(args: argparse.Namespace, size: int) -> dict:
    """Latency of one forward pass of the default generator at ``size`` x ``size``."""
    import torch

    from styx.core.device import resolve_device
    from styx.plugins.methods.texture_nets.config import GeneratorConfig
    from styx.plugins.methods.texture_nets.generator import TextureNetwork

    device = resolve_device(args.device)
    torch.manual_seed(0)
    network = TextureNetwork(GeneratorConfig()).to(device).eval()
    content = torch.rand(1, 3, size, size, device=device)
    noise = network.make_noise(1, size, size, device=device)

    def once() -> float:
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        with torch.no_grad():
            network(content, noise)
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    before = _maxrss_mib()
    once()  # warm-up
    times = [once() for _ in range(args.repeat)]
    out = {"size": size, "median_ms": round(statistics.median(times) * 1000, 2),
           "min_ms": round(min(times) * 1000, 2), "runs": len(times)}
    if device.type == "cuda":
        out["peak_cuda_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    out["peak_rss_growth_mib"] = round(_maxrss_mib() - before, 1)
    return out


def run_phase(args: argparse.Namespace) -> dict:
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.phase == "training":
        return measure_training(args)
    return measure_inference(args, int(args.phase.split(":")[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--amp", default="auto")
    parser.add_argument("--iterations", type=int, default=3,
                        help="timed training iterations (after one warm-up)")
    parser.add_argument("--repeat", type=int, default=5, help="timed inference runs")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--sizes", default="512,1024")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    args, _unknown = parser.parse_known_args()

    if args.phase:  # a child process: one measurement
        print(json.dumps(run_phase(args)))
        return

    import torch

    phases = ["training"] + [f"inference:{int(s)}" for s in args.sizes.split(",") if s]
    results: dict = {"method": "texture-nets", "device": args.device,
                     "torch": torch.__version__, "machine": platform.machine(),
                     "cpu_count": os.cpu_count(),
                     "threads": args.threads or torch.get_num_threads(),
                     "generator": "default: 6 scales, 8 channels/scale, 3 noise channels, "
                                  "circular padding, instance norm"}
    if args.device.startswith("cuda") and torch.cuda.is_available():
        results["gpu"] = torch.cuda.get_device_name()
    own = [a for a in sys.argv[1:] if not a.startswith("--phase")]
    for phase in phases:
        done = subprocess.run([sys.executable, __file__, *own, "--phase", phase],
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            results[phase] = {"error": done.stderr.strip().splitlines()[-1:]}
            continue
        value = json.loads(done.stdout.strip().splitlines()[-1])
        if phase == "training":
            results["training"] = value
        else:
            results.setdefault("inference", []).append(value)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
