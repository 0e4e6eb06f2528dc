"""What the benchmark scripts share: not a benchmark itself (``nox -s bench`` skips names
that start with ``_``).

* a parent process runs each measurement as a *phase* in a fresh child process
  (:func:`run_phase_process`; the child's side: :func:`child`), so the peak memory a child
  reports is its measurement's alone: :func:`peak_memory` reads
  ``torch.cuda.max_memory_allocated`` on CUDA and, on the CPU, the growth of the process's
  peak resident set (``ru_maxrss``);
* :func:`time_calls`: seconds of each of several calls after a warm-up (CUDA synchronised);
* :func:`train_method`: ``styx.train(...)`` at the benchmarks' training settings, on
  random images in a temporary folder, with random descriptor weights (nothing downloaded);
* :func:`machine`: the header of every document (device, torch, CPU, threads).
* :func:`lscpu_model` (the CPU's name, recorded beside memory numbers) and
  :func:`resident` (``VmRSS`` and ``VmHWM``): for the memory benchmarks' children.
* :func:`run_command` and :func:`time_commands`: whole commands (``styx infer``, a peer's)
  timed in fresh processes, interleaved, with each one's own peak memory.
* :func:`build_network`: a random-weight network of each feed-forward method in either
  architecture variant, with the metadata to save it (for the inference benchmarks);
  :func:`save_network` saves one as a model folder.
* :func:`run_measured`: one whole command with its CPU seconds, its stdout and, on request,
  its resident set sampled while it runs (:func:`vm_rss_mib`); :func:`lscpu_flags`.

"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any


def parser(doc: str) -> argparse.ArgumentParser:
    """An argument parser with the options every benchmark takes: ``--device``,
    ``--threads`` and the hidden ``--phase`` of a child process."""
    out = argparse.ArgumentParser(description=doc.splitlines()[0])
    out.add_argument("--device", default="cpu")
    out.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    out.add_argument("--phase", help=argparse.SUPPRESS)
    return out


def parse_args(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """The arguments; unknown ones are ignored (nox passes its own to every benchmark)."""
    args, _unknown = parser.parse_known_args()
    return args


def machine(args: argparse.Namespace, method: str | None = None, **details: Any
            ) -> dict[str, Any]:
    """The document's header: the method, the device, torch, the machine and the threads,
    ``details``, then the GPU's name on CUDA."""
    import torch

    out: dict[str, Any] = {} if method is None else {"method": method}
    out.update(device=args.device, torch=torch.__version__, machine=platform.machine(),
               cpu_count=os.cpu_count(), threads=args.threads or torch.get_num_threads(),
               **details)
    if args.device.startswith("cuda") and torch.cuda.is_available():
        out["gpu"] = torch.cuda.get_device_name()
    return out


# -- child processes ---------------------------------------------------------------------------
def run_phase_process(script: str, phase: str, *extra: str) -> dict[str, Any]:
    """Run ``script`` with this process's arguments and ``--phase phase`` (and ``extra``) in
    a fresh process; its last line of output, as JSON, or ``{"error": [last stderr line]}``."""
    own = [a for a in sys.argv[1:] if not a.startswith("--phase")]
    done = subprocess.run([sys.executable, script, *own, *extra, "--phase", phase],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def failed(value: dict[str, Any]) -> bool:
    """Whether a phase's value is the error :func:`run_phase_process` reports."""
    return set(value) == {"error"}


def child(args: argparse.Namespace, measure: Callable[[argparse.Namespace], dict]) -> bool:
    """In a child process (``--phase`` given): set its torch threads, print ``measure(args)``
    as JSON and say True; in the parent, False."""
    if not args.phase:
        return False
    if args.threads:  # torch only where asked: a phase timing whole commands stays small
        import torch

        torch.set_num_threads(args.threads)
    print(json.dumps(measure(args)))
    return True


# -- measuring ---------------------------------------------------------------------------------
def maxrss_mib() -> float:
    """Peak resident set of this process so far, MiB (ru_maxrss is KiB on Linux)."""
    scale = 1 / 1024 / 1024 if sys.platform == "darwin" else 1 / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def is_cuda(device: str) -> bool:
    """Whether ``device`` (a ``--device`` value, ``auto`` included) is a CUDA device."""
    from styx.runtime.device import resolve_device

    return resolve_device(device).type == "cuda"


@contextlib.contextmanager
def peak_memory(device: str) -> Iterator[dict[str, float]]:
    """Peak memory over a ``with`` block, in the dict it gives, filled when the block ends:
    ``peak_cuda_mib`` (on CUDA) and ``peak_rss_growth_mib``, the growth of the process's
    peak resident set (a peak reached before the block hides a smaller one in it: one
    measurement a process)."""
    cuda = is_cuda(device)
    if cuda:
        import torch

        torch.cuda.reset_peak_memory_stats()
    before = maxrss_mib()
    out: dict[str, float] = {}
    yield out
    if cuda:
        out["peak_cuda_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    out["peak_rss_growth_mib"] = round(maxrss_mib() - before, 1)


def time_calls(call: Callable[[], object], *, repeat: int, cuda: bool = False,
               warmup: int = 1) -> list[float]:
    """Seconds of each of ``repeat`` calls of ``call``, after ``warmup`` untimed ones
    (on CUDA synchronised before and after each)."""
    def once() -> float:
        if cuda:
            import torch

            torch.cuda.synchronize()
        start = time.perf_counter()
        call()
        if cuda:
            import torch

            torch.cuda.synchronize()
        return time.perf_counter() - start

    for _ in range(warmup):
        once()
    return [once() for _ in range(max(repeat, 1))]


def intervals(stamps: list[float]) -> list[float]:
    """The seconds between successive time stamps (of steps: the seconds of each step)."""
    import itertools

    return [b - a for a, b in itertools.pairwise(stamps)]


# -- gatys -------------------------------------------------------------------------------------
def sample_images(size: int) -> tuple[Any, Any]:
    """The sample photo and painting shipped with styx, resized to ``size`` (long side)."""
    from styx.files.image_arrays import sample_image
    from styx.runtime.image_tensors import load_image

    return (load_image(sample_image("content"), long_side=size),
            load_image(sample_image("style"), long_side=size))


def gatys_run(config: Any, content: Any, styles: list[Any]) -> Any:
    """A ``GatysRun`` of ``config`` with its inputs loaded, its objective built and the
    targets of its final size set: what a benchmark times steps or scores images with
    (``run.objective(image)``, ``run.loss_fn(image)``)."""
    from styx.plugins.methods.gatys.api import GatysRun
    from styx.runtime.image_tensors import run_request

    run = GatysRun(config, run_request(content=content, styles=styles))
    run.load_images()
    run.build_objective()
    run.set_targets(run.content, run.styles)
    return run


# -- training ----------------------------------------------------------------------------------
def write_images(folder: Path, count: int = 4, size: int = 320, seed: int = 0,
                 prefix: str = "c") -> list[Path]:
    """``count`` random RGB images of ``size`` x ``size`` in ``folder``: PREFIX0.png, ..."""
    import torch

    from styx.runtime.image_tensors import save_image

    generator = torch.Generator().manual_seed(seed)
    paths = [folder / f"{prefix}{i}.png" for i in range(count)]
    for path in paths:
        save_image(torch.rand(1, 3, size, size, generator=generator), path)
    return paths


def train_method(method: str, args: argparse.Namespace, *, styles: int = 1,
                 iterations: int, amp: str, batch_size: int = 4, image_size: int = 256,
                 output: Path | None = None, **options: Any) -> tuple[Any, dict[str, float]]:
    """``styx.train(method, ...)`` for ``iterations`` on 4 random content images and
    ``styles`` random style images (one style: a path, more: a list), random descriptor
    weights, no checkpoints, a log entry every iteration; ``options``: more training
    options (``descriptor=``, layers). Returns the TrainedModel and the :func:`peak_memory`
    of the training. Everything goes to a temporary folder (``$STYX_HOME`` too), but the
    model when ``output`` is given."""
    import styx

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ["STYX_HOME"] = str(root / "home")
        write_images(root / "content")
        style = write_images(root / "style", count=styles, prefix="style")
        with peak_memory(args.device) as peak:
            trained = styx.train(method, style=style[0] if styles == 1 else style,
                                 content_dir=root / "content",
                                 output=output or root / "model", run_dir=root / "run",
                                 weights="random", iterations=iterations,
                                 batch_size=batch_size, image_size=image_size,
                                 checkpoint_every=0, log_every=1, quiet=True,
                                 device=args.device, amp=amp, **options)
    return trained, peak


def lscpu_model() -> str:
    """The CPU's model name as ``lscpu`` gives it (``platform.processor()`` elsewhere)."""
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    except OSError:
        return platform.processor()
    match = re.search(r"^Model name:\s*(.+)$", text, re.MULTILINE)
    return match.group(1).strip() if match else "unknown"


def resident() -> tuple[int, int]:
    """This process's resident memory now and at its peak (``VmRSS``, ``VmHWM``), bytes
    (Linux)."""
    text = Path("/proc/self/status").read_text()
    now = int(re.search(r"VmRSS:\s+(\d+)", text).group(1)) * 1024
    peak = int(re.search(r"VmHWM:\s+(\d+)", text).group(1)) * 1024
    return now, peak


def save_network(name: str, folder: Path) -> Path:
    """The :func:`build_network` of ``name`` ("METHOD-VARIANT", e.g. ``stylebank-fast``)
    saved as a model folder at ``folder`` (for ``styx run`` and ``styx export``)."""
    from styx.files.modelstore import save_model

    method, variant = name.rsplit("-", 1)
    network, metadata = build_network(method, variant)
    return save_model(network, metadata, path=folder)


def build_network(method: str, variant: str = "paper") -> tuple[Any, dict[str, Any]]:
    """A random-weight network of ``method`` (texture-nets, stylebank with two styles, adain)
    in architecture ``variant``, and the metadata :func:`styx.files.modelstore.save_model`
    stores with it: speed does not depend on training."""
    import torch

    torch.manual_seed(0)
    settings = {} if variant == "paper" else {"variant": variant}
    if method == "texture-nets":
        from styx.plugins.methods.texture_nets.generator import GeneratorConfig, TextureNetwork

        network = TextureNetwork(GeneratorConfig(**settings))
        styles = [{"name": "a"}]
    elif method == "stylebank":
        from styx.plugins.methods.stylebank.network import NetworkConfig, StyleBankNetwork

        network = StyleBankNetwork(NetworkConfig(num_styles=2, **settings))
        styles = [{"name": "a"}, {"name": "b"}]
    elif method == "adain":
        from styx.plugins.methods.adain.network import AdaINArchitecture, AdaINNetwork

        network = AdaINNetwork(AdaINArchitecture(**settings), weights="random")
        styles = []
    else:
        raise SystemExit(f"unknown method {method!r}: texture-nets, stylebank or adain")
    return network.eval(), {"method": method, "architecture": network.architecture(),
                            "styles": styles}


def run_command(command: list[str]) -> tuple[float, float]:
    """Wall seconds and the process's own peak resident MiB (``wait4``) of ``command``; a
    failure is a RuntimeError with its last line of stderr."""
    with tempfile.TemporaryFile() as errors:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            errors.seek(0)
            last = (errors.read().decode(errors="replace").strip().splitlines() or [""])[-1]
            raise RuntimeError(f"{command[2]} exit {code}: {last}")
    scale = 1 / 1024 / 1024 if sys.platform == "darwin" else 1 / 1024
    return seconds, usage.ru_maxrss * scale


def time_commands(commands: dict[str, list[str]], *, repeat: int
                  ) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Wall seconds of each run of each named command, and each one's peak resident MiB:
    one untimed warm-up of each (files in the page cache, caches filled), then ``repeat``
    rounds, alternately in order and in reverse, so a drift in the machine's load falls on
    every command alike."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    peaks: dict[str, float] = {}
    for command in commands.values():
        run_command(command)
    for index in range(max(repeat, 1)):
        order = list(commands) if index % 2 == 0 else list(reversed(commands))
        for name in order:
            seconds, peak = run_command(commands[name])
            times[name].append(seconds)
            peaks[name] = max(peaks.get(name, 0.0), peak)
    return times, peaks


def lscpu_flags() -> list[str]:
    """The CPU's flags as ``lscpu`` lists them (empty where it cannot say)."""
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    except OSError:
        return []
    match = re.search(r"^Flags:\s*(.+)$", text, re.MULTILINE)
    return match.group(1).split() if match else []


def vm_rss_mib(pid: int) -> float | None:
    """The resident set of process ``pid`` now (``VmRSS``), MiB; None once it has ended."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    match = re.search(r"VmRSS:\s+(\d+)", text)
    return int(match.group(1)) / 1024 if match else None


def run_measured(command: list[str], *, every: float | None = None,
                 probe: Callable[[], Any] | None = None) -> dict[str, Any]:
    """:func:`run_command` with more said: ``seconds`` (wall), ``cpu_seconds`` (user and
    system, its threads included, from ``wait4``), ``peak_rss_mib`` (``ru_maxrss``) and
    ``stdout`` (its text); with ``every``, ``samples``: every ``every`` seconds, [seconds
    since the start, ``VmRSS`` MiB, ``probe()``] while it runs (Linux). A failure is a
    RuntimeError with its last line of stderr."""
    with tempfile.TemporaryFile() as errors, tempfile.TemporaryFile() as output:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=output, stderr=errors)
        samples: list[list[Any]] = []
        next_sample = 0.0
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG if every else 0)
            if pid:
                break
            now = time.perf_counter() - start
            if now >= next_sample:
                rss = vm_rss_mib(process.pid)
                if rss:  # none yet (exec under way) or ended
                    samples.append([round(now, 2), round(rss, 1),
                                    probe() if probe is not None else None])
                next_sample += every
            time.sleep(min(0.05, every))
        seconds = time.perf_counter() - start
        code = os.waitstatus_to_exitcode(status)
        process.returncode = code
        if code != 0:
            errors.seek(0)
            last = (errors.read().decode(errors="replace").strip().splitlines() or [""])[-1]
            raise RuntimeError(f"{' '.join(command[1:4])} exit {code}: {last}")
        output.seek(0)
        text = output.read().decode(errors="replace")
    scale = 1 / 1024 / 1024 if sys.platform == "darwin" else 1 / 1024
    out = {"seconds": seconds, "cpu_seconds": usage.ru_utime + usage.ru_stime,
           "peak_rss_mib": usage.ru_maxrss * scale, "stdout": text}
    if every:
        out["samples"] = samples
    return out
