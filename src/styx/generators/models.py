"""Trained feed-forward models, loaded and run, with no method-specific code.

* :func:`load_model` rebuilds any stored generator through its method's registration
  (``MethodSpec.generator``) and returns a :class:`Model`, which stylises images.
* :func:`apply_generator` runs a model's generator once (whole, or in tiles).
* :func:`run_feed_forward` is the ``run`` function of a feed-forward method that needs
  nothing of its own (``ModelRunOptions`` as its config); methods with run options of their
  own call it with their generator options, or :func:`apply_generator` from theirs.

Training them is :mod:`styx.training.feedforward`.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from PIL import Image

from styx.core.errors import StyxError
from styx.core.method import RunRequest, RunResult, generator_class, method_spec, run
from styx.core.plugins import methods
from styx.files.modelstore import read_model, resolve_model, styles_of
from styx.files.tiling import DEFAULT_OVERLAP, tiled
from styx.generators.blocks import given_statistics, instance_norms, kept_statistics
from styx.generators.generator import Generator
from styx.runtime.device import autocast, precision_of, resolve_device
from styx.runtime.image_tensors import (
    input_size,
    long_side_size,
    match_color,
    resize_to,
    run_request,
)
from styx.runtime.memory import MemoryNeed

if TYPE_CHECKING:
    import numpy as np

    from styx.core.bundles import ModelRunOptions
    from styx.core.config import Config
    from styx.video.pipeline import ClipReport


# -- loading -------------------------------------------------------------------------------
class Model:
    """A trained feed-forward model, loaded (:func:`load_model`, ``styx.load_model``).

    ``model(image, **options)`` stylises ``image`` (a path, a PIL image or a tensor in
    [0, 1]) with the method's run options (``seed=``, ``device=``, and the method's own)
    and returns the same kind of image: a PIL image for a PIL image, else a tensor
    (N x 3 x H x W, on the CPU). A model whose generator takes a style image at run time
    takes it by the input's name: ``model(photo, style=painting)`` (a path, PIL image or
    tensor; a list of several where the method blends them).
    """

    def __init__(self, generator: Generator, metadata: dict[str, Any],
                 path: Path | None = None) -> None:
        self.generator = generator.eval()
        self.metadata = metadata
        self.path = path
        #: The memory estimates made for this model's runs, by what they depend on (a
        #: clip's batches are estimated once; each run still checks what is free).
        self.checked_needs: dict[Any, MemoryNeed] = {}

    @property
    def method(self) -> str:
        return str(self.metadata.get("method"))

    @property
    def name(self) -> str:
        return self.path.name if self.path is not None else self.method

    @property
    def styles(self) -> list[str]:
        """The names of the styles the model holds, in order (one for most methods; a
        StyleBank model holds several): see :func:`~styx.files.modelstore.styles_of`."""
        return [str(style.get("name", index))
                for index, style in enumerate(styles_of(self.metadata))]

    @property
    def style_inputs(self) -> list[str]:
        """The names of the style images the model takes at run time (none for a model that
        holds its styles)."""
        return [item.name for item in self.generator.style_inputs]

    def __call__(self, image: Any = None, **options: Any) -> Any:
        config = options.pop("config", None)
        styles = self._style_images(options)
        result = run(method_spec(self.method),
                     run_request(content=image, styles=styles, model=self), config, options)
        return result.to_pil() if isinstance(image, Image.Image) else result.image

    stylize = __call__

    def stylize_video(self, source: str | os.PathLike[str], target: str | os.PathLike[str],
                      *, batch: int = 4, long_side: int | None = None,
                      temporal: float | None = None, codec: str | None = None,
                      crf: int = 18, preset: str = "medium", fps: float | None = None,
                      shard: str | None = None, join: bool = False, overwrite: bool = False,
                      progress: Callable[[int, int], None] | None = None,
                      **options: Any) -> ClipReport:
        """Stylise the clip ``source`` (a video file, or a folder of frames) into
        ``target`` (a video file, or a folder for PNG frames), ``batch`` frames at a time:
        the video side of ``styx run METHOD --model M CLIP -o OUT`` (see
        :func:`styx.video.pipeline.stylise_clip`; ``docs/video.md``). ``options``: the
        method's run options and style images, as for ``model(image, ...)``. A re-run
        continues from the segments done; ``shard="K/N"`` does one of N parts, ``join``
        joins them. Returns the :class:`~styx.video.pipeline.ClipReport` (``interrupted``
        after Ctrl-C, with the frames done playable in ``target``)."""
        from styx.video.clips import open_clip
        from styx.video.encoding import EncodeSettings
        from styx.video.pipeline import ClipSettings, stylise_clip

        clip = open_clip(source, rate=fps)
        config = options.pop("config", None)
        styles = self._style_images(options)
        settings = ClipSettings(batch=batch, long_side=long_side, temporal=temporal,
                                encode=EncodeSettings(codec=codec, crf=crf, preset=preset),
                                shard=shard, join=join, overwrite=overwrite)
        stylise, fingerprint = clip_stylist(self, config, options, styles)
        return stylise_clip(clip, Path(target), stylise, settings, fingerprint=fingerprint,
                            progress=progress)

    def _style_images(self, options: dict[str, Any]) -> list[Any]:
        """The style images of ``options`` (taken out of it), by the model's style inputs."""
        styles: list[Any] = []
        for name in self.style_inputs:
            given = options.pop(name, None)
            styles += [] if given is None else \
                list(given) if isinstance(given, (list, tuple)) else [given]
        return styles

    def __repr__(self) -> str:
        return f"Model({self.name!r}, method={self.method!r})"


def load_model(name_or_path: str | os.PathLike[str] | Model, *,
               method: str | None = None) -> Model:
    """The model stored as ``name_or_path`` (a store name or a folder), rebuilt through
    its method's registration. ``method``: refuse a model of another method. A missing or
    damaged model, or one of a method that is not installed, is a StyxError."""
    if isinstance(name_or_path, Model):
        model = name_or_path
        _check_method(model.method, method, model.name)
        return model
    label = str(name_or_path)
    folder = resolve_model(name_or_path)
    state, metadata = read_model(folder)
    trained_by = metadata.get("method")
    if not isinstance(trained_by, str):
        raise StyxError(f"model {label!r} names no method in its metadata",
                        "train or copy the model again")
    _check_method(trained_by, method, label)
    spec = method_spec(trained_by)
    if not spec.feed_forward:
        raise StyxError(f"model {label!r} is of method {spec.name!r}, which trains no "
                        "generator", "give a model trained with 'styx train'")
    cls = generator_class(spec)
    architecture = metadata.get("architecture")
    if not isinstance(architecture, dict):
        raise StyxError(f"model {label!r} has no generator architecture in its metadata",
                        "train or copy the model again")
    try:
        generator = cls.from_architecture(architecture)
    except (TypeError, ValueError) as error:
        raise StyxError(f"model {label!r} has a bad architecture: {error}",
                        "train or copy the model again") from None
    expected = generator.state_dict()
    missing, unexpected = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    if missing or unexpected:
        detail = f"missing {missing[0]!r}" if missing else f"unexpected {unexpected[0]!r}"
        raise StyxError(f"model {label!r} does not fit its architecture ({detail})",
                        "the model is damaged; train or copy it again")
    try:
        generator.load_state_dict(state)
    except RuntimeError as error:
        first = str(error).strip().splitlines()[-1].strip()
        raise StyxError(f"model {label!r} does not fit its architecture: {first}",
                        "the model is damaged; train or copy it again") from None
    return Model(generator, metadata, folder)


def _check_method(trained_by: str, wanted: str | None, label: str) -> None:
    """StyxError unless ``trained_by`` is the method ``wanted`` (either may be an alias)."""
    if wanted is None:
        return
    registry = methods()
    same = trained_by in registry and wanted in registry and \
        registry.get(trained_by).name == registry.get(wanted).name
    if not same:
        raise StyxError(f"model {label!r} was trained by {trained_by!r}, not {wanted!r}",
                        f"it is a {trained_by} model: give a model of {wanted!r} "
                        "('styx models list' shows each model's method)")


def clip_stylist(model: Model, config: Config | None, options: dict[str, Any],
                 styles: list[Any]) -> tuple[Callable[[np.ndarray], np.ndarray],
                                              dict[str, Any]]:
    """The function that stylises a clip's frames with ``model`` (N x 3 x H x W float32
    arrays, sized already: the config's ``long_side`` is the clip's), through the method's
    own ``run`` with ``config`` and ``options`` (its run options) and ``styles``; and what
    makes its frames what they are, for :func:`styx.video.pipeline.stylise_clip`."""
    import dataclasses
    import hashlib

    from styx.core.method import make_config, run_config_class, run_function

    spec = method_spec(model.method)
    settings = make_config(run_config_class(spec), config, dict(options))
    if any(f.name == "long_side" for f in dataclasses.fields(settings)):
        settings = dataclasses.replace(settings, long_side=None)
    settings.check_inputs(contents=1, styles=len(styles))
    method_run = run_function(spec)

    def stylise(frames: np.ndarray) -> np.ndarray:
        request = run_request(content=torch.from_numpy(frames), styles=styles, model=model)
        return method_run(request, settings).image.float().numpy()

    weights = hashlib.sha256()
    for name, tensor in sorted(model.generator.state_dict().items()):
        weights.update(name.encode())
        weights.update(tensor.detach().float().cpu().numpy().tobytes())
    fingerprint = {"model": weights.hexdigest()[:32], "method": spec.name,
                   "config": settings.to_dict(), "styles": [str(s) for s in styles]}
    return stylise, fingerprint


# -- running -------------------------------------------------------------------------------
def apply_generator(model: Model, image: torch.Tensor | None, *, seed: int | None,
                    device: str = "auto", amp: str = "auto",
                    size: tuple[int, int] | None = None, batch: int = 1,
                    tile: int | None = None, overlap: int = 64,
                    **options: Any) -> torch.Tensor:
    """Run ``model``'s generator once: on ``image`` (N x 3 x H x W), or, for a generator
    that takes none, for ``batch`` outputs of ``size``. ``seed`` fixes the random inputs
    (None: fresh ones); ``options`` are the generator's own (see ``make_inputs``). Returns
    N x 3 x H x W float32 in [0, 1] on the CPU.

    ``tile``: an image larger than this runs in overlapping tiles, blended over ``overlap``
    pixels (:mod:`styx.files.tiling`); options of the image's size (StyleBank's region
    masks) are cut to each tile, style images never (every tile gets the whole painting).
    Random inputs are drawn by pixel position where the generator allows (``origin``, see :meth:`~styx.generators.generator.Generator.make_inputs`),
    so a tile gets the noise the whole image would have there."""
    if tile is not None and image is not None and max(image.shape[-2:]) > tile:
        return _apply_tiled(model, image, seed=seed, device=device, amp=amp, tile=tile,
                            overlap=overlap, **options)

    target = resolve_device(device)
    # channels_last: 1.2-1.6x faster convolutions on CPUs (oneDNN) and tensor-core GPUs.
    network = model.generator.to(target, memory_format=torch.channels_last).eval()
    generator = torch.Generator()
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(int(seed))
    if image is not None:
        image = image.to(device=target, dtype=torch.float32,
                         memory_format=torch.channels_last)
    if image is not None and _takes_origin(network):
        options.setdefault("origin", (0, 0))  # random inputs by position (tiles agree)
    inputs = network.make_inputs(image, size=size, batch=batch, generator=generator,
                                 **options)
    with torch.no_grad(), autocast(target, amp):
        out = network(**inputs)
    return out.float().clamp(0.0, 1.0).cpu().contiguous()


def _apply_tiled(model: Model, image: torch.Tensor, *, seed: int | None, tile: int,
                 overlap: int, device: str, amp: str, **options: Any) -> torch.Tensor:
    """:func:`apply_generator` in tiles, normalised by a thumbnail's statistics (see
    :mod:`styx.files.tiling`)."""
    height, width = image.shape[-2:]
    network = model.generator
    whole = {item.name for item in network.style_inputs}  # never cut, never resized

    def image_sized(name: str, value: Any) -> bool:
        return name not in whole and isinstance(value, torch.Tensor) and value.dim() >= 2 \
            and tuple(value.shape[-2:]) == (height, width)

    statistics = contextlib.nullcontext()
    if instance_norms(network):
        small = long_side_size(height, width, tile)
        with kept_statistics(network) as layers:
            apply_generator(model, resize_to(image.float().cpu(), small), seed=seed,
                            device=device, amp=amp, **{
                                name: resize_to(value.float(), small)
                                if image_sized(name, value)
                                else value for name, value in options.items()})
        statistics = given_statistics(network, [layer.kept for layer in layers])

    def one(part, origin: tuple[int, int]):
        top, left = origin
        rows, columns = slice(top, top + part.shape[-2]), slice(left, left + part.shape[-1])
        cut = {name: value[..., rows, columns] if image_sized(name, value) else value
               for name, value in options.items()}
        if _takes_origin(network):
            cut["origin"] = origin
        return apply_generator(model, torch.from_numpy(part), seed=seed, device=device,
                               amp=amp, **cut).numpy()

    with statistics:
        return torch.from_numpy(tiled(one, image.float().cpu().contiguous().numpy(),
                                      tile=tile, overlap=overlap))


def memory_need(model: Model, size: tuple[int, int], *, batch: int = 1,
                device: str = "auto", amp: str = "auto", tile: int | None = None,
                overlap: int | None = None, takes_image: bool = True,
                what: str | None = None, size_flag: str = "--long-side",
                **options: Any) -> MemoryNeed:
    """The peak memory of :func:`apply_generator` making ``batch`` images of ``size``
    (H, W): the generator's weights, a shape pass of its forward (at the tile's size when
    ``tile`` cuts the image), and the whole-size images around it (loading, writing, and
    with tiles the blend's sums). ``options``: the generator's style inputs, as
    given to ``apply_generator``."""
    from torch.utils._pytree import tree_map_only

    from styx.runtime import meta
    from styx.runtime.device import free_bytes

    height, width = size
    target = resolve_device(device)
    tiles = tile is not None and takes_image and max(height, width) > tile
    network = model.generator.to(target, memory_format=torch.channels_last)  # as it runs
    pass_size = (min(height, tile), min(width, tile)) if tiles else (height, width)
    with meta.shape_pass() as counter, torch.no_grad(), autocast(target, amp):
        image = torch.empty(batch, 3, *pass_size, device=target).contiguous(
            memory_format=torch.channels_last) if takes_image else None
        # Fake copies of the options' tensors: what a generator caches by its inputs (a
        # painting's statistics) is never taken for the real ones.
        fakes = {name: tree_map_only(torch.Tensor, torch.empty_like, value)
                 for name, value in options.items()}
        network(**network.make_inputs(image, size=pass_size, batch=batch, **fakes))
    # Float32 copies of the whole image alive at once: two while it loads, two while the
    # result is written; with tiles also the blend's sums and each tile's own copies.
    whole = 4 * 3 * batch * height * width
    weights = meta.module_bytes(network)
    free = free_bytes(target)
    # Tiles help while the whole image's own copies fit; past that, only a smaller size.
    tile_helps = takes_image and not tiles and (free is None or 9 * whole < free)
    fixes = [f"use --tile {min(1024, max(size) // 2)} (memory follows the tile)"] \
        if tile_helps else []
    fixes.append(f"use a smaller {size_flag}")
    return MemoryNeed(f"{what or 'stylising'} at {width}x{height} px", str(target),
                      {"weights": weights, "work": counter.peak,
                       "images": whole * (9 if tiles else 4)},
                      free, tuple(fixes), held=weights)


def _takes_origin(network: Generator) -> bool:
    """Whether ``network.make_inputs`` takes ``origin`` (a plugin's generator written
    before it existed may not)."""
    return "origin" in inspect.signature(network.make_inputs).parameters


def run_feed_forward(request: RunRequest, config: ModelRunOptions, *,
                     options: Callable[[Model, torch.Tensor], dict[str, Any]] | None = None
                     ) -> RunResult:
    """Stylise ``request.content`` with ``request.model``: the whole ``run`` of a
    feed-forward method whose config is :class:`~styx.core.bundles.ModelRunOptions`, or more.

    Style images the generator takes at run time (its declared style inputs) come from
    ``request.styles``, loaded at the config's ``style_size`` when it has one: one per
    style input, or, for a generator with one style input, all of them as a list (the
    generator blends them; the base class takes one). ``options(model, content)``: the
    generator's own options for this content (N x 3 x H x W, loaded and resized), given to
    its ``make_inputs`` (StyleBank's style weights); it runs after the images have loaded
    and before the generator does.
    """
    started = time.perf_counter()
    model = _model_of(request)
    if not model.generator.takes_image:
        raise StyxError(f"model {model.name!r} makes images from noise and takes no content "
                        "image", f"see 'styx run {model.method} --help'")
    if request.content is None:
        raise StyxError("no content image given", "give a content image")
    extra = style_options(model, request, getattr(config, "style_size", None))
    content = request.content
    batch = content.shape[0] if isinstance(content, torch.Tensor) and content.dim() == 4 else 1
    size = input_size(content, long_side=config.long_side)
    what = f"stylising {Path(content).name}" if isinstance(content, (str, Path)) else None
    key = (size, batch, what, config.device, config.amp, config.tile, config.overlap,
           tuple((name, _shape_of(value)) for name, value in sorted(extra.items())))
    need = model.checked_needs.get(key)
    if need is None:  # a clip's batches: the shape pass once, not for every batch
        need = model.checked_needs[key] = memory_need(
            model, size, what=what, batch=batch, device=config.device, amp=config.amp,
            tile=config.tile, overlap=config.overlap, **extra)
    need.check()
    loaded = request.content_image(long_side=config.long_side, batch=True)
    if options is not None:
        extra.update(options(model, loaded.rgb))
    overlap = DEFAULT_OVERLAP if config.overlap is None else config.overlap
    image = apply_generator(model, loaded.rgb, seed=config.seed, device=config.device,
                            amp=config.amp, tile=config.tile, overlap=overlap, **extra)
    if config.preserve_color:
        image = match_color(loaded.rgb, image)
    precision = precision_of(config)
    return RunResult(image=image, alpha=loaded.alpha, config=config,
                     seconds=time.perf_counter() - started, device=str(precision.device),
                     precision=precision.name)


def _shape_of(value: Any) -> Any:
    """What of a generator option the memory estimate depends on: a tensor's (or a list
    of tensors') shapes, else the value."""
    if isinstance(value, torch.Tensor):
        return tuple(value.shape)
    if isinstance(value, (list, tuple)):
        return tuple(_shape_of(item) for item in value)
    return repr(value)


def style_options(model: Model, request: RunRequest, long_side: int | None
                  ) -> dict[str, Any]:
    """The style images of ``request`` for ``model``'s declared style inputs (see
    :func:`run_feed_forward`); a StyxError when the model wants one and none was given,
    or takes none and some were."""
    wanted = model.generator.style_inputs
    given = list(request.styles)
    if not wanted:
        if given:
            raise StyxError(f"model {model.name!r} takes no style image: it holds its "
                            "style(s)", "leave the style images out")
        return {}
    if not given:
        raise StyxError(f"model {model.name!r} takes a style image at run time; none was given",
                        f"give --style-image PAINTING ({wanted[0].name}= in the library)")
    images = request.style_images(long_side=long_side)
    if len(wanted) == 1:
        return {wanted[0].name: images if len(images) > 1 else images[0]}
    if len(images) != len(wanted):
        raise StyxError(f"model {model.name!r} takes {len(wanted)} style images, not "
                        f"{len(images)}", "give one --style-image for each, in order: "
                        + ", ".join(item.name for item in wanted))
    return {item.name: image for item, image in zip(wanted, images)}


def _model_of(request: RunRequest) -> Model:
    if request.model is None:
        raise StyxError("no model given", "give --model NAME (see 'styx models list')")
    if not isinstance(request.model, Model):
        return load_model(request.model)
    return request.model
