"""How fast the light commands answer, and whether any of them imports torch.

Runs ``python -m styx ARGS`` several times per command in fresh processes and prints one
JSON document: wall seconds (min and median) and ``imports_torch`` (from
``python -X importtime``). Usage: ``python benchmarks/cli_startup.py [--repeat N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

COMMANDS = [
    ["--help"],
    ["--version"],
    ["plugins", "--json"],
    ["list", "descriptors", "--json"],
    ["list", "methods"],
    ["run", "--help"],
]


def time_command(args: list[str], repeat: int) -> dict:
    env = {**os.environ, "NO_COLOR": "1"}
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "styx", *args], env=env, capture_output=True,
                       check=False)
        times.append(time.perf_counter() - start)
    traced = subprocess.run([sys.executable, "-X", "importtime", "-m", "styx", *args],
                            env=env, capture_output=True, text=True, check=False)
    imports_torch = any("torch" in line for line in traced.stderr.splitlines()
                        if line.startswith("import time:"))
    return {"command": "styx " + " ".join(args), "exit_code": traced.returncode,
            "min_s": round(min(times), 4), "median_s": round(statistics.median(times), 4),
            "imports_torch": imports_torch}


def baseline(repeat: int) -> float:
    """A bare interpreter start, to tell styx's share from Python's."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=False)
        times.append(time.perf_counter() - start)
    return round(statistics.median(times), 4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    options, _ = parser.parse_known_args()  # nox -s bench passes its arguments to every script
    results = [time_command(args, options.repeat) for args in COMMANDS]
    print(json.dumps({
        "benchmark": "cli_startup",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "repeat": options.repeat,
        "python_startup_median_s": baseline(options.repeat),
        "commands": results,
    }, indent=2))


if __name__ == "__main__":
    main()
