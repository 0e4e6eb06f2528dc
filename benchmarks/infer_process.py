"""Where the wall time of one ``styx infer MODEL.onnx PHOTO -o OUT`` process goes.

Prints one JSON document. Each run is a fresh process (``--phase run``) that calls styx's
``main`` with styx's own functions wrapped in timers: ``start`` (the interpreter, until this
script runs), ``imports`` (every import, wherever it is made), ``metadata``, ``session``
(the onnxruntime session), ``footprint`` (the memory check), ``decode``, ``inputs`` (the
noise drawn), ``run`` (the network), ``encode``, ``cli`` (the rest: the typer app,
checks), ``exit`` (the interpreter's shutdown) and ``total``: wall and CPU seconds, and
the peak resident set. The first run has an empty ``$STYX_HOME`` (no caches); the
``--repeat`` after it share one (the median of each phase). On a busy machine the CPU
seconds say more than the wall seconds.

Usage: ``python benchmarks/infer_process.py [MODEL.onnx] [--photo PHOTO] [--size 1024x768]
[--repeat 5] [--args "--style 0"]``; with no model, default texture-nets and StyleBank
generators (random weights) are exported fresh.
"""

from __future__ import annotations

import argparse
import builtins
import functools
import importlib
import json
import os
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: phase -> (module, attribute) of the function whose calls it times (nested phases and
#: imports are taken out of the phase they happen in).
PHASES = {"metadata": ("styx.inference.onnxfile", "metadata_of"),
          "session": ("styx.inference.onnxfile", "OnnxGenerator.open"),
          "footprint": ("styx.cli.infer", "memory_check"),
          "decode": ("styx.inference.batch", "load_photo"),
          "inputs": ("styx.inference.onnxfile", "fill_inputs"),
          "run": ("styx.inference.onnxfile", "OnnxGenerator.run"),
          "encode": ("styx.files.image_arrays", "write_image")}


# -- the child: one styx infer, timed ------------------------------------------------------------
class Clock:
    """Wall and CPU seconds by phase: the innermost phase running gets the time."""

    def __init__(self) -> None:
        self.spent = {name: [0.0, 0.0] for name in ("imports", *PHASES, "cli")}
        self.stack, self.mark = ["cli"], (time.perf_counter(), time.process_time())

    def switch(self, phase: str | None) -> None:
        """Enter ``phase``, or (None) leave the innermost one."""
        now = (time.perf_counter(), time.process_time())
        spent = self.spent[self.stack[-1]]
        spent[0], spent[1] = spent[0] + now[0] - self.mark[0], spent[1] + now[1] - self.mark[1]
        self.mark = now
        self.stack.append(phase) if phase else self.stack.pop()

    def timed(self, phase: str, function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            if self.stack[-1] == phase:  # an import inside an import
                return function(*args, **kwargs)
            self.switch(phase)
            try:
                return function(*args, **kwargs)
            finally:
                self.switch(None)
        return wrapper


def run_child(args: list[str], started: float) -> dict:
    """``styx infer ARGS`` in this process, phase by phase (``started``: when the parent
    started this process, by the clock)."""
    start = [time.time() - started, time.process_time()]
    clock = Clock()
    builtins.__import__ = clock.timed("imports", builtins.__import__)
    importlib.import_module = clock.timed("imports", importlib.import_module)
    for phase, (module, attribute) in PHASES.items():
        *outer, name = attribute.split(".")
        holder = importlib.import_module(module)
        holder = getattr(holder, outer[0]) if outer else holder
        function = getattr(holder, name, None)
        if function is None:  # an older styx
            continue
        wrapped = clock.timed(phase, getattr(function, "__func__", function))
        setattr(holder, name, classmethod(wrapped) if hasattr(function, "__func__") else wrapped)
    from styx.cli.app import main

    try:
        main(["infer", *args, "--quiet"])
    except SystemExit as stop:
        if stop.code:
            raise
    clock.switch(None)
    return {"start": start, **clock.spent, "ended": time.time(),
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


# -- the parent ----------------------------------------------------------------------------------
def one_run(args: list[str], home: Path) -> dict:
    """A child's phases, with its ``exit`` (the interpreter's shutdown) and ``total``."""
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.time()
    done = subprocess.run([sys.executable, __file__, "--phase", json.dumps([args, started])],
                          capture_output=True, text=True, check=False,
                          env={**os.environ, "STYX_HOME": str(home), "NO_COLOR": "1"})
    finished, after = time.time(), resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        raise SystemExit(f"styx infer {shlex.join(args)} failed:\n{done.stderr[-2000:]}")
    phases = json.loads(done.stdout.strip().splitlines()[-1])
    total = [finished - started, after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime]
    counted = sum(v[1] for v in phases.values() if isinstance(v, list))
    phases["exit"] = [finished - phases.pop("ended"), total[1] - counted]
    return {**phases, "total": total}


def measure(model: Path, photo: Path, extra: list[str], repeat: int, work: Path) -> dict:
    """The first run (empty caches) and the median of ``repeat`` runs after it."""
    args = [str(model), str(photo), "-o", str(work / "out.png"), *extra]
    home = Path(tempfile.mkdtemp(dir=work, prefix="home-"))
    first = one_run(args, home)
    runs = [one_run(args, home) for _ in range(repeat)]
    median = {k: [statistics.median(r[k][i] for r in runs) for i in (0, 1)]
              for k in first if k != "peak_rss_mib"}
    median["peak_rss_mib"] = statistics.median(r["peak_rss_mib"] for r in runs)
    return {"first": table(first), "cached": table(median)}


def table(values: dict) -> dict:
    phases = [k for k in values if k != "peak_rss_mib"]
    return {"wall_s": {k: round(values[k][0], 3) for k in phases},
            "cpu_s": {k: round(values[k][1], 3) for k in phases},
            "peak_rss_mib": round(values["peak_rss_mib"], 1)}


def default_models(work: Path) -> dict[str, tuple[Path, list[str]]]:
    """Default texture-nets and StyleBank generators, random weights, exported to ONNX."""
    import torch

    import styx
    from styx.files.modelstore import save_model
    from styx.plugins.methods.stylebank.network import NetworkConfig, StyleBankNetwork
    from styx.plugins.methods.texture_nets.generator import TextureNetwork

    torch.manual_seed(0)
    made = {}
    for method, network, extra in (("texture-nets", TextureNetwork(), []),
                                   ("stylebank", StyleBankNetwork(NetworkConfig(num_styles=2)),
                                    ["--style", "0"])):
        styles = [{"name": f"s{i}"} for i in range(2 if extra else 1)]
        folder = save_model(network, {"method": method, "architecture": network.architecture(),
                                      "styles": styles}, path=work / method)
        made[method] = (styx.export(folder, "onnx", work / f"{method}.onnx"), extra)
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", type=Path)
    parser.add_argument("--photo", type=Path, help="default: the sample photo at --size")
    parser.add_argument("--size", default="1024x768")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--args", default="", help="more styx infer options, one string")
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    options, _ = parser.parse_known_args()  # nox -s bench passes its own arguments
    if options.phase:
        print(json.dumps(run_child(*json.loads(options.phase))))
        return
    from PIL import Image

    from styx.files.image_arrays import sample_image

    with tempfile.TemporaryDirectory() as tmp:
        work, photo = Path(tmp), options.photo
        if photo is None:
            width, _, height = options.size.partition("x")
            photo = work / "photo.jpg"
            Image.open(sample_image("content")).convert("RGB").resize(
                (int(width), int(height or width))).save(photo, quality=92)
        models = {options.model.name: (options.model, [])} if options.model else \
            default_models(work)
        results = {name: measure(path, photo, [*extra, *shlex.split(options.args)],
                                 options.repeat, work) for name, (path, extra) in models.items()}
    print(json.dumps({"benchmark": "infer_process", "photo": str(options.photo or options.size),
                      "cpu_count": os.cpu_count(), "repeat": options.repeat,
                      "models": results}, indent=1))


if __name__ == "__main__":
    main()
