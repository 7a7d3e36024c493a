"""Write scikit-learn's bundled handwritten digits as a folder-per-class image sample.

Output: `assets/digits/<digit>/<index>.png`, 1,797 greyscale 8×8 PNGs, where `<index>`
is the image's position in `sklearn.datasets.load_digits()`; `assets/README.md` gives
the source and licence. The data ships inside scikit-learn, so nothing is downloaded, and
the output is the same on every run.

Usage: python scripts/make_digits_sample.py [output folder]
"""

from __future__ import annotations

import logging
import shutil
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits

logger = logging.getLogger(__name__)

DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "assets" / "digits"
DIGITS_MAX_VALUE = 16
"""Pixel values of `load_digits()` count set cells in a 4×4 block, so they run from 0 to 16."""


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Scale an 8×8 array of 0–16 values to 0–255, rounding to the nearest integer."""
    return np.rint(image * (255 / DIGITS_MAX_VALUE)).astype(np.uint8)


def write_digits(output: Path) -> int:
    """Replace `output` with one PNG per digit image and return the number of images."""
    digits = load_digits()
    if output.exists():
        shutil.rmtree(output)

    for index, (image, target) in enumerate(zip(digits.images, digits.target, strict=True)):
        folder = output / str(int(target))
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(to_uint8(image)).save(folder / f"{index:04d}.png", format="PNG")

    return len(digits.images)


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    output = Path(argv[1]) if len(argv) > 1 else DEFAULT_OUTPUT
    count = write_digits(output)
    logger.info("Wrote %d digit images to %s", count, output)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
