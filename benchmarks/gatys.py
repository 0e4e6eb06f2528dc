"""Gatys image optimisation: seconds per step against the descriptor's floor, peak memory,
and the time to reach a fixed loss with and without coarse-to-fine.

Prints one JSON document:

* ``per_step``: for each size (long side; default 256 and 512 px), the median seconds per
  optimiser step of ``styx.stylize("gatys", ...)`` (L-BFGS, VGG19, default layers, Gram +
  content + TV loss, best-image tracking, the loss read back every step) and of the
  *floor*: a bare forward + backward of the same trimmed descriptor (the one
  ``build_objective`` makes from the same ``GatysConfig``) at the same size, memory format
  and precision, tapping the same layers with a trivial loss (so everything styx adds on top,
  losses, Gram matrices, optimiser, bookkeeping, is the difference). ``ratio`` = styx /
  floor; the target is <= 1.05. The floor is measured before and after styx and averaged.
  Each measurement runs in its own process, so ``peak_rss_mb`` (and ``cuda_peak_mb`` on a
  GPU) is that measurement's peak.
* ``paired``: the same two steps measured in one process, in ``--rounds`` alternating rounds
  of ``--steps`` steps each (the run's own objective and descriptor, its L-BFGS step with
  best-image tracking and the loss read every step, against the bare forward + backward):
  ``ratio`` is the median of the rounds' ratios. On a shared machine this is the steadier
  number; ``per_step`` also gives peak memory.
* ``time_to_loss``: at ``--target-size`` px, the target loss is what a single-scale run
  reaches after ``--target-steps`` steps; reported are the wall seconds (setup included)
  of a single-scale run and of a coarse-to-fine run (half size first for
  ``--coarse-steps``, then the full size) until the loss at the full size is at or below
  that target.

Weights are random (He-normal, seeded) unless ``--weights`` says otherwise, so nothing is
downloaded; speed does not depend on the weights' values. Usage:
``python benchmarks/gatys.py [--sizes 256,512] [--steps 5] [--amp off] [--device auto]``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

import _common


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="256,512", help="long sides for the per-step timing")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per measurement")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    parser.add_argument("--rounds", type=int, default=5,
                        help="alternating rounds of the paired measurement")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--amp", default="auto", help="auto, bf16, fp16 or off")
    parser.add_argument("--weights", default="random")
    parser.add_argument("--target-size", type=int, default=256)
    parser.add_argument("--target-steps", type=int, default=100)
    parser.add_argument("--coarse-steps", type=int, default=100)
    parser.add_argument("--max-steps", type=int, default=400,
                        help="give up on the target after this many full-size steps")
    parser.add_argument("--skip-time-to-loss", action="store_true")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--target", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--scales", help=argparse.SUPPRESS)
    # nox passes its posargs to every benchmark: ignore what is not ours.
    options, _ = parser.parse_known_args(argv)
    return options


# -- workers (each in a fresh process) ---------------------------------------------------------
def _peak_memory(device) -> dict:
    import torch

    out = {"peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    if device.type == "cuda":
        out["cuda_peak_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    return out


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def worker_floor(options: argparse.Namespace) -> dict:
    """A bare forward + backward of the descriptor styx builds, with a trivial loss.

    The descriptor is the run's own: built by ``build_objective`` from the same
    :class:`GatysConfig` (so trimmed to the deepest layer in use, zero-weight terms
    dropped), in the same memory format, tapped at the objective's layers under the same
    autocast, as ``GatysRun.build_objective`` does."""
    import torch

    from styx.perceptual.objective import build_objective
    from styx.plugins.methods.gatys.config import GatysConfig
    from styx.runtime.device import autocast, resolve_device

    config = GatysConfig(weights=options.weights, device=options.device, amp=options.amp)
    device = resolve_device(config.device)
    objective = build_objective(config, seed=config.seed, device=device)
    descriptor = objective.descriptor
    if config.channels_last:
        descriptor.to(memory_format=torch.channels_last)
    layers = list(objective.layers)  # content layers, then style layers, each tapped once
    content, _ = _common.sample_images(options.size)
    image = content.to(device).requires_grad_(True)
    times = []
    for step in range(options.warmup + options.steps):
        _sync(device)
        start = time.perf_counter()
        image.grad = None
        x = image.contiguous(memory_format=torch.channels_last) if config.channels_last \
            else image
        with autocast(device, config.amp):
            features = descriptor(x, layers)
        loss = sum(f.float().mean() for f in features.values())
        loss.backward()
        _sync(device)
        if step >= options.warmup:
            times.append(time.perf_counter() - start)
    return {"seconds_per_step": statistics.median(times), "times": times,
            **_peak_memory(device)}


def worker_styx(options: argparse.Namespace) -> dict:
    """``styx.stylize("gatys", ...)`` itself; a step's time is the interval between two
    step callbacks."""
    import styx
    from styx.runtime.device import resolve_device

    device = resolve_device(options.device)
    content, style = _common.sample_images(options.size)
    stamps: list[float] = []

    def callback(info) -> None:
        _sync(device)
        stamps.append(time.perf_counter())

    styx.stylize("gatys", content, style, weights=options.weights, device=options.device,
                 amp=options.amp, steps=options.warmup + options.steps + 1, callback=callback)
    intervals = [b - a for a, b in itertools.pairwise(stamps)][options.warmup:]
    return {"seconds_per_step": statistics.median(intervals), "times": intervals,
            **_peak_memory(device)}


def worker_to_target(options: argparse.Namespace) -> dict:
    """Seconds until the full-size loss reaches ``--target`` (or ``--target`` is None:
    the loss after ``--target-steps`` single-scale steps)."""
    import styx

    started = time.perf_counter()
    content, style = _common.sample_images(options.size)
    scales = [int(s) for s in options.scales.split(",")] if options.scales else [options.size]
    reached: dict = {}

    def callback(info) -> None:
        if info.scale != scales[-1] or info.losses is None:
            return
        if options.target is not None and info.losses["total"] <= options.target:
            reached.update(step=info.step, seconds=time.perf_counter() - started)
            raise KeyboardInterrupt  # stop: the target is reached

    if options.target is None:
        steps = options.target_steps
    else:
        steps = [options.coarse_steps] * (len(scales) - 1) + [options.max_steps]
    result = styx.stylize("gatys", content, style, weights=options.weights,
                          device=options.device, amp=options.amp, scales=scales, steps=steps,
                          callback=callback)
    final = [h["total"] for h in result.history if h["scale"] == scales[-1]]
    return {"scales": scales, "steps": result.steps, "final_loss": final[-1],
            "reached": bool(reached) or options.target is None,
            "seconds": reached.get("seconds", time.perf_counter() - started)}


def worker_paired(options: argparse.Namespace) -> dict:
    """Styx's step and the floor in one process, in alternating rounds of ``--steps`` steps:
    a busy machine slows both alike, so the ratio of each round is steadier than that of
    measurements in separate processes minutes apart."""
    import torch

    from styx.plugins.methods.gatys.config import GatysConfig
    from styx.plugins.methods.gatys.optimize import optimize_scale
    from styx.runtime.device import autocast

    content, style = _common.sample_images(options.size)
    config = GatysConfig(weights=options.weights, device=options.device, amp=options.amp)
    run = _common.gatys_run(config, content, [style])
    init = run.first_init(run.content).to(run.device)
    descriptor, layers, device = run.objective.descriptor, run.objective.layers, run.device

    def floor_times(steps: int) -> list[float]:
        image = init.clone().requires_grad_(True)
        times = []
        for _ in range(steps):
            start = time.perf_counter()
            image.grad = None
            x = image.contiguous(memory_format=torch.channels_last) \
                if config.channels_last else image
            with autocast(device, config.amp):
                features = descriptor(x, layers)
            sum(f.float().mean() for f in features.values()).backward()
            _sync(device)
            times.append(time.perf_counter() - start)
        return times

    def styx_times(steps: int) -> list[float]:
        stamps = [time.perf_counter()]

        def on_step(*_: object) -> None:
            _sync(device)
            stamps.append(time.perf_counter())

        optimize_scale(run.loss_fn, init, optimizer=config.optimizer, steps=steps,
                       lr=config.learning_rate, lbfgs_history=config.lbfgs_history,
                       read_every=1, on_step=on_step, scaler=run.scaler)
        return [b - a for a, b in itertools.pairwise(stamps)]

    floor_times(options.warmup)
    styx_times(options.warmup)
    rounds = []
    for _ in range(options.rounds):
        floor = statistics.median(floor_times(options.steps))
        styx = statistics.median(styx_times(options.steps))
        rounds.append({"styx": styx, "floor": floor, "ratio": styx / floor})
    return {"rounds": rounds, **_peak_memory(device)}


WORKERS = {"floor": worker_floor, "styx": worker_styx, "to_target": worker_to_target,
           "paired": worker_paired}


# -- the parent --------------------------------------------------------------------------------
def run_worker(name: str, options: argparse.Namespace, **extra) -> dict:
    argv = [sys.executable, __file__, "--worker", name, "--steps", str(options.steps),
            "--warmup", str(options.warmup), "--device", options.device, "--amp", options.amp,
            "--weights", options.weights, "--target-steps", str(options.target_steps),
            "--coarse-steps", str(options.coarse_steps), "--max-steps", str(options.max_steps),
            "--rounds", str(options.rounds)]
    for key, value in extra.items():
        if value is not None:
            argv += [f"--{key.replace('_', '-')}", str(value)]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"benchmark worker {name} {extra} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def per_step(options: argparse.Namespace, size: int) -> dict:
    floor_before = run_worker("floor", options, size=size)
    styx = run_worker("styx", options, size=size)
    floor_after = run_worker("floor", options, size=size)
    floor = (floor_before["seconds_per_step"] + floor_after["seconds_per_step"]) / 2
    return {
        "size": size,
        "styx_s_per_step": round(styx["seconds_per_step"], 4),
        "floor_s_per_step": round(floor, 4),
        "floor_before_after_s": [round(floor_before["seconds_per_step"], 4),
                                 round(floor_after["seconds_per_step"], 4)],
        "ratio": round(styx["seconds_per_step"] / floor, 3),
        "styx_peak_rss_mb": styx["peak_rss_mb"],
        "floor_peak_rss_mb": max(floor_before["peak_rss_mb"], floor_after["peak_rss_mb"]),
        **({"styx_cuda_peak_mb": styx["cuda_peak_mb"],
            "floor_cuda_peak_mb": floor_before["cuda_peak_mb"]}
           if "cuda_peak_mb" in styx else {}),
    }


def paired(options: argparse.Namespace, size: int) -> dict:
    result = run_worker("paired", options, size=size)
    ratios = [r["ratio"] for r in result["rounds"]]
    return {"size": size, "rounds": len(ratios),
            "styx_s_per_step": round(statistics.median(r["styx"] for r in result["rounds"]), 4),
            "floor_s_per_step": round(statistics.median(r["floor"] for r in result["rounds"]),
                                      4),
            "ratio": round(statistics.median(ratios), 3),
            "round_ratios": [round(r, 3) for r in ratios]}


def time_to_loss(options: argparse.Namespace) -> dict:
    size = options.target_size
    reference = run_worker("to_target", options, size=size)
    target = reference["final_loss"]
    single = run_worker("to_target", options, size=size, target=target)
    coarse = run_worker("to_target", options, size=size, target=target,
                        scales=f"{size // 2},{size}")
    return {"size": size, "target_loss": target,
            "target_defined_by": f"single-scale loss after {options.target_steps} steps",
            "single_scale": single,
            "coarse_to_fine": {**coarse, "coarse_steps": options.coarse_steps},
            "speedup": round(single["seconds"] / coarse["seconds"], 3)
            if coarse["reached"] and single["reached"] else None}


def main() -> None:
    options = parse_args()
    if options.worker:
        print(json.dumps(WORKERS[options.worker](options)))
        return
    import torch

    from styx.runtime.device import choose_precision, resolve_device

    device = resolve_device(options.device)
    sizes = [int(s) for s in options.sizes.split(",") if s.strip()]
    started = time.perf_counter()
    report = {
        "benchmark": "gatys",
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda"
        else platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "cpus": os.cpu_count(),
        "torch": torch.__version__,
        "descriptor": "vgg19",
        "weights": options.weights,
        "amp": choose_precision(device, options.amp).name if
        choose_precision(device, options.amp).dtype else "off",
        "optimizer": "lbfgs",
        "timed_steps": options.steps,
        "per_step": [per_step(options, size) for size in sizes],
        "paired": [paired(options, size) for size in sizes],
    }
    if not options.skip_time_to_loss:
        report["time_to_loss"] = time_to_loss(options)
    report["benchmark_seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
