"""The Gatys method: the library call and ``styx run gatys`` (random weights, tiny images)."""

from __future__ import annotations

import json
import math

import pytest
import tiny
import torch
from child_styx import ctrl_c_styx

import styx
from styx.core.errors import StyxError
from styx.files.image_arrays import sample_image
from styx.plugins.methods.gatys.api import GatysRun
from styx.plugins.methods.gatys.config import GatysConfig
from styx.plugins.methods.gatys.optimize import NonFiniteLoss
from styx.runtime.image_tensors import load_image, resize_to, rgb_to_yiq, run_request, save_image

FAST = {"weights": "random", "steps": 5}


def stylize(content=None, styles=None, **options):
    """The library call, as a user makes it."""
    return styx.stylize("gatys", content, styles, **options)


def gatys_run(content, styles, **options) -> GatysRun:
    return GatysRun(GatysConfig(**options), run_request(content=content, styles=styles))


@pytest.fixture(scope="module")
def content():
    return load_image(sample_image("content"), long_side=48)


@pytest.fixture(scope="module")
def style():
    return load_image(sample_image("style"), long_side=48)


@pytest.fixture
def image_files(tmp_path, content, style):
    """Small content and style files, and a second style (the style's mirror image)."""
    paths = {"content": tmp_path / "content.png", "style": tmp_path / "style.png",
             "style2": tmp_path / "style2.png"}
    save_image(content, paths["content"])
    save_image(style, paths["style"])
    save_image(style.flip(-1), paths["style2"])
    return paths


def total_variation(image: torch.Tensor) -> float:
    return float((image[..., 1:, :] - image[..., :-1, :]).pow(2).mean()
                 + (image[..., :, 1:] - image[..., :, :-1]).pow(2).mean())


# -- the library call --------------------------------------------------------------------------
@pytest.mark.parametrize("descriptor, size", [("vgg16", 48), ("vgg19", 48), ("resnet50", 64),
                                              ("inception_v3", 128)])
def test_total_loss_falls_for_every_descriptor(descriptor, size):
    content = load_image(sample_image("content"), long_side=size)
    style = load_image(sample_image("style"), long_side=size)
    result = stylize(content, style, descriptor=descriptor, **FAST)
    totals = [h["total"] for h in result.history]
    assert len(totals) == 5 and all(math.isfinite(t) for t in totals)
    assert totals[-1] < 0.8 * totals[0], totals
    assert result.loss <= min(totals) + 1e-12
    assert result.image.shape == content.shape
    assert 0.0 <= float(result.image.min()) and float(result.image.max()) <= 1.0


def test_result_is_a_finite_image_with_history_and_layer_weights(content, style):
    result = stylize(content, [style], steps=3, weights="random", optimizer="adam")
    assert result.steps == 3 and not result.interrupted
    assert [h["step"] for h in result.history] == [1, 2, 3]
    assert result.content_layers == {"relu4_2": 1.0}
    assert list(result.style_layers) == ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]
    assert torch.isfinite(result.image).all() and result.image.device.type == "cpu"


def test_without_style_and_tv_the_content_init_stays_the_content(content, style):
    result = stylize(content, style, style_weight=0, tv_weight=0, init="content", **FAST)
    assert (result.image - content).abs().max() < 1e-4


def test_without_content_the_grams_move_toward_the_style(content, style):
    from styx.perceptual.descriptor import build_descriptor
    from styx.plugins.losses.gram import gram_matrix

    result = stylize(content, style, content_weight=0, tv_weight=0, weights="random", steps=15)
    descriptor = build_descriptor("vgg19", "random", seed=0)
    layers = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]
    with torch.no_grad():
        target = descriptor(style, layers)

        def distance(image):
            features = descriptor(image, layers)
            return sum(float((gram_matrix(features[n]) - gram_matrix(target[n])).pow(2).mean())
                       for n in layers)

        before, after = distance(content), distance(result.image)
    assert after < 0.3 * before, (before, after)


def test_a_higher_tv_weight_gives_a_smoother_image(content, style):
    rough = stylize(content, style, tv_weight=0, init="noise", **FAST)
    smooth = stylize(content, style, tv_weight=100, init="noise", **FAST)
    assert total_variation(smooth.image) < 0.5 * total_variation(rough.image)


def test_preserve_color_keeps_the_content_chroma(content, style):
    kept = stylize(content, style, preserve_color=True, style_weight=1e6, **FAST)
    free = stylize(content, style, preserve_color=False, style_weight=1e6, **FAST)
    chroma = rgb_to_yiq(content)[:, 1:]
    kept_error = (rgb_to_yiq(kept.image)[:, 1:] - chroma).abs().mean()
    free_error = (rgb_to_yiq(free.image)[:, 1:] - chroma).abs().mean()
    assert kept_error < 0.01 and free_error > 3 * kept_error, (kept_error, free_error)
    # The luminance is the stylised one, not the content's.
    assert (rgb_to_yiq(kept.image)[:, 0] - rgb_to_yiq(content)[:, 0]).abs().mean() > 0.01


def test_the_same_seed_gives_the_same_image(content, style):
    options = {"init": "noise", "steps": 3, "weights": "random", "size": 40}
    first = stylize(content, style, seed=3, **options)
    again = stylize(content, style, seed=3, **options)
    other = stylize(content, style, seed=4, **options)
    assert torch.equal(first.image, again.image)
    assert (first.image - other.image).abs().max() > 0.05


def test_two_styles_blend(content, style):
    mirrored = style.flip(-1)
    result = stylize(content, [style, mirrored], style_blend=[0.7, 0.3], **FAST)
    assert result.history[-1]["total"] < result.history[0]["total"]
    with pytest.raises(StyxError, match="2 style blend weights for 3 style"):
        stylize(content, [style, style, mirrored], style_blend=[1, 1], **FAST)


def test_init_choices_and_noise_ratio(content, style, tmp_path):
    """noise_ratio 1 equals pure noise; an init file equal to the content equals 'content'."""
    run = gatys_run(content, [style], init="content", noise_ratio=1.0, seed=5)
    noise = gatys_run(content, [style], init="noise", seed=5)
    assert torch.equal(run.first_init(content), noise.first_init(content))
    half = gatys_run(content, [style], init="style", noise_ratio=0.5, seed=5)
    half.styles = [style]
    expected = 0.5 * resize_to(style, content.shape[-2:]) + 0.5 * noise.first_init(content)
    assert torch.allclose(half.first_init(content), expected, atol=1e-6)
    path = tmp_path / "start.png"
    save_image(content, path)
    from_file = stylize(content, style, init=str(path), steps=1, weights="random",
                        style_weight=0, tv_weight=0)
    assert (from_file.image - content).abs().max() < 1 / 255 + 1e-4


def test_balanced_style_layers_equalise_the_starting_losses(content, style):
    result = stylize(content, style, style_layers="balanced", steps=1, weights="random")
    first = result.history[0]
    weighted = [result.style_layers[n] * first[f"style/{n}"] for n in result.style_layers]
    assert max(weighted) / min(weighted) < 1.01
    plain = stylize(content, style, steps=1, weights="random").history[0]
    spread = [plain[f"style/{n}"] for n in result.style_layers]
    assert max(spread) / min(spread) > 2  # without balancing the layers differ


def test_balanced_is_a_style_layer_choice_like_any_other():
    config = GatysConfig(style_layers="balanced")
    assert config.balances_style_layers and config.style_layers == "balanced"
    assert config.layer_selections()[1] is None  # the descriptor's defaults
    explicit = config.with_options(style_layers="relu1_1,relu2_1")
    assert not explicit.balances_style_layers  # choosing layers ends the balancing
    assert explicit.layer_selections()[1] == {"relu1_1": 1.0, "relu2_1": 1.0}


def test_explicit_layer_weights_are_used(content, style):
    result = stylize(content, style, content_layers="relu3_1", weights="random", steps=1,
                     style_layers="relu1_1:0.5,block2_conv1:2")
    assert result.content_layers == {"relu3_1": 1.0}
    assert result.style_layers == {"relu1_1": 0.5, "block2_conv1": 2.0}
    assert set(result.history[0]) >= {"style/relu1_1", "style/block2_conv1", "content/relu3_1"}


def test_coarse_to_fine_runs_every_scale_with_targets_made_once_per_scale(
        content, style, monkeypatch):
    from styx.perceptual.objective import PerceptualObjective

    calls = []
    original = PerceptualObjective.set_style

    def counting(self, images, blend=None):
        from styx.runtime.meta import is_fake

        if not is_fake(images[0]):  # the memory estimate's shape pass makes none
            calls.append(tuple(images[0].shape[-2:]))
        return original(self, images, blend)

    monkeypatch.setattr(PerceptualObjective, "set_style", counting)
    result = stylize(content, style, scales=[32, 48], steps=[3, 2], weights="random")
    assert result.scales == [32, 48] and result.steps == 5
    assert [h["scale"] for h in result.history] == [32, 32, 32, 48, 48]
    assert [max(shape) for shape in calls] == [32, 48]
    assert result.image.shape == content.shape


def test_descriptor_is_frozen_and_truncated_at_the_deepest_tap(content, style):
    run = gatys_run(content, [style], weights="random", content_layers="relu2_1",
                    style_layers="relu1_1,relu3_1")
    run.load_images()
    run.build_objective()
    descriptor = run.objective.descriptor
    assert len(descriptor.stages) == descriptor.depth("relu3_1") + 1
    assert not any(p.requires_grad for p in descriptor.parameters())
    # A zero content weight drops the content layer, so the descriptor stops earlier.
    style_only = gatys_run(content, [style], weights="random", content_weight=0,
                           style_layers="relu1_1")
    style_only.load_images()
    style_only.build_objective()
    trimmed = style_only.objective.descriptor
    assert len(trimmed.stages) == trimmed.depth("relu1_1") + 1
    assert style_only.objective.content_layers == {}


@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_autocast_runs_on_the_cpu(amp, content, style):
    """End to end, briefly (2 steps at 32 px: emulated half precision is slow on CPUs
    without it); the fp16 loss scaler has tests of its own (tests/promises)."""
    result = stylize(content, style, amp=amp, **tiny.GATYS)
    assert result.image.shape[-1] == 32
    totals = [h["total"] for h in result.history]
    assert all(math.isfinite(t) for t in totals) and totals[-1] < totals[0]


def test_the_loss_scaler_backs_off_when_fp16_gradients_overflow():
    from styx.plugins.methods.gatys.optimize import LossScaler

    image = torch.ones(4, requires_grad=True)
    scaler = LossScaler(scale=2.0**16)
    total = (image.half() * 1000).float().sum()  # d/dimage = 1000, in fp16 (max 65504)
    scaler.backward(total, image)
    assert scaler.scale == 64.0  # 1000 * 128 overflows fp16, 1000 * 64 does not
    assert torch.equal(image.grad, torch.full((4,), 1000.0))


def test_a_callback_sees_every_step_and_can_interrupt(content, style):
    seen = []

    def callback(info):
        seen.append((info.step, info.total_steps, info.losses is not None))
        assert info.image().shape == content.shape
        if info.step == 3:
            raise KeyboardInterrupt

    result = stylize(content, style, callback=callback, weights="random", steps=10)
    assert result.interrupted and result.steps == 3
    assert seen == [(1, 10, True), (2, 10, True), (3, 10, True)]
    assert result.loss == pytest.approx(min(h["total"] for h in result.history))
    assert torch.isfinite(result.image).all()


def test_a_nan_loss_stops_with_a_clear_error(content, style, monkeypatch):
    from styx.perceptual.objective import PerceptualObjective

    original = PerceptualObjective.forward
    calls = []

    def poisoned(self, image, content_targets=None):
        from styx.runtime.meta import is_fake

        terms = original(self, image, content_targets)
        if is_fake(image):  # the memory estimate's shape pass: not a step
            return terms
        calls.append(1)
        if len(calls) >= 3:
            terms.total = terms.total * float("nan")
        return terms

    monkeypatch.setattr(PerceptualObjective, "forward", poisoned)
    with pytest.raises(NonFiniteLoss, match="the loss became nan at step 3") as caught:
        stylize(content, style, **FAST)
    assert caught.value.hint and "--lr" in caught.value.hint
    assert [h["step"] for h in caught.value.history] == [1, 2]


def test_bad_options_are_styx_errors_before_any_work():
    for options, message in [({"style_weight": -1}, "bad --style-weight"),
                             ({"optimizer": "sgd"}, "bad --optimizer"),
                             ({"noise_ratio": 1.5}, "bad --noise-ratio"),
                             ({"scales": "64,32"}, "do not grow"),
                             ({"size": 100, "scales": [32, 64]}, "differs from the last"),
                             ({"steps": [3, 3], "size": 64}, "2 step counts for 1 scales"),
                             ({"content_weight": 0, "style_weight": 0, "tv_weight": 0},
                              "all zero"),
                             ({"sizee": 3}, "did you mean 'size'")]:
        with pytest.raises(StyxError, match=message):
            stylize(**options)



def test_the_content_alpha_channel_is_kept_in_the_output(styx_cli, image_files, tmp_path):
    import numpy as np
    from PIL import Image

    rgb = Image.open(image_files["content"]).convert("RGB").resize((40, 32))
    alpha = np.tile(np.linspace(0, 255, 40, dtype=np.uint8), (32, 1))
    rgba = rgb.copy()
    rgba.putalpha(Image.fromarray(alpha))
    content = tmp_path / "transparent.png"
    rgba.save(content)
    out = tmp_path / "out.png"
    result = styx_cli("run", "gatys", str(content), str(image_files["style"]), "-o", str(out),
                      "--weights", "random", "--steps", "2", "--size", "40", "--quiet")
    assert result.exit_code == 0, result.stderr
    written = Image.open(out)
    assert written.mode == "RGBA" and written.size == (40, 32)
    assert np.abs(np.asarray(written)[..., 3].astype(int) - alpha).max() <= 1
    # A format without transparency gets the colours alone.
    jpg = tmp_path / "out.jpg"
    result = styx_cli("run", "gatys", str(content), str(image_files["style"]), "-o", str(jpg),
                      "--weights", "random", "--steps", "1", "--size", "40", "--quiet")
    assert result.exit_code == 0, result.stderr
    assert Image.open(jpg).mode == "RGB"


# -- the command -------------------------------------------------------------------------------
def test_cli_writes_the_image_a_json_log_and_intermediate_images(styx_cli, image_files,
                                                                 tmp_path):
    out, log = tmp_path / "out" / "result.png", tmp_path / "log.json"
    result = styx_cli("run", "gatys", str(image_files["content"]), str(image_files["style"]),
                      "-o", str(out), "--weights", "random", "--steps", "4", "--save-every", "2",
                      "--size", "48",
                      "--log-json", str(log), "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["output"] == str(out) and summary["steps"] == 4
    height, width = load_image(image_files["content"]).shape[-2:]
    assert (summary["width"], summary["height"]) == (width, height) and width == 48
    assert load_image(out).shape == (1, 3, height, width)
    # every 2nd step but the last, whose image is -o itself (docs/gatys.md)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["result.00002.png",
                                                                     "result.png"]
    data = json.loads(log.read_text())
    assert data["status"] == "done" and data["config"]["weights"] == "random"
    assert data["content_layers"] == {"relu4_2": 1.0}  # the layout of earlier versions
    assert list(data["style_layers"]) == ["relu1_1", "relu2_1", "relu3_1", "relu4_1",
                                          "relu5_1"]
    assert len(data["history"]) == 4
    style_layers = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]
    for entry in data["history"]:
        for key in ["total", "content", "tv", "seconds", *(f"style/{n}" for n in style_layers)]:
            assert isinstance(entry[key], float), key
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]


def test_cli_two_styles_with_blend_weights(styx_cli, image_files, tmp_path):
    out = tmp_path / "blend.jpg"
    result = styx_cli("run", "gatys", str(image_files["content"]), str(image_files["style"]),
                      str(image_files["style2"]), "--style-blend", "0.7,0.3", "-o", str(out),
                      "--weights", "random", "--steps", "2", "--size", "48", "--quiet")
    assert result.exit_code == 0, result.stderr
    assert out.is_file() and "wrote" not in result.stderr


def test_cli_ctrl_c_writes_the_best_image_so_far(styx_cli, image_files, tmp_path,
                                                 monkeypatch):
    calls = []
    original = torch.optim.LBFGS.step

    def step(self, closure):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return original(self, closure)

    monkeypatch.setattr(torch.optim.LBFGS, "step", step)
    out, log = tmp_path / "best.png", tmp_path / "log.json"
    result = styx_cli("run", "gatys", str(image_files["content"]), str(image_files["style"]),
                      "-o", str(out), "--weights", "random", "--steps", "50",
                      "--size", "48", "--log-json", str(log))
    assert result.exit_code == 130
    assert "interrupted after 3 steps" in result.stderr and "Traceback" not in result.stderr
    assert out.is_file() and torch.isfinite(load_image(out)).all()
    data = json.loads(log.read_text())
    assert data["status"] == "interrupted" and len(data["history"]) == 3


def test_cli_real_sigint_in_a_subprocess(image_files, tmp_path):
    """A real Ctrl-C (SIGINT) mid-run: exit 130, the best image so far is written."""
    out = tmp_path / "sigint.png"
    code, stderr = ctrl_c_styx(
        ["run", "gatys", str(image_files["content"]), str(image_files["style"]), "-o",
         str(out), "--weights", "random", "--size", "48", "--steps", "100000",
         "--save-every", "1", "--quiet"], once=tmp_path / "sigint.00002.png")
    assert code == 130, stderr
    assert "interrupted after" in stderr and "Traceback" not in stderr
    assert out.is_file() and torch.isfinite(load_image(out)).all()


def test_cli_infinite_loss_writes_no_image(styx_cli, image_files, tmp_path):
    out, log = tmp_path / "inf.png", tmp_path / "log.json"
    result = styx_cli("run", "gatys", str(image_files["content"]), str(image_files["style"]),
                      "-o", str(out), "--weights", "random", "--steps", "3", "--size", "48",
                      "--style-weight", "1e300", "--log-json", str(log))
    assert result.exit_code == 2
    assert "the loss became inf at step 1" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()
    assert json.loads(log.read_text())["status"] == "non-finite loss"


@pytest.mark.parametrize("args, message", [
    (["{missing}", "{style}"], "not found"),
    (["{content}", "{style}", "--descriptor", "vgg91"], "did you mean"),
    (["{content}", "{style}", "--style-layers", "relu9_9"], "has no layer 'relu9_9'"),
    (["{content}", "{style}", "--style-weight", "0", "--style-layers", "relu9_9"],
     "has no layer 'relu9_9'"),
    (["{content}", "{style}", "--content-layers", "relu4_2:-1"], "bad weight"),
    (["{content}", "{style}", "--style-weight", "-1"], "bad --style-weight"),
    (["{content}", "{style}", "{style2}", "--style-blend", "1"], "1 style blend weights for 2"),
    (["{content}", "{style}", "--style-blend", "-1"], "bad --style-blend"),
    (["{content}", "{style}", "--optimizer", "sgd"], "bad --optimizer"),
    (["{content}", "{style}", "--init", "{missing}"], "not found"),
    (["{content}", "{style}", "--descriptor-option", "pool"], "KEY=VALUE"),
    (["{content}", "{style}", "--amp", "fp8"], "bad --amp"),
], ids=["missing-content", "unknown-descriptor", "bad-layer", "bad-unused-layer",
        "negative-layer-weight",
        "negative-weight", "blend-count", "negative-blend", "optimizer", "missing-init",
        "descriptor-option", "amp"])
def test_cli_bad_inputs_exit_2_without_output(styx_cli, image_files, tmp_path, args, message):
    out = tmp_path / "out.png"
    names = {**{k: str(v) for k, v in image_files.items()}, "missing": str(tmp_path / "no.jpg")}
    argv = [a.format(**names) for a in args]
    result = styx_cli("run", "gatys", *argv, "-o", str(out), "--weights", "random",
                      "--steps", "2", "--size", "48")
    assert result.exit_code == 2, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert [line for line in result.stderr.splitlines() if line.startswith("error:")] == \
        [result.stderr.splitlines()[-2 if "hint:" in result.stderr else -1]]
    assert not out.exists()


@pytest.mark.parametrize("clash", ["log-is-output", "output-is-content", "log-is-style",
                                   "output-is-init", "log-folder-is-a-file"])
def test_cli_refuses_to_write_over_its_inputs_or_output_before_any_work(
        styx_cli, image_files, tmp_path, monkeypatch, clash):
    """--log-json on -o used to turn the image into JSON; on an input it destroyed it; under
    a file it failed only after the whole run. Now each is refused before any work."""
    from styx.plugins.methods.gatys import api

    monkeypatch.setattr(api, "run", lambda *a, **k: pytest.fail("work started"))
    content, style = image_files["content"], image_files["style"]
    out, log = tmp_path / "out.png", tmp_path / "log.json"
    extra = []
    if clash == "log-is-output":
        log = out
    elif clash == "output-is-content":
        out = tmp_path / "sub" / ".." / content.name  # the same file, spelled differently
    elif clash == "log-is-style":
        log = style
    elif clash == "output-is-init":
        out = image_files["style2"]
        extra = ["--init", str(out)]
    else:
        log = content / "log.json"
    before = {p: p.read_bytes() for p in image_files.values()}
    result = styx_cli("run", "gatys", str(content), str(style), "-o", str(out),
                      "--log-json", str(log), "--weights", "random", "--steps", "1", *extra)
    assert result.exit_code == 2, result.stderr
    assert "Traceback" not in result.stderr and result.stderr.startswith("error:")
    assert {p: p.read_bytes() for p in image_files.values()} == before
    assert not (tmp_path / "out.png").exists() and not (tmp_path / "log.json").exists()


@pytest.mark.parametrize("flag", ["--quiet", "--json"])
def test_cli_quiet_and_json_print_no_notes(styx_cli, image_files, tmp_path, flag):
    """--quiet promises no notes; the random-weights note used to come through."""
    out = tmp_path / "out.png"
    result = styx_cli("run", "gatys", str(image_files["content"]), str(image_files["style"]),
                      "-o", str(out), "--weights", "random", "--steps", "1", "--size", "32",
                      flag)
    assert result.exit_code == 0 and out.is_file()
    assert result.stderr == ""


def test_cli_bad_output_suffix(styx_cli, image_files, tmp_path):
    out = tmp_path / "out.xyz"
    result = styx_cli("run", "gatys", str(image_files["content"]), str(image_files["style"]),
                      "-o", str(out), "--weights", "random", "--steps", "2")
    assert result.exit_code == 2 and "cannot write images as .xyz" in result.stderr
    assert not out.exists()


def test_cli_uses_the_sample_images_when_none_are_given(styx_cli, tmp_path):
    out = tmp_path / "first.png"
    result = styx_cli("run", "gatys", "-o", str(out), "--weights", "random", "--size", "32",
                      "--steps", "1", "--quiet")
    assert result.exit_code == 0, result.stderr
    width, height = load_image(out).shape[-1], load_image(out).shape[-2]
    assert max(width, height) == 32


@pytest.mark.parametrize(("args", "error", "hint"), [
    (["--init", "nosie"], "error: bad --init 'nosie'", "hint: did you mean 'noise'?"),
    (["--weights", "imagnet"], "error: bad --weights 'imagnet': no such file",
     "hint: did you mean 'imagenet'?"),
    (["--init", "missing.png"], "error: image file not found: missing.png",
     "hint: check the path"),
])
def test_a_misspelt_word_value_gets_a_suggestion(styx_cli, tmp_path, monkeypatch, args, error,
                                                 hint):
    monkeypatch.chdir(tmp_path)
    result = styx_cli("run", "gatys", "-o", "out.png", "--size", "32", "--steps", "1", *args)
    lines = result.stderr.splitlines()
    assert result.exit_code == 2 and len(lines) == 2, result.stderr
    assert lines[0] == error and lines[1].startswith(hint)
    assert not any(tmp_path.iterdir())
