"""styx.files.image_arrays on NumPy arrays, as ``styx infer`` uses it (no torch): writing arrays
to files, resizing arrays, and how high-depth Pillow modes become values in [0, 1]."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
from PIL import Image, ImageOps
from styx_errors import styx_error

from styx.core.errors import StyxError
from styx.files.image_arrays import (
    apply_exif_orientation,
    arrays_to_pil,
    decode_image,
    find_images,
    pil_to_arrays,
    resize_array,
    to_uint8,
    write_image,
    write_picture,
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


def test_resize_array_takes_float64_as_the_same_values_in_float32():
    array = np.random.default_rng(0).random((8, 6, 3))
    resized = resize_array(array, 4)
    assert resized.dtype == np.float32
    assert np.array_equal(resized, resize_array(array.astype(np.float32), 4))


def test_resize_array_keeps_the_narrow_side_at_least_one_pixel():
    column = np.full((10, 1, 3), 0.5, dtype=np.float32)
    assert resize_array(column, 4).shape == (4, 1, 3)


# -- reading files: every problem is one StyxError naming the file ---------------------------
HINT_IMAGE = "give a PNG, JPEG, WebP, BMP or TIFF image"
HINT_SHRINK = "shrink it first (a long side of 512-2048 px is plenty)"
HINT_CORRUPT = "the file may be truncated or corrupt"


def a_png(path, size=(2, 2), mode="RGB"):
    Image.new(mode, size).save(path)
    return path


def missing(folder):
    return folder / "missing.png"


def a_folder(folder):
    (folder / "photo.png").mkdir()
    return folder / "photo.png"


def a_fifo(folder):
    os.mkfifo(folder / "pipe.png")
    return folder / "pipe.png"


def an_empty_file(folder):
    (folder / "empty.png").write_bytes(b"")
    return folder / "empty.png"


def a_text_file(folder):
    (folder / "notes.png").write_text("not a picture")
    return folder / "notes.png"


@pytest.mark.parametrize("make, message, hint", [
    (missing, "image file not found: {path}", "check the path"),
    (a_folder, "{path} is a folder, not an image file", HINT_IMAGE),
    (a_fifo, "{path} is not a regular file", HINT_IMAGE),
    (an_empty_file, "image file {path} is empty", HINT_IMAGE),
    (a_text_file, "{path} is not an image file (or not a format Pillow reads)", HINT_IMAGE),
])
def test_a_bad_image_file_is_one_styx_error_naming_it(tmp_path, make, message, hint):
    path = make(tmp_path)
    assert styx_error(decode_image, path) == (message.format(path=path), hint)


def test_an_image_over_max_pixels_is_refused_with_both_sizes_in_megapixels(tmp_path):
    path = a_png(tmp_path / "big.png", size=(3500, 1000), mode="L")  # 3.5 MP, read lazily
    assert styx_error(decode_image, path, max_pixels=1_500_000) == (
        f"image {path} is 3500x1000 (4 megapixels), more than the limit of 2 megapixels",
        HINT_SHRINK)  # 3.5 and 1.5 round to the even 4 and 2


def test_an_image_over_pillows_bomb_limit_is_refused(tmp_path, monkeypatch):
    path = a_png(tmp_path / "bomb.png", size=(3, 3))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 4)  # Pillow refuses above twice that
    assert styx_error(decode_image, path, max_pixels=None) == (
        f"image {path} has too many pixels to decode safely", HINT_SHRINK)


def test_pillows_bomb_warning_is_silenced_below_its_error_limit(tmp_path, monkeypatch):
    path = a_png(tmp_path / "large.png", size=(4, 4))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10)  # 16 pixels: a warning, not an error
    with pytest.warns(Image.DecompressionBombWarning):
        Image.open(path).close()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rgb, alpha = decode_image(path, max_pixels=None)
    assert [w.category for w in caught] == []
    assert rgb.shape == (4, 4, 3) and alpha is None


def test_other_warnings_while_reading_are_not_hidden(tmp_path, monkeypatch):
    path = a_png(tmp_path / "a.png")
    pillow_open = Image.open

    def open_with_a_warning(*args, **kwargs):
        warnings.warn("Corrupt EXIF data", UserWarning, stacklevel=2)
        return pillow_open(*args, **kwargs)

    monkeypatch.setattr(Image, "open", open_with_a_warning)
    with pytest.warns(UserWarning, match="Corrupt EXIF data"):
        decode_image(path)


def test_an_unreadable_image_says_permission_denied(tmp_path, monkeypatch):
    path = a_png(tmp_path / "locked.png")
    path.chmod(0)
    if os.access(path, os.R_OK):  # root reads it anyway: have Pillow refuse instead

        def denied(*args, **kwargs):
            raise PermissionError(13, "Permission denied", str(path))

        monkeypatch.setattr(Image, "open", denied)
    try:
        assert styx_error(decode_image, path) == (
            f"cannot read image {path}: permission denied",
            "check the file's permissions, or copy it somewhere you can read")
    finally:
        path.chmod(0o644)


def test_a_truncated_image_is_a_styx_error_with_pillows_reason(tmp_path):
    whole = tmp_path / "whole.png"
    Image.fromarray(np.arange(64 * 64 * 3, dtype=np.uint8).reshape(64, 64, 3)).save(whole)
    path = tmp_path / "half.png"
    path.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    message, hint = styx_error(decode_image, path)
    assert message.startswith(f"cannot read image {path}: ") and hint == HINT_CORRUPT


@pytest.mark.parametrize("error, reason", [
    (OSError("broken data stream when reading image file\nat byte 1234"),
     "broken data stream when reading image file"),  # the first line only
    (OSError(), "OSError"),  # no text: the exception's name
    (EOFError(), "EOFError"),
    (ValueError(""), "ValueError"),
])
def test_a_corrupt_image_names_the_first_line_of_the_reason_or_its_kind(
        tmp_path, monkeypatch, error, reason):
    path = a_png(tmp_path / "bad.png")

    def broken(*args, **kwargs):
        raise error

    monkeypatch.setattr(Image, "open", broken)
    assert styx_error(decode_image, path) == (f"cannot read image {path}: {reason}",
                                              HINT_CORRUPT)


# -- EXIF orientation and modes with alpha ---------------------------------------------------
def test_an_image_without_orientation_comes_back_as_a_copy(monkeypatch):
    image = Image.new("RGB", (2, 1), (1, 2, 3))
    upright = apply_exif_orientation(image)
    assert upright is not image and upright.tobytes() == image.tobytes()
    monkeypatch.setattr(ImageOps, "exif_transpose", lambda image: image)  # as older Pillows
    upright = apply_exif_orientation(image)
    assert upright is not image and upright.tobytes() == image.tobytes()


def test_a_broken_exif_block_is_ignored_and_the_image_copied(monkeypatch):
    def broken(image):
        raise SyntaxError("not a TIFF file")

    monkeypatch.setattr(ImageOps, "exif_transpose", broken)
    image = Image.new("RGB", (2, 1), (1, 2, 3))
    upright = apply_exif_orientation(image)
    assert isinstance(upright, Image.Image) and upright is not image
    assert upright.size == (2, 1) and upright.tobytes() == image.tobytes()


def palette_with_alpha() -> Image.Image:
    image = Image.frombytes("PA", (2, 1), bytes([1, 255, 0, 64]))  # (index, alpha) pairs
    image.putpalette([0, 0, 0, 255, 0, 0])
    return image


def gray_with_a_transparent_value() -> Image.Image:
    image = Image.frombytes("L", (2, 1), bytes([0, 200]))
    image.info["transparency"] = 0
    return image


@pytest.mark.parametrize("make, rgb, alpha", [
    (lambda: Image.frombytes("RGBa", (2, 1), bytes([100, 50, 20, 128, 10, 10, 10, 0])),
     [[[199, 99, 39], [10, 10, 10]]], [[128, 0]]),  # premultiplied: colours divided by alpha
    (lambda: Image.frombytes("La", (2, 1), bytes([100, 128, 10, 0])),
     [[[199] * 3, [10] * 3]], [[128, 0]]),  # premultiplied grey, which Pillow makes LA only
    (palette_with_alpha, [[[255, 0, 0], [0, 0, 0]]], [[255, 64]]),
    (gray_with_a_transparent_value, [[[0, 0, 0], [200, 200, 200]]], [[0, 255]]),
])
def test_modes_with_alpha_or_a_transparent_colour_give_an_alpha(make, rgb, alpha):
    colours, opacity = pil_to_arrays(make())
    assert opacity is not None and opacity.dtype == np.float32
    assert np.allclose(opacity, np.array(alpha) / 255)
    assert np.allclose(colours, np.array(rgb) / 255)


# -- finding images ----------------------------------------------------------------------------
def test_find_images_refuses_a_missing_folder_and_a_file(tmp_path):
    assert styx_error(find_images, tmp_path / "missing") == (
        f"folder not found: {tmp_path / 'missing'}", "check the path")
    path = a_png(tmp_path / "a.png")
    assert styx_error(find_images, path) == (f"{path} is not a folder",
                                             "give a folder of images")


# -- exact errors of arrays_to_pil and write_picture -------------------------------------------
SHAPE_HINT = "pil_to_arrays gives arrays of that shape"


@pytest.mark.parametrize("rgb, alpha, message, hint", [
    (np.zeros((2, 2)), None, "expected one H x W x 3 RGB image, got shape (2, 2)", SHAPE_HINT),
    (np.zeros((2, 2, 4)), None, "expected one H x W x 3 RGB image, got shape (2, 2, 4)",
     SHAPE_HINT),
    (np.full((1, 1, 3), np.nan), None, "the image contains NaN or infinite values",
     "the optimisation diverged: lower the learning rate or the weights"),
    (np.zeros((2, 2, 3)), np.zeros((2, 3)), "an alpha of (2, 3) for an image of (2, 2)",
     "the alpha is H x W, the size of the image"),
])
def test_arrays_to_pil_errors_name_the_problem_and_the_way_out(rgb, alpha, message, hint):
    rgb = rgb.astype(np.float32)
    alpha = None if alpha is None else alpha.astype(np.float32)
    assert styx_error(arrays_to_pil, rgb, alpha) == (message, hint)


def noisy_picture() -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray((rng.random((16, 16, 3)) * 255).astype(np.uint8), mode="RGB")


@pytest.mark.parametrize("fmt, suffix", [("JPEG", ".jpg"), ("WEBP", ".webp")])
def test_write_picture_uses_quality_95_by_default_for_jpeg_and_webp(tmp_path, fmt, suffix):
    picture = noisy_picture()

    def written(name, **quality):
        return write_picture(picture, tmp_path / f"{name}{suffix}", fmt, **quality).read_bytes()

    default = written("default")
    assert default == written("q95", quality=95)
    assert default != written("q96", quality=96)
    assert len(written("q5", quality=5)) < len(default)


def test_write_picture_writes_the_format_it_is_given_whatever_the_suffix(tmp_path):
    path = write_picture(noisy_picture(), tmp_path / "out.png", "JPEG")
    assert path == tmp_path / "out.png"
    with Image.open(path) as image:
        assert image.format == "JPEG"


@pytest.mark.parametrize("error, reason", [
    (PermissionError(13, "Permission denied"), "permission denied"),
    (OSError(28, "No space left on device"), "No space left on device"),
    (OSError("the disk went away"), "the disk went away"),  # no strerror: the text
])
def test_write_picture_errors_say_why_and_suggest_another_folder(tmp_path, monkeypatch,
                                                                 error, reason):
    def failing(self, fp, format=None, **options):
        raise error

    monkeypatch.setattr(Image.Image, "save", failing)
    path = tmp_path / "out.png"
    assert styx_error(write_picture, noisy_picture(), path, "PNG") == (
        f"cannot write {path}: {reason}", "choose a folder you can write to")
    assert list(tmp_path.iterdir()) == []
