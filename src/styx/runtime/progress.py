"""A progress bar on stderr for long work: steps, ETA and a few metrics.

    with Progress(total=500, description="gatys") as bar:
        for step in range(500):
            ...
            bar.update(loss=float(loss))

``quiet=True`` prints nothing, so ``--quiet`` and ``--json`` runs keep stderr clean.
"""

from __future__ import annotations

import math
import time
from typing import Any


def format_metric(value: float) -> str:
    """A compact number: ``1.23e+02``, ``0.5``, ``12``, ``nan``."""
    value = float(value)
    if not math.isfinite(value):
        return str(value)
    if value == 0:
        return "0"
    if 1e-2 <= abs(value) < 1e4:
        return f"{value:.4g}"
    return f"{value:.2e}"


def format_metrics(metrics: dict[str, float]) -> str:
    return " ".join(f"{name}={format_metric(value)}" for name, value in metrics.items())


class Progress:
    """A rich progress bar (on stderr) with steps, elapsed time, ETA and a metrics text."""

    def __init__(self, total: int, description: str, *, quiet: bool = False,
                 console: Any = None) -> None:
        self.total = int(total)
        self.description = description
        self.quiet = quiet
        self.completed = 0
        self.metrics: dict[str, float] = {}
        self._console = console
        self._bar: Any = None
        self._task: Any = None
        self._started = 0.0

    def __enter__(self) -> Progress:  # noqa: PYI034
        self._started = time.perf_counter()
        if self.quiet:
            return self
        import rich.progress as rp
        from rich.console import Console

        self._bar = rp.Progress(
            rp.TextColumn("[bold]{task.description}"),
            rp.BarColumn(),
            rp.MofNCompleteColumn(),
            rp.TimeElapsedColumn(),
            rp.TextColumn("eta"),
            rp.TimeRemainingColumn(),
            rp.TextColumn("{task.fields[metrics]}"),
            console=self._console or Console(stderr=True),
            transient=False,
        )
        self._bar.__enter__()
        self._task = self._bar.add_task(self.description, total=self.total, metrics="")
        return self

    def update(self, advance: int = 1, **metrics: float) -> None:
        """Advance by ``advance`` steps; show ``metrics`` (floats) compactly beside the bar."""
        self.completed += advance
        self.metrics.update({name: float(value) for name, value in metrics.items()})
        if self._bar is not None:
            self._bar.update(self._task, advance=advance, metrics=format_metrics(self.metrics))

    @property
    def elapsed(self) -> float:
        """Seconds since the bar started."""
        return time.perf_counter() - self._started if self._started else 0.0

    def __exit__(self, *exc_info: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc_info)
            self._bar = None

