"""``styx run METHOD``, ``styx train METHOD`` and ``styx export METHOD``, generated.

No method writes command-line code: each command is made here from the method's spec and
config classes (see :mod:`styx.core.config`). A command takes

* styx's own parameters: the images and where the result goes (``CONTENT``, ``STYLE...``,
  ``-o``, ``--output-dir``, ``--model``, ``--json``, ``--quiet``, ...), the same for every
  method of a kind;
* one option per config field, with the field's flags, help, default and check.

The body parses nothing itself: the options become the config (checked once, as it is
made), then the method's function runs and the command writes and reports what it returns.
Nothing here imports torch at import time.
"""

from __future__ import annotations

import inspect
import json
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import typer

from styx.core.config import Config, OptionInfo, cli_type_of, options_of
from styx.core.errors import StyxError
from styx.core.specs import ExporterSpec, MethodSpec

#: Exit code of a run stopped by Ctrl-C (the best result so far is written first).
INTERRUPTED_EXIT_CODE = 130

#: The prefix of styx's own parameters in a generated command's signature: config fields
#: keep their names, so the two never meet.
_IO = "io_"


# -- parameters from configs ---------------------------------------------------------------
def _flags(info: OptionInfo) -> list[str]:
    return [info.flag, *info.option.flags]


def _shown_default(info: OptionInfo) -> str | None:
    if info.option.default_text is not None:
        return info.option.default_text
    value = info.default
    if value is None or isinstance(value, bool) or value == {} or value == []:
        return None
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (tuple, list)):
        return ",".join(str(v) for v in value)
    return str(value)


def _plain(value: Any, cli_type: Any) -> bool:
    """Whether ``value`` is a default the command line can show and pass as it is."""
    if cli_type is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return cli_type in (str, int) and type(value) is cli_type


def option_parameter(info: OptionInfo, *, name: str | None = None,
                     given_only: bool = False) -> inspect.Parameter:
    """The typer parameter of one config option (a TypeError for a type the command line
    cannot parse). ``given_only``: the command receives None unless the option is given
    (its default is only shown), so a command can tell which options were used."""
    cli_type = cli_type_of(info)
    meta = info.option
    common: dict[str, Any] = {"help": meta.help, "rich_help_panel": meta.panel}
    if meta.metavar:
        common["metavar"] = meta.metavar
    if cli_type is bool:
        if info.required:
            raise TypeError(f"option {info.field!r}: a flag needs a default")
        flags = _flags(info) if not info.default else \
            [f"{info.flag}/--no-{info.flag[2:]}", *meta.flags]
        default = typer.Option(bool(info.default), *flags, **common)
        return inspect.Parameter(name or info.field, inspect.Parameter.KEYWORD_ONLY,
                                 default=default, annotation=bool)
    if info.required:
        default = typer.Option(..., *_flags(info), show_default=False, **common)
        annotation = cli_type
    elif _plain(info.default, cli_type) and meta.default_text is None and not given_only:
        default = typer.Option(info.default, *_flags(info), **common)
        annotation = cli_type
    else:
        # Shown in the help, but not passed: a value left out keeps the config's default.
        shown = _shown_default(info)
        if shown is not None:
            common["help"] = f"{meta.help} [default: {shown}]"
        default = typer.Option(None, *_flags(info), show_default=False, **common)
        annotation = cli_type | None
    return inspect.Parameter(name or info.field, inspect.Parameter.KEYWORD_ONLY,
                             default=default, annotation=annotation)


#: The order of the help panels: a method's own options first, where it runs last.
PANEL_ORDER = (None, "Generator", "Loss", "Model", "Training", "Runtime")


def _panel_rank(info: OptionInfo) -> int:
    panel = info.option.panel
    return PANEL_ORDER.index(panel) if panel in PANEL_ORDER else len(PANEL_ORDER) - 1


def config_parameters(config_class: type[Config], taken: Iterable[str] = (), *,
                      given_only: bool = False) -> list[inspect.Parameter]:
    """Typer parameters for every command-line option of ``config_class``; a flag that
    one of ``taken`` (styx's own) already uses is a TypeError (a bug in the config).
    ``given_only``: see :func:`option_parameter`."""
    used = set(taken)
    parameters = []
    for info in sorted(options_of(config_class), key=_panel_rank):
        if not info.option.cli:
            continue
        for flag in _flags(info):
            if flag in used:
                raise TypeError(f"{config_class.__name__}.{info.field}: flag {flag} is taken "
                                "by another option of the command")
            used.add(flag)
        parameters.append(option_parameter(info, given_only=given_only))
    return parameters


def config_from_cli(config_class: type[Config], values: dict[str, Any],
                    **fixed: Any) -> Config:
    """The config of the options given on the command line (those left out, ``None``,
    keep their defaults), with ``fixed`` values on top."""
    given = {}
    for info in options_of(config_class):
        if info.field in values and (values[info.field] is not None or info.required):
            given[info.field] = values[info.field]
    given.update({k: v for k, v in fixed.items() if k in {i.field for i in options_of(config_class)}})
    return config_class.from_options(given)


def _io(name: str, default: Any, annotation: Any) -> inspect.Parameter:
    return inspect.Parameter(_IO + name, inspect.Parameter.KEYWORD_ONLY, default=default,
                             annotation=annotation)


def _flags_of(parameters: list[inspect.Parameter]) -> set[str]:
    flags: set[str] = set()
    for parameter in parameters:
        for decl in getattr(parameter.default, "param_decls", ()) or ():
            flags.update(part for part in decl.split("/") if part.startswith("-"))
    return flags


def make_command(doc: str, parameters: list[inspect.Parameter],
                 body: Callable[[dict[str, Any]], None]) -> Callable[..., None]:
    """A typer-style function with ``parameters`` that passes what it is called with to
    ``body`` as one dict."""
    def command(**values: Any) -> None:
        body(values)

    command.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in parameters}
    command.__doc__ = doc
    return command


def _split(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    io = {k[len(_IO):]: v for k, v in values.items() if k.startswith(_IO)}
    return io, {k: v for k, v in values.items() if not k.startswith(_IO)}


# -- styx run --------------------------------------------------------------------------------
_OUTPUT_FLAGS = {"quiet": typer.Option(False, "--quiet", "-q",
                                       help="No progress bar and no notes (errors are still "
                                            "printed)."),
                 "json": typer.Option(False, "--json", help="Print the result as JSON on "
                                                            "stdout.")}


def run_command(spec: MethodSpec) -> Callable[..., None]:
    """``styx run NAME``: images in, images out, options from the method's config."""
    from styx.core.method import run_config_class

    config_class = run_config_class(spec)
    if spec.feed_forward:
        io = [
            _io("contents", typer.Argument(None, metavar="CONTENT...", show_default=False,
                                           help="Content images to stylise."), list[Path] | None),
            _io("model", typer.Option(None, "--model", "-m", show_default=False,
                                      help="A model name from 'styx models list', or a model "
                                           "folder."), str | None),
            _io("output", typer.Option(None, "--output", "-o", show_default=False,
                                       help="Output image (one content image, or none)."),
                Path | None),
            _io("output_dir", typer.Option(None, "--output-dir", show_default=False,
                                           help="Folder for the outputs of several content "
                                                "images (named after them)."), Path | None),
            _io("format", typer.Option("png", "--format",
                                       help="File type of --output-dir outputs."), str),
        ]
        body = _run_feed_forward
    else:
        io = [
            _io("content", typer.Argument(None, metavar="CONTENT", show_default=False,
                                          help="Content image [default: the sample photo "
                                               "shipped with styx]."), Path | None),
            *([_io("styles", typer.Argument(None, metavar="STYLE", show_default=False,
                                            help="Style image(s) [default: the sample "
                                                 "painting shipped with styx]."),
                   list[Path] | None)] if spec.uses_styles else []),
            _io("output", typer.Option(..., "--output", "-o",
                                       help="Output image (.png, .jpg, .webp, .bmp, .tif)."),
                Path),
            _io("save_every", typer.Option(0, "--save-every",
                                           help="Also write the image every N steps, as "
                                                "OUT.00100.png etc. (0: never)."), int),
            _io("log_json", typer.Option(None, "--log-json", show_default=False,
                                         help="Write a JSON log of the run (settings, "
                                              "result, per-step losses) to this file."),
                Path | None),
        ]
        body = _run_optimisation
    io += [_io(name, default, bool) for name, default in _OUTPUT_FLAGS.items()]
    parameters = io + config_parameters(config_class, taken=_flags_of(io))
    return make_command(spec.summary, parameters,
                        lambda values: body(spec, config_class, values))


def _note(text: str) -> None:
    print(text, file=sys.stderr)


def _run_optimisation(spec: MethodSpec, config_class: type[Config],
                      values: dict[str, Any]) -> None:
    """The body of ``styx run`` for a method that makes one image from a content image
    and style images (Gatys, or a plugin's)."""
    from styx.core.atomic import check_writable_file
    from styx.core.image import check_output_path, sample_image, save_image
    from styx.core.method import RunError, RunRequest, run_function

    io, options = _split(values)
    config = config_from_cli(config_class, options)  # bad options fail before torch loads
    content, styles = io["content"], list(io.get("styles") or [])
    config.check_inputs(contents=int(content is not None), styles=len(styles))
    if io["save_every"] < 0:
        raise StyxError(f"bad --save-every {io['save_every']}", "give 0 (never) or a step count")
    output = check_output_path(io["output"])
    log_json = io["log_json"]
    if log_json is not None:
        log_json = check_writable_file(log_json, what="--log-json")
    check_no_clash(output, log_json, inputs=[content, *styles, *_input_files(config)])
    quiet, as_json = io["quiet"], io["json"]
    notes = not quiet and not as_json
    if spec.uses_styles and content is not None and not styles and notes:
        _note(f"no style image given: using the sample painting {sample_image('style').name}")

    save_every = io["save_every"]

    def save_intermediate(info: Any) -> None:
        if info.step % save_every == 0 and info.step < info.total_steps:
            save_image(info.image(), output.with_name(
                f"{output.stem}.{info.step:05d}{output.suffix}"))

    log = {"method": spec.name, "content": None if content is None else str(content),
           "styles": [str(s) for s in styles], "output": str(output),
           "config": config.to_dict()}
    request = RunRequest(content=content, styles=styles, progress=notes,
                         callback=save_intermediate if save_every else None)
    from styx.core.weights import notes as weights_notes

    try:
        with weights_notes(notes):
            result = run_function(spec)(request, config)
    except RunError as error:
        if log_json is not None:
            write_json(log_json, {**log, "status": error.status, "error": error.message,
                                  "history": error.history})
        raise
    save_image(result.image, output, alpha=result.alpha)
    summary = {"output": str(output), **result.summary()}
    if log_json is not None:
        write_json(log_json, {**log, "status": "interrupted" if result.interrupted else "done",
                              "device": result.device, "result": summary,
                              "history": result.history})
    if as_json:
        typer.echo(json.dumps(summary))
    if result.interrupted:  # said even with --quiet, like an error
        done = f" after {result.steps} steps" if result.steps is not None else ""
        loss = f" (loss {result.loss:.4g})" if result.loss is not None else ""
        _note(f"interrupted{done}: wrote the best image so far{loss} to {output}")
        raise typer.Exit(INTERRUPTED_EXIT_CODE)
    if notes:
        _note(f"wrote {output} ({summary['width']}x{summary['height']}, {result.describe()})")


def _input_files(config: Config) -> list[Path]:
    """The values of options that may name input images (``--init FILE``)."""
    found = []
    for info in options_of(type(config)):
        value = getattr(config, info.field)
        if info.option.input_file and isinstance(value, (str, os.PathLike)):
            found.append(Path(value))
    return found


def check_no_clash(output: Path, log_json: Path | None, *, inputs: list[Path | None]) -> None:
    """The files written must differ from each other and from every input image."""
    from styx.core.atomic import same_file

    written = [("-o", output), *([("--log-json", log_json)] if log_json is not None else [])]
    if log_json is not None and same_file(output, log_json):
        raise StyxError(f"-o and --log-json are the same file ({output})",
                        "give the log its own name, e.g. log.json")
    for option, path in written:
        for image in inputs:
            if image is not None and Path(image).is_file() and same_file(path, image):
                raise StyxError(f"{option} {path} would overwrite the input image {image}",
                                f"give {option} another file name")


def write_json(path: Path, data: dict) -> None:
    """Write ``data`` as JSON to ``path``, atomically; a failure is a StyxError."""
    from styx.core.atomic import atomic_path

    try:
        with atomic_path(path) as temporary:
            temporary.write_text(json.dumps(data, indent=1) + "\n")
    except OSError as error:
        raise StyxError(f"cannot write {path}: {error.strerror or error}") from None


def _run_feed_forward(spec: MethodSpec, config_class: type[Config],
                      values: dict[str, Any]) -> None:
    """The body of ``styx run`` for a feed-forward method: a stored model over each
    content image (or over none, for a generator that makes images from noise)."""
    from styx.core.feedforward import load_model
    from styx.core.image import check_output_path, save_image
    from styx.core.method import RunRequest, run_function

    io, options = _split(values)
    config = config_from_cli(config_class, options)
    if not io["model"]:
        raise StyxError("missing --model", "give a model name ('styx models list') or folder")
    contents = list(io["contents"] or [])
    config.check_inputs(contents=len(contents), styles=0)
    targets = output_paths(contents, io["output"], io["output_dir"], io["format"])
    for target in targets:
        check_output_path(target)
    for content in contents:  # a missing file fails now, not after the first outputs
        if not Path(content).expanduser().is_file():
            raise StyxError(f"image file not found: {content}", "check the path")
    model = load_model(io["model"], method=spec.name)
    run = run_function(spec)
    written = []
    for content, target in zip(contents or [None], targets):
        result = run(RunRequest(content=content, model=model), config)
        written.append(str(save_image(result.image, target, alpha=result.alpha)))
        if not io["quiet"] and not io["json"]:
            print(written[-1], file=sys.stdout)
    if io["json"]:
        typer.echo(json.dumps({"model": str(model.path), "outputs": written}))


def output_paths(contents: list[Path], output: Path | None, output_dir: Path | None,
                 suffix: str) -> list[Path]:
    """Where each content image's result goes: ``-o`` for one (or for a run with no
    content), else ``--output-dir/NAME.SUFFIX``, names made unique case-insensitively."""
    if output is not None and output_dir is not None:
        raise StyxError("give --output or --output-dir, not both")
    if output is None and output_dir is None:
        raise StyxError("missing --output", "give -o OUT (one image) or --output-dir DIR")
    if output is not None:
        if len(contents) > 1:
            raise StyxError(f"{len(contents)} content images but one --output",
                            "use --output-dir DIR for several images")
        return [output.expanduser()]
    folder = output_dir.expanduser()
    suffix = suffix.lower().lstrip(".")
    if not contents:
        return [folder / f"texture.{suffix}"]
    paths: list[Path] = []
    # Compared case-insensitively: on macOS and Windows a.png and A.png are one file.
    used: set[str] = set()
    for content in contents:
        stem = Path(content).stem
        candidate, n = stem, 1
        # Two inputs of the same name from different folders, or a stem that a renamed
        # one took (a.jpg, a.jpg, a-2.jpg -> a, a-2, a-2-2): never the same output.
        while candidate.casefold() in used:
            n += 1
            candidate = f"{stem}-{n}"
        used.add(candidate.casefold())
        paths.append(folder / f"{candidate}.{suffix}")
    return paths


# -- styx train ------------------------------------------------------------------------------
def train_command(spec: MethodSpec) -> Callable[..., None]:
    """``styx train NAME``: every option from the method's training config."""
    from styx.core.method import train_config_class

    config_class = train_config_class(spec)
    io = [_io(name, default, bool) for name, default in _OUTPUT_FLAGS.items()]
    parameters = io + config_parameters(config_class, taken=_flags_of(io))
    return make_command(spec.summary, parameters,
                        lambda values: _train(spec, config_class, values))


def _train(spec: MethodSpec, config_class: type[Config], values: dict[str, Any]) -> None:
    from styx.core.method import train_function
    from styx.core.weights import notes

    io, options = _split(values)
    quiet = io["quiet"] or io["json"]
    config = config_from_cli(config_class, options, quiet=quiet)
    with notes(not quiet):
        trained = train_function(spec)(config)
    if trained.path is None:  # a DDP rank other than 0
        return
    summary = trained.summary()
    if io["json"]:
        typer.echo(json.dumps(summary))
    else:
        skipped = summary["skipped_files"]
        note = f" ({skipped} unreadable file(s) skipped)" if skipped else ""
        typer.echo(f"saved model {trained.name or trained.path} to {trained.path}{note}",
                   err=True)


# -- styx export -----------------------------------------------------------------------------
def export_command(spec: MethodSpec, exporters: list[ExporterSpec]) -> Callable[..., None]:
    """``styx export NAME --FORMAT``: one flag per installed exporter, each exporter's
    options, and the model to export (by default the method's only or newest one)."""
    from styx.core.specs import load_target

    io = [
        _io("model", typer.Option(None, "--model", "-m", show_default=False,
                                  help="A model name or folder [default: the method's only, "
                                       "or most recent, stored model]."), str | None),
        _io("output", typer.Option(None, "--output", "-o", show_default=False,
                                   help="The file to write [default: MODEL.SUFFIX here]."),
            Path | None),
        *(_io(name, default, bool) for name, default in _OUTPUT_FLAGS.items()),
    ]
    formats: dict[str, tuple[ExporterSpec, type[Config] | None]] = {}
    for exporter in exporters:
        io.append(_io(f"format_{len(formats)}", typer.Option(
            False, f"--{exporter.name}", help=f"Write {exporter.summary}"), bool))
        formats[f"format_{len(formats)}"] = (
            exporter, None if exporter.config is None else load_target(exporter.config))
    parameters = list(io)
    owners: dict[str, ExporterSpec] = {}
    for exporter, config_class in formats.values():
        if config_class is None:
            continue
        # Each exporter's options reach only its own run: they are passed only if given.
        for parameter in config_parameters(config_class, taken=_flags_of(parameters),
                                           given_only=True):
            if parameter.name in owners:
                raise TypeError(f"exporters {owners[parameter.name].name!r} and "
                                f"{exporter.name!r} both have an option {parameter.name!r}")
            owners[parameter.name] = exporter
            parameters.append(parameter)
    return make_command(
        f"Export a trained {spec.name} model (formats: "
        + (", ".join(f"--{e.name}" for e in exporters) or "none installed") + ").",
        parameters, lambda values: _export(spec, formats, owners, values))


def _export(spec: MethodSpec, formats: dict[str, tuple[ExporterSpec, type[Config] | None]],
            owners: dict[str, ExporterSpec], values: dict[str, Any]) -> None:
    from styx.core.specs import load_target
    from styx.exports import export, newest_model

    io, options = _split(values)
    if not formats:
        raise StyxError(f"no exporter is installed, so nothing can export {spec.name} models",
                        "'styx list exporters' lists them; exporters are plugins")
    chosen = [formats[key][0] for key in formats if io[key]]
    if not chosen:
        raise StyxError("no format chosen", "give one of " + ", ".join(
            f"--{exporter.name}" for exporter, _ in formats.values()))
    if len(chosen) > 1:
        raise StyxError("give one format at a time: " + ", ".join(f"--{e.name}" for e in chosen))
    exporter = chosen[0]
    if not exporter.exports(spec.name):
        raise StyxError(f"exporter {exporter.name!r} cannot export {spec.name} models",
                        f"it exports {', '.join(exporter.methods)}")
    own = {name: value for name, value in options.items() if owners[name] is exporter}
    for name, value in options.items():
        if name not in own and value not in (None, False):
            other = owners[name]
            flag = next(i.flag for i in options_of(load_target(other.config)) if i.field == name)
            raise StyxError(f"{flag} is an option of --{other.name}",
                            f"leave it out with --{exporter.name}")
    model = io["model"]
    if not model:
        model, count = newest_model(spec)
        if not io["quiet"] and not io["json"]:
            which = "the only" if count == 1 else f"the newest of {count}"
            _note(f"using model {model!r} ({which} stored {spec.name} models)")
    from styx.core.feedforward import load_model

    loaded = load_model(model, method=spec.name)
    config_class = next(c for e, c in formats.values() if e is exporter)
    config = config_from_cli(config_class, own) if config_class is not None else None
    written = export(loaded, exporter.name, io["output"], config=config)
    if io["json"]:
        typer.echo(json.dumps({"output": str(written), "model": str(loaded.path),
                               "format": exporter.name}))
    elif not io["quiet"]:
        _note(f"wrote {written} ({exporter.name}, model {loaded.name})")
