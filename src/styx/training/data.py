"""Content images for training: random square crops from a folder of images.

:class:`ContentImages` finds every image under a folder (recursively) and gives square
crops of ``image_size`` pixels. A crop is a pure function of ``(seed, epoch, index)``, so
a resumed run sees exactly the crops the interrupted run would have seen. Files that
cannot be read are skipped (the next readable file stands in for them) and remembered in
:attr:`ContentImages.skipped` with the reason (:func:`styx.files.badfiles.reason_of`); only a
folder with no readable image at all is an error.

:class:`ContentStream` is the sampler: an endless sequence of ``(epoch, index)`` keys, a
fresh permutation per epoch, sharded by rank for distributed training, that can start at
any position.
"""

from __future__ import annotations

import hashlib
import math
import os
import random
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch
from torch.utils.data import Dataset, Sampler

from styx.core.errors import StyxError


def mix_seed(*parts: object) -> int:
    """A 63-bit seed derived from ``parts`` (stable across processes and Python versions)."""
    text = "\x1f".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little") >> 1


class ContentImages(Dataset):
    """Square random crops of the images in ``folder`` (searched recursively).

    ``dataset[epoch, index]`` (or ``dataset[index]`` for epoch 0) is a 3 x S x S float32
    tensor in [0, 1]. An image whose shorter side is below ``image_size`` is first resized
    up (aspect kept). ``short_side``, if given, resizes every image so its shorter side
    has that many pixels before cropping (e.g. 256-512 for large photos); by default
    images keep their own resolution.
    """

    def __init__(self, folder: str | os.PathLike[str], image_size: int, seed: int = 0, *,
                 short_side: int | None = None) -> None:
        from styx.files.image_arrays import find_images

        if int(image_size) < 1:
            raise StyxError(f"bad image size {image_size!r}", "the crop size must be >= 1 px")
        if short_side is not None and int(short_side) < int(image_size):
            raise StyxError(f"short side {short_side} is smaller than the crop size "
                            f"{image_size}", "choose a short side >= the image size")
        self.folder = Path(folder).expanduser()
        self.image_size = int(image_size)
        self.seed = int(seed)
        self.short_side = None if short_side is None else int(short_side)
        self.files: list[Path] = find_images(self.folder, recursive=True)
        if not self.files:
            raise StyxError(f"no images found in {self.folder}",
                            "give a folder of content images (png, jpg, webp, bmp, tif; "
                            "subfolders are searched too)")
        #: Unreadable files met so far: path -> reason (per process; see sample()).
        self.skipped: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self.files)

    def fingerprint(self) -> str:
        """A short hash of the image files' paths relative to the folder, in order: the
        same for the same files wherever the folder lives, different when a file is
        added, removed or renamed (which changes every later crop)."""
        digest = hashlib.blake2b(digest_size=8)
        for path in self.files:
            digest.update(path.relative_to(self.folder).as_posix().encode() + b"\0")
        return digest.hexdigest()

    # -- reading ---------------------------------------------------------------------------
    def _read(self, index: int) -> torch.Tensor | None:
        """Image ``index`` as 1 x 3 x H x W, or None (and remembered) if it cannot be read."""
        from styx.files.badfiles import reason_of
        from styx.runtime.image_tensors import read_image

        path = self.files[index]
        if str(path) in self.skipped:
            return None
        try:
            image = read_image(path).rgb
        except StyxError as error:
            self.skipped[str(path)] = reason_of(error)
            return None
        if image.shape[-2] < 1 or image.shape[-1] < 1:
            self.skipped[str(path)] = "empty image"
            return None
        return image

    def _next_readable(self, start: int) -> tuple[int, torch.Tensor]:
        """The index of the first readable image from ``start`` on (cyclically), and it."""
        count = len(self.files)
        for index in (i % count for i in range(start, start + count)):
            if (image := self._read(index)) is not None:
                return index, image
        raise StyxError(f"none of the {count} image file(s) in {self.folder} can be read",
                        "check the files: " + _first_reasons(self.skipped))

    def first_readable(self) -> int:
        """The index of the first readable image; StyxError if none can be read."""
        return self._next_readable(0)[0]

    def sample(self, epoch: int, index: int
               ) -> tuple[torch.Tensor, tuple[tuple[str, str], ...]]:
        """The crop for ``(epoch, index)`` and the ``(path, reason)`` of files newly found
        unreadable on the way.

        An unreadable file is replaced by the next readable one (cyclically), cropped with
        the same ``(seed, epoch, index)`` randomness, so the result stays deterministic.
        """
        before = set(self.skipped)
        crop = self._crop(self._next_readable(index)[1], epoch, index)
        return crop, tuple((p, self.skipped[p]) for p in sorted(set(self.skipped) - before))

    def __getitem__(self, key: int | Sequence[int]) -> torch.Tensor:
        epoch, index = (0, key) if isinstance(key, int) else (int(key[0]), int(key[1]))
        return self.sample(epoch, index)[0]

    # -- cropping --------------------------------------------------------------------------
    def _crop(self, image: torch.Tensor, epoch: int, index: int) -> torch.Tensor:
        from styx.runtime.image_tensors import resize_to

        size = self.image_size
        height, width = int(image.shape[-2]), int(image.shape[-1])
        target_short = self.short_side if self.short_side is not None else \
            max(size, min(height, width))
        if min(height, width) != target_short:
            scale = target_short / min(height, width)
            height, width = max(size, round(height * scale)), max(size, round(width * scale))
            image = resize_to(image, (height, width))
        rng = random.Random(mix_seed("crop", self.seed, epoch, index))
        top = rng.randint(0, height - size)
        left = rng.randint(0, width - size)
        return image[0, :, top:top + size, left:left + size].contiguous()


def _first_reasons(skipped: dict[str, str], limit: int = 2) -> str:
    items = list(skipped.items())[:limit]
    text = "; ".join(f"{Path(p).name}: {r}" for p, r in items)
    return text + (f"; and {len(skipped) - limit} more" if len(skipped) > limit else "")


class ContentStream(Sampler):
    """The endless stream of ``(epoch, index)`` keys one rank reads, from sample ``start``.

    Every epoch is a fresh permutation of the ``length`` images (seeded by ``seed`` and
    the epoch), padded by wrapping to a multiple of ``world_size`` and dealt out by rank,
    as :class:`torch.utils.data.DistributedSampler` does. Each rank's epoch holds
    ``ceil(length / world_size)`` samples; sample ``s`` of a rank is its
    ``s % per_rank``-th key of epoch ``s // per_rank``, so any position can be resumed.
    """

    def __init__(self, length: int, seed: int = 0, *, rank: int = 0, world_size: int = 1,
                 start: int = 0) -> None:
        if length < 1:
            raise ValueError("an empty stream")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside a world of {world_size}")
        self.length = int(length)
        self.seed = int(seed)
        self.rank = int(rank)
        self.world_size = int(world_size)
        self.start = int(start)
        self.per_rank = math.ceil(self.length / self.world_size)

    def epoch_keys(self, epoch: int) -> list[int]:
        """This rank's image indices in ``epoch``, in order."""
        generator = torch.Generator().manual_seed(mix_seed("epoch", self.seed, epoch))
        order = torch.randperm(self.length, generator=generator).tolist()
        padded = self.per_rank * self.world_size
        order = (order * math.ceil(padded / self.length))[:padded]
        return order[self.rank::self.world_size]

    def __iter__(self) -> Iterator[tuple[int, int]]:
        epoch, position = divmod(self.start, self.per_rank)
        while True:
            for index in self.epoch_keys(epoch)[position:]:
                yield epoch, index
            epoch, position = epoch + 1, 0


# -- batches for the training loop ---------------------------------------------------------
def _collate(items: list[tuple[torch.Tensor, tuple[tuple[str, str], ...]]]
             ) -> tuple[torch.Tensor, dict[str, str]]:
    return (torch.stack([crop for crop, _ in items]),
            {path: reason for _, pairs in items for path, reason in pairs})


class _Samples(Dataset):
    """``ContentImages.sample`` behind the Dataset interface, keyed by ``(epoch, index)``."""

    def __init__(self, images: ContentImages) -> None:
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, key: tuple[int, int]
                    ) -> tuple[torch.Tensor, tuple[tuple[str, str], ...]]:
        return self.images.sample(*key)


def content_batches(images: ContentImages, *, batch_size: int, seed: int, start: int,
                    rank: int = 0, world_size: int = 1, num_workers: int = 0,
                    pin_memory: bool = False) -> Iterator[tuple[torch.Tensor, dict[str, str]]]:
    """Endless ``(batch, newly skipped files)`` of this rank, from sample ``start`` on:
    batch_size x 3 x S x S crops, the same whatever ``num_workers``."""
    stream = ContentStream(len(images), seed, rank=rank, world_size=world_size, start=start)
    loader = torch.utils.data.DataLoader(
        _Samples(images), batch_size=batch_size, sampler=stream, num_workers=num_workers,
        collate_fn=_collate, drop_last=True, pin_memory=pin_memory,
        # A generator of its own: making the iterator must not draw from the global RNG.
        generator=torch.Generator().manual_seed(mix_seed("loader", seed)),
        persistent_workers=False)
    return iter(loader)


def shape_batches(batch_size: int, image_size: int
                  ) -> Iterator[tuple[torch.Tensor, dict[str, str]]]:
    """Endless batches of a task that reads no content (texture synthesis): each an empty
    ``batch_size x 0 x S x S`` tensor, whose shape alone tells the task what to make."""
    while True:
        yield torch.empty(batch_size, 0, image_size, image_size), {}
