"""What the training loop hands out and writes down, checked one call from the loop: the
callback's ``StepInfo`` (the logged values, the model, its pictures through
``sample_output``), the task's place in the run (``set_world``, before ``build_model``), the
precision in every log entry, the checkpoint and the result (and the note of a resume in
another precision), and the task's metadata kept as JSON."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
import torch
from fake_training_task import TinyTask
from torch import nn

from styx.core.inputs import content_image
from styx.core.method import StepInfo
from styx.generators.generator import Generator
from styx.runtime import device as device_module
from styx.training.checkpoint import read_checkpoint
from styx.training.loop import (
    CHECKPOINT_NAME,
    TrainingOptions,
    sample_output,
    train,
    watching,
)

CONFIG = TrainingOptions(iterations=6, batch_size=2, image_size=16, lr=1e-2, seed=3,
                         log_every=2, checkpoint_every=0, quiet=True, amp="off")


class Shader(Generator):
    """One 3x3 convolution and a sigmoid: a generator the loop can sample."""

    inputs = (content_image(),)

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.net(image))


class Stretcher(Shader):
    """A generator whose raw output runs past [0, 1] on both sides."""

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return image * 4 - 2


class ShaderTask(TinyTask):
    """TinyTask's training with a generator, and a record of where it stands in the run."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[object] = []

    def set_world(self, rank: int, world_size: int) -> None:
        self.events.append(("world", rank, world_size))

    def build_model(self) -> Shader:
        self.events.append("build")
        return Shader()


def test_the_callback_gets_the_logged_values_the_model_and_its_pictures(content, tmp_path):
    photo = torch.rand(1, 3, 12, 16, generator=torch.Generator().manual_seed(1))
    seen, pictures = [], []

    def watch(step):
        seen.append(step)
        pictures.append((step.image(photo, seed=2), sample_output(step.model, photo, seed=2)))

    task = ShaderTask()
    with watching(watch):
        result = train(task, content, CONFIG, run_dir=tmp_path / "run")
    assert task.events == [("world", 0, 1), "build"]  # its place first, then its model
    assert len(seen) == len(result.history) == 3
    for step, entry in zip(seen, result.history):
        assert isinstance(step, StepInfo) and step.model is result.model
        assert (step.step, step.total_steps) == (entry["step"], CONFIG.iterations)
        assert step.losses == {k: v for k, v in entry.items() if k not in ("step", "elapsed")
                               and isinstance(v, (int, float))}
        assert set(step.losses) >= {"total", "lr", "images_per_second"}
        assert step.seconds == entry["elapsed"]
    for made, direct in pictures:
        assert made.shape == (1, 3, 12, 16) and torch.equal(made, direct)
    with pytest.warns(DeprecationWarning, match="image"):  # styx 0.1's name
        assert torch.equal(seen[-1].sample(photo, seed=2), pictures[-1][0])


def test_sample_output_runs_the_model_in_eval_mode_without_gradients_and_puts_it_back():
    torch.manual_seed(0)
    model = Shader().train()
    photo = torch.rand(1, 3, 8, 10)
    out = sample_output(model, photo)
    assert model.training and out.device.type == "cpu" and out.dtype == torch.float32
    assert not out.requires_grad and out.shape == (1, 3, 8, 10)
    with torch.no_grad():
        assert torch.equal(out, model.eval()(photo).float().clamp(0, 1))

    stretched = sample_output(Stretcher(), photo)
    assert torch.equal(stretched, (photo * 4 - 2).clamp(0, 1))  # clamped to [0, 1]
    assert float(stretched.min()) == 0.0 and float(stretched.max()) == 1.0

    from styx.plugins.methods.texture_nets.generator import GeneratorConfig, TextureNetwork

    texture = TextureNetwork(GeneratorConfig(content_channels=0, scales=2, channels=2)).train()
    one = sample_output(texture, None, size=(12, 20), seed=3)
    assert one.shape == (1, 3, 12, 20) and texture.training
    assert torch.equal(one, sample_output(texture, photo, size=(12, 20), seed=3))  # no image
    assert not torch.equal(one, sample_output(texture, None, size=(12, 20), seed=4))
    assert sample_output(texture, None).shape == (1, 3, 128, 128)  # the default size
    assert torch.equal(sample_output(texture, None, size=(12, 20)),
                       sample_output(texture, None, size=(12, 20), seed=0))


def test_the_precision_is_in_every_record_and_a_resume_in_another_says_so(
        content, tmp_path, monkeypatch, capsys):
    run_dir = tmp_path / "run"
    monkeypatch.setattr(device_module, "cpu_has_native_bf16", lambda: True)
    config = replace(CONFIG, amp="auto", quiet=False)
    capsys.readouterr()
    result = train(TinyTask(), content, config, run_dir=run_dir)
    first = capsys.readouterr().err.splitlines()[0]
    assert first == "training on cpu in bf16 (auto: this CPU has native bf16)"  # said first
    assert result.precision == "bf16"
    assert [entry["precision"] for entry in result.history] == ["bf16"] * 3
    assert read_checkpoint(run_dir / CHECKPOINT_NAME).state["precision"] == "bf16"

    monkeypatch.setattr(device_module, "cpu_has_native_bf16", lambda: False)
    resumed = train(TinyTask(), content, replace(config, iterations=8), run_dir=run_dir,
                    resume=True)
    said = capsys.readouterr().err
    assert "note: the run computed in bf16, now in fp32: it continues, but not bit for bit " \
           "(give --amp bf16 to keep it)" in said
    assert resumed.precision == "fp32" and resumed.history[-1]["precision"] == "fp32"
    assert read_checkpoint(run_dir / CHECKPOINT_NAME).state["precision"] == "fp32"
    train(TinyTask(), content, replace(config, iterations=10), run_dir=run_dir, resume=True)
    assert "note: the run computed in" not in capsys.readouterr().err  # fp32 both times


def test_a_checkpoint_of_no_recorded_precision_resumes_without_a_note(content, tmp_path,
                                                                       capsys):
    from styx.training.checkpoint import save_checkpoint

    run_dir = tmp_path / "run"
    config = replace(CONFIG, quiet=False)
    train(TinyTask(), content, config, run_dir=run_dir)
    saved = read_checkpoint(run_dir / CHECKPOINT_NAME)
    state = {key: value for key, value in saved.state.items() if key != "precision"}
    save_checkpoint(run_dir / CHECKPOINT_NAME, saved.model, saved.optimizer, state)
    capsys.readouterr()
    train(TinyTask(), content, replace(config, iterations=8), run_dir=run_dir, resume=True)
    assert "note: the run computed in" not in capsys.readouterr().err


class DatedTask(TinyTask):
    def metadata(self) -> dict:
        return {"method": "fake-tiny", "when": dt.datetime(2026, 12, 6, 15, 0),
                "pair": (1, 2)}


def test_the_task_metadata_is_kept_as_json_with_the_rest_as_text(content, tmp_path):
    run_dir = tmp_path / "run"
    train(DatedTask(), content, CONFIG, run_dir=run_dir)
    assert read_checkpoint(run_dir / CHECKPOINT_NAME).state["task"] == {
        "method": "fake-tiny", "when": "2026-12-06 15:00:00", "pair": [1, 2]}


def test_a_callback_that_raises_keyboard_interrupt_stops_the_run_with_a_checkpoint(
        content, tmp_path):
    def stop_at_four(step):
        if step.step == 4:
            raise KeyboardInterrupt

    run_dir = tmp_path / "run"
    with watching(stop_at_four), pytest.raises(KeyboardInterrupt):
        train(TinyTask(), content, CONFIG, run_dir=run_dir)
    assert read_checkpoint(run_dir / CHECKPOINT_NAME).state["step"] == 4
