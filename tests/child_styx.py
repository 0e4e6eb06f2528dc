"""``styx`` in child processes: a real Ctrl-C to one, or two of them under torchrun.

    code, stderr = ctrl_c_styx(["run", "gatys", ...], once=tmp_path / "out.00002.png")
    summaries = torchrun_styx(["train", "texture-nets", ..., "--json"])

Imported by the tests as ``from child_styx import ctrl_c_styx`` (pytest puts this folder,
the one of the root ``conftest.py``, on ``sys.path``).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from ports import free_port

#: A child that handles SIGINT as a terminal's foreground process does: a test runner started
#: in the background of a non-interactive shell ignores SIGINT, and a child inheriting that
#: gets no KeyboardInterrupt handler from Python, so the child installs it, as Python does.
AS_IN_A_TERMINAL = ("import runpy, signal, sys; "
                    "signal.signal(signal.SIGINT, signal.default_int_handler); "
                    "sys.argv[0] = 'styx'; runpy.run_module('styx', run_name='__main__')")


def ctrl_c_styx(args: Sequence[str], *, once: Path, env: dict[str, str] | None = None,
                poll: float = 0.1, start_timeout: float = 120,
                finish_timeout: float = 60) -> tuple[int, str]:
    """Start ``styx ARGS`` (``NO_COLOR=1`` and ``env`` on top of this process's
    environment), send it SIGINT as soon as ``once`` exists, and give back its exit code and
    stderr. Fails the test if the child ends, or ``start_timeout`` passes, before that file
    appears; a child still running at the end is killed (never left behind)."""
    process = subprocess.Popen(
        [sys.executable, "-c", AS_IN_A_TERMINAL, *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "NO_COLOR": "1", **(env or {})})
    try:
        deadline = time.monotonic() + start_timeout
        while not once.exists():
            assert process.poll() is None and time.monotonic() < deadline, \
                process.communicate()
            time.sleep(poll)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=finish_timeout)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return process.returncode, stderr


def torchrun_styx(args: Sequence[str], *, env: dict[str, str] | None = None,
                  processes: int = 2, timeout: float = 300, failed: bool = False
                  ) -> list[dict]:
    """``styx ARGS`` in ``processes`` processes under torchrun, meeting on a free loopback
    port (``NO_COLOR=1``, ``OMP_NUM_THREADS=1`` and ``env`` on top of this process's
    environment); fails the test unless it exits 0 (``failed``: unless a process exited
    1, as rank 0 does when it skipped bad files). Gives the JSON objects it printed, one
    a line (``--json``)."""
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node",
               str(processes), "--master-addr", "127.0.0.1", "--master-port",
               str(free_port()), "-m", "styx", *args]
    done = subprocess.run(command, env={**os.environ, "OMP_NUM_THREADS": "1", "NO_COLOR": "1",
                                        **(env or {})},
                          capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == (1 if failed else 0), done.stderr[-3000:]
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
