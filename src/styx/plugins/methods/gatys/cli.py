"""``styx run gatys``: the command (imports no torch at import time; the body does)."""

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from styx.cli import options
from styx.core.errors import StyxError
from styx.core.options import parse_descriptor_options
from styx.plugins.methods.gatys.config import DEFAULT_LR, DEFAULT_SIZE, INITS, GatysConfig

#: The defaults of every option come from the config, the one place they are set.
D = GatysConfig()

#: Exit code of a run stopped by Ctrl-C (the best image so far is written first).
INTERRUPTED_EXIT_CODE = 130


def run(
    output: Annotated[Path, typer.Option(
        "--output", "-o", help="Output image (.png, .jpg, .webp, .bmp, .tif).")],
    content: Annotated[Path | None, typer.Argument(
        metavar="CONTENT", help="Content image [default: the sample photo shipped with styx].",
        show_default=False)] = None,
    styles: Annotated[list[Path] | None, typer.Argument(
        metavar="STYLE", help="Style image(s) [default: the sample painting shipped with styx].",
        show_default=False)] = None,
    # The descriptor.
    descriptor: options.DescriptorOption = D.descriptor,
    weights: options.DescriptorWeightsOption = D.weights,
    descriptor_option: options.DescriptorOptionsOption = None,
    # The objective.
    content_layers: options.ContentLayersOption = None,
    style_layers: options.StyleLayersOption = None,
    balance_style_layers: Annotated[bool, typer.Option(
        "--balance-style-layers",
        help="Rescale the style layer weights so every layer's loss starts equal "
             "('--style-layers balanced': the descriptor's default layers, "
             "balanced).")] = False,
    content_weight: options.ContentWeightOption = D.content_weight,
    style_weight: options.StyleWeightOption = D.style_weight,
    tv_weight: options.TVWeightOption = D.tv_weight,
    gram_normalization: options.GramNormalizationOption = D.gram_normalization,
    # The images.
    size: Annotated[int | None, typer.Option(
        help=f"Long side of the output in pixels [default: {DEFAULT_SIZE}, or the last of "
             "--scales].",
        show_default=False)] = None,
    scales: Annotated[str | None, typer.Option(
        help="Coarse-to-fine long sides, e.g. 256,512: each scale starts from the last "
             "one's result.", show_default=False)] = None,
    style_scale: Annotated[float, typer.Option(
        help="Style image long side, relative to the output's long side.")] = D.style_scale,
    style_blend: Annotated[str | None, typer.Option(
        help="One weight per style image, e.g. 0.7,0.3 [default: equal].",
        show_default=False)] = None,
    init: Annotated[str, typer.Option(
        help="Starting image: content, noise, style or an image file.")] = D.init,
    noise_ratio: Annotated[float, typer.Option(
        help="Mix noise into the start: start*(1-R) + noise*R, R in [0, 1].")] = D.noise_ratio,
    preserve_color: options.PreserveColorOption = False,
    # The optimisation.
    optimizer: Annotated[str, typer.Option(help="lbfgs or adam.")] = D.optimizer,
    steps: Annotated[str, typer.Option(
        help="Optimiser steps per scale (L-BFGS: iterations of one loss evaluation each): "
             "one number for every scale, or one per scale, e.g. 300,100.")] = str(D.steps),
    lr: Annotated[float | None, typer.Option(
        help=f"Learning rate [default: {DEFAULT_LR['lbfgs']:g} for lbfgs, "
             f"{DEFAULT_LR['adam']:g} for adam].",
        show_default=False)] = None,
    lbfgs_history: Annotated[int, typer.Option(
        help="L-BFGS memory (pairs of update vectors kept).")] = D.lbfgs_history,
    # How it runs.
    seed: options.SeedOption = D.seed,
    device: options.DeviceOption = D.device,
    amp: options.AmpOption = D.amp,
    channels_last: Annotated[bool, typer.Option(
        help="Run the descriptor in channels-last memory format (faster on CPUs and "
             "tensor cores).")] = D.channels_last,
    compile: Annotated[bool, typer.Option(
        "--compile", help="torch.compile the descriptor (the first step is slow).")] = False,
    save_every: Annotated[int, typer.Option(
        help="Also write the image every N steps, as OUT.00100.png etc. (0: never).")] = 0,
    log_json: options.LogJsonOption = None,
    log_every: Annotated[int | None, typer.Option(
        help="Read the losses every N steps [default: every step; every 10th with adam "
             "on a GPU].", show_default=False)] = None,
    quiet: options.QuietOption = False,
    json_output: options.JsonOption = False,
) -> None:
    """Gatys et al. style transfer: optimise the output image's pixels."""
    config = GatysConfig(
        descriptor=descriptor, weights=weights,
        descriptor_options=parse_descriptor_options(descriptor_option),
        content_layers=content_layers, style_layers=style_layers,
        balance_style_layers=balance_style_layers, content_weight=content_weight,
        style_weight=style_weight, tv_weight=tv_weight, gram_normalization=gram_normalization,
        size=size, scales=scales, style_scale=style_scale, style_blend=style_blend, init=init,
        noise_ratio=noise_ratio, preserve_color=preserve_color, optimizer=optimizer,
        steps=steps, lr=lr, lbfgs_history=lbfgs_history, seed=seed, device=device, amp=amp,
        channels_last=channels_last, compile=compile, log_every=log_every)
    style_list = list(styles or [])
    resolved = config.resolved(styles=len(style_list) or 1)  # bad options fail before torch
    if save_every < 0:
        raise StyxError(f"bad --save-every {save_every}", "give 0 (never) or a step count")
    from styx.core.atomic import check_writable_file
    from styx.core.image import check_output_path, sample_image, save_image

    output = check_output_path(output)
    if log_json is not None:
        log_json = check_writable_file(log_json, what="--log-json")
    _check_no_clash(output, log_json, inputs=[
        content, *style_list, *([Path(resolved.init)] if resolved.init not in INITS else [])])
    notes = not quiet and not json_output
    if content is not None and not style_list and notes:
        _note(f"no style image given: using the sample painting {sample_image('style').name}")

    from styx.plugins.methods.gatys.api import stylize
    from styx.plugins.methods.gatys.optimize import NonFiniteLoss

    def save_intermediate(info) -> None:
        if save_every and info.step % save_every == 0 and info.step < info.total_steps:
            save_image(info.image(), output.with_name(
                f"{output.stem}.{info.step:05d}{output.suffix}"))

    log = {"method": "gatys", "content": _name(content), "styles": [str(s) for s in style_list],
           "output": str(output), "config": config.as_dict()}
    from styx.core.weights import notes as weights_notes

    try:
        with weights_notes(notes):
            result = stylize(content, style_list or None, config=config,
                             callback=save_intermediate if save_every else None,
                             progress=not quiet and not json_output)
    except NonFiniteLoss as error:
        if log_json is not None:
            _write_json(log_json, {**log, "status": "non-finite loss",
                                   "history": error.history})
        raise

    save_image(result.image, output, alpha=result.alpha)
    summary = {"output": str(output), "width": int(result.image.shape[-1]),
               "height": int(result.image.shape[-2]), "steps": result.steps,
               "loss": result.loss, "seconds": round(result.seconds, 3),
               "interrupted": result.interrupted, "device": result.device,
               "scales": result.scales}
    if log_json is not None:
        _write_json(log_json, {**log, "status": "interrupted" if result.interrupted else "done",
                               "device": result.device,
                               "content_layers": result.content_layers,
                               "style_layers": result.style_layers,
                               "result": summary, "history": result.history})
    if json_output:
        typer.echo(json.dumps(summary))
    if result.interrupted:  # said even with --quiet, like an error
        _note(f"interrupted after {result.steps} steps: wrote the best image so far "
              f"(loss {result.loss:.4g}) to {output}")
        raise typer.Exit(INTERRUPTED_EXIT_CODE)
    if notes:
        _note(f"wrote {output} ({summary['width']}x{summary['height']}, {result.steps} steps, "
              f"loss {result.loss:.4g}, {result.seconds:.1f} s on {result.device})")


def _check_no_clash(output: Path, log_json: Path | None, *, inputs: list[Path | None]) -> None:
    """The files written must differ from each other and from every input image."""
    from styx.core.atomic import same_file

    written = [("-o", output), *([("--log-json", log_json)] if log_json is not None else [])]
    if log_json is not None and same_file(output, log_json):
        raise StyxError(f"-o and --log-json are the same file ({output})",
                        "give the log its own name, e.g. log.json")
    for option, path in written:
        for image in inputs:
            if image is not None and image.is_file() and same_file(path, image):
                raise StyxError(f"{option} {path} would overwrite the input image {image}",
                                f"give {option} another file name")


def _name(path: Path | None) -> str | None:
    return None if path is None else str(path)


def _note(text: str) -> None:
    print(text, file=sys.stderr)


def _write_json(path: Path, data: dict) -> None:
    from styx.core.atomic import atomic_path

    try:
        with atomic_path(path) as temporary:
            temporary.write_text(json.dumps(data, indent=1) + "\n")
    except OSError as error:
        raise StyxError(f"cannot write {path}: {error.strerror or error}") from None
