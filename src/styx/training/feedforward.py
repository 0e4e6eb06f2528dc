"""Training a feed-forward method's generator and saving it, with no method-specific code.

* :class:`PerceptualTask` is the base of a method's training task (the
  :class:`~styx.training.loop.TrainingTask` the loop runs) that scores its generator with the
  perceptual objective: the style images loaded and hashed, the objective built on first
  use and moved to the batches' device with its style targets computed there in full
  precision, the process's rank, and the metadata every model carries.
* :func:`train_generator` trains a task with the shared loop and saves the generator: it
  checks the model name or folder and the run folder before any work (:func:`plan_training`),
  picks the run folder, writes the training metadata and saves on rank 0 only.
* :func:`trainer` is a method's ``train`` function: its own (``MethodSpec.train``), or, for a
  method that registers only its task class (``MethodSpec.task``), :func:`train_task`.

Loading and running the result is :mod:`styx.generators.models`.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import torch

from styx.core import __version__
from styx.core.errors import StyxError
from styx.core.method import generator_class, method_spec
from styx.core.specs import MethodSpec, load_object
from styx.files.modelstore import model_destination, save_model, sha256_file, styx_home
from styx.generators.generator import Generator
from styx.perceptual.objective import PerceptualObjective, build_objective, used_layers
from styx.runtime.image_tensors import input_size, read_image
from styx.training.loop import (
    adam,
    check_run_paths,
    step_decay,
    train,
    training_settings,
)

if TYPE_CHECKING:
    from styx.core.bundles import ModelOutputOptions
    from styx.training.loop import OptimizerFactory, SchedulerFactory, StepHook, TrainingResult


class PerceptualTask:
    """The base of a feed-forward method's training task when the perceptual objective scores
    its generator (both built-in feed-forward methods derive from it).

    A method's task gives its registered name (:attr:`method`), builds its generator
    (``build_model()``), scores a batch (``training_step(model, batch, step)``, with
    :meth:`objective_on` for the objective on the batch's device) and says what is its own
    in the model's metadata (:meth:`architecture`, :meth:`describe`). The base loads the
    style images (``style_paths``, at ``--style-size`` or ``--image-size``) and their sha256,
    knows the layers in use before anything is built, builds the objective (descriptor and
    losses) on first use, and is told its process's :attr:`rank` and :attr:`world_size` by
    the loop (:meth:`set_world`). ``content=False``: no content term and no content photos
    (texture synthesis).
    """

    #: The method's registered name: the metadata's ``"method"``.
    method: ClassVar[str] = ""
    #: One style target per style image, for batches that mix styles
    #: (``objective(..., style_ids=)``), instead of one target blended from them all.
    target_per_style: ClassVar[bool] = False

    def __init__(self, config: Any, style_paths: Sequence[str | os.PathLike[str]], *,
                 content: bool = True) -> None:
        self.config = config
        self.content = content
        self.style_size = getattr(config, "style_size", None) or config.image_size
        #: The option that set :attr:`style_size`, for messages.
        self.style_size_flag = "--style-size" if getattr(config, "style_size", None) \
            else "--image-size"
        self.style_paths = [Path(path).expanduser() for path in style_paths]
        #: (height, width) each style image trains at, from its header: a missing or
        #: unreadable style image is an error now, and nothing is decoded before the
        #: memory check (:meth:`prepare`).
        self.style_sizes = [input_size(path, long_side=self.style_size)
                            for path in self.style_paths]
        # The layers are known now; the descriptor is built at the first step, after the
        # shared loop has checked the content folder and built the generator.
        self.content_layers, self.style_layers = used_layers(config, content=content)
        #: This process's rank and the number of processes (torchrun), set by the loop.
        self.rank, self.world_size = 0, 1
        self._objective: PerceptualObjective | None = None
        self._device: torch.device | None = None

    def check_sizes(self) -> None:
        """Refuse crops (``--image-size``) or style images (``--style-size``) too small for
        the descriptor at the layers in use: a shape pass that loads no weights
        (:func:`~styx.perceptual.sizes.check_image_size`), run before the model is built
        (see :class:`_CheckedTask`)."""
        from styx.perceptual.sizes import check_image_size, long_side_for, shallower

        config = self.config
        every = [*self.content_layers, *self.style_layers]
        options = dict(config.descriptor_options)
        size = int(config.image_size)
        check_image_size(config.descriptor, every, size, size, options=options,
                         what=f"training crop (--image-size {size})",
                         fix=lambda needed, layer: f"use --image-size {needed} or more, or "
                         f"{shallower(config.descriptor, layer, self.style_layers)}")
        flag = self.style_size_flag
        for path, (height, width) in zip(self.style_paths, self.style_sizes):
            check_image_size(
                config.descriptor, list(self.style_layers), height, width, options=options,
                what=f"style image {path.name} ({flag} {self.style_size})",
                fix=lambda needed, layer, h=height, w=width: (
                    f"use --style-size {long_side_for(h, w, needed)} or more, or "
                    f"{shallower(config.descriptor, layer, self.style_layers)}"))

    @functools.cached_property
    def style_images(self) -> list[torch.Tensor]:
        """The style images, 1 x 3 x H x W at their training size (read on first use)."""
        return [read_image(path, long_side=self.style_size).rgb for path in self.style_paths]

    @functools.cached_property
    def style_records(self) -> list[dict[str, Any]]:
        """Each style image's file name, sha256 and the size it trains at."""
        return [{"file": path.name, "sha256": sha256_file(path),
                 "size": [int(s) for s in size]}
                for path, size in zip(self.style_paths, self.style_sizes)]

    @property
    def content_dir(self) -> Path | None:
        """The photos the loop crops: the config's ``content_dir`` (None: batches that are
        only a shape, as texture synthesis needs)."""
        return getattr(self.config, "content_dir", None) if self.content else None

    @property
    def objective(self) -> PerceptualObjective:
        """The perceptual objective (the descriptor and losses), built on first use."""
        if self._objective is None:
            self._objective = build_objective(self.config, seed=self.config.seed,
                                              content=self.content)
        return self._objective

    def prepare(self, device: torch.device) -> None:
        """Build what ``training_step`` needs on ``device`` before the first iteration (the
        objective and its style targets): the loop calls it before its memory estimate,
        and the style targets have one of their own, checked before the styles are read."""
        from styx.runtime import meta
        from styx.runtime.device import free_bytes
        from styx.runtime.memory import MemoryNeed

        if self._device != device:
            objective = self.objective.to(device)
            with meta.shape_pass() as counter, torch.autocast(device.type, enabled=False):
                self._set_style_targets([torch.empty(1, 3, height, width, device=device)
                                         for height, width in self.style_sizes])
            objective.forget_targets()
            weights = meta.module_bytes(objective)
            flag = self.style_size_flag
            MemoryNeed(f"computing the style targets at {flag} {self.style_size}", str(device),
                       {"weights": weights, "work": counter.peak,
                        "images": 12 * sum(h * w for h, w in self.style_sizes)},
                       free_bytes(device), (f"use a smaller {flag}",),
                       held=weights).check(last=False)
        self.objective_on(device)

    def objective_on(self, device: torch.device) -> PerceptualObjective:
        """The objective on ``device``, its style targets computed there in full precision
        (once per device)."""
        if self._device != device:
            self.objective.to(device)
            with torch.autocast(device.type, enabled=False):
                self._set_style_targets([image.to(device) for image in self.style_images])
            self._device = device
        return self.objective

    def _set_style_targets(self, images: list[torch.Tensor]) -> None:
        if self.target_per_style:
            self.objective.set_styles(images)
        else:
            self.objective.set_style(images)

    def set_world(self, rank: int, world_size: int) -> None:
        """Called by the loop before ``build_model``: this process's place in the run."""
        self.rank, self.world_size = rank, world_size

    def metadata(self) -> dict[str, Any]:
        """JSON-able description, the model's metadata: method, styx version, architecture,
        the method's own entries (:meth:`describe`) and the loss settings."""
        return {"method": self.method, "styx_version": __version__,
                "architecture": self.architecture(), **self.describe(),
                "loss": {**self.config.loss_metadata(self.content_layers, self.style_layers),
                         "style_size": self.style_size, "seed": self.config.seed}}

    def architecture(self) -> dict[str, Any]:
        """The generator's architecture (what ``from_architecture`` rebuilds it from)."""
        raise NotImplementedError(f"{type(self).__name__} must define architecture()")

    def describe(self) -> dict[str, Any]:
        """The method's own metadata entries (its styles, its schedule, ...)."""
        return {}


#: Entries of a training log line that are not loss values.
_NOT_LOSSES = ("step", "lr", "images_per_second", "elapsed", "precision")


@dataclass
class TrainedModel:
    """What a feed-forward method's ``train`` returns."""

    #: The saved model folder (None on DDP ranks other than 0, which save nothing).
    path: Path | None
    #: The store name, when it went to the model store.
    name: str | None
    generator: Generator
    metadata: dict[str, Any]
    result: TrainingResult

    def summary(self) -> dict[str, Any]:
        """What ``styx train ... --json`` prints."""
        return {"model": None if self.path is None else str(self.path), "name": self.name,
                "iterations": self.result.iterations_done,
                "images_per_second": self.result.images_per_second,
                "precision": self.result.precision,
                "skipped_files": len(self.result.skipped_files),
                "final_losses": self.metadata.get("training", {}).get("final_losses", {})}


def default_run_dir(name: str | None, output: str | os.PathLike | None) -> Path:
    """Where checkpoints go when no run folder is given: ``$STYX_HOME/runs/NAME``, or
    ``OUTPUT.run`` beside a model saved at a path."""
    if output is not None:
        out = Path(output).expanduser()
        return out.with_name(out.name + ".run")
    return styx_home() / "runs" / str(name)


@dataclass(frozen=True)
class TrainingPlan:
    """Where a run goes, checked before any work: see :func:`plan_training`."""

    name: str | None
    output: Path | None
    run_dir: Path


def plan_training(config: ModelOutputOptions) -> TrainingPlan:
    """The model name (or folder) and run folder of ``config``, checked now, before the
    style image or the descriptor load: a taken name, a folder that is not a model, a run
    folder that is a file are StyxErrors."""
    name = config.name
    output = None if config.output is None else Path(config.output).expanduser()
    if name is None and output is None:
        name = config.default_model_name()
    model_destination(name=name, path=output, overwrite=config.overwrite or config.resume)
    run_dir = Path(config.run_dir).expanduser() if config.run_dir is not None else \
        default_run_dir(name, output)
    check_run_paths(run_dir, config.log_json)
    return TrainingPlan(name=name, output=output, run_dir=run_dir)


def save_planned(generator: Generator, metadata: dict[str, Any], plan: TrainingPlan,
                 config: Any) -> Path:
    """Save a trained generator as a new model at ``plan``'s name or folder (replacing one
    there with ``config.overwrite`` or ``config.resume``)."""
    return save_model(generator, metadata, name=plan.name,
                      path=plan.output if plan.name is None else None,
                      overwrite=config.overwrite or config.resume)


def train_task(task_class: Callable[[Any], Any], config: Any) -> TrainedModel:
    """Train ``task_class(config)`` and save the model: the ``train`` of a method that
    registers only its task (``MethodSpec.task``). The model name and run folder are checked
    first, before the task loads its style images."""
    plan = plan_training(config)
    task = task_class(config)
    return train_generator(task, config, plan=plan, content_dir=task.content_dir)


def trainer(spec: MethodSpec) -> Callable[[Any], Any]:
    """``train(config)`` of method ``spec``: its own ``train``, or :func:`train_task` with
    its ``task``; a StyxError for a method that does not train."""
    if spec.train is not None:
        return load_object(spec.train)
    if spec.task is not None:
        task_class = load_object(spec.task)
        return lambda config: train_task(task_class, config)
    raise StyxError(f"method {spec.name!r} cannot train",
                    "see 'styx list methods' for what each method does")


#: ``save(generator, metadata) -> folder``: how a trained model is written, when not as a
#: new model of the plan's name or folder (StyleBank adds new styles to an existing model).
ModelSaver = Callable[[Generator, dict[str, Any]], Path]


def train_generator(task: Any, config: Any, *, plan: TrainingPlan | None = None,
                    content_dir: str | os.PathLike | None,
                    optimizer: OptimizerFactory | None = None,
                    scheduler: SchedulerFactory | None = None,
                    hook: StepHook | None = None,
                    save: ModelSaver | None = None) -> TrainedModel:
    """Train ``task`` (its ``build_model`` makes a :class:`Generator`) and save the result.

    ``config`` derives from :class:`~styx.core.bundles.TrainingOptions` and
    :class:`~styx.core.bundles.ModelOutputOptions`; ``plan`` is its :func:`plan_training`
    (made here if not given; a method makes it first when loading its inputs is slow).
    ``content_dir=None``: the task reads no content. ``optimizer``, ``scheduler`` and
    ``hook`` go to :func:`styx.training.loop.train`. ``save``: writes the model instead of
    :func:`~styx.files.modelstore.save_model` (on rank 0, with the full metadata).
    """
    plan = plan or plan_training(config)
    task = _CheckedTask(task)  # a model the store cannot rebuild fails before any training
    # --overwrite starts afresh; the old run's checkpoint stays until the first new one.
    result = train(task, None if content_dir is None else Path(content_dir).expanduser(),
                   config, run_dir=plan.run_dir, resume=config.resume,
                   restart=config.overwrite and not config.resume, log_json=config.log_json,
                   optimizer=optimizer or adam, scheduler=scheduler or step_decay, hook=hook)
    generator = result.model.cpu().eval()
    metadata = dict(task.metadata())
    metadata["architecture"] = generator.architecture()
    settings = training_settings(config)
    metadata["training"] = {
        **{key: settings[key] for key in ("batch_size", "image_size", "lr", "lr_decay",
                                          "lr_decay_every", "seed")},
        "iterations": result.iterations_done,
        "content_dir": None if content_dir is None else str(content_dir),
        **({"style_dir": str(task.style_dir)} if getattr(task, "style_dir", None) else {}),
        "images_per_second": result.images_per_second,
        "skipped_files": len(result.skipped_files),
        "precision": result.precision,
    }
    if result.history:
        metadata["training"]["final_losses"] = {
            k: v for k, v in result.history[-1].items()
            if isinstance(v, (int, float)) and k not in _NOT_LOSSES}
    path = None
    if result.main:
        path = save(generator, metadata) if save is not None else \
            save_planned(generator, metadata, plan, config)
    return TrainedModel(path=path, name=plan.name, generator=generator, metadata=metadata,
                        result=result)


class _CheckedTask:
    """A training task whose image sizes are checked before its model is built (its
    ``check_sizes()``, if it has one: after the loop has found the content photos, before
    the first iteration), and whose model is checked as soon as it is built: a
    :class:`~styx.generators.generator.Generator` of the class its method registers, whose
    architecture is JSON and rebuilds a network of the same shape. Anything else would
    train for hours and then save a model that cannot be loaded (a plugin bug)."""

    def __init__(self, task: Any) -> None:
        self._task = task

    def __getattr__(self, name: str) -> Any:
        return getattr(self._task, name)

    def build_model(self) -> Generator:
        check_sizes = getattr(self._task, "check_sizes", None)
        if check_sizes is not None:  # images too small for the descriptor: before any network
            check_sizes()
        model = self._task.build_model()
        task = type(self._task).__name__
        if not isinstance(model, Generator):
            raise TypeError(f"{task}.build_model() made a {type(model).__name__}, not a "
                            "styx.generators.generator.Generator")
        method = self._task.metadata().get("method")
        if not isinstance(method, str):
            raise TypeError(f"{task}.metadata() names no 'method'")
        registered = generator_class(method_spec(method))
        if not isinstance(model, registered):
            raise TypeError(f"{task} builds a {type(model).__name__}, but method {method!r} "
                            f"registers {registered.__name__} as its generator")
        architecture = json.loads(json.dumps(model.architecture()))
        rebuilt = type(model).from_architecture(architecture)
        shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
        if {k: tuple(v.shape) for k, v in rebuilt.state_dict().items()} != shapes:
            raise TypeError(f"{type(model).__name__}.from_architecture(architecture()) does "
                            "not rebuild the same network")
        return model


