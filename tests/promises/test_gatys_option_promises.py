"""Options of `styx run gatys` that docs/gatys.md and README.md describe and no test held to
their word: --size's default, --style-scale, the --lr defaults, --lbfgs-history,
--log-every, --channels-last, --compile, --preserve-color on intermediate images, and the
keys of --json. Most check what the run sets up, without optimising much."""

from __future__ import annotations

import json

import pytest
import torch

import styx
from styx.files.image_arrays import sample_image
from styx.perceptual.objective import PerceptualObjective
from styx.plugins.methods.gatys import optimize
from styx.plugins.methods.gatys.api import GatysRun
from styx.plugins.methods.gatys.config import GatysConfig
from styx.plugins.methods.gatys.optimize import NonFiniteLoss
from styx.runtime.image_tensors import load_image, rgb_to_yiq, run_request, save_image
from styx.runtime.meta import is_fake

#: Shallow layers: images down to 16 px work, and the descriptor is small.
SHALLOW = {"weights": "random", "content_layers": "relu1_1", "style_layers": "relu1_1"}


pytestmark = pytest.mark.usefixtures("no_weight_notes")


@pytest.fixture(scope="module")
def content():
    return load_image(sample_image("content"), long_side=32)


@pytest.fixture(scope="module")
def style():
    return load_image(sample_image("style"), long_side=32)


def gatys_run(content, styles, **options) -> GatysRun:
    return GatysRun(GatysConfig(**options), run_request(content=content, styles=styles))


def test_size_defaults_to_512_for_a_file_and_resizes_up_or_down(content, style, tmp_path):
    """--size N, default 512: the content is resized to it (up or down); a content tensor
    keeps its own size unless size is given."""
    small = tmp_path / "small.png"
    save_image(content, small)
    run = gatys_run(str(small), [style])
    run.load_images()
    assert run.final_size == 512 and max(run.content.shape[-2:]) == 512  # 32 px, upsized
    run = gatys_run(sample_image("content"), [style], size=40)
    run.load_images()
    assert tuple(run.content.shape[-2:]) == (30, 40)  # 512 x 384, downsized
    for size, expected in [(None, 32), (48, 48)]:
        run = gatys_run(content, [style], size=size)
        run.load_images()
        assert max(run.content.shape[-2:]) == expected


@pytest.mark.parametrize("style_scale", [0.5, 1.5])
def test_style_scale_sizes_the_style_images_at_every_scale(content, style, monkeypatch,
                                                           style_scale):
    """--style-scale F: the style images' long side is F times the output's, at each scale
    of --scales too."""
    seen = []
    original = PerceptualObjective.set_style

    def set_style(self, images, blend=None):
        if not is_fake(images[0]):  # the memory check's shape pass sets none for real
            seen.append([max(image.shape[-2:]) for image in images])
        return original(self, images, blend)

    monkeypatch.setattr(PerceptualObjective, "set_style", set_style)
    big_style = load_image(sample_image("style"), long_side=64)
    styx.stylize("gatys", content, [big_style, big_style.flip(-1)], scales=[16, 32], steps=1,
                 style_scale=style_scale, **SHALLOW)
    assert seen == [[round(style_scale * 16)] * 2, [round(style_scale * 32)] * 2]


@pytest.fixture
def optimizers(monkeypatch):
    """The optimisers made by gatys runs, and the learning rate each was given."""
    made = []
    original = optimize.make_optimizer

    def spy(name, image, *, lr, lbfgs_history=20):
        optimizer = original(name, image, lr=lr, lbfgs_history=lbfgs_history)
        made.append((name, lr, optimizer))
        return optimizer

    monkeypatch.setattr(optimize, "make_optimizer", spy)
    return made


def test_lr_defaults_to_1_for_lbfgs_and_0_05_for_adam_and_history_is_passed_on(
        content, style, optimizers):
    """--lr: 1 (lbfgs), 0.05 (adam); --lbfgs-history: the L-BFGS memory (default 20)."""
    for options in ({}, {"optimizer": "adam"}, {"optimizer": "adam", "lr": 0.3},
                    {"lbfgs_history": 7, "lr": 0.5}):
        styx.stylize("gatys", content, style, steps=1, **SHALLOW, **options)
    [lbfgs, adam, adam_lr, lbfgs_7] = optimizers
    assert isinstance(lbfgs[2], torch.optim.LBFGS) and lbfgs[2].defaults["lr"] == 1.0
    assert lbfgs[2].defaults["history_size"] == 20 and lbfgs[2].defaults["max_iter"] == 1
    assert isinstance(adam[2], torch.optim.Adam) and adam[2].defaults["lr"] == 0.05
    assert adam_lr[2].defaults["lr"] == 0.3
    assert lbfgs_7[2].defaults["history_size"] == 7 and lbfgs_7[2].defaults["lr"] == 0.5


def test_log_every_reads_the_losses_every_n_steps(content, style):
    """--log-every N: the loss values are read back (history) every N steps."""
    result = styx.stylize("gatys", content, style, steps=7, log_every=3, **SHALLOW)
    steps = [h["step"] for h in result.history]
    assert {3, 6} <= set(steps) and not {1, 2, 4, 5} & set(steps)
    every = styx.stylize("gatys", content, style, steps=3, **SHALLOW)
    assert [h["step"] for h in every.history] == [1, 2, 3]  # the default: every step


def test_with_log_every_a_nan_stops_the_run_at_the_next_read(content, style, monkeypatch):
    original = PerceptualObjective.forward
    calls = []

    def poisoned(self, image, content_targets=None):
        terms = original(self, image, content_targets)
        if is_fake(image):  # the memory check's shape pass: not an evaluation
            return terms
        calls.append(1)
        if len(calls) == 4:
            terms.total = terms.total * float("nan")
        return terms

    monkeypatch.setattr(PerceptualObjective, "forward", poisoned)
    with pytest.raises(NonFiniteLoss, match="the loss became nan at step 6"):
        styx.stylize("gatys", content, style, steps=10, log_every=3, optimizer="adam",
                     **SHALLOW)


@pytest.mark.parametrize("channels_last", [True, False])
def test_channels_last_sets_the_descriptors_memory_format(content, style, channels_last):
    """--channels-last / --no-channels-last: the descriptor's memory format (default on)."""
    assert GatysConfig().channels_last is True
    run = gatys_run(content, [style], channels_last=channels_last, **SHALLOW)
    run.load_images()
    run.build_objective()
    weights = [p for p in run.objective.descriptor.parameters() if p.dim() == 4]
    assert weights
    assert all(w.is_contiguous(memory_format=torch.channels_last) == channels_last
               for w in weights)


def test_compile_compiles_the_descriptor_only_when_asked(content, style, monkeypatch):
    compiled = []
    monkeypatch.setattr(torch.nn.Module, "compile",
                        lambda self, *args, **kwargs: compiled.append(type(self).__name__))
    for flag in (False, True):
        run = gatys_run(content, [style], compile=flag, **SHALLOW)
        run.load_images()
        run.build_objective()
    assert compiled == [type(run.objective.descriptor).__name__]


def test_preserve_color_applies_to_the_intermediate_images_too(content, style):
    """docs/gatys.md: --preserve-color is applied to the final and the intermediate
    images."""
    options = {"steps": 3, "optimizer": "adam", "style_weight": 1e6, "weights": "random"}
    kept, free = [], []
    result = styx.stylize("gatys", content, style, preserve_color=True,
                          callback=lambda info: kept.append(info.image()), **options)
    styx.stylize("gatys", content, style, callback=lambda info: free.append(info.image()),
                 **options)
    chroma = rgb_to_yiq(content)[:, 1:]

    def error(image):
        return float((rgb_to_yiq(image)[:, 1:] - chroma).abs().mean())

    assert len(kept) == len(free) == 3
    for image in [*kept, result.image]:
        assert error(image) < 0.01
    assert error(free[-1]) > 3 * error(kept[-1])  # without it the colours do move


def test_cli_json_prints_the_documented_summary(styx_cli, tmp_path, content, style):
    """docs/gatys.md: --json prints {"output", "width", "height", "steps", "loss",
    "seconds", "interrupted", "device", "precision", "scales", "content_layers",
    "style_layers"}."""
    files = {"content": tmp_path / "c.png", "style": tmp_path / "s.png"}
    save_image(content, files["content"])
    save_image(style, files["style"])
    out = tmp_path / "out.png"
    result = styx_cli("run", "gatys", str(files["content"]), str(files["style"]), "-o",
                      str(out), "--weights", "random", "--size", "32", "--steps", "2",
                      "--content-layers", "relu1_1", "--style-layers", "relu1_1", "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert set(summary) == {"output", "width", "height", "steps", "loss", "seconds",
                            "interrupted", "device", "precision", "scales", "content_layers",
                            "style_layers", "memory"}
    assert summary["memory"]["what"] == "gatys at 32x24 px" and summary["memory"]["fits"]
    assert summary["output"] == str(out) and (summary["width"], summary["height"]) == (32, 24)
    assert summary["steps"] == 2 and summary["interrupted"] is False
    assert summary["scales"] == [32] and summary["device"] == "cpu"
    assert summary["content_layers"] == {"relu1_1": 1.0}
    assert summary["style_layers"] == {"relu1_1": 1.0}
