"""What a generator consumes: each input declared once, by kind.

A feed-forward generator lists its inputs (``Generator.inputs``), each an :class:`Input` of
one kind::

    inputs = (content_image(), style_image(), setting("strength", 1.0))

Everything that feeds a generator is derived from that one declaration (``--style-image``
of ``styx run`` and ``styx infer``, one per style input in order, the library's ``style=``, the studio's painting picker, the ONNX inputs
and their metadata, ``styx infer``'s options, tiling and batching), so no layer above the
method names an input or a method. The kinds:

* ``content``: the image being stylised, N x 3 x H x W: cut into tiles, batched, sharded;
* ``style``: an image given at run time, 1 x 3 x h x w of its own size: never tiled;
* ``noise``: seeded per-pixel noise, N x C x H x W, drawn by pixel position from the seed;
* ``setting``: a fixed-size vector (StyleBank's style weights, a strength), with a default;
* ``statistics``: tiling statistics of instance norms, which styx adds itself.

No torch here: the command line, the studio and ``styx infer`` read declarations without it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

CONTENT, STYLE, NOISE, SETTING, STATISTICS = "content", "style", "noise", "setting", "statistics"
#: Every kind of input, in the order above.
KINDS = (CONTENT, STYLE, NOISE, SETTING, STATISTICS)
#: The mean change of an output in [0, 1] below which swapping a style image "changed
#: nothing": the bound of ``styx export --check`` and ``styx plugins --check``.
UNMOVED = 1e-4


@dataclass(frozen=True)
class Input:
    """One input of a generator: its ``name`` (the ``forward`` argument and the ONNX input),
    its ``kind`` (one of :data:`KINDS`), its ``channels`` (images and noise), a setting's
    ``default`` values (its size is their number), a line of ``help``, and ``per_style``:
    a setting of one value per style the model holds (StyleBank's style weights), which
    ``styx infer --style/--style-mix`` fills through the method's ``style_choice``."""

    name: str
    kind: str
    channels: int = 3
    default: tuple[float, ...] = ()
    help: str = ""
    per_style: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise ValueError(f"input name {self.name!r} is not a Python identifier")
        if self.kind not in KINDS:
            raise ValueError(f"input {self.name!r}: kind {self.kind!r} is not one of "
                             + ", ".join(KINDS))
        if self.kind == SETTING and not self.default:
            raise ValueError(f"setting {self.name!r} needs its default values")
        object.__setattr__(self, "default", tuple(float(v) for v in self.default))

    @property
    def per_pixel(self) -> bool:
        """Whether the input follows the content's batch and size (content, noise): what
        tiling cuts and batching stacks."""
        return self.kind in (CONTENT, NOISE)


def content_image(name: str = "image", help: str = "The photo to stylise.") -> Input:
    return Input(name, CONTENT, help=help)


def style_image(name: str = "style", help: str = "The painting whose style is applied.") -> Input:
    return Input(name, STYLE, help=help)


def noise(name: str = "noise", channels: int = 1, help: str = "Seeded per-pixel noise.") -> Input:
    return Input(name, NOISE, channels=channels, help=help)


def setting(name: str, default: float | Sequence[float], help: str = "", *,
            per_style: bool = False) -> Input:
    values = (default,) if isinstance(default, (int, float)) else tuple(default)
    return Input(name, SETTING, default=tuple(float(v) for v in values), help=help,
                 per_style=per_style)


def of_kind(inputs: Iterable[Input], kind: str) -> list[Input]:
    """The inputs of ``kind``, in declaration order."""
    return [item for item in inputs if item.kind == kind]


def check_declaration(inputs: Sequence[Input], owner: str) -> tuple[Input, ...]:
    """``inputs`` as a tuple, checked: Input objects, distinct names, at most one content
    image. A bad declaration is a TypeError or ValueError naming ``owner``."""
    inputs = tuple(inputs)
    for item in inputs:
        if not isinstance(item, Input):
            raise TypeError(f"{owner}: inputs must be styx.core.inputs.Input objects, not "
                            f"{type(item).__name__}")
    names = [item.name for item in inputs]
    if len(set(names)) != len(names):
        raise ValueError(f"{owner}: two inputs share a name ({', '.join(names)})")
    if len(of_kind(inputs, CONTENT)) > 1:
        raise ValueError(f"{owner}: more than one content image")
    return inputs
