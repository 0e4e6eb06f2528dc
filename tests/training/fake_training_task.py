"""A tiny TrainingTask for the training-loop tests: one 3x3 convolution learning a fixed
colour transform of its input (MSE), with a little noise drawn from torch's RNG each step so
that resume must restore the random stream too.

Run as a script under torchrun it trains on a folder (see :func:`main`):
``python -m torch.distributed.run --standalone --nproc-per-node 2 fake_training_task.py
CONTENT RUN_DIR OUT``.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from styx.perceptual.objective import LossTerms


class TinyTask:
    """Learn ``1 - x`` with the channels reversed, from slightly noisy input."""

    def __init__(self, *, noise: float = 0.05, interrupt_at: int | None = None,
                 method: str = "fake-tiny") -> None:
        self.noise = noise
        self.interrupt_at = interrupt_at
        self.method = method
        self.steps_seen: list[int] = []
        self.batch_shapes: list[tuple[int, ...]] = []

    def build_model(self) -> nn.Module:
        return nn.Conv2d(3, 3, 3, padding=1)

    def training_step(self, model: nn.Module, batch: torch.Tensor, step: int) -> LossTerms:
        if self.interrupt_at is not None and step == self.interrupt_at:
            self.interrupt_at = None
            raise KeyboardInterrupt
        self.steps_seen.append(step)
        self.batch_shapes.append(tuple(batch.shape))
        noisy = batch + self.noise * torch.randn_like(batch)
        target = 1.0 - batch.flip(1)
        loss = F.mse_loss(model(noisy), target)
        return LossTerms(total=loss, content={"mse": loss})

    def metadata(self) -> dict:
        return {"method": self.method, "noise": self.noise}


class SignalsAt(TinyTask):
    """Sends this process a real SIGINT (Ctrl-C), or ``signum``, during one step."""

    def __init__(self, step: int, signum: int = signal.SIGINT) -> None:
        super().__init__()
        self.signal_at = step
        self.signum = signum

    def training_step(self, model: nn.Module, batch: torch.Tensor, step: int) -> LossTerms:
        if step == self.signal_at:
            os.kill(os.getpid(), self.signum)
        return super().training_step(model, batch, step)


def write_images(folder: Path, count: int = 6, *, seed: int = 0,
                 sizes: tuple[tuple[int, int], ...] = ((40, 48), (36, 36), (20, 28))
                 ) -> list[Path]:
    """``count`` random RGB PNGs (some smaller than a 32 px crop) in ``folder``/sub."""
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(count):
        height, width = sizes[i % len(sizes)]
        pixels = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
        path = folder / ("sub" if i % 2 else "") / f"img{i}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(path)
        paths.append(path)
    return paths


def main(argv: list[str]) -> None:
    """Under torchrun: a 6-iteration run, and a 3-iteration run resumed to 6; each rank
    writes both final models, their losses by step and the skipped files to OUT/rank<R>.*"""
    import json
    import os

    from safetensors.torch import save_file

    from styx.training.loop import TrainingOptions, train

    content, run_dir, out = (Path(a) for a in argv[:3])
    config = TrainingOptions(iterations=6, batch_size=2, image_size=16, lr=1e-2,
                         checkpoint_every=3, log_every=2, device="cpu", quiet=True)
    # train() joins the group torchrun describes (env://) and leaves it at the end.
    whole = train(TinyTask(), content, config, run_dir=run_dir / "whole")
    # A group the caller made is used as is. (A fresh FileStore: joining again through
    # torchrun's TCP store would read the first group's stale addresses.)
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{run_dir / 'store'}",
                            rank=int(os.environ["RANK"]),
                            world_size=int(os.environ["WORLD_SIZE"]))
    train(TinyTask(), content, TrainingOptions(**{**config.__dict__, "iterations": 3}),
          run_dir=run_dir / "split")
    resumed = train(TinyTask(), content, config, run_dir=run_dir / "split", resume=True)
    assert dist.is_initialized()
    dist.destroy_process_group()
    rank = int(os.environ["RANK"])
    tensors = {f"{name}.{key}": value.detach().contiguous()
               for name, result in (("whole", whole), ("resumed", resumed))
               for key, value in result.model.state_dict().items()}
    save_file(tensors, str(out / f"rank{rank}.safetensors"))
    (out / f"rank{rank}.json").write_text(json.dumps({
        "world_size": whole.world_size, "iterations": resumed.iterations_done,
        "whole_losses": {h["step"]: h["total"] for h in whole.history},
        "resumed_losses": {h["step"]: h["total"] for h in resumed.history},
        "skipped": whole.skipped_files, "checkpoint": str(whole.checkpoint)}))


if __name__ == "__main__":
    main(sys.argv[1:])
