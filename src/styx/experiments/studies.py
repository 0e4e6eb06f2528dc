"""The named studies: the seed report's, its planned ones, and the generic sweep.

Each study is a function ``(StudyOptions, folder) -> Study`` registered in :data:`STUDIES`
with a line of help. A study picks one axis of variants (its columns); the images (one row
per content and style pair) and every ``--vary`` option add rows. What a cell runs is the
method's own config, so a study is a few lines: which option it varies, over what values,
and which numbers it shows. No torch is imported here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from styx.core.errors import StyxError
from styx.experiments.derived import crop_style, lower_resolution, parse_crop, parse_long_side
from styx.experiments.options import StudyOptions
from styx.experiments.study import (
    IMAGES_AXIS,
    Axis,
    Cell,
    Inputs,
    Study,
    TrainPlan,
    Variant,
    choices,
    digest,
    file_digest,
)


@dataclass(frozen=True)
class StudyInfo:
    name: str
    summary: str
    build: Callable[[StudyOptions, Path], Study]
    #: What ``--values`` means for this study, and its default.
    values_help: str = ""


STUDIES: dict[str, StudyInfo] = {}


def study(name: str, summary: str, values_help: str = "") -> Callable:
    def register(build: Callable[[StudyOptions, Path], Study]) -> Callable:
        STUDIES[name] = StudyInfo(name, summary, build, values_help)
        return build
    return register


def study_info(name: str) -> StudyInfo:
    key = name.strip().lower().replace("_", "-")
    if key not in STUDIES:
        from styx.core.suggest import did_you_mean

        raise StyxError(f"no study {name!r}", did_you_mean(key, STUDIES) or
                        "the studies are: " + ", ".join(STUDIES))
    return STUDIES[key]


# -- helpers shared by the studies -----------------------------------------------------------
def input_rows(options: StudyOptions) -> list[Inputs]:
    """One row per content and style pair (the sample images where none are given)."""
    from styx.files.image_arrays import sample_image

    contents = options.content or [sample_image("content")]
    styles = options.style or [sample_image("style")]
    return [Inputs(Path(c), (Path(s),)) for c in contents for s in styles]


def images_axis(rows: Sequence[Inputs]) -> tuple[Axis, dict[str, Inputs]]:
    labels: dict[str, Inputs] = {}
    for number, row in enumerate(rows, 1):
        label = row.label if row.label not in labels else f"{row.label} ({number})"
        labels[label] = row
    return Axis(IMAGES_AXIS, tuple(Variant(label) for label in labels)), labels


def vary_axes(options: StudyOptions, taken: Sequence[str]) -> list[Axis]:
    axes = []
    for name, values in options.vary.items():
        if name in taken:
            raise StyxError(f"--vary {name}: this study varies {name} itself",
                            "give its values with --values instead")
        axes.append(option_axis(name, name, values))
    return axes


def common_options(method: str, options: StudyOptions) -> dict[str, Any]:
    """The study-wide options (size, steps, seed, descriptor, ...) that ``method``'s run
    config has, under its names."""
    from styx.core.method import method_spec, run_config_class

    spec = method_spec(method)
    fields = {info.field for info in run_config_class(spec).options()}
    wanted = {"seed": options.seed, "device": options.device, "amp": options.amp,
              "weights": options.weights, "descriptor": options.descriptor}
    if spec.feed_forward:
        wanted["long_side"] = options.size
    else:
        wanted.update(size=options.size, steps=options.steps)
    return {k: v for k, v in wanted.items() if k in fields and v is not None}


def run_config(method: str, options: dict[str, Any]) -> Any:
    """``method``'s run config with ``options``, checked (its layer names against the
    descriptor's spec too, by the LossOptions bundle)."""
    from styx.core.method import method_spec, run_config_class

    return run_config_class(method_spec(method)).from_options(options)


def make_study(name: str, options: StudyOptions, folder: Path, *, columns: Axis | None,
               title: str, description: str, base: dict[str, Any] | None = None,
               metrics: Sequence[str] = (), plots: Sequence[str] = (),
               derive_styles: dict[str, Callable[[Path], Path]] | None = None,
               more_rows: Sequence[Axis] = ()) -> Study:
    """A study of one axis of variants (``columns``; None: the first ``--vary``) over the
    images and the ``--vary`` axes.

    ``base``: options every cell gets (below ``--set``). ``derive_styles``: for a column
    label, how that column turns each of the row's style images into its own (a crop,
    ...); they are written to ``folder/inputs`` only once every cell's config has been checked.
    ``more_rows``: the study's own row axes, after the images.
    """
    rows, by_label = images_axis(input_rows(options))
    own = [*([columns] if columns else []), *more_rows]
    taken = sorted({key for axis in own for v in axis.variants for key in v.options})
    clash = sorted(set(options.settings) & set(taken))
    if clash:
        raise StyxError(f"--set {clash[0]}: the {name} study sets {clash[0]} itself",
                        "give the study's values with --values")
    extra = vary_axes(options, taken)
    axes = [columns, rows, *more_rows, *extra] if columns is not None \
        else [*extra[:1], rows, *more_rows, *extra[1:]]
    if columns is None and not extra:
        raise StyxError(f"the {name} study needs an option to vary",
                        "give --vary OPTION=V1,V2, e.g. --vary style_weight=1e3,1e4,1e5")
    plans: list[tuple[dict[str, str], str, Any, Inputs, Variant]] = []
    for choice in choices(axes):  # every config checked before anything is written or run
        variants = [choice[axis.name] for axis in axes]
        method = next((v.method for v in variants if v.method), options.method)
        cell_options = {**common_options(method, options), **(base or {}), **options.settings}
        for variant in variants:
            cell_options.update(variant.options)
        plans.append(({axis.name: choice[axis.name].label for axis in axes}, method,
                      run_config(method, cell_options),
                      by_label[choice[IMAGES_AXIS].label], choice[axes[0].name]))
    trainer = _trainer(options, folder)  # feed-forward cells train their model first
    cells = []
    for labels, method, config, row, column in plans:
        styles = row.styles
        if derive_styles and column.label in derive_styles:
            styles = tuple(derive_styles[column.label](s) for s in row.styles)
        cells.append(Cell(labels=labels, method=method, config=config, content=row.content,
                          styles=styles, train=trainer(method, row)))
    made = Study(name=name, title=title, description=description, axes=axes, cells=cells,
                 metrics=list(metrics), plots=list(plots))
    check_sizes(made, options.judge_descriptor())
    return made


def check_sizes(study: Study, judge: str) -> None:
    """Every cell's images, its training crops and the picture the ``judge`` descriptor
    scores, each against the descriptor and layers that see it, before any cell runs (and
    before ``cells/`` is made): an image too small is one StyxError naming the cell. A
    shape pass per descriptor and deepest layer, no weights loaded (see
    :mod:`styx.perceptual.sizes`)."""
    from styx.core.plugins import descriptors
    from styx.perceptual.sizes import check_image_size, long_side_for
    from styx.runtime.image_tensors import input_size

    spec = descriptors().get(judge)
    judge_style = list(spec.default_style_layers)
    judge_layers = [*spec.default_content_layers, *judge_style]
    for cell in study.cells:
        try:
            height, width = _check_cell(cell)
            check_image_size(judge, judge_layers, height, width,
                             what=f"picture for the judge ({spec.name})",
                             fix=lambda needed, layer, h=height, w=width:
                             f"use --size {long_side_for(h, w, needed)} or more, or another "
                             "--judge")
            for style in cell.styles:
                check_image_size(judge, judge_style,
                                 *input_size(style, what="style", long_side=max(height, width)),
                                 what=f"style image for the judge ({spec.name})",
                                 fix="use a larger --size, or another --judge")
        except StyxError as error:
            raise study.cell_error(cell, error) from None


def _check_cell(cell: Cell) -> tuple[int, int]:
    """Check the sizes a cell's run and training feed their descriptor (a gatys run: every
    scale and style; a feed-forward method: its training crops); its picture's height and
    width."""
    from styx.perceptual.objective import used_layers
    from styx.perceptual.sizes import check_image_size, shallower
    from styx.plugins.methods.gatys.api import GatysRun
    from styx.plugins.methods.gatys.config import GatysConfig
    from styx.runtime.image_tensors import input_size, run_request

    config = cell.config
    if cell.train is not None:
        train = cell.train.config
        if hasattr(train, "layer_selections"):  # the perceptual objective's options
            content, style = used_layers(train, content=not getattr(train, "texture", False))
            layers = [*content, *style]

            def layers_fix(layer: str) -> str:
                return shallower(train.descriptor, layer, style)
        else:  # an encoder's --layer and --style-layers (adain)
            layers = [name for name in (getattr(train, "layer", None),
                                        *(getattr(train, "style_layers", None) or [])) if name]

            def layers_fix(layer: str) -> str:
                return "a shallower --layer and --style-layers"
        size = int(train.image_size)
        check_image_size(train.descriptor, layers, size, size,
                         options=dict(train.descriptor_options),
                         what=f"training crop (--train-size {size})",
                         fix=lambda needed, layer: f"use --train-size {needed} or more, or "
                         f"{layers_fix(layer)}")
    if isinstance(config, GatysConfig):
        run = GatysRun(config, run_request(content=cell.content, styles=list(cell.styles)))
        scales, styles = run.planned_sizes()
        run.check_sizes(scales, styles)
        return scales[-1]
    return input_size(cell.content, long_side=getattr(config, "long_side", None))


def _descriptor(options: StudyOptions) -> str:
    from styx.core.method import method_spec, run_config_class

    if options.descriptor:
        return options.descriptor
    config_class = run_config_class(method_spec(options.method))
    defaults = {info.field: info.default for info in config_class.options()}
    return str(defaults.get("descriptor") or "vgg19")


def stage_layers(descriptor: str) -> tuple[str, ...]:
    """The descriptor's default style layers: one per stage (block1 to block5 of VGG)."""
    from styx.core.plugins import descriptors

    spec = descriptors().get(descriptor)
    if not spec.default_style_layers:
        raise StyxError(f"descriptor {spec.name!r} has no default style layers",
                        "give the layers with --values")
    return spec.default_style_layers


def _values(options: StudyOptions, default: Sequence[Any]) -> list[str]:
    return list(options.values) if options.values else [str(v) for v in default]


def _number_label(text: str) -> str:
    try:
        return f"{float(text):g}"
    except ValueError:
        return text


def option_axis(name: str, option: str, values: Sequence[Any], *,
                label: Callable[[Any], str] = str, **fixed: Any) -> Axis:
    """The axis ``name`` that sets ``option`` to each of ``values`` (and ``fixed`` with it),
    each labelled ``label(value)``."""
    return Axis(name, tuple(Variant(label(v), {option: v, **fixed}) for v in values))


# -- the studies -------------------------------------------------------------------------------

@study("layer-losses", "Each style layer's loss at the start and the end of a run, per "
       "descriptor (the seed report's Figure 3).",
       "descriptors [default: --descriptor, else vgg19]")
def layer_losses(options: StudyOptions, folder: Path) -> Study:
    return make_study(
        "layer-losses", options, folder,
        columns=option_axis("descriptor", "descriptor",
                            _values(options, [_descriptor(options)])),
        title="Style loss per layer, at the start and the end",
        description="Every default style layer at weight 1, unbalanced: the seed report found "
                    "the layers' losses 100x apart, which is why styx can balance them.",
        base={"style_layers": None, "balance_style_layers": False},
        metrics=["loss", "seconds"], plots=["layer-losses"])


@study("style-layers", "One output per single style layer, with content and TV on and off "
       "(Figures 4-6).", "style layers [default: the descriptor's, one per stage]")
def style_layers(options: StudyOptions, folder: Path) -> Study:
    columns = option_axis("style layer", "style_layers",
                          _values(options, stage_layers(_descriptor(options))))
    modes = Axis("terms", (Variant("content + style + TV"),
                           Variant("style only", {"content_weight": 0, "tv_weight": 0,
                                                  "init": "noise"})))
    return make_study(
        "style-layers", options, folder, columns=columns, more_rows=[modes],
        title="Style from one layer at a time",
        description="Each column takes its style from one layer alone; the 'style only' "
                    "rows turn content and TV off and start from noise, showing the texture "
                    "each layer sees.",
        base={"balance_style_layers": False}, metrics=["judge_style", "loss"])


@study("content-layers", "Content reconstruction from each layer, style and TV off "
       "(Figure 8).", "content layers [default: the descriptor's, one per stage]")
def content_layers(options: StudyOptions, folder: Path) -> Study:
    columns = option_axis("content layer", "content_layers",
                          _values(options, stage_layers(_descriptor(options))))
    return make_study(
        "content-layers", options, folder, columns=columns,
        title="What each layer keeps of the content",
        description="Style and TV weights 0, starting from noise: the picture each layer's "
                    "features alone pin down. Deeper layers keep the layout and lose edges "
                    "and colour.",
        base={"style_weight": 0, "tv_weight": 0, "init": "noise"},
        metrics=["judge_content", "loss"])


@study("tv-weight", "A sweep of total-variation weights, with each result's TV "
       "(Figure 7).", "TV weights [default: 0,1,100,10000]")
def tv_weight(options: StudyOptions, folder: Path) -> Study:
    columns = option_axis("tv_weight", "tv_weight", _values(options, [0, 1, 100, 10000]),
                          label=_number_label)
    return make_study(
        "tv-weight", options, folder, columns=columns,
        title="Total-variation weight",
        description="A larger TV weight smooths the high-frequency grain; judge_tv is each "
                    "result's own total variation.",
        metrics=["judge_tv", "judge_style", "judge_content"])


@study("noise-ratio", "The initialisation study: content mixed with noise at several "
       "ratios (the seed report's noise ratio).", "noise ratios [default: 0,0.25,0.5,0.75,1]")
def noise_ratio(options: StudyOptions, folder: Path) -> Study:
    columns = option_axis("noise_ratio", "noise_ratio", _values(options, [0, 0.25, 0.5, 0.75, 1]),
                          label=_number_label, init="content")
    return make_study(
        "noise-ratio", options, folder, columns=columns,
        title="Noise ratio of the starting image",
        description="The start is content*(1-R) + noise*R; the loss curves show how fast "
                    "each start converges.",
        metrics=["loss", "judge_content", "judge_style"], plots=["loss-curves"])


@study("descriptors", "One transfer through each descriptor, with time and peak memory "
       "(future direction 1).", "descriptors [default: every installed one]")
def descriptors_study(options: StudyOptions, folder: Path) -> Study:
    from styx.core.plugins import descriptors

    return make_study(
        "descriptors", options, folder,
        columns=option_axis("descriptor", "descriptor",
                            _values(options, [spec.name for spec in descriptors()])),
        title="Descriptor networks",
        description="The same transfer measured through each descriptor's default layers; "
                    "the judge scores every result through one common descriptor.",
        metrics=["seconds", "peak_memory_mb", "judge_style", "judge_content"])


@study("style-crop", "The style image cropped to a region (future direction 2).",
       "crops: full, center, top-left, top-right, bottom-left, bottom-right, left, right, "
       "top, bottom or LEFT,TOP,RIGHT,BOTTOM fractions; separate with ';' "
       "[default: full;center;top-left;bottom-right]")
def style_crop(options: StudyOptions, folder: Path) -> Study:
    crops = {text: parse_crop(text) for text in
             _values(options, ["full", "center", "top-left", "bottom-right"])}
    return _style_study(
        "style-crop", options, folder, "style crop",
        {label: lambda s, box=box: crop_style(s, box, folder / "inputs")
         for label, box in crops.items()},
        title="Cropped style images",
        description="Each column takes its style from one region of the painting, enlarged "
                    "to the style size: a smaller region has fewer, larger motifs.")


@study("style-resolution", "The style image downscaled and enlarged back, losing detail "
       "(future direction 3).", "long sides in px, or full [default: full,256,128,64,32]")
def style_resolution(options: StudyOptions, folder: Path) -> Study:
    sides = [parse_long_side(text) for text in _values(options, ["full", 256, 128, 64, 32])]
    return _style_study(
        "style-resolution", options, folder, "style resolution",
        {("full" if side is None else f"{side} px"):
         lambda s, side=side: lower_resolution(s, side, folder / "inputs") for side in sides},
        title="Style image resolution",
        description="The style is shrunk to each long side and enlarged back to its own size "
                    "before use: the information lost at low resolution, not its scale.")


def _style_study(name: str, options: StudyOptions, folder: Path, axis: str,
                 change: dict[str, Callable[[Path], Path]], *, title: str, description: str
                 ) -> Study:
    """A study whose columns change the style image itself: ``change[label]`` makes the
    column's version of one style image."""
    columns = Axis(axis, tuple(Variant(label) for label in change))
    return make_study(name, options, folder, columns=columns, derive_styles=change,
                      title=title, description=description,
                      metrics=["judge_style", "judge_content"])


@study("methods", "gatys, texture-nets, stylebank, adain and any plugin method on the same images: "
       "a grid and a table of losses under one judge, time per image and model size.",
       "methods [default: every installed method that stylises a photo]")
def methods_study(options: StudyOptions, folder: Path) -> Study:
    from styx.core.method import method_spec
    from styx.core.plugins import methods

    if options.values:
        names = [method_spec(name).name for name in options.values]
    else:
        names = [spec.name for spec in methods() if "run" in spec.commands and
                 (("train" in spec.commands) if spec.feed_forward else spec.uses_styles)]
    if options.settings:
        raise StyxError("--set is not for the methods study: each method has its own options",
                        "give training options with --train-set OPTION=VALUE")
    columns = Axis("method", tuple(Variant(name, method=name) for name in names))
    return make_study(
        "methods", options, folder, columns=columns,
        title="The methods compared",
        description="Each method on the same content and style; every result is scored by "
                    "one judge descriptor. Time per image is the stylisation alone; the "
                    "feed-forward methods' training time and model size are beside it.",
        metrics=["judge_content", "judge_style", "judge_tv", "seconds", "train_seconds",
                 "model_bytes"])


def _trainer(options: StudyOptions, folder: Path) -> Callable[[str, Inputs], TrainPlan | None]:
    """How a feed-forward cell's model is trained on its row's style (None: the cell's
    method optimises each image and trains nothing)."""
    from styx.core.method import method_spec, train_config_class
    from styx.core.plugins import methods
    from styx.files.image_arrays import find_images

    known: set[str] = set()  # every feed-forward method's training options, read once

    def known_training_options() -> set[str]:
        if not known:
            known.update(info.field for spec in methods()
                         if spec.feed_forward and "train" in spec.commands
                         for info in train_config_class(spec).options())
        return known

    def plan(method: str, row: Inputs) -> TrainPlan | None:
        spec = method_spec(method)
        if not spec.feed_forward:
            return None
        config_class = train_config_class(spec)
        fields = {info.field: info for info in config_class.options()}
        style = row.styles[0]
        content_dir = options.content_dir or _content_folder(options, row, folder)
        wanted = {"seed": options.seed, "device": options.device, "amp": options.amp,
                  "weights": options.weights, "descriptor": options.descriptor,
                  "iterations": options.iterations, "image_size": options.train_size,
                  "content_dir": content_dir, "quiet": True, "overwrite": True,
                  "style": [style] if _is_list(fields.get("style")) else style}
        if "style" not in fields and "style_dir" in fields:  # one model for every style
            wanted["style_dir"] = _linked([style], folder / "inputs" / "train-styles" /
                                          file_digest(style))
        given = {k: v for k, v in wanted.items() if k in fields and v is not None}
        unknown = [k for k in options.train_settings if k not in known_training_options()]
        if unknown:
            config_class.from_options({unknown[0]: None})  # the "unknown option" error
        given.update({k: v for k, v in options.train_settings.items() if k in fields})
        key = digest({"method": spec.name, "options": {k: v for k, v in given.items()
                                                       if k not in ("style", "content_dir",
                                                                    "style_dir")},
                      "style": file_digest(style),
                      "content": sorted(file_digest(p) for p in find_images(content_dir))})
        model_folder = folder / "models" / f"{spec.name}-{key}"
        config = config_class.from_options({**given, "output": model_folder,
                                            "run_dir": folder / "runs" / f"{spec.name}-{key}"})
        return TrainPlan(method=spec.name, config=config, key=key, folder=model_folder)
    return plan


def _is_list(info: Any) -> bool:
    import typing

    return info is not None and typing.get_origin(info.annotation) is list


def _content_folder(options: StudyOptions, row: Inputs, folder: Path) -> Path:
    """The training photos when no --content-dir is given: the study's content images,
    linked (or copied) into ``folder/inputs/train-content``."""

    from styx.files.image_arrays import sample_image

    return _linked(options.content or [sample_image("content")],
                   folder / "inputs" / "train-content")


def _linked(sources: list[Path], target: Path) -> Path:
    """A folder ``target`` holding a copy of each of ``sources``, named by its digest."""
    import shutil

    target.mkdir(parents=True, exist_ok=True)
    for source in sources:
        copy = target / f"{file_digest(source)}{Path(source).suffix.lower()}"
        if not copy.exists():
            shutil.copyfile(source, copy)
    return target


@study("sweep", "Any option of the method's config, over the values given with --vary "
       "(e.g. --vary style_weight=1e3,1e4,1e5).", "not used: give --vary")
def sweep(options: StudyOptions, folder: Path) -> Study:
    if options.values:
        raise StyxError("the sweep study takes no --values", "give --vary OPTION=V1,V2")
    return make_study(
        "sweep", options, folder, columns=None,
        title="Sweep: " + " x ".join(options.vary) if options.vary else "Sweep",
        description=f"{options.method} with " + "; ".join(
            f"{k} = {', '.join(v)}" for k, v in options.vary.items()),
        metrics=["loss", "judge_style", "judge_content", "judge_tv", "seconds"])
