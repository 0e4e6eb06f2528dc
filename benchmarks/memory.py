"""The memory estimates of ``styx run`` and ``styx train`` against the memory really taken.

Every command that allocates by size checks a memory estimate before its work (a shape
pass of its networks: :mod:`styx.runtime.meta`). For each case below, a fresh process runs a
tiny warm-up of the same path (so torch's and oneDNN's one-time set-up is not counted), notes
its resident memory, then runs the case through the library, collecting the estimate the run
checked (:func:`styx.runtime.memory.watching`). The measured peak is the process's peak
resident memory (``VmHWM``) less that note. Prints one JSON document: the machine (``lscpu``'s
model name), and per case ``estimate_bytes``, ``measured_peak_bytes``, ``ratio`` (estimate
over measured; the aim is 0.75-1.25) and seconds. ``styx infer``'s estimate has its own
benchmark, ``memory_infer.py``.

Cases: Gatys (VGG19, random weights, L-BFGS with its history full, and Adam) at 512 px in
fp32 and bf16 and at 1024 px (a history of 5, so that it fills in a few steps); feed-forward runs of default-size texture-nets and StyleBank
networks on a 2048 px photo, whole and in 512 px tiles; training of texture-nets,
StyleBank and AdaIN at a batch of 4 crops of 256 px.

Usage: ``python benchmarks/memory.py [--cases NAME,...]``; unknown arguments are ignored
(nox passes its own).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import lscpu_model, resident

CASES = {
    "gatys-512-fp32": ("gatys", {"size": 512, "steps": 24, "amp": "off"}),
    "gatys-512-bf16": ("gatys", {"size": 512, "steps": 24, "amp": "bf16"}),
    "gatys-1024-fp32": ("gatys", {"size": 1024, "steps": 8, "amp": "off",
                                  "lbfgs_history": 5}),
    "gatys-1024-adam": ("gatys", {"size": 1024, "steps": 3, "amp": "off",
                                  "optimizer": "adam"}),
    "run-texture-nets-2048": ("run", {"method": "texture-nets", "size": 2048}),
    "run-texture-nets-2048-bf16": ("run", {"method": "texture-nets", "size": 2048,
                                           "amp": "bf16"}),
    "run-texture-nets-2048-tile-512": ("run", {"method": "texture-nets", "size": 2048,
                                               "tile": 512}),
    "run-stylebank-2048": ("run", {"method": "stylebank", "size": 2048}),
    "train-texture-nets-4x256": ("train", {"method": "texture-nets"}),
    "train-stylebank-4x256": ("train", {"method": "stylebank"}),
    "train-adain-4x256": ("train", {"method": "adain"}),
}


# -- a child: one case -----------------------------------------------------------------------
def write_photos(folder: Path, count: int, size: int) -> list[Path]:
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        pixels = np.random.default_rng(index).integers(0, 256, (size, size, 3), np.uint8)
        paths.append(folder / f"{index}.png")
        Image.fromarray(pixels).save(paths[-1])
    return paths


def stored_model(folder: Path, method: str) -> Path:
    """A default-size network of ``method`` stored in ``folder`` (random weights: memory
    does not depend on training)."""
    from styx.files.modelstore import save_model

    if method == "texture-nets":
        from styx.plugins.methods.texture_nets.generator import GeneratorConfig, TextureNetwork

        network = TextureNetwork(GeneratorConfig())
        extra = {"texture": False, "style": {"name": "s.png", "size": [256, 256]}}
    else:
        from styx.plugins.methods.stylebank.network import NetworkConfig, StyleBankNetwork

        network = StyleBankNetwork(NetworkConfig(num_styles=2))
        extra = {"styles": [{"name": name, "sha256": "0" * 64, "size": [256, 256]}
                            for name in ("a", "b")]}
    return save_model(network, {"method": method, "architecture": network.architecture(),
                                **extra}, path=folder / method, overwrite=True)


def measure(name: str) -> dict:
    """Run case ``name`` here (a fresh process): its estimate and its measured peak."""
    import gc
    import os

    import styx
    from styx.runtime.memory import watching

    kind, settings = CASES[name]
    work = Path(tempfile.mkdtemp())
    os.environ["STYX_HOME"] = str(work / "home")
    sample = str(Path(styx.__file__).parent / "data" / "starry_night.jpg")

    if kind == "gatys":
        def case(size: int, steps: int) -> None:
            styx.stylize("gatys", weights="random", **{**settings, "size": size,
                                                       "steps": steps})
        warm, real = (lambda: case(64, 2)), (lambda: case(settings["size"],
                                                          settings["steps"]))
    elif kind == "run":
        from styx.generators.models import load_model

        method = settings["method"]
        model = load_model(stored_model(work, method))
        photo = write_photos(work / "photo", 1, settings["size"])[0]
        options = {"style": "a"} if method == "stylebank" else {}
        options.update({k: v for k, v in settings.items() if k in ("amp", "tile")})

        def warm() -> None:
            styx.stylize(method, str(photo), model=model, long_side=64, **options)

        def real() -> None:
            styx.stylize(method, str(photo), model=model, **options)
    else:
        method = settings["method"]
        photos = work / "photos"
        write_photos(photos, 6, 288)
        style = {"adain": {"style_dir": str(photos)},
                 "stylebank": {"style": [sample, sample]}}.get(method, {"style": sample})

        def train(size: int, batch: int, iterations: int, run: str) -> None:
            styx.train(method, content_dir=str(photos), weights="random", image_size=size,
                       batch_size=batch, iterations=iterations, run_dir=str(work / run),
                       name=run, quiet=True, num_workers=0, **style)
        warm, real = (lambda: train(64, 1, 2, "warm")), (lambda: train(256, 4, 3, "real"))

    warm()
    gc.collect()
    before, _ = resident()
    started = time.perf_counter()
    with watching() as needs:
        real()
    seconds = time.perf_counter() - started
    _, peak = resident()
    need = needs[-1]
    measured = peak - before
    return {"case": name, "what": need.what, "estimate_bytes": need.bytes,
            "parts": need.parts, "measured_peak_bytes": measured,
            "ratio": round(need.bytes / measured, 3), "seconds": round(seconds, 1)}


# -- the parent ------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--case", help=argparse.SUPPRESS)  # a child's one case
    args, _unknown = parser.parse_known_args()
    if args.case:
        print(json.dumps(measure(args.case)))
        return
    results = []
    for name in args.cases.split(","):
        child = subprocess.run([sys.executable, __file__, "--case", name],
                               capture_output=True, text=True, check=False)
        if child.returncode != 0:
            results.append({"case": name, "error": child.stderr.strip().splitlines()[-1:]})
        else:
            results.append(json.loads(child.stdout.strip().splitlines()[-1]))
        print(json.dumps(results[-1]), file=sys.stderr)
    ratios = [r["ratio"] for r in results if "ratio" in r]
    print(json.dumps({"benchmark": "memory", "cpu": lscpu_model(), "cases": results,
                      "ratio_min": min(ratios, default=None),
                      "ratio_max": max(ratios, default=None)}, indent=1))


if __name__ == "__main__":
    main()
