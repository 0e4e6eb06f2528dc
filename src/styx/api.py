"""The library: the same methods, options and models as the command line.

    import styx

    result = styx.stylize("gatys", "photo.jpg", ["starry.jpg"], size=256, steps=200)
    result.image                                   # 1 x 3 x H x W tensor in [0, 1]
    result.to_pil().save("out.png")

    trained = styx.train("texture-nets", style="starry.jpg", content_dir="photos/",
                         name="starry", iterations=2000)
    model = styx.load_model("starry")
    picture = model(PIL.Image.open("photo.jpg"))   # a PIL image back

Options are the fields of the method's config (``styx run METHOD --help`` lists them, with
the same names as keyword arguments: ``--style-weight`` is ``style_weight=``), or a config
object (``config=``); every value is checked as it is on the command line. Importing this
module imports no torch; the functions import what they use.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

    from styx.core.config import Config
    from styx.core.method import ImageInput, RunResult, StepInfo
    from styx.core.specs import DescriptorSpec, ExporterSpec, LossSpec, MethodSpec
    from styx.files.modelstore import ModelInfo
    from styx.generators.models import Model
    from styx.training.feedforward import TrainedModel


def stylize(method: str, content: ImageInput | None = None,
            styles: ImageInput | Sequence[ImageInput] | None = None, *,
            model: str | os.PathLike[str] | Model | None = None, config: Config | None = None,
            progress: bool = False, callback: Callable[[StepInfo], None] | None = None,
            **options: Any) -> RunResult:
    """Run ``method`` on ``content`` (a path, a PIL image or a tensor in [0, 1]) with
    ``styles`` (one or several; none: the sample painting, where the method uses styles).

    ``model``: a trained model (name, folder or :func:`load_model` result) for feed-forward
    methods. ``options`` override fields of ``config`` (the method's run config, see
    :func:`method_config`). ``progress=True`` shows a progress bar; ``callback`` sees every
    step of an iterative method. Returns the method's :class:`~styx.core.method.RunResult`.
    """
    from styx.core.errors import StyxError
    from styx.core.method import method_spec, run
    from styx.runtime.image_tensors import run_request

    spec = method_spec(method)
    style_list = [] if styles is None else \
        list(styles) if isinstance(styles, (list, tuple)) else [styles]
    if spec.feed_forward:
        from styx.generators.models import load_model as load

        if model is None:
            raise StyxError(f"method {spec.name!r} runs a trained model; none was given",
                            "pass model=NAME (see styx.list_models())")
        model = load(model, method=spec.name)  # its generator says whether it takes styles
    elif model is not None:
        raise StyxError(f"method {spec.name!r} runs no trained model",
                        "leave model= out (feed-forward methods take one)")
    elif style_list and not spec.uses_styles:
        raise StyxError(f"method {spec.name!r} takes no style images", "leave the styles out")
    request = run_request(content=content, styles=style_list, model=model, progress=progress,
                          callback=callback)
    return run(spec, request, config, options)


def train(method: str, *, config: Config | None = None,
          callback: Callable[[StepInfo], None] | None = None, **options: Any) -> TrainedModel:
    """Train ``method`` with ``options`` (the fields of its training config, e.g.
    ``style="starry.jpg", content_dir="photos/", name="starry", iterations=500``) and save
    the model; returns a :class:`~styx.training.feedforward.TrainedModel`.

    ``callback`` sees every log step (a :class:`~styx.core.method.StepInfo`: the losses,
    and ``image(photo)`` for the model's output so far); raising KeyboardInterrupt from it
    stops the run with a checkpoint, as Ctrl-C does (KeyboardInterrupt is raised again;
    ``resume=True`` continues)."""
    from styx.core.method import make_config, method_spec, train_config_class
    from styx.training.feedforward import trainer

    spec = method_spec(method)
    settings = make_config(train_config_class(spec), config, options)
    if callback is None:
        return trainer(spec)(settings)
    from styx.training.loop import watching

    with watching(callback):
        return trainer(spec)(settings)


def load_model(name_or_path: str | os.PathLike[str]) -> Model:
    """The trained model stored as ``name_or_path`` (a name from :func:`list_models`, or a
    folder), ready to stylise: ``load_model("starry")(image)``."""
    from styx.generators.models import load_model as load

    return load(name_or_path)


def export(model: str | os.PathLike[str] | Model, format_name: str,
           output: str | os.PathLike[str] | None = None, **options: Any) -> Path:
    """Write a trained model (a name, a folder or a :func:`load_model` result) as a
    ``format_name`` file with the installed exporter of that format; returns the path.
    See :func:`styx.exports.export`."""
    from styx.exports import export as export_model

    return export_model(model, format_name, output, **options)


def method_config(method: str, *, train: bool = False, **options: Any) -> Config:
    """The run (or, with ``train=True``, training) config of ``method`` with ``options``:
    checked, ready to pass as ``config=`` or to inspect (``config.to_dict()``)."""
    from styx.core.method import method_spec, run_config_class, train_config_class

    spec = method_spec(method)
    config_class = train_config_class(spec) if train else run_config_class(spec)
    return config_class.from_options(options)


def _installed(kind: str) -> list[Any]:
    from styx.core.plugins import get_plugins

    return list(get_plugins().registry(kind))


def list_methods() -> list[MethodSpec]:
    """The installed methods (their specs: name, summary, what they can do)."""
    return _installed("methods")


def list_descriptors() -> list[DescriptorSpec]:
    """The installed descriptor networks (``spec.layers`` names their taps)."""
    return _installed("descriptors")


def list_losses() -> list[LossSpec]:
    """The installed losses."""
    return _installed("losses")


def list_exporters() -> list[ExporterSpec]:
    """The installed exporters (one per file format)."""
    return _installed("exporters")


def list_models() -> list[ModelInfo]:
    """The models in the model store (``$STYX_HOME/models``), by name."""
    from styx.files.modelstore import list_models as listed

    return listed()
