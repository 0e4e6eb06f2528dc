"""The functions of the StyleBank method: :func:`train` and :func:`run`.

They are what ``styx train stylebank`` / ``styx.train("stylebank", ...)`` and ``styx run
stylebank`` / ``styx.stylize("stylebank", ...)`` call::

    import styx

    styx.train("stylebank", style=["starry.jpg", "scream.jpg"], content_dir="photos/",
               name="bank")
    styx.train("stylebank", from_model="bank", add_style=["wave.jpg"], content_dir="photos/")
    model = styx.load_model("bank")
    out = model(photo, style="wave")
    out = model(photo, style_mix={"starry": 0.7, "scream": 0.3})
    out = model(photo, region=[("sky.png", "starry"), ("ground.png", "scream")])

Saving, loading and running the network are the shared feed-forward machinery of
:mod:`styx.generators.models`; adding styles to a stored model writes only the new banks.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from styx.core.errors import StyxError
from styx.core.method import RunRequest, RunResult
from styx.files.atomic import check_writable_folder
from styx.files.modelstore import add_model_part, read_metadata
from styx.generators.models import load_model, run_feed_forward
from styx.training.feedforward import (
    TrainedModel,
    TrainingPlan,
    default_run_dir,
    plan_training,
    save_planned,
    train_generator,
)
from styx.training.loop import check_run_paths

if TYPE_CHECKING:
    from styx.plugins.methods.stylebank.config import StyleBankRunConfig, StyleBankTrainConfig
    from styx.plugins.methods.stylebank.task import StyleBankTask


def train(config: StyleBankTrainConfig) -> TrainedModel:
    """Train a StyleBank model on ``config``'s styles, or, with ``config.from_model``, add
    them to a trained one (in place, unless ``name``/``output`` asks for a new model)."""
    from styx.plugins.methods.stylebank.task import StyleBankTask

    base = None
    if config.from_model is not None:
        base = load_model(config.from_model, method="stylebank")
    if base is not None:
        _check_growable(base, config)
    in_place = base is not None and config.name is None and config.output is None
    plan = _plan_in_place(base, config) if in_place else plan_training(config)
    task = StyleBankTask(config, base=base)
    save = None
    if base is not None:
        save = _add_to(base.path, task) if in_place else _save_grown(plan, task, config)
    return train_generator(task, config, plan=plan, content_dir=config.content_dir,
                           hook=task.balance_gradients, save=save)


def run(request: RunRequest, config: StyleBankRunConfig) -> RunResult:
    """Stylise the request's content with the chosen style, mix, regions, or the
    auto-encoder alone."""
    from styx.plugins.methods.stylebank.choice import generator_options

    return run_feed_forward(request, config, options=partial(generator_options, config))


# -- adding styles -------------------------------------------------------------------------
def _check_growable(base: Any, config: StyleBankTrainConfig) -> None:
    """Refuse options that cannot apply when adding styles: a network shape other than
    the model's, or the two-branch schedule (only new banks train). A value that is the
    option's default was not given, so only a changed one is refused."""
    from dataclasses import fields

    from styx.plugins.methods.stylebank.config import NetworkOptions

    defaults = {info.field: info.default for info in type(config).options()}
    architecture = base.generator.architecture()
    for field in fields(NetworkOptions):
        given, default = getattr(config, field.name), defaults[field.name]
        if given != default and given != architecture.get(field.name):
            raise StyxError(f"--{field.name.replace('_', '-')} {given} with --from: the "
                            f"network of {base.name!r} is fixed ({field.name} "
                            f"{architecture.get(field.name)})", "leave it out")
    for name in ("style_steps", "balance"):
        if getattr(config, name) != defaults[name]:
            raise StyxError(f"--{name.replace('_', '-')} with --from: only the new banks "
                            "train, on stylising steps alone", "leave it out")


def _plan_in_place(base: Any, config: StyleBankTrainConfig) -> TrainingPlan:
    """The plan of adding styles to the model ``base`` in place: its run folder defaults to
    ``$STYX_HOME/runs/NAME.add-N`` (N: how many styles the model will have), both checked
    now."""
    folder = base.path
    check_writable_folder(folder, what=f"model {folder}")
    total = len(base.styles) + len(config.style_paths())
    run_dir = Path(config.run_dir).expanduser() if config.run_dir is not None else \
        default_run_dir(f"{folder.name}.add-{total}", None)
    check_run_paths(run_dir, config.log_json)
    return TrainingPlan(name=folder.name, output=None, run_dir=run_dir)


def _add_to(folder: Path, task: StyleBankTask) -> Any:
    """Save new banks into the model in ``folder`` as one part file (the model is not
    copied); refused if the model changed while they trained."""
    def save(generator: Any, metadata: dict[str, Any]) -> Path:
        if read_metadata(folder) != task.base.metadata:
            raise StyxError(f"model {folder} changed while the new styles trained",
                            "train them again with --from")
        banks = {f"banks.{i}": generator.banks[i].detach()
                 for i in range(task.first_new, task.num_styles)}
        return add_model_part(folder, banks, task.grown_metadata(metadata),
                              part=f"styles-{task.first_new}-{task.num_styles - 1}")
    return save


def _save_grown(plan: TrainingPlan, task: StyleBankTask, config: StyleBankTrainConfig
                ) -> Any:
    """Save the grown network as a new model (``--from M --name NEW``)."""
    def save(generator: Any, metadata: dict[str, Any]) -> Path:
        return save_planned(generator, task.grown_metadata(metadata), plan, config)
    return save
