"""``styx run METHOD``: the command of every method, made from its spec and config.

Two shapes: a method that makes one image from a content image and style images (Gatys, a
plugin's optimisation) takes ``[CONTENT] [STYLE...] -o OUT``; a feed-forward method runs a
stored model over ``CONTENT...`` (``-o`` or ``--output-dir``), with ``--style-image`` for a
model whose generator declares that it takes a style image at run time (AdaIN's painting;
:mod:`styx.core.inputs`): the model, not the method, says so, and ``--help`` needs neither
torch nor the model. Either way the options are the config's
fields, and the result is written and reported the same way for every method.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from styx.cli.params import (
    config_from_cli,
    config_parameters,
    dry_run_flag,
    flags_of,
    io_parameter,
    make_command,
    note,
    optional_option,
    output_flags,
    report_dry_run,
    split_values,
    strict_flag,
)
from styx.cli.video import video_parameters
from styx.core.config import Config, options_of
from styx.core.errors import StyxError
from styx.core.specs import MethodSpec

#: Exit code of a run stopped by Ctrl-C (the best result so far is written first).
INTERRUPTED_EXIT_CODE = 130


def run_command(spec: MethodSpec) -> Callable[..., None]:
    """``styx run NAME``: images in, images out, options from the method's config."""
    from styx.core.method import run_config_class

    config_class = run_config_class(spec)
    if spec.feed_forward:
        io = [
            io_parameter("contents", typer.Argument(
                None, metavar="CONTENT...", show_default=False,
                help="Content images (or folders of them) to stylise, or clips: video files, "
                     "or a folder of frames with -o OUT.mp4."), list[Path] | None),
            optional_option("model", "--model", "-m", annotation=str,
                            help="A model name from 'styx models list', or a model folder."),
            optional_option("output", "--output", "-o", annotation=Path,
                            help="Output image (one content image, or none), or the output "
                                 "video of one clip (or a folder for its frames)."),
            optional_option("output_dir", "--output-dir", annotation=Path,
                            help="Folder for the outputs of several content images (named "
                                 "after them)."),
            io_parameter("format", typer.Option("png", "--format",
                                                help="File type of --output-dir outputs."), str),
            io_parameter("style_images", typer.Option(
                None, "--style-image", metavar="PAINTING", show_default=False,
                help="For a model that takes its style at run time (its generator declares a "
                     "style input): the painting; one per style input, in order, or several "
                     "for one input where the method blends them. A model that holds its "
                     "style refuses it."), list[Path] | None),
            strict_flag(),
            *video_parameters(batch_and_shard=True),
        ]
        body = _run_feed_forward
    else:
        io = [
            io_parameter("content", typer.Argument(
                None, metavar="CONTENT", show_default=False,
                help="Content image [default: the sample photo shipped with styx]."),
                Path | None),
            *([io_parameter("styles", typer.Argument(
                None, metavar="STYLE", show_default=False,
                help="Style image(s) [default: the sample painting shipped with styx]."),
                list[Path] | None)] if spec.uses_styles else []),
            io_parameter("output", typer.Option(
                ..., "--output", "-o", help="Output image (.png, .jpg, .webp, .bmp, .tif)."),
                Path),
            io_parameter("save_every", typer.Option(
                0, "--save-every",
                help="Also write the image every N steps, as OUT.00100.png etc.; the last "
                     "step's image is OUT itself (0: never)."),
                int),
            optional_option("log_json", "--log-json", annotation=Path,
                            help="Write a JSON log of the run (settings, result, per-step "
                                 "losses) to this file."),
        ]
        body = _run_optimisation
    io += [*output_flags(), dry_run_flag()]
    parameters = io + config_parameters(config_class, taken=flags_of(io))
    return make_command(spec.summary, parameters,
                        lambda values: body(spec, config_class, values))


def _run_optimisation(spec: MethodSpec, config_class: type[Config],
                      values: dict[str, Any]) -> None:
    """The body of ``styx run`` for a method that makes one image from a content image
    and style images (Gatys, or a plugin's)."""
    from styx.core.method import RunError, run_function
    from styx.files.atomic import check_writable_file, same_file
    from styx.files.formats import check_output_path

    io, options = split_values(values)
    config = config_from_cli(config_class, options)  # bad options fail before torch loads
    content, styles = io["content"], list(io.get("styles") or [])
    config.check_inputs(contents=int(content is not None), styles=len(styles))
    save_every = io["save_every"]
    if save_every < 0:
        raise StyxError(f"bad --save-every {save_every}", "give 0 (never) or a step count")
    output = check_output_path(io["output"])
    log_json, written = io["log_json"], [("-o", output)]  # no two the same, and no input
    if log_json is not None:
        log_json = check_writable_file(log_json, what="--log-json")
        if same_file(output, log_json):
            raise StyxError(f"-o and --log-json are the same file ({output})",
                            "give the log its own name, e.g. log.json")
        written.append(("--log-json", log_json))
    refuse_overwriting_inputs(written, [content, *styles, *_input_files(config)])
    from styx.files.image_arrays import sample_image
    from styx.runtime.image_tensors import run_request, save_image  # torch: after the checks

    as_json = io["json"]
    notes = not io["quiet"] and not as_json
    if spec.uses_styles and content is not None and not styles and notes:
        note(f"no style image given: using the sample painting {sample_image('style').name}")

    def save_intermediate(info: Any) -> None:
        if info.step % save_every == 0 and info.step < info.total_steps:
            save_image(info.image(), output.with_name(
                f"{output.stem}.{info.step:05d}{output.suffix}"))

    log = {"method": spec.name, "content": None if content is None else str(content),
           "styles": [str(s) for s in styles], "output": str(output),
           "config": config.to_dict()}
    request = run_request(content=content, styles=styles, progress=notes,
                          callback=save_intermediate if save_every else None)
    from styx.perceptual.weights import notes as weights_notes
    from styx.runtime.memory import DryRunStop, watching

    try:
        with weights_notes(notes), watching(stop=io["dry_run"]) as needs:
            result = run_function(spec)(request, config)
    except DryRunStop:
        report_dry_run(needs, as_json)
        return
    except RunError as error:
        if log_json is not None:
            write_json(log_json, {**log, "status": error.status, "error": error.message,
                                  "history": error.history})
        raise
    if io["dry_run"]:
        raise ran_unchecked(spec)
    save_image(result.image, output, alpha=result.alpha)
    summary = {"output": str(output), **result.summary(),
               **({"memory": needs[-1].to_dict()} if needs else {})}
    if log_json is not None:
        write_json(log_json, {**log, "status": "interrupted" if result.interrupted else "done",
                              "device": result.device, "precision": result.precision,
                              **result.details(),
                              "result": summary, "history": result.history})
    if as_json:
        typer.echo(json.dumps(summary))
    if result.interrupted:  # said even with --quiet, like an error
        done = f" after {result.steps} steps" if result.steps is not None else ""
        loss = f" (loss {result.loss:.4g})" if result.loss is not None else ""
        note(f"interrupted{done}: wrote the best image so far{loss} to {output}")
        raise typer.Exit(INTERRUPTED_EXIT_CODE)
    if notes:
        note(f"wrote {output} ({summary['width']}x{summary['height']}, {result.describe()})")


def ran_unchecked(spec: MethodSpec) -> StyxError:
    """The error of ``--dry-run`` when the method's run made no memory check to stop at (it
    ran): its result is not written."""
    return StyxError(f"method {spec.name!r} makes no memory estimate: --dry-run ran it",
                     "its result was not written; run it without --dry-run")


def _input_files(config: Config) -> list[Path]:
    """The values of options that may name input images (``--init FILE``)."""
    values = [getattr(config, info.field) for info in options_of(type(config))
              if info.option.input_file]
    return [Path(value) for value in values if isinstance(value, (str, os.PathLike))]


def refuse_overwriting_inputs(written: list[tuple[str, Path]], inputs: list[Path | None]
                              ) -> None:
    """StyxError if any file about to be written (option, path) is one of the ``inputs``."""
    from styx.files.atomic import same_file

    for option, path in written:
        for image in inputs:
            if image is not None and Path(image).is_file() and same_file(path, image):
                if option == "--output-dir":
                    raise StyxError(f"--output-dir {path.parent} would overwrite the input "
                                    f"image {image} (with its result, {path.name})",
                                    "choose another --output-dir")
                raise StyxError(f"{option} {path} would overwrite the input image {image}",
                                f"give {option} another file name")


def write_json(path: Path, data: dict) -> None:
    """Write ``data`` as JSON to ``path``, atomically; a failure is a StyxError."""
    from styx.files.atomic import atomic_path

    try:
        with atomic_path(path) as temporary:
            temporary.write_text(json.dumps(data, indent=1) + "\n")
    except OSError as error:
        raise StyxError(f"cannot write {path}: {error.strerror or error}",
                        "choose a folder you can write to") from None


def _run_feed_forward(spec: MethodSpec, config_class: type[Config],
                      values: dict[str, Any]) -> None:
    """The body of ``styx run`` for a feed-forward method: a stored model over each
    content image (or over none, for a generator that makes images from noise). A bad
    content image is skipped or, with ``--strict``, the error (:mod:`styx.files.badfiles`)."""
    from styx.core.method import run_function
    from styx.files.badfiles import BadFiles
    from styx.files.formats import check_output_path

    io, options = split_values(values)
    config = config_from_cli(config_class, options)
    if not io["model"]:
        raise StyxError("missing --model", "give a model name ('styx models list') or folder")
    from styx.cli.video import VideoOptions, split_clips
    from styx.files.image_arrays import images_named

    video = VideoOptions.of(io)
    jobs, photos = split_clips(io["contents"] or [], io["output"], io["output_dir"], video)
    contents = images_named(photos)  # folders: their images
    styles = images_named(io["style_images"] or [])
    config.check_inputs(contents=len(contents) + len(jobs), styles=len(styles))
    targets = output_paths(contents, io["output"], io["output_dir"], io["format"]) \
        if contents or not jobs else []
    for target in targets:
        check_output_path(target)
    option = "-o" if io["output"] is not None else "--output-dir"
    refuse_overwriting_inputs([(option, target) for target in targets],
                              [*contents, *styles, *_input_files(config)])
    bad = BadFiles(strict=io["strict"], say=note) if io["output"] is None else \
        BadFiles(strict=True, strict_hint=None)  # -o: one image, a bad one is the error
    bad.check(contents)  # --strict: every header before the model loads
    from styx.files.image_arrays import UnreadableImage
    from styx.generators.models import load_model
    from styx.perceptual.weights import notes as weights_notes
    from styx.runtime.device import precision_of
    from styx.runtime.image_tensors import run_request, save_image
    from styx.runtime.memory import DryRunStop, watching

    talk = not io["quiet"] and not io["json"]
    with weights_notes(talk):
        model = load_model(io["model"], method=spec.name)
    precision = precision_of(config)
    if talk:  # the run's first line: where and in what it computes
        for line in precision.announce(f"{spec.name} model {model.name}"):
            note(line)
    clips = _run_clips(jobs, model, config, options, styles, video, io) if jobs else []
    if jobs and not contents:
        if io["json"] and not io["dry_run"]:
            typer.echo(json.dumps({"model": str(model.path), "clips": clips,
                                   "device": str(precision.device),
                                   "precision": precision.name}))
        return
    run = run_function(spec)
    written, needs = [], []
    for content, target in zip(contents or [None], targets):
        try:
            with weights_notes(talk), watching(stop=io["dry_run"]) as checked:
                result = run(run_request(content=content, styles=styles, model=model), config)
        except DryRunStop:
            needs += checked
            continue
        except UnreadableImage as error:
            if content is None or error.path != Path(content).expanduser():
                raise  # a style image or a mask: the same for every content image
            bad.skip(content, error)
            continue
        needs += checked
        if io["dry_run"]:
            raise ran_unchecked(spec)
        written.append(str(save_image(result.image, target, alpha=result.alpha)))
        if talk:
            print(written[-1], file=sys.stdout)
    if io["dry_run"]:
        report_dry_run(needs, io["json"])
    elif io["json"]:
        typer.echo(json.dumps({"model": str(model.path), "outputs": written,
                               **({"clips": clips} if clips else {}),
                               "failed": bad.to_json(), "device": str(precision.device),
                               "precision": precision.name,
                               "memory": [need.to_dict() for need in needs]}))
    if bad.failed:
        if talk:
            note(bad.summary(len(written)))
        raise typer.Exit(1)


def _run_clips(jobs: list, model: Any, config: Config, options: dict[str, Any],
               styles: list[Path], video: Any, io: dict[str, Any]) -> list[dict[str, Any]]:
    """The clips of a ``styx run`` of a feed-forward method, through PyTorch
    (:func:`styx.generators.models.clip_stylist`); ``--dry-run``: the memory estimate of
    one batch of each clip's frames, printed, nothing run."""
    from styx.cli.video import run_clips
    from styx.generators.models import clip_stylist
    from styx.video.pipeline import frame_size

    long_side = getattr(config, "long_side", None)
    stylise, fingerprint = clip_stylist(model, config, {}, styles)
    if io["dry_run"]:
        import numpy as np

        from styx.runtime.memory import DryRunStop, watching

        needs = []
        for job in jobs:
            frames = np.zeros((video.batch_size, 3, *frame_size(job.clip, long_side)),
                              dtype=np.float32)
            try:
                with watching(stop=True) as checked:
                    stylise(frames)
            except DryRunStop:
                needs += checked
        report_dry_run(needs, io["json"])
        raise typer.Exit(0)
    talk = not io["quiet"] and not io["json"]
    return run_clips(jobs, stylise, video.settings(long_side=long_side,
                                                   overwrite=video.overwrite),
                     fingerprint=fingerprint, talk=talk)


def output_paths(contents: list[Path], output: Path | None, output_dir: Path | None,
                 suffix: str) -> list[Path]:
    """Where each content image's result goes: ``-o`` for one (or for a run with no
    content), else ``--output-dir/NAME.SUFFIX``, names made unique case-insensitively."""
    if output is not None and output_dir is not None:
        raise StyxError("give --output or --output-dir, not both",
                        "-o OUT names the one result; --output-dir DIR holds one per content image")
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


