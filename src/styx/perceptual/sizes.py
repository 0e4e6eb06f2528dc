"""The smallest image a descriptor takes at the layers used, and the check that refuses a
smaller one before any work.

Each convolution and pool shrinks the two axes of an image by its own rule, one axis
independently of the other, so a forward pass reaches a layer when each side alone is
large enough: an H x W image is accepted iff ``min(H, W) >= smallest_side(descriptor,
layers)``. That side depends on the descriptor and the deepest of the layers (VGG19: 16 px
at ``relu5_1``, 32 px at ``pool5``; ResNet-50: 1 px, its convolutions are padded), and is
found by shape passes (:meth:`~styx.perceptual.descriptor.Descriptor.smallest_side`): no
weights are loaded for it, no data computed, and it is kept per descriptor, options and
deepest layer.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from styx.core.errors import StyxError
from styx.core.plugins import descriptors

if TYPE_CHECKING:
    from styx.perceptual.descriptor import Descriptor

#: ``(descriptor factory, its options as JSON, deepest tap) -> smallest side``.
_SIDES: dict[tuple[Any, str, str], int] = {}

#: What to tell a user whose image is too small: a fixed hint, or one made from the side
#: needed and the layer that needs it.
Fix = str | Callable[[int, str], str]


def smallest_side(descriptor: Descriptor | str, layers: Iterable[str], *,
                  options: Mapping[str, Any] | None = None) -> int:
    """The smallest side of a square image whose forward pass through ``descriptor`` (a
    built one, or a registered name with its ``options``) reaches the deepest of ``layers``
    (names or aliases). A name is built without weights, trimmed to that layer, once per
    factory, options and layer. 1 when ``layers`` is empty."""
    if not isinstance(descriptor, str):
        return descriptor.smallest_side(layers)
    name, tap = deepest_layer(descriptor, layers)
    if tap is None:
        return 1
    options = dict(options or {})
    key = (descriptors().get(name).load(), json.dumps(options, sort_keys=True, default=str),
           tap)
    if key not in _SIDES:
        _SIDES[key] = _built(name, tap, options).smallest_side([tap])
    return _SIDES[key]


def deepest_layer(descriptor: str, layers: Iterable[str]) -> tuple[str, str | None]:
    """``(canonical descriptor name, the deepest of layers or None)``, from the registered
    spec's layer order (aliases resolved; an unknown name is left to the build to refuse)."""
    spec = descriptors().get(descriptor)
    order = {layer: i for i, layer in enumerate(spec.layers)}
    deepest, depth = None, -1
    for layer in layers:
        tap = spec.layer_aliases.get(layer.strip(), layer.strip())
        here = order.get(tap, len(order))
        if here > depth:
            deepest, depth = tap, here
    return spec.name, deepest


def _built(name: str, tap: str, options: dict[str, Any]) -> Descriptor:
    """Descriptor ``name`` trimmed after ``tap``, with unfilled weights (random ones for a
    plugin that has no "empty" weights: they are never used)."""
    from styx.perceptual.descriptor import build_descriptor
    from styx.perceptual.weights import notes

    with contextlib.suppress(Exception):  # a plugin without "empty" weights
        return build_descriptor(name, "empty", layers=[tap], **options)
    with notes(False):  # a real mistake (an unknown layer) fails here again
        return build_descriptor(name, "random", layers=[tap], **options)


def check_image_size(descriptor: Descriptor | str, layers: Iterable[str], height: int,
                     width: int, *, what: str = "image", fix: Fix, where: str | None = None,
                     options: Mapping[str, Any] | None = None) -> None:
    """A one-line StyxError unless an ``height`` x ``width`` image reaches the deepest of
    ``layers`` through ``descriptor`` (see :func:`smallest_side`)::

        a 16x12 px content image is too small for descriptor 'vgg19' at layer 'relu5_1'
        (it needs at least 16 px a side)

    ``what`` names the image as the user gave it (``"content image (--size 16)"``),
    ``where`` comes first when given (``"cell 'inception_v3' of study 'descriptors'"``),
    and ``fix`` is the hint: a text, or ``fix(side needed, layer)``.
    """
    layers = list(layers)
    needed = smallest_side(descriptor, layers, options=options)
    if min(int(height), int(width)) >= needed:
        return
    if isinstance(descriptor, str):
        name, layer = deepest_layer(descriptor, layers)
    else:
        name = descriptor.name
        layer = max(layers, key=descriptor.depth)
    prefix = f"{where}: " if where else ""
    raise StyxError(f"{prefix}a {width}x{height} px {what} is too small for descriptor "
                    f"{name!r} at layer {layer!r} (it needs at least {needed} px a side)",
                    fix if isinstance(fix, str) else fix(needed, str(layer)))


def shallower(descriptor: str, layer: str, style_layers: Iterable[str]) -> str:
    """"shallower --style-layers" when ``layer`` (canonical) is one of ``style_layers``
    (names or aliases of ``descriptor``'s), else "shallower --content-layers"."""
    aliases = descriptors().get(descriptor).layer_aliases
    style = {aliases.get(name, name) for name in style_layers}
    return "shallower --" + ("style" if layer in style else "content") + "-layers"


def long_side_for(height: int, width: int, short: int) -> int:
    """The smallest long side to which an ``height`` x ``width`` image is resized (by
    :func:`~styx.runtime.image_tensors.long_side_size`) with its short side at least
    ``short``."""
    from styx.runtime.image_tensors import long_side_size

    side = max(1, short * max(height, width) // max(1, min(height, width)) - 1)
    while min(long_side_size(height, width, side)) < short:
        side += 1
    return side
