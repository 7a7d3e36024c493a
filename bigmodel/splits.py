"""Train and validation splits that are stored with each run."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from bigmodel.errors import DatasetError

logger = logging.getLogger(__name__)


def split_indices(
    labels: Sequence[int], validation_split: float, seed: int
) -> tuple[list[int], list[int]]:
    """Split example indices into training and validation, class by class.

    Each class gives `validation_split` of its examples to validation, rounded, but
    always keeps at least one for training, so the model trains on every class. A class
    with a single example therefore has none in validation.

    Raises:
        DatasetError: if the validation part would be empty.
    """
    labels_array = np.asarray(labels)
    rng = np.random.default_rng(seed)
    train: list[int] = []
    validation: list[int] = []
    for label in np.unique(labels_array):
        members = np.flatnonzero(labels_array == label)
        rng.shuffle(members)
        count = min(len(members) - 1, round(len(members) * validation_split))
        validation.extend(int(i) for i in members[:count])
        train.extend(int(i) for i in members[count:])

    if not validation:
        raise DatasetError(
            "errors.split_too_small", examples=len(labels), validation_split=validation_split
        )
    missing = len(np.unique(labels_array)) - len(set(labels_array[validation].tolist()))
    if missing:
        logger.warning("%d classes have no validation example", missing)
    return sorted(train), sorted(validation)
