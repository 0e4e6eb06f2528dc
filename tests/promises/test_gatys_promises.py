"""Promises of README.md and docs/gatys.md about `styx run gatys` that only a file check
covered: Ctrl-C keeps the *best* image (not the last), --style-blend weighs the styles,
--save-every writes the loop's images at the documented steps, Ctrl-C while loading.

Tiny images (32 px), random VGG19 weights, a few steps.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

import styx
from styx.files.image_arrays import sample_image
from styx.perceptual.objective import PerceptualObjective
from styx.runtime.image_tensors import load_image, resize_to, save_image

SIZE = 32
#: What every library run here shares: random weights, no notes.
QUICK = {"weights": "random", "seed": 0}


pytestmark = pytest.mark.usefixtures("no_weight_notes")


@pytest.fixture(scope="module")
def content():
    return load_image(sample_image("content"), long_side=SIZE)


@pytest.fixture(scope="module")
def style():
    return load_image(sample_image("style"), long_side=SIZE)


@pytest.fixture
def files(tmp_path, content, style):
    paths = {"content": tmp_path / "content.png", "style": tmp_path / "style.png",
             "style2": tmp_path / "style2.png"}
    save_image(content, paths["content"])
    save_image(style, paths["style"])
    # A second style that is clearly another style: the painting's colours inverted.
    save_image(1.0 - style.flip(-1), paths["style2"])
    return paths


def pixels(path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB")).astype(np.int16)


def gatys_cli(styx_cli, files, out, *args: str):
    return styx_cli("run", "gatys", str(files["content"]), *args, "-o", str(out),
                    "--weights", "random", "--size", str(SIZE))


@pytest.fixture
def loss_rises_after(monkeypatch):
    """``loss_rises_after(n)``: every evaluation after the n-th adds a large constant to the
    total (the gradient is unchanged), so the best image is the one evaluated n-th and every
    later image is worse: a run that returned its last image would be caught."""
    def install(n: int) -> list[float]:
        original = PerceptualObjective.forward
        totals: list[float] = []

        def forward(self, image, content_targets=None):
            from styx.runtime.meta import is_fake

            terms = original(self, image, content_targets)
            if is_fake(image):  # the memory check's shape pass: not an evaluation
                return terms
            totals.append(float(terms.total.detach()))
            if len(totals) > n:
                terms.total = terms.total + 1e6
            return terms

        monkeypatch.setattr(PerceptualObjective, "forward", forward)
        return totals
    return install


def evaluated_images(init: torch.Tensor):
    """A callback recording, per step, the image the *next* evaluation sees.

    A step's callback image is the image after that step's update; the next step evaluates
    it (clamped to [0, 1], as ``info.image()`` is). So ``images[k]`` (1-based) is the image
    evaluated at step k, ``images[1]`` the start.
    """
    images = {1: init.clamp(0.0, 1.0)}

    def callback(info):
        images[info.step + 1] = info.image()
    return images, callback


# -- Ctrl-C keeps the best image ----------------------------------------------------------------
@pytest.mark.parametrize("interrupted", [True, False], ids=["interrupted", "finished"])
def test_the_result_is_the_best_image_not_the_last(content, style, loss_rises_after,
                                                   interrupted):
    """docs/gatys.md: the image kept is the one with the lowest loss seen, not simply the
    last; Ctrl-C (a KeyboardInterrupt from the callback) returns that best image."""
    loss_rises_after(3)
    images, record = evaluated_images(content)

    def callback(info):
        record(info)
        if interrupted and info.step == 6:
            raise KeyboardInterrupt

    result = styx.stylize("gatys", content, style, optimizer="adam", lr=0.05, steps=8,
                          init="content", callback=callback, **QUICK)
    totals = [h["total"] for h in result.history]
    assert result.interrupted is interrupted
    assert len(totals) == (6 if interrupted else 8)
    best = 1 + min(range(len(totals)), key=totals.__getitem__)
    assert best == 3 and totals[-1] > totals[best - 1]  # the loss rose after its best step
    assert result.loss == pytest.approx(totals[best - 1])
    assert torch.equal(result.image, images[best])
    last = images[len(totals)]
    assert not torch.equal(result.image, last)  # the last image would fail this test
    assert (result.image - last).abs().max() > 0.01


def test_ctrl_c_during_a_coarse_scale_gives_its_best_image_at_the_output_size(
        content, style, loss_rises_after):
    """docs/gatys.md: Ctrl-C writes the best image so far at the output size, upsampled if
    a coarser scale was running."""
    loss_rises_after(2)
    coarse = resize_to(content, (18, 24))  # the content's 32 x 24 at a long side of 24
    assert content.shape[-2:] == (24, SIZE)
    images, record = evaluated_images(coarse)

    def callback(info):
        assert info.scale == 24
        record(info)
        if info.step == 4:
            raise KeyboardInterrupt

    result = styx.stylize("gatys", content, style, optimizer="adam", scales=[24, SIZE],
                          steps=10, callback=callback, content_layers="relu2_1",
                          style_layers="relu1_1,relu2_1", **QUICK)
    assert result.interrupted and result.scales == [24]
    assert result.image.shape == content.shape
    assert images[2].shape[-1] == 24
    assert torch.equal(result.image, resize_to(images[2], content.shape[-2:]).clamp(0, 1))


def test_cli_ctrl_c_writes_the_best_image_and_exits_130(styx_cli, files, tmp_path,
                                                        monkeypatch, loss_rises_after):
    """README/docs/gatys.md: Ctrl-C writes the best image so far and exits 130; the line
    is printed even with --quiet; --log-json says "interrupted"."""
    loss_rises_after(3)
    calls = []
    original = torch.optim.LBFGS.step

    def step(self, closure):
        calls.append(1)
        if len(calls) == 6:
            raise KeyboardInterrupt  # Ctrl-C during the sixth step: five done
        return original(self, closure)

    monkeypatch.setattr(torch.optim.LBFGS, "step", step)
    out, log = tmp_path / "best.png", tmp_path / "log.json"
    result = gatys_cli(styx_cli, files, out, str(files["style"]), "--steps", "50",
                       "--save-every", "1", "--log-json", str(log), "--quiet")
    assert result.exit_code == 130, result.stderr
    assert "interrupted after 5 steps: wrote the best image so far" in result.stderr
    assert "Traceback" not in result.stderr
    data = json.loads(log.read_text())
    assert data["status"] == "interrupted" and data["result"]["interrupted"] is True
    totals = [h["total"] for h in data["history"]]
    assert len(totals) == 5
    best = 1 + totals.index(min(totals))
    assert best <= 3 and data["result"]["loss"] == pytest.approx(min(totals))
    # The image evaluated at step k is the one step k-1 left (OUT.0000<k-1>.png).
    written = pixels(out)
    assert np.array_equal(written, pixels(
        files["content"] if best == 1 else tmp_path / f"best.{best - 1:05d}.png"))
    for later in ("best.00004.png", "best.00005.png"):  # the last evaluated, the last made
        assert np.abs(written - pixels(tmp_path / later)).max() > 2


def test_cli_ctrl_c_while_loading_exits_130_and_writes_nothing(styx_cli, files, tmp_path,
                                                               monkeypatch):
    """docs/gatys.md: Ctrl-C while loading exits 130 without writing anything."""
    from styx.plugins.methods.gatys.api import GatysRun

    def interrupted(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(GatysRun, "build_objective", interrupted)
    out, log = tmp_path / "out.png", tmp_path / "log.json"
    result = gatys_cli(styx_cli, files, out, str(files["style"]), "--steps", "3",
                       "--save-every", "1", "--log-json", str(log))
    assert result.exit_code == 130
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == \
        ["content.png", "style.png", "style2.png"]


# -- --style-blend ------------------------------------------------------------------------------
def test_cli_style_blend_weighs_the_styles(styx_cli, files, tmp_path):
    """README/docs/gatys.md: one weight per style image, the Gram targets their weighted mean
    (docs/losses.md: normalised; blend 1,0 is exactly the first style alone)."""
    common = ["--steps", "3", "--quiet"]
    out = {name: tmp_path / f"{name}.png" for name in
           ("first", "second", "one-zero", "half", "scaled-half", "mostly")}
    both = [str(files["style"]), str(files["style2"])]
    runs = [("first", [str(files["style"])]), ("second", [str(files["style2"])]),
            ("one-zero", [*both, "--style-blend", "1,0"]),
            ("half", both),
            ("scaled-half", [*both, "--style-blend", "3,3"]),
            ("mostly", [*both, "--style-blend", "0.9,0.1"])]
    for name, args in runs:
        result = gatys_cli(styx_cli, files, out[name], *args, *common)
        assert result.exit_code == 0, result.stderr
    image = {name: pixels(path) for name, path in out.items()}
    assert np.array_equal(image["one-zero"], image["first"])
    assert np.array_equal(image["scaled-half"], image["half"])  # equal by default; normalised

    def distance(a, b):
        return float(np.abs(image[a] - image[b]).mean())

    assert distance("first", "second") > 5  # the two styles give clearly other images
    # A blend lies between its styles, nearer the one weighted more.
    assert distance("mostly", "first") < distance("half", "first") < distance("second",
                                                                              "first")


# -- --save-every -------------------------------------------------------------------------------
def test_cli_save_every_writes_the_loops_image_at_each_documented_step(styx_cli, files,
                                                                      tmp_path, content,
                                                                      style):
    """docs/gatys.md: --save-every N writes the current image every N steps as
    OUT.000NN.png; each is what the loop had at that step (the library's callback image)."""
    out = tmp_path / "run" / "out.png"
    result = gatys_cli(styx_cli, files, out, str(files["style"]), "--steps", "7",
                       "--save-every", "3", "--quiet")
    assert result.exit_code == 0, result.stderr
    intermediates = sorted(p.name for p in out.parent.glob("out.0*.png"))
    assert {"out.00003.png", "out.00006.png"} <= set(intermediates)
    assert set(intermediates) <= {"out.00003.png", "out.00006.png", "out.00007.png"}

    # The same run in the library: its callback sees the loop's image at every step.
    seen = {}

    def callback(info):
        seen[info.step] = info.image()

    styx.stylize("gatys", load_image(files["content"]), [load_image(files["style"])],
                 steps=7, size=SIZE, callback=callback, **QUICK)
    for step in (3, 6):
        expected = tmp_path / f"expected.{step}.png"
        save_image(seen[step], expected)
        assert np.array_equal(pixels(out.parent / f"out.{step:05d}.png"), pixels(expected))
    assert np.abs(pixels(out.parent / "out.00003.png")
                  - pixels(out.parent / "out.00006.png")).max() > 2


def test_cli_save_every_uses_the_output_format(styx_cli, files, tmp_path):
    """docs/gatys.md: intermediates have the same format as -o."""
    out = tmp_path / "out.jpg"
    result = gatys_cli(styx_cli, files, out, str(files["style"]), "--steps", "3",
                       "--save-every", "1", "--quiet")
    assert result.exit_code == 0, result.stderr
    for step in (1, 2):
        with Image.open(tmp_path / f"out.{step:05d}.jpg") as image:
            assert image.format == "JPEG"


def test_cli_bad_save_every_fails_before_any_work(styx_cli, files, tmp_path, monkeypatch):
    from styx.plugins.methods.gatys import api

    monkeypatch.setattr(api, "run", lambda *a, **k: pytest.fail("work started"))
    out = tmp_path / "out.png"
    result = gatys_cli(styx_cli, files, out, "--save-every", "-1")
    assert result.exit_code == 2 and "bad --save-every -1" in result.stderr
    assert not out.exists()
