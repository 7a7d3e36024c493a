"""`tf.data` input pipelines that stream canonical image datasets from disk.

Images were decoded once, at ingest, into 8-bit RGB PNGs. The pipeline decodes those
PNGs and resizes them with the same resizing layer the model starts with, so batches
have one shape and the model's own resize is then an exact identity.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf

from bigmodel import shuffling
from bigmodel.layers import resizing_layer

logger = logging.getLogger(__name__)

IN_MEMORY_CACHE_BYTES = 1024**3
"""Datasets whose resized images fit in this many bytes are cached in memory, others on disk."""


def image_dataset(
    files: Sequence[Path],
    labels: Sequence[int],
    size: int,
    batch_size: int,
    *,
    epochs: range | None,
    seed: int,
    cache_dir: Path | None = None,
) -> tf.data.Dataset:
    """Build a batched dataset of `(images, labels)`.

    Args:
        files: PNG files of the canonical dataset.
        labels: Class index of each file.
        size: Side that images are resized to; `(batch, size, size, 3)` float32, 0-255.
        batch_size: Examples per batch.
        epochs: For training, the epochs to yield one after another, each shuffled by
            `seed` and its index (see `bigmodel.shuffling`). None, for evaluation,
            yields the images once in order.
        seed: The run's seed.
        cache_dir: Folder for the on-disk cache of large datasets. Defaults to caching
            in memory whatever the size.
    """
    resize = resizing_layer(size)

    def load(path: tf.Tensor, label: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        image = tf.io.decode_png(tf.io.read_file(path), channels=3)
        return resize(tf.cast(image, tf.float32)), label

    dataset = tf.data.Dataset.from_tensor_slices(
        ([str(path) for path in files], np.asarray(labels, dtype=np.int32))
    )
    dataset = dataset.map(load, num_parallel_calls=tf.data.AUTOTUNE)

    cached_bytes = len(files) * size * size * 3 * 4
    if cache_dir is None or cached_bytes <= IN_MEMORY_CACHE_BYTES:
        dataset = dataset.cache()
    else:
        cache_dir.mkdir(parents=True, exist_ok=True)
        logger.info("Caching %d resized images on disk in %s", len(files), cache_dir)
        dataset = dataset.cache(str(cache_dir / "cache"))

    return shuffling.batches(dataset, len(files), batch_size, seed, epochs)
