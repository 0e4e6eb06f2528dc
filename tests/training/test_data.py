"""Content crops and the data stream: recursive search, crop sizes, determinism given
(seed, epoch, index), unreadable files skipped, and the resumable, rank-sharded order."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from fake_training_task import write_images
from PIL import Image

from styx.core.errors import StyxError
from styx.training.data import ContentImages, ContentStream, mix_seed


@pytest.fixture
def folder(tmp_path):
    folder = tmp_path / "content"
    write_images(folder, count=6, sizes=((40, 48), (36, 36), (20, 28)))
    return folder


def test_images_are_found_recursively_and_cropped_to_size(folder):
    images = ContentImages(folder, 32, seed=0)
    assert len(images) == 6
    assert {p.parent.name for p in images.files} == {"content", "sub"}
    for index in range(len(images)):
        crop = images[index]
        assert crop.shape == (3, 32, 32) and crop.dtype == torch.float32
        assert 0.0 <= float(crop.min()) and float(crop.max()) <= 1.0


def test_a_crop_is_a_window_of_the_image_at_its_own_resolution(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "a.png")
    images = ContentImages(tmp_path, 16, seed=1)
    whole = torch.from_numpy(pixels.astype(np.float32) / 255.0).permute(2, 0, 1)
    crop = images[0, 0]
    hits = [(top, left) for top in range(25) for left in range(35)
            if torch.allclose(whole[:, top:top + 16, left:left + 16], crop, atol=1e-6)]
    assert len(hits) == 1


def test_small_images_are_resized_up_and_short_side_rescales(folder, tmp_path):
    small = tmp_path / "small"
    small.mkdir()
    Image.new("RGB", (12, 20), (255, 0, 0)).save(small / "tiny.png")
    crop = ContentImages(small, 32)[0]
    assert crop.shape == (3, 32, 32)
    assert torch.allclose(crop[0], torch.ones(32, 32), atol=1e-3)
    scaled = ContentImages(folder, 16, short_side=16)
    assert all(scaled[i].shape == (3, 16, 16) for i in range(len(scaled)))
    with pytest.raises(StyxError, match="short side"):
        ContentImages(folder, 32, short_side=16)


def test_crops_depend_only_on_seed_epoch_and_index(folder):
    a, b = ContentImages(folder, 16, seed=5), ContentImages(folder, 16, seed=5)
    assert torch.equal(a[2, 3], b[2, 3])
    assert torch.equal(a[2, 3], a[2, 3])
    assert not torch.equal(a[0, 0], a[1, 0])  # another epoch, another window
    assert not torch.equal(a[0, 0], ContentImages(folder, 16, seed=6)[0, 0])
    assert mix_seed(1, 2) == mix_seed(1, 2) != mix_seed(2, 1)


def test_unreadable_files_are_skipped_counted_and_replaced_deterministically(folder):
    (folder / "a_broken.jpg").write_bytes(b"junk")
    (folder / "sub" / "empty.png").write_bytes(b"")
    images = ContentImages(folder, 16, seed=0)
    assert len(images) == 8
    broken = images.files.index(folder / "a_broken.jpg")
    crop, newly = images.sample(0, broken)
    assert [path for path, _ in newly] == [str(folder / "a_broken.jpg")]
    assert "not an image" in newly[0][1]
    # The next readable file stands in, cropped with the broken index's randomness.
    fresh = ContentImages(folder, 16, seed=0)
    assert torch.equal(fresh.sample(0, broken)[0], crop)
    assert images.sample(0, broken)[1] == ()  # reported once
    for index in range(len(images)):
        images.sample(0, index)
    assert sorted(images.skipped) == sorted(
        [str(folder / "a_broken.jpg"), str(folder / "sub" / "empty.png")])
    assert images.first_readable() == broken + 1


def test_no_readable_images_missing_or_empty_folders_are_styx_errors(tmp_path):
    with pytest.raises(StyxError, match="not found"):
        ContentImages(tmp_path / "missing", 16)
    (tmp_path / "file.png").write_bytes(b"x")
    with pytest.raises(StyxError, match="not a folder"):
        ContentImages(tmp_path / "file.png", 16)
    empty = tmp_path / "empty"
    (empty / "deeper").mkdir(parents=True)
    (empty / "readme.txt").write_text("hi")
    with pytest.raises(StyxError, match="no images found"):
        ContentImages(empty, 16)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "a.png").write_bytes(b"junk")
    images = ContentImages(broken, 16)
    with pytest.raises(StyxError, match="none of the 1 image file") as error:
        images.first_readable()
    assert "a.png" in error.value.hint
    with pytest.raises(StyxError, match="none of the 1"):
        images.sample(0, 0)
    with pytest.raises(StyxError, match="bad image size"):
        ContentImages(broken, 0)


def test_every_epoch_is_a_fresh_permutation():
    stream = ContentStream(7, seed=1)
    keys = list(itertools.islice(iter(stream), 21))
    epochs = [[i for e, i in keys if e == epoch] for epoch in range(3)]
    assert [sorted(e) for e in epochs] == [list(range(7))] * 3
    assert len({tuple(e) for e in epochs}) == 3
    assert [e for e, _ in keys] == [0] * 7 + [1] * 7 + [2] * 7
    assert list(itertools.islice(iter(ContentStream(7, seed=2)), 7)) != keys[:7]


def test_a_stream_resumes_at_any_position():
    full = list(itertools.islice(iter(ContentStream(5, seed=3)), 17))
    for start in (0, 3, 5, 9):
        resumed = list(itertools.islice(iter(ContentStream(5, seed=3, start=start)),
                                        17 - start))
        assert resumed == full[start:]


def test_ranks_share_out_each_epoch():
    ranks = [ContentStream(7, seed=0, rank=r, world_size=3) for r in range(3)]
    assert {s.per_rank for s in ranks} == {3}
    shares = [s.epoch_keys(0) for s in ranks]
    dealt = [i for share in shares for i in share]
    assert len(dealt) == 9 and set(dealt) == set(range(7))  # 2 padded by wrapping
    order = ContentStream(7, seed=0).epoch_keys(0)
    assert [shares[r][k] for k in range(3) for r in range(3)][:7] == order
    with pytest.raises(ValueError):
        ContentStream(5, rank=2, world_size=2)


def test_the_fingerprint_follows_the_files_not_the_folder(tmp_path):
    write_images(tmp_path / "a", count=3)
    paths = write_images(tmp_path / "b", count=3, seed=9)  # other pixels, same names
    first = ContentImages(tmp_path / "a", 16).fingerprint()
    assert ContentImages(tmp_path / "b", 16).fingerprint() == first
    paths[0].rename(paths[0].with_name("renamed.png"))
    assert ContentImages(tmp_path / "b", 16).fingerprint() != first
