"""The run function of the texture-nets method (training is its task, :mod:`.task`).

It is what ``styx run texture-nets`` / ``styx.stylize("texture-nets", ...)`` calls::

    import styx

    styx.train("texture-nets", style="starry.jpg", content_dir="photos/", name="starry")
    out = styx.stylize("texture-nets", "tubingen.jpg", model="starry").image
    tex = styx.stylize("texture-nets", model="starry", texture=True, size="512x512").image

Everything that is not particular to this method (the run folder, saving, loading, running
a generator over photos) is the shared feed-forward machinery of
:mod:`styx.training.feedforward` and :mod:`styx.generators.models`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from styx.core.errors import StyxError
from styx.core.method import RunRequest, RunResult
from styx.generators.models import Model, apply_generator, memory_need, run_feed_forward
from styx.plugins.methods.texture_nets.config import TEXTURE_SIZE
from styx.runtime.device import precision_of

if TYPE_CHECKING:
    import torch

    from styx.plugins.methods.texture_nets.config import TextureNetsRunConfig


def run(request: RunRequest, config: TextureNetsRunConfig) -> RunResult:
    """Stylise the request's content, or with ``config.texture`` synthesise a texture of
    ``config.size`` (512 x 512 when not given)."""
    model: Model = request.model
    if config.texture:
        started = time.perf_counter()
        image = synthesize_texture(model, config.size or TEXTURE_SIZE, seed=config.seed,
                                   device=config.device, amp=config.amp)
        precision = precision_of(config)
        return RunResult(image=image, config=config, seconds=time.perf_counter() - started,
                         device=str(precision.device), precision=precision.name)
    if not model.generator.takes_image:
        raise StyxError(f"model {model.name!r} is a texture generator and takes no content "
                        "image", "use --texture --size WxH -o OUT.png")
    return run_feed_forward(request, config)


def synthesize_texture(model: Model, size: tuple[int, int], *, seed: int | None,
                       batch: int = 1, device: str = "auto", amp: str = "auto"
                       ) -> torch.Tensor:
    """A batch x 3 x H x W texture of ``size`` (H, W). A texture generator turns noise
    into texture; a stylisation network is given a uniform-noise image as its content,
    which yields the style's texture laid over noise. ``seed`` fixes both (None: fresh)."""
    memory_need(model, size, batch=batch, device=device, amp=amp, takes_image=False,
                what="a texture", size_flag="--size", texture=True).check()
    return apply_generator(model, None, seed=seed, device=device, amp=amp, size=size,
                           batch=batch, texture=True)
