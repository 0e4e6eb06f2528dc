"""docs/gatys.md, --amp: "fp16 uses dynamic loss scaling (the scale halves when a gradient
overflows, doubles after 100 good steps), which works with L-BFGS"; docs/training.md: fp16
training uses a GradScaler whose state is checkpointed.

The gatys scaler is tested directly and in a run on the CPU; the training loop's CUDA
GradScaler through a fake one (no CUDA here).
"""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F
from _fake_tasks import ShapeTask

import styx
from styx.files.image_arrays import sample_image
from styx.plugins.methods.gatys import api
from styx.plugins.methods.gatys.optimize import LossScaler
from styx.runtime.image_tensors import load_image
from styx.training.checkpoint import read_checkpoint
from styx.training.loop import CHECKPOINT_NAME, TrainingOptions, train

FP16_TINY = 2.0 ** -24  # the smallest positive fp16 number (subnormal)



def tiny_fp16_loss(image: torch.Tensor, factor: float) -> torch.Tensor:
    """A loss whose gradient passes through fp16 as ``factor`` (fp32 outside)."""
    return (image.half() * 3.0).float().sum() * factor


# -- the gatys LossScaler ------------------------------------------------------------------
def test_the_scaler_halves_on_overflow_and_redoes_the_backward_pass():
    image = torch.ones(4, requires_grad=True)
    scaler = LossScaler(scale=2.0 ** 16, growth_interval=100)
    total = (image.half() * 1000).float().sum()  # 1000 * 2^16 overflows fp16 (max 65504)
    scaler.backward(total, image)
    assert scaler.scale == 64.0  # 1000 * 64 fits, 1000 * 128 does not
    assert torch.equal(image.grad, torch.full((4,), 1000.0))  # unscaled, finite


def test_the_scaler_doubles_after_100_good_steps_and_an_overflow_restarts_the_count():
    scaler = LossScaler(scale=8.0)
    assert scaler.growth_interval == 100  # the documented default
    image = torch.ones(3, requires_grad=True)

    def good_step():
        image.grad = None
        scaler.backward(tiny_fp16_loss(image, 1.0), image)

    for _ in range(99):
        good_step()
    assert scaler.scale == 8.0
    good_step()
    assert scaler.scale == 16.0  # the 100th good step in a row doubles it
    for _ in range(50):
        good_step()
    image.grad = None
    scaler.scale = 2.0 ** 15  # 3 * 2^15 * 1 overflows fp16: back off to 2^14
    scaler.backward(tiny_fp16_loss(image, 1.0), image)
    assert scaler.scale == 2.0 ** 14
    for _ in range(98):  # the overflow reset the count: 99 good steps now, not 150
        good_step()
    assert scaler.scale == 2.0 ** 14
    good_step()
    assert scaler.scale == 2.0 ** 15


def test_unscaled_gradients_equal_the_fp32_ones_where_plain_fp16_underflows():
    factor = 2.0 ** -26  # below the smallest fp16 number: plain fp16 gradients vanish
    assert factor < FP16_TINY
    image = torch.rand(8, requires_grad=True)
    tiny_fp16_loss(image, factor).backward()
    assert torch.count_nonzero(image.grad) == 0  # the underflow the scaler is for

    image.grad = None
    LossScaler().backward(tiny_fp16_loss(image, factor), image)
    fp32 = torch.autograd.grad((image * 3.0).sum() * factor, image)[0]
    assert torch.count_nonzero(fp32) == 8
    torch.testing.assert_close(image.grad, fp32, rtol=1e-3, atol=0.0)


# -- gatys under --amp fp16 -----------------------------------------------------------------
@pytest.fixture(scope="module")
def images():
    return (load_image(sample_image("content"), long_side=32),
            load_image(sample_image("style"), long_side=32))


#: A content loss so small (weight 1e-6) that its gradients underflow in fp16 unscaled, on
#: every CPU: with AVX-512 FP16 (Sapphire Rapids) 1e-4 still leaves some gradients above it.
FAINT = {"weights": "random", "steps": 3, "content_weight": 1e-6, "style_weight": 0,
         "tv_weight": 0, "init": "noise", "optimizer": "adam", "seed": 0,
         "content_layers": "relu2_1"}


def run_gatys(images, **options):
    from styx.perceptual.weights import notes

    with notes(False):
        return styx.stylize("gatys", *images, **options)


def test_gatys_uses_the_loss_scaler_under_fp16_and_only_then(images, monkeypatch):
    made = []

    class Spy(LossScaler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.calls = 0
            made.append(self)

        def backward(self, total, image):
            self.calls += 1
            super().backward(total, image)

    monkeypatch.setattr(api, "LossScaler", Spy)
    run_gatys(images, **{**FAINT, "steps": 1}, amp="off")
    assert made == []
    for optimizer in ("adam", "lbfgs"):
        run_gatys(images, **{**FAINT, "optimizer": optimizer}, amp="fp16")
    assert [scaler.calls for scaler in made] == [3, 3]  # every evaluation, L-BFGS too


def test_gatys_under_fp16_moves_the_image_where_unscaled_gradients_underflow(images,
                                                                            monkeypatch):
    noise = torch.rand(images[0].shape, generator=torch.Generator().manual_seed(0))
    scaled = run_gatys(images, **FAINT, amp="fp16")
    full = run_gatys(images, **FAINT, amp="off")
    monkeypatch.setattr(api, "LossScaler", lambda: None)  # as if the scaler were never made
    unscaled = run_gatys(images, **FAINT, amp="fp16")

    # Without scaling every gradient underflows: the image and the loss never move.
    assert torch.equal(unscaled.image, noise)
    assert len({h["total"] for h in unscaled.history}) == 1
    # With it the image moves as in fp32, and the loss falls.
    moved, moved_fp32 = scaled.image - noise, full.image - noise
    assert moved.abs().max() > 0.05
    cosine = F.cosine_similarity(moved.flatten(), moved_fp32.flatten(), dim=0)
    assert cosine > 0.9, float(cosine)
    totals = [h["total"] for h in scaled.history]
    assert totals[-1] < 0.8 * totals[0]


# -- the training loop's GradScaler (CUDA fp16), through a fake -----------------------------
class FakeGradScaler:
    """What the loop asks of torch.amp.GradScaler, recorded; it scales by ``scale``."""

    def __init__(self, scale: float = 1024.0) -> None:
        self.scale_value = scale
        self.growth_tracker = 0
        self.calls: list[str] = []
        self.stepped: list[torch.optim.Optimizer] = []
        self.loaded: dict | None = None
        self._unscaled = False

    def is_enabled(self) -> bool:
        return True

    def scale(self, loss: torch.Tensor) -> torch.Tensor:
        self.calls.append("scale")
        self._unscaled = False
        return loss * self.scale_value

    def unscale_(self, optimizer: torch.optim.Optimizer) -> None:
        self.calls.append("unscale_")
        for group in optimizer.param_groups:
            for parameter in group["params"]:
                if parameter.grad is not None:
                    parameter.grad.div_(self.scale_value)
        self._unscaled = True

    def step(self, optimizer: torch.optim.Optimizer) -> None:
        self.calls.append("step")
        if not self._unscaled:
            self.unscale_(optimizer)
            self.calls.pop()
        self.stepped.append(optimizer)
        optimizer.step()

    def update(self) -> None:
        self.calls.append("update")
        self.growth_tracker += 1

    def state_dict(self) -> dict:
        return {"scale": self.scale_value, "growth_factor": 2.0, "backoff_factor": 0.5,
                "growth_interval": 2000, "_growth_tracker": self.growth_tracker}

    def load_state_dict(self, state: dict) -> None:
        self.loaded = dict(state)
        self.scale_value = state["scale"]
        self.growth_tracker = state["_growth_tracker"]


CONFIG = TrainingOptions(iterations=4, batch_size=2, image_size=16, lr=1e-2,
                         checkpoint_every=2, log_every=1, seed=1, device="cpu", quiet=True)


class FakeScalers(list):
    """A ``grad_scaler`` factory for ``train``: each run gets the next FakeGradScaler, switched
    on as on CUDA with fp16 (whatever the loop would choose); the scalers made, in order."""

    def __call__(self, enabled: bool) -> FakeGradScaler:
        scaler = FakeGradScaler(scale=2.0 ** (10 + len(self)))
        self.append(scaler)
        return scaler


@pytest.fixture
def fake_scalers() -> FakeScalers:
    return FakeScalers()


def params(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_the_training_loop_scales_steps_through_and_updates_the_grad_scaler(tmp_path):
    grads = []

    def hook(model, step, terms):  # the hook sees unscaled gradients (docs/training.md)
        grads.append(model.weight.grad.detach().clone())

    reference = train(ShapeTask(), None, CONFIG, run_dir=tmp_path / "reference", hook=hook)
    reference_grads, grads[:] = list(grads), []

    made = FakeScalers()  # its first scaler scales by 1024
    scaled = train(ShapeTask(), None, CONFIG, run_dir=tmp_path / "scaled", hook=hook,
                   grad_scaler=made)
    [fake] = made
    assert fake.calls == ["scale", "unscale_", "step", "update"] * CONFIG.iterations
    assert len(fake.stepped) == CONFIG.iterations
    assert all(optimizer is fake.stepped[0] for optimizer in fake.stepped)
    assert isinstance(fake.stepped[0], torch.optim.Adam)
    # A power-of-two scale is exact: the hook's gradients and the weights are the unscaled
    # run's, bit for bit.
    assert len(grads) == len(reference_grads) == CONFIG.iterations
    assert all(torch.equal(a, b) for a, b in zip(grads, reference_grads))
    scaled_params = params(scaled.model)
    for key, value in params(reference.model).items():
        assert torch.equal(scaled_params[key], value), key
    assert [h["total"] for h in scaled.history] == [h["total"] for h in reference.history]


def test_the_grad_scaler_state_is_checkpointed_and_restored_on_resume(fake_scalers,
                                                                      tmp_path):
    run_dir = tmp_path / "run"
    train(ShapeTask(), None, replace(CONFIG, iterations=2), run_dir=run_dir,
          grad_scaler=fake_scalers)
    first = fake_scalers[-1]
    saved = read_checkpoint(run_dir / CHECKPOINT_NAME).state["scaler"]
    assert saved == first.state_dict()
    assert saved["_growth_tracker"] == 2 and saved["scale"] == first.scale_value

    train(ShapeTask(), None, replace(CONFIG, iterations=4), run_dir=run_dir, resume=True,
          grad_scaler=fake_scalers)
    resumed = fake_scalers[-1]
    assert resumed is not first
    assert resumed.loaded == saved  # given back before the first resumed iteration
    assert resumed.calls[:4] == ["scale", "step", "update", "scale"]
    final = read_checkpoint(run_dir / CHECKPOINT_NAME).state["scaler"]
    assert final["_growth_tracker"] == 4 and final["scale"] == first.scale_value


def test_without_cuda_fp16_the_loop_builds_a_disabled_scaler_and_checkpoints_none(tmp_path):
    run_dir = tmp_path / "run"
    train(ShapeTask(), None, replace(CONFIG, iterations=1, amp="fp16"), run_dir=run_dir)
    assert read_checkpoint(run_dir / CHECKPOINT_NAME).state["scaler"] is None
