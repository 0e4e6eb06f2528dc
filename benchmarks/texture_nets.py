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
import statistics

import _common


def measure_training(args: argparse.Namespace) -> dict:
    """Images/s of ``styx.train("texture-nets", ...)`` at 256 px, batch 4, random VGG19
    weights."""
    trained, peak = _common.train_method("texture-nets", args, iterations=args.iterations + 1,
                                         amp=args.amp)
    rates = [h["images_per_second"] for h in trained.result.history[1:]]
    return {"image_size": 256, "batch_size": 4, "iterations_timed": len(rates),
            "images_per_second": round(statistics.median(rates), 3),
            "seconds_per_iteration": round(4 / statistics.median(rates), 3),
            "descriptor": "vgg19 (random weights), relu4_2 + relu1_1..relu5_1", **peak}


def measure_inference(args: argparse.Namespace, size: int) -> dict:
    """Latency of one forward pass of the default generator at ``size`` x ``size``."""
    import torch

    from styx.plugins.methods.texture_nets.config import GeneratorConfig
    from styx.plugins.methods.texture_nets.generator import TextureNetwork
    from styx.runtime.device import resolve_device

    device = resolve_device(args.device)
    torch.manual_seed(0)
    network = TextureNetwork(GeneratorConfig()).to(device).eval()
    content = torch.rand(1, 3, size, size, device=device)
    noise = network.make_noise(1, size, size, device=device)

    def forward() -> None:
        with torch.no_grad():
            network(content, noise)

    with _common.peak_memory(args.device) as peak:
        times = _common.time_calls(forward, repeat=args.repeat, cuda=device.type == "cuda")
    return {"size": size, "median_ms": round(statistics.median(times) * 1000, 2),
            "min_ms": round(min(times) * 1000, 2), "runs": len(times), **peak}


def run_phase(args: argparse.Namespace) -> dict:
    if args.phase == "training":
        return measure_training(args)
    return measure_inference(args, int(args.phase.split(":")[1]))


def main() -> None:
    parser = _common.parser(__doc__)
    parser.add_argument("--amp", default="auto")
    parser.add_argument("--iterations", type=int, default=3,
                        help="timed training iterations (after one warm-up)")
    parser.add_argument("--repeat", type=int, default=5, help="timed inference runs")
    parser.add_argument("--sizes", default="512,1024")
    args = _common.parse_args(parser)
    if _common.child(args, run_phase):  # a child process: one measurement
        return

    phases = ["training"] + [f"inference:{int(s)}" for s in args.sizes.split(",") if s]
    results = _common.machine(args, method="texture-nets",
                              generator="default: 6 scales, 8 channels/scale, 3 noise "
                                        "channels, circular padding, instance norm")
    for phase in phases:
        value = _common.run_phase_process(__file__, phase)
        if _common.failed(value):
            results[phase] = value
        elif phase == "training":
            results["training"] = value
        else:
            results.setdefault("inference", []).append(value)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
