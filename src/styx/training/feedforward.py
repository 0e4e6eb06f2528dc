"""Training a feed-forward method's generator and saving it, with no method-specific code.

:func:`train_generator` trains a method's :class:`~styx.training.loop.TrainingTask` with the
shared loop and saves the generator: it checks the model name or folder and the run folder
before any work (:func:`plan_training`), picks the run folder, writes the training metadata
and saves on rank 0 only. Loading and running the result is :mod:`styx.generators.models`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from styx.generators.generator import Generator

if TYPE_CHECKING:
    from styx.core.bundles import ModelOutputOptions
    from styx.training.loop import OptimizerFactory, SchedulerFactory, StepHook, TrainingResult


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
    from styx.files.modelstore import styx_home

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
    from styx.files.modelstore import model_target
    from styx.training.loop import check_run_paths

    name = config.name
    output = None if config.output is None else Path(config.output).expanduser()
    if name is None and output is None:
        name = config.default_model_name()
    model_target(name=name, path=output, overwrite=config.overwrite or config.resume)
    run_dir = Path(config.run_dir).expanduser() if config.run_dir is not None else \
        default_run_dir(name, output)
    check_run_paths(run_dir, config.log_json)
    return TrainingPlan(name=name, output=output, run_dir=run_dir)


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
    from styx.files.modelstore import save_model
    from styx.training.loop import adam, step_decay, train, training_settings

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
        "images_per_second": result.images_per_second,
        "skipped_files": len(result.skipped_files),
        "precision": result.precision,
    }
    if result.history:
        metadata["training"]["final_losses"] = {
            k: v for k, v in result.history[-1].items()
            if isinstance(v, (int, float)) and k not in _NOT_LOSSES}
    path = None
    if result.main and save is not None:
        path = save(generator, metadata)
    elif result.main:
        path = save_model(generator, metadata, name=plan.name,
                          path=plan.output if plan.name is None else None,
                          overwrite=config.overwrite or config.resume)
    return TrainedModel(path=path, name=plan.name, generator=generator, metadata=metadata,
                        result=result)


class _CheckedTask:
    """A training task whose model is checked as soon as it is built: a
    :class:`~styx.generators.generator.Generator` of the class its method registers, whose
    architecture is JSON and rebuilds a network of the same shape. Anything else would
    train for hours and then save a model that cannot be loaded (a plugin bug)."""

    def __init__(self, task: Any) -> None:
        self._task = task

    def __getattr__(self, name: str) -> Any:
        return getattr(self._task, name)

    def build_model(self) -> Generator:
        import json

        from styx.core.method import generator_class, method_spec

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


