"""The conformance checks of a descriptor plugin (:func:`check_descriptor`)."""

from __future__ import annotations

from typing import Any

from styx.core.errors import StyxError
from styx.testing.imports import check_light, module_of, plugin_module
from styx.testing.report import CheckReport, without_notes

#: The side of the test image, unless the descriptor needs more (``min_size``).
IMAGE_SIDE = 64


@without_notes
def check_descriptor(name: str, *, weights: str = "random", options: dict[str, Any] | None
                     = None, raise_on_failure: bool = True) -> CheckReport:
    """Check the registered descriptor ``name`` against the contract.

    Built with ``weights`` (random: nothing is downloaded) and ``options``, and run on a
    small random image, it must: import no torch in its plugin module or options class;
    declare its layers in its spec; build a :class:`~styx.perceptual.descriptor.Descriptor`;
    produce exactly the spec's layers, in the spec's order; resolve every spec alias to the
    layer the spec says; resolve its default content and style layers; give every tap as a
    finite N x C x H x W map that no later layer changes in place (torchvision's
    ``ReLU(inplace=True)`` after a conv tap does); let gradients reach the image; and,
    with random weights, build the same network twice from one seed.
    """
    from styx.core.plugins import descriptors

    spec = descriptors().get(name)
    report = CheckReport("descriptor", spec.name)
    check_light(report, [plugin_module(spec.plugin), module_of(spec.config)])
    with report.check("declares its layers"):
        assert spec.layers, "the spec lists no layers: 'styx list layers' and the early " \
            "checks of --content-layers/--style-layers need them"
    descriptor = None
    with report.check("builds"):
        descriptor = _build(spec.name, weights, options)
    if descriptor is None:
        report.skip_rest(["layers match the spec", "aliases resolve", "default layers exist",
                          "taps are finite feature maps", "taps are not changed in place",
                          "gradients reach the image", "random weights are seeded"],
                         "it did not build")
        return report.raise_for_failures() if raise_on_failure else report
    _check_names(report, spec, descriptor)
    _check_running(report, descriptor)
    if str(weights) == "random":
        with report.check("random weights are seeded"):
            import torch

            again = _build(spec.name, weights, options)
            for (key, first), (_, second) in zip(descriptor.state_dict().items(),
                                                  again.state_dict().items()):
                assert torch.equal(first, second), \
                    f"{key} differs between two builds with seed 0"
    return report.raise_for_failures() if raise_on_failure else report


def _build(name: str, weights: str, options: dict[str, Any] | None) -> Any:
    from styx.core.plugins import descriptors
    from styx.core.specs import checked_options
    from styx.perceptual.descriptor import build_descriptor

    given = checked_options(descriptors().get(name), dict(options or {}))
    return build_descriptor(name, weights, seed=0, **given)


def _check_names(report: CheckReport, spec: Any, descriptor: Any) -> None:
    with report.check("layers match the spec"):
        built, declared = list(descriptor.layers), list(spec.layers)
        missing = [layer for layer in declared if layer not in built]
        extra = [layer for layer in built if layer not in declared]
        assert not missing, f"the spec lists {_few(missing)}, which the network lacks"
        assert not extra, f"the network has {_few(extra)}, which the spec does not list"
        assert built == declared, "the spec lists the layers in another order than the " \
            f"network runs them: network {_few(built, 8)}"
    with report.check("aliases resolve"):
        wrong = {alias: layer for alias, layer in spec.layer_aliases.items()
                 if _resolve(descriptor, alias) != layer}
        assert not wrong, "aliases the built descriptor does not resolve as the spec says: " + \
            ", ".join(f"{a} -> {layer}" for a, layer in list(wrong.items())[:5])
    with report.check("default layers exist"):
        defaults = [*spec.default_content_layers, *spec.default_style_layers]
        unknown = [layer for layer in defaults if _resolve(descriptor, layer) is None]
        assert not unknown, f"default layers the network lacks: {_few(unknown)}"
        assert defaults, "no default content or style layers: every run must then name them"


def _check_running(report: CheckReport, descriptor: Any) -> None:
    import torch

    side = max(IMAGE_SIDE, int(getattr(descriptor, "min_size", 1)))
    image = torch.rand(1, 3, side, side, generator=torch.Generator().manual_seed(0))
    layers = list(descriptor.layers)
    features: dict[str, Any] = {}
    with report.check("taps are finite feature maps") as details:
        with torch.no_grad():
            features = descriptor(image, layers)
        assert set(features) == set(layers), f"asked for {len(layers)} layers, got " \
            f"{len(features)}"
        for layer, tap in features.items():
            assert isinstance(tap, torch.Tensor) and tap.dim() == 4 and tap.shape[0] == 1, \
                f"{layer}: expected a 1 x C x H x W tensor, got " \
                f"{getattr(tap, 'shape', type(tap).__name__)}"
            assert torch.isfinite(tap).all(), f"{layer} has NaN or infinite values"
        details.append(f"{len(layers)} layers on a {side}x{side} image")
    with report.check("taps are not changed in place"):
        changed = []
        # In inference mode the descriptor's own guard (version counters) is blind, so
        # the taps of one full run are compared with runs that stop at each of them.
        with torch.inference_mode():
            features = descriptor(image, layers)
            for layer in layers:
                alone = descriptor(image, [layer])[layer]  # the forward stops at this tap
                if not torch.allclose(alone, features[layer], rtol=1e-5, atol=1e-6):
                    changed.append(layer)
        assert not changed, f"{_few(changed)} change(s) when later layers run: a later " \
            "layer works in place on it (nn.ReLU(inplace=True)?); make it out of place"
    with report.check("gradients reach the image"):
        image = image.clone().requires_grad_(True)
        taps = descriptor(image, layers)
        total = sum(tap.float().mean() for tap in taps.values())
        total.backward()
        grad = image.grad
        assert grad is not None, "no gradient reached the image (a detach, or no_grad?)"
        assert torch.isfinite(grad).all(), "the image's gradient has NaN or infinite values"
        assert grad.abs().sum() > 0, "the image's gradient is all zero"


def _resolve(descriptor: Any, name: str) -> str | None:
    try:
        return descriptor.resolve_layer(name)
    except StyxError:
        return None


def _few(names: list[str], n: int = 5) -> str:
    shown = ", ".join(names[:n])
    return shown + (f" (+{len(names) - n} more)" if len(names) > n else "")
