"""How quickly bad input fails, and what the conformance kit costs.

* ``fail_fast``: ``python -m styx ...`` with one bad option or output location each, in
  fresh processes: seconds to the error, the exit code, and whether a descriptor was built
  first (the error came after the random-weights note). Every one should fail in about the
  time ``styx run gatys --help`` takes, before any network exists.
* ``kit``: seconds per ``styx.testing`` check of each built-in descriptor, loss and method.

Prints one JSON document. Usage: ``python benchmarks/plugins.py [--repeat N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GATYS = ["run", "gatys", "--weights", "random", "--size", "128", "--steps", "20"]
#: A short training, so that a styx which checked too late would still finish.
TRAIN = ["--weights", "random", "--iterations", "20", "--batch-size", "1", "--image-size", "32"]


def bad_commands(folder: Path) -> dict[str, list[str]]:
    out = str(folder / "out.png")
    return {
        "--loss-option style.normalization=gaty": [*GATYS, "-o", out, "--loss-option",
                                                   "style.normalization=gaty"],
        "--loss-option tv.power=0": [*GATYS, "-o", out, "--loss-option", "tv.power=0"],
        "--style-layers relu9_1": [*GATYS, "-o", out, "--style-layers", "relu9_1"],
        "-o /proc/x.png": [*GATYS, "-o", "/proc/x.png"],
        "--log-json /proc/x/log.json": [*GATYS, "-o", out, "--log-json", "/proc/x/log.json"],
        "train: missing --content-dir folder": [
            "train", "texture-nets", "--style", str(folder / "style.png"), "--content-dir",
            str(folder / "missing"), *TRAIN],
        "train: --output /proc/nope/m": [
            "train", "texture-nets", "--style", str(folder / "style.png"), "--content-dir",
            str(folder), *TRAIN, "--output", "/proc/nope/m"],
        "(reference) styx run gatys --help": ["run", "gatys", "--help"],
    }


def time_failures(repeat: int) -> list[dict]:
    from PIL import Image

    env = {**os.environ, "NO_COLOR": "1"}
    rows = []
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        Image.new("RGB", (64, 64), (200, 40, 90)).save(folder / "style.png")
        Image.new("RGB", (64, 64), (20, 140, 90)).save(folder / "photo.png")
        for label, args in bad_commands(folder).items():
            times, result = [], None
            for _ in range(repeat):
                start = time.perf_counter()
                result = subprocess.run([sys.executable, "-m", "styx", *args], env=env,
                                        capture_output=True, text=True, check=False)
                times.append(time.perf_counter() - start)
            assert result is not None
            lines = result.stderr.strip().splitlines()
            rows.append({"case": label, "exit_code": result.returncode,
                         "median_s": round(statistics.median(times), 3),
                         "descriptor_built": "random weights" in result.stderr,
                         "error": next((line for line in lines if line.startswith("error")),
                                       "")})
    return rows


def time_kit() -> list[dict]:
    from styx.core.plugins import get_plugins
    from styx.testing import check_descriptor, check_loss, check_method

    plugins = get_plugins()
    builtin = {info.name for info in plugins.info if info.distribution == "styx-nst"}
    rows = []
    for kind, check in (("descriptors", check_descriptor), ("losses", check_loss),
                        ("methods", check_method)):
        for spec in plugins.registry(kind):
            if spec.plugin not in builtin:
                continue
            start = time.perf_counter()
            report = check(spec.name, raise_on_failure=False)
            rows.append({"kind": kind, "name": spec.name, "checks": len(report.results),
                         "ok": report.ok, "seconds": round(time.perf_counter() - start, 2)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    options, _ = parser.parse_known_args()  # nox -s bench passes its arguments to every script
    print(json.dumps({
        "benchmark": "plugins",
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "repeat": options.repeat,
        "fail_fast": time_failures(options.repeat),
        "kit": time_kit(),
    }, indent=2))


if __name__ == "__main__":
    main()
