"""Decode image files into RGB pixel arrays with one rule for training, preview and prediction.

The rule: the format comes from the bytes, never the file name. The pixel count is
checked against `Limits.max_pixels` from the header, before any pixel is decoded. The
EXIF orientation is applied, and a multi-frame file (animated GIF or WebP, multi-page
TIFF) contributes its first frame. Transparency is composited on white. 16-bit and
32-bit greyscale is scaled to 8 bits by the range of its values, and every other mode
is converted to 8-bit RGB.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import logging
import re
import struct
import zlib
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from bigmodel import i18n
from bigmodel.config import Limits
from bigmodel.errors import InvalidUploadError, LimitExceededError

logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
"""File name extensions accepted as images, compared without case."""

DECODER_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "WEBP", "TIFF")
"""Pillow formats the decoder tries. Pillow's JPEG reader also opens the MPO files of phones.

Restricting the list keeps Pillow's other plugins (EPS, PSD and more) away from
uploaded bytes.
"""

_HIGH_BIT_DEPTH_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I", "F"})
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error)
_PILLOW_PIXEL_COUNT = re.compile(r"\((\d+) pixels\)")


@dataclasses.dataclass(frozen=True)
class Notice:
    """A message about one input file: why it was skipped, or what to check in it.

    `key` is a message catalog key and `params` fill its template together with
    `source`, the file's name in the upload.
    """

    source: str
    key: str
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def message(self, language: str) -> str:
        """Render the notice in `language` through the message catalog."""
        return i18n.translate(language, self.key, **{**self.params, "source": self.source})

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "key": self.key, "params": dict(self.params)}

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> Notice:
        return cls(source=value["source"], key=value["key"], params=dict(value["params"]))

    @classmethod
    def from_error(cls, source: str, error: InvalidUploadError) -> Notice:
        """Turn a per-file upload error into a notice, so the file is listed instead of fatal."""
        params = {name: value for name, value in error.params.items() if name != "source"}
        return cls(source=source, key=error.key, params=params)


@dataclasses.dataclass(frozen=True)
class DecodedImage:
    """An image decoded by the studio's single decode rule.

    Attributes:
        pixels: uint8 array of shape `(height, width, 3)` in RGB order.
        original_mode: Pillow mode of the file before conversion, such as `"P"` or `"I;16"`.
        original_format: Pillow format read from the bytes, such as `"PNG"` or `"BMP"`.
        warnings: notices about the image that do not stop it from being used.
    """

    pixels: np.ndarray
    original_mode: str
    original_format: str
    warnings: tuple[Notice, ...] = ()

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])


def is_image_name(name: str) -> bool:
    """Return whether `name` ends in an image extension, in any case (`.PNG`, `.Jpg`)."""
    return PurePosixPath(name.replace("\\", "/")).suffix.lower() in IMAGE_EXTENSIONS


def decode_image(data: bytes, source: str, limits: Limits | None = None) -> DecodedImage:
    """Decode the bytes of one image file into 8-bit RGB pixels.

    Args:
        data: the file's bytes. Its name plays no part in decoding.
        source: the file's name in the upload, used in messages.
        limits: upload limits. Defaults to `Limits.from_env()`.

    Returns:
        A `DecodedImage` whose pixels have shape `(height, width, 3)`, upright
        after the EXIF orientation.

    Raises:
        InvalidUploadError: the file is empty, is not an image in a supported format,
            is truncated or damaged, or has a mode that has no RGB conversion.
        LimitExceededError: the header declares more pixels than `limits.max_pixels`,
            or more than Pillow's own decompression-bomb limit. Nothing is decoded then.
    """
    limits = limits or Limits.from_env()
    if not data:
        raise InvalidUploadError("errors.image_empty", source=source)

    with _open_checked(data, source, limits) as image:
        original_mode = image.mode
        original_format = image.format or ""
        _load(image, source)
        upright, notices = _apply_orientation(image, source)
        pixels, more_notices = _to_rgb(upright, source)

    logger.debug(
        "Decoded %s: %s %s, %dx%d",
        source,
        original_format,
        original_mode,
        pixels.shape[1],
        pixels.shape[0],
    )
    return DecodedImage(pixels, original_mode, original_format, notices + more_notices)


def _open_checked(data: bytes, source: str, limits: Limits) -> Image.Image:
    """Read the header of `data` and raise unless its pixel count is within the limits."""
    try:
        image = Image.open(io.BytesIO(data), formats=DECODER_FORMATS)
    except Image.DecompressionBombError as error:
        raise _decoder_limit_error(error, source, limits) from error
    except UnidentifiedImageError as error:
        raise InvalidUploadError("errors.image_unknown_format", source=source) from error
    except _DECODE_ERRORS as error:
        logger.info("Cannot read the header of %s: %s", source, error)
        raise InvalidUploadError("errors.image_damaged", source=source) from error

    width, height = image.size
    if width * height > limits.max_pixels:
        image.close()
        raise LimitExceededError(
            "errors.image_too_many_pixels",
            source=source,
            width=width,
            height=height,
            pixels=width * height,
            max_pixels=limits.max_pixels,
        )
    return image


def _decoder_limit_error(
    error: Image.DecompressionBombError, source: str, limits: Limits
) -> LimitExceededError:
    # NOTE: Pillow (13.0) raises DecompressionBombError for images above
    # 2 * Image.MAX_IMAGE_PIXELS, about 179 million pixels, and reports the pixel count
    # only in its message text. A max_pixels above that cap cannot let such images through.
    match = _PILLOW_PIXEL_COUNT.search(str(error))
    if match and int(match.group(1)) > limits.max_pixels:
        return LimitExceededError(
            "errors.image_too_many_pixels",
            source=source,
            pixels=int(match.group(1)),
            max_pixels=limits.max_pixels,
        )
    return LimitExceededError(
        "errors.image_over_decoder_limit",
        source=source,
        decoder_limit=2 * (Image.MAX_IMAGE_PIXELS or 0),
        max_pixels=limits.max_pixels,
    )


def _load(image: Image.Image, source: str) -> None:
    """Decode the pixels of the current frame, so truncation shows here and nowhere later."""
    try:
        image.load()
    except _DECODE_ERRORS as error:
        logger.info("Cannot decode %s: %s", source, error)
        raise InvalidUploadError("errors.image_damaged", source=source) from error


def _apply_orientation(image: Image.Image, source: str) -> tuple[Image.Image, tuple[Notice, ...]]:
    """Rotate or flip `image` as its EXIF orientation tag specifies, unless EXIF is unreadable."""
    try:
        upright = ImageOps.exif_transpose(image)
    except (*_DECODE_ERRORS, KeyError, TypeError) as error:
        logger.warning("Ignoring the unreadable EXIF orientation of %s: %s", source, error)
        return image, (Notice(source, "ingest.warning.orientation_unreadable"),)
    return (upright if upright is not None else image), ()


def _to_rgb(image: Image.Image, source: str) -> tuple[np.ndarray, tuple[Notice, ...]]:
    """Convert any Pillow mode to a uint8 RGB array of shape `(height, width, 3)`."""
    if image.mode in _HIGH_BIT_DEPTH_MODES:
        # NOTE: transparency of 16-bit and 32-bit greyscale images is ignored.
        grey = _scale_to_uint8(np.asarray(image))
        return np.repeat(grey[:, :, np.newaxis], 3, axis=2), ()

    if image.mode == "LAB":
        return np.asarray(_lab_to_srgb(image, source), dtype=np.uint8), ()

    if image.has_transparency_data:
        return _composite_on_white(_convert(image, "RGBA", source), source)

    # NOTE: embedded ICC profiles are ignored, so an Adobe RGB or profiled CMYK file
    # gets Pillow's plain conversion and its colours may shift slightly.
    return np.asarray(_convert(image, "RGB", source), dtype=np.uint8), ()


def _convert(image: Image.Image, mode: str, source: str) -> Image.Image:
    if image.mode == mode:
        return image
    try:
        return image.convert(mode)
    except ValueError as error:
        raise InvalidUploadError(
            "errors.image_mode_unsupported", source=source, mode=image.mode
        ) from error


@functools.cache
def _lab_transform() -> ImageCms.ImageCmsTransform:
    lab = ImageCms.createProfile("LAB")
    return ImageCms.buildTransform(lab, ImageCms.createProfile("sRGB"), "LAB", "RGB")


def _lab_to_srgb(image: Image.Image, source: str) -> Image.Image:
    """Convert CIELAB to sRGB with LittleCMS, because Pillow's `convert` copies the bands as is."""
    try:
        converted = ImageCms.applyTransform(image, _lab_transform())
    except ImageCms.PyCMSError as error:
        raise InvalidUploadError(
            "errors.image_mode_unsupported", source=source, mode=image.mode
        ) from error
    assert converted is not None  # applyTransform returns None only with inPlace=True
    return converted


def _scale_to_uint8(values: np.ndarray) -> np.ndarray:
    """Map the range of `values`, from its minimum to its maximum, linearly onto 0–255.

    Each image is scaled by its own range, so a 12-bit image inside a 16-bit file is
    as visible as a full 16-bit one, but absolute brightness is not comparable between
    images. A constant image becomes black. NaN becomes 0.
    """
    values = values.astype(np.float64)
    finite = np.isfinite(values)
    if not finite.any():
        return np.zeros(values.shape, dtype=np.uint8)

    low = float(values[finite].min())
    high = float(values[finite].max())
    if high <= low:
        return np.zeros(values.shape, dtype=np.uint8)

    scaled = (np.where(finite, values, low) - low) * (255.0 / (high - low))
    return np.rint(scaled).astype(np.uint8)


def _composite_on_white(rgba: Image.Image, source: str) -> tuple[np.ndarray, tuple[Notice, ...]]:
    """Blend RGBA pixels over a white background and drop the alpha channel."""
    array = np.asarray(rgba, dtype=np.uint32)
    alpha = array[:, :, 3:4]
    blended = (array[:, :, :3] * alpha + 255 * (255 - alpha) + 127) // 255

    notices: tuple[Notice, ...] = ()
    if not alpha.any():
        notices = (Notice(source, "ingest.warning.fully_transparent"),)
    return blended.astype(np.uint8), notices


def make_thumbnail(pixels: np.ndarray, size: int) -> np.ndarray:
    """Scale an RGB image to fit in a `size` × `size` box, keeping its aspect ratio.

    Small images are enlarged with nearest-neighbour sampling, so an 8×8 digit stays
    crisp; larger ones are reduced with Lanczos filtering.

    Args:
        pixels: uint8 array of shape `(height, width, 3)`.
        size: side of the box in pixels.

    Returns:
        uint8 array of shape `(new_height, new_width, 3)`, with the longer side equal
        to `size` and the shorter side at least 1.
    """
    if size < 1:
        raise ValueError(f"Expected a thumbnail size of at least 1. Received: size={size}")
    height, width = pixels.shape[:2]
    scale = size / max(height, width)
    new_size = (max(1, round(width * scale)), max(1, round(height * scale)))

    resample = Image.Resampling.NEAREST if scale >= 1 else Image.Resampling.LANCZOS
    thumbnail = Image.fromarray(pixels).resize(new_size, resample)
    return np.asarray(thumbnail, dtype=np.uint8)
