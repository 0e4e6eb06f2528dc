"""Resolving a descriptor's weights: ``"imagenet"``, a file, or ``"random"``.

``"imagenet"``
    The torchvision ImageNet weights, read from torchvision's own cache
    (``torch.hub.get_dir()/checkpoints/<file name of the weights' URL>``, i.e. under
    ``TORCH_HOME``). A missing file is downloaded when the network answers; offline (or with
    ``STYX_OFFLINE=1``) the error names the exact file expected and the alternatives.
``PATH``
    A ``.safetensors`` file or a ``.pth``/``.pt`` state dict (read with
    ``torch.load(weights_only=True)``: never unpickled). Keys and shapes must match the
    network's; a mismatch is a :class:`StyxError` with a short summary.
``"random"``
    Seeded He-normal convolutions. Batch-norm statistics are then calibrated on a fixed,
    seeded random batch so that every tap keeps activations of order one at every depth.

A descriptor factory declares where its weights come from with a :class:`WeightsInfo`,
attached to the factory function by :func:`declares_weights`. ``styx weights`` reads it from
there through :func:`weights_info`.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import pickle
import re
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from styx.core.errors import StyxError
from styx.core.specs import ObjectRef, load_object
from styx.files.atomic import atomic_path

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn

    from styx.core.specs import DescriptorSpec
    from styx.perceptual.descriptor import Descriptor

IMAGENET = "imagenet"
RANDOM = "random"
#: Weights to be filled by the caller (a generator that embeds a descriptor, rebuilt from
#: its architecture before its stored state is loaded): allocated, not initialised, no note.
EMPTY = "empty"
WEIGHT_SUFFIXES = (".safetensors", ".pth", ".pt")
#: Seconds to wait for the download server before declaring the machine offline.
PROBE_TIMEOUT_S = 5.0
#: Images in the batch that calibrates batch norm for random weights, and their size.
CALIBRATION_BATCH = 4
CALIBRATION_SIZE = 160

#: Whether :func:`apply_weights` prints its note about random weights (see :func:`notes`).
_NOTES: contextvars.ContextVar[bool] = contextvars.ContextVar("styx_weights_notes", default=True)


@contextlib.contextmanager
def notes(enabled: bool) -> Iterator[None]:
    """Within the block, descriptors built here print their stderr notes only if ``enabled``
    (a command's ``--quiet`` / ``--json`` passes False)."""
    token = _NOTES.set(bool(enabled))
    try:
        yield
    finally:
        _NOTES.reset(token)


#: The quick first run that needs no download (the README's too): random weights, small and
#: short, so that it does not turn into a 512 px, 300-step run on a CPU.
FIRST_RUN = "styx run gatys --weights random --size 128 --steps 50 -o first.png"
ALTERNATIVES = ("use '--weights random', '--weights PATH' (a .safetensors/.pth state dict), "
                "or 'styx weights import {name} FILE' to put a copy in the cache; "
                f"a first picture offline, in seconds on a CPU: '{FIRST_RUN}'")


@dataclass(frozen=True)
class WeightsInfo:
    """Where a descriptor's weights come from and what a weights file must hold.

    ``imagenet``: a torchvision weights enum member (or anything with a ``url``), or the
    import path of one, e.g. ``"torchvision.models:VGG19_Weights.IMAGENET1K_V1"``.
    ``network``: builds the bare network whose state dict the weight files hold (called
    under ``torch.device("meta")`` when only key names and shapes are needed).
    ``unused_prefixes``: keys of parts the descriptor never runs (a classifier head); a
    file may lack them and they are never loaded.
    """

    imagenet: ObjectRef | Any
    network: Callable[[], nn.Module]
    unused_prefixes: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        return str(load_object(self.imagenet).url)

    @property
    def file_name(self) -> str:
        return self.url.rsplit("/", 1)[-1]

    def is_unused(self, key: str) -> bool:
        return key.startswith(self.unused_prefixes)

    def expected_shapes(self) -> dict[str, tuple[int, ...]]:
        """Every key of the network's state dict and its shape (built on the meta device)."""
        import torch

        with torch.device("meta"):
            network = self.network()
        return {k: tuple(v.shape) for k, v in network.state_dict().items()}


def declares_weights(info: WeightsInfo) -> Callable[[Callable], Callable]:
    """Decorator for a descriptor factory: ``factory.weights_info = info``."""

    def mark(factory: Callable) -> Callable:
        factory.weights_info = info  # type: ignore[attr-defined]
        return factory

    return mark


def weights_info(spec: DescriptorSpec) -> WeightsInfo | None:
    """The :class:`WeightsInfo` a descriptor's factory declares, or None (imports the factory)."""
    return getattr(spec.load(), "weights_info", None)


# -- the cache ---------------------------------------------------------------------------------
def cached_file(info: WeightsInfo) -> Path:
    """Where torchvision keeps (or would keep) ``info``'s ImageNet weights: its checkpoint
    cache ``torch.hub.get_dir()/checkpoints`` (follows TORCH_HOME)."""
    import torch.hub

    return Path(torch.hub.get_dir()) / "checkpoints" / info.file_name


def _probe(url: str, timeout: float) -> None:
    """Raise OSError (URLError, timeout) quickly when ``url``'s server cannot be reached.

    A server that answers, even with an HTTP error, counts as reachable: the download
    itself then reports what is wrong.
    """
    with contextlib.suppress(urllib.error.HTTPError), \
            urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout):
        pass


def download(info: WeightsInfo, name: str, *, progress: bool = True) -> Path:
    """Download ``info``'s ImageNet weights into the cache (hash-checked, atomically).

    Offline, this fails within :data:`PROBE_TIMEOUT_S` with a one-line StyxError.
    """
    import torch.hub

    target = cached_file(info)
    missing = (f"no ImageNet weights for descriptor {name!r}: {target} is missing and "
               "cannot be downloaded")
    hint = ALTERNATIVES.format(name=name)
    if os.environ.get("STYX_OFFLINE", "") not in ("", "0"):
        raise StyxError(f"{missing} (STYX_OFFLINE is set)", hint)
    try:
        _probe(info.url, PROBE_TIMEOUT_S)
    except (OSError, ValueError) as exc:
        raise StyxError(f"{missing} from {info.url} ({getattr(exc, 'reason', exc)})",
                        hint) from None
    target.parent.mkdir(parents=True, exist_ok=True)
    match = re.search(r"-([a-f0-9]*)\.", info.file_name)
    try:
        # torch writes to a temporary file and renames it only once the hash matches.
        torch.hub.download_url_to_file(info.url, str(target),
                                       match.group(1) if match else None, progress=progress)
    except (OSError, RuntimeError) as exc:
        raise StyxError(f"downloading {info.url} failed: {exc}", hint) from None
    return target


def imagenet_file(info: WeightsInfo, name: str, *, progress: bool = True) -> Path:
    """The cached ImageNet weights file, downloading it first if need be."""
    target = cached_file(info)
    return target if target.is_file() else download(info, name, progress=progress)


# -- reading and checking state dicts ---------------------------------------------------------
def read_state_dict(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Tensors from a ``.safetensors`` file or a ``.pth``/``.pt`` state dict (never unpickled)."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise StyxError(f"weights file not found: {path}",
                        "check the path of the .safetensors/.pth file")
    if path.suffix not in WEIGHT_SUFFIXES:
        raise StyxError(f"unsupported weights file {path.name!r}",
                        "weights files end in .safetensors, .pth or .pt")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state: Any = load_file(str(path))
        else:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        # torch's message advises weights_only=False, which would run the file's code.
        raise StyxError(f"cannot read weights file {path}: not a plain state dict of tensors",
                        "styx never unpickles arbitrary objects; convert the file to a "
                        ".safetensors or tensors-only .pth state dict") from None
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's to fix
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise StyxError(f"cannot read weights file {path}: {first[:200]}",
                        "expected a plain state dict of tensors (.safetensors or .pth)") from None
    return _plain_state_dict(state, path)


def _plain_state_dict(state: Any, path: Path) -> dict[str, torch.Tensor]:
    import torch

    for wrapper in ("state_dict", "model"):  # training checkpoints wrap the state dict
        if isinstance(state, Mapping) and isinstance(state.get(wrapper), Mapping):
            state = state[wrapper]
    if not isinstance(state, Mapping) or not state:
        raise StyxError(f"{path} holds no state dict", "expected a mapping of name -> tensor")
    tensors = {str(k): v for k, v in state.items() if isinstance(v, torch.Tensor)}
    if len(tensors) != len(state):
        raise StyxError(f"{path} holds values that are not tensors",
                        "expected a plain state dict of tensors")
    if all(k.startswith("module.") for k in tensors):  # saved from DataParallel/DDP
        tensors = {k[len("module."):]: v for k, v in tensors.items()}
    return tensors


def check_state_dict(state: Mapping[str, torch.Tensor], expected: Mapping[str, tuple[int, ...]],
                     *, source: str, optional: Callable[[str], bool] = lambda key: False) -> None:
    """Raise a StyxError summarising missing, unexpected and mis-shaped keys, if any.

    ``num_batches_tracked`` buffers and keys for which ``optional`` is true may be missing.
    """
    missing = [k for k in expected if k not in state
               and not k.endswith("num_batches_tracked") and not optional(k)]
    unexpected = [k for k in state if k not in expected]
    wrong = [f"{k} {tuple(state[k].shape)} != {expected[k]}" for k in state
             if k in expected and tuple(state[k].shape) != tuple(expected[k])]
    problems = [f"{label} {len(keys)} ({_some(keys)})" for label, keys in
                (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)) if keys]
    if problems:
        raise StyxError(f"{source} does not fit: " + "; ".join(problems),
                        "is this file for that descriptor? 'styx list layers' shows the networks")


def _some(items: list[str], n: int = 3) -> str:
    return ", ".join(items[:n]) + (f", ... {len(items) - n} more" if len(items) > n else "")


# -- putting weights into a descriptor ----------------------------------------------------------
def resolve_state_dict(weights: str | os.PathLike[str], info: WeightsInfo, name: str
                       ) -> tuple[dict[str, torch.Tensor] | None, str]:
    """``(state dict or None for random, a description of where it came from)``."""
    text = os.fspath(weights).strip() if isinstance(weights, (str, os.PathLike)) else weights
    if not isinstance(text, str) or not text:
        raise StyxError(f"bad weights {weights!r}", "give 'imagenet', 'random' or a file path")
    if text.lower() == RANDOM:
        return None, RANDOM
    if text.lower() == IMAGENET:
        path = imagenet_file(info, name)
        try:
            return read_state_dict(path), str(path)
        except StyxError as error:  # the cached copy itself is broken: say how to replace it
            raise StyxError(f"the cached ImageNet weights of {name!r} are damaged: "
                            f"{error.message}",
                            f"delete {path} and run 'styx weights download {name}', or "
                            f"'styx weights import {name} FILE --force'") from None
    return read_state_dict(text), text


def apply_weights(descriptor: Descriptor, network: nn.Module, weights: str | os.PathLike[str],
                  info: WeightsInfo, *, seed: int = 0, layers: Iterable[str] | None = None,
                  quiet: bool = False) -> Descriptor:
    """Materialise ``descriptor`` (built from ``network`` on the meta device) and fill it.

    ``network`` is the full network the weight files describe; ``descriptor``'s stages share
    its modules, so loading ``network``'s state dict fills the descriptor. ``layers``, when
    given, trims the descriptor first, so stages past the deepest of them are never
    allocated. Those and the parts named by ``info.unused_prefixes`` stay on the meta device
    and cost no memory. Random weights come out the same with or without ``layers``.
    ``weights="empty"``: allocated and left unfilled, silently, for a caller that loads a
    stored state next (a generator embedding the descriptor, rebuilt from its metadata).
    """
    import torch
    from torch import nn

    from styx.perceptual.descriptor import he_normal_init_

    wanted = list(layers) if layers is not None else []
    if wanted:
        descriptor.trim(wanted)  # unknown names: StyxError with "did you mean"
    if isinstance(weights, str) and weights.strip().lower() == EMPTY:
        descriptor.stages.to_empty(device="cpu")  # the caller loads its own state next
        return descriptor.freeze()
    state, source = resolve_state_dict(weights, info, descriptor.name)
    descriptor.stages.to_empty(device="cpu")
    for module in descriptor.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.reset_parameters()  # also resets running statistics
    if state is None:  # seeded He-normal weights, then batch norm calibrated
        he_normal_init_(descriptor.stages, torch.Generator().manual_seed(int(seed)))
        calibrate_batch_norm_(descriptor, torch.Generator().manual_seed(int(seed)))
        if not quiet and _NOTES.get():
            print(f"note: descriptor {descriptor.name!r} has random weights (seed {seed}); "
                  "fine for tests, not for real style transfer", file=sys.stderr)
    else:
        current = network.state_dict(keep_vars=True)
        expected = {k: tuple(v.shape) for k, v in current.items()}
        check_state_dict(state, expected, source=f"weights {source}", optional=info.is_unused)
        # Copy tensor by tensor into what the descriptor uses; parts it never runs are still
        # on the meta device and are skipped (load_state_dict would warn about them).
        with torch.no_grad():
            for key, value in state.items():
                target = current.get(key)
                if target is not None and not target.is_meta:
                    target.copy_(value)
    return descriptor.freeze()


def descriptor_from_network(spec: DescriptorSpec, info: WeightsInfo,
                            stages: Callable[[nn.Module], list[tuple[str, nn.Module]]],
                            weights: str | os.PathLike[str], *, seed: int = 0,
                            layers: Iterable[str] | None = None, **options: Any) -> Descriptor:
    """The descriptor ``spec`` describes, filled by :func:`apply_weights`: ``info``'s
    network built on the meta device and cut into ``stages(network)``. ``options``: more
    :class:`~styx.perceptual.descriptor.Descriptor` arguments (``mean``, ``min_size``, ...)."""
    import torch

    from styx.perceptual.descriptor import Descriptor

    with torch.device("meta"):
        network = info.network()
    descriptor = Descriptor(spec.name, stages(network), layer_aliases=spec.layer_aliases,
                            default_content_layers=spec.default_content_layers,
                            default_style_layers=spec.default_style_layers, **options)
    return apply_weights(descriptor, network, weights, info, seed=seed, layers=layers)


def calibration_batch(generator: torch.Generator, *, batch: int = CALIBRATION_BATCH,
                      size: int = CALIBRATION_SIZE) -> torch.Tensor:
    """Smooth multi-scale noise in [0, 1]: a stand-in for natural images' statistics."""
    import torch
    import torch.nn.functional as F

    image = torch.zeros(batch, 3, size, size)
    for cells in (2, 4, 8, 16, 32, 64):
        noise = torch.rand(batch, 3, cells, cells, generator=generator) - 0.5
        image += F.interpolate(noise, size=(size, size), mode="bilinear", align_corners=False)
    image = image - image.amin(dim=(1, 2, 3), keepdim=True)
    return image / image.amax(dim=(1, 2, 3), keepdim=True).clamp_min(1e-6)


def calibrate_batch_norm_(descriptor: Descriptor, generator: torch.Generator) -> bool:
    """Set every batch norm to scale its input to unit second moment on a seeded batch.

    Each batch norm gets running mean 0 and running variance = the mean square of its input
    (per channel) on :func:`calibration_batch`, measured in forward order so every batch
    norm sees inputs already shaped by the ones before it. With zero means and zero biases
    the whole network is positively homogeneous, like a He-initialised VGG: activations stay
    of order one at every depth for any input spectrum, from smooth photos to white noise.
    (Calibrating the usual mean and variance on one kind of input makes other kinds blow
    up by 100x at ResNet-50's last block.) Returns whether there was any batch norm.
    """
    import torch
    from torch import nn

    norms = [m for m in descriptor.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return False

    def set_statistics(module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        x = inputs[0].detach().float()
        dims = [d for d in range(x.dim()) if d != 1]
        module.running_mean.zero_()
        module.running_var.copy_(x.square().mean(dim=dims))

    for m in norms:
        m.reset_parameters()  # weight 1, bias 0, statistics reset
    hooks = [m.register_forward_pre_hook(set_statistics) for m in norms]
    try:
        with torch.no_grad():
            descriptor(calibration_batch(generator).to(descriptor.mean.device))
    finally:
        for hook in hooks:
            hook.remove()
    return True


# -- the cache, filled by hand -------------------------------------------------------------------
def import_into_cache(info: WeightsInfo, source: str | os.PathLike[str], *,
                      force: bool = False) -> Path:
    """Check that ``source`` fits the network exactly, then store it as torchvision would.

    The file is saved as a plain ``torch.save`` state dict under torchvision's file name
    (written atomically: a temporary file in the cache folder, then renamed), so torchvision
    itself can load it as well.
    """
    import torch

    target = cached_file(info)
    state = read_state_dict(source)  # a missing or unreadable source is reported first
    if target.exists() and not force:
        raise StyxError(f"{target} already exists", "pass --force to replace it")
    check_state_dict(state, info.expected_shapes(), source=f"weights {source}")
    state = {k: v.detach().contiguous().clone() for k, v in state.items()}
    with atomic_path(target) as temporary:
        torch.save(state, temporary)
    return target
