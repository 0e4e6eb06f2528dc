"""The ``fast`` architecture variants against the papers' at the same training budget:
training speed, final loss, and a picture grid.

For each feed-forward method (texture-nets, StyleBank, AdaIN) and each variant, trains one
model with ``styx.train(..., variant=V)`` for ``--iterations`` at ``--image-size`` px,
batch ``--batch-size``, on the same photos and paintings with the same descriptor and
seed, each in a fresh process. Prints one JSON document:

* per method and variant: ``images_per_second`` (median over the iterations after the
  first), ``final_loss`` (mean of the last five logged losses; the losses of two variants of
  one method are comparable: same loss network, weights, data and seed), ``params_m``;
* ``fast_speedup``: the fast variant's training images/s over the paper's;
* ``grid``: the PNG it writes: per method a row of photo | paper | fast on each sample
  photo, at ``--grid-size`` px.

The descriptors have random weights (``--weights random``, the default; ImageNet weights
cannot be downloaded on the machines the numbers were taken on): the losses still compare
the variants' ability to fit one objective, but the pictures are not the style transfer a
trained descriptor gives. To repeat it with ImageNet weights (downloaded once into
torchvision's cache), run with ``--weights imagenet --iterations 2000``.

Photos and paintings come from ``--images`` (a folder with ``content/`` and ``style/``;
default: the project's shared sample images beside the checkout, else styx's own two
sample pictures).

Usage: ``python benchmarks/variants.py [--methods texture-nets,stylebank,adain]
[--iterations 40] [--image-size 128] [--batch-size 4] [--grid-size 256] [--out DIR]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
from pathlib import Path

import _common

HERE = Path(__file__).resolve()
SHARED_IMAGES = HERE.parents[2] / "shared" / "data" / "images"
VARIANTS = ("paper", "fast")


def image_folders(args: argparse.Namespace, root: Path) -> tuple[Path, Path]:
    """Folders of content photos and of paintings to train and show on."""
    from PIL import Image

    from styx.files.image_arrays import sample_image

    given = Path(args.images) if args.images else SHARED_IMAGES
    if (given / "content").is_dir() and (given / "style").is_dir():
        return given / "content", given / "style"
    content, style = root / "content", root / "style"
    content.mkdir(parents=True, exist_ok=True)
    style.mkdir(parents=True, exist_ok=True)
    Image.open(sample_image("content")).convert("RGB").save(content / "photo.png")
    Image.open(sample_image("style")).convert("RGB").save(style / "painting.png")
    return content, style


def measure_training(args: argparse.Namespace) -> dict:
    """One method and variant (``--case METHOD@VARIANT``): train, save, report."""
    import styx

    method, variant = args.case.split("@")
    content, style = image_folders(args, Path(args.work))
    paintings = sorted(p for p in style.iterdir() if p.is_file())
    os.environ["STYX_HOME"] = str(Path(args.work) / "home")
    styles = {"adain": {"style_dir": style},
              "stylebank": {"style": paintings[:2]},
              "texture-nets": {"style": paintings[0]}}[method]
    trained = styx.train(method, content_dir=content, **styles, variant=variant,
                         output=Path(args.work) / f"{method}-{variant}",
                         run_dir=Path(args.work) / f"run-{method}-{variant}",
                         weights=args.weights, iterations=args.iterations,
                         batch_size=args.batch_size, image_size=args.image_size, seed=0,
                         checkpoint_every=0, log_every=1, quiet=True, device=args.device,
                         amp=args.amp)
    history = trained.result.history
    rates = [entry["images_per_second"] for entry in history[1:]]
    network = trained.generator
    return {"images_per_second": round(statistics.median(rates), 3),
            "final_loss": round(statistics.fmean(e["total"] for e in history[-5:]), 4),
            "params_m": round(sum(p.numel() for p in network.parameters()
                                  if p.requires_grad) / 1e6, 3),
            "precision": trained.result.precision}


def write_grid(args: argparse.Namespace, methods: list[str], target: Path) -> None:
    """Per method a row of photo | paper | fast for each sample photo."""
    from PIL import Image

    import styx

    content, style = image_folders(args, Path(args.work))
    photos = sorted(p for p in content.iterdir() if p.is_file())[:3]
    painting = min(p for p in style.iterdir() if p.is_file())
    rows = []
    for method in methods:
        row = []
        for photo in photos:
            picture = Image.open(photo).convert("RGB")
            picture.thumbnail((args.grid_size, args.grid_size))
            row.append(picture)
            for variant in VARIANTS:
                extra = {"styles": [painting]} if method == "adain" else \
                    {"style": 0} if method == "stylebank" else {}
                result = styx.stylize(method, picture, model=Path(args.work) /
                                      f"{method}-{variant}", long_side=args.grid_size,
                                      **extra)
                pixels = result.image[0].permute(1, 2, 0).numpy() * 255 + 0.5
                row.append(Image.fromarray(pixels.clip(0, 255).astype("uint8")))
        rows.append(row)
    cell = max(max(im.size) for row in rows for im in row)
    grid = Image.new("RGB", (cell * len(rows[0]), cell * len(rows)), "white")
    for r, row in enumerate(rows):
        for c, picture in enumerate(row):
            grid.paste(picture, (c * cell, r * cell))
    target.parent.mkdir(parents=True, exist_ok=True)
    grid.save(target)


def main() -> None:
    parser = _common.parser(__doc__)
    parser.add_argument("--methods", default="texture-nets,stylebank,adain")
    parser.add_argument("--iterations", type=int, default=40)
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--grid-size", type=int, default=256)
    parser.add_argument("--weights", default="random")
    parser.add_argument("--amp", default="auto")
    parser.add_argument("--images", default=None)
    parser.add_argument("--out", default="bench-out")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    args = _common.parse_args(parser)
    if _common.child(args, measure_training):
        return
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    out: dict = {"benchmark": "variants", "cpu": _common.lscpu_model(),
                 "weights": args.weights, "iterations": args.iterations,
                 "image_size": args.image_size, "batch_size": args.batch_size}
    with tempfile.TemporaryDirectory(prefix="styx-variants-") as work:
        for method in methods:
            results = {variant: _common.run_phase_process(
                str(HERE), "training", "--case", f"{method}@{variant}", "--work", work)
                for variant in VARIANTS}
            if not any(_common.failed(r) for r in results.values()):
                results["fast_speedup"] = round(results["fast"]["images_per_second"] /
                                                results["paper"]["images_per_second"], 2)
            out[method] = results
        args.work = work
        trained = [m for m in methods if "fast_speedup" in out[m]]
        if trained:
            grid = Path(args.out) / "variants-grid.png"
            write_grid(args, trained, grid)
            out["grid"] = str(grid)
    print(json.dumps(_common.machine(args) | out, indent=1))


if __name__ == "__main__":
    main()
