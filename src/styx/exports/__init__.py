"""Exporting trained generators to deployable files: the library side of ``styx export``.

An exporter is a plugin (``register_exporters``, an :class:`~styx.core.specs.ExporterSpec`):
a format name (``onnx``), a function that writes a loaded model to a file, and an options
config. Built-in exporters live in this package and are registered by styx's own entry
points, as third-party ones are by theirs; ``styx export METHOD --FORMAT`` offers every one
installed. Because every feed-forward generator follows
:class:`styx.generators.generator.Generator` (named inputs, example inputs, an architecture to
rebuild it from), an exporter needs no code for any particular method::

    from styx.exports import export

    export("starry", "onnx", "starry.onnx", opset=17)     # a model name, folder or Model

This module imports no torch.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from styx.core.errors import StyxError
from styx.core.method import method_spec

if TYPE_CHECKING:
    from styx.core.config import Config
    from styx.core.specs import ExporterSpec, MethodSpec
    from styx.generators.models import Model


def exporter_config(spec: ExporterSpec, config: Config | None = None,
                    options: dict[str, Any] | None = None) -> Config | None:
    """The options of exporter ``spec``: ``config`` with ``options`` applied, checked."""
    from styx.core.method import make_config
    from styx.core.specs import load_object

    if spec.config is None:
        if options:
            raise StyxError(f"exporter {spec.name!r} takes no options",
                            "leave out " + ", ".join(options))
        return None
    return make_config(load_object(spec.config), config, dict(options or {}))


def export(model: str | os.PathLike[str] | Model, format_name: str,
           output: str | os.PathLike[str] | None = None, *, config: Config | None = None,
           overwrite: bool = False, **options: Any) -> Path:
    """Write ``model`` (a store name, a folder or a loaded :class:`~styx.generators.models.Model`)
    as a ``format_name`` file at ``output`` (default: ``MODEL.SUFFIX`` in the current folder);
    returns the path. See :func:`export_file`, which also returns what the exporter reports.
    """
    return export_file(model, format_name, output, config=config, overwrite=overwrite,
                       **options)[0]


def export_file(model: str | os.PathLike[str] | Model, format_name: str,
                output: str | os.PathLike[str] | None = None, *, config: Config | None = None,
                overwrite: bool = False, **options: Any) -> tuple[Path, dict[str, Any]]:
    """:func:`export`, returning ``(path, details)``: ``details`` is the dict the exporter
    returned (JSON-ready: what ``styx export`` prints), empty when it returned none.

    ``options`` are the exporter's (``styx export METHOD --help`` lists them). The file is
    written atomically: the exporter writes a temporary file beside ``output``, renamed
    into place when complete. An existing file is replaced only with ``overwrite``; a
    folder, a file inside a model folder, a suffix other than the format's, or a model of
    a method the exporter cannot export are StyxErrors.
    """
    from styx.core.plugins import exporters
    from styx.files.atomic import atomic_path
    from styx.generators.models import load_model

    spec = exporters().get(format_name)  # "did you mean" when there is none
    settings = exporter_config(spec, config, options)
    loaded = load_model(model)
    if not spec.exports(method_spec(loaded.method)):
        raise StyxError(f"exporter {spec.name!r} cannot export {loaded.method} models",
                        f"it exports {', '.join(spec.methods)}")
    target = export_destination(spec, output if output is not None else
                                Path(f"{loaded.name}{spec.suffix}"), overwrite=overwrite)
    with atomic_path(target) as temporary:
        details = spec.load()(loaded, temporary, settings)
    return target, dict(details) if isinstance(details, dict) else {}


def export_destination(spec: ExporterSpec, output: str | os.PathLike[str], *,
                       overwrite: bool = False) -> Path:
    """``output`` checked as the file ``spec`` is to write (see :func:`export`)."""
    from styx.files.atomic import check_writable_file
    from styx.files.modelstore import enclosing_model

    target = check_writable_file(output, what="--output")
    if spec.suffix and target.suffix.lower() != spec.suffix.lower():
        raise StyxError(f"--output {target} does not end in {spec.suffix}",
                        f"{spec.name} files end in {spec.suffix}, e.g. model{spec.suffix}")
    folder = enclosing_model(target)
    if folder is not None:
        raise StyxError(f"--output {target} is inside the model folder {folder}",
                        "write the exported file outside the model store")
    if target.exists() and not overwrite:
        raise StyxError(f"{target} already exists", "give --overwrite to replace it, or "
                        "another --output")
    return target


def newest_model(method: MethodSpec) -> tuple[str, int]:
    """The name of the newest readable model in the store trained by ``method`` and how
    many there are; a StyxError when there is none."""
    from styx.core.plugins import methods
    from styx.files.modelstore import list_models

    registry = methods()
    own = []
    for info in list_models():
        trained_by = info.metadata.get("method")
        if info.error or not isinstance(trained_by, str) or trained_by not in registry:
            continue
        if registry.get(trained_by).name == method.name:
            own.append(info)
    if not own:
        raise StyxError(f"no {method.name} model is stored",
                        f"train one with 'styx train {method.name}', or give --model PATH")
    newest = max(own, key=lambda info: (str(info.metadata.get("created", "")), info.name))
    return newest.name, len(own)
