"""The one training loop every feed-forward method shares.

A method describes *what* to train as a :class:`TrainingTask` (build the model, compute the
loss of a batch, describe itself); :func:`train` does the rest: content crops, Adam with a
step decay, AMP, checkpoints with exact resume, Ctrl-C handling, DistributedDataParallel
under ``torchrun``, the progress bar and the JSON log. See ``docs/training.md``.
"""

from __future__ import annotations

import json
import math
import os
import random
import signal
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import torch
from torch import nn

from styx.core.checkpoint import Checkpoint, read_checkpoint, save_checkpoint
from styx.core.data import ContentImages, ContentStream, mix_seed
from styx.core.distributed import (
    DistContext,
    broadcast_bytes,
    gather_json,
    reduce_log,
    setup_distributed,
)
from styx.core.errors import StyxError
from styx.core.objective import LossTerms

CHECKPOINT_NAME = "checkpoint.safetensors"

#: TrainConfig fields a resumed run must share with the run it continues (the others, such
#: as ``iterations``, ``device`` or ``checkpoint_every``, may change between the two).
RESUME_KEYS = ("batch_size", "image_size", "lr", "lr_decay", "lr_decay_every", "seed",
               "short_side")

#: Task metadata keys that may differ between a run and its resumption.
_VOLATILE_METADATA = ("styx_version", "created")


@dataclass
class TrainConfig:
    """How to train. ``batch_size`` is per process (under torchrun, N processes see N x it)."""

    iterations: int = 2000
    batch_size: int = 4
    image_size: int = 256           # random square crops of the content images
    lr: float = 1e-3
    lr_decay: float = 0.8           # multiply the learning rate by this ...
    lr_decay_every: int = 2000      # ... every N iterations (0: never)
    checkpoint_every: int = 500     # 0: only at the end (and on Ctrl-C)
    log_every: int = 10
    seed: int = 0
    device: str = "auto"
    amp: str = "auto"               # see styx.core.device.autocast
    num_workers: int = 0
    quiet: bool = False
    short_side: int | None = None   # resize images to this shorter side before cropping

    def validate(self) -> TrainConfig:
        """StyxError for a value no run could use (named as the CLI option)."""
        def need(ok: bool, name: str, rule: str) -> None:
            if not ok:
                option = "--" + name.replace("_", "-")
                raise StyxError(f"bad {option} {getattr(self, name)!r}", f"{option} {rule}")

        def finite(value: Any) -> bool:
            return isinstance(value, (int, float)) and math.isfinite(value)

        need(isinstance(self.iterations, int) and self.iterations >= 1, "iterations",
             "must be >= 1")
        need(isinstance(self.batch_size, int) and self.batch_size >= 1, "batch_size",
             "must be >= 1")
        need(isinstance(self.image_size, int) and self.image_size >= 8, "image_size",
             "must be >= 8 pixels")
        need(finite(self.lr) and self.lr > 0, "lr", "must be a number > 0")
        need(finite(self.lr_decay) and 0 < self.lr_decay <= 1, "lr_decay",
             "must be in (0, 1]")
        need(isinstance(self.lr_decay_every, int) and self.lr_decay_every >= 0,
             "lr_decay_every", "must be >= 0 (0: never)")
        need(isinstance(self.checkpoint_every, int) and self.checkpoint_every >= 0,
             "checkpoint_every", "must be >= 0 (0: only at the end)")
        need(isinstance(self.log_every, int) and self.log_every >= 1, "log_every",
             "must be >= 1")
        need(isinstance(self.num_workers, int) and self.num_workers >= 0, "num_workers",
             "must be >= 0")
        need(self.short_side is None or (isinstance(self.short_side, int)
                                         and self.short_side >= self.image_size),
             "short_side", "must be >= --image-size")
        return self


@runtime_checkable
class TrainingTask(Protocol):
    """What a feed-forward method gives :func:`train`.

    ``training_step`` gets the model to call (a DistributedDataParallel wrapper under
    torchrun: call it, don't reach into it), a batch of N x 3 x S x S content crops in
    [0, 1] already on the device, and the 0-based iteration number. It returns the
    objective's :class:`~styx.core.objective.LossTerms` (or a scalar loss tensor). The loop
    runs it under autocast and seeds torch's RNG per iteration, so draw noise with
    ``torch.rand`` and friends. Optional: ``ddp_find_unused_parameters = True`` on the task
    if some parameters get no gradient in some steps.
    """

    def build_model(self) -> nn.Module: ...

    def training_step(self, model: nn.Module, batch: torch.Tensor, step: int
                      ) -> LossTerms: ...

    def metadata(self) -> dict: ...


@dataclass
class TrainResult:
    """What :func:`train` returns (on every rank)."""

    model: nn.Module                      # unwrapped, in eval mode
    history: list[dict[str, Any]]         # one dict per log step, resumed runs included
    iterations_done: int
    images_per_second: float              # this session, all ranks together
    skipped_files: list[str]              # unreadable content images, all ranks together
    checkpoint: Path | None = None        # the last checkpoint written (rank 0)
    seconds: float = 0.0                  # wall time of this session's loop
    world_size: int = 1


# -- Ctrl-C --------------------------------------------------------------------------------
class _StopRequests:
    """SIGINT/SIGTERM ask the loop to stop after the current iteration; a second one
    raises KeyboardInterrupt at once. Only in the main thread; elsewhere a no-op."""

    def __init__(self, say) -> None:
        self.requested = False
        self._say = say
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                try:
                    self._previous[signum] = signal.signal(signum, self._handle)
                except (ValueError, OSError):
                    pass

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        self._say("stopping after this iteration to save a checkpoint "
                  "(press Ctrl-C again to stop at once)")

    def restore(self) -> None:
        for signum, handler in self._previous.items():
            try:
                signal.signal(signum, handler)
            except (ValueError, OSError):
                pass


# -- helpers -------------------------------------------------------------------------------
def _seed(*parts: object) -> None:
    value = mix_seed(*parts)
    torch.manual_seed(value)    # every device's generator
    random.seed(value)


def _terms_of(result: Any) -> LossTerms:
    if isinstance(result, LossTerms):
        return result
    if isinstance(result, torch.Tensor) and result.dim() == 0:
        return LossTerms(total=result)
    raise TypeError("training_step must return LossTerms or a scalar tensor, "
                    f"not {type(result).__name__}")


def _normalised(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples -> lists, etc.)."""
    return json.loads(json.dumps(value, default=str))


_MISSING = "<missing>"


def _differences(old: dict, new: dict, ignore: tuple[str, ...] = (), prefix: str = ""
                 ) -> list[str]:
    """``key: old -> new`` for every differing key, nested dicts as dotted keys."""
    keys = sorted((set(old) | set(new)) - set(ignore))
    found: list[str] = []
    for key in keys:
        a, b = old.get(key, _MISSING), new.get(key, _MISSING)
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            found += _differences(a, b, prefix=f"{prefix}{key}.")
        else:
            found.append(f"{prefix}{key}: {_short_value(a)} -> {_short_value(b)}")
    return found


def _short_value(value: Any) -> str:
    text = value if value == _MISSING else json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _collate(items: list[tuple[torch.Tensor, tuple[tuple[str, str], ...]]]
             ) -> tuple[torch.Tensor, dict[str, str]]:
    crops = torch.stack([crop for crop, _ in items])
    skipped = {path: reason for _, pairs in items for path, reason in pairs}
    return crops, skipped


class _Samples(torch.utils.data.Dataset):
    """``ContentImages.sample`` behind the Dataset interface, keyed by ``(epoch, index)``."""

    def __init__(self, images: ContentImages) -> None:
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, key: tuple[int, int]
                    ) -> tuple[torch.Tensor, tuple[tuple[str, str], ...]]:
        return self.images.sample(*key)


def _make_loader(images: ContentImages, config: TrainConfig, ctx: DistContext, start: int,
                 device: torch.device) -> torch.utils.data.DataLoader:
    stream = ContentStream(len(images), config.seed, rank=ctx.rank,
                           world_size=ctx.world_size, start=start)
    return torch.utils.data.DataLoader(
        _Samples(images), batch_size=config.batch_size, sampler=stream,
        num_workers=config.num_workers, collate_fn=_collate, drop_last=True,
        pin_memory=device.type == "cuda",
        # A generator of its own: making the iterator must not draw from the global RNG.
        generator=torch.Generator().manual_seed(mix_seed("loader", config.seed)),
        persistent_workers=False)


def _make_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig):
    every = config.lr_decay_every if config.lr_decay_every > 0 else 10 ** 12
    return torch.optim.lr_scheduler.StepLR(optimizer, step_size=every, gamma=config.lr_decay)


class _Log:
    """The say() of rank 0 (stderr, unless quiet) and the JSON-lines log."""

    def __init__(self, ctx: DistContext, quiet: bool, log_json: Path | None) -> None:
        self.main = ctx.main
        self.enabled = ctx.main and not quiet
        self.path = Path(log_json) if (log_json is not None and ctx.main) else None

    def say(self, text: str) -> None:
        if self.enabled:
            print(text, file=sys.stderr, flush=True)

    def say_always(self, text: str) -> None:
        """Said even when quiet (rank 0), like an error: where a stopped run's checkpoint
        is and how to continue it."""
        if self.main:
            print(text, file=sys.stderr, flush=True)

    def start(self, history: list[dict[str, Any]]) -> None:
        if self.path is None:
            return
        from styx.core.atomic import atomic_path

        try:
            with atomic_path(self.path) as temp:
                temp.write_text("".join(json.dumps(h) + "\n" for h in history),
                                encoding="utf-8")
        except OSError as error:
            raise _write_error("the JSON log", self.path, error) from None

    def record(self, entry: dict[str, Any]) -> None:
        if self.path is not None:
            try:
                with open(self.path, "a", encoding="utf-8") as handle:
                    handle.write(json.dumps(entry) + "\n")
            except OSError as error:
                raise _write_error("the JSON log", self.path, error) from None


def _write_error(what: str, path: Path, error: OSError) -> StyxError:
    return StyxError(f"cannot write {what} {path}: {error.strerror or error}",
                     "check the path and the free disk space; --resume continues from the "
                     "last checkpoint")


# -- the loop ------------------------------------------------------------------------------
def train(task: TrainingTask, content_dir: str | os.PathLike[str], config: TrainConfig, *,
          run_dir: str | os.PathLike[str], resume: bool = False, restart: bool = False,
          log_json: str | os.PathLike[str] | None = None) -> TrainResult:
    """Train ``task``'s model on crops of the images in ``content_dir``.

    Checkpoints go to ``run_dir/checkpoint.safetensors`` every ``checkpoint_every``
    iterations, at the end and on Ctrl-C (then KeyboardInterrupt is raised again).
    ``resume=True`` continues a run from its checkpoint exactly; without it a checkpoint
    already in ``run_dir`` is an error, unless ``restart=True``: then the run starts afresh
    and the old checkpoint stays until the new run writes its first one. Under torchrun the model
    is wrapped in DistributedDataParallel, each rank reads its own share of the data, and
    rank 0 alone writes checkpoints, logs and the progress bar.
    """
    from styx.core.device import resolve_device

    config.validate()
    check_run_paths(run_dir, log_json)
    device = resolve_device(config.device)
    ctx = setup_distributed(device)
    try:
        if ctx.active and device.type == "cuda":
            device = torch.device("cuda", ctx.local_rank)
        run = _Run(task, Path(content_dir), config, Path(run_dir), device, ctx,
                   None if log_json is None else Path(log_json))
        if resume:
            run.resume()
        elif run.checkpoint_path.exists() and not restart:
            raise StyxError(f"{run_dir} already holds a checkpoint",
                            "continue it with --resume, or choose another --run-dir")
        return run.loop()
    finally:
        if ctx.owned:
            import torch.distributed as dist

            dist.destroy_process_group()


def check_run_paths(run_dir: str | os.PathLike[str],
                    log_json: str | os.PathLike[str] | None = None) -> None:
    """StyxError now, before any work, for a run folder or JSON log that cannot be written:
    a run folder that is a file (or inside one), a log path that is a folder."""
    def writable_folder(folder: Path, option: str) -> None:
        existing = folder
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        if not existing.is_dir():
            raise StyxError(f"{option} {folder}: {existing} is a file, not a folder",
                            f"give a folder path to {option}")
        if not os.access(existing, os.W_OK | os.X_OK):
            raise StyxError(f"{option} {folder}: {existing} is not writable",
                            f"choose a {option} you can write to")

    writable_folder(Path(run_dir).expanduser(), "--run-dir")
    if log_json is not None:
        log = Path(log_json).expanduser()
        if log.is_dir():
            raise StyxError(f"--log-json {log} is a folder", "give a file path, e.g. run.jsonl")
        writable_folder(log.parent, "--log-json")


class _Run:
    """One training session: the model, its optimizer and schedule, the data, the log."""

    def __init__(self, task: TrainingTask, content_dir: Path, config: TrainConfig,
                 run_dir: Path, device: torch.device, ctx: DistContext, log_json: Path | None
                 ) -> None:
        from styx.core.device import autocast_dtype

        self.task, self.config, self.device, self.ctx = task, config, device, ctx
        self.run_dir = run_dir
        self.checkpoint_path = run_dir / CHECKPOINT_NAME
        self.log = _Log(ctx, config.quiet, log_json)
        self.task_metadata = _normalised(task.metadata())
        self.images = ContentImages(content_dir, config.image_size, config.seed,
                                    short_side=config.short_side)
        self.reported: set[str] = set()
        self.images.first_readable()  # no readable image at all: a StyxError now
        self._note_skipped(dict(self.images.skipped))

        _seed("init", config.seed)
        self.model = task.build_model().to(device)
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        if not trainable:
            raise StyxError("the model has no trainable parameters", "a bug in the method")
        self.optimizer = torch.optim.Adam(trainable, lr=config.lr)
        self.scheduler = _make_scheduler(self.optimizer, config)
        self.use_scaler = device.type == "cuda" and \
            autocast_dtype(device, config.amp) == torch.float16
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_scaler)

        self.start = self.done = 0
        self.history: list[dict[str, Any]] = []
        self.elapsed_before = 0.0
        self.saved_at: int | None = None
        self.last_checkpoint: Path | None = None
        self.began = time.perf_counter()

    # -- checkpoints -----------------------------------------------------------------------
    def resume(self) -> None:
        checkpoint = _load_for_resume(self.checkpoint_path, self.ctx, self.device)
        state = checkpoint.state
        _check_resumable(state, self.task_metadata, self.config, self.checkpoint_path)
        _restore(self.model, self.optimizer, self.scheduler, self.scaler, checkpoint,
                 self.checkpoint_path)
        self.start = self.done = self.saved_at = int(state["step"])
        self.last_checkpoint = self.checkpoint_path
        self.history = list(state.get("history", []))
        self.images.skipped.update(state.get("skipped_files", {}))
        self.reported.update(self.images.skipped)
        self.elapsed_before = float(state.get("elapsed_seconds", 0.0))
        data = state.get("data", {}) if isinstance(state.get("data"), dict) else {}
        old_world = int(data.get("world_size", 1))
        if old_world != self.ctx.world_size:
            self.log.say(f"note: the run used {old_world} process(es), now "
                         f"{self.ctx.world_size}: it continues, but not bit for bit")
        if data.get("files") not in (None, self.images.fingerprint()):
            self.log.say(f"note: the content images differ from the run's ({data.get('images')}"
                         f" file(s) in {data.get('content_dir')}, now {len(self.images)} in "
                         f"{self.images.folder}): it continues, but not bit for bit")
        self.log.say(f"resuming {self.run_dir} at iteration {self.start}/"
                     f"{self.config.iterations}")

    def save(self) -> None:
        """Write the checkpoint of the state after ``self.done`` iterations (rank 0)."""
        self.saved_at = self.done
        if not self.ctx.main:
            return
        config = self.config
        state = {
            "step": self.done,
            "data": {"samples_per_rank": self.done * config.batch_size,
                     "world_size": self.ctx.world_size, "seed": config.seed,
                     "content_dir": str(self.images.folder),
                     "images": len(self.images), "files": self.images.fingerprint()},
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict() if self.use_scaler else None,
            "rng": {"scheme": "seeded per iteration from (seed, rank, iteration)",
                    "seed": config.seed},
            "config": asdict(config),
            "task": self.task_metadata,
            "history": self.history,
            "skipped_files": dict(sorted(self.images.skipped.items())),
            "elapsed_seconds": self.elapsed_before + time.perf_counter() - self.began,
        }
        try:
            self.last_checkpoint = save_checkpoint(
                self.checkpoint_path, self.model.state_dict(), self.optimizer.state_dict(),
                state)
        except OSError as error:
            raise _write_error("the checkpoint", self.checkpoint_path, error) from None

    # -- the loop --------------------------------------------------------------------------
    def loop(self) -> TrainResult:
        from styx.core.progress import Progress

        config, ctx = self.config, self.ctx
        self.log.start(self.history)
        self.began = time.perf_counter()
        if self.start < config.iterations:
            step_model = self._wrapped_model()
            self.model.train()
            loader = _make_loader(self.images, config, ctx, self.start * config.batch_size,
                                  self.device)
            stops = _StopRequests(self.log.say)
            description = "training" if self.start == 0 else f"training (from {self.start})"
            self.committing = self.announced = False
            stops.install()
            try:
                with Progress(config.iterations - self.start, description,
                              quiet=config.quiet or not ctx.main) as bar:
                    self._iterate(step_model, iter(loader), stops, bar)
            except KeyboardInterrupt:
                # Raised inside training_step or backward, the model and optimizer still
                # hold the state after `done` iterations: save it (never mid-update).
                if not self.committing and self.saved_at != self.done:
                    self.save()
                if self.saved_at is not None and not self.announced:
                    self.log.say_always(
                        f"interrupted at iteration {self.done}; checkpoint of iteration "
                        f"{self.saved_at} in {self.checkpoint_path}; continue with --resume")
                raise
            finally:
                stops.restore()
                del loader
        return self._result(time.perf_counter() - self.began)

    def _wrapped_model(self) -> nn.Module:
        if not self.ctx.active:
            return self.model
        from torch.nn.parallel import DistributedDataParallel

        return DistributedDataParallel(
            self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None,
            find_unused_parameters=bool(getattr(self.task, "ddp_find_unused_parameters",
                                                False)))

    def _iterate(self, step_model: nn.Module, batches: Any, stops: _StopRequests,
                 bar: Any) -> None:
        from styx.core.device import autocast

        config = self.config
        window = (time.perf_counter(), self.start)
        for step in range(self.start, config.iterations):
            _seed("step", config.seed, self.ctx.rank, step)
            batch, newly_skipped = next(batches)
            self._note_skipped(newly_skipped)
            batch = batch.to(self.device, non_blocking=True)
            self.optimizer.zero_grad(set_to_none=True)
            with autocast(self.device, config.amp):
                terms = _terms_of(self.task.training_step(step_model, batch, step))
            lr = self.optimizer.param_groups[0]["lr"]
            self.scaler.scale(terms.total.float()).backward()
            self.committing = True
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.scheduler.step()
            self.committing = False
            self.done = step + 1
            metrics: dict[str, float] = {}
            # Single process: stop at once. DDP: ranks agree on stopping at log steps.
            stop = stops.requested and not self.ctx.active
            if self.done % config.log_every == 0 or self.done == config.iterations:
                now = time.perf_counter()
                rate = (self.done - window[1]) * self._images_per_step / max(
                    now - window[0], 1e-9)
                window = (now, self.done)
                values, stop = reduce_log(terms.as_floats(), stops.requested, self.ctx,
                                           self.device)
                self._record(values, lr, rate, now)
                metrics = {"loss": values["total"], "img/s": rate}
            bar.update(1, **metrics)
            if (config.checkpoint_every and self.done % config.checkpoint_every == 0) \
                    or self.done == config.iterations or stop:
                self.save()
            if stop:
                self.log.say_always(f"stopped at iteration {self.done}; checkpoint in "
                                    f"{self.checkpoint_path}; continue with --resume")
                self.announced = True
                raise KeyboardInterrupt

    @property
    def _images_per_step(self) -> int:
        return self.config.batch_size * self.ctx.world_size

    def _note_skipped(self, newly_skipped: dict[str, str]) -> None:
        for path, reason in newly_skipped.items():
            self.images.skipped[path] = reason
            if path not in self.reported:
                self.reported.add(path)
                self.log.say(f"skipping unreadable content image: {reason}")

    def _record(self, values: dict[str, float], lr: float, rate: float, now: float) -> None:
        if not all(math.isfinite(v) for v in values.values()):
            raise StyxError(f"the loss became {values.get('total')} at iteration {self.done}",
                            "lower --lr or the loss weights; --resume continues from the "
                            "last checkpoint")
        entry = {"step": self.done, "lr": lr, **values, "images_per_second": rate,
                 "elapsed": self.elapsed_before + now - self.began}
        self.history.append(entry)
        self.log.record(entry)

    def _result(self, seconds: float) -> TrainResult:
        ctx = self.ctx
        per_rank = gather_json(dict(self.images.skipped), ctx, self.device)
        skipped = sorted({path for files in per_rank for path in files})
        if skipped:
            self.log.say(f"{len(skipped)} unreadable content image(s) skipped")
        if ctx.active:
            import torch.distributed as dist

            dist.barrier()
        self.model.eval()
        trained = self.done - self.start
        return TrainResult(
            model=self.model, history=self.history, iterations_done=self.done,
            images_per_second=trained * self._images_per_step / seconds if trained else 0.0,
            skipped_files=skipped, checkpoint=self.last_checkpoint, seconds=seconds,
            world_size=ctx.world_size)


def _load_for_resume(path: Path, ctx: DistContext, device: torch.device) -> Checkpoint:
    if not ctx.active:
        if not path.exists():
            raise StyxError(f"no checkpoint to resume in {path.parent}",
                            "start the run without --resume")
        return read_checkpoint(path)
    # Rank 0 reads the file and sends its bytes: other machines need no shared folder.
    data = path.read_bytes() if ctx.main and path.is_file() else None
    data = broadcast_bytes(data, ctx, device)
    if data is None:
        raise StyxError(f"no checkpoint to resume in {path.parent} (on rank 0)",
                        "start the run without --resume")
    return read_checkpoint(data, name=str(path))


def _check_resumable(state: dict[str, Any], task_metadata: dict[str, Any],
                     config: TrainConfig, path: Path) -> None:
    old_task = state.get("task", {})
    if not isinstance(old_task, dict):
        old_task = {}
    if old_task.get("method") != task_metadata.get("method"):
        raise StyxError(f"{path} was written by method {old_task.get('method')!r}, "
                        f"not {task_metadata.get('method')!r}",
                        "resume with the same method, or choose another --run-dir")
    changed = _differences(old_task, task_metadata, _VOLATILE_METADATA)
    if changed:
        more = f"; and {len(changed) - 3} more" if len(changed) > 3 else ""
        raise StyxError(f"{path} was trained with other settings "
                        f"({'; '.join(changed[:3])}{more})",
                        "resume with the options of the first run, or choose another "
                        "--run-dir")
    old_config = state.get("config", {})
    new_config = asdict(config)
    changed = [k for k in RESUME_KEYS if old_config.get(k) != new_config.get(k)]
    if changed:
        was = ", ".join(f"--{k.replace('_', '-')} {old_config.get(k)!r}" for k in changed)
        raise StyxError(f"{path} was trained with other settings ({was})",
                        "resume with the same settings, or choose another --run-dir")
    if not isinstance(state.get("step"), int) or state["step"] < 0:
        raise StyxError(f"{path} has no valid iteration count",
                        "the checkpoint is damaged; delete it to start over")


def _restore(model: nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any,
             scaler: Any, checkpoint: Checkpoint, path: Path) -> None:
    hint = "resume with the options of the first run, or choose another --run-dir"
    try:
        model.load_state_dict(checkpoint.model, strict=True)
    except RuntimeError as error:
        first = str(error).strip().splitlines()
        raise StyxError(f"{path} does not fit this model: "
                        f"{' '.join(first[1:2]).strip() or first[0]}", hint) from None
    if checkpoint.optimizer is None:
        raise StyxError(f"{path} has no optimizer state", "delete it to start over")
    try:
        optimizer.load_state_dict(checkpoint.optimizer)
        scheduler.load_state_dict(checkpoint.state["scheduler"])
        if checkpoint.state.get("scaler") and scaler.is_enabled():
            scaler.load_state_dict(checkpoint.state["scaler"])
    except (KeyError, ValueError, TypeError, RuntimeError) as error:
        raise StyxError(f"{path} has an optimizer state that does not fit: {error}", hint) \
            from None


__all__ = ["CHECKPOINT_NAME", "RESUME_KEYS", "TrainConfig", "TrainResult", "TrainingTask",
           "check_run_paths", "train"]
