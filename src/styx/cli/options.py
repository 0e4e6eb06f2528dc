"""Command-line options shared by the method commands, declared once (no torch import).

A method's ``run_command`` / ``train_command`` is a typer-style function; it annotates its
parameters with these aliases instead of declaring the options again, so every method
spells, abbreviates and explains ``--descriptor``, ``--style-weight``, ``--seed`` ... the
same way. Each alias fixes the option's names and help; the default stays in the signature,
so a method keeps its own::

    from styx.cli.options import DescriptorOption, SeedOption, TVWeightOption

    def run(descriptor: DescriptorOption = "vgg19", tv_weight: TVWeightOption = 1.0,
            seed: SeedOption = 0) -> None: ...

The loss options map onto :meth:`styx.core.perceptual.LossSettings.from_options`, which
checks them and builds the objective. Where a command needs another set of flags (a command
that has no ``-d``), call the matching ``*_option(...)`` function instead:
``descriptor: Annotated[str, descriptor_option()] = "vgg19"``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

#: The help panel of the descriptor and loss options (shown where rich help is on).
LOSS_PANEL = "Loss"


def descriptor_option(*flags: str) -> typer.models.OptionInfo:
    """``--descriptor`` with extra short ``flags`` (``DescriptorOption`` adds ``-d``)."""
    return typer.Option("--descriptor", *flags, rich_help_panel=LOSS_PANEL,
                        help="Descriptor network ('styx list descriptors').")


# -- the descriptor --------------------------------------------------------------------------
DescriptorOption = Annotated[str, descriptor_option("-d")]
DescriptorWeightsOption = Annotated[str, typer.Option(
    "--weights", rich_help_panel=LOSS_PANEL,
    help="Descriptor weights: imagenet, random (seeded by --seed; for tests) or a "
         ".safetensors/.pth file.")]
#: Parse the values with :func:`styx.core.options.parse_descriptor_options`.
DescriptorOptionsOption = Annotated[list[str] | None, typer.Option(
    "--descriptor-option", metavar="KEY=VALUE", rich_help_panel=LOSS_PANEL,
    help="A descriptor option, e.g. pooling=avg (repeatable).")]

# -- the objective ---------------------------------------------------------------------------
ContentLayersOption = Annotated[str | None, typer.Option(
    "--content-layers", show_default=False, rich_help_panel=LOSS_PANEL,
    help="Content layers with optional weights, e.g. relu4_2 or relu3_1:0.5,relu4_2 "
         "[default: the descriptor's].")]
StyleLayersOption = Annotated[str | None, typer.Option(
    "--style-layers", show_default=False, rich_help_panel=LOSS_PANEL,
    help="Style layers with optional weights, e.g. relu1_1:0.2,relu2_1:0.2,relu3_1 "
         "[default: the descriptor's].")]
ContentWeightOption = Annotated[float, typer.Option(
    "--content-weight", rich_help_panel=LOSS_PANEL, help="Weight of the content loss (alpha).")]
StyleWeightOption = Annotated[float, typer.Option(
    "--style-weight", rich_help_panel=LOSS_PANEL, help="Weight of the style loss (beta).")]
TVWeightOption = Annotated[float, typer.Option(
    "--tv-weight", rich_help_panel=LOSS_PANEL,
    help="Weight of the total-variation loss (smoothness).")]
#: None (no default shown) leaves the style loss's own default, for losses without it.
GramNormalizationOption = Annotated[str | None, typer.Option(
    "--gram-normalization", rich_help_panel=LOSS_PANEL,
    help="Scaling of the Gram style loss: elements (the Gram loss's default), gatys, "
         "seed-report or none.")]
ContentLossOption = Annotated[str, typer.Option(
    "--content-loss", rich_help_panel=LOSS_PANEL,
    help="Registered feature loss for content ('styx list losses').")]
StyleLossOption = Annotated[str, typer.Option(
    "--style-loss", rich_help_panel=LOSS_PANEL,
    help="Registered feature loss for style ('styx list losses').")]
TVLossOption = Annotated[str, typer.Option(
    "--tv-loss", rich_help_panel=LOSS_PANEL,
    help="Registered image loss for smoothness ('styx list losses').")]

# -- the images ------------------------------------------------------------------------------
PreserveColorOption = Annotated[bool, typer.Option(
    "--preserve-color",
    help="Keep the content's colours: the output's luminance with the content's chroma.")]

# -- how it runs -----------------------------------------------------------------------------
SeedOption = Annotated[int, typer.Option(
    "--seed", help="Seed of everything random in the run (noise, crops, --weights random).")]
DeviceOption = Annotated[str, typer.Option(
    "--device", help="auto, cpu, cuda, cuda:N or mps.")]
AmpOption = Annotated[str, typer.Option(
    "--amp",
    help="Mixed precision: auto (bf16 on CUDA, off elsewhere), bf16, fp16 or off (fp32); "
         "Gram matrices and losses stay in fp32.")]
QuietOption = Annotated[bool, typer.Option(
    "--quiet", "-q", help="No progress bar and no notes (errors are still printed).")]
JsonOption = Annotated[bool, typer.Option(
    "--json", help="Print the result as JSON on stdout.")]
LogJsonOption = Annotated[Path | None, typer.Option(
    "--log-json", show_default=False,
    help="Write a JSON log of the run's losses to this file (the method's docs give its "
         "layout).")]
