"""styx.core.imagefile on NumPy arrays, as ``styx infer`` uses it (no torch): writing arrays
to files, resizing arrays, and how high-depth Pillow modes become values in [0, 1]."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from styx.core.errors import StyxError
from styx.core.imagefile import (
    arrays_to_pil,
    pil_to_arrays,
    resize_array,
    to_uint8,
    write_image,
)


def pixels(path):
    with Image.open(path) as image:
        return image.mode, np.asarray(image).copy()


# -- writing arrays ---------------------------------------------------------------------------
def test_write_image_rounds_to_the_nearest_byte_and_clamps(tmp_path):
    rgb = np.array([[[0.0, 0.25, 1.0], [-0.5, 1.5, 0.5 / 255]]], dtype=np.float32)
    path = write_image(rgb, tmp_path / "out.png")
    assert path == tmp_path / "out.png"
    mode, values = pixels(path)
    assert mode == "RGB"
    assert values.tolist() == [[[0, 64, 255], [0, 255, 0]]]  # 63.75 -> 64, 0.5 -> 0 (even)
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]  # no temporary left


def test_write_image_keeps_alpha_where_the_format_has_it(tmp_path):
    rgb = np.full((2, 2, 3), 0.5, dtype=np.float32)
    alpha = np.array([[0.0, 1.0], [np.nan, 0.2]], dtype=np.float32)
    mode, values = pixels(write_image(rgb, tmp_path / "a.png", alpha=alpha))
    assert mode == "RGBA"
    assert values[..., 3].tolist() == [[0, 255], [255, 51]]  # NaN alpha is opaque
    mode, values = pixels(write_image(rgb, tmp_path / "a.jpg", alpha=alpha))
    assert mode == "RGB" and values.shape == (2, 2, 3)


def test_write_image_jpeg_quality_is_used(tmp_path):
    rng = np.random.default_rng(0)
    rgb = rng.random((32, 32, 3)).astype(np.float32)
    low = write_image(rgb, tmp_path / "low.jpg", quality=5).stat().st_size
    high = write_image(rgb, tmp_path / "high.jpg", quality=95).stat().st_size
    default = write_image(rgb, tmp_path / "default.jpg").stat().st_size
    assert low < high and default == high


def test_write_image_refuses_non_finite_colours_and_writes_nothing(tmp_path):
    rgb = np.zeros((2, 2, 3), dtype=np.float32)
    rgb[0, 0, 1] = np.inf
    with pytest.raises(StyxError) as caught:
        write_image(rgb, tmp_path / "out.png")
    assert caught.value.message == "the image contains NaN or infinite values"
    assert "lower the learning rate" in caught.value.hint
    assert list(tmp_path.iterdir()) == []


def test_a_failed_encode_is_a_styx_error_and_keeps_the_old_file(tmp_path, monkeypatch):
    old = write_image(np.zeros((1, 1, 3), dtype=np.float32), tmp_path / "out.png")
    before = old.read_bytes()

    def broken_save(self, fp, format=None, **options):
        with open(fp, "wb") as handle:
            handle.write(b"half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(StyxError) as caught:
        write_image(np.ones((1, 1, 3), dtype=np.float32), old)
    assert caught.value.message == f"cannot write {old}: No space left on device"
    assert old.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_a_permission_error_while_writing_says_so(tmp_path, monkeypatch):
    def denied(self, fp, format=None, **options):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Image.Image, "save", denied)
    with pytest.raises(StyxError) as caught:
        write_image(np.ones((1, 1, 3), dtype=np.float32), tmp_path / "x.png")
    assert caught.value.message == f"cannot write {tmp_path / 'x.png'}: permission denied"


def test_arrays_to_pil_checks_the_shapes():
    with pytest.raises(StyxError) as caught:
        arrays_to_pil(np.zeros((2, 2), dtype=np.float32))
    assert caught.value.message == "expected one H x W x 3 RGB image, got shape (2, 2)"
    with pytest.raises(StyxError, match="expected one H x W x 3"):
        arrays_to_pil(np.zeros((2, 2, 4), dtype=np.float32))
    with pytest.raises(StyxError) as caught:
        arrays_to_pil(np.zeros((2, 2, 3), dtype=np.float32), np.zeros((2, 3), dtype=np.float32))
    assert caught.value.message == "an alpha of (2, 3) for an image of (2, 2)"


def test_to_uint8():
    values = to_uint8(np.array([-1.0, 0.0, 0.5, 1.0, 2.0, 0.998]))
    assert values.dtype == np.uint8 and values.tolist() == [0, 0, 128, 255, 255, 254]


# -- resizing arrays --------------------------------------------------------------------------
def test_resize_array_scales_the_long_side_both_ways():
    rng = np.random.default_rng(1)
    wide = rng.random((4, 8, 3)).astype(np.float32)
    small = resize_array(wide, 4)
    assert small.shape == (2, 4, 3) and small.dtype == np.float32
    tall = resize_array(wide.transpose(1, 0, 2), 16)
    assert tall.shape == (16, 8, 3)
    assert 0.0 <= float(small.min()) and float(tall.max()) <= 1.0


def test_resize_array_returns_the_same_array_at_its_size():
    array = np.zeros((3, 5, 3), dtype=np.float32)
    assert resize_array(array, 5) is array


def test_resize_array_keeps_a_constant_image_and_one_channel():
    flat = np.full((6, 9, 1), 0.25, dtype=np.float32)
    out = resize_array(flat, 3)
    assert out.shape == (2, 3, 1)
    assert np.allclose(out, 0.25, atol=1e-6)


def test_resize_array_keeps_the_short_side_at_least_one_pixel():
    line = np.full((1, 10, 3), 0.5, dtype=np.float32)
    assert resize_array(line, 4).shape == (1, 4, 3)


def test_resize_array_clips_the_overshoot_of_bicubic():
    edge = np.zeros((8, 8, 3), dtype=np.float32)
    edge[:, 4:] = 1.0
    out = resize_array(edge, 32)
    assert float(out.min()) == 0.0 and float(out.max()) == 1.0


def test_resize_array_follows_the_content():
    left = np.zeros((4, 8, 3), dtype=np.float32)
    left[:, :4] = 1.0  # the left half white
    out = resize_array(left, 4)
    assert out[:, 0].mean() > 0.9 and out[:, -1].mean() < 0.1


# -- high-depth modes -------------------------------------------------------------------------
def float_image(values) -> Image.Image:
    return Image.fromarray(np.asarray(values, dtype=np.float32), mode="F")


def test_float_images_in_the_byte_range_are_divided_by_255():
    rgb, alpha = pil_to_arrays(float_image([[0.0, 51.0], [255.0, 127.5]]))
    assert alpha is None and rgb.shape == (2, 2, 3)
    assert np.allclose(rgb[..., 0], [[0.0, 0.2], [1.0, 0.5]])
    assert np.array_equal(rgb[..., 0], rgb[..., 2])


def test_float_images_in_the_16_bit_range_are_divided_by_65535():
    rgb, _ = pil_to_arrays(float_image([[0.0, 65535.0], [300.0, 13107.0]]))
    assert np.allclose(rgb[..., 0], [[0.0, 1.0], [300 / 65535, 0.2]])


def test_negative_or_huge_values_are_stretched_and_nan_counts_as_zero():
    rgb, _ = pil_to_arrays(float_image([[-1.0, 1.0], [np.nan, 3.0]]))
    assert np.allclose(rgb[..., 0], [[0.0, 0.5], [0.25, 1.0]])
    rgb, _ = pil_to_arrays(float_image([[1e6, 3e6]]))
    assert np.allclose(rgb[..., 0], [[0.0, 1.0]])


def test_a_constant_out_of_range_image_is_black():
    rgb, _ = pil_to_arrays(float_image([[-5.0, -5.0]]))
    assert np.array_equal(rgb, np.zeros((1, 2, 3), dtype=np.float32))


def test_32_bit_integer_images_outside_16_bits_are_stretched():
    image = Image.fromarray(np.array([[0, 100000], [50000, 200000]], dtype=np.int32), mode="I")
    rgb, _ = pil_to_arrays(image)
    assert np.allclose(rgb[..., 0], [[0.0, 0.5], [0.25, 1.0]])
    assert rgb.dtype == np.float32


def test_16_bit_images_are_divided_by_65535_whatever_their_range():
    image = Image.fromarray(np.array([[0, 1000]], dtype=np.uint16))
    assert image.mode.startswith("I;16")
    rgb, _ = pil_to_arrays(image)
    assert np.allclose(rgb[..., 1], [[0.0, 1000 / 65535]])


def test_an_empty_float_image_reads_as_empty():
    rgb, alpha = pil_to_arrays(Image.new("F", (0, 0)))
    assert rgb.shape == (0, 0, 3) and rgb.dtype == np.float32 and alpha is None


def test_rgb_with_a_transparent_colour_gets_alpha():
    image = Image.new("RGB", (2, 1), (10, 20, 30))
    image.putpixel((1, 0), (1, 2, 3))
    image.info["transparency"] = (1, 2, 3)
    rgb, alpha = pil_to_arrays(image)
    assert alpha is not None and alpha.tolist() == [[1.0, 0.0]]
    assert np.allclose(rgb[0, 0], np.array([10, 20, 30]) / 255)


def test_float_images_in_the_unit_range_are_kept():
    rgb, _ = pil_to_arrays(float_image([[0.0, 0.25], [1.0, 0.5]]))
    assert np.array_equal(rgb[..., 0], np.array([[0.0, 0.25], [1.0, 0.5]], dtype=np.float32))


def test_float_images_just_outside_a_range_take_the_next_one():
    rgb, _ = pil_to_arrays(float_image([[0.0, 2.0]]))  # above 1: the byte range
    assert np.allclose(rgb[..., 0], [[0.0, 2 / 255]])
    rgb, _ = pil_to_arrays(float_image([[0.0, 255.5]]))  # above 255: the 16-bit range
    assert np.allclose(rgb[..., 0], [[0.0, 255.5 / 65535]])


@pytest.mark.parametrize("values, expected", [
    ([[0, 1000]], [[0.0, 1000 / 65535]]),          # from zero: 16-bit data, not stretched
    ([[100, 65535]], [[100 / 65535, 1.0]]),        # up to the 16-bit maximum included
    ([[32768, 65536]], [[0.0, 1.0]]),              # beyond 16 bits: stretched
])
def test_32_bit_integer_images_in_and_out_of_the_16_bit_range(values, expected):
    image = Image.fromarray(np.array(values, dtype=np.int32), mode="I")
    rgb, _ = pil_to_arrays(image)
    assert np.allclose(rgb[..., 0], expected)


def test_resize_array_keeps_the_narrow_side_at_least_one_pixel():
    column = np.full((10, 1, 3), 0.5, dtype=np.float32)
    assert resize_array(column, 4).shape == (4, 1, 3)
