"""Library calls of the texture-nets method.

>>> from styx.plugins.methods.texture_nets import api
>>> trained = api.train_texture_net("starry.jpg", "photos/", name="starry")   # doctest: +SKIP
>>> out = api.stylize("starry", "tubingen.jpg")                              # doctest: +SKIP
>>> tex = api.synthesize_texture("starry", (512, 512), seed=1)              # doctest: +SKIP

``stylize`` and ``synthesize_texture`` take a loaded :class:`TextureNetwork` or the name or
folder of a stored model, and return N x 3 x H x W tensors in [0, 1] on the CPU.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

from styx.core.errors import StyxError

if TYPE_CHECKING:
    import torch

    from styx.core.perceptual import LossSettings
    from styx.core.training import TrainConfig, TrainResult
    from styx.plugins.methods.texture_nets.generator import GeneratorConfig, TextureNetwork

METHOD = "texture-nets"
#: Entries of a training log line that are not loss values.
_NOT_LOSSES = ("step", "lr", "images_per_second", "elapsed")

ModelLike = Union["TextureNetwork", str, os.PathLike]


@dataclass
class TrainedTextureNet:
    """What :func:`train_texture_net` returns."""

    #: The saved model folder (None on DDP ranks other than 0, which save nothing).
    path: Path | None
    generator: TextureNetwork
    metadata: dict[str, Any]
    result: TrainResult


def default_run_dir(name: str | None, output: str | os.PathLike | None) -> Path:
    """Where checkpoints go when no run folder is given: ``$STYX_HOME/runs/NAME``, or
    ``OUTPUT.run`` beside a model saved at a path."""
    from styx.core.modelstore import styx_home

    if output is not None:
        out = Path(output).expanduser()
        return out.with_name(out.name + ".run")
    return styx_home() / "runs" / str(name)


def _rank() -> int:
    return int(os.environ.get("RANK", "0") or 0)


def _check_model_target(name: str | None, output: str | os.PathLike | None,
                        overwrite: bool) -> None:
    """Refuse a model name/path that cannot be written, before hours of training."""
    from styx.core.modelstore import model_target

    if (name is None) == (output is None):
        raise StyxError("give exactly one of a model name or an output path",
                        "--name NAME stores it in the model store, --output PATH anywhere")
    model_target(name=name, path=output, overwrite=overwrite)


def train_texture_net(
    style: str | os.PathLike,
    content_dir: str | os.PathLike | None = None,
    *,
    name: str | None = None,
    output: str | os.PathLike | None = None,
    overwrite: bool = False,
    run_dir: str | os.PathLike | None = None,
    resume: bool = False,
    generator: GeneratorConfig | None = None,
    losses: LossSettings | None = None,
    config: TrainConfig | None = None,
    style_size: int | None = None,
    texture: bool = False,
    log_json: str | os.PathLike | None = None,
) -> TrainedTextureNet:
    """Train a texture network for ``style`` on the photos under ``content_dir``; save it.

    The model is saved under the model store as ``name`` or at the folder ``output``
    (exactly one). Checkpoints go to ``run_dir`` (default :func:`default_run_dir`);
    ``resume=True`` continues a stopped run from its checkpoint. ``texture=True`` trains a
    texture generator (noise in, texture out): content images then only give the crop size
    and batch shape, and ``content_dir`` may be None (a random-noise stand-in is used).
    """
    from styx.core.modelstore import save_model
    from styx.core.training import TrainConfig, check_run_paths, train
    from styx.plugins.methods.texture_nets.task import TextureNetsTask

    config = (config or TrainConfig()).validate()
    _check_model_target(name, output, overwrite or resume)
    if content_dir is None and not texture:
        raise StyxError("no content folder given", "give --content-dir DIR (photos to train on)")
    run_dir = Path(run_dir).expanduser() if run_dir is not None else \
        default_run_dir(name, output)
    check_run_paths(run_dir, log_json)  # before the style image and descriptor load
    task = TextureNetsTask(style, generator=generator, losses=losses,
                           style_size=style_size or config.image_size, texture=texture,
                           seed=config.seed)
    if content_dir is None:
        content_dir = _noise_content_dir(run_dir, config.image_size)
    # --overwrite starts afresh; the old run's checkpoint stays until the first new one.
    result = train(task, Path(content_dir).expanduser(), config, run_dir=run_dir,
                   resume=resume, restart=overwrite and not resume,
                   log_json=Path(log_json) if log_json is not None else None)
    metadata = task.metadata()
    metadata["training"] = {
        "iterations": result.iterations_done, "batch_size": config.batch_size,
        "image_size": config.image_size, "lr": config.lr, "lr_decay": config.lr_decay,
        "lr_decay_every": config.lr_decay_every, "seed": config.seed,
        "content_dir": str(content_dir) if not texture else None,
        "images_per_second": result.images_per_second,
        "skipped_files": len(result.skipped_files) if isinstance(
            result.skipped_files, (list, tuple)) else result.skipped_files,
    }
    if result.history:
        metadata["training"]["final_losses"] = {
            k: v for k, v in result.history[-1].items()
            if isinstance(v, (int, float)) and k not in _NOT_LOSSES}
    model = result.model.cpu().eval()
    path = None
    if _rank() == 0:
        path = save_model(model, metadata, name=name,
                          path=output if name is None else None, overwrite=overwrite or resume)
    return TrainedTextureNet(path=path, generator=model, metadata=metadata, result=result)


def _noise_content_dir(run_dir: Path, size: int) -> Path:
    """A folder with one noise image: the stand-in content of texture-only training."""
    import torch

    from styx.core.image import save_image

    folder = run_dir / "noise-content"
    image = folder / "noise.png"
    if not image.is_file():
        generator = torch.Generator().manual_seed(0)
        save_image(torch.rand(1, 3, size, size, generator=generator), image)
    return folder


# -- loading and running -------------------------------------------------------------------
def load_texture_net(model: str | os.PathLike) -> tuple[TextureNetwork, dict[str, Any]]:
    """The generator stored as ``model`` (a store name or a folder) and its metadata.

    A missing model, a folder that is not a model, or a model of another method is a
    StyxError.
    """
    from styx.core.modelstore import load_model
    from styx.plugins.methods.texture_nets.generator import build_generator

    state, metadata = load_model(model)
    method = metadata.get("method")
    if method != METHOD:
        raise StyxError(f"model {str(model)!r} was trained by {method!r}, not {METHOD!r}",
                        f"use 'styx run {method} --model ...'" if isinstance(method, str)
                        else "give a model trained with 'styx train texture-nets'")
    architecture = metadata.get("architecture")
    if not isinstance(architecture, dict):
        raise StyxError(f"model {str(model)!r} has no generator architecture in its metadata",
                        "train or copy the model again")
    try:
        network = build_generator(architecture)
    except TypeError as error:
        raise StyxError(f"model {str(model)!r} has a bad architecture: {error}",
                        "train or copy the model again") from None
    missing, unexpected = _state_mismatch(network.state_dict(), state)
    if missing or unexpected:
        detail = f"missing {missing[0]!r}" if missing else f"unexpected {unexpected[0]!r}"
        raise StyxError(f"model {str(model)!r} does not fit its architecture ({detail})",
                        "the model is damaged; train or copy it again")
    try:
        network.load_state_dict(state)
    except RuntimeError as error:
        first = str(error).strip().splitlines()[-1].strip()
        raise StyxError(f"model {str(model)!r} does not fit its architecture: {first}",
                        "the model is damaged; train or copy it again") from None
    return network.eval(), metadata


def _state_mismatch(expected: dict, state: dict) -> tuple[list[str], list[str]]:
    return sorted(set(expected) - set(state)), sorted(set(state) - set(expected))


def _as_network(model: ModelLike) -> TextureNetwork:
    from styx.plugins.methods.texture_nets.generator import TextureNetwork

    if isinstance(model, TextureNetwork):
        return model
    return load_texture_net(model)[0]


def _generator(seed: int | None) -> torch.Generator:
    import torch

    generator = torch.Generator()
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(int(seed))
    return generator


def stylize(model: ModelLike, images: torch.Tensor | str | os.PathLike, *,
            seed: int | None = None, device: str = "auto",
            long_side: int | None = None) -> torch.Tensor:
    """Stylise ``images`` in one forward pass: N x 3 x H x W in [0, 1] (on the CPU).

    ``images``: a tensor (3 x H x W or N x 3 x H x W, in [0, 1]) or an image file.
    ``seed`` fixes the generator's noise (None: fresh noise each call). ``long_side``
    resizes the input first.
    """
    import torch

    from styx.core.device import resolve_device
    from styx.core.image import load_image, resize_long_side

    network = _as_network(model)
    if network.config.texture_only:
        raise StyxError("this model is a texture generator and takes no content image",
                        "use synthesize_texture (or 'styx run texture-nets --texture')")
    if isinstance(images, (str, os.PathLike)):
        images = load_image(images)
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images must be a tensor or an image path, not {type(images).__name__}")
    if images.dim() == 3:
        images = images.unsqueeze(0)
    if images.dim() != 4 or images.shape[1] != 3:
        raise StyxError(f"expected an N x 3 x H x W image, got shape {tuple(images.shape)}")
    if long_side is not None:
        images = resize_long_side(images, long_side)
    target = resolve_device(device)
    network = network.to(target).eval()
    batch, _, height, width = images.shape
    noise = network.make_noise(batch, height, width, generator=_generator(seed), device=target)
    with torch.no_grad():
        out = network(images.to(device=target, dtype=torch.float32), noise)
    return out.float().cpu()


def synthesize_texture(model: ModelLike, size: int | tuple[int, int] | str, *,
                       seed: int | None = None, batch: int = 1,
                       device: str = "auto") -> torch.Tensor:
    """A texture of ``size`` ((H, W), one number, or text ``"WxH"``): batch x 3 x H x W.

    A texture generator (trained with ``texture=True``) turns noise into texture. A
    stylisation model is given a uniform-noise image as its content, which yields the
    style's texture laid over noise.
    """
    import torch

    from styx.core.device import resolve_device
    from styx.core.options import parse_size

    height, width = parse_size(size) if isinstance(size, (str, int)) else tuple(size)
    if height < 1 or width < 1 or batch < 1:
        raise StyxError(f"bad texture size {width}x{height} (batch {batch})",
                        "width, height and batch must be >= 1")
    network = _as_network(model)
    target = resolve_device(device)
    network = network.to(target).eval()
    generator = _generator(seed)
    noise = network.make_noise(batch, height, width, generator=generator, device=target)
    content = None
    if not network.config.texture_only:
        content = torch.rand(batch, 3, height, width, generator=generator).to(target)
    with torch.no_grad():
        out = network(content, noise)
    return out.float().cpu()
