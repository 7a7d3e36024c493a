"""The single image decode rule, on the hostile case files and siblings made with Pillow."""

import io
import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bigmodel.config import Limits
from bigmodel.errors import InvalidUploadError, LimitExceededError
from bigmodel.imaging import Notice, decode_image, is_image_name, make_thumbnail

CASES = Path(__file__).parent / "cases"


def _case(name: str) -> bytes:
    return (CASES / name).read_bytes()


def _encode(image: Image.Image, format: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()


def _red_left(width: int = 80, height: int = 40) -> Image.Image:
    """An image whose left half is red and right half blue."""
    image = Image.new("RGB", (width, height), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, width // 2, height))
    return image


def _png_rgb16(pixels: np.ndarray) -> bytes:
    """Encode a uint16 `(height, width, 3)` array as a 16-bit RGB PNG, which Pillow cannot write."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    height, width = pixels.shape[:2]
    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    rows = b"".join(b"\x00" + row.astype(">u2").tobytes() for row in pixels)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


# Transparency.


def test_transparent_rgba_white_with_warning():
    decoded = decode_image(_case("B22_rgba_transparent.png"), "B22.png")

    assert decoded.pixels.shape == (64, 64, 3)
    assert decoded.pixels.dtype == np.uint8
    assert (decoded.pixels == 255).all()
    assert [notice.key for notice in decoded.warnings] == ["ingest.warning.fully_transparent"]
    assert decoded.warnings[0].source == "B22.png"


def test_transparent_la_white_with_warning():
    data = _encode(Image.new("LA", (6, 6), (0, 0)), "PNG")

    decoded = decode_image(data, "la.png")

    assert (decoded.pixels == 255).all()
    assert [notice.key for notice in decoded.warnings] == ["ingest.warning.fully_transparent"]


def test_half_transparent_la_blends_with_white():
    data = _encode(Image.new("LA", (6, 6), (0, 128)), "PNG")

    decoded = decode_image(data, "la.png")

    assert decoded.original_mode == "LA"
    assert decoded.pixels[0, 0].tolist() == [127, 127, 127]
    assert decoded.warnings == ()


def test_palette_transparency_is_composited():
    decoded = decode_image(_case("B25_palette_trns_bytes.png"), "B25.png")

    assert decoded.original_mode == "P"
    assert np.abs(decoded.pixels[15, 15].astype(int) - [142, 142, 237]).max() <= 2


def test_gif_transparent_index_is_white():
    image = Image.new("P", (4, 4), 0)
    image.putpalette([30, 30, 220] + [0, 0, 0] * 255)
    data = _encode(image, "GIF", transparency=0)

    decoded = decode_image(data, "t.gif")

    assert decoded.pixels[0, 0].tolist() == [255, 255, 255]


def test_rgb_png_transparent_colour_is_white():
    image = Image.new("RGB", (4, 4), (10, 20, 30))
    image.putpixel((0, 0), (200, 0, 0))
    data = _encode(image, "PNG", transparency=(10, 20, 30))

    decoded = decode_image(data, "t.png")

    assert decoded.pixels[1, 1].tolist() == [255, 255, 255]
    assert decoded.pixels[0, 0].tolist() == [200, 0, 0]
    assert decoded.warnings == ()


# High bit depth.


def test_grey16_ramp_stays_a_ramp():
    decoded = decode_image(_case("B26_gray16_gradient.png"), "B26.png")

    row = decoded.pixels[0, :, 0].astype(int)
    assert decoded.original_mode.startswith("I;16")
    assert row[0] == 0
    assert row[-1] == 255
    assert (np.diff(row) >= 0).all()
    assert len(np.unique(row)) > 200


def test_grey16_12bit_values_use_full_range():
    values = np.tile(np.linspace(0, 4095, 64).astype(np.uint16), (4, 1))
    data = _encode(Image.fromarray(values), "TIFF")

    decoded = decode_image(data, "x12.tif")

    assert decoded.original_mode == "I;16"
    assert decoded.pixels[0, 0, 0] == 0
    assert decoded.pixels[0, -1, 0] == 255
    assert (decoded.pixels[..., 0] == decoded.pixels[..., 2]).all()


@pytest.mark.parametrize(
    "values",
    [
        np.arange(0, 1_000_000, 10_000, dtype=np.int32),
        np.linspace(-1.0, 1.0, 100, dtype=np.float32),
    ],
    ids=["int32", "float32"],
)
def test_32bit_grey_is_scaled_by_its_range(values):
    data = _encode(Image.fromarray(np.tile(values, (2, 1))), "TIFF")

    decoded = decode_image(data, "wide.tif")

    row = decoded.pixels[0, :, 0].astype(int)
    assert decoded.original_mode in ("I", "F")
    assert row[0] == 0
    assert row[-1] == 255
    assert (np.diff(row) >= 0).all()
    assert len(np.unique(row)) > 90


def test_rgb16_png_ramp_stays_a_ramp():
    ramp = np.linspace(0, 65535, 256).astype(np.uint16)
    pixels = np.stack([np.tile(ramp, (4, 1))] * 3, axis=-1)

    decoded = decode_image(_png_rgb16(pixels), "rgb16.png")

    row = decoded.pixels[0, :, 0].astype(int)
    assert row[0] == 0
    assert row[-1] == 255
    assert len(np.unique(row)) == 256


def test_constant_grey16_is_black():
    data = _encode(Image.fromarray(np.full((3, 3), 1000, dtype=np.uint16)), "PNG")

    decoded = decode_image(data, "flat.png")

    assert (decoded.pixels == 0).all()


# Other modes.


def test_cmyk_jpeg_becomes_rgb():
    data = _encode(Image.new("CMYK", (8, 8), (0, 255, 255, 0)), "JPEG")

    decoded = decode_image(data, "cmyk.jpg")

    assert decoded.original_mode == "CMYK"
    assert decoded.pixels.shape == (8, 8, 3)
    assert np.abs(decoded.pixels[4, 4].astype(int) - [255, 0, 0]).max() <= 3


def test_bilevel_and_grey_become_rgb():
    bilevel = decode_image(_encode(Image.new("1", (5, 5), 1), "PNG"), "one.png")
    grey = decode_image(_encode(Image.new("L", (5, 5), 77), "PNG"), "grey.png")

    assert bilevel.pixels[0, 0].tolist() == [255, 255, 255]
    assert grey.pixels[0, 0].tolist() == [77, 77, 77]
    assert grey.original_mode == "L"


def test_lab_tiff_becomes_srgb_grey():
    data = _encode(Image.new("LAB", (4, 4), (128, 128, 128)), "TIFF")

    decoded = decode_image(data, "lab.tif")

    pixel = decoded.pixels[0, 0].astype(int)
    assert decoded.original_mode == "LAB"
    assert np.abs(pixel - pixel[0]).max() <= 2
    assert 100 < pixel[0] < 140


# Orientation.


def test_exif_orientation_6_is_upright():
    decoded = decode_image(_case("B29_exif_orientation6.jpg"), "B29.jpg")

    height, width = decoded.pixels.shape[:2]
    top = decoded.pixels[: height // 4].reshape(-1, 3).mean(axis=0)
    bottom = decoded.pixels[-height // 4 :].reshape(-1, 3).mean(axis=0)
    assert (width, height) == (40, 80)
    assert top[0] > 180
    assert top[2] < 80
    assert bottom[0] < 80


def test_orientation_8_jpeg_red_at_bottom():
    exif = Image.Exif()
    exif[0x0112] = 8
    data = _encode(_red_left(), "JPEG", exif=exif)

    decoded = decode_image(data, "o8.jpg")

    assert decoded.pixels.shape == (80, 40, 3)
    assert decoded.pixels[75, 20, 0] > 200
    assert decoded.pixels[5, 20, 2] > 200


def test_orientation_3_png_red_right():
    exif = Image.Exif()
    exif[0x0112] = 3
    data = _encode(_red_left(), "PNG", exif=exif)

    decoded = decode_image(data, "o3.png")

    assert decoded.pixels.shape == (40, 80, 3)
    assert decoded.pixels[20, 75].tolist() == [255, 0, 0]
    assert decoded.pixels[20, 5].tolist() == [0, 0, 255]


# Damaged and unknown files.


def test_truncated_jpeg_is_rejected_as_damaged():
    with pytest.raises(InvalidUploadError) as caught:
        decode_image(_case("B30_truncated.jpg"), "B30_truncated.jpg")

    assert caught.value.key == "errors.image_damaged"
    assert caught.value.params["source"] == "B30_truncated.jpg"


def test_empty_file_is_rejected_as_empty():
    with pytest.raises(InvalidUploadError) as caught:
        decode_image(_case("B30_zero_bytes.jpg"), "B30_zero_bytes.jpg")

    assert caught.value.key == "errors.image_empty"


def test_truncated_png_is_rejected_as_damaged():
    noise = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    data = _encode(Image.fromarray(noise), "PNG")

    with pytest.raises(InvalidUploadError) as caught:
        decode_image(data[: len(data) // 2], "half.png")

    assert caught.value.key == "errors.image_damaged"


@pytest.mark.parametrize(
    "data",
    [b"just some text\n", bytes(range(256)), _encode(Image.new("RGB", (16, 16)), "ICO")],
    ids=["text", "noise", "ico"],
)
def test_unknown_format_is_rejected(data):
    with pytest.raises(InvalidUploadError) as caught:
        decode_image(data, "x.png")

    assert caught.value.key == "errors.image_unknown_format"


def test_rejection_names_file_both_languages():
    with pytest.raises(InvalidUploadError) as caught:
        decode_image(b"", "empty.png")

    assert "empty.png" in caught.value.message("en")
    assert "empty.png" in caught.value.message("zh-CN")
    assert "空文件" in caught.value.message("zh-CN")


# Format from bytes, frames and names.


def test_bmp_named_jpg_is_read_as_bmp():
    decoded = decode_image(_case("B32_bmp_named.jpg"), "B32_bmp_named.jpg")

    assert decoded.original_format == "BMP"
    assert decoded.pixels.shape == (32, 48, 3)


@pytest.mark.parametrize(("format", "name"), [("BMP", "x.png"), ("PNG", "x.jpg")])
def test_format_comes_from_bytes(format, name):
    data = _encode(Image.new("RGB", (7, 5), (1, 2, 3)), format)

    decoded = decode_image(data, name)

    assert decoded.original_format == format
    assert decoded.pixels[0, 0].tolist() == [1, 2, 3]


def test_webp_and_animated_gif_cases_decode():
    webp = decode_image(_case("B34_image.webp"), "B34_image.webp")
    gif = decode_image(_case("B34_animated.gif"), "B34_animated.gif")

    assert webp.pixels.shape == (48, 64, 3)
    assert gif.pixels.shape == (48, 48, 3)
    assert gif.original_format == "GIF"


@pytest.mark.parametrize("format", ["GIF", "WEBP", "TIFF"])
def test_multi_frame_file_uses_first_frame(format):
    frames = [Image.new("RGB", (8, 8), color) for color in [(255, 0, 0), (0, 255, 0), (0, 0, 255)]]
    options = {"lossless": True} if format == "WEBP" else {}
    data = _encode(frames[0], format, save_all=True, append_images=frames[1:], **options)

    decoded = decode_image(data, f"frames.{format.lower()}")

    assert Image.open(io.BytesIO(data)).n_frames == 3
    assert decoded.pixels[4, 4].tolist() == [255, 0, 0]


def test_uppercase_extension_decodes():
    decoded = decode_image(_case("B16_UPPERCASE.JPG"), "B16_UPPERCASE.JPG")

    assert is_image_name("B16_UPPERCASE.JPG")
    assert decoded.original_format == "JPEG"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("photo.Png", True),
        ("scan.TIFF", True),
        ("a/b/c.jpeg", True),
        ("dir\\x.WebP", True),
        ("readme.txt", False),
        ("png", False),
        ("images.png.zip", False),
        ("data.CSV", False),
    ],
)
def test_is_image_name(name, expected):
    assert is_image_name(name) is expected


# Pixel limit.


def test_huge_png_is_rejected_before_decoding():
    with pytest.raises(LimitExceededError) as caught:
        decode_image(_case("B35_huge_16000x12000.png"), "B35.png")

    error = caught.value
    assert error.key == "errors.image_too_many_pixels"
    assert error.params["pixels"] == 16000 * 12000
    assert error.params["max_pixels"] == Limits().max_pixels
    assert "192,000,000" in error.message("en")
    assert f"{Limits().max_pixels:,}" in error.message("en")


def test_huge_png_rejection_is_light():
    # A child process, so that its peak memory is the decoder's alone. VmHWM starts
    # afresh at exec, unlike ru_maxrss, which keeps the forking parent's peak. Importing the
    # decoder peaks near 35 MiB; decoding the 192 million pixels peaked at 216 MiB with
    # Pillow 13.0, so a peak under 100 MiB shows the limit is checked before decoding.
    script = (
        "import json, re\n"
        "from bigmodel.imaging import decode_image\n"
        "from bigmodel.errors import LimitExceededError\n"
        f"data = open({str(CASES / 'B35_huge_16000x12000.png')!r}, 'rb').read()\n"
        "try:\n"
        "    decode_image(data, 'B35.png')\n"
        "    rejected = False\n"
        "except LimitExceededError:\n"
        "    rejected = True\n"
        "status = open('/proc/self/status').read()\n"
        "peak_kib = int(re.search(r'VmHWM:\\s+(\\d+)', status).group(1))\n"
        "print(json.dumps({'rejected': rejected, 'peak_mib': peak_kib / 1024}))\n"
    )
    root = Path(__file__).parent.parent
    output = subprocess.run(
        [sys.executable, "-c", script], cwd=root, capture_output=True, text=True, check=True
    )

    measured = json.loads(output.stdout)
    assert measured["rejected"]
    assert measured["peak_mib"] < 100


def test_image_over_configured_limit_names_its_size():
    data = _encode(Image.new("RGB", (300, 200)), "PNG")

    with pytest.raises(LimitExceededError) as caught:
        decode_image(data, "big.png", Limits(max_pixels=50_000))

    assert caught.value.key == "errors.image_too_many_pixels"
    assert caught.value.params["width"] == 300
    assert caught.value.params["height"] == 200
    assert caught.value.params["pixels"] == 60_000
    assert caught.value.params["max_pixels"] == 50_000


def test_image_at_limit_is_accepted():
    data = _encode(Image.new("RGB", (250, 200)), "PNG")

    decoded = decode_image(data, "edge.png", Limits(max_pixels=50_000))

    assert decoded.pixels.shape == (200, 250, 3)


# Helpers.


def test_notice_message_renders_both_languages():
    notice = Notice("cat/a.png", "ingest.warning.fully_transparent")

    assert "cat/a.png" in notice.message("en")
    assert "transparent" in notice.message("en")
    assert "透明" in notice.message("zh-CN")


def test_thumbnail_enlarges_small_images_crisply():
    pixels = np.zeros((8, 8, 3), dtype=np.uint8)
    pixels[:4] = 255

    thumbnail = make_thumbnail(pixels, 64)

    assert thumbnail.shape == (64, 64, 3)
    assert set(np.unique(thumbnail).tolist()) == {0, 255}


def test_thumbnail_keeps_aspect_ratio():
    thumbnail = make_thumbnail(np.zeros((50, 100, 3), dtype=np.uint8), 64)

    assert thumbnail.shape == (32, 64, 3)
