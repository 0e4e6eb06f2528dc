"""Training AdaIN: two data streams (photos and paintings) through the shared loop, with
checkpoints, exact resume and workers (docs/adain.md, docs/training.md)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import styx

TINY = {"weights": "random", "iterations": 4, "batch_size": 2, "image_size": 32,
        "checkpoint_every": 2, "log_every": 1, "quiet": True, "device": "cpu"}


def solid(path, colour, size=(40, 48)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path)
    return path


@pytest.fixture
def folders(tmp_path):
    rng = np.random.default_rng(0)
    for index in range(3):
        path = tmp_path / "photos" / f"p{index}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray((rng.random((40, 44, 3)) * 255).astype("uint8")).save(path)
    for index, colour in enumerate([(250, 10, 10), (240, 30, 20), (230, 0, 40)]):
        solid(tmp_path / "paintings" / f"s{index}.png", colour)
    return tmp_path


def train(folders, **options):
    return styx.train("adain", **{**TINY, "content_dir": folders / "photos",
                                  "style_dir": folders / "paintings",
                                  "output": folders / "model", "overwrite": True,
                                  "run_dir": folders / "run", **options})


def test_the_task_gets_a_batch_of_paintings_beside_the_photos(folders, monkeypatch):
    from styx.plugins.methods.adain.task import AdaINTask

    seen = []
    original = AdaINTask.training_step

    def watched(self, model, batch, step, **streams):
        from styx.runtime.meta import is_fake

        if not is_fake(batch):  # the memory check's shape pass: not an iteration
            seen.append((batch.shape, streams["styles"].shape,
                         streams["styles"][:, 0].float().mean().item()))
        return original(self, model, batch, step, **streams)

    monkeypatch.setattr(AdaINTask, "training_step", watched)
    trained = train(folders)
    assert [shape for shape, _, _ in seen] == [torch.Size([2, 3, 32, 32])] * 4
    assert all(shape == (2, 3, 32, 32) and red > 0.85 for _, shape, red in seen)  # paintings
    assert trained.metadata["method"] == "adain"
    assert trained.metadata["training"]["style_dir"] == str(folders / "paintings")
    model = styx.load_model(trained.path)
    photo = torch.rand(1, 3, 40, 56)
    assert model(photo, style=torch.rand(1, 3, 30, 30)).shape == (1, 3, 40, 56)


def test_a_callback_sees_the_model_with_the_first_painting_or_one_it_gives(folders):
    pictures = []

    def callback(info):
        photo = torch.rand(1, 3, 24, 32, generator=torch.Generator().manual_seed(0))
        pictures.append((info.image(photo), info.image(photo, style=torch.zeros(1, 3, 20, 20))))

    train(folders, iterations=1, callback=callback)
    [(default, given)] = pictures
    assert default.shape == given.shape == (1, 3, 24, 32)
    assert not torch.equal(default, given)


def test_resume_continues_exactly_with_both_streams(folders, interrupted_at):
    from styx.plugins.methods.adain.task import AdaINTask

    straight = train(folders, iterations=5, output=folders / "straight",
                     run_dir=folders / "run-straight")
    with interrupted_at(AdaINTask, 3), pytest.raises(KeyboardInterrupt):
        train(folders, iterations=5, output=folders / "resumed", run_dir=folders / "run-r")
    resumed = train(folders, iterations=5, output=folders / "resumed",
                    run_dir=folders / "run-r", resume=True, overwrite=False)
    assert [h["total"] for h in resumed.result.history] == \
        [h["total"] for h in straight.result.history]
    state = resumed.generator.state_dict()
    for key, value in straight.generator.state_dict().items():
        assert torch.equal(state[key], value), key


def test_a_changed_painting_folder_is_noted_on_resume(folders, interrupted_at, capsys):
    from styx.plugins.methods.adain.task import AdaINTask

    with interrupted_at(AdaINTask, 3), pytest.raises(KeyboardInterrupt):
        train(folders, iterations=5, run_dir=folders / "run-n", quiet=False)
    solid(folders / "paintings" / "s9.png", (0, 0, 255))
    capsys.readouterr()
    train(folders, iterations=5, run_dir=folders / "run-n", resume=True, quiet=False)
    assert "the style images differ from the run's (3 file(s)" in capsys.readouterr().err


def test_workers_read_the_same_batches(folders):
    alone = train(folders, iterations=2, output=folders / "m0", run_dir=folders / "r0")
    helped = train(folders, iterations=2, output=folders / "m1", run_dir=folders / "r1",
                   num_workers=1)
    assert [h["total"] for h in helped.result.history] == \
        [h["total"] for h in alone.result.history]


def test_a_folder_without_paintings_is_refused_before_any_work(folders):
    (folders / "empty").mkdir()
    with pytest.raises(styx.StyxError, match="no images found in"):
        train(folders, style_dir=folders / "empty")
    assert not (folders / "model").exists()


def test_the_mean_std_loss_is_registered_and_scores_statistics():
    from styx.perceptual.losses import build_loss

    loss = build_loss("mean-std", scores="features")
    features = torch.rand(2, 8, 6, 6)
    assert loss(features, loss.prepare(features)).item() == pytest.approx(0.0, abs=1e-7)
    shuffled = features[..., torch.randperm(6), :]  # same statistics, other places
    assert loss(shuffled, loss.prepare(features)).item() == pytest.approx(0.0, abs=1e-6)
    assert loss(features * 2, loss.prepare(features)).item() > 1e-3
    assert build_loss("moments", scores="features").__class__ is loss.__class__


@pytest.mark.slow
def test_two_process_gloo_training_shards_both_streams(folders):
    from child_styx import torchrun_styx

    summaries = torchrun_styx(
        ["train", "adain", "--content-dir", str(folders / "photos"), "--style-dir",
         str(folders / "paintings"), "--weights", "random", "--image-size", "32",
         "--batch-size", "1", "--iterations", "2", "--device", "cpu", "--name", "ddp",
         "--json"], env={"STYX_HOME": str(folders / "home")})
    assert len(summaries) == 1 and summaries[0]["iterations"] == 2
    assert (folders / "home" / "models" / "ddp").is_dir()
