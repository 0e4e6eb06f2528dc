"""Option bundles every method shares, declared once (no torch here).

A method's config derives from the bundles it uses, built-in or third-party alike::

    @dataclass(kw_only=True)
    class GatysConfig(LossOptions, RuntimeOptions):
        content_weight: float = 1.0     # the loss weights have no default in the bundle:
        style_weight: float = 1e5       # each method picks its own, once
        tv_weight: float = 1.0
        ...

so every method spells, abbreviates, explains and checks ``--descriptor``,
``--style-weight``, ``--seed`` ... the same way. The bundles:

* :class:`RuntimeOptions`: ``--seed``, ``--device``, ``--amp``;
* :class:`DescriptorOptions`: ``--descriptor``, ``--weights``, ``--descriptor-option``;
* :class:`LossOptions` (with the descriptor's): layers, term weights, registered losses;
* :class:`ColorOptions`: ``--preserve-color``;
* :class:`TrainingOptions` (with the runtime's): what the shared training loop needs;
* :class:`ModelOutputOptions`: where a trained model and its run folder go;
* :class:`ModelRunOptions`: how a trained feed-forward model is run on photos.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from styx.core.checks import (
    check_model_name,
    check_tiling,
    choice,
    key_values,
    not_all_zero,
    number,
    optional,
    text,
)
from styx.core.config import Config, option, to_jsonable
from styx.core.errors import StyxError
from styx.core.layers import layer_selection
from styx.core.plugins import descriptors, loss_spec, losses
from styx.core.specs import TERMS, checked_options, normalize_name
from styx.core.suggest import did_you_mean

if TYPE_CHECKING:
    from typing_extensions import Self

#: Help panels.
LOSS = "Loss"
TRAINING = "Training"
RUNTIME = "Runtime"
MODEL = "Model"
GENERATOR = "Generator"

#: How convolutional generators pad, and normalise (see :class:`ConvGeneratorOptions`).
PADDINGS = ("circular", "reflect", "replicate", "zero")
NORMS = ("instance", "batch")

#: ``--amp`` values, and other spellings of them.
PRECISIONS = ("auto", "bf16", "fp16", "fp32", "off")
PRECISION_ALIASES = {"bfloat16": "bf16", "float16": "fp16", "half": "fp16",
                     "float32": "fp32", "none": "off", "no": "off", "false": "off"}


def _device(value: Any, label: str) -> str:
    """auto, cpu, mps, cuda or cuda:N (whether this machine has it is checked when used)."""
    text = str(value).strip().lower()
    if re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", text):
        return text
    raise StyxError(f"bad {label} {value!r}", "use auto, cpu, cuda, cuda:N or mps")


#: ``default_text`` of the loss options.
_DEFAULT_LOSS = "the term's default ('styx list losses' marks it)"


def _default(registry: Any, chosen: Any, what: str, flag: str) -> str:
    """The name of the spec a plugin marks as the default (see ``Registry.default``)."""
    spec = registry.default(chosen)
    if spec is None:
        raise StyxError(f"no installed plugin provides a default {what}",
                        f"give {flag} NAME; 'styx plugins' shows what is installed")
    return spec.name


def _loss_options(value: Any, label: str) -> dict[str, dict[str, Any]]:
    """``["style.normalization=gatys", "tv.power=1"]`` (or a mapping of mappings) ->
    ``{"style": {"normalization": "gatys"}, "tv": {"power": "1"}}``; which term a loss's
    name stands for is settled by :meth:`LossOptions.check`."""
    if value is None:
        return {}
    if isinstance(value, Mapping):
        out = {}
        for name, values in value.items():
            if not isinstance(values, Mapping):
                raise StyxError(f"bad {label} {name}={values!r}",
                                "give {TERM: {KEY: VALUE}}, e.g. {'style': "
                                "{'normalization': 'gatys'}}")
            out[str(name).strip()] = key_values(dict(values), label)
        return out
    items = [value] if isinstance(value, str) else list(value)
    out: dict[str, dict[str, Any]] = {}
    for item in items:
        name, dot, rest = str(item).partition(".")
        if not dot or not name.strip() or "=" in name:
            raise StyxError(f"bad {label} {item!r}",
                            "write TERM.KEY=VALUE, e.g. style.normalization=gatys")
        out.setdefault(name.strip(), {}).update(key_values([rest], label))
    return out


def _check_layer_names(spec: Any, layers: Mapping[str, float], what: str) -> None:
    """Layer names the descriptor's spec does not list are StyxErrors now (a spec that
    lists no layers leaves the check to the built descriptor)."""
    if not spec.layers:
        return
    known = {*spec.layers, *spec.layer_aliases}
    for layer in layers:
        if layer not in known:
            raise StyxError(f"bad --{what}-layers: descriptor {spec.name!r} has no layer "
                            f"{layer!r}", did_you_mean(layer, known) or
                            f"'styx list layers {spec.name}' prints its layer names")


def _layers(what: str):
    def check(value: Any, label: str) -> dict[str, float] | None:
        return layer_selection(value, what=what)
    return check


@dataclass(kw_only=True)
class RuntimeOptions(Config):
    """Where and how a run computes: seed, device, precision."""

    seed: int = option(0, panel=RUNTIME, check=number(minimum=0, maximum=2**63 - 1, integer=True),
                       help="Seed of everything random in the run (noise, crops, "
                            "--weights random).")
    device: str = option("auto", panel=RUNTIME, check=_device,
                         help="auto, cpu, cuda, cuda:N or mps.")
    amp: str = option("auto", panel=RUNTIME,
                      check=choice(*PRECISIONS, aliases=PRECISION_ALIASES),
                      help="Mixed precision: auto (bf16 on CUDA and on CPUs with native "
                           "bf16, fp32 elsewhere), bf16, fp16 or off (exact fp32); Gram "
                           "matrices and losses stay in fp32.")


@dataclass(kw_only=True)
class DescriptorOptions(Config):
    """The descriptor network images are measured through."""

    descriptor: str | None = option(
        None, flags=("-d",), panel=LOSS, check=optional(text()),
        default_text="the default one ('styx list descriptors' marks it)",
        help="Descriptor network ('styx list descriptors').")
    weights: str = option("imagenet", panel=LOSS, check=text(),
                          help="Descriptor weights: imagenet, random (seeded by --seed; for "
                               "tests) or a .safetensors/.pth file.")
    descriptor_options: dict[str, Any] = option(
        default_factory=dict, name="descriptor-option", metavar="KEY=VALUE", panel=LOSS,
        cli_type=list[str], check=key_values,
        help="A descriptor option, e.g. pooling=avg (repeatable).")

    def check(self) -> None:
        super().check()
        if self.descriptor is None:
            self.descriptor = _default(descriptors(), lambda spec: spec.default,
                                       "descriptor", "--descriptor")
        if self.weights.lower() not in ("imagenet", "random"):
            path = Path(self.weights).expanduser()
            if not path.is_file():
                raise StyxError(f"bad --weights {self.weights!r}: "
                                + ("it is a folder" if path.is_dir() else "no such file"),
                                did_you_mean(self.weights.lower(), ("imagenet", "random"))
                                or "give imagenet, random or a .safetensors/.pth file")


@dataclass(kw_only=True)
class LossOptions(DescriptorOptions):
    """How images are scored: content, style and total-variation terms over the descriptor.

    The three term weights have no default here: each method chooses its own (Gatys'
    image optimisation and feed-forward training want different TV weights).
    """

    content_layers: dict[str, float] | None = option(
        None, panel=LOSS, cli_type=str, check=_layers("content"),
        default_text="the descriptor's",
        help="Content layers with optional weights, e.g. relu4_2 or relu3_1:0.5,relu4_2.")
    style_layers: dict[str, float] | None = option(
        None, panel=LOSS, cli_type=str, check=_layers("style"),
        default_text="the descriptor's",
        help="Style layers with optional weights, e.g. relu1_1:0.2,relu2_1:0.2,relu3_1.")
    content_weight: float = option(panel=LOSS, check=number(minimum=0),
                                   help="Weight of the content loss (alpha).")
    style_weight: float = option(panel=LOSS, check=number(minimum=0),
                                 help="Weight of the style loss (beta).")
    tv_weight: float = option(panel=LOSS, check=number(minimum=0),
                              help="Weight of the total-variation loss (smoothness).")
    content_loss: str | None = option(
        None, panel=LOSS, check=optional(text()), default_text=_DEFAULT_LOSS,
        help="Registered feature loss for content ('styx list losses').")
    style_loss: str | None = option(
        None, panel=LOSS, check=optional(text()), default_text=_DEFAULT_LOSS,
        help="Registered feature loss for style ('styx list losses').")
    tv_loss: str | None = option(
        None, panel=LOSS, check=optional(text()), default_text=_DEFAULT_LOSS,
        help="Registered image loss for smoothness ('styx list losses').")
    loss_options: dict[str, dict[str, Any]] = option(
        default_factory=dict, name="loss-option", metavar="TERM.KEY=VALUE", panel=LOSS,
        cli_type=list[str], check=_loss_options,
        help="An option of a term's loss: TERM is content, style or tv (or the loss's "
             "name), e.g. style.normalization=gatys (repeatable).")

    def check(self) -> None:
        super().check()
        not_all_zero((self.content_weight, self.style_weight, self.tv_weight),
                     ("content", "style", "TV weights"))
        # Everything is looked up and checked now, in the registries and the plugins' light
        # options classes (no torch), not after the images or the descriptor load.
        for term in TERMS:  # the installed default loss of each term not named
            if getattr(self, f"{term}_loss") is None:
                setattr(self, f"{term}_loss", _default(
                    losses(), lambda spec, term=term: term in spec.default_for,
                    f"{term} loss", f"--{term}-loss"))
        spec = descriptors().get(self.descriptor)
        checked_options(spec, self.descriptor_options, label="--descriptor-option ")
        self.loss_options = {  # converted by each loss's options class: "2" -> 2.0
            term: checked_options(self.term_loss(term), values, label=f"--loss-option {term}.")
            for term, values in self._by_term(self.loss_options).items()}
        for term in TERMS:  # every loss's name and kind, used or not
            self.term_loss(term)
        content_layers, style_layers = self.layer_selections()
        for what, layers in (("content", content_layers), ("style", style_layers)):
            _check_layer_names(spec, layers or {}, what)

    def term_loss(self, term: str) -> Any:
        """The spec of the loss chosen for ``term`` (content, style or tv)."""
        name, scores = {"content": (self.content_loss, "features"),
                        "style": (self.style_loss, "features"),
                        "tv": (self.tv_loss, "image")}[term]
        return loss_spec(name, scores=scores)

    def term_loss_options(self, term: str) -> dict[str, Any]:
        """The options of ``term``'s loss, checked and converted by the loss's options
        class: the ``--loss-option TERM.KEY=VALUE`` given."""
        given = dict(self.loss_options.get(term, {}))
        return checked_options(self.term_loss(term), given, label=f"--loss-option {term}.")

    def _by_term(self, options: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """``--loss-option`` keyed by term: a loss's name stands for the term using it."""
        by_term: dict[str, dict[str, Any]] = {}
        for name, values in options.items():
            key = normalize_name(name)
            if key in TERMS:
                term = key
            else:
                terms = [t for t in TERMS if self._names_loss(t, name)]
                if len(terms) != 1:
                    in_use = ", ".join(f"{t} ({self.term_loss(t).name})" for t in TERMS)
                    raise StyxError(
                        f"bad --loss-option {name}.{next(iter(values), 'KEY')}: "
                        + (f"loss {name!r} is used by {' and '.join(terms)}" if terms else
                           f"{name!r} is no term and no loss in use"),
                        f"start it with a term: content, style or tv; in use: {in_use}")
                term = terms[0]
            by_term.setdefault(term, {}).update(values)
        return by_term

    def _names_loss(self, term: str, name: str) -> bool:
        registry = losses()
        return name in registry and registry.get(name).name == self.term_loss(term).name

    def layer_selections(self) -> tuple[dict[str, float] | None, dict[str, float] | None]:
        """``(content_layers, style_layers)`` as chosen: ``{layer: weight}``, or None for the
        descriptor's defaults. A method whose layer options take other values (gatys'
        ``balanced``) says here what they select."""
        return self.content_layers, self.style_layers

    def loss_metadata(self, content_layers: Mapping[str, float],
                      style_layers: Mapping[str, float]) -> dict[str, Any]:
        """JSON-able settings with the layers actually used (for a model's metadata)."""
        return {
            "descriptor": self.descriptor,
            "weights": str(self.weights),
            "descriptor_options": dict(self.descriptor_options),
            "content_layers": dict(content_layers),
            "style_layers": dict(style_layers),
            "content_weight": self.content_weight,
            "style_weight": self.style_weight,
            "tv_weight": self.tv_weight,
            "content_loss": self.content_loss,
            "style_loss": self.style_loss,
            "tv_loss": self.tv_loss,
            "loss_options": {term: to_jsonable(options) for term in TERMS
                             if (options := self.term_loss_options(term))},
        }


@dataclass(kw_only=True)
class ColorOptions(Config):
    """Keeping the content's colours."""

    preserve_color: bool = option(
        False, help="Keep the content's colours: the output's luminance with the content's "
                    "chroma.")


@dataclass(kw_only=True)
class TrainingOptions(RuntimeOptions):
    """How the shared training loop trains (``batch_size`` is per process: under torchrun
    N processes see N x it)."""

    iterations: int = option(2000, panel=TRAINING, check=number(minimum=1, integer=True),
                             help="Training iterations (optimiser steps).")
    batch_size: int = option(4, panel=TRAINING, check=number(minimum=1, integer=True),
                             help="Content crops per iteration (per process).")
    image_size: int = option(256, panel=TRAINING, check=number(minimum=8, integer=True),
                             help="Side of the random square crops of the content photos.")
    short_side: int | None = option(
        None, panel=TRAINING, check=number(minimum=8, integer=True, optional=True),
        default_text="keep each photo's own resolution",
        help="Resize every photo to this shorter side before cropping.")
    lr: float = option(1e-3, panel=TRAINING, check=number(above=0),
                       help="Learning rate (of Adam, unless the method brings its own "
                            "optimizer).")
    lr_decay: float = option(0.8, panel=TRAINING, check=number(above=0, maximum=1),
                             help="Multiply the learning rate by this ...")
    lr_decay_every: int = option(2000, panel=TRAINING, check=number(minimum=0, integer=True),
                                 help="... every N iterations (0: never).")
    checkpoint_every: int = option(500, panel=TRAINING,
                                   check=number(minimum=0, integer=True),
                                   help="Write the checkpoint every N iterations (0: only at "
                                        "the end and on Ctrl-C).")
    log_every: int = option(10, panel=TRAINING, check=number(minimum=1, integer=True),
                            help="Record the losses every N iterations.")
    num_workers: int = option(0, name="workers", panel=TRAINING,
                              check=number(minimum=0, integer=True),
                              help="Data-loading worker processes.")
    quiet: bool = option(False, cli=False, help="No progress bar and no notes.")

    def check(self) -> None:
        super().check()
        if self.short_side is not None and self.short_side < self.image_size:
            raise StyxError(f"bad --short-side {self.short_side}",
                            "--short-side must be >= --image-size")


@dataclass(kw_only=True)
class ModelOutputOptions(Config):
    """Where a trained model goes (the model store, or a folder), and its run folder."""

    name: str | None = option(None, panel=MODEL, check=optional(text()),
                              default_text="the method's choice (e.g. the style's file name)",
                              help="Store the model under this name ('styx models list').")
    output: Path | None = option(None, flags=("-o",), panel=MODEL,
                                 help="Save the model to this folder instead of the store.")
    overwrite: bool = option(False, panel=MODEL,
                             help="Replace an existing model of that name or path, and start "
                                  "afresh over its run's checkpoint.")
    run_dir: Path | None = option(None, panel=TRAINING,
                                  default_text="$STYX_HOME/runs/NAME, or OUTPUT.run",
                                  help="Folder for the checkpoint.")
    resume: bool = option(False, panel=TRAINING,
                          help="Continue the run in the run folder from its checkpoint.")
    log_json: Path | None = option(None, panel=TRAINING,
                                   help="Write the losses to this JSON-lines file as the run "
                                        "goes.")

    def check(self) -> None:
        super().check()
        if self.name is not None and self.output is not None:
            raise StyxError("give --name or --output, not both",
                            "--name stores the model in the model store, --output anywhere")
        if self.name is not None:
            check_model_name(self.name)

    def default_model_name(self) -> str:
        """The store name when neither --name nor --output is given (a method may say more,
        e.g. the style file's name)."""
        return "model"


@dataclass(kw_only=True)
class ModelRunOptions(RuntimeOptions, ColorOptions):
    """Running a trained feed-forward model on photos."""

    long_side: int | None = option(None, check=number(minimum=1, integer=True, optional=True),
                                   default_text="the photo's own size",
                                   help="Resize each content image to this long side first.")
    tile: int | None = option(None, check=number(minimum=160, integer=True, optional=True),
                              default_text="none: the whole image at once",
                              help="Stylise images larger than this in overlapping tiles of "
                                   "this many pixels, so memory follows the tile (e.g. 1024).")
    overlap: int | None = option(None, check=number(minimum=0, integer=True, optional=True),
                                 default_text="64, with --tile", help="Pixels neighbouring "
                                 "tiles share; they are blended (feathered) there.")

    def check(self) -> None:
        super().check()
        check_tiling(self.tile, self.overlap)

    def check_inputs(self, *, contents: int, styles: int) -> None:
        if contents == 0:
            raise StyxError("no content image given", "give one or more content images: "
                            "styx run METHOD --model M IMAGE... -o OUT")


@dataclass(kw_only=True)
class ConvGeneratorOptions(Config):
    """How a convolutional generator pads and normalises: the choices every feed-forward
    method offers the same way (the layers are :mod:`styx.generators.blocks`). A method picks its
    own defaults by re-declaring a field with a plain default (``padding: str = "reflect"``).
    """

    padding: str = option("circular", panel=GENERATOR,
                          check=choice(*PADDINGS, aliases={"zeros": "zero", "constant": "zero"}),
                          help="circular, reflect, replicate or zero.")
    norm: str = option("instance", panel=GENERATOR, check=choice(*NORMS),
                       help="Normalisation: instance or batch.")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """The architecture a model's metadata stores (``to_dict()`` of it); settings this
        styx does not know are a StyxError (a newer styx wrote the model)."""
        known = {info.field for info in cls.options()}
        unknown = sorted(set(data) - known)
        if unknown:
            raise StyxError(f"unknown generator setting {unknown[0]!r} in the model's metadata",
                            "the model was written by a newer styx; upgrade styx")
        return cls(**dict(data))
