"""The progress bar: steps and compact metrics on stderr, silence when quiet."""

from __future__ import annotations

import io

from rich.console import Console

from styx.runtime.progress import Progress, format_metric, format_metrics


def test_format_metric_is_compact():
    assert format_metric(123.456) == "123.5"
    assert format_metric(1.5e7) == "1.50e+07"
    assert format_metric(2.5e-5) == "2.50e-05"
    assert format_metric(0) == "0"
    assert format_metric(float("nan")) == "nan"
    assert format_metrics({"loss": 1234567.0, "lr": 0.001}) == "loss=1.23e+06 lr=1.00e-03"


def test_progress_shows_steps_and_metrics():
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=False, width=150, color_system=None)
    with Progress(total=4, description="gatys", console=console) as bar:
        for step in range(4):
            bar.update(loss=1000.0 * (step + 1), style=0.5)
    text = buffer.getvalue()
    assert bar.completed == 4 and bar.metrics == {"loss": 4000.0, "style": 0.5}
    assert "gatys" in text and "4/4" in text
    assert "loss=4000" in text and "style=0.5" in text


def test_progress_writes_to_stderr_by_default(capsys):
    with Progress(total=2, description="training") as bar:
        bar.update(2, loss=3.0)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "training" in captured.err and "2/2" in captured.err


def test_quiet_progress_prints_nothing(capsys):
    with Progress(total=3, description="quiet run", quiet=True) as bar:
        for _ in range(3):
            bar.update(loss=1.0)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    assert bar.completed == 3 and bar.elapsed >= 0.0
