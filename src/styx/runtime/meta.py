"""Shape passes: running a network on the meta device to learn its peak memory and whether
an image is large enough for it, without allocating or computing anything.

A meta tensor has a shape, a dtype and a size in bytes but no data, so a forward (and
backward) pass over meta tensors costs milliseconds whatever the image size. While it runs,
:class:`LiveBytes` counts the bytes of every tensor it makes that is still referenced
(saved activations, gradients, temporaries) and keeps the peak: the memory the real pass
will need, give or take the allocator's own overhead and the scratch memory of the
convolution libraries (oneDNN, cuDNN), which torch does not see. A value read back during
the pass (``.item()``) reads as zero.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

META = torch.device("meta")


class LiveBytes(TorchDispatchMode):
    """Counts the bytes of the tensors made while it is active and still alive, and the
    peak of that count. Storages shared by views and in-place results count once."""

    def __init__(self) -> None:
        super().__init__()
        self.live = 0
        self.peak = 0
        self._holders: dict[int, list[int]] = {}  # storage -> [bytes, tensors holding it]

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (),
                           kwargs: Any = None) -> Any:
        if func is torch.ops.aten.equal.default:  # data compared: take it as equal
            return True
        if func is torch.ops.aten._local_scalar_dense.default:
            # A value read back (.item(), int(), an if on a tensor) has no data to read
            # here: zero of its type, so code that branches on values still runs its course.
            return False if args[0].dtype == torch.bool else \
                0.0 if args[0].is_floating_point() else 0
        result = func(*args, **(kwargs or {}))
        for value in tree_flatten(result)[0]:
            if isinstance(value, torch.Tensor):
                self._hold(value)
        return result

    def _hold(self, tensor: torch.Tensor) -> None:
        storage = tensor.untyped_storage()
        key = storage._cdata
        holder = self._holders.get(key)
        if holder is None:
            holder = self._holders[key] = [storage.nbytes(), 0]
            self.live += holder[0]
            self.peak = max(self.peak, self.live)
        holder[1] += 1
        weakref.finalize(tensor, self._release, key)

    def _release(self, key: int) -> None:
        holder = self._holders.get(key)
        if holder is None:
            return
        holder[1] -= 1
        if holder[1] == 0:
            self.live -= holder[0]
            del self._holders[key]


@contextlib.contextmanager
def shape_pass() -> Iterator[LiveBytes]:
    """A block whose tensors are fake (shapes, dtypes and devices, no data; real modules
    and tensors may be used in it as they are, nothing is copied), counted by the
    :class:`LiveBytes` it yields. Autocast works in it as on the device named."""
    from torch._subclasses.fake_tensor import FakeTensorMode

    with FakeTensorMode(allow_non_fake_inputs=True), LiveBytes() as counter:
        yield counter


def peak_bytes(work: Callable[[], Any]) -> int:
    """The peak bytes of the tensors ``work`` makes, alive at once, in a shape pass."""
    with shape_pass() as counter:
        work()
    return counter.peak


def is_fake(tensor: object) -> bool:
    """Whether ``tensor`` was made in a shape pass (it has a shape and no data)."""
    from torch._subclasses.fake_tensor import FakeTensor

    return isinstance(tensor, FakeTensor)


def tensor_bytes(tensors: Iterable[torch.Tensor]) -> int:
    """The bytes of ``tensors``, each storage once."""
    seen: dict[int, int] = {}
    for tensor in tensors:
        storage = tensor.untyped_storage()
        seen.setdefault(storage._cdata, tensor.numel() * tensor.element_size()
                        if tensor.device.type == "meta" else storage.nbytes())
    return sum(seen.values())


def module_bytes(module: nn.Module) -> int:
    """The bytes of a module's parameters and buffers."""
    return tensor_bytes([*module.parameters(), *module.buffers()])


def on_meta(module: nn.Module, dtype: torch.dtype | None = None) -> nn.Module:
    """A copy of ``module`` whose parameters and buffers are meta tensors of the same
    shapes (``dtype``: floating ones in it): the real module is left as it is."""
    import copy

    memo = {id(t): torch.empty_like(t, device=META,
                                    dtype=dtype if dtype is not None and t.is_floating_point()
                                    else t.dtype).requires_grad_(t.requires_grad)
            for t in [*module.parameters(), *module.buffers()]}
    for t in [*module.parameters(), *module.buffers()]:
        if isinstance(t, nn.Parameter):
            memo[id(t)] = nn.Parameter(memo[id(t)], requires_grad=t.requires_grad)
    return copy.deepcopy(module, memo)
