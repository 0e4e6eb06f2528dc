"""The one training loop every feed-forward method shares.

A method describes *what* to train as a :class:`TrainingTask` (build the model, compute the
loss of a batch, describe itself); :func:`train` does the rest: content crops (or, with no
content folder, batches that are only a shape), the optimizer and its schedule (Adam with a
step decay unless the method gives its own factories), AMP, checkpoints with exact resume,
Ctrl-C handling, DistributedDataParallel under ``torchrun``, the progress bar and the JSON
log. A per-step hook sees the gradients before each update (StyleBank balances its two
branches there). See ``docs/training.md``.

The pieces live beside what they are about: batches in :mod:`styx.training.data`, checkpoints
and the resume checks in :mod:`styx.training.checkpoint`, the process group in
:mod:`styx.training.distributed`, signals in :mod:`styx.runtime.signals`, notes and the JSON log in
:mod:`styx.runtime.runlog`.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import functools
import json
import math
import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import torch
from torch import nn

from styx.core.bundles import TrainingOptions
from styx.core.config import to_jsonable
from styx.core.deprecation import renamed
from styx.core.errors import StyxError
from styx.core.method import StepInfo
from styx.perceptual.objective import LossTerms
from styx.runtime.memory import MemoryNeed
from styx.runtime.runlog import RunLog, write_error
from styx.runtime.signals import StopRequests
from styx.training.checkpoint import (
    check_resumable,
    load_for_resume,
    restore,
    save_checkpoint,
)
from styx.training.data import ContentImages, content_batches, mix_seed, shape_batches
from styx.training.distributed import (
    DistContext,
    gather_json,
    reduce_log,
    setup_distributed,
    wrap_model,
)

CHECKPOINT_NAME = "checkpoint.safetensors"

#: ``optimizer(model, settings) -> torch.optim.Optimizer`` over the parameters to train.
OptimizerFactory = Callable[[nn.Module, TrainingOptions], torch.optim.Optimizer]
#: ``scheduler(optimizer, settings) -> a torch learning-rate scheduler`` (stepped once per
#: iteration, its state_dict checkpointed).
SchedulerFactory = Callable[[torch.optim.Optimizer, TrainingOptions], Any]
#: ``hook(model, step, terms)``: after the backward pass of iteration ``step`` (0-based),
#: with the gradients unscaled, before the optimizer updates ``model`` (unwrapped). It may
#: rescale or clear gradients.
StepHook = Callable[[nn.Module, int, LossTerms], None]
#: ``grad_scaler(enabled) -> torch.amp.GradScaler``, or an object with its methods (``scale``,
#: ``unscale_``, ``step``, ``update``, ``is_enabled``, ``state_dict``, ``load_state_dict``):
#: the run's loss scaler. ``enabled`` says whether the run needs one (fp16 on CUDA); a scaler
#: whose ``is_enabled()`` is True has its state checkpointed and given back on resume.
GradScalerFactory = Callable[[bool], Any]


def sample_output(model: nn.Module, image: torch.Tensor | None = None, *,
                  size: tuple[int, int] = (128, 128), seed: int = 0,
                  defaults: dict[str, Any] | None = None, **options: Any) -> torch.Tensor:
    """The model's output now (1 x 3 x H x W on the CPU, in [0, 1]), for ``image``
    (1 x 3 x H x W in [0, 1]; a generator that takes none makes one of ``size``), with its
    default inputs (StyleBank: style 0) and random inputs drawn from ``seed``: what a
    training step's ``StepInfo.image(...)`` gives. ``options`` go to ``make_inputs`` (a
    painting: ``style=``), on top of ``defaults`` (the loop gives the first painting of a
    style stream). The model is put back in training mode and no gradient is kept."""
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(int(seed))
    model.eval()
    try:
        with torch.no_grad():
            picture = None if image is None or not model.takes_image else image.to(device)
            inputs = model.make_inputs(picture, size=size, generator=generator,
                                       **{**(defaults or {}), **options})
            out = model(**inputs)
    finally:
        model.train()
    return out.float().clamp(0.0, 1.0).cpu()


#: ``callback(StepInfo)``: called at every log step; raising KeyboardInterrupt from it
#: stops the run after that iteration, with a checkpoint, as Ctrl-C does.
StepCallback = Callable[[StepInfo], None]

_watchers: contextvars.ContextVar[StepCallback | None] = \
    contextvars.ContextVar("styx_training_callback", default=None)


@contextlib.contextmanager
def watching(callback: StepCallback | None) -> Iterator[None]:
    """Within the block, every :func:`train` of this thread (or task) reports each log step
    to ``callback``: how ``styx.train(callback=)`` reaches the loop through any method's
    ``train`` function, which takes its config alone."""
    token = _watchers.set(callback)
    try:
        yield
    finally:
        _watchers.reset(token)


def adam(model: nn.Module, settings: TrainingOptions) -> torch.optim.Optimizer:
    """The default optimizer: Adam at ``settings.lr`` over every trainable parameter."""
    return torch.optim.Adam(trainable_parameters(model), lr=settings.lr)


def cuda_grad_scaler(enabled: bool) -> torch.amp.GradScaler:
    """The default loss scaler: torch's CUDA GradScaler, on where ``enabled`` (off, it passes
    the loss and the step through unchanged)."""
    return torch.amp.GradScaler("cuda", enabled=enabled)  # pragma: no mutate (GPU only)


def step_decay(optimizer: torch.optim.Optimizer, settings: TrainingOptions) -> Any:
    """The default schedule: the rate times ``lr_decay`` every ``lr_decay_every``
    iterations (0: never)."""
    every = settings.lr_decay_every if settings.lr_decay_every > 0 else 10 ** 12
    return torch.optim.lr_scheduler.StepLR(optimizer, step_size=every, gamma=settings.lr_decay)


def trainable_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The parameters that ``requires_grad`` (frozen ones are left alone)."""
    return [p for p in model.parameters() if p.requires_grad]


def training_settings(settings: TrainingOptions) -> dict[str, Any]:
    """The training loop's settings of ``settings`` (a method's config may hold more), as
    JSON: what a checkpoint records and a resume compares."""
    names = [f.name for f in dataclasses.fields(TrainingOptions)]
    return {name: to_jsonable(getattr(settings, name)) for name in names}


@runtime_checkable
class TrainingTask(Protocol):
    """What a feed-forward method gives :func:`train`.

    ``training_step`` gets the model to call (a DistributedDataParallel wrapper under
    torchrun: call it, don't reach into it), a batch of N x 3 x S x S content crops in
    [0, 1] already on the device (N x 0 x S x S, a shape only, when the run has no content
    folder), and the 0-based iteration number. It returns the objective's
    :class:`~styx.perceptual.objective.LossTerms` (or a scalar loss tensor). The loop runs it
    under autocast and seeds torch's RNG per iteration, so draw noise with ``torch.rand``
    and friends. Optional: ``ddp_find_unused_parameters = True`` on the task if some
    parameters get no gradient in some steps; ``prepare(device)``, called before the first
    iteration, to build what the task builds on first use (its objective): a task that has
    it gets the loop's memory check, which runs ``training_step`` once on shapes alone (fake
    tensors, no data; :class:`~styx.training.feedforward.PerceptualTask` has it);
    ``state_dict()`` / ``load_state_dict(state)``
    if the task carries state from one iteration to the next (StyleBank's last gradient
    norm): a dict of JSON values and tensors, saved in every checkpoint and given back on
    resume, so a resumed run continues exactly; ``set_world(rank, world_size)``, called once
    before ``build_model``, to know this process's rank and the number of processes
    (:class:`styx.training.feedforward.PerceptualTask` has it).

    A second data stream: a task whose ``style_dir`` is a folder (AdaIN's paintings) gets a
    batch of style crops beside every content batch, as ``training_step(model, batch, step,
    styles=...)`` (N x 3 x S x S, cropped as the content is, or from images resized to the
    task's ``style_short_side`` first): read by workers, shuffled by its own seed, sharded
    across torchrun ranks, and fingerprinted in the checkpoint, like the content folder.
    """

    def build_model(self) -> nn.Module: ...

    def training_step(self, model: nn.Module, batch: torch.Tensor, step: int,
                      **streams: torch.Tensor) -> LossTerms: ...

    def metadata(self) -> dict: ...


@dataclass
class TrainingResult:
    """What :func:`train` returns (on every rank)."""

    model: nn.Module                      # unwrapped, in eval mode
    history: list[dict[str, Any]]         # one dict per log step, resumed runs included
    iterations_done: int
    #: This session, all ranks together, counting iterations only: not the first (which
    #: builds the descriptor) unless it is the only one, not checkpoints, not setup.
    images_per_second: float
    skipped_files: list[str]              # unreadable content images, all ranks together
    checkpoint: Path | None = None        # the last checkpoint written (rank 0)
    seconds: float = 0.0                  # wall time of this session's loop
    world_size: int = 1
    rank: int = 0                         # this process's rank (0 saves and reports)
    precision: str = "fp32"               # what the steps computed in (--amp resolved)
    #: Why each of ``skipped_files`` could not be read (path -> reason).
    skipped_reasons: dict[str, str] = field(default_factory=dict)

    @property
    def main(self) -> bool:
        """Whether this is the process that writes models and reports (rank 0)."""
        return self.rank == 0


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


# -- the loop ------------------------------------------------------------------------------
def train(task: TrainingTask, content_dir: str | os.PathLike[str] | None,
          config: TrainingOptions, *, run_dir: str | os.PathLike[str], resume: bool = False,
          restart: bool = False, log_json: str | os.PathLike[str] | None = None,
          optimizer: OptimizerFactory = adam, scheduler: SchedulerFactory = step_decay,
          hook: StepHook | None = None,
          grad_scaler: GradScalerFactory = cuda_grad_scaler) -> TrainingResult:
    """Train ``task``'s model on crops of the images in ``content_dir``.

    ``content_dir=None``: the task reads no content; its batches are shapes only.
    ``config``: the training settings (:class:`~styx.core.bundles.TrainingOptions`, or a
    method's config that derives from it). Checkpoints go to
    ``run_dir/checkpoint.safetensors`` every ``checkpoint_every`` iterations, at the end and
    on Ctrl-C (then KeyboardInterrupt is raised again). ``resume=True`` continues a run from
    its checkpoint exactly; without it a checkpoint already in ``run_dir`` is an error,
    unless ``restart=True``: then the run starts afresh and the old checkpoint stays until
    the new run writes its first one. ``optimizer`` / ``scheduler`` make the optimizer and
    its schedule; ``hook`` runs between every backward pass and update; ``grad_scaler``
    makes the loss scaler, ``grad_scaler(enabled)`` with ``enabled`` true for fp16 on CUDA
    (a GradScaler of another initial scale, or a fake one that records its calls). Under
    torchrun the model is wrapped in DistributedDataParallel, each rank reads its own share
    of the data, and rank 0 alone writes checkpoints, logs and the progress bar.
    """
    from styx.runtime.device import resolve_device

    check_run_paths(run_dir, log_json)
    device = resolve_device(config.device)
    ctx = setup_distributed(device)
    try:
        # "no mutate": lines that matter on a GPU only, see docs/testing.md.
        if ctx.active and device.type == "cuda":  # pragma: no mutate
            device = torch.device("cuda", ctx.local_rank)  # pragma: no mutate
        run = _Run(task, None if content_dir is None else Path(content_dir), config,
                   Path(run_dir), device, ctx, None if log_json is None else Path(log_json),
                   optimizer=optimizer, scheduler=scheduler, hook=hook,
                   grad_scaler=grad_scaler)
        if hasattr(task, "prepare"):  # a task that can be run on shapes (PerceptualTask's)
            run.memory_need().check()  # before the first iteration (or a --resume's load)
        for line in run.precision.announce("training"):  # the run's first line
            run.log.say(line)
        if resume:
            run.resume()
        elif run.checkpoint_path.exists() and not restart:
            raise StyxError(f"{run_dir} already holds a checkpoint",
                            "continue it with --resume, start afresh with --overwrite, "
                            "or choose another --run-dir")
        elif run.checkpoint_path.exists():
            run.log.say(f"note: starting afresh; the new run's first checkpoint replaces "
                        f"the one in {run_dir}")
        return run.loop()
    finally:
        if ctx.owned:
            import torch.distributed as dist

            dist.destroy_process_group()


def _style_seed(seed: int) -> int:
    """The seed of the style stream: its crops and order are not the content's."""
    return mix_seed("styles", seed)


def check_run_paths(run_dir: str | os.PathLike[str],
                    log_json: str | os.PathLike[str] | None = None) -> None:
    """StyxError now, before any work, for a run folder or JSON log that cannot be written:
    a run folder that is a file (or inside one), a log path that is a folder."""
    from styx.files.atomic import check_writable_folder

    folder = Path(run_dir).expanduser()
    if folder.is_file():
        raise StyxError(f"--run-dir {folder} is a file, not a folder",
                        "give a folder path to --run-dir")
    check_writable_folder(folder, what=f"--run-dir {folder}")
    if log_json is not None:
        log = Path(log_json).expanduser()
        if log.is_dir():
            raise StyxError(f"--log-json {log} is a folder", "give a file path, e.g. run.jsonl")
        check_writable_folder(log.parent, what=f"--log-json {log}")


class _Run:
    """One training session: the model, its optimizer and schedule, the data, the log."""

    def __init__(self, task: TrainingTask, content_dir: Path | None, config: TrainingOptions,
                 run_dir: Path, device: torch.device, ctx: DistContext, log_json: Path | None,
                 *, optimizer: OptimizerFactory, scheduler: SchedulerFactory,
                 hook: StepHook | None, grad_scaler: GradScalerFactory) -> None:
        from styx.runtime.device import choose_precision

        self.task, self.config, self.device, self.ctx = task, config, device, ctx
        self.settings = training_settings(config)
        self.hook = hook
        self.callback = _watchers.get()
        self.run_dir = run_dir
        self.checkpoint_path = run_dir / CHECKPOINT_NAME
        self.log = RunLog(main=ctx.main, quiet=config.quiet, log_json=log_json)
        # As it reads back from JSON (tuples as lists; what JSON lacks, as text).
        self.task_metadata = json.loads(json.dumps(to_jsonable(task.metadata()), default=str))
        self.images: ContentImages | None = None
        self.skipped: dict[str, str] = {}
        self.reported: set[str] = set()
        if content_dir is not None:
            self.images = ContentImages(content_dir, config.image_size, config.seed,
                                        short_side=config.short_side)
            self.images.first_readable()  # no readable image at all: a StyxError now
            self._note_skipped(dict(self.images.skipped))
        #: The second stream, of style images (a task's ``style_dir``: AdaIN's paintings).
        self.styles: ContentImages | None = None
        style_dir = getattr(task, "style_dir", None)
        if style_dir is not None:
            self.styles = ContentImages(style_dir, config.image_size, _style_seed(config.seed),
                                        short_side=getattr(task, "style_short_side", None))
            self.styles.first_readable()
            self._note_skipped(dict(self.styles.skipped))

        if hasattr(task, "set_world"):  # the task's place in a torchrun run
            task.set_world(ctx.rank, ctx.world_size)
        _seed("init", config.seed)
        self.model = task.build_model().to(device)  # pragma: no mutate
        if not trainable_parameters(self.model):
            raise StyxError("the model has no trainable parameters", "a bug in the method")
        self.optimizer = optimizer(self.model, config)
        self.scheduler = scheduler(self.optimizer, config)
        self.precision = choose_precision(device, config.amp)
        # fp16 on CUDA only: its calls are tested with a fake scaler (test_loss_scaling.py).
        fp16 = self.precision.dtype == torch.float16  # pragma: no mutate
        self.scaler = grad_scaler(device.type == "cuda" and fp16)  # pragma: no mutate
        self.use_scaler = bool(self.scaler.is_enabled())

        self.start = self.done = 0
        self.history: list[dict[str, Any]] = []
        self.elapsed_before = 0.0
        #: Training speed: time in timed iterations, their number, the first one's time.
        self.step_seconds, self.steps_timed, self.first_step_seconds = 0.0, 0, 0.0
        self.saved_at: int | None = None
        self.last_checkpoint: Path | None = None
        self.began = time.perf_counter()

    def memory_need(self) -> MemoryNeed:
        """One iteration's peak memory: the weights (the model's and the task's networks),
        the optimiser's state, and a shape pass of ``training_step`` on a batch with its
        backward pass (the gradients included). The task's state is put back after it."""
        from styx.runtime import meta
        from styx.runtime.device import free_bytes

        config, task = self.config, self.task
        size, count = config.image_size, config.batch_size
        task.prepare(self.device)  # what it builds on first use: real, not fake
        state = task.state_dict() if hasattr(task, "state_dict") else None
        with meta.shape_pass() as counter:
            batch = torch.empty(count, 0 if self.images is None else 3, size, size,
                                device=self.device)
            streams = {} if self.styles is None else \
                {"styles": torch.empty(count, 3, size, size, device=self.device)}
            with self.precision.autocast():
                terms = _terms_of(task.training_step(self.model, batch, 0, **streams))
            terms.total.float().backward()
            del batch, streams, terms
        self.optimizer.zero_grad(set_to_none=True)
        if state is not None:
            task.load_state_dict(state)
        holders = [task, getattr(task, "_task", None)]  # a checked task wraps the method's
        networks = [self.model, *(value for holder in holders if holder is not None
                                  for value in vars(holder).values()
                                  if isinstance(value, nn.Module))]
        weights = sum(meta.module_bytes(network) for network in networks)
        trained = meta.tensor_bytes(trainable_parameters(self.model))
        return MemoryNeed(f"training at {count} x {size}x{size} px", str(self.device),
                          {"weights": weights, "optimizer": 2 * trained,
                           "work": counter.peak}, free_bytes(self.device),
                          ("use a smaller --batch-size or --image-size",),
                          held=weights)

    # -- checkpoints -----------------------------------------------------------------------
    def resume(self) -> None:
        checkpoint = load_for_resume(self.checkpoint_path, self.ctx, self.device)
        state = checkpoint.state
        check_resumable(state, self.task_metadata, self.settings, self.checkpoint_path)
        restore(self.model, self.optimizer, self.scheduler, self.scaler, checkpoint,
                self.checkpoint_path)
        if hasattr(self.task, "load_state_dict") and state.get("task_state") is not None:
            self.task.load_state_dict(state["task_state"])
        self.start = self.done = self.saved_at = int(state["step"])
        self.last_checkpoint = self.checkpoint_path
        self.history = list(state.get("history", []))
        self.skipped.update(state.get("skipped_files", {}))
        for images in self._streams():  # known to be unreadable: not tried again
            images.skipped.update(self.skipped)
        self.reported.update(self.skipped)
        self.elapsed_before = float(state.get("elapsed_seconds", 0.0))
        data = state.get("data", {}) if isinstance(state.get("data"), dict) else {}
        old_world = int(data.get("world_size", 1))
        if old_world != self.ctx.world_size:
            self.log.say(f"note: the run used {old_world} process(es), now "
                         f"{self.ctx.world_size}: it continues, but not bit for bit")
        old_precision = state.get("precision", self.precision.name)
        if old_precision != self.precision.name:  # --amp auto on another machine
            self.log.say(f"note: the run computed in {old_precision}, now in "
                         f"{self.precision.name}: it continues, but not bit for bit (give "
                         f"--amp {old_precision} to keep it)")
        for what, images, prefix in (("content", self.images, ""),
                                     ("style", self.styles, "style_")):
            if images is not None and \
                    data.get(f"{prefix}files") not in (None, images.fingerprint()):
                self.log.say(f"note: the {what} images differ from the run's "
                             f"({data.get(prefix + 'images')} file(s) in "
                             f"{data.get(prefix + 'dir' if prefix else 'content_dir')}, now "
                             f"{len(images)} in {images.folder}): it continues, but not bit "
                             "for bit")
        self.log.say(f"resuming {self.run_dir} at iteration {self.start}/"
                     f"{self.config.iterations}")

    def save(self) -> None:
        """Write the checkpoint of the state after ``self.done`` iterations (rank 0)."""
        self.saved_at = self.done
        if not self.ctx.main:
            return
        config = self.config
        data: dict[str, Any] = {"samples_per_rank": self.done * config.batch_size,
                                "world_size": self.ctx.world_size, "seed": config.seed}
        if self.images is not None:
            data.update({"content_dir": str(self.images.folder), "images": len(self.images),
                         "files": self.images.fingerprint()})
        if self.styles is not None:
            data.update({"style_dir": str(self.styles.folder), "style_images": len(self.styles),
                         "style_files": self.styles.fingerprint()})
        state = {
            "step": self.done,
            "data": data,
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict() if self.use_scaler else None,
            "rng": {"scheme": "seeded per iteration from (seed, rank, iteration)",
                    "seed": config.seed},
            "config": self.settings,
            "task": self.task_metadata,
            "history": self.history,
            "task_state": self.task.state_dict() if hasattr(self.task, "state_dict") else None,
            "skipped_files": dict(sorted(self.skipped.items())),
            "elapsed_seconds": self.elapsed_before + time.perf_counter() - self.began,
            "precision": self.precision.name,
        }
        try:
            self.last_checkpoint = save_checkpoint(
                self.checkpoint_path, self.model.state_dict(), self.optimizer.state_dict(),
                state)
        except OSError as error:
            raise write_error("the checkpoint", self.checkpoint_path, error) from None

    # -- the loop --------------------------------------------------------------------------
    def _streams(self) -> list[ContentImages]:
        return [images for images in (self.images, self.styles) if images is not None]

    def batches(self) -> Iterator[tuple[torch.Tensor, dict[str, str], dict[str, Any]]]:
        """Endless ``(content batch, newly skipped files, the task's other batches)``: the
        other batches are ``{"styles": ...}`` for a task with a style stream."""
        config, ctx = self.config, self.ctx
        pin_memory = self.device.type == "cuda"  # pragma: no mutate (GPU only)

        def stream(images: ContentImages, seed: int) -> Iterator[Any]:
            return content_batches(images, batch_size=config.batch_size, seed=seed,
                                   start=self.start * config.batch_size, rank=ctx.rank,
                                   world_size=ctx.world_size, num_workers=config.num_workers,
                                   pin_memory=pin_memory)

        contents = shape_batches(config.batch_size, config.image_size) \
            if self.images is None else stream(self.images, config.seed)
        if self.styles is None:
            return ((batch, skipped, {}) for batch, skipped in contents)
        styles = stream(self.styles, _style_seed(config.seed))
        return ((batch, {**skipped, **style_skipped}, {"styles": style_batch})
                for (batch, skipped), (style_batch, style_skipped) in zip(contents, styles))

    def loop(self) -> TrainingResult:
        from styx.runtime.progress import Progress

        config, ctx = self.config, self.ctx
        self.log.start(self.history)
        self.began = time.perf_counter()
        if self.start < config.iterations:
            step_model = wrap_model(
                self.model, ctx, self.device,
                find_unused_parameters=bool(getattr(self.task, "ddp_find_unused_parameters",
                                                    False)))
            self.model.train()
            batches = self.batches()
            description = "training" if self.start == 0 else f"training (from {self.start})"
            self.committing = self.announced = False
            try:
                with StopRequests(self.log.say) as stops, \
                        Progress(config.iterations - self.start, description,
                                 quiet=config.quiet or not ctx.main) as bar:
                    self._iterate(step_model, batches, stops, bar)
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
                del batches
        return self._result(time.perf_counter() - self.began)

    def _iterate(self, step_model: nn.Module, batches: Any, stops: StopRequests,
                 bar: Any) -> None:
        config = self.config
        window = (0.0, 0)  # (step seconds, steps timed) at the last log step
        for step in range(self.start, config.iterations):
            step_began = time.perf_counter()
            _seed("step", config.seed, self.ctx.rank, step)
            batch, newly_skipped, others = next(batches)
            self._note_skipped(newly_skipped)
            batch = batch.to(self.device, non_blocking=True)  # pragma: no mutate
            others = {name: value.to(self.device, non_blocking=True)  # pragma: no mutate
                      for name, value in others.items()}
            self.optimizer.zero_grad()  # set_to_none, the default
            with self.precision.autocast():
                terms = _terms_of(self.task.training_step(step_model, batch, step, **others))
            lr = self.optimizer.param_groups[0]["lr"]
            self.scaler.scale(terms.total.float()).backward()
            if self.hook is not None:
                self.scaler.unscale_(self.optimizer)
                self.hook(self.model, step, terms)
            self.committing = True
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.scheduler.step()
            self.committing = False
            self.done = step + 1
            self._time_step(time.perf_counter() - step_began, first=step == self.start)
            metrics: dict[str, float] = {}
            # Single process: stop at once. DDP: ranks agree on stopping at log steps.
            stop = stops.requested and not self.ctx.active
            if self.done % config.log_every == 0 or self.done == config.iterations:
                now = time.perf_counter()
                rate = self._rate(self.step_seconds - window[0], self.steps_timed - window[1])
                window = (self.step_seconds, self.steps_timed)
                values, stop = reduce_log(terms.as_floats(), stops.requested, self.ctx,
                                          self.device)
                self._record(values, lr, rate, now)
                metrics = {"loss": values["total"], "img/s": rate}
                stop = self._tell_callback() or stop
            bar.update(**metrics)  # one iteration
            if (config.checkpoint_every and self.done % config.checkpoint_every == 0) \
                    or self.done == config.iterations or stop:
                self.save()
            if stop:
                self.log.say_always(f"stopped at iteration {self.done}; checkpoint in "
                                    f"{self.checkpoint_path}; continue with --resume")
                self.announced = True
                raise KeyboardInterrupt

    @functools.cached_property
    def _sample_styles(self) -> dict[str, torch.Tensor]:
        """The painting a callback's ``image(photo)`` uses for each style input: the style
        stream's first (none without a stream), read once."""
        names = [item.name for item in getattr(self.model, "style_inputs", [])]
        if self.styles is None or not names:
            return {}
        painting = self.styles[self.styles.first_readable()][None]
        return dict.fromkeys(names, painting)

    def _tell_callback(self) -> bool:
        """Report the step just logged to the callback; True if it asks to stop."""
        if self.callback is None or not self.ctx.main:
            return False
        entry = self.history[-1]
        losses = {key: value for key, value in entry.items()
                  if key not in ("step", "elapsed") and isinstance(value, (int, float))}
        try:
            self.callback(StepInfo(self.done, self.config.iterations, losses,
                                   float(entry["elapsed"]),
                                   functools.partial(sample_output, self.model,
                                                     defaults=self._sample_styles),
                                   model=self.model))
        except KeyboardInterrupt:
            return not self.ctx.active  # under torchrun, ranks stop together (Ctrl-C)
        return False

    @property
    def _images_per_step(self) -> int:
        return self.config.batch_size * self.ctx.world_size

    def _time_step(self, seconds: float, *, first: bool) -> None:
        """Count one iteration's time (data, forward, backward, update) in the speed. The
        session's first one builds what the task builds lazily (the descriptor, the style
        targets), so it counts only while it is the only one; checkpoints never count."""
        if first:
            self.first_step_seconds = seconds
            return
        self.step_seconds += seconds
        self.steps_timed += 1

    def _rate(self, seconds: float, steps: int) -> float:
        """Images per second over ``steps`` timed iterations (the first alone, if none)."""
        if steps <= 0:
            seconds, steps = self.first_step_seconds, 1
        return steps * self._images_per_step / max(seconds, 1e-9)

    def _note_skipped(self, newly_skipped: dict[str, str]) -> None:
        from styx.files.badfiles import skip_line

        for path, reason in newly_skipped.items():
            self.skipped[path] = reason
            if path not in self.reported:  # once, when first met; even -q (README "Bad files")
                self.reported.add(path)
                self.log.say_always(skip_line(path, reason))

    def _record(self, values: dict[str, float], lr: float, rate: float, now: float) -> None:
        if not all(math.isfinite(v) for v in values.values()):
            raise StyxError(f"the loss became {values.get('total')} at iteration {self.done}",
                            "lower --lr or the loss weights; --resume continues from the "
                            "last checkpoint")
        entry = {"step": self.done, "lr": lr, **values, "images_per_second": rate,
                 "elapsed": self.elapsed_before + now - self.began,
                 "precision": self.precision.name}
        self.history.append(entry)
        self.log.record(entry)

    def _result(self, seconds: float) -> TrainingResult:
        ctx = self.ctx
        per_rank = gather_json(dict(self.skipped), ctx, self.device)
        reasons = {path: reason for files in per_rank for path, reason in files.items()}
        skipped = sorted(reasons)
        if skipped:
            self.log.say(f"{len(skipped)} unreadable content image(s) skipped")
        if ctx.active:
            import torch.distributed as dist

            dist.barrier()
        self.model.eval()
        trained = self.done - self.start
        return TrainingResult(
            model=self.model, history=self.history, iterations_done=self.done,
            images_per_second=self._rate(self.step_seconds, self.steps_timed)
            if trained else 0.0,
            skipped_files=skipped, checkpoint=self.last_checkpoint, seconds=seconds,
            world_size=ctx.world_size, rank=ctx.rank, precision=self.precision.name,
            skipped_reasons={path: reasons[path] for path in skipped})


__all__ = ["CHECKPOINT_NAME", "GradScalerFactory", "OptimizerFactory", "SchedulerFactory",
           "StepCallback", "StepHook", "TrainingOptions", "TrainingResult", "TrainingTask",
           "adam", "check_run_paths", "cuda_grad_scaler", "sample_output", "step_decay",
           "train", "trainable_parameters", "training_settings", "watching"]

#: styx 0.1's names.
__getattr__ = renamed(__name__, {"TrainStep": ("StepInfo", StepInfo),
                                 "TrainResult": ("TrainingResult", TrainingResult),
                                 "TrainCallback": ("StepCallback", StepCallback)})
