"""The judge's options, and what a results file says about descriptor weights.

The judge is a plain perceptual objective (the descriptor's default layers, every term at
weight 1, the default losses): what it reports are the unweighted content, style and TV
losses of a picture, the same yardstick for every cell of a study.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from styx.core.bundles import LossOptions
from styx.core.config import option


@dataclass(kw_only=True)
class JudgeOptions(LossOptions):
    label = "the judge"

    content_weight: float = 1.0
    style_weight: float = 1.0
    tv_weight: float = 1.0
    seed: int = option(0, help="Seeds random descriptor weights.")


def weights_used(descriptor: str, weights: str, seed: int) -> dict[str, Any]:
    """What ``weights`` are for ``descriptor``: ``random`` with its seed, the ImageNet file
    torchvision's cache holds, or a given file with its SHA-256."""
    if weights.lower() == "random":
        return {"weights": "random", "seed": seed}
    if weights.lower() == "imagenet":
        from styx.core.plugins import descriptors
        from styx.perceptual.weights import cached_file, weights_info

        info = weights_info(descriptors().get(descriptor))
        if info is None:
            return {"weights": "imagenet"}
        return {"weights": "imagenet", "file": info.file_name, "url": info.url,
                "cached": str(cached_file(info))}
    path = Path(weights).expanduser()
    hasher = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            hasher.update(block)
    return {"weights": str(path), "sha256": hasher.hexdigest()}
