"""Memory before work: what a piece of work will need, what the device has free, and the
one-line refusal when it will not fit.

Every command that allocates by size (``styx run``, ``styx train``, ``styx infer``, the
studies' cells) makes a :class:`MemoryNeed` from a shape pass of its networks (see
:mod:`styx.runtime.meta` for torch, :mod:`styx.inference.footprint` for ONNX graphs) and
calls :meth:`MemoryNeed.check` before it reads a pixel, so a size the machine cannot hold is
refused with the estimate, what is free and the fix, instead of crashing half way (or
taking a shared machine down with it).

No torch here: ``styx infer`` uses it. A CUDA device's free memory is asked of torch by
the caller (:func:`styx.runtime.device.free_bytes`) and passed in.

``STYX_MEMORY_LIMIT`` (``8GiB``, ``512MiB``, ``2e9``) caps what styx takes to be free on
any device: for a machine shared with other work, and for tests.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from styx.core.errors import StyxError

#: The environment variable that caps the memory styx takes to be free.
LIMIT_VARIABLE = "STYX_MEMORY_LIMIT"

_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9,
          "gb": 10**9, "t": 10**12, "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30,
          "tib": 2**40}


def parse_bytes(text: str) -> int:
    """``"8GiB"``, ``"512 MB"``, ``"2e9"`` as a number of bytes; ValueError otherwise."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*([a-z]*)\s*", text.lower())
    if not match or match.group(2) not in _UNITS:
        raise ValueError(f"not an amount of memory: {text!r}")
    return int(float(match.group(1)) * _UNITS[match.group(2)])


def human(count: float) -> str:
    """A byte count for people: ``1.2 GiB``, ``640 MiB``, ``12 KiB``."""
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(count) >= size:
            value = count / size
            return f"{value:.1f} {unit}" if value < 100 else f"{value:.0f} {unit}"
    return f"{int(count)} B"


def memory_limit() -> int | None:
    """``STYX_MEMORY_LIMIT`` in bytes, None when unset; a bad value is a StyxError."""
    text = os.environ.get(LIMIT_VARIABLE, "").strip()
    if not text:
        return None
    try:
        return parse_bytes(text)
    except ValueError:
        raise StyxError(f"bad {LIMIT_VARIABLE}={text!r}",
                        "give an amount such as 8GiB, 512MiB or 2e9, or unset it") from None


def free_cpu_bytes() -> int | None:
    """Memory this process can still take: the kernel's MemAvailable, lowered to what a
    cgroup (a container's limit) leaves; None where neither can be read (not Linux)."""
    free = _meminfo_available()
    cgroup = _cgroup_room()
    known = [value for value in (free, cgroup) if value is not None]
    if not known:
        try:  # other Unixes
            return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (AttributeError, ValueError, OSError):
            return None
    return min(known)


def _meminfo_available() -> int | None:
    try:
        text = Path("/proc/meminfo").read_text()
    except OSError:
        return None
    match = re.search(r"^MemAvailable:\s+(\d+)\s*kB", text, re.MULTILINE)
    return int(match.group(1)) * 1024 if match else None


def _cgroup_room() -> int | None:
    """cgroup v2's memory.max minus memory.current for this process's group, if limited."""
    try:
        line = Path("/proc/self/cgroup").read_text().splitlines()[0]
        group = Path("/sys/fs/cgroup") / line.partition("::")[2].lstrip("/")
        limit = (group / "memory.max").read_text().strip()
        if limit == "max":
            return None
        return max(0, int(limit) - int((group / "memory.current").read_text()))
    except (OSError, IndexError, ValueError):
        return None


def available_bytes(device: str, *, device_free: int | None = None) -> int | None:
    """What ``device`` has free: host memory for ``cpu``, else ``device_free`` as the
    caller measured it (None: unknown); either capped by ``STYX_MEMORY_LIMIT``."""
    free = free_cpu_bytes() if device.split(":")[0] == "cpu" else device_free
    limit = memory_limit()
    if limit is None:
        return free
    return limit if free is None else min(free, limit)


@dataclass(frozen=True)
class MemoryNeed:
    """The estimated peak memory of a piece of work, and what the device has free.

    ``what``: the work in a few words (``gatys at 1024x683 px``); ``parts``: the estimate's
    parts (``weights``, ``activations``, ``optimizer``, ``images``), whose sum is
    :attr:`bytes`; ``fixes``: what the user can do when it does not fit, most useful first;
    ``held``: the part already allocated when the need is checked (weights loaded before
    it), which free memory no longer includes.
    """

    what: str
    device: str
    parts: dict[str, int]
    available: int | None
    fixes: tuple[str, ...] = field(default=())
    held: int = 0

    @property
    def bytes(self) -> int:
        return int(sum(self.parts.values()))

    @property
    def fits(self) -> bool:
        return self.available is None or self.bytes - self.held <= self.available

    def check(self, *, last: bool = True) -> MemoryNeed:
        """Self when it fits (or free memory is unknown); a StyxError naming the estimate,
        what is free and the fix when it does not. In a :func:`watching` block it is
        recorded, and with ``stop`` a need that fits raises :class:`DryRunStop`: the work
        stops before it starts (``last=False``: a check before another, which goes on)."""
        watch = _watch.get()
        if watch is not None:
            watch.needs.append(self)
        if self.fits:
            if watch is not None and watch.stop and last:
                raise DryRunStop(self)
            return self
        hint = ", or ".join(self.fixes) if self.fixes else "use a smaller size"
        capped = f" (capped by {LIMIT_VARIABLE})" if memory_limit() is not None else ""
        raise StyxError(f"{self.what} needs about {human(self.bytes)} of memory, but "
                        f"{self.device} has {human(self.available or 0)} free{capped}", hint)

    def describe(self) -> str:
        """``about 1.2 GiB on cpu (3.4 GiB free)``: for ``--dry-run``."""
        free = "free memory unknown" if self.available is None else \
            f"{human(self.available)} free"
        return f"{self.what}: about {human(self.bytes)} on {self.device} ({free})"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, for ``--json`` and ``--dry-run --json``."""
        return {"what": self.what, "device": self.device, "estimate_bytes": self.bytes,
                "parts": {k: int(v) for k, v in self.parts.items()},
                "available_bytes": self.available, "fits": self.fits}


class DryRunStop(Exception):
    """Raised by :meth:`MemoryNeed.check` in a :func:`watching` block with ``stop``, once
    every check before the work has passed (``--dry-run``)."""

    def __init__(self, need: MemoryNeed) -> None:
        super().__init__(need.describe())
        self.need = need


@dataclass
class _Watch:
    needs: list[MemoryNeed]
    stop: bool


_watch: contextvars.ContextVar[_Watch | None] = contextvars.ContextVar("styx_memory_watch",
                                                                       default=None)


@contextlib.contextmanager
def watching(*, stop: bool = False) -> Iterator[list[MemoryNeed]]:
    """A block whose memory checks are collected in the list it yields (for ``--json``);
    with ``stop`` (``--dry-run``), work stops at its first check that passes, by a
    :class:`DryRunStop`."""
    watch = _Watch([], stop)
    token = _watch.set(watch)
    try:
        yield watch.needs
    finally:
        _watch.reset(token)
