"""The conformance checks of a loss plugin (:func:`check_loss`)."""

from __future__ import annotations

from typing import Any

from styx.testing.imports import check_light, module_of, plugin_module
from styx.testing.report import CheckReport, without_notes


@without_notes
def check_loss(name: str, *, options: dict[str, Any] | None = None,
               raise_on_failure: bool = True) -> CheckReport:
    """Check the registered loss ``name`` against the contract of
    :mod:`styx.perceptual.losses`, built with ``options``.

    Every loss: imports no torch in its plugin module or options class; has an options
    class (if any) whose every option has a default; builds; returns a finite float32
    scalar >= 0, float32 under bf16 autocast too; gives the mean over a batch; and passes
    a finite, non-zero gradient back. A ``"features"`` loss also: prepares a target with
    the batch dimension first (1 for one reference); is smaller at its own target than
    elsewhere; accepts a target per image (batch N) and a blend of targets (their weighted
    sum); and gives the same value for channels-last features.
    """
    from styx.core.plugins import losses

    spec = losses().get(name)
    report = CheckReport("loss", spec.name)
    check_light(report, [plugin_module(spec.plugin), module_of(spec.config)])
    if spec.config is not None:
        with report.check("options have defaults"):
            from styx.core.config import options_of

            required = [i.field for i in options_of(spec.options_config()) if i.required]
            assert not required, f"options without a default: {', '.join(required)}"
    loss = None
    with report.check("builds"):
        from styx.perceptual.losses import build_loss

        loss = build_loss(spec.name, **dict(options or {}))
    if loss is None:
        report.skip_rest(["value", "batch mean", "gradient"], "it did not build")
    elif spec.scores == "features":
        _check_feature_loss(report, loss)
    else:
        _check_image_loss(report, loss)
    return report.raise_for_failures() if raise_on_failure else report


def _tensors(seed: int, *shape: int) -> Any:
    import torch

    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _scalar(value: Any, what: str) -> float:
    import torch

    assert isinstance(value, torch.Tensor) and value.dim() == 0, \
        f"{what} is not a 0-dim tensor but {getattr(value, 'shape', type(value).__name__)}"
    assert value.dtype == torch.float32, f"{what} is {value.dtype}, not float32"
    assert torch.isfinite(value), f"{what} is not finite"
    assert float(value) >= 0, f"{what} is negative ({float(value):.4g})"
    return float(value)


def _check_feature_loss(report: CheckReport, loss: Any) -> None:
    import torch

    a, b = _tensors(1, 1, 16, 12, 10), _tensors(2, 1, 16, 12, 10)
    with report.check("prepares a target"):
        target = loss.prepare(a)
        assert isinstance(target, torch.Tensor), \
            f"prepare returned {type(target).__name__}, not a tensor"
        assert target.dim() >= 1 and target.shape[0] == 1, "prepare(features of one image) " \
            f"must keep the batch dimension first (1), got shape {tuple(target.shape)}"
    with report.check("value"):
        away = _scalar(loss(b, loss.prepare(a)), "loss(features, target)")
        at = _scalar(loss(a, loss.prepare(a)), "loss at its own target")
        assert at < away, f"the loss at its own target ({at:.4g}) is not smaller than " \
            f"elsewhere ({away:.4g})"
        with torch.autocast("cpu", dtype=torch.bfloat16):
            _scalar(loss(b.bfloat16(), loss.prepare(a)), "the value under bf16 autocast")
    with report.check("batch mean"):
        both = torch.cat([a, b])
        targets = torch.cat([loss.prepare(b), loss.prepare(a)])  # one target per image
        each = [float(loss(a, loss.prepare(b))), float(loss(b, loss.prepare(a)))]
        got = _scalar(loss(both, targets), "the loss of a batch with a target per image")
        assert abs(got - sum(each) / 2) <= 1e-4 * max(1e-12, abs(sum(each) / 2)), \
            f"a batch with one target per image gives {got:.6g}, not the mean of the " \
            f"images' losses {sum(each) / 2:.6g}"
        _scalar(loss(both, loss.prepare(a)), "the loss of a batch sharing one target")
    with report.check("blended targets"):
        blend = 0.3 * loss.prepare(a) + 0.7 * loss.prepare(b)
        assert blend.shape == loss.prepare(a).shape
        _scalar(loss(b, blend), "the loss against a blend of two targets")
    with report.check("channels-last features"):
        plain = float(loss(b, loss.prepare(a)))
        last = b.contiguous(memory_format=torch.channels_last)
        value = float(loss(last, loss.prepare(a.contiguous(memory_format=torch.channels_last))))
        assert abs(value - plain) <= 1e-4 * max(1e-12, abs(plain)), \
            f"channels-last features give {value:.6g}, contiguous ones {plain:.6g}"
    with report.check("gradient"):
        features = b.clone().requires_grad_(True)
        loss(features, loss.prepare(a)).backward()
        _check_gradient(features)


def _check_image_loss(report: CheckReport, loss: Any) -> None:
    import torch

    a, b = _tensors(1, 1, 3, 20, 16).sigmoid(), _tensors(2, 1, 3, 20, 16).sigmoid()
    with report.check("value"):
        _scalar(loss(a), "loss(image)")
        with torch.autocast("cpu", dtype=torch.bfloat16):
            _scalar(loss(a.bfloat16()), "the value under bf16 autocast")
    with report.check("batch mean"):
        mean = (float(loss(a)) + float(loss(b))) / 2
        got = _scalar(loss(torch.cat([a, b])), "the loss of a batch")
        assert abs(got - mean) <= 1e-4 * max(1e-12, abs(mean)), \
            f"a batch of two images gives {got:.6g}, not the mean of their losses {mean:.6g}"
    with report.check("gradient"):
        image = b.clone().requires_grad_(True)
        loss(image).backward()
        _check_gradient(image)


def _check_gradient(tensor: Any) -> None:
    import torch

    grad = tensor.grad
    assert grad is not None, "no gradient flows back (a detach, or no_grad?)"
    assert torch.isfinite(grad).all(), "the gradient has NaN or infinite values"
    assert grad.abs().sum() > 0, "the gradient is all zero"
