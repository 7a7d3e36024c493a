"""Training data for sequence models: the split, the statistics and the `tf.data` pipelines.

The examples of a `SequenceDataset` are split into training and validation. Feature
statistics, and for regression and forecasts the target statistics, are computed on
the training split only. The feature statistics go into the model's
`SequenceNormalization` layer. Targets are standardised for training, so that the
mean squared error is well-conditioned whatever their units, and the saved model ends
in a `TargetScaling` layer that maps predictions back to the targets' units.
`mae` and `rmse` are reported in the targets' units during training as well.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from bigmodel import shuffling
from bigmodel.errors import DatasetError
from bigmodel.sequence_datasets import SequenceDataset, SequenceExamples
from bigmodel.splits import split_indices

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, eq=False)
class PreparedSequences:
    """Split and standardised arrays of one run, and what the model must know.

    Attributes:
        train_x, validation_x: inputs `(examples, length, features)`, NaN-padded.
        train_y, validation_y: class indices, or standardised targets `(examples, outputs)`.
        split: example indices of each part, as stored with the run.
        input_spec: what the family's builder and the saved model need: `kind`,
            `task`, `length`, `features`, `feature_names`, `feature_mean`, `feature_std`.
        target_mean, target_std: per output, for regression and forecasts; else None.
    """

    train_x: np.ndarray
    train_y: np.ndarray
    validation_x: np.ndarray
    validation_y: np.ndarray
    split: dict[str, list[int]]
    input_spec: dict[str, Any]
    target_mean: list[float] | None
    target_std: list[float] | None

    @property
    def num_outputs(self) -> int:
        if self.target_mean is None:
            return 0
        return len(self.target_mean)


def prepare_sequences(
    dataset: SequenceDataset, validation_split: float, seed: int
) -> PreparedSequences:
    """Split a dataset's examples and standardise them with training statistics.

    Raises:
        DatasetError: too few examples to keep a validation share.
    """
    examples = dataset.examples()
    gap = dataset.spec.horizon - 1 if dataset.task == "forecast" else 0
    train, validation = split_examples(examples, dataset.task, validation_split, seed, gap)
    mean, std = feature_statistics(examples.x[train])

    y = examples.y
    target_mean = target_std = None
    if dataset.task != "classification":
        target_mean, target_std = target_statistics(y[train])
        y = ((y - np.asarray(target_mean)) / np.asarray(target_std)).astype(np.float32)

    input_spec = {
        "kind": "sequence",
        "task": dataset.task,
        "length": dataset.length,
        "features": len(dataset.feature_names),
        "feature_names": list(dataset.feature_names),
        "feature_mean": mean,
        "feature_std": std,
    }
    logger.info(
        "Sequence examples: %d training, %d validation, shape %s",
        len(train),
        len(validation),
        examples.x.shape,
    )
    return PreparedSequences(
        train_x=examples.x[train],
        train_y=y[train],
        validation_x=examples.x[validation],
        validation_y=y[validation],
        split={"train": train, "validation": validation},
        input_spec=input_spec,
        target_mean=target_mean,
        target_std=target_std,
    )


def split_examples(
    examples: SequenceExamples, task: str, validation_split: float, seed: int, gap: int = 0
) -> tuple[list[int], list[int]]:
    """Split example indices into training and validation.

    Series windows overlap in time, so each series keeps its first windows for
    training and its last ones for validation. The `gap` windows just before the
    validation ones are left out, so that no validation target is a training target.
    Other classification examples are split stratified by class, and the rest at random.

    Raises:
        DatasetError: either part would be empty.
    """
    if examples.chronological:
        return chronological_split(examples.groups, validation_split, gap)
    labels = examples.y if task == "classification" else np.zeros(len(examples.y), dtype=np.int64)
    return split_indices(labels.tolist(), validation_split, seed)


def chronological_split(
    groups: np.ndarray, validation_split: float, gap: int = 0
) -> tuple[list[int], list[int]]:
    """Keep the last `validation_split` share of each group's examples for validation.

    Examples of a group must be in time order. A group too small for one validation
    example gives none, unless no group gives any: then the largest gives its last one.

    Raises:
        DatasetError: either part would be empty.
    """
    members = [np.flatnonzero(groups == group) for group in np.unique(groups)]
    counts = [round(len(indices) * validation_split) for indices in members]
    if sum(counts) == 0 and members:
        counts[int(np.argmax([len(indices) for indices in members]))] = 1

    train: list[int] = []
    validation: list[int] = []
    for indices, count in zip(members, counts, strict=True):
        cut = len(indices) - count
        train += [int(index) for index in indices[: max(cut - gap, 0) if count else cut]]
        validation += [int(index) for index in indices[cut:]]
    if not train or not validation:
        raise DatasetError(
            "errors.split_too_small", examples=len(groups), validation_split=validation_split
        )
    return sorted(train), sorted(validation)


def feature_statistics(x: np.ndarray) -> tuple[list[float], list[float]]:
    """Return the mean and standard deviation of each feature over all real steps.

    Args:
        x: `(examples, steps, features)`, with NaN for padded steps, which are ignored.
    """
    steps = x.reshape(-1, x.shape[-1]).astype(np.float64)
    present = ~np.isnan(steps)
    counts = np.maximum(present.sum(axis=0), 1)
    mean = np.where(present, steps, 0.0).sum(axis=0) / counts
    variance = np.where(present, (steps - mean) ** 2, 0.0).sum(axis=0) / counts
    return mean.tolist(), _usable_std(np.sqrt(variance))


def target_statistics(y: np.ndarray) -> tuple[list[float], list[float]]:
    """Return the mean and standard deviation of each output column `(examples, outputs)`."""
    values = y.astype(np.float64)
    return values.mean(axis=0).tolist(), _usable_std(values.std(axis=0))


def _usable_std(std: np.ndarray) -> list[float]:
    # A constant feature or target would divide by zero; 1 leaves it centred instead.
    return [float(value) if value > 1e-12 else 1.0 for value in std]


def sequence_dataset(
    x: np.ndarray, y: np.ndarray, batch_size: int, *, epochs: range | None, seed: int
) -> tf.data.Dataset:
    """Build a batched dataset of `(inputs, targets)` from in-memory arrays.

    Args:
        x: inputs `(examples, length, features)` float32.
        y: class indices `(examples,)` or targets `(examples, outputs)`.
        batch_size: examples per batch.
        epochs: for training, the epochs to yield one after another, each shuffled by
            `seed` and its index (see `bigmodel.shuffling`). None, for evaluation,
            yields the examples once in order.
        seed: the run's seed.
    """
    # NOTE: the examples are held in memory, which suits CSV uploads. A dataset larger
    # than memory would need the arrays read from the .npz file in chunks.
    dataset = tf.data.Dataset.from_tensor_slices((x.astype(np.float32), y))
    return shuffling.batches(dataset, len(x), batch_size, seed, epochs)


class MeanAbsoluteErrorInUnits(keras.metrics.MeanAbsoluteError):
    """Mean absolute error of standardised targets, reported in the targets' units.

    Args:
        std: The standard deviation that each output column was divided by.
        name: Name in the training logs. Defaults to `mae`.
    """

    def __init__(self, std: Sequence[float], name: str = "mae", **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.std = [float(value) for value in std]

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Any:
        std = ops.convert_to_tensor(self.std, dtype=self.dtype)
        return super().update_state(y_true * std, y_pred * std, sample_weight)


class RootMeanSquaredErrorInUnits(keras.metrics.RootMeanSquaredError):
    """Root mean squared error of standardised targets, reported in the targets' units.

    Args:
        std: The standard deviation that each output column was divided by.
        name: Name in the training logs. Defaults to `rmse`.
    """

    def __init__(self, std: Sequence[float], name: str = "rmse", **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.std = [float(value) for value in std]

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Any:
        std = ops.convert_to_tensor(self.std, dtype=self.dtype)
        return super().update_state(y_true * std, y_pred * std, sample_weight)
