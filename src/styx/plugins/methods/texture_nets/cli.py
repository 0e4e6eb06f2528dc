"""``styx train texture-nets`` and ``styx run texture-nets`` (no torch import at import time).

Both are typer-style functions mounted by :mod:`styx.cli.app`; every heavy import happens in
the function body, after the options are parsed.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from styx.cli import options
from styx.core.errors import StyxError
from styx.core.options import parse_descriptor_options
from styx.core.perceptual import (
    DEFAULT_CONTENT_WEIGHT,
    DEFAULT_STYLE_WEIGHT,
    DEFAULT_TV_WEIGHT,
    LossSettings,
)

Opt = typer.Option

_TRAIN = "Training"
_NET = "Generator"


def train(
    style: Annotated[Path, Opt("--style", help="The style image.", show_default=False)],
    content_dir: Annotated[Path | None, Opt(
        "--content-dir", show_default=False,
        help="Folder of content photos, searched recursively (unreadable files are skipped "
             "and counted). Not needed with --texture.")] = None,
    name: Annotated[str | None, Opt(
        "--name", show_default=False,
        help="Store the model under this name (default: the style file's name).")] = None,
    output: Annotated[Path | None, Opt(
        "--output", "-o", show_default=False,
        help="Save the model to this folder instead of the model store.")] = None,
    overwrite: Annotated[bool, Opt(
        "--overwrite", help="Replace an existing model of that name or path.")] = False,
    texture: Annotated[bool, Opt(
        "--texture", help="Train a texture generator: noise in, the style's texture out "
                          "(no content loss).")] = False,
    # -- loss
    descriptor: Annotated[str, options.descriptor_option()] = "vgg19",
    descriptor_option: options.DescriptorOptionsOption = None,
    weights: options.DescriptorWeightsOption = "imagenet",
    content_layers: options.ContentLayersOption = None,
    style_layers: options.StyleLayersOption = None,
    content_weight: options.ContentWeightOption = DEFAULT_CONTENT_WEIGHT,
    style_weight: options.StyleWeightOption = DEFAULT_STYLE_WEIGHT,
    tv_weight: options.TVWeightOption = DEFAULT_TV_WEIGHT,
    content_loss: options.ContentLossOption = "content",
    style_loss: options.StyleLossOption = "gram",
    gram_normalization: options.GramNormalizationOption = None,
    tv_loss: options.TVLossOption = "tv",
    style_size: Annotated[int | None, Opt(
        "--style-size", show_default=False, rich_help_panel=options.LOSS_PANEL,
        help="Long side of the style image in pixels (default: --image-size).")] = None,
    # -- training
    image_size: Annotated[int, Opt(
        "--image-size", help="Side of the random square crops of the content photos.",
        rich_help_panel=_TRAIN)] = 256,
    short_side: Annotated[int | None, Opt(
        "--short-side", show_default=False, rich_help_panel=_TRAIN,
        help="Resize every photo to this shorter side before cropping (default: keep "
             "each photo's own resolution).")] = None,
    batch_size: Annotated[int, Opt("--batch-size", rich_help_panel=_TRAIN)] = 4,
    iterations: Annotated[int, Opt("--iterations", rich_help_panel=_TRAIN)] = 2000,
    lr: Annotated[float, Opt("--lr", help="Adam learning rate.", rich_help_panel=_TRAIN)] = 1e-3,
    lr_decay: Annotated[float, Opt(
        "--lr-decay", help="Multiply the learning rate by this ...",
        rich_help_panel=_TRAIN)] = 0.8,
    lr_decay_every: Annotated[int, Opt(
        "--lr-decay-every", help="... every N iterations.", rich_help_panel=_TRAIN)] = 2000,
    checkpoint_every: Annotated[int, Opt(
        "--checkpoint-every", help="Write the checkpoint every N iterations.",
        rich_help_panel=_TRAIN)] = 500,
    log_every: Annotated[int, Opt(
        "--log-every", help="Record the losses every N iterations.",
        rich_help_panel=_TRAIN)] = 10,
    run_dir: Annotated[Path | None, Opt(
        "--run-dir", show_default=False, rich_help_panel=_TRAIN,
        help="Folder for the checkpoint (default: $STYX_HOME/runs/NAME, or OUTPUT.run "
             "beside --output).")] = None,
    resume: Annotated[bool, Opt(
        "--resume", help="Continue the run in the run folder from its checkpoint.",
        rich_help_panel=_TRAIN)] = False,
    seed: options.SeedOption = 0,
    device: options.DeviceOption = "auto",
    amp: options.AmpOption = "auto",
    workers: Annotated[int, Opt(
        "--workers", help="Data-loading worker processes.", rich_help_panel=_TRAIN)] = 0,
    # -- generator
    scales: Annotated[int, Opt(
        "--scales", help="Scales K of the pyramid.", rich_help_panel=_NET)] = 6,
    channels: Annotated[int, Opt(
        "--channels", help="Channels per scale.", rich_help_panel=_NET)] = 8,
    noise_channels: Annotated[int, Opt(
        "--noise-channels", help="Noise channels per scale (0: none).",
        rich_help_panel=_NET)] = 3,
    padding: Annotated[str, Opt(
        "--padding", help="circular, reflect, replicate or zero.",
        rich_help_panel=_NET)] = "circular",
    norm: Annotated[str, Opt(
        "--norm", help="instance or batch.", rich_help_panel=_NET)] = "instance",
    # -- output
    quiet: options.QuietOption = False,
    log_json: options.LogJsonOption = None,
    as_json: options.JsonOption = False,
) -> None:
    """Train a texture network for one style; save it to the model store (or --output)."""
    from styx.core.training import TrainConfig
    from styx.plugins.methods.texture_nets.api import train_texture_net
    from styx.plugins.methods.texture_nets.generator import GeneratorConfig

    if content_dir is None and not texture:
        raise StyxError("missing --content-dir", "give a folder of content photos "
                        "(or --texture to train a texture generator)")
    if name is None and output is None:
        name = _name_from(style)
    if name is not None and output is not None:
        raise StyxError("give --name or --output, not both")
    if style_size is not None and style_size < 8:
        raise StyxError(f"bad --style-size {style_size}", "it must be >= 8")
    generator = GeneratorConfig(scales=scales, channels=channels,
                                noise_channels=noise_channels,
                                content_channels=0 if texture else 3,
                                padding=padding, norm=norm)
    losses = LossSettings.from_options(
        descriptor=descriptor, weights=weights, content_layers=content_layers,
        style_layers=style_layers, content_weight=content_weight, style_weight=style_weight,
        tv_weight=tv_weight, gram_normalization=gram_normalization,
        content_loss=content_loss, style_loss=style_loss, tv_loss=tv_loss,
        descriptor_options=parse_descriptor_options(descriptor_option)).check()
    config = TrainConfig(iterations=iterations, batch_size=batch_size, image_size=image_size,
                         lr=lr, lr_decay=lr_decay, lr_decay_every=lr_decay_every,
                         checkpoint_every=checkpoint_every, log_every=log_every, seed=seed,
                         device=device, amp=amp, num_workers=workers, quiet=quiet or as_json,
                         short_side=short_side).validate()
    from styx.core.weights import notes

    with notes(not (quiet or as_json)):
        trained = train_texture_net(style, content_dir, name=name, output=output,
                                    overwrite=overwrite, run_dir=run_dir, resume=resume,
                                    generator=generator, losses=losses, config=config,
                                    style_size=style_size, texture=texture, log_json=log_json)
    if trained.path is None:  # a DDP rank other than 0
        return
    result = trained.result
    summary = {"model": str(trained.path), "name": name,
               "iterations": result.iterations_done,
               "images_per_second": result.images_per_second,
               "skipped_files": _count(result.skipped_files),
               "final_losses": trained.metadata.get("training", {}).get("final_losses", {})}
    if as_json:
        typer.echo(json.dumps(summary))
    else:
        skipped = summary["skipped_files"]
        note = f" ({skipped} unreadable file(s) skipped)" if skipped else ""
        typer.echo(f"saved model {name or trained.path} to {trained.path}{note}", err=True)


def run(
    contents: Annotated[list[Path] | None, typer.Argument(
        metavar="CONTENT...", help="Content images to stylise.", show_default=False)] = None,
    model: Annotated[str, Opt(
        "--model", "-m", show_default=False,
        help="A model name from 'styx models list', or a model folder.")] = "",
    output: Annotated[Path | None, Opt(
        "--output", "-o", show_default=False,
        help="Output image (one content image, or --texture).")] = None,
    output_dir: Annotated[Path | None, Opt(
        "--output-dir", show_default=False,
        help="Folder for the outputs of several content images (named after them).")] = None,
    suffix: Annotated[str, Opt("--format", help="File type of --output-dir outputs.")] = "png",
    texture: Annotated[bool, Opt(
        "--texture", help="Synthesise a texture instead of stylising a photo.")] = False,
    size: Annotated[str, Opt(
        "--size", help="Texture size WIDTHxHEIGHT (with --texture).")] = "512x512",
    long_side: Annotated[int | None, Opt(
        "--long-side", show_default=False,
        help="Resize each content image to this long side first.")] = None,
    preserve_color: options.PreserveColorOption = False,
    seed: options.SeedOption = 0,
    device: options.DeviceOption = "auto",
    quiet: options.QuietOption = False,
) -> None:
    """Stylise photos with a trained texture network, or synthesise a texture (--texture)."""
    if not model:
        raise StyxError("missing --model", "give a model name ('styx models list') or folder")
    contents = list(contents or [])
    if texture:
        if contents:
            raise StyxError("--texture takes no content images")
        if output is None and output_dir is None:
            raise StyxError("missing --output", "give -o OUT.png for the texture")
    elif not contents:
        raise StyxError("no content image given", "styx run texture-nets --model M IMAGE -o OUT")
    if output is not None and output_dir is not None:
        raise StyxError("give --output or --output-dir, not both")
    if not texture and output is None and output_dir is None:
        raise StyxError("missing --output", "give -o OUT (one image) or --output-dir DIR")
    if output is not None and len(contents) > 1:
        raise StyxError(f"{len(contents)} content images but one --output",
                        "use --output-dir DIR for several images")
    if long_side is not None and long_side < 1:
        raise StyxError(f"bad --long-side {long_side}", "it must be >= 1")

    from styx.core.image import check_output_path, read_image, save_image
    from styx.core.options import parse_size

    texture_size = parse_size(size) if texture else None
    targets = _output_paths(contents, output, output_dir, suffix, texture)
    for target in targets:
        check_output_path(target)
    for content in contents:  # a missing file fails now, not after the first outputs
        if not Path(content).expanduser().is_file():
            raise StyxError(f"image file not found: {content}", "check the path")

    from styx.core.image import match_color
    from styx.plugins.methods.texture_nets.api import (
        load_texture_net,
        stylize,
        synthesize_texture,
    )

    network, _ = load_texture_net(model)
    if texture:
        image = synthesize_texture(network, texture_size, seed=seed, device=device)
        _report(save_image(image, targets[0]), quiet)
        return
    if network.config.texture_only:
        raise StyxError(f"model {model!r} is a texture generator and takes no content image",
                        "use --texture --size WxH -o OUT.png")
    for content, target in zip(contents, targets):
        loaded = read_image(content, long_side=long_side)
        image = stylize(network, loaded.rgb, seed=seed, device=device)
        if preserve_color:
            image = match_color(loaded.rgb, image)
        _report(save_image(image, target, alpha=loaded.alpha), quiet)


# -- helpers -------------------------------------------------------------------------------
def _name_from(style: Path) -> str:
    """A store name from the style file's name: ``The Scream.jpg`` -> ``The-Scream``."""
    cleaned = "".join(c if c.isalnum() or c in "._+-" else "-" for c in Path(style).stem)
    cleaned = cleaned.strip("-.") or "texture-net"
    return cleaned[:100]


def _count(skipped) -> int:
    return len(skipped) if isinstance(skipped, (list, tuple, set)) else int(skipped or 0)


def _output_paths(contents: list[Path], output: Path | None, output_dir: Path | None,
                  suffix: str, texture: bool) -> list[Path]:
    if output is not None:
        return [output.expanduser()]
    folder = output_dir.expanduser()
    suffix = suffix.lower().lstrip(".")
    if texture:
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


def _report(path: Path, quiet: bool) -> None:
    if not quiet:
        print(os.fspath(path), file=sys.stdout)
