"""``styx infer MODEL.onnx INPUT... -o OUT | --output-dir DIR``: exported generators in
onnxruntime, with no torch imported (the library side is :mod:`styx.inference`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from styx.cli.params import STRICT_HELP
from styx.core.errors import StyxError


def infer(
    model: Annotated[Path, typer.Argument(
        metavar="MODEL.onnx", show_default=False,
        help="A file written by 'styx export METHOD --onnx'.")],
    inputs: Annotated[list[Path], typer.Argument(
        metavar="INPUT...", show_default=False,
        help="Photos, folders of photos (searched recursively), or clips: video files, or "
             "a folder of frames with -o OUT.mp4.")],
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", show_default=False,
        help="The output image (one input photo; replaced if it exists), or the output "
             "video of one clip (or a folder for its frames).")] = None,
    output_dir: Annotated[Path | None, typer.Option(
        "--output-dir", show_default=False,
        help="Folder for the outputs, named after the inputs; outputs already there are "
             "skipped (a re-run finishes the rest).")] = None,
    file_format: Annotated[str, typer.Option(
        "--format", help="File type of --output-dir outputs.")] = "png",
    provider: Annotated[str, typer.Option(
        "--provider", help="auto (CUDA when onnxruntime sees a GPU, else CPU), cuda, "
                           "tensorrt or cpu.")] = "auto",
    style: Annotated[str | None, typer.Option(
        "--style", metavar="NAME|INDEX", show_default=False,
        help="StyleBank files: the style, by name or index.")] = None,
    style_mix: Annotated[str | None, typer.Option(
        "--style-mix", metavar="NAME:W,...", show_default=False,
        help="StyleBank files: a linear fusion, e.g. starry:0.7,scream:0.3.")] = None,
    strength: Annotated[float, typer.Option(
        "--strength", min=0.0, max=1.0,
        help="StyleBank files: how much style (0: the photo reconstructed).")] = 1.0,
    reconstruct: Annotated[bool, typer.Option(
        "--reconstruct", help="StyleBank files: no style, the photo as the model "
                              "reconstructs it.")] = False,
    style_images: Annotated[list[Path] | None, typer.Option(
        "--style-image", metavar="PAINTING", show_default=False,
        help="Files that take a style image at run time (a style input): the painting; "
             "repeat it for a file of several style inputs, in order.")] = None,
    style_size: Annotated[int | None, typer.Option(
        "--style-size", min=0, show_default=False,
        help="Resize each --style-image to this long side first [default: 512; 0 keeps "
             "its size].")] = None,
    settings_given: Annotated[list[str] | None, typer.Option(
        "--set", metavar="NAME=VALUE", show_default=False,
        help="A setting input of the file, e.g. strength=0.5 (repeatable; 'styx models "
             "show FILE' lists them).")] = None,
    seed: Annotated[int, typer.Option(
        "--seed", help="Seed of the noise inputs (texture-nets): the same seed, the same "
                       "picture.")] = 0,
    long_side: Annotated[int | None, typer.Option(
        "--long-side", min=1, show_default=False,
        help="Resize each photo to this long side first.")] = None,
    tile: Annotated[int | None, typer.Option(
        "--tile", show_default=False,
        help="Stylise photos larger than this in tiles of this many pixels (memory follows "
             "the tile), e.g. 1024.")] = None,
    overlap: Annotated[int | None, typer.Option(
        "--overlap", show_default=False,
        help="Pixels neighbouring tiles share (feathered) [default: 64, with "
             "--tile].")] = None,
    batch_size: Annotated[int, typer.Option(
        "--batch-size", min=1, help="Photos of one size run together, this many at "
                                    "most.")] = 4,
    shard_spec: Annotated[str | None, typer.Option(
        "--shard", metavar="K/N", show_default=False,
        help="Take every N-th photo from the K-th (0-based), so N processes split one "
             "folder.")] = None,
    threads: Annotated[int | None, typer.Option(
        "--threads", min=1, show_default=False,
        help="CPU threads [default: onnxruntime's choice].")] = None,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Replace outputs already in --output-dir.")] = False,
    strict: Annotated[bool, typer.Option("--strict", help=STRICT_HELP)] = False,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Check everything and print the memory estimate of each photo "
                          "size; write nothing.")] = False,
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="No notes (errors are still printed).")] = False,
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print the result as JSON on stdout.")] = False,
    **video_options: Any,
) -> None:
    """Stylise photos and videos with an exported .onnx generator in onnxruntime (no
    PyTorch)."""
    from styx.cli.params import note, split_values
    from styx.cli.run import output_paths, refuse_overwriting_inputs
    from styx.cli.video import VideoOptions, split_clips
    from styx.core.checks import check_tiling
    from styx.files.badfiles import BadFiles
    from styx.files.formats import check_output_path
    from styx.files.image_arrays import images_named
    from styx.files.tiling import DEFAULT_OVERLAP
    from styx.inference.batch import InferSettings, shard, stylise_files
    from styx.inference.onnxfile import OnnxGenerator

    if style is not None and style_mix is not None:
        raise StyxError("give --style or --style-mix, not both",
                        "--style picks one style; --style-mix NAME:W,NAME:W blends several")
    check_tiling(tile, overlap)  # --overlap without --tile too
    video = VideoOptions.of(split_values(video_options)[0], batch_size=batch_size,
                            shard=shard_spec)
    jobs, photos = split_clips(inputs, output, output_dir, video)
    sources = images_named(photos) if photos or not jobs else []
    if output is not None and len(sources) > 1:
        raise StyxError(f"{len(sources)} input photos but one --output",
                        "use --output-dir DIR for several photos")
    targets = output_paths(sources, output, output_dir, file_format)
    pairs = shard(list(zip(sources, targets)), shard_spec)
    for _, target in pairs[:1]:
        check_output_path(target)  # the folder is tried once, before any work
    refuse_overwriting_inputs([("-o" if output else "--output-dir", t) for _, t in pairs],
                              sources)

    generator = OnnxGenerator.open(model, provider=provider, threads=threads, keep_graph=True)
    talk = not quiet and not as_json
    if talk and generator.fallback and provider == "auto":
        note(f"running on the CPU: {generator.fallback}")
    if reconstruct and (style is not None or style_mix is not None or strength != 1.0):
        raise StyxError("--reconstruct applies no style",
                        "leave out --style, --style-mix and --strength")
    weights = generator.reconstruction() if reconstruct else \
        generator.style_weights(style, style_mix, strength)
    given = {} if weights is None else {generator.per_style_input: weights}
    if weights is None and (strength != 1.0 or reconstruct):
        raise StyxError(f"{'--reconstruct' if reconstruct else '--strength'} is for files of "
                        "several styles (StyleBank)", "leave it out (a setting: --set NAME=VALUE)")
    given.update(style_inputs(generator, style_images or [], style_size))
    given.update(setting_inputs(generator, settings_given or []))
    settings = InferSettings(seed=seed, long_side=long_side, batch=batch_size, tile=tile,
                             overlap=DEFAULT_OVERLAP if overlap is None else overlap,
                             overwrite=overwrite or output is not None,
                             inputs=given)
    needs = memory_check(generator, pairs, settings, dry_run=dry_run, as_json=as_json,
                         clips=jobs, batch=video.batch_size)
    if dry_run:
        return
    clips = infer_clips(generator, jobs, settings, video, talk=talk,
                        overwrite=overwrite) if jobs else []
    if not pairs:
        if as_json:
            typer.echo(json.dumps({"model": str(generator.path), "provider": generator.provider,
                                   "clips": clips, "memory": [n.to_dict() for n in needs]}))
        return

    def tell(kind: str, text: str) -> None:  # a bad file: said by BadFiles
        if kind == "written" and talk:
            print(text, file=sys.stdout)
        elif kind == "skipped" and talk:
            note(f"{text} already (--overwrite replaces it)")

    bad = BadFiles(strict=strict, say=note) if output is None else \
        BadFiles(strict=True, strict_hint=None)  # -o: one photo, a bad one is the error
    report = stylise_files(generator, pairs, settings, on_done=tell, bad=bad)
    if as_json:
        typer.echo(json.dumps({"model": str(generator.path), "provider": generator.provider,
                               **report.to_dict(), **({"clips": clips} if clips else {}),
                               "memory": [n.to_dict() for n in needs]}))
    elif talk:
        there = [f"{len(report.skipped)} already there"] if report.skipped else []
        note(f"{bad.summary(len(report.written), *there)} in {report.seconds:.2f} s "
             f"({generator.provider.replace('ExecutionProvider', '')})")
    if report.failed:
        raise typer.Exit(1)


#: The long side ``--style-image`` paintings are resized to unless ``--style-size`` says.
STYLE_SIZE = 512


def memory_check(generator, pairs: list, settings, *, dry_run: bool, as_json: bool,
                 clips: list = (), batch: int = 1) -> list:
    """The memory the runs of ``pairs`` (and of ``clips``, ``batch`` frames at a time)
    will take, from the photos' headers and the graph's shapes
    (:mod:`styx.inference.footprint`), checked before any photo is decoded: the largest
    run that does not fit is the command's error (exit 2). ``dry_run``: the estimate of
    each photo size printed (``--json``: as JSON) and checked, nothing run."""
    from styx.inference.batch import clip_group, pending, plan_groups
    from styx.inference.footprint import memory_needs

    groups = plan_groups(pending(pairs, settings), settings, lambda source, error: None)
    groups += [clip_group(job.clip, job.target, settings, batch) for job in clips]
    needs = memory_needs(generator, groups, settings, every=dry_run)
    if dry_run and as_json:
        typer.echo(json.dumps({"model": str(generator.path), "provider": generator.provider,
                               "photos": sum(len(g.pairs) for g in groups),
                               "memory": [need.to_dict() for need in needs]}))
    elif dry_run:  # the estimates are its result: printed with -q too
        for need in needs:
            typer.echo(need.describe())
    for need in needs:
        need.check()
    return needs


def infer_clips(generator, jobs: list, settings, video, *, talk: bool, overwrite: bool
                ) -> list[dict]:
    """Stylise each clip of ``jobs`` (:mod:`styx.cli.video`) through ``generator``'s
    session, with the photos' settings (``settings``) and the video options
    (``overwrite``: make the segments of an earlier run again)."""
    from styx.cli.video import run_clips
    from styx.inference.batch import clip_fingerprint, stylise_batch

    return run_clips(jobs, lambda frames: stylise_batch(generator, frames, settings),
                     video.settings(long_side=settings.long_side, overwrite=overwrite),
                     fingerprint=clip_fingerprint(generator, settings), talk=talk)


def style_inputs(generator, paintings: list[Path], long_side: int | None) -> dict:
    """The file's style inputs (:mod:`styx.core.inputs`) from ``--style-image``: one
    painting per input, in order; a file that takes none refuses them."""
    from styx.inference.batch import load_photo

    wanted = generator.style_inputs
    if not wanted and paintings:
        raise StyxError(f"{generator.path.name} takes no style image: it holds its style(s)",
                        "leave out --style-image")
    if wanted and len(paintings) != len(wanted):
        raise StyxError(f"{generator.path.name} takes {len(wanted)} style image(s) "
                        f"({', '.join(wanted)}), {len(paintings)} given",
                        "give one --style-image PAINTING for each, in order")
    size = STYLE_SIZE if long_side is None else (long_side or None)
    return {name: load_photo(painting, size)[0] for name, painting in zip(wanted, paintings)}


def setting_inputs(generator, given: list[str]) -> dict:
    """The file's setting inputs from ``--set NAME=VALUE`` (values separated by commas)."""
    import numpy as np

    from styx.core.inputs import SETTING
    from styx.core.suggest import did_you_mean

    names = generator.names_of_kind(SETTING)
    values = {}
    for text in given:
        name, sep, value = text.partition("=")
        name = name.strip()
        if not sep or name not in names:
            raise StyxError(f"bad --set {text!r}", did_you_mean(name, names) or
                            f"the file's settings: {', '.join(names) or 'none'}")
        shape = generator.metadata["inputs"][name]["shape"]
        try:
            array = np.asarray([float(v) for v in value.split(",")], dtype=np.float32)
        except ValueError:
            raise StyxError(f"bad --set {text!r}", "give numbers, e.g. strength=0.5") from None
        if array.size != int(np.prod(shape)):
            raise StyxError(f"--set {name} takes {int(np.prod(shape))} value(s), not "
                            f"{array.size}", "separate values with commas")
        values[name] = array.reshape([int(s) for s in shape])
    return values


def _with_video_options(command):
    """``command``'s signature with the video options in place of its ``**video_options``
    (typer reads the signature)."""
    import inspect

    from styx.cli.video import video_parameters

    signature = inspect.signature(command, eval_str=True)  # typer reads it as it is
    named = [p for p in signature.parameters.values() if p.kind != p.VAR_KEYWORD]
    extra = video_parameters(batch_and_shard=False)
    command.__signature__ = signature.replace(parameters=named + extra)
    command.__annotations__ = {**command.__annotations__,
                               **{p.name: p.annotation for p in extra}}
    return command


infer = _with_video_options(infer)
