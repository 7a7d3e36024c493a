"""Sample datasets bundled in `assets/`, for users who have no data at hand yet."""

from __future__ import annotations

from pathlib import Path

from bigmodel.errors import RunNotFoundError
from bigmodel.image_datasets import ImageDataset, ingest_folder
from bigmodel.store import RunStore

ASSETS = Path(__file__).resolve().parent.parent / "assets"

IMAGE_SAMPLES = {"digits": ASSETS / "digits"}
"""Image samples by name: class folders of PNG files."""


def load_image_sample(name: str, store: RunStore) -> ImageDataset:
    """Ingest a bundled image sample (once; later calls find it stored) and return it."""
    if name not in IMAGE_SAMPLES:
        raise RunNotFoundError("errors.sample_not_found", name=name, known=", ".join(IMAGE_SAMPLES))
    return ingest_folder(IMAGE_SAMPLES[name], f"sample:{name}", store)
