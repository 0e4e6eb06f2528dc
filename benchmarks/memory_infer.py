"""``styx infer``'s memory estimate against the memory it really takes.

For a texture-nets file (the default architecture, random weights: memory does not depend
on training) and each case (a photo's size, tiled or not, a batch), ``styx infer --json``
runs in a fresh process that first imports what the command imports and notes its resident
memory; the measured peak is the process's peak resident memory (``VmHWM``) less that. The
estimate is the one the command printed in its ``"memory"`` (what it checked before
decoding). Prints one JSON document: the machine (``lscpu``'s model name), each case's
``estimate_bytes``, ``measured_peak_bytes``, ``ratio`` (estimate over measured; the aim is
0.75-1.25) and seconds, and ``memory_pattern``: onnxruntime's CPU memory pattern on and off
(peak and seconds of three runs of one size), the reason ``styx infer`` turns it off.

A case whose estimate does not fit in what this machine has free (less a quarter) is not
run, and says so. Each case prints one line to stderr as it ends.

Usage: ``python benchmarks/memory_infer.py [--cases 1024,2048,4096,4096-tile-1024,...]
[--threads N]``. Case names: ``SIZE`` (a square photo), ``SIZE-tile-T``, ``SIZE-batch-N``
(N photos of one size in one run), ``SIZE-from-S`` (an S px photo with ``--long-side SIZE``).
Unknown arguments are ignored (nox passes its own).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import lscpu_model, resident

CASES = "1024,2048,3072,4096,4096-tile-1024,1024-batch-3,2048-from-4096"


# -- the parent ------------------------------------------------------------------------------
def prepare(work: Path) -> Path:
    """A default-architecture texture-nets model exported to ONNX in ``work``."""
    import torch

    import styx
    from styx.files.modelstore import save_model
    from styx.plugins.methods.texture_nets.generator import TextureNetwork

    torch.manual_seed(0)
    network = TextureNetwork()
    folder = save_model(network, {"method": "texture-nets",
                                  "architecture": network.architecture(),
                                  "styles": [{"name": "a"}]}, path=work / "texture-nets")
    return styx.export(folder, "onnx", work / "texture-nets.onnx")


def photo(work: Path, size: int) -> Path:
    """The sample photo resized to ``size`` x ``size``, as a JPEG in ``work``."""
    from PIL import Image

    from styx.files.image_arrays import sample_image

    path = work / f"photo-{size}.jpg"
    if not path.exists():
        Image.open(sample_image("content")).convert("RGB").resize((size, size)).save(
            path, quality=92)
    return path


def arguments(case: str, work: Path) -> list[str]:
    """``styx infer``'s photos and options for ``case`` (see the module docstring)."""
    size, _, rest = case.partition("-")
    kind, _, value = rest.partition("-")
    if kind == "from":
        return [str(photo(work, int(value))), "--long-side", size]
    if kind == "batch":
        folder = work / f"batch-{size}-{value}"
        folder.mkdir(exist_ok=True)
        for index in range(int(value)):
            target = folder / f"p{index}.jpg"
            if not target.exists():
                target.write_bytes(photo(work, int(size)).read_bytes())
        return [str(folder), "--batch-size", value]
    tiling = ["--tile", value] if kind == "tile" else []
    return [str(photo(work, int(size))), *tiling]


def run_case(case: str, model: Path, work: Path, threads: int) -> dict:
    """``case`` in a fresh process (this script's ``--phase case``); its JSON line."""
    out = work / f"out-{case}"
    command = [sys.executable, __file__, "--phase", "case", "--", str(model),
               *arguments(case, work), "--output-dir", str(out), "--overwrite", "--json",
               *(["--threads", str(threads)] if threads else [])]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [""])[-1]
        return {"case": case, "error": last or f"killed (exit {done.returncode})"}
    return {"case": case, **json.loads(done.stdout.strip().splitlines()[-1])}


def dry_estimate(case: str, model: Path, work: Path) -> int | None:
    """The estimate ``styx infer --dry-run`` gives for ``case`` (None when it refuses)."""
    done = subprocess.run([sys.executable, "-m", "styx", "infer", str(model),
                           *arguments(case, work), "--output-dir", str(work / "dry"),
                           "--dry-run", "--json"], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return None
    return max(need["estimate_bytes"] for need in json.loads(done.stdout)["memory"])


def pattern_runs(model: Path, pattern: bool, size: int, threads: int) -> dict:
    """Three runs of one size in a fresh process with the memory pattern on or off."""
    done = subprocess.run([sys.executable, __file__, "--phase", "pattern", "--", str(model),
                           str(int(pattern)), str(size), str(threads)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or [""])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- the children ----------------------------------------------------------------------------
def child_case(argv: list[str]) -> None:
    """``styx infer ARGV`` in this process, after its imports; the estimate it printed, the
    peak it took over the memory before it, and its seconds, as one JSON line."""
    import contextlib
    import io

    import numpy  # noqa: F401 - imported before the baseline, as the command imports them
    import onnx  # noqa: F401
    import onnxruntime  # noqa: F401
    import PIL.Image  # noqa: F401

    import styx.inference.batch
    import styx.inference.footprint  # noqa: F401
    from styx.cli.app import main

    before, _ = resident()
    captured = io.StringIO()
    started = time.perf_counter()
    with contextlib.redirect_stdout(captured):
        try:
            main(["infer", *argv])
        except SystemExit as exit_:
            if exit_.code not in (0, None):
                raise
    seconds = time.perf_counter() - started
    _, peak = resident()
    report = json.loads(captured.getvalue().strip().splitlines()[-1])
    estimate = max(need["estimate_bytes"] for need in report["memory"])
    parts = max(report["memory"], key=lambda need: need["estimate_bytes"])["parts"]
    measured = peak - before
    print(json.dumps({"estimate_bytes": estimate, "measured_peak_bytes": measured,
                      "ratio": round(estimate / measured, 3), "parts": parts,
                      "seconds": round(seconds, 2), "written": len(report["written"])}))


def child_pattern(argv: list[str]) -> None:
    """Three runs of the file ``argv[0]`` on a ``argv[2]`` px square, the memory pattern
    ``argv[1]`` (1: on), threads ``argv[3]`` (0: onnxruntime's choice)."""
    import numpy as np
    import onnxruntime as ort

    from styx.inference.onnxfile import OnnxGenerator

    model, pattern, size, threads = argv[0], argv[1] == "1", int(argv[2]), int(argv[3])
    options = ort.SessionOptions()
    options.enable_mem_pattern = pattern
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads = threads
    generator = OnnxGenerator.open(model, provider="cpu")
    generator.session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    image = np.random.default_rng(0).random((1, 3, size, size), dtype=np.float32)
    before, _ = resident()
    runs = []
    for _ in range(3):
        started, cpu = time.perf_counter(), time.process_time()
        generator.run(image)
        runs.append({"seconds": round(time.perf_counter() - started, 2),
                     "cpu_seconds": round(time.process_time() - cpu, 2),
                     "peak_bytes": resident()[1] - before})
    print(json.dumps({"pattern": pattern, "size": size, "runs": runs}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=CASES)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--phase", help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args()
    if args.phase:
        rest = rest[1:] if rest[:1] == ["--"] else rest
        {"case": child_case, "pattern": child_pattern}[args.phase](rest)
        return
    import onnxruntime

    from styx.runtime.memory import available_bytes

    with tempfile.TemporaryDirectory(prefix="styx-bench-memory-") as tmp:
        work = Path(tmp)
        os.environ["STYX_HOME"] = str(work / "home")
        model = prepare(work)
        cases = []
        for case in args.cases.split(","):
            estimate = dry_estimate(case, model, work)
            free = available_bytes("cpu")
            if estimate is None or (free is not None and estimate > 0.75 * free):
                result = {"case": case, "skipped": f"the estimate ({estimate} bytes) does not "
                          f"fit in three quarters of what is free ({free} bytes)"}
            else:
                result = run_case(case, model, work, args.threads)
            print(json.dumps(result), file=sys.stderr)
            cases.append(result)
        pattern = {"on" if on else "off": pattern_runs(model, on, 1024, args.threads)
                   for on in (True, False)}
    print(json.dumps({"cpu": lscpu_model(), "cpu_count": os.cpu_count(),
                      "onnxruntime": onnxruntime.__version__, "threads": args.threads or None,
                      "model": "texture-nets (default architecture)", "cases": cases,
                      "memory_pattern": pattern}, indent=1))


if __name__ == "__main__":
    main()
