"""Running a study's cells: reuse what is done, measure, save each cell as it finishes.

A finished cell is two files in ``cells/``: ``KEY.png`` (its picture) and ``KEY.json``
(its numbers and config), written in that order, each atomically, so a cell exists whole
or not at all. A study run again reuses every cell whose files are there; Ctrl-C stops
after saving the cells already finished (the one in progress is dropped) and the next run
picks up from there.

Every cell's numbers: ``seconds`` (the stylisation; for a trained model its second run, the
first warming it up), ``peak_memory_mb`` (above the start: CUDA's peak allocation, or on
Linux the resident set sampled every few milliseconds), the method's own ``loss`` and
``steps`` where it has them, each loss term and layer at the ``start`` and the ``end`` of
the run (from its history), and ``judge_content``, ``judge_style`` and ``judge_tv``: the
result scored through one descriptor common to the whole study.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from styx.core.errors import StyxError
from styx.experiments.study import Cell, Study

CELLS = "cells"


@dataclass
class CellResult:
    cell: Cell
    metrics: dict[str, Any]
    image: Path
    reused: bool = False
    #: First and last values of each loss in the run's history.
    layers: dict[str, dict[str, float]] = field(default_factory=dict)
    curve: list[tuple[int, float]] = field(default_factory=list)


@dataclass
class StudyRun:
    study: Study
    folder: Path
    results: list[CellResult]
    interrupted: bool
    judge: dict[str, Any]
    seconds: float

    @property
    def done(self) -> int:
        return len(self.results)


def cell_files(folder: Path, cell: Cell) -> tuple[Path, Path]:
    return folder / CELLS / f"{cell.key}.png", folder / CELLS / f"{cell.key}.json"


def load_done(folder: Path, cell: Cell) -> CellResult | None:
    """The saved result of ``cell``, if both its files are there and readable."""
    image, record = cell_files(folder, cell)
    if not (image.is_file() and record.is_file()):
        return None
    try:
        saved = json.loads(record.read_text())
    except (OSError, ValueError):
        return None
    if saved.get("key") != cell.key:
        return None
    return CellResult(cell, saved["metrics"], image, reused=True, layers=saved.get("layers", {}),
                      curve=[tuple(point) for point in saved.get("curve", [])])


class Judge:
    """Scores any picture against its content and style through one descriptor: the same
    layers, weights and sizes for every cell, so cells of different methods compare."""

    def __init__(self, descriptor: str, weights: str, seed: int) -> None:
        from styx.experiments.judge import JudgeOptions

        self.options = JudgeOptions(descriptor=descriptor, weights=weights, seed=seed)
        self._objective = None

    def describe(self) -> dict[str, Any]:
        from styx.experiments.judge import weights_used
        from styx.perceptual.objective import layer_weights

        content, style = layer_weights(self.options)
        return {"descriptor": self.options.descriptor, "content_layers": content,
                "style_layers": style, **weights_used(self.options.descriptor,
                                                      self.options.weights, self.options.seed)}

    def __call__(self, image: torch.Tensor, content: Path, styles: tuple[Path, ...]
                 ) -> dict[str, float]:
        from styx.perceptual.objective import build_objective
        from styx.runtime.image_tensors import image_input, resize_to

        if self._objective is None:
            self._objective = build_objective(self.options, seed=self.options.seed,
                                              device="cpu")
        objective = self._objective
        picture = image[:1].float().cpu()
        long_side = max(picture.shape[-2:])
        target = resize_to(image_input(content, what="content").rgb, picture.shape[-2:])
        style = [image_input(s, long_side=long_side, what="style").rgb for s in styles]
        with torch.no_grad():
            objective.set_content(target)
            objective.set_style(style)
            values = objective(picture).as_floats()
        return {"judge_content": values["content"], "judge_style": values["style"],
                "judge_tv": values["tv"]}


@contextlib.contextmanager
def peak_memory(device: str):
    """Yields a dict that holds ``peak_memory_mb`` afterwards (None where it cannot be
    measured): CUDA's peak allocation, or the peak resident set above the start, sampled."""
    found: dict[str, float | None] = {"peak_memory_mb": None}
    if device.startswith("cuda") and torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
        yield found
        found["peak_memory_mb"] = torch.cuda.max_memory_allocated() / 2**20
        return
    statm = Path("/proc/self/statm")
    if not statm.is_file():
        yield found
        return
    page = os.sysconf("SC_PAGE_SIZE")

    def resident() -> int:
        return int(statm.read_text().split()[1]) * page

    # Garbage of earlier work freed now, not during the measurement (where memory it
    # frees would hide as much of the work's).
    gc.collect()
    start, peak, stop = resident(), [0], threading.Event()

    def sample() -> None:
        while not stop.wait(0.005):
            peak[0] = max(peak[0], resident())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield found
    finally:
        stop.set()
        sampler.join()
        peak[0] = max(peak[0], resident())
        found["peak_memory_mb"] = max(0, peak[0] - start) / 2**20


def _history_facts(history: list[dict[str, Any]]) -> tuple[dict[str, dict[str, float]],
                                                           list[tuple[int, float]]]:
    """Each loss's first and last value, and the total loss per step."""
    if not history:
        return {}, []
    first, last = history[0], history[-1]
    layers = {key: {"start": float(first[key]), "end": float(last[key])}
              for key in first if key not in ("step", "scale", "seconds")
              and isinstance(first[key], (int, float)) and key in last}
    curve = [(int(h["step"]), float(h["total"])) for h in history
             if "total" in h and "step" in h]
    return layers, curve


def run_cell(cell: Cell, folder: Path, judge: Judge) -> CellResult | None:
    """Run ``cell`` and save it; None when Ctrl-C stopped it (nothing is saved)."""
    import styx
    from styx.files.atomic import atomic_path
    from styx.runtime.device import resolve_device
    from styx.runtime.image_tensors import save_image

    metrics: dict[str, Any] = {}
    model = None
    if cell.train is not None:
        model, train_seconds = train_model(cell)
        metrics["train_seconds"] = train_seconds
        metrics["model_bytes"] = sum(p.stat().st_size for p in model.glob("*.safetensors"))
    # A model that holds its style takes none; one that takes it at run time, the cell's.
    styles = list(cell.styles) if model is None or styx.load_model(model).style_inputs \
        else []
    runs = 1 if model is None else 2  # a trained model's first run warms it up
    device = resolve_device(getattr(cell.config, "device", "cpu"))  # 'auto' is CUDA there
    with peak_memory(str(device)) as memory:
        for _ in range(runs):
            result = styx.stylize(cell.method, cell.content, styles, model=model,
                                  config=cell.config)
            if result.interrupted:
                break
    if result.interrupted:
        return None
    layers, curve = _history_facts(result.history)
    metrics.update(seconds=round(result.seconds, 4), **memory, precision=result.precision,
                   device=result.device, width=int(result.image.shape[-1]),
                   height=int(result.image.shape[-2]))
    if result.loss is not None:
        metrics["loss"] = float(result.loss)
    if result.steps is not None:
        metrics["steps"] = int(result.steps)
    metrics.update(judge(result.image, cell.content, cell.styles))
    image, record = cell_files(folder, cell)
    save_image(result.image[:1], image)
    document = {"key": cell.key, "method": cell.method, "labels": cell.labels,
                "content": str(cell.content), "styles": [str(s) for s in cell.styles],
                "config": cell.config.to_dict(), "metrics": metrics, "layers": layers,
                "curve": curve, "model": None if model is None else str(model)}
    with atomic_path(record) as temporary:
        temporary.write_text(json.dumps(document, indent=1) + "\n")
    return CellResult(cell, metrics, image, layers=layers, curve=curve)


def train_model(cell: Cell) -> tuple[Path, float]:
    """The cell's trained model folder (trained now unless a finished one is there) and the
    seconds its training took."""
    import styx
    from styx.files.atomic import atomic_path
    from styx.files.modelstore import METADATA_FILE

    plan = cell.train
    assert plan is not None
    done = plan.folder / "study-training.json"
    if done.is_file() and (plan.folder / METADATA_FILE).is_file():
        return plan.folder, float(json.loads(done.read_text())["seconds"])
    started = time.perf_counter()
    styx.train(plan.method, config=plan.config)
    seconds = time.perf_counter() - started
    with atomic_path(done) as temporary:
        temporary.write_text(json.dumps({"seconds": seconds}) + "\n")
    return plan.folder, seconds


def check_memory(study: Study, folder: Path, *, fresh: bool = False) -> None:
    """The memory of every cell still to run that needs no training, checked before the
    first cell runs: its run is started and stops at its own memory check, as
    ``--dry-run`` does (a method that makes none is stopped at its first step). A cell that
    would not fit is the study's error, naming the cell. Training cells check theirs when
    they start."""
    import styx
    from styx.runtime.memory import DryRunStop, watching

    def first_step(info: Any) -> None:
        raise KeyboardInterrupt

    for cell in study.cells:
        if cell.train is not None or (not fresh and load_done(folder, cell) is not None):
            continue
        try:
            with watching(stop=True):
                styx.stylize(cell.method, cell.content, list(cell.styles),
                             config=cell.config, callback=first_step)
        except DryRunStop:
            continue
        except StyxError as error:
            raise study.cell_error(cell, error) from None


def run_study(study: Study, folder: Path, *, judge: Judge, fresh: bool = False,
              progress: bool = True) -> StudyRun:
    """Every cell of ``study``, reusing finished ones unless ``fresh``; stops cleanly at
    Ctrl-C (:attr:`StudyRun.interrupted`)."""
    from styx.perceptual.weights import notes
    from styx.runtime.progress import Progress

    started = time.perf_counter()
    results: list[CellResult] = []
    interrupted = False
    with notes(False):
        check_memory(study, folder, fresh=fresh)
    (folder / CELLS).mkdir(parents=True, exist_ok=True)
    said = False  # the notes of building a descriptor (random weights ...), said once
    with Progress(len(study.cells), f"{study.name}", quiet=not progress) as bar:
        for cell in study.cells:
            done = None if fresh else load_done(folder, cell)
            if done is None:
                with contextlib.suppress(KeyboardInterrupt), notes(progress and not said):
                    done = run_cell(cell, folder, judge)
                said = True
                if done is None:
                    interrupted = True
                    break
            results.append(done)
            bar.update()
    return StudyRun(study, folder, results, interrupted, judge.describe(),
                    time.perf_counter() - started)


def check_folder(folder: Path) -> Path:
    """The study's folder, made if need be; one that cannot be is a StyxError."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StyxError(f"cannot make the study folder {folder}: "
                        f"{error.strerror or error}", "give another -o/--output") from None
    if not os.access(folder, os.W_OK):
        raise StyxError(f"cannot write to the study folder {folder}", "give another -o/--output")
    return folder
