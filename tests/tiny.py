"""The settings of a tiny run, written once: what makes a training or a Gatys run take about
a second on two cores (random descriptor weights, so no download; 32 px; the CPU; quiet).

Imported by the tests as ``import tiny`` (pytest puts this folder, the one of the root
``conftest.py``, on ``sys.path``). A test spreads them first and its own choices after::

    styx.train("texture-nets", **{**tiny.TRAINING, **tiny.SHALLOW, "batch_size": 2})
"""

from __future__ import annotations

#: A training run (``styx.train``, a method's train config): four iterations of one 32 px
#: crop on the CPU, a log entry every iteration, nothing printed; the checkpoint at the end.
TRAINING = {"weights": "random", "iterations": 4, "batch_size": 1, "image_size": 32,
            "log_every": 1, "quiet": True, "device": "cpu"}

#: A Gatys run (``styx.stylize("gatys", ...)``): two steps at 32 px.
GATYS = {"weights": "random", "steps": 2, "size": 32}

#: Shallow layers (VGG19 names; VGG16 has them too): the descriptor is trimmed after relu2_1.
SHALLOW = {"content_layers": "relu2_1", "style_layers": "relu1_1,relu2_1"}

#: The smaller descriptor with random weights, for runs whose only setting that matters is
#: speed (the studio's forms take these as they are).
FAST_DESCRIPTOR = {"weights": "random", "descriptor": "vgg16"}


def cli(options: dict, *, leave_out: tuple[str, ...] = ()) -> list[str]:
    """The command-line flags of library options: ``{"image_size": 32, "quiet": True}`` gives
    ``["--image-size", "32", "--quiet"]`` (a false switch gives nothing)."""
    flags: list[str] = []
    for key, value in options.items():
        if key in leave_out or value is False:
            continue
        flag = f"--{key.replace('_', '-')}"
        flags.extend([flag] if value is True else [flag, str(value)])
    return flags
