"""Style images made from the ones given: crops and low-resolution copies (no torch).

Each is written once, as a PNG named by the source's digest and the change, into the
study's ``inputs/`` folder (atomically), so a study run again finds the same file and so
the same cell keys.
"""

from __future__ import annotations

from pathlib import Path

from styx.core.errors import StyxError

#: Named regions: (left, top, right, bottom) as fractions of the width and height.
CROPS = {"full": (0.0, 0.0, 1.0, 1.0), "center": (0.25, 0.25, 0.75, 0.75),
         "top-left": (0.0, 0.0, 0.5, 0.5), "top-right": (0.5, 0.0, 1.0, 0.5),
         "bottom-left": (0.0, 0.5, 0.5, 1.0), "bottom-right": (0.5, 0.5, 1.0, 1.0),
         "left": (0.0, 0.0, 0.5, 1.0), "right": (0.5, 0.0, 1.0, 1.0),
         "top": (0.0, 0.0, 1.0, 0.5), "bottom": (0.0, 0.5, 1.0, 1.0)}

Box = tuple[float, float, float, float]


def parse_crop(text: str) -> Box:
    """A region's name (``center``) or ``LEFT,TOP,RIGHT,BOTTOM`` fractions in [0, 1]."""
    key = text.strip().lower()
    if key in CROPS:
        return CROPS[key]
    parts = [p.strip() for p in key.split(",")]
    hint = ("name a region (" + ", ".join(CROPS) + ") or give LEFT,TOP,RIGHT,BOTTOM "
            "fractions, e.g. 0,0,0.5,0.5; separate crops with ';'")
    try:
        box = tuple(float(p) for p in parts)
    except ValueError:
        from styx.core.suggest import did_you_mean

        raise StyxError(f"bad crop {text!r}", did_you_mean(key, CROPS) or hint) from None
    if len(box) != 4 or not all(0 <= v <= 1 for v in box) or \
            not (box[0] < box[2] and box[1] < box[3]):
        raise StyxError(f"bad crop {text!r}", hint)
    return box  # type: ignore[return-value]


def parse_long_side(text: str) -> int | None:
    """``full`` (None) or a long side in pixels (at least 4)."""
    if text.strip().lower() == "full":
        return None
    try:
        side = int(text.removesuffix("px").strip())
    except ValueError:
        side = 0
    if side < 4:
        raise StyxError(f"bad style resolution {text!r}",
                        "give full or long sides of at least 4 px, e.g. full,128,64")
    return side


def _name(source: Path, change: str) -> str:
    from styx.experiments.study import file_digest

    return f"{source.stem}-{file_digest(source)[:10]}-{change}.png"


def _write(picture, path: Path) -> Path:
    from styx.files.atomic import atomic_path

    if not path.exists():
        with atomic_path(path) as temporary:
            picture.save(temporary, format="PNG")
    return path


def _read(source: Path):
    from styx.files.image_arrays import arrays_to_pil, decode_image

    rgb, _ = decode_image(source)
    return arrays_to_pil(rgb)


def crop_style(source: Path, box: Box, folder: Path) -> Path:
    """``source`` cropped to ``box`` (the full box: ``source`` itself)."""
    if box == CROPS["full"]:
        return source
    picture = _read(source)
    width, height = picture.size
    pixels = (round(box[0] * width), round(box[1] * height),
              max(round(box[2] * width), round(box[0] * width) + 1),
              max(round(box[3] * height), round(box[1] * height) + 1))
    change = "crop-" + "-".join(f"{v:g}" for v in box)
    return _write(picture.crop(pixels), folder / _name(source, change))


def lower_resolution(source: Path, long_side: int | None, folder: Path) -> Path:
    """``source`` shrunk to ``long_side`` and enlarged back to its own size (None, or a
    long side not below its own: ``source`` itself)."""
    from PIL import Image

    picture = _read(source)
    if long_side is None or long_side >= max(picture.size):
        return source
    from styx.files.image_arrays import long_side_size

    width, height = picture.size
    small = picture.resize(long_side_size(height, width, long_side)[::-1],
                           Image.Resampling.LANCZOS)
    return _write(small.resize((width, height), Image.Resampling.BICUBIC),
                  folder / _name(source, f"res{long_side}"))
