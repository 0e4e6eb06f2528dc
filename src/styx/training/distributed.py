"""torch.distributed for the training loop: joining torchrun's process group, and moving
bytes, JSON and loss values between ranks as tensors (never pickles)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import torch

from styx.core.errors import StyxError


@dataclass
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    owned: bool = False     # we called init_process_group, so we tear it down

    @property
    def active(self) -> bool:
        return self.world_size > 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup_distributed(device: torch.device) -> DistContext:
    """Join the process group torchrun describes (or the one already initialised)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return DistContext(dist.get_rank(), dist.get_world_size(),
                           int(os.environ.get("LOCAL_RANK", dist.get_rank())))
    world_size = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if world_size <= 1:
        return DistContext()
    if not dist.is_available():
        raise StyxError("WORLD_SIZE is set but this torch has no torch.distributed",
                        "run without torchrun, or install a torch with distributed support")
    missing = [v for v in ("RANK", "MASTER_ADDR", "MASTER_PORT") if v not in os.environ]
    if missing:
        raise StyxError(f"WORLD_SIZE={world_size} but {', '.join(missing)} not set",
                        "start distributed runs with torchrun --nproc-per-node N ...")
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        torch.cuda.set_device(local_rank)
    dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return DistContext(dist.get_rank(), dist.get_world_size(), local_rank, owned=True)


def broadcast_bytes(data: bytes | None, ctx: DistContext, device: torch.device) -> bytes | None:
    """Rank 0's ``data`` on every rank (None stays None), as a uint8 tensor: no pickle."""
    import torch.distributed as dist

    length = torch.tensor([-1 if data is None else len(data)], dtype=torch.int64,
                          device=device)
    dist.broadcast(length, src=0)
    if int(length.item()) < 0:
        return None
    if ctx.main:
        buffer = torch.frombuffer(bytearray(data), dtype=torch.uint8).to(device)
    else:
        buffer = torch.empty(int(length.item()), dtype=torch.uint8, device=device)
    dist.broadcast(buffer, src=0)
    return buffer.cpu().numpy().tobytes()


def gather_json(value: Any, ctx: DistContext, device: torch.device) -> list[Any]:
    """``value`` (JSON-able) from every rank, in rank order (JSON in uint8 tensors)."""
    if not ctx.active:
        return [value]
    import torch.distributed as dist

    data = json.dumps(value).encode()
    length = torch.tensor([len(data)], dtype=torch.int64, device=device)
    lengths = [torch.zeros_like(length) for _ in range(ctx.world_size)]
    dist.all_gather(lengths, length)
    longest = max(int(n.item()) for n in lengths)
    buffer = torch.zeros(longest, dtype=torch.uint8, device=device)
    buffer[:len(data)] = torch.frombuffer(bytearray(data), dtype=torch.uint8).to(device)
    buffers = [torch.zeros_like(buffer) for _ in range(ctx.world_size)]
    dist.all_gather(buffers, buffer)
    return [json.loads(b[:int(n.item())].cpu().numpy().tobytes())
            for b, n in zip(buffers, lengths)]


def reduce_log(values: dict[str, float], stop: bool, ctx: DistContext, device: torch.device
                ) -> tuple[dict[str, float], bool]:
    """Loss values averaged over ranks, and whether any rank asked to stop."""
    if not ctx.active:
        return values, stop
    import torch.distributed as dist

    keys = sorted(values)
    packed = torch.tensor([values[k] for k in keys] + [1.0 if stop else 0.0],
                          dtype=torch.float64, device=device)
    dist.all_reduce(packed)
    averaged = {k: float(packed[i]) / ctx.world_size for i, k in enumerate(keys)}
    return {k: averaged[k] for k in values}, bool(packed[-1].item() > 0)


def wrap_model(model: torch.nn.Module, ctx: DistContext, device: torch.device, *,
               find_unused_parameters: bool = False) -> torch.nn.Module:
    """``model`` for the training step: wrapped in DistributedDataParallel under torchrun
    (which averages the gradients), as it is otherwise."""
    if not ctx.active:
        return model
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(
        model, device_ids=[device.index] if device.type == "cuda" else None,
        find_unused_parameters=find_unused_parameters)
