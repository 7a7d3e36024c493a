"""Train and validation splits that are stored with each run."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
from sklearn.model_selection import train_test_split

from bigmodel.errors import DatasetError

logger = logging.getLogger(__name__)


def split_indices(
    labels: Sequence[int], validation_split: float, seed: int
) -> tuple[list[int], list[int]]:
    """Split example indices into training and validation, stratified by class.

    Falls back to a plain random split when a class has a single example, because
    stratification needs two of each.

    Raises:
        DatasetError: if either part would be empty.
    """
    indices = np.arange(len(labels))
    labels_array = np.asarray(labels)
    validation_count = round(len(labels) * validation_split)
    classes = len(set(labels_array.tolist()))
    if validation_count < 1 or len(labels) - validation_count < 1:
        raise DatasetError(
            "errors.split_too_small",
            examples=len(labels),
            validation_split=validation_split,
        )

    smallest = int(np.bincount(labels_array).min())
    stratify = labels_array if smallest >= 2 and validation_count >= classes else None
    if stratify is None:
        logger.warning("Split is not stratified: %d examples, %d classes", len(labels), classes)
    train, validation = train_test_split(
        indices, test_size=validation_count, random_state=seed, stratify=stratify
    )
    return sorted(int(i) for i in train), sorted(int(i) for i in validation)
