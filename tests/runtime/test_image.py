"""The one image loader and writer: modes, EXIF, alpha, bad files, atomic output, colour."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from styx_errors import styx_error

from styx.core.errors import StyxError
from styx.files.formats import SUPPORTED_OUTPUT_SUFFIXES, check_output_path
from styx.files.image_arrays import DEFAULT_MAX_PIXELS, find_images, images_named, sample_image
from styx.runtime.image_tensors import (
    load_image,
    match_color,
    read_image,
    resize_long_side,
    resize_to,
    rgb_to_yiq,
    save_image,
    yiq_to_rgb,
)


def gradient_rgb(height: int = 24, width: int = 32) -> np.ndarray:
    """An RGB uint8 image whose three channels differ (a horizontal, a vertical ramp, a constant)."""
    ys, xs = np.mgrid[0:height, 0:width]
    red = (xs * 255 // (width - 1)).astype(np.uint8)
    green = (ys * 255 // (height - 1)).astype(np.uint8)
    blue = np.full((height, width), 200, np.uint8)
    return np.stack([red, green, blue], axis=2)


@pytest.fixture(autouse=True)
def _seeded():
    torch.manual_seed(0)  # every random tensor below is reproducible


def as_array(tensor: torch.Tensor) -> np.ndarray:
    return tensor[0].permute(1, 2, 0).numpy()


# -- reading: modes ---------------------------------------------------------------------------
def test_rgb_png_reads_exactly(tmp_path):
    pixels = gradient_rgb()
    Image.fromarray(pixels).save(tmp_path / "a.png")
    loaded = read_image(tmp_path / "a.png")
    assert loaded.rgb.shape == (1, 3, 24, 32) and loaded.rgb.dtype == torch.float32
    assert loaded.alpha is None
    assert loaded.original_size == (24, 32) and loaded.size == (24, 32)
    np.testing.assert_allclose(as_array(loaded.rgb), pixels / 255.0, atol=1e-6)


def test_grayscale_becomes_three_equal_channels(tmp_path):
    gray = gradient_rgb()[..., 0]
    Image.fromarray(gray, mode="L").save(tmp_path / "g.png")
    rgb = load_image(tmp_path / "g.png")
    assert rgb.shape == (1, 3, 24, 32)
    for channel in range(3):
        np.testing.assert_allclose(rgb[0, channel].numpy(), gray / 255.0, atol=1e-6)


def test_la_keeps_alpha_aside(tmp_path):
    gray = gradient_rgb()[..., 0]
    alpha = gradient_rgb()[..., 1]
    Image.fromarray(np.stack([gray, alpha], axis=2), mode="LA").save(tmp_path / "la.png")
    loaded = read_image(tmp_path / "la.png")
    assert loaded.alpha is not None and loaded.alpha.shape == (1, 1, 24, 32)
    np.testing.assert_allclose(loaded.alpha[0, 0].numpy(), alpha / 255.0, atol=1e-6)
    np.testing.assert_allclose(loaded.rgb[0, 1].numpy(), gray / 255.0, atol=1e-6)


def test_rgba_colour_is_not_premultiplied_and_alpha_is_kept(tmp_path):
    pixels = gradient_rgb()
    alpha = np.full((24, 32), 64, np.uint8)
    Image.fromarray(np.dstack([pixels, alpha]), mode="RGBA").save(tmp_path / "a.png")
    loaded = read_image(tmp_path / "a.png")
    np.testing.assert_allclose(as_array(loaded.rgb), pixels / 255.0, atol=1e-6)
    np.testing.assert_allclose(loaded.alpha.numpy(), 64 / 255.0, atol=1e-6)


def test_palette_with_transparency_gives_alpha(tmp_path):
    palette_image = Image.new("P", (8, 6))
    palette_image.putpalette([255, 0, 0, 0, 0, 255] + [0] * (256 * 3 - 6))
    palette_image.paste(1, (4, 0, 8, 6))  # right half: index 1 = blue
    palette_image.info["transparency"] = 0  # index 0 (red) is transparent
    palette_image.save(tmp_path / "p.png", transparency=0)
    loaded = read_image(tmp_path / "p.png")
    assert loaded.alpha is not None
    assert loaded.alpha[0, 0, :, :4].max() == 0.0 and loaded.alpha[0, 0, :, 4:].min() == 1.0
    assert torch.allclose(loaded.rgb[0, :, 0, 6], torch.tensor([0.0, 0.0, 1.0]))


def test_palette_without_transparency_has_no_alpha(tmp_path):
    Image.fromarray(gradient_rgb()).convert("P").save(tmp_path / "p.gif")
    loaded = read_image(tmp_path / "p.gif")
    assert loaded.alpha is None and loaded.rgb.shape == (1, 3, 24, 32)


def test_cmyk_jpeg_converts_to_rgb(tmp_path):
    Image.new("RGB", (16, 16), (255, 0, 0)).convert("CMYK").save(tmp_path / "c.jpg",
                                                                   quality=100)
    assert Image.open(tmp_path / "c.jpg").mode == "CMYK"
    rgb = load_image(tmp_path / "c.jpg")[0, :, 8, 8]
    assert rgb[0] > 0.9 and rgb[1] < 0.1 and rgb[2] < 0.1


def test_16_bit_grayscale_is_scaled_not_clipped(tmp_path):
    values = np.linspace(0, 65535, 20 * 10).reshape(10, 20).astype(np.uint16)
    Image.fromarray(values).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode == "I;16"
    rgb = load_image(tmp_path / "deep.png")
    np.testing.assert_allclose(rgb[0, 0].numpy(), values / 65535.0, atol=1e-6)
    # Mid-grey stays mid-grey (a clipping converter would turn everything above 255 white).
    assert 0.4 < float(rgb.mean()) < 0.6


def test_32_bit_integer_tiff_with_16_bit_values(tmp_path):
    values = np.full((6, 9), 32768, np.int32)
    values[0, 0] = 0
    Image.fromarray(values, mode="I").save(tmp_path / "i.tif")
    assert Image.open(tmp_path / "i.tif").mode == "I"
    rgb = load_image(tmp_path / "i.tif")
    assert rgb[0, 0, 3, 3] == pytest.approx(32768 / 65535, abs=1e-6)
    assert rgb[0, 2, 0, 0] == 0.0


def test_float_tiff_in_unit_range_is_kept(tmp_path):
    values = np.linspace(0.0, 1.0, 48, dtype=np.float32).reshape(6, 8)
    Image.fromarray(values, mode="F").save(tmp_path / "f.tif")
    assert Image.open(tmp_path / "f.tif").mode == "F"
    rgb = load_image(tmp_path / "f.tif")
    np.testing.assert_allclose(rgb[0, 1].numpy(), values, atol=1e-6)


def test_float_tiff_out_of_range_is_stretched(tmp_path):
    values = np.linspace(-50.0, 1000.0, 48, dtype=np.float32).reshape(6, 8)
    Image.fromarray(values, mode="F").save(tmp_path / "f.tif")
    rgb = load_image(tmp_path / "f.tif")
    assert float(rgb.min()) == 0.0 and float(rgb.max()) == pytest.approx(1.0)
    np.testing.assert_allclose(rgb[0, 0].numpy(), (values + 50.0) / 1050.0, atol=1e-6)


def test_exif_orientation_is_applied(tmp_path):
    # Stored 32 wide x 24 high, with a red left column; orientation 6 = rotate 90 deg CW to view.
    pixels = np.zeros((24, 32, 3), np.uint8)
    pixels[:, :4] = (255, 0, 0)
    stored = Image.fromarray(pixels)
    exif = stored.getexif()
    exif[0x0112] = 6
    stored.save(tmp_path / "rotated.jpg", exif=exif, quality=95)
    loaded = read_image(tmp_path / "rotated.jpg")
    assert loaded.size == (32, 24)  # upright: 24 wide, 32 high
    # Turned clockwise, the stored left column becomes the top row.
    assert float(loaded.rgb[0, 0, :3, :].mean()) > 0.8
    assert float(loaded.rgb[0, 0, -8:, :].mean()) < 0.2


# -- reading: resizing and size guard --------------------------------------------------------
def test_long_side_resizes_both_ways(tmp_path):
    Image.fromarray(gradient_rgb(24, 32)).save(tmp_path / "a.png")
    assert read_image(tmp_path / "a.png", long_side=16).size == (12, 16)
    assert read_image(tmp_path / "a.png", long_side=64).size == (48, 64)
    portrait = read_image(tmp_path / "a.png", long_side=16)
    assert portrait.original_size == (24, 32)


def test_long_side_resizes_alpha_too(tmp_path):
    rgba = np.dstack([gradient_rgb(), np.full((24, 32), 128, np.uint8)])
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "a.png")
    loaded = read_image(tmp_path / "a.png", long_side=8)
    assert loaded.alpha.shape == (1, 1, 6, 8)
    assert torch.allclose(loaded.alpha, torch.full_like(loaded.alpha, 128 / 255), atol=1e-4)


def test_resize_is_antialiased():
    stripes = torch.zeros(1, 3, 64, 64)
    stripes[..., ::2] = 1.0  # one-pixel stripes: their average is 0.5
    small = resize_long_side(stripes, 8)
    assert small.shape == (1, 3, 8, 8)
    assert torch.allclose(small, torch.full_like(small, 0.5), atol=0.02)


def test_resize_helpers_accept_chw_and_keep_range():
    image = torch.rand(3, 10, 20)
    out = resize_to(image, (5, 7))
    assert out.shape == (3, 5, 7) and out.min() >= 0 and out.max() <= 1
    assert resize_to(image, (10, 20)) is image
    with pytest.raises(StyxError):
        resize_long_side(image, 0)


def test_too_many_pixels_is_a_styx_error_before_decoding(tmp_path):
    Image.fromarray(gradient_rgb(40, 50)).save(tmp_path / "big.png")
    with pytest.raises(StyxError, match=r"big\.png.*megapixels"):
        read_image(tmp_path / "big.png", max_pixels=1999)
    assert read_image(tmp_path / "big.png", max_pixels=2000).size == (40, 50)
    assert DEFAULT_MAX_PIXELS >= 50_000_000


def test_pillow_decompression_bomb_is_a_styx_error(tmp_path, monkeypatch):
    Image.fromarray(gradient_rgb(40, 50)).save(tmp_path / "bomb.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # Pillow raises above 2x this
    with pytest.raises(StyxError, match="bomb.png"):
        read_image(tmp_path / "bomb.png", max_pixels=None)


# -- reading: bad files ----------------------------------------------------------------------
def test_missing_file(tmp_path):
    with pytest.raises(StyxError, match="not found: .*nope.png"):
        read_image(tmp_path / "nope.png")


def test_empty_file(tmp_path):
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(StyxError, match="empty.jpg is empty"):
        read_image(tmp_path / "empty.jpg")


def test_folder_instead_of_file(tmp_path):
    (tmp_path / "dir.png").mkdir()
    with pytest.raises(StyxError, match="dir.png is a folder"):
        read_image(tmp_path / "dir.png")


def test_text_file_is_not_an_image(tmp_path):
    (tmp_path / "notes.jpg").write_text("hello, not a picture\n")
    with pytest.raises(StyxError, match="notes.jpg is not an image"):
        read_image(tmp_path / "notes.jpg")


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_truncated_file(tmp_path, suffix):
    rng = np.random.default_rng(0)
    noisy = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)  # incompressible
    Image.fromarray(noisy).save(tmp_path / f"full{suffix}")
    data = (tmp_path / f"full{suffix}").read_bytes()
    (tmp_path / f"cut{suffix}").write_bytes(data[: len(data) // 2])
    with pytest.raises(StyxError, match=f"cannot read image .*cut{suffix}") as caught:
        read_image(tmp_path / f"cut{suffix}")
    assert "\n" not in str(caught.value)


def test_errors_are_one_line_and_name_the_file(tmp_path):
    (tmp_path / "x.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(StyxError) as caught:
        read_image(tmp_path / "x.png")
    assert "x.png" in caught.value.message and "\n" not in str(caught.value)


# -- writing ---------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", SUPPORTED_OUTPUT_SUFFIXES)
def test_save_and_read_back_every_format(tmp_path, suffix):
    pixels = torch.from_numpy(gradient_rgb()).permute(2, 0, 1).float().div(255)[None]
    path = save_image(pixels, tmp_path / "sub" / f"out{suffix}")
    assert path.exists() and path.parent.name == "sub"
    back = load_image(path)
    assert back.shape == pixels.shape
    tolerance = 0.06 if suffix in (".jpg", ".jpeg", ".webp") else 1e-6
    assert float((back - pixels).abs().mean()) < tolerance
    assert [p.name for p in path.parent.iterdir()] == [f"out{suffix}"]


def test_save_accepts_chw_and_clamps(tmp_path):
    image = torch.full((3, 4, 5), 0.5)
    image[0] = 2.0
    image[1] = -1.0
    back = load_image(save_image(image, tmp_path / "c.png"))
    assert torch.allclose(back[0, :, 0, 0], torch.tensor([1.0, 0.0, 128 / 255]))


@pytest.mark.parametrize("suffix", [".png", ".webp", ".tiff"])
def test_alpha_round_trips_where_the_format_allows(tmp_path, suffix):
    rgb = torch.rand(1, 3, 8, 12)
    alpha = torch.linspace(0, 1, 12).expand(1, 1, 8, 12).contiguous()
    options = {} if suffix != ".webp" else {"quality": 100}
    path = save_image(rgb, tmp_path / f"a{suffix}", alpha=alpha, **options)
    back = read_image(path)
    assert back.alpha is not None
    assert float((back.alpha - alpha).abs().max()) < (0.02 if suffix == ".webp" else 0.003)


def test_alpha_is_resized_to_the_image(tmp_path):
    back = read_image(save_image(torch.rand(1, 3, 16, 16), tmp_path / "a.png",
                                 alpha=torch.full((1, 1, 4, 4), 0.25)))
    assert back.alpha.shape == (1, 1, 16, 16)
    assert torch.allclose(back.alpha, torch.full_like(back.alpha, 64 / 255), atol=1e-6)


@pytest.mark.parametrize("suffix", [".jpg", ".bmp"])
def test_alpha_is_dropped_where_the_format_has_none(tmp_path, suffix):
    path = save_image(torch.rand(1, 3, 8, 8), tmp_path / f"a{suffix}",
                      alpha=torch.zeros(1, 1, 8, 8))
    assert read_image(path).alpha is None


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_save_refuses_nan_and_inf_and_writes_nothing(tmp_path, bad):
    image = torch.rand(1, 3, 4, 4)
    image[0, 1, 2, 2] = bad
    with pytest.raises(StyxError, match="NaN or infinite"):
        save_image(image, tmp_path / "out.png")
    assert list(tmp_path.iterdir()) == []


def test_save_refuses_a_batch_or_wrong_channels(tmp_path):
    with pytest.raises(StyxError):
        save_image(torch.rand(2, 3, 4, 4), tmp_path / "out.png")
    with pytest.raises(StyxError):
        save_image(torch.rand(1, 4, 4, 4), tmp_path / "out.png")


def test_failing_save_leaves_no_file_and_no_temporary(tmp_path, monkeypatch):
    (tmp_path / "out.png").write_bytes(b"old")
    original = Image.Image.save

    def half_then_fail(self, fp, *args, **kwargs):
        original(self, fp, *args, **kwargs)  # the temporary file is complete on disk ...
        raise OSError(28, "No space left on device")  # ... then the write "fails"

    monkeypatch.setattr(Image.Image, "save", half_then_fail)
    with pytest.raises(StyxError, match="cannot write .*out.png: No space left"):
        save_image(torch.rand(1, 3, 8, 8), tmp_path / "out.png")
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]
    assert (tmp_path / "out.png").read_bytes() == b"old"  # the old file is untouched


def test_interrupted_save_leaves_no_temporary(tmp_path, monkeypatch):
    def interrupted(self, fp, *args, **kwargs):
        with open(fp, "wb") as handle:
            handle.write(b"\x89PNG half")
        raise KeyboardInterrupt

    monkeypatch.setattr(Image.Image, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_image(torch.rand(1, 3, 8, 8), tmp_path / "new.png")
    assert list(tmp_path.iterdir()) == []


# -- output path checks ----------------------------------------------------------------------
@pytest.mark.parametrize("name", ["out.gif", "out.svg", "out", "out.PNG.txt"])
def test_unsupported_output_suffix(tmp_path, name):
    with pytest.raises(StyxError, match="cannot write images as"):
        check_output_path(tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_check_output_path_accepts_upper_case_and_new_folders(tmp_path):
    path = check_output_path(tmp_path / "new" / "deeper" / "OUT.JPG")
    assert path == tmp_path / "new" / "deeper" / "OUT.JPG"
    assert not (tmp_path / "new").exists()  # checks only, creates nothing


def test_check_output_path_refuses_a_folder_or_a_file_as_parent(tmp_path):
    (tmp_path / "taken.png").mkdir()
    with pytest.raises(StyxError, match="is a folder"):
        check_output_path(tmp_path / "taken.png")
    (tmp_path / "file").write_text("x")
    with pytest.raises(StyxError, match="not a folder"):
        check_output_path(tmp_path / "file" / "out.png")


# -- finding and samples ---------------------------------------------------------------------
def test_find_images_sorted_recursive_and_skips_hidden(tmp_path):
    for name in ["b.PNG", "a.jpg", "sub/c.webp", "sub/deeper/d.tif", "notes.txt",
                 ".hidden.png", ".cache/e.png", "sub/.f.png.tmp-1-ab.png"]:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    (tmp_path / "folder.png").mkdir()
    found = [p.relative_to(tmp_path).as_posix() for p in find_images(tmp_path)]
    assert found == ["a.jpg", "b.PNG", "sub/c.webp", "sub/deeper/d.tif"]
    flat = [p.name for p in find_images(tmp_path, recursive=False)]
    assert flat == ["a.jpg", "b.PNG"]


def test_find_images_bad_folder(tmp_path):
    with pytest.raises(StyxError, match="not found"):
        find_images(tmp_path / "missing")
    (tmp_path / "a.png").write_bytes(b"x")
    with pytest.raises(StyxError, match="not a folder"):
        find_images(tmp_path / "a.png")


def test_images_named_takes_files_as_given_and_folders_recursively(tmp_path, monkeypatch):
    for name in ["one.png", "set/b.jpg", "set/deeper/a.png", "set/notes.txt"]:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    monkeypatch.setenv("HOME", str(tmp_path))
    named = images_named(["~/set", tmp_path / "one.png", "~/one.png"])
    assert named == [tmp_path / "set/b.jpg", tmp_path / "set/deeper/a.png",
                     tmp_path / "one.png", tmp_path / "one.png"]  # in the order given
    assert images_named([]) == []


def test_images_named_refuses_a_missing_path_and_an_empty_folder(tmp_path):
    with pytest.raises(StyxError) as missing:
        images_named([tmp_path / "nope.png"])
    assert (missing.value.message, missing.value.hint) == \
        (f"image file not found: {tmp_path / 'nope.png'}", "check the path")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("x")
    with pytest.raises(StyxError) as empty:
        images_named([tmp_path / "empty"])
    assert empty.value.message == f"no images found in {tmp_path / 'empty'}"
    assert empty.value.hint == "give photos (png, jpg, webp, bmp, tif) or folders of them"


@pytest.mark.parametrize("kind", ["content", "style"])
def test_sample_images_are_small_readable_jpegs(kind):
    path = sample_image(kind)
    assert path.suffix == ".jpg" and (path.parent / "SOURCES.md").is_file()
    loaded = read_image(path)
    assert max(loaded.size) <= 512 and min(loaded.size) >= 256
    assert float(loaded.rgb.std()) > 0.05  # a real picture, not a flat placeholder


def test_unknown_sample_image():
    with pytest.raises(StyxError, match="no sample image"):
        sample_image("portrait")


# -- colour ----------------------------------------------------------------------------------
def test_yiq_round_trip_and_luminance():
    image = torch.rand(2, 3, 5, 6)
    assert torch.allclose(yiq_to_rgb(rgb_to_yiq(image)), image, atol=1e-5)
    grey = torch.full((3, 2, 2), 0.3)
    yiq = rgb_to_yiq(grey)
    assert torch.allclose(yiq[0], torch.full((2, 2), 0.3), atol=1e-6)
    assert torch.allclose(yiq[1:], torch.zeros(2, 2, 2), atol=1e-6)  # grey has no chroma


def test_match_color_keeps_content_chroma_and_stylised_luminance():
    # Mid-range colours, so the mix stays inside the RGB cube and no clamping interferes.
    generator = torch.Generator().manual_seed(0)
    content = torch.rand(1, 3, 8, 8, generator=generator) * 0.2 + 0.4
    stylised = torch.rand(1, 3, 8, 8, generator=generator) * 0.2 + 0.4
    result = match_color(content, stylised)
    assert result.shape == stylised.shape
    result_yiq, content_yiq, stylised_yiq = map(rgb_to_yiq, (result, content, stylised))
    assert torch.allclose(result_yiq[:, 0], stylised_yiq[:, 0], atol=1e-5)
    assert torch.allclose(result_yiq[:, 1:], content_yiq[:, 1:], atol=1e-5)


def test_match_color_resizes_content_and_broadcasts_over_a_batch():
    content = torch.rand(1, 3, 16, 16)
    stylised = torch.rand(3, 3, 8, 8)
    result = match_color(content, stylised)
    assert result.shape == (3, 3, 8, 8)
    assert result.min() >= 0 and result.max() <= 1



def test_match_color_of_chw_images_of_another_size_and_the_stylised_dtype():
    content = torch.rand(3, 12, 10)
    stylised = torch.rand(3, 6, 5, dtype=torch.float64) * 0.2 + 0.4
    result = match_color(content, stylised)
    assert result.shape == (3, 6, 5) and result.dtype == torch.float64
    expected_chroma = rgb_to_yiq(resize_to(content, (6, 5)))[1:]
    assert torch.allclose(rgb_to_yiq(result)[1:], expected_chroma, atol=1e-4)


# -- images given from Python -----------------------------------------------------------------
def test_image_input_reads_a_path_and_resizes_it(tmp_path):
    from styx.runtime.image_tensors import image_input

    path = tmp_path / "in.png"
    Image.fromarray(gradient_rgb(24, 32)).save(path)
    loaded = image_input(str(path), long_side=16)
    assert loaded.path == path and loaded.size == (12, 16)
    assert loaded.original_size == (24, 32)
    assert image_input(path).size == (24, 32)


def test_image_input_takes_a_pil_image_with_its_alpha():
    from styx.runtime.image_tensors import image_input

    rgba = Image.new("RGBA", (8, 4), (255, 0, 0, 128))
    loaded = image_input(rgba, long_side=4)
    assert loaded.path is None and loaded.size == (2, 4) and loaded.original_size == (4, 8)
    assert loaded.alpha is not None and loaded.alpha.shape == (1, 1, 2, 4)
    assert torch.allclose(loaded.alpha, torch.full((1, 1, 2, 4), 128 / 255), atol=1e-3)
    assert torch.allclose(loaded.rgb[0, 0], torch.ones(2, 4), atol=1e-3)
    plain = image_input(Image.new("RGB", (3, 2), (0, 255, 0)))
    assert plain.alpha is None and plain.size == (2, 3)
    assert torch.equal(plain.rgb[0, 1], torch.ones(2, 3))


def test_image_input_takes_tensors_of_one_image_or_a_batch():
    from styx.runtime.image_tensors import image_input

    chw = torch.rand(3, 4, 6, dtype=torch.float64)
    loaded = image_input(chw)
    assert loaded.rgb.shape == (1, 3, 4, 6) and loaded.rgb.dtype == torch.float32
    assert torch.allclose(loaded.rgb[0], chw.float())
    assert image_input(chw, long_side=3).size == (2, 3)
    batch = torch.rand(2, 3, 4, 4)
    assert image_input(batch, batch=True).rgb.shape == (2, 3, 4, 4)
    with pytest.raises(StyxError) as caught:
        image_input(batch)
    assert caught.value.message == "the content tensor has shape (2, 3, 4, 4)"
    assert caught.value.hint == "give RGB images, 3 x H x W or 1 x 3 x H x W"
    with pytest.raises(StyxError) as caught:
        image_input(torch.rand(1, 4, 4, 4), what="style", batch=True)
    assert caught.value.message == "the style tensor has shape (1, 4, 4, 4)"
    assert caught.value.hint == "give RGB images, N x 3 x H x W"


@pytest.mark.parametrize("bad", [1.5, -0.1, float("nan")])
def test_image_input_refuses_values_outside_the_unit_range(bad):
    from styx.runtime.image_tensors import image_input

    tensor = torch.full((3, 2, 2), 0.5)
    tensor[0, 0, 0] = bad
    with pytest.raises(StyxError) as caught:
        image_input(tensor, what="style")
    assert caught.value.message == "the style tensor has values outside [0, 1]"
    assert caught.value.hint == "images are float RGB in [0, 1]"


def test_image_input_accepts_the_ends_of_the_unit_range():
    from styx.runtime.image_tensors import image_input

    tensor = torch.tensor([[[0.0, 1.0]], [[1.0, 0.0]], [[0.5, 0.5]]])
    assert torch.equal(image_input(tensor).rgb[0], tensor)


def test_image_input_refuses_other_kinds():
    from styx.runtime.image_tensors import image_input

    with pytest.raises(StyxError) as caught:
        image_input([[0.5]])
    assert caught.value.message == "the content image is a list"
    assert caught.value.hint == "give a file path, a PIL image or a tensor in [0, 1]"


# -- exact errors, sizes at their limits, dtypes -----------------------------------------------
def test_every_bad_size_names_itself_with_the_rule(tmp_path):
    Image.fromarray(gradient_rgb(4, 6)).save(tmp_path / "small.png")
    image = torch.rand(1, 3, 4, 6)
    long_side_rule = "the long side must be >= 1 pixel"
    assert styx_error(read_image, tmp_path / "small.png", long_side=0) == \
        ("bad image size 0", long_side_rule)
    assert styx_error(resize_long_side, image, 0) == ("bad image size 0", long_side_rule)
    assert styx_error(resize_to, image, (0, 5)) == ("bad image size 0x5",
                                                    "sizes must be >= 1 pixel")
    assert styx_error(resize_to, image, (5, 0))[0] == "bad image size 5x0"


def test_one_pixel_is_a_size(tmp_path):
    Image.fromarray(gradient_rgb(4, 6)).save(tmp_path / "small.png")
    assert read_image(tmp_path / "small.png", long_side=1).size == (1, 1)
    image = torch.rand(1, 3, 4, 6)
    assert resize_long_side(image, 1).shape == (1, 3, 1, 1)
    assert resize_to(image, (1, 1)).shape == (1, 3, 1, 1)


def test_a_thin_image_keeps_a_short_side_of_one_pixel():
    from styx.runtime.image_tensors import long_side_size

    assert long_side_size(1000, 1, 10) == (10, 1)
    assert long_side_size(1, 1000, 10) == (1, 10)
    assert long_side_size(20, 10, 2) == (2, 1)


def test_resize_long_side_of_a_chw_image_keeps_its_aspect():
    assert resize_long_side(torch.rand(3, 24, 32), 16).shape == (3, 12, 16)
    assert resize_long_side(torch.rand(3, 32, 24), 16).shape == (3, 16, 12)


@pytest.mark.parametrize("dtype", [torch.float64, torch.bfloat16])
def test_resize_keeps_the_dtype(dtype):
    assert resize_to(torch.rand(1, 3, 8, 8).to(dtype), (5, 5)).dtype == dtype


def test_resize_clamps_the_bicubic_overshoot_to_the_unit_range():
    board = torch.zeros(1, 3, 4, 4)
    board[..., ::2, ::2] = board[..., 1::2, 1::2] = 1.0
    unclamped = torch.nn.functional.interpolate(board, size=(13, 13), mode="bicubic",
                                                align_corners=False, antialias=True)
    assert unclamped.min() < 0 and unclamped.max() > 1  # bicubic overshoots here
    resized = resize_to(board, (13, 13))
    assert torch.equal(resized, unclamped.clamp(0, 1))


def test_tensor_to_pil_names_a_wrong_image_or_alpha_shape():
    from styx.runtime.image_tensors import TENSOR_HINT, tensor_to_pil

    assert styx_error(tensor_to_pil, torch.rand(2, 3, 4, 4)) == \
        ("expected one RGB image (1 x 3 x H x W), got shape (2, 3, 4, 4)", TENSOR_HINT)
    alpha_hint = "load_image(..., alpha=True) returns the alpha in that shape"
    assert styx_error(tensor_to_pil, torch.rand(1, 3, 4, 4), torch.rand(1, 2, 4, 4)) == \
        ("expected a 1 x 1 x H x W alpha, got shape (1, 2, 4, 4)", alpha_hint)
    assert styx_error(tensor_to_pil, torch.rand(1, 3, 4, 4), torch.rand(2, 4, 4)) == \
        ("expected a 1 x 1 x H x W alpha, got shape (2, 4, 4)", alpha_hint)


def test_an_alpha_of_another_size_is_cleaned_then_resized():
    """NaN alpha counts as opaque and values outside [0, 1] are clipped before the alpha
    is resized to the image, so neither spreads into its neighbours."""
    from styx.runtime.image_tensors import tensor_to_pil

    alpha = torch.tensor([[[[float("nan"), -3.0], [0.5, 4.0]]]])
    picture = tensor_to_pil(torch.full((1, 3, 4, 4), 0.5), alpha)
    clean = resize_to(torch.tensor([[[[1.0, 0.0], [0.5, 1.0]]]]), (4, 4))
    expected = np.round(clean[0, 0].numpy() * 255).astype(np.uint8)
    assert np.abs(np.asarray(picture)[..., 3].astype(int) - expected).max() <= 1


def test_jpeg_quality_is_95_unless_given(tmp_path):
    image = torch.rand(1, 3, 32, 32)
    save_image(image, tmp_path / "default.jpg")
    save_image(image, tmp_path / "q95.jpg", quality=95)
    save_image(image, tmp_path / "q96.jpg", quality=96)
    save_image(image, tmp_path / "q50.jpg", quality=50)
    default = (tmp_path / "default.jpg").read_bytes()
    assert default == (tmp_path / "q95.jpg").read_bytes()
    assert default != (tmp_path / "q96.jpg").read_bytes()
    assert len((tmp_path / "q50.jpg").read_bytes()) < len(default)


def test_the_sample_images_and_their_errors(monkeypatch):
    from styx.files import image_arrays as image_module

    assert sample_image() == sample_image("content") != sample_image("style")
    assert sample_image(" Style ") == sample_image("style")
    assert styx_error(sample_image, "portrait") == \
        ("no sample image 'portrait'", "choose 'content' or 'style'")
    monkeypatch.setitem(image_module.SAMPLE_IMAGES, "content", "gone.jpg")
    message, hint = styx_error(sample_image, "content")
    assert message.startswith("the sample image ") and message.endswith(
        "gone.jpg is missing")
    assert hint == "reinstall styx-nst"


def test_colour_conversion_needs_three_channels():
    from styx.runtime.image_tensors import TENSOR_HINT

    assert styx_error(rgb_to_yiq, torch.rand(1, 4, 2, 2)) == \
        ("expected 3 colour channels, got shape (1, 4, 2, 2)", TENSOR_HINT)


def test_match_color_with_a_content_batch_of_another_size_uses_its_first_image():
    content = torch.rand(2, 3, 8, 8) * 0.2 + 0.4
    stylised = torch.rand(3, 3, 8, 8) * 0.2 + 0.4
    result = match_color(content, stylised)
    assert result.shape == (3, 3, 8, 8)
    for one in result:
        assert torch.allclose(rgb_to_yiq(one)[1:], rgb_to_yiq(content[0])[1:], atol=1e-5)


@pytest.mark.parametrize("shape", [(4, 4), (1, 1, 3, 4, 4)])
def test_an_image_tensor_of_another_rank_is_named_by_its_shape(shape):
    from styx.runtime.image_tensors import TENSOR_HINT

    assert styx_error(resize_to, torch.rand(*shape), (2, 2)) == \
        (f"expected a C x H x W or N x C x H x W image, got shape {shape}", TENSOR_HINT)


def test_the_image_io_of_requests_reads_the_given_image_or_the_sample_and_makes_pictures():
    from styx.runtime.image_tensors import TENSOR_IMAGES, image_input, run_request, tensor_to_pil

    read = TENSOR_IMAGES.read
    for kind in ("content", "style"):
        sample = read(None, long_side=None, what=kind)
        assert torch.equal(sample.rgb, image_input(sample_image(kind)).rgb)
    small = read(None, long_side=40, what="style")
    assert max(small.size) == 40
    batch = torch.rand(2, 3, 8, 10)
    assert read(batch, long_side=None, what="content", batch=True).rgb.shape == (2, 3, 8, 10)
    assert styx_error(read, batch, long_side=None, what="style")[0] == \
        "the style tensor has shape (2, 3, 8, 10)"  # one image unless batch=True
    image, alpha = torch.rand(1, 3, 6, 9), torch.rand(1, 1, 6, 9)
    assert np.array_equal(np.asarray(TENSOR_IMAGES.to_pil(image, alpha)),
                          np.asarray(tensor_to_pil(image, alpha)))
    assert TENSOR_IMAGES.to_pil(image).mode == "RGB"
    request = run_request(content="photo.jpg", progress=True)
    assert request.images is TENSOR_IMAGES and request.content == "photo.jpg"
