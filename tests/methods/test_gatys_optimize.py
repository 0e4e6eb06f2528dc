"""The Gatys optimiser at one scale (``optimize_scale``) on a loss whose minimum is known:
the squared distance to a fixed image. No descriptor: each case runs in milliseconds, so the
step counting, the best image kept, the projection onto [0, 1], non-finite losses, Ctrl-C
and the fp16 loss scaler are checked exactly."""

from __future__ import annotations

import math

import pytest
import torch

from styx.core.errors import StyxError
from styx.perceptual.objective import LossTerms
from styx.plugins.methods.gatys.optimize import (
    LossScaler,
    NonFiniteLoss,
    make_optimizer,
    optimize_scale,
)

TARGET = torch.tensor([[[[0.2, 0.9], [0.5, 0.0]]] * 3])  # 1 x 3 x 2 x 2, inside [0, 1]


class Distance:
    """``sum((image - TARGET)^2)``, recording every image it sees."""

    def __init__(self, poison_at: int | None = None, value: float = math.nan) -> None:
        self.seen: list[torch.Tensor] = []
        self.poison_at, self.value = poison_at, value

    def __call__(self, image: torch.Tensor) -> LossTerms:
        self.seen.append(image.detach().clone())
        total = ((image - TARGET) ** 2).sum()
        if self.poison_at is not None and len(self.seen) >= self.poison_at:
            total = total * self.value
        return LossTerms(total=total, content={"c": total.detach() * 2})


def distance(image: torch.Tensor) -> float:
    return float(((image - TARGET) ** 2).sum())


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_the_best_image_is_returned_with_its_loss(optimizer):
    loss = Distance()
    init = torch.full_like(TARGET, 0.6)
    outcome = optimize_scale(loss, init, optimizer=optimizer, steps=6, lr=0.1)
    assert outcome.steps == 6 and outcome.interrupted is False
    # One evaluation per step (L-BFGS without a line search too), then the final image.
    assert len(loss.seen) == 7
    values = [distance(seen) for seen in loss.seen]
    assert values[-1] < values[0]
    assert outcome.loss == pytest.approx(min(values), rel=1e-6)
    assert distance(outcome.image) == pytest.approx(outcome.loss, rel=1e-6)
    assert not outcome.image.requires_grad
    assert torch.equal(init, torch.full_like(TARGET, 0.6))  # the input is left alone


def test_the_best_image_is_kept_when_later_steps_get_worse():
    class Worsening(Distance):
        """The distance plus 10 per evaluation: every later image scores worse."""

        def __call__(self, image):
            terms = super().__call__(image)
            terms.total = terms.total + 10.0 * len(self.seen)
            return terms

    loss = Worsening()
    outcome = optimize_scale(loss, torch.full_like(TARGET, 0.5), optimizer="adam", steps=4,
                             lr=0.1)
    assert len(loss.seen) == 5
    assert torch.equal(outcome.image, loss.seen[0])
    assert outcome.loss == pytest.approx(distance(loss.seen[0]) + 10.0)


def test_every_image_the_loss_sees_and_the_result_are_in_the_unit_range():
    loss = Distance()
    init = torch.tensor([[[[-1.0, 2.0], [0.5, 3.0]]] * 3])
    outcome = optimize_scale(loss, init, optimizer="adam", steps=3, lr=0.5)
    assert torch.equal(loss.seen[0], init.clamp(0, 1))
    for seen in [*loss.seen, outcome.image]:
        assert float(seen.min()) >= 0.0 and float(seen.max()) <= 1.0


def test_no_steps_returns_the_projected_start_without_evaluating():
    loss = Distance()
    init = torch.tensor([[[[1.5, -0.5], [0.3, 7.0]]] * 3])
    outcome = optimize_scale(loss, init, optimizer="lbfgs", steps=0, lr=1.0)
    assert loss.seen == [] and outcome.steps == 0 and outcome.interrupted is False
    assert outcome.loss == math.inf
    assert torch.equal(outcome.image, torch.tensor([[[[1.0, 0.0], [0.3, 1.0]]] * 3]))


def test_values_are_read_every_n_steps_and_at_the_last():
    calls = []

    def on_step(step, values, image):
        calls.append((step, None if values is None else sorted(values)))
        assert image.shape == TARGET.shape and not image.requires_grad

    optimize_scale(Distance(), torch.zeros_like(TARGET), optimizer="adam", steps=7, lr=0.1,
                   read_every=3, on_step=on_step)
    read = ["content", "content/c", "style", "total", "tv"]
    assert calls == [(1, None), (2, None), (3, read), (4, None), (5, None), (6, read),
                     (7, read)]


def test_the_values_given_are_those_of_the_step_just_taken():
    totals = []
    loss = Distance()
    optimize_scale(loss, torch.zeros_like(TARGET), optimizer="adam", steps=3, lr=0.1,
                   on_step=lambda step, values, image: totals.append(values["total"]))
    assert totals == pytest.approx([distance(seen) for seen in loss.seen[:3]], rel=1e-6)


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_a_non_finite_loss_stops_with_the_step_counted_across_scales(value):
    with pytest.raises(NonFiniteLoss) as caught:
        optimize_scale(Distance(poison_at=3, value=value), torch.zeros_like(TARGET),
                       optimizer="adam", steps=5, lr=0.1, first_step=11)
    assert caught.value.step == 13
    assert math.isnan(caught.value.value) if math.isnan(value) else caught.value.value == value
    assert caught.value.message == (f"the loss became {float(value)} at step 13; stopped "
                                    "without writing an image")
    assert "--lr" in caught.value.hint and "--optimizer adam" in caught.value.hint
    assert NonFiniteLoss.status == "non-finite loss"


def test_a_non_finite_loss_between_reads_is_caught_at_the_next_read():
    with pytest.raises(NonFiniteLoss) as caught:
        optimize_scale(Distance(poison_at=2), torch.zeros_like(TARGET), optimizer="adam",
                       steps=6, lr=0.1, read_every=4)
    assert caught.value.step == 4


def test_a_non_finite_final_evaluation_stops_too():
    with pytest.raises(NonFiniteLoss) as caught:
        optimize_scale(Distance(poison_at=4), torch.zeros_like(TARGET), optimizer="adam",
                       steps=3, lr=0.1)
    assert caught.value.step == 3


def test_ctrl_c_returns_the_best_image_so_far():
    loss = Distance()

    def on_step(step, values, image):
        if step == 2:
            raise KeyboardInterrupt

    outcome = optimize_scale(loss, torch.zeros_like(TARGET), optimizer="adam", steps=10,
                             lr=0.1, on_step=on_step)
    assert outcome.interrupted and outcome.steps == 2
    assert len(loss.seen) == 2  # no final evaluation after an interrupt
    assert outcome.loss == pytest.approx(min(distance(seen) for seen in loss.seen))


def test_the_optimizers_are_configured_for_one_evaluation_per_step():
    image = torch.zeros(3, requires_grad=True)
    lbfgs = make_optimizer("lbfgs", image, lr=0.7, lbfgs_history=5)
    assert isinstance(lbfgs, torch.optim.LBFGS)
    settings = lbfgs.param_groups[0]
    assert settings["lr"] == 0.7 and settings["max_iter"] == 1
    assert settings["history_size"] == 5 and settings["line_search_fn"] is None
    assert settings["tolerance_grad"] < 0 and settings["tolerance_change"] == 0.0
    assert make_optimizer("lbfgs", image, lr=1.0).param_groups[0]["history_size"] == 20
    adam = make_optimizer("adam", image, lr=0.3)
    assert isinstance(adam, torch.optim.Adam) and adam.param_groups[0]["lr"] == 0.3
    with pytest.raises(StyxError) as caught:
        make_optimizer("sgd", image, lr=1.0)
    assert caught.value.message == "unknown optimizer 'sgd'"
    assert caught.value.hint == "choose lbfgs or adam"


def test_lbfgs_keeps_its_history_between_steps():
    loss = Distance()
    outcome = optimize_scale(loss, torch.full_like(TARGET, 0.5), optimizer="lbfgs", steps=4,
                             lr=1.0, lbfgs_history=3)
    # On a quadratic, L-BFGS with its curvature history gets (nearly) to the minimum.
    assert outcome.loss < 1e-6


# -- the fp16 loss scaler ---------------------------------------------------------------------
def test_the_scaler_gives_the_true_gradient_and_grows_after_good_steps():
    image = torch.ones(3, requires_grad=True)
    scaler = LossScaler(scale=4.0, growth_interval=2)
    assert LossScaler().scale == 2.0 ** 16 and LossScaler().growth_interval == 100
    scaler.backward((image * 3).sum(), image)
    assert torch.equal(image.grad, torch.full((3,), 3.0)) and scaler.scale == 4.0
    image.grad = None
    scaler.backward((image * 3).sum(), image)
    assert torch.equal(image.grad, torch.full((3,), 3.0))
    assert scaler.scale == 8.0  # two good steps in a row
    image.grad = None
    scaler.backward((image * 5).sum(), image)
    assert torch.equal(image.grad, torch.full((3,), 5.0)) and scaler.scale == 8.0


def test_an_overflow_resets_the_count_of_good_steps():
    image = torch.ones(2, requires_grad=True)
    scaler = LossScaler(scale=2.0 ** 10, growth_interval=2)
    scaler.backward((image * 2).sum(), image)  # one good step
    image.grad = None
    scaler.backward((image.half() * 1000).float().sum(), image)  # overflows at 1024 and 128
    # The good step before the overflow is forgotten: the pass that worked at 64 is the
    # first of the new count, so the scale has not grown yet.
    assert scaler.scale == 64.0
    assert torch.equal(image.grad, torch.full((2,), 1000.0))
    image.grad = None
    scaler.backward((image * 2).sum(), image)  # the second good step since the overflow
    assert scaler.scale == 128.0


def test_at_scale_one_the_scaler_stops_backing_off():
    image = torch.ones(2, requires_grad=True)
    scaler = LossScaler(scale=1.0)
    scaler.backward((image.half() * 70000).float().sum(), image)  # inf even unscaled
    assert scaler.scale == 1.0 and torch.isinf(image.grad).all()


def test_fp16_scaling_inside_the_optimiser():
    scaler = LossScaler(scale=2.0 ** 20)

    def half_loss(image):
        return LossTerms(total=((image.half() - TARGET.half()) ** 2).float().sum() * 100)

    outcome = optimize_scale(half_loss, torch.full_like(TARGET, 0.5), optimizer="adam",
                             steps=3, lr=0.05, scaler=scaler)
    assert scaler.scale < 2.0 ** 20
    assert math.isfinite(outcome.loss) and outcome.loss < 100 * distance(
        torch.full_like(TARGET, 0.5))


def test_backing_off_to_scale_one_redoes_the_backward_pass():
    image = torch.ones(2, requires_grad=True)
    scaler = LossScaler(scale=2.0)
    scaler.backward((image.half() * 40000).float().sum(), image)  # inf at 2, finite at 1
    assert scaler.scale == 1.0
    assert torch.equal(image.grad, torch.full((2,), 40000.0))


def test_the_non_finite_loss_hint_names_every_remedy():
    error = NonFiniteLoss(4, math.inf)
    assert error.hint == ("lower --lr or --style-weight, try --optimizer adam, or --amp off "
                          "if mixed precision is on")
    assert error.step == 4 and error.value == math.inf


def test_a_target_outside_the_unit_range_is_approached_from_inside():
    outside = torch.tensor([[[[-1.0, 2.0], [0.5, 3.0]]] * 3])

    class Outside(Distance):
        def __call__(self, image):
            self.seen.append(image.detach().clone())
            return LossTerms(total=((image - outside) ** 2).sum())

    loss = Outside()
    outcome = optimize_scale(loss, torch.full_like(TARGET, 0.5), optimizer="adam", steps=8,
                             lr=0.4)
    for seen in loss.seen:
        assert float(seen.min()) >= 0.0 and float(seen.max()) <= 1.0
    assert torch.allclose(outcome.image, outside.clamp(0, 1), atol=0.05)


def test_when_no_image_is_better_the_first_is_kept():
    class Flat(Distance):
        def __call__(self, image):
            self.seen.append(image.detach().clone())
            # The value is always 1, the gradient is not zero: the image moves.
            return LossTerms(total=1.0 + (image - image.detach()).sum())

    loss = Flat()
    init = torch.full_like(TARGET, 0.5)
    outcome = optimize_scale(loss, init, optimizer="adam", steps=3, lr=0.1)
    assert not torch.equal(loss.seen[-1], init)  # the image did move
    assert outcome.loss == 1.0 and torch.equal(outcome.image, init)


def test_the_lbfgs_history_reaches_the_optimizer(monkeypatch):
    made = []
    original = torch.optim.LBFGS

    class Recording(original):
        def __init__(self, params, **options):
            made.append(options["history_size"])
            super().__init__(params, **options)

    monkeypatch.setattr(torch.optim, "LBFGS", Recording)
    optimize_scale(Distance(), torch.zeros_like(TARGET), optimizer="lbfgs", steps=1, lr=1.0,
                   lbfgs_history=7)
    optimize_scale(Distance(), torch.zeros_like(TARGET), optimizer="lbfgs", steps=1, lr=1.0)
    assert made == [7, 20]
