"""How long a study takes at its defaults, and what a second run (every cell reused) costs.

Runs ``styx experiment tv-weight`` (4 cells) and ``style-layers`` (10 cells) at the default
size and steps (192 px, 100 L-BFGS steps, ``--amp auto``) with random VGG19 weights (nothing
downloaded) on the sample images, each in a fresh process, then each again in the same
folder; prints one JSON document. Usage: ``python benchmarks/experiments.py [--studies
tv-weight,...] [--size N] [--steps N]``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import machine, parser


def run_study(name: str, folder: Path, size: int, steps: int, device: str) -> tuple[float, dict]:
    command = [sys.executable, "-m", "styx", "experiment", name, "--weights", "random",
               "--size", str(size), "--steps", str(steps), "--device", device,
               "-o", str(folder), "--json"]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - started
    json.loads(done.stdout)
    return seconds, json.loads((folder / "results.json").read_text())


def main() -> None:
    args = parser(__doc__).parse_args()
    if args.phase:
        raise SystemExit("this benchmark has no phases")
    studies = ["tv-weight", "style-layers"]
    size, steps = 192, 100
    out = machine(args, size=size, steps=steps, weights="random", studies={})
    with tempfile.TemporaryDirectory() as scratch:
        for name in studies:
            folder = Path(scratch) / name
            first, document = run_study(name, folder, size, steps, args.device)
            second, again = run_study(name, folder, size, steps, args.device)
            cells = document["cells"]
            out["studies"][name] = {
                "cells": len(cells), "first_run_s": round(first, 2),
                "per_cell_s": round(first / len(cells), 2),
                "mean_cell_seconds": round(sum(c["metrics"]["seconds"] for c in cells)
                                           / len(cells), 2),
                "second_run_s": round(second, 2),
                "reused": sum(c["reused"] for c in again["cells"]),
                "precision": cells[0]["metrics"]["precision"]}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
