"""Tiny, learnable image datasets made on the fly for tests."""

from pathlib import Path

import numpy as np
from PIL import Image

COLORS = {"red": (220, 30, 30), "blue": (30, 30, 220)}


def make_color_folders(root: Path, per_class: int = 16, size: int = 12, seed: int = 0) -> Path:
    """Write class folders of noisy red and blue squares; a CNN separates them in one epoch."""
    rng = np.random.default_rng(seed)
    for name, color in COLORS.items():
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for index in range(per_class):
            noise = rng.integers(-25, 25, size=(size, size, 3))
            pixels = np.clip(np.array(color) + noise, 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(folder / f"{index:03d}.png")
    return root


def png_bytes(color: tuple[int, int, int], size: tuple[int, int] = (20, 14)) -> bytes:
    import io

    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


DIGITS = Path(__file__).resolve().parent.parent / "assets" / "digits"


def make_digit_folders(
    root: Path, classes: dict[str, tuple[str, int] | tuple[str, int, int]]
) -> Path:
    """Write class folders of bundled 8x8 digit images: `{class: (digits, images per digit)}`.

    A class may mix digits, such as `{"odd": ("13579", 3)}`, which makes it hard to learn.
    A third number skips that many images of each digit, so that two classes can hold
    different images of the same digits: labels that no image feature predicts.
    """
    import shutil

    for name, (digits, per_digit, *skip) in classes.items():
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        first = skip[0] if skip else 0
        for digit in digits:
            for source in sorted((DIGITS / digit).iterdir())[first : first + per_digit]:
                shutil.copy(source, folder / f"{digit}_{source.name}")
    return root
