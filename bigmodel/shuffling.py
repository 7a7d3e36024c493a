"""Batches of a training set, shuffled per epoch by the seed and the epoch index only.

`tf.data.Dataset.shuffle(reshuffle_each_iteration=True)` draws each epoch's order from
how often the dataset was iterated before. A run resumed in a new process would then
see other batches than an uninterrupted run. Here the order of epoch k depends only on
`(seed, k)`, so a resumed run trains on the same batches and ends with the same model.
"""

from __future__ import annotations

import tensorflow as tf

EPOCH_SEED_STRIDE = 1000
"""Factor of the run's seed in an epoch's shuffle seed, to which the epoch index is added.

It exceeds the 1,000 epochs that `TrainingSettings.epochs` allows, so two epochs of a
run never share a seed."""


def batches(
    dataset: tf.data.Dataset,
    size: int,
    batch_size: int,
    seed: int,
    epochs: range | None,
) -> tf.data.Dataset:
    """Batch the examples of `dataset` for training or for evaluation.

    Args:
        dataset: The examples, unbatched; cache it first, because it is read once per
            epoch.
        size: Number of examples, which is also the shuffle buffer.
        batch_size: Examples per batch; an epoch's last batch may be smaller.
        seed: The run's seed.
        epochs: Training epochs to yield, one after another, each in its own order.
            Fit with `steps_per_epoch=ceil(size / batch_size)` and `initial_epoch=
            epochs.start`. None yields the examples once, in order.
    """
    if epochs is None:
        return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)

    def epoch_batches(epoch: tf.Tensor) -> tf.data.Dataset:
        epoch_seed = tf.constant(seed, tf.int64) * EPOCH_SEED_STRIDE + epoch
        shuffled = dataset.shuffle(size, seed=epoch_seed, reshuffle_each_iteration=False)
        return shuffled.batch(batch_size)

    ordered = tf.data.Dataset.range(epochs.start, epochs.stop).flat_map(epoch_batches)
    return ordered.prefetch(tf.data.AUTOTUNE)
