"""The shared training loop, driven by a tiny fake task (one convolution, MSE to a fixed
transform of the batch): learning, exact resume, checkpoints, Ctrl-C, bad data, schedule,
and the optimizer-state flattening that keeps checkpoints free of pickles."""

from __future__ import annotations

import json
import signal
from dataclasses import replace
from pathlib import Path
from typing import ClassVar

import pytest
import torch
import torch.nn.functional as F
from fake_training_task import SignalsAt, TinyTask, write_images
from safetensors.torch import load, save

from styx.core.errors import StyxError
from styx.training import loop as training
from styx.training.checkpoint import (
    flatten_optimizer_state,
    read_checkpoint,
    unflatten_optimizer_state,
)
from styx.training.loop import CHECKPOINT_NAME, TrainingOptions, train

CONFIG = TrainingOptions(iterations=12, batch_size=2, image_size=32, lr=2e-2, lr_decay=0.5,
                     lr_decay_every=5, checkpoint_every=4, log_every=1, seed=3, device="cpu",
                     quiet=True)


@pytest.fixture
def content(tmp_path) -> Path:
    folder = tmp_path / "content"
    write_images(folder, count=5)
    return folder


def losses(result) -> list[float]:
    return [entry["total"] for entry in result.history]


def params(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_same_params(a, b) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


# -- learning ----------------------------------------------------------------------------
def test_short_run_lowers_the_loss(content, tmp_path):
    config = replace(CONFIG, iterations=40, lr_decay_every=0, checkpoint_every=0,
                     log_every=4)
    result = train(TinyTask(), content, config, run_dir=tmp_path / "run")
    history = losses(result)
    assert len(history) == 10
    assert history[-1] < 0.5 * history[0]
    assert result.iterations_done == 40
    assert result.images_per_second > 0
    assert result.skipped_files == []
    assert not result.model.training
    assert (tmp_path / "run" / CHECKPOINT_NAME).is_file()


def test_batches_are_crops_of_the_configured_size_on_every_step(content, tmp_path):
    task = TinyTask()
    train(task, content, replace(CONFIG, iterations=5, batch_size=3, image_size=24),
          run_dir=tmp_path / "run")
    assert task.steps_seen == [0, 1, 2, 3, 4]
    assert set(task.batch_shapes) == {(3, 3, 24, 24)}


def test_same_seed_same_run_other_seed_other_run(content, tmp_path):
    a = train(TinyTask(), content, CONFIG, run_dir=tmp_path / "a")
    b = train(TinyTask(), content, CONFIG, run_dir=tmp_path / "b")
    c = train(TinyTask(), content, replace(CONFIG, seed=4), run_dir=tmp_path / "c")
    assert losses(a) == losses(b)
    assert losses(a) != losses(c)


# -- resume --------------------------------------------------------------------------------
class Killed(Exception):
    pass


class DiesAt(TinyTask):
    """A task whose process 'dies' (an exception other than Ctrl-C) at one step."""

    def __init__(self, step: int) -> None:
        super().__init__()
        self.die_at = step

    def training_step(self, model, batch, step):
        if step == self.die_at:
            raise Killed
        return super().training_step(model, batch, step)


def test_a_killed_run_loses_at_most_one_interval_and_resumes_exactly(content, tmp_path):
    whole = train(TinyTask(), content, CONFIG, run_dir=tmp_path / "whole")
    run_dir = tmp_path / "killed"
    with pytest.raises(Killed):
        train(DiesAt(10), content, CONFIG, run_dir=run_dir)
    # Checkpoints every 4 iterations: the one after iteration 8 survives.
    assert read_checkpoint(run_dir / CHECKPOINT_NAME).state["step"] == 8
    resumed = train(TinyTask(), content, CONFIG, run_dir=run_dir, resume=True)
    assert resumed.iterations_done == 12
    assert [h["step"] for h in resumed.history] == list(range(1, 13))
    assert losses(resumed) == losses(whole)  # bit for bit
    assert_same_params(params(resumed.model), params(whole.model))


def test_resume_can_extend_a_finished_run(content, tmp_path):
    whole = train(TinyTask(), content, CONFIG, run_dir=tmp_path / "whole")
    run_dir = tmp_path / "short"
    train(TinyTask(), content, replace(CONFIG, iterations=7), run_dir=run_dir)
    assert read_checkpoint(run_dir / CHECKPOINT_NAME).state["step"] == 7
    longer = train(TinyTask(), content, CONFIG, run_dir=run_dir, resume=True)
    assert losses(longer) == losses(whole)
    assert_same_params(params(longer.model), params(whole.model))
    again = train(TinyTask(), content, CONFIG, run_dir=run_dir, resume=True)
    assert again.iterations_done == 12 and losses(again) == losses(whole)


def test_ctrl_c_in_a_step_saves_a_checkpoint_and_resume_continues(content, tmp_path, capsys):
    whole = train(TinyTask(), content, CONFIG, run_dir=tmp_path / "whole")
    run_dir = tmp_path / "interrupted"
    with pytest.raises(KeyboardInterrupt):
        train(TinyTask(interrupt_at=6), content, CONFIG, run_dir=run_dir)  # quiet
    assert "interrupted at iteration 6" in capsys.readouterr().err
    state = read_checkpoint(run_dir / CHECKPOINT_NAME).state
    assert state["step"] == 6  # iterations 0..5 done; 6 was cut short and is redone
    assert [h["step"] for h in state["history"]] == list(range(1, 7))
    resumed = train(TinyTask(), content, CONFIG, run_dir=run_dir, resume=True)
    assert losses(resumed) == losses(whole)
    assert_same_params(params(resumed.model), params(whole.model))


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_real_ctrl_c_finishes_the_iteration_then_saves(content, tmp_path, signum, capsys):
    whole = train(TinyTask(), content, CONFIG, run_dir=tmp_path / "whole")
    run_dir = tmp_path / "signalled"
    previous = signal.getsignal(signum)
    with pytest.raises(KeyboardInterrupt):
        train(SignalsAt(5, signum), content, CONFIG, run_dir=run_dir)  # quiet
    # Where the checkpoint is and how to go on is said even when quiet, like an error.
    assert "stopped at iteration 6" in capsys.readouterr().err
    assert signal.getsignal(signum) is previous  # handlers put back
    assert read_checkpoint(run_dir / CHECKPOINT_NAME).state["step"] == 6
    resumed = train(TinyTask(), content, CONFIG, run_dir=run_dir, resume=True)
    assert losses(resumed) == losses(whole)


def test_log_json_is_cut_back_to_the_checkpoint_on_resume(content, tmp_path):
    run_dir, log = tmp_path / "run", tmp_path / "log.jsonl"
    with pytest.raises(Killed):
        train(DiesAt(10), content, CONFIG, run_dir=run_dir, log_json=log)
    assert [json.loads(line)["step"] for line in log.read_text().splitlines()] == \
        list(range(1, 11))
    train(TinyTask(), content, CONFIG, run_dir=run_dir, resume=True, log_json=log)
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert [e["step"] for e in entries] == list(range(1, 13))
    assert {"step", "lr", "total", "images_per_second", "elapsed"} <= set(entries[0])


# -- checkpoints ---------------------------------------------------------------------------
def test_checkpoints_every_n_iterations_and_at_the_end(content, tmp_path, monkeypatch):
    written = []
    real = training.save_checkpoint

    def spy(path, model_state, optimizer_state, state, extra=None):
        written.append(state["step"])
        return real(path, model_state, optimizer_state, state, extra)

    monkeypatch.setattr(training, "save_checkpoint", spy)
    run_dir = tmp_path / "run"
    train(TinyTask(), content, replace(CONFIG, iterations=10, checkpoint_every=3),
          run_dir=run_dir)
    assert written == [3, 6, 9, 10]
    assert sorted(p.name for p in run_dir.iterdir()) == [CHECKPOINT_NAME]  # no temp files
    written.clear()
    train(TinyTask(), content, replace(CONFIG, iterations=5, checkpoint_every=0),
          run_dir=tmp_path / "end-only")
    assert written == [5]


def test_checkpoint_holds_model_optimizer_scheduler_and_settings(content, tmp_path):
    run_dir = tmp_path / "run"
    result = train(TinyTask(), content, CONFIG, run_dir=run_dir)
    checkpoint = read_checkpoint(run_dir / CHECKPOINT_NAME)
    assert_same_params(checkpoint.model, params(result.model))
    assert checkpoint.state["step"] == 12
    assert checkpoint.state["task"] == {"method": "fake-tiny", "noise": 0.05}
    assert checkpoint.state["config"]["batch_size"] == 2
    data = checkpoint.state["data"]
    assert {k: data[k] for k in ("samples_per_rank", "world_size", "seed", "images")} == \
        {"samples_per_rank": 24, "world_size": 1, "seed": 3, "images": 5}
    assert data["content_dir"] == str(content) and len(data["files"]) == 16
    assert checkpoint.state["scheduler"]["last_epoch"] == 12
    adam = checkpoint.optimizer
    assert set(adam["state"][0]) == {"step", "exp_avg", "exp_avg_sq"}
    assert float(adam["state"][0]["step"]) == 12.0
    assert adam["param_groups"][0]["lr"] == pytest.approx(2e-2 * 0.5 ** 2)
    # No pickle anywhere: the file is plain safetensors with a JSON header.
    raw = (run_dir / CHECKPOINT_NAME).read_bytes()
    header = json.loads(raw[8:8 + int.from_bytes(raw[:8], "little")])
    assert json.loads(header["__metadata__"]["styx"])["format"] == "styx-checkpoint"


def test_a_truncated_checkpoint_is_a_styx_error(content, tmp_path):
    run_dir = tmp_path / "run"
    train(TinyTask(), content, replace(CONFIG, iterations=4), run_dir=run_dir)
    path = run_dir / CHECKPOINT_NAME
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(StyxError, match="cannot read checkpoint") as error:
        train(TinyTask(), content, CONFIG, run_dir=run_dir, resume=True)
    assert "delete it" in error.value.hint
    path.write_bytes(b"\x00" * 10)
    with pytest.raises(StyxError):
        train(TinyTask(), content, CONFIG, run_dir=run_dir, resume=True)


def test_a_checkpoint_of_another_method_or_config_is_refused_with_a_hint(content, tmp_path):
    run_dir = tmp_path / "run"
    train(TinyTask(), content, replace(CONFIG, iterations=4), run_dir=run_dir)
    with pytest.raises(StyxError, match="method 'fake-tiny', not 'other'") as error:
        train(TinyTask(method="other"), content, CONFIG, run_dir=run_dir, resume=True)
    assert "another --run-dir" in error.value.hint
    with pytest.raises(StyxError, match="noise"):
        train(TinyTask(noise=0.1), content, CONFIG, run_dir=run_dir, resume=True)
    with pytest.raises(StyxError, match="--batch-size 2") as error:
        train(TinyTask(), content, replace(CONFIG, batch_size=3), run_dir=run_dir,
              resume=True)
    assert "same settings" in error.value.hint

    class Wider(TinyTask):
        def build_model(self):
            return torch.nn.Conv2d(3, 3, 5, padding=2)

    with pytest.raises(StyxError, match="does not fit this model"):
        train(Wider(), content, CONFIG, run_dir=run_dir, resume=True)
    # Settings that may change between a run and its resumption.
    train(TinyTask(), content, replace(CONFIG, checkpoint_every=2, log_every=3),
          run_dir=run_dir, resume=True)


def test_resume_needs_a_checkpoint_and_a_fresh_run_keeps_an_old_one(content, tmp_path):
    with pytest.raises(StyxError, match="no checkpoint to resume"):
        train(TinyTask(), content, CONFIG, run_dir=tmp_path / "empty", resume=True)
    run_dir = tmp_path / "run"
    train(TinyTask(), content, replace(CONFIG, iterations=3), run_dir=run_dir)
    before = (run_dir / CHECKPOINT_NAME).read_bytes()
    with pytest.raises(StyxError, match="already holds a checkpoint") as error:
        train(TinyTask(), content, CONFIG, run_dir=run_dir)
    assert "--resume" in error.value.hint and "--overwrite" in error.value.hint
    assert (run_dir / CHECKPOINT_NAME).read_bytes() == before


def test_a_restart_says_so_and_replaces_the_checkpoint(content, tmp_path, capsys):
    """--overwrite (restart=True): docs/training.md, a fresh run over an old checkpoint."""
    run_dir = tmp_path / "run"
    train(TinyTask(), content, replace(CONFIG, iterations=3), run_dir=run_dir)
    old = read_checkpoint(run_dir / CHECKPOINT_NAME)
    capsys.readouterr()
    train(TinyTask(), content, replace(CONFIG, iterations=2, quiet=False), run_dir=run_dir,
          restart=True)
    assert "starting afresh" in capsys.readouterr().err
    new = read_checkpoint(run_dir / CHECKPOINT_NAME)
    assert old.state["step"] == 3 and new.state["step"] == 2


# -- data problems -------------------------------------------------------------------------
def test_unreadable_images_are_skipped_and_counted(content, tmp_path, capsys):
    (content / "garbage.jpg").write_bytes(b"this is not a jpeg")
    (content / "empty.png").write_bytes(b"")
    good = (content / "img0.png").read_bytes()
    (content / "sub" / "truncated.png").write_bytes(good[: len(good) // 2])
    result = train(TinyTask(), content, replace(CONFIG, iterations=6, quiet=False),
                   run_dir=tmp_path / "run")
    assert sorted(Path(p).name for p in result.skipped_files) == \
        ["empty.png", "garbage.jpg", "truncated.png"]
    err = capsys.readouterr().err
    assert sum(line.startswith("skipped ") for line in err.splitlines()) == 3  # one a file
    assert "3 unreadable content image(s) skipped" in err
    assert result.iterations_done == 6 and all(h["total"] > 0 for h in result.history)


def test_a_folder_without_readable_images_is_a_styx_error(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no images here")
    with pytest.raises(StyxError, match="no images found"):
        train(TinyTask(), empty, CONFIG, run_dir=tmp_path / "run")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "a.jpg").write_bytes(b"junk")
    (broken / "b.png").write_bytes(b"")
    with pytest.raises(StyxError, match="none of the 2 image file"):
        train(TinyTask(), broken, CONFIG, run_dir=tmp_path / "run")
    with pytest.raises(StyxError, match="not found"):
        train(TinyTask(), tmp_path / "missing", CONFIG, run_dir=tmp_path / "run")
    assert not (tmp_path / "run" / CHECKPOINT_NAME).exists()


# -- schedule and settings -----------------------------------------------------------------
def test_lr_decays_by_the_factor_every_n_iterations(content, tmp_path):
    config = replace(CONFIG, iterations=7, lr=0.1, lr_decay=0.5, lr_decay_every=3)
    result = train(TinyTask(), content, config, run_dir=tmp_path / "run")
    assert [h["lr"] for h in result.history] == pytest.approx(
        [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025])
    never = train(TinyTask(), content, replace(config, lr_decay_every=0),
                  run_dir=tmp_path / "never")
    assert {h["lr"] for h in never.history} == {0.1}


def test_defaults_follow_the_issue():
    config = TrainingOptions()
    assert (config.lr, config.lr_decay, config.lr_decay_every) == (1e-3, 0.8, 2000)


@pytest.mark.parametrize("change, option", [
    ({"iterations": 0}, "--iterations"), ({"batch_size": 0}, "--batch-size"),
    ({"image_size": 4}, "--image-size"), ({"lr": float("nan")}, "--lr"),
    ({"lr": -1.0}, "--lr"), ({"lr_decay": 1.5}, "--lr-decay"),
    ({"lr_decay_every": -1}, "--lr-decay-every"), ({"log_every": 0}, "--log-every"),
    ({"checkpoint_every": -5}, "--checkpoint-every"), ({"num_workers": -1}, "--workers"),
    ({"short_side": 16}, "--short-side"),
])
def test_bad_settings_are_styx_errors_naming_the_option(change, option, content, tmp_path):
    with pytest.raises(StyxError, match=f"bad {option} "):
        train(TinyTask(), content, replace(CONFIG, **change), run_dir=tmp_path / "run")


def test_a_nan_loss_stops_with_a_styx_error_before_saving_it(content, tmp_path):
    class Explodes(TinyTask):
        def training_step(self, model, batch, step):
            terms = super().training_step(model, batch, step)
            if step == 5:
                terms.total = terms.total * float("nan")
            return terms

    run_dir = tmp_path / "run"
    with pytest.raises(StyxError, match="loss became nan at iteration 6"):
        train(Explodes(), content, CONFIG, run_dir=run_dir)
    assert read_checkpoint(run_dir / CHECKPOINT_NAME).state["step"] == 4


def test_a_scalar_tensor_is_accepted_as_the_loss(content, tmp_path):
    class Plain(TinyTask):
        def training_step(self, model, batch, step):
            return super().training_step(model, batch, step).total

    result = train(Plain(), content, replace(CONFIG, iterations=3), run_dir=tmp_path / "r")
    assert result.history[-1]["total"] > 0


def test_data_loader_workers_give_the_same_run(content, tmp_path):
    config = replace(CONFIG, iterations=6)
    serial = train(TinyTask(), content, config, run_dir=tmp_path / "serial")
    workers = train(TinyTask(), content, replace(config, num_workers=2),
                    run_dir=tmp_path / "workers")
    assert losses(serial) == losses(workers)


# -- optimizer state in safetensors + JSON -------------------------------------------------
def _stepped(optimizer_class, **options):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(3, 2))
    optimizer = optimizer_class(model.parameters(), **options)
    for _ in range(3):
        batch = torch.randn(5, 4)

        def closure(batch=batch):
            optimizer.zero_grad()
            loss = model(batch).square().sum()
            loss.backward()
            return loss

        optimizer.step(closure)  # L-BFGS needs the closure; the others call it once
    return model, optimizer


@pytest.mark.parametrize("optimizer_class, options", [
    (torch.optim.Adam, {"lr": 1e-3}),
    (torch.optim.Adam, {"lr": torch.tensor(1e-3), "amsgrad": True}),
    (torch.optim.AdamW, {"lr": 1e-2, "betas": (0.8, 0.9), "weight_decay": 0.1}),
    (torch.optim.SGD, {"lr": 1e-2, "momentum": 0.9, "nesterov": True}),
    (torch.optim.LBFGS, {"lr": 0.5, "history_size": 3}),  # tensors inside lists
])
def test_optimizer_state_round_trips_through_safetensors_and_json(optimizer_class, options):
    model, optimizer = _stepped(optimizer_class, **options)
    original = optimizer.state_dict()
    tensors, description = flatten_optimizer_state(original)
    blob = save(dict(tensors), metadata={"optimizer": json.dumps(description)})
    restored_tensors = load(blob)
    header = json.loads(blob[8:8 + int.from_bytes(blob[:8], "little")])["__metadata__"]
    state = unflatten_optimizer_state(restored_tensors, json.loads(header["optimizer"]))

    fresh = optimizer_class(model.parameters(), **options)
    fresh.load_state_dict(state)
    again = fresh.state_dict()
    def plain(groups):
        return [{k: float(v) if isinstance(v, torch.Tensor) else v for k, v in g.items()}
                for g in groups]

    assert plain(again["param_groups"]) == plain(original["param_groups"])
    assert plain(state["param_groups"]) == plain(original["param_groups"])
    assert again["state"].keys() == original["state"].keys()
    for param_id, values in original["state"].items():
        assert again["state"][param_id].keys() == values.keys()
        for key, value in values.items():
            if isinstance(value, torch.Tensor):
                assert torch.equal(again["state"][param_id][key], value), key
            elif isinstance(value, list) and value and isinstance(value[0], torch.Tensor):
                assert all(torch.equal(a, b) for a, b in
                           zip(again["state"][param_id][key], value, strict=True)), key
            else:
                assert again["state"][param_id][key] == value
    if "betas" in options:
        assert state["param_groups"][0]["betas"] == options["betas"]
        assert isinstance(state["param_groups"][0]["betas"], tuple)


# -- precision and the protocol ------------------------------------------------------------
def test_bf16_autocast_runs_the_step_in_low_precision_and_the_loss_in_fp32(content, tmp_path):
    class Records(TinyTask):
        dtypes: ClassVar[list] = []

        def training_step(self, model, batch, step):
            out = model(batch)
            self.dtypes.append(out.dtype)
            return super().training_step(model, batch, step)

    config = replace(CONFIG, iterations=20, amp="bf16", lr_decay_every=0, log_every=5)
    result = train(Records(), content, config, run_dir=tmp_path / "run")
    assert set(Records.dtypes) == {torch.bfloat16}
    assert all(p.dtype == torch.float32 for p in result.model.parameters())
    assert result.history[-1]["total"] < result.history[0]["total"]
    off = train(Records(), content, replace(config, amp="off"), run_dir=tmp_path / "off")
    assert Records.dtypes[-1] == torch.float32 and off.history


def test_the_fake_task_satisfies_the_protocol():
    assert isinstance(TinyTask(), training.TrainingTask)
    assert not isinstance(object(), training.TrainingTask)


# -- review fixes ----------------------------------------------------------------------------
def test_a_refused_resume_names_the_changed_setting_with_both_values(content, tmp_path):
    run_dir = tmp_path / "run"

    class Nested(TinyTask):
        def __init__(self, weight: float) -> None:
            super().__init__()
            self.weight = weight

        def metadata(self):
            return {"method": "fake-tiny", "loss": {"style_weight": self.weight, "tv": 1}}

    train(Nested(1e5), content, replace(CONFIG, iterations=2), run_dir=run_dir)
    with pytest.raises(StyxError) as error:
        train(Nested(3.0), content, CONFIG, run_dir=run_dir, resume=True)
    assert "loss.style_weight: 100000.0 -> 3.0" in error.value.message


def test_resume_with_other_content_images_says_so(content, tmp_path, capsys):
    run_dir = tmp_path / "run"
    train(TinyTask(), content, replace(CONFIG, iterations=2), run_dir=run_dir)
    moved = tmp_path / "moved"
    content.rename(moved)  # the same files elsewhere: an exact resume, no note
    train(TinyTask(), moved, replace(CONFIG, iterations=3, quiet=False), run_dir=run_dir,
          resume=True)
    assert "content images differ" not in capsys.readouterr().err
    write_images(moved / "more", count=1, seed=5)
    train(TinyTask(), moved, replace(CONFIG, iterations=4, quiet=False), run_dir=run_dir,
          resume=True)
    err = capsys.readouterr().err
    # The checkpoint of the exact resume records the moved folder.
    assert (f"note: the content images differ from the run's (5 file(s) in {moved}, now 6 "
            f"in {moved}): it continues, but not bit for bit") in err


def test_unwritable_run_dir_or_log_is_a_styx_error_before_any_work(content, tmp_path,
                                                                   monkeypatch):
    def no_model():
        raise AssertionError("the model was built before the paths were checked")

    task = TinyTask()
    monkeypatch.setattr(task, "build_model", no_model)
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    with pytest.raises(StyxError, match="--run-dir .* is a file"):
        train(task, content, CONFIG, run_dir=a_file)
    with pytest.raises(StyxError, match="--run-dir .* is a file"):
        train(task, content, CONFIG, run_dir=a_file / "inside")
    with pytest.raises(StyxError, match="--log-json .* is a folder"):
        train(task, content, CONFIG, run_dir=tmp_path / "run", log_json=tmp_path)
    with pytest.raises(StyxError, match="--log-json .* is a file"):
        train(task, content, CONFIG, run_dir=tmp_path / "run", log_json=a_file / "log.jsonl")
    assert not (tmp_path / "run").exists()


def test_a_checkpoint_that_cannot_be_written_is_a_styx_error(content, tmp_path, monkeypatch):
    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(training, "save_checkpoint", disk_full)
    with pytest.raises(StyxError, match="cannot write the checkpoint .*No space left"):
        train(TinyTask(), content, replace(CONFIG, iterations=2), run_dir=tmp_path / "run")


# -- open at the seams: optimizer and schedule factories, the step hook, no content ---------
def test_the_optimizer_and_schedule_come_from_the_factories_given(content, tmp_path):
    from styx.training.loop import trainable_parameters

    made = []

    def sgd(model, settings):
        made.append(settings.lr)
        return torch.optim.SGD(trainable_parameters(model), lr=settings.lr, momentum=0.9)

    def halve_every_step(optimizer, settings):
        return torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.5)

    run_dir = tmp_path / "run"
    result = train(TinyTask(), content, replace(CONFIG, iterations=4), run_dir=run_dir,
                   optimizer=sgd, scheduler=halve_every_step)
    assert made == [CONFIG.lr]
    assert [h["lr"] for h in result.history] == [CONFIG.lr * 0.5 ** i for i in range(4)]
    saved = read_checkpoint(run_dir / CHECKPOINT_NAME)
    assert "momentum_buffer" in next(iter(saved.optimizer["state"].values()))
    # And a resume of it continues exactly, through the same factories.
    whole = train(TinyTask(), content, replace(CONFIG, iterations=6), run_dir=tmp_path / "w",
                  optimizer=sgd, scheduler=halve_every_step)
    resumed = train(TinyTask(), content, replace(CONFIG, iterations=6), run_dir=run_dir,
                    resume=True, optimizer=sgd, scheduler=halve_every_step)
    assert losses(resumed) == losses(whole)


def test_the_loss_scaler_comes_from_the_factory_given_off_without_cuda_fp16(content,
                                                                            tmp_path):
    from styx.training.loop import cuda_grad_scaler

    asked = []

    def scaler(enabled):
        asked.append(enabled)
        return cuda_grad_scaler(enabled)

    run_dir = tmp_path / "run"
    for amp in ("off", "fp16"):  # on the CPU, fp16 needs no scaler either
        train(TinyTask(), content, replace(CONFIG, iterations=1, amp=amp),
              run_dir=run_dir / amp, grad_scaler=scaler)
        assert read_checkpoint(run_dir / amp / CHECKPOINT_NAME).state["scaler"] is None
    assert asked == [False, False]


def test_the_hook_sees_each_steps_gradients_before_the_update(content, tmp_path):
    seen = []

    def hook(model, step, terms):
        seen.append((step, float(model.weight.grad.norm()), float(terms.total.detach())))
        if step >= 2:
            for parameter in model.parameters():
                parameter.grad.zero_()  # an update of zero: the weights stay

    result = train(TinyTask(), content, replace(CONFIG, iterations=4, lr_decay_every=0),
                   run_dir=tmp_path / "run", hook=hook,
                   optimizer=lambda model, s: torch.optim.SGD(model.parameters(), lr=s.lr))
    assert [step for step, _, _ in seen] == [0, 1, 2, 3]
    assert all(norm > 0 for _, norm, _ in seen)
    after_two = train(TinyTask(), content, replace(CONFIG, iterations=2, lr_decay_every=0),
                      run_dir=tmp_path / "two",
                      optimizer=lambda model, s: torch.optim.SGD(model.parameters(), lr=s.lr))
    assert_same_params(params(result.model), params(after_two.model))


def test_a_task_without_content_gets_batches_that_are_only_a_shape(tmp_path):
    class Texture(TinyTask):
        def training_step(self, model, batch, step):
            self.batch_shapes.append(tuple(batch.shape))
            noise = torch.rand(batch.shape[0], 3, *batch.shape[-2:], device=batch.device)
            return F.mse_loss(model(noise), noise.flip(1))

    task = Texture()
    result = train(task, None, replace(CONFIG, iterations=3, batch_size=2, image_size=20),
                   run_dir=tmp_path / "run")
    assert set(task.batch_shapes) == {(2, 0, 20, 20)}
    assert result.skipped_files == [] and result.iterations_done == 3
    assert not list((tmp_path / "run").glob("*.png"))  # no stand-in images on disk
    resumed = train(Texture(), None, replace(CONFIG, iterations=5, batch_size=2,
                                             image_size=20),
                    run_dir=tmp_path / "run", resume=True)
    whole = train(Texture(), None, replace(CONFIG, iterations=5, batch_size=2, image_size=20),
                  run_dir=tmp_path / "whole")
    assert losses(resumed) == losses(whole)


def test_a_scheduler_with_counters_checkpoints_and_resumes_exactly(content, tmp_path):
    """MultiStepLR keeps its milestones in a Counter with integer keys."""
    def milestones(optimizer, settings):
        return torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[2, 4, 4], gamma=0.5)

    whole = train(TinyTask(), content, replace(CONFIG, iterations=6), run_dir=tmp_path / "w",
                  scheduler=milestones)
    run_dir = tmp_path / "split"
    train(TinyTask(), content, replace(CONFIG, iterations=3), run_dir=run_dir,
          scheduler=milestones)
    state = read_checkpoint(run_dir / CHECKPOINT_NAME).state["scheduler"]
    assert state["milestones"] == {2: 1, 4: 2} and type(state["milestones"]).__name__ == "Counter"
    resumed = train(TinyTask(), content, replace(CONFIG, iterations=6), run_dir=run_dir,
                    resume=True, scheduler=milestones)
    assert losses(resumed) == losses(whole)
    assert [h["lr"] for h in resumed.history] == [h["lr"] for h in whole.history]


def test_speed_counts_iterations_only_so_the_log_and_the_result_agree(content, tmp_path,
                                                                      monkeypatch):
    import time

    class SlowStart(TinyTask):
        """The first step builds something slow (as texture-nets builds its descriptor)."""

        def training_step(self, model, batch, step):
            if not self.steps_seen:
                time.sleep(1.0)
            return super().training_step(model, batch, step)

    real_save = training.save_checkpoint

    def slow_save(*args, **kwargs):  # slow checkpoints must not count either
        time.sleep(0.3)
        return real_save(*args, **kwargs)

    monkeypatch.setattr(training, "save_checkpoint", slow_save)
    config = replace(CONFIG, iterations=6, log_every=3, checkpoint_every=1)
    result = train(SlowStart(), content, config, run_dir=tmp_path / "run")
    assert result.seconds > 2.5  # the sleeps happened
    logged = [entry["images_per_second"] for entry in result.history]
    # 2 images per fast step: far more than (6 x 2) images / 3 s of wall time
    assert result.images_per_second > 20 and min(logged) > 20
    assert result.images_per_second == pytest.approx(
        sum(logged) / len(logged), rel=0.8)
