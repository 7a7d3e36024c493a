"""Estimates of what a training run will cost before it starts: parameters, memory, time.

`estimate_cost` builds the model of the run for its real dataset and settings, counts
its weights, times a few training and validation batches of the dataset after a
warm-up batch, and models the peak memory of the worker process. It runs in the
inference service, because the web server must not import TensorFlow. It takes a few
seconds (3 to 10 s measured on 2 busy cores), mostly for tracing the training and
validation functions. So the train page requests it on demand (a button) and stores
the result with the settings it was computed for. Estimating on every change of the form would
spend those seconds on every click, on the cores that running trainings use.

The peak memory of a worker process is modelled as the sum of:

- runtime: the resident memory of a process with TensorFlow loaded, measured in
  this process when the module is imported, plus `RUN_OVERHEAD_BYTES` for the traced
  functions, the `tf.data` runtime and the callbacks of one run;
- weights: every variable of the model in float32, plus one copy while a checkpoint
  is written;
- gradients: one float32 value per trainable weight;
- optimizer: the optimizer's slot variables (two per weight for Adam);
- activations: `ACTIVATION_FACTOR` times the outputs of every layer for one batch,
  plus what recurrent layers keep per step and attention layers per pair of steps;
- input pipeline: the cached training and validation inputs, the sequence arrays and
  their copies, and the prefetched batches.

It leaves out the allocator's fragmentation and freed memory that it keeps, scratch
buffers of single operations (such as convolution workspaces), GPU memory, memory of
other processes, and the evaluation and saving of the final model after training.
The epoch time is the mean time of the timed batches times the batches of an epoch,
plus what the job path adds: a read of the stop flag after every batch and a write of
the best weights. It is measured while the service runs, so trainings at the same
time slow the timed batches down and make the estimate longer.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import re
import statistics
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from bigmodel import jobs, sequence_pipeline, services
from bigmodel.architectures import Family, get_family
from bigmodel.architectures.cnn import resolve_color_mode
from bigmodel.config import Home
from bigmodel.errors import DatasetError
from bigmodel.estimate_views import CostEstimate
from bigmodel.image_datasets import load_image_dataset
from bigmodel.image_pipeline import IN_MEMORY_CACHE_BYTES, image_dataset
from bigmodel.sequence_datasets import load_sequence_dataset
from bigmodel.settings import TrainingSettings, from_dict
from bigmodel.splits import split_indices
from bigmodel.store import RunStore
from bigmodel.training import PreparedData, _loss_and_metrics, _optimizer
from bigmodel.worker import default_slots

logger = logging.getLogger(__name__)

FLOAT_BYTES = 4
ACTIVATION_FACTOR = 2
"""Forward outputs kept for the backward pass, and their gradients of the same size."""
RUN_OVERHEAD_BYTES = 96 * 1024**2
"""Memory of one run beyond its tensors: traced training and validation functions, the
`tf.data` runtime and the callbacks. About 75 MiB for small CNNs with TensorFlow 2.21
on 2 CPU cores, measured by tests/test_estimates.py, rounded up."""
PREFETCH_BATCHES = 2
"""Batches in the `tf.data` prefetch buffer at a time, an estimate of AUTOTUNE's choice."""
SEQUENCE_ARRAY_COPIES = 4
"""Copies of the sequence examples in memory: the loaded arrays, the split, the float32
tensors of `tf.data` and the training shuffle buffer."""
SAMPLE_BATCHES = 5
"""Batches of the dataset that the timing reads, again and again."""
WARMUP_BATCHES = 1
MAX_TIMED_BATCHES = 200
TRAINING_SECONDS = 1.5
"""Timing stops after this many seconds of timed training batches, after at least two."""
STOP_FLAG_READS = 5
VALIDATION_SECONDS = 0.5
"""Validation batches are timed for about this long, between 2 and `MAX_TIMED_BATCHES`."""


def _resident_bytes(field: str = "VmRSS") -> int:
    """Return a figure of this process's memory from /proc, or the peak where it is missing."""
    status = Path("/proc/self/status")
    if status.exists():
        found = re.search(rf"^{field}:\s+(\d+) kB", status.read_text(), re.MULTILINE)
        if found:
            return int(found.group(1)) * 1024
    import resource

    # NOTE: ru_maxrss is the peak, in kilobytes on Linux but in bytes on macOS.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


PROCESS_BASELINE_BYTES = _resident_bytes()
"""Resident memory when this module was imported: Python with TensorFlow loaded, as in a
worker process waiting for a run. The inference service imports it before loading models."""


@dataclasses.dataclass
class _Sample:
    """A few batches of the dataset, and what the estimate needs to know of the whole."""

    data: PreparedData
    """Training and validation pipelines over the sampled examples only."""
    validation_steps: int
    pipeline_bytes: int
    decode_seconds: float
    """Seconds to read the whole dataset once, extrapolated from the sample."""


def estimate_cost(
    store: RunStore,
    dataset_id: str,
    family_name: str,
    *,
    preset: str,
    model: Mapping[str, Any] | None = None,
    training: Mapping[str, Any] | None = None,
) -> CostEstimate:
    """Estimate the parameters, peak memory and epoch time of a run with these settings.

    `model` and `training` override single values of the preset, as in
    `jobs.submit_run`.

    Raises:
        SettingsError: for an invalid setting.
        RunNotFoundError: for an unknown dataset.
        DatasetError: when the family cannot train on this dataset.
    """
    family = get_family(family_name)
    base = jobs.preset_settings(family.name, preset)
    model_settings = from_dict(family.settings_class, {**base["model"], **(model or {})})
    training_settings = from_dict(TrainingSettings, {**base["training"], **(training or {})})
    if store.get_dataset(dataset_id).kind != family.data_kind:
        raise DatasetError("errors.family_data_mismatch", family=family.name, kind=family.data_kind)

    keras.utils.set_random_seed(training_settings.seed)
    sample = _SAMPLERS[family.data_kind](store, dataset_id, model_settings, training_settings)
    built = family.build(model_settings, sample.data.input_spec, sample.data.outputs)
    built.compile(optimizer=_optimizer(training_settings), **_loss_and_metrics(sample.data))
    timing = _time_batches(built, sample.data)
    job_path = _job_path_seconds(store, built, sample.data.steps_per_epoch)

    memory = _memory(built, training_settings.batch_size, sample)
    available, slots = worker_memory(store.home)
    estimate = CostEstimate(
        parameters=int(built.count_params()),
        memory=memory,
        process_baseline_bytes=PROCESS_BASELINE_BYTES,
        available_bytes=available,
        slots=slots,
        epoch_seconds=(
            sample.data.steps_per_epoch * timing.train_batch
            + sample.validation_steps * timing.test_batch
            + job_path
        ),
        first_epoch_extra_seconds=timing.warmup + sample.decode_seconds,
        steps_per_epoch=sample.data.steps_per_epoch,
        validation_steps=sample.validation_steps,
        timed_batches=timing.timed,
    )
    if not estimate.fits:
        estimate = _with_safer_setting(
            estimate, family, model_settings, training_settings, built, sample.data.input_spec
        )
    logger.info(
        "Estimate for %s on %s: %d parameters, %d MiB peak, %.1f s per epoch",
        family.name,
        dataset_id,
        estimate.parameters,
        estimate.peak_bytes // 1024**2,
        estimate.epoch_seconds,
    )
    return estimate


MEMORY_VARIABLE = "BIGMODEL_WORKER_MEMORY"
"""Environment variable that sets the memory of one run in MiB, for example in a container."""


def worker_memory(home: Home) -> tuple[int, int]:
    """Return the memory available to one run and the worker's slot count.

    The memory is `BIGMODEL_WORKER_MEMORY` MiB when set, else the machine's memory
    divided among the slots. The slots are those of the worker running for `home`,
    else the worker's default rule.
    """
    slots = services.worker_slots(home) or default_slots()
    configured = os.environ.get(MEMORY_VARIABLE, "").strip()
    if configured.isdigit() and int(configured) > 0:
        return int(configured) * 2**20, slots
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    # NOTE: a container's memory limit (cgroups) is not read; set BIGMODEL_WORKER_MEMORY.
    return total // slots, slots


# Sampling the dataset.


def _sample_images(
    store: RunStore, dataset_id: str, model_settings: Any, training: TrainingSettings
) -> _Sample:
    dataset = load_image_dataset(dataset_id, store)
    if len(dataset.classes) < 2:
        raise DatasetError("errors.too_few_classes", count=len(dataset.classes))
    labels = [item.label for item in dataset.items]
    train_idx, val_idx = split_indices(labels, training.validation_split, training.seed)
    files = [dataset.path / item.file for item in dataset.items]
    size = model_settings.input_size
    batch = training.batch_size

    def pipeline(indices: list[int]) -> tf.data.Dataset:
        chosen = indices[: batch * SAMPLE_BATCHES]
        return image_dataset(
            [files[i] for i in chosen],
            [labels[i] for i in chosen],
            size,
            batch,
            epochs=None,
            seed=training.seed,
        )

    train, validation = pipeline(train_idx), pipeline(val_idx)
    decode_seconds = _seconds_per_example(train) * len(files)

    image_bytes = size * size * 3 * FLOAT_BYTES
    # NOTE: training shuffles the whole training split, so its images stay in memory
    # even when the cache is on disk. Only the validation cache moves to disk.
    validation_bytes = len(val_idx) * image_bytes
    cached = len(train_idx) * image_bytes
    cached += validation_bytes if validation_bytes <= IN_MEMORY_CACHE_BYTES else 0
    color_mode = resolve_color_mode(model_settings, dataset.summary())
    data = PreparedData(
        train=train,
        validation=validation,
        steps_per_epoch=-(-len(train_idx) // batch),
        class_names=list(dataset.classes),
        input_spec={"kind": "image", "color_mode": color_mode, "size": size},
        split={"train": train_idx, "validation": val_idx},
    )
    return _Sample(
        data=data,
        validation_steps=-(-len(val_idx) // batch),
        pipeline_bytes=cached + PREFETCH_BATCHES * 2 * batch * image_bytes,
        decode_seconds=decode_seconds,
    )


def _seconds_per_example(pipeline: tf.data.Dataset) -> float:
    """Time reading a pipeline once into its cache, per example after the first batch.

    The first batch also starts the pipeline's threads, which happens once per epoch
    and not once per batch, so it is left out unless it is the only one.
    """
    ends = [time.perf_counter()]
    counts = []
    for inputs, _ in pipeline:
        ends.append(time.perf_counter())
        counts.append(int(inputs.shape[0]))
    if len(counts) > 1:
        return (ends[-1] - ends[1]) / sum(counts[1:])
    return (ends[-1] - ends[0]) / max(sum(counts), 1)


def _sample_sequences(
    store: RunStore, dataset_id: str, model_settings: Any, training: TrainingSettings
) -> _Sample:
    dataset = load_sequence_dataset(dataset_id, store)
    prepared = sequence_pipeline.prepare_sequences(
        dataset, training.validation_split, training.seed
    )
    batch = training.batch_size
    count = batch * SAMPLE_BATCHES

    def pipeline(x: np.ndarray, y: np.ndarray) -> tf.data.Dataset:
        return sequence_pipeline.sequence_dataset(
            x[:count], y[:count], batch, epochs=None, seed=training.seed
        )

    data = PreparedData(
        train=pipeline(prepared.train_x, prepared.train_y),
        validation=pipeline(prepared.validation_x, prepared.validation_y),
        steps_per_epoch=-(-len(prepared.train_x) // batch),
        class_names=list(dataset.class_names),
        input_spec=prepared.input_spec,
        split=prepared.split,
        task=dataset.task,
        num_outputs=prepared.num_outputs,
        target_mean=prepared.target_mean,
        target_std=prepared.target_std,
    )
    arrays = sum(
        array.astype(np.float32).nbytes
        for array in (prepared.train_x, prepared.validation_x, prepared.train_y)
    )
    example_bytes = prepared.train_x[:1].astype(np.float32).nbytes
    return _Sample(
        data=data,
        validation_steps=-(-len(prepared.validation_x) // batch),
        pipeline_bytes=SEQUENCE_ARRAY_COPIES * arrays + PREFETCH_BATCHES * batch * example_bytes,
        decode_seconds=0.0,
    )


_SAMPLERS = {"image": _sample_images, "sequence": _sample_sequences}


# Timing.


@dataclasses.dataclass(frozen=True)
class _Timing:
    train_batch: float
    test_batch: float
    warmup: float
    """Seconds that the first training and validation batches took beyond a timed one."""
    timed: int


class _BatchClock(keras.callbacks.Callback):
    """Record when training or validation starts and each batch ends.

    Training stops once the timed batches (those after the warm-up) took `budget`
    seconds, and at least two of them ran.
    """

    def __init__(self, budget: float) -> None:
        super().__init__()
        self.budget = budget
        self.ends: list[float] = []

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.ends = [time.perf_counter()]

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self.ends.append(time.perf_counter())
        timed = self.ends[WARMUP_BATCHES:]
        if len(timed) > 2 and timed[-1] - timed[0] >= self.budget:
            self.model.stop_training = True

    def on_test_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.ends = [time.perf_counter()]

    def on_test_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        self.ends.append(time.perf_counter())


def _time_batches(model: keras.Model, data: PreparedData) -> _Timing:
    """Time training, then validation batches, as `model.fit` runs them, after a warm-up.

    The first batch of each traces its function and is left out of the per-batch time,
    which is the mean over the timed batches. A mean, unlike a median, keeps the pauses
    in which other processes had the cores, as a real epoch has them too.
    """
    clock = _BatchClock(TRAINING_SECONDS)
    model.fit(
        data.train.repeat(),
        steps_per_epoch=WARMUP_BATCHES + MAX_TIMED_BATCHES,
        epochs=1,
        callbacks=[clock],
        shuffle=False,
        verbose=0,
    )
    train_ends = clock.ends
    train_batch = _mean_batch(train_ends)

    # Validation has no backward pass, so a third of a training batch guesses its time.
    steps = round(VALIDATION_SECONDS / max(train_batch / 3, 1e-6))
    model.evaluate(
        data.validation.repeat(),
        steps=WARMUP_BATCHES + min(max(steps, 2), MAX_TIMED_BATCHES),
        callbacks=[clock],
        verbose=0,
    )
    test_ends = clock.ends
    test_batch = _mean_batch(test_ends)

    warmup = _warmup(train_ends, train_batch) + _warmup(test_ends, test_batch)
    return _Timing(train_batch, test_batch, warmup, len(train_ends) - 1 - WARMUP_BATCHES)


def _mean_batch(ends: list[float]) -> float:
    timed = ends[WARMUP_BATCHES:]
    if len(timed) < 2:
        return ends[-1] - ends[0]
    return (timed[-1] - timed[0]) / (len(timed) - 1)


def _warmup(ends: list[float], per_batch: float) -> float:
    return max(ends[WARMUP_BATCHES] - ends[0] - WARMUP_BATCHES * per_batch, 0.0)


def _job_path_seconds(store: RunStore, model: keras.Model, steps_per_epoch: int) -> float:
    """Time what the job path adds to an epoch beside `model.fit`.

    A worker reads the run's stop flag from the store after every batch and writes
    the best weights after an epoch that improved. Writes of progress and of the
    whole model, which are at most two a second and one in 30 seconds, are left out.
    """
    reads = []
    for _ in range(STOP_FLAG_READS):
        started = time.perf_counter()
        store.is_stop_requested(0)  # no run has id 0, but the query costs the same
        reads.append(time.perf_counter() - started)
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        model.save_weights(Path(folder) / "best.weights.h5")
        checkpoint = time.perf_counter() - started
    return steps_per_epoch * statistics.median(reads) + checkpoint


# Memory.


def _memory(model: keras.Model, batch_size: int, sample: _Sample) -> dict[str, int]:
    """Return the bytes of each part of the peak memory model, for a built and fitted model."""
    weights = sum(math.prod(v.shape) for v in model.variables)
    trainable = sum(math.prod(v.shape) for v in model.trainable_variables)
    optimizer = sum(math.prod(v.shape) for v in model.optimizer.variables if len(v.shape))
    return {
        "runtime": PROCESS_BASELINE_BYTES + RUN_OVERHEAD_BYTES,
        "weights": 2 * weights * FLOAT_BYTES,
        "gradients": trainable * FLOAT_BYTES,
        "optimizer": optimizer * FLOAT_BYTES,
        "activations": ACTIVATION_FACTOR * batch_size * activation_elements(model) * FLOAT_BYTES,
        "input_pipeline": sample.pipeline_bytes,
    }


def activation_elements(model: keras.Model) -> int:
    """Count the values that one example passes through the model's layers.

    Input dimensions left open (images of any size) count as 1, because the resizing
    layer that follows has a fixed size. Recurrent layers add their gates and states of
    every step, and attention layers their scores, softmax and dropout of each head.
    """
    total = 0
    for layer in model.layers:
        for tensor in keras.tree.flatten(layer.output):
            total += math.prod(dim or 1 for dim in tensor.shape[1:])
        total += _internal_elements(layer)
    return total


def _internal_elements(layer: keras.layers.Layer) -> int:
    """Count the values per example that a layer keeps beyond its output, for its gradient."""
    if not isinstance(
        layer, keras.layers.Bidirectional | keras.layers.RNN | keras.layers.MultiHeadAttention
    ):
        return 0
    # The wrapped layers of Bidirectional were never called, so the steps come from it.
    steps = keras.tree.flatten(layer.input)[0].shape[1] or 1
    if isinstance(layer, keras.layers.MultiHeadAttention):
        return int(3 * layer.num_heads * steps * steps)
    if isinstance(layer, keras.layers.Bidirectional):
        return 2 * steps * _recurrent_elements_per_step(layer.forward_layer)
    return steps * _recurrent_elements_per_step(layer)


def _recurrent_elements_per_step(layer: keras.layers.Layer) -> int:
    # LSTM keeps 4 gates, the cell and the state per step, GRU 3 gates and the state.
    if isinstance(layer, keras.layers.LSTM):
        return int(6 * layer.units)
    if isinstance(layer, keras.layers.GRU):
        return int(4 * layer.units)
    return 0


# A safer setting.


def _with_safer_setting(
    estimate: CostEstimate,
    family: Family,
    model_settings: Any,
    training: TrainingSettings,
    model: keras.Model,
    input_spec: Mapping[str, Any],
) -> CostEstimate:
    """Find the largest batch size, then input size, whose peak memory estimate fits.

    Halves the batch size first, because it changes only the activations and the
    prefetched batches. Where even a batch of 1 does not fit, a family with an input
    size halves it too, rebuilding the model to count its weights and activations.
    """
    for size in _input_sizes(model_settings):
        peak, changes = _peak_with(estimate, family, model_settings, model, input_spec, size)
        # With the input size as it is, only smaller batches are worth trying.
        batches = _batch_sizes(training.batch_size)
        if size is not None:
            batches = [training.batch_size, *batches]
        for batch in batches:
            total = peak(batch)
            if total <= estimate.available_bytes:
                if batch != training.batch_size:
                    changes["training"] = {"batch_size": batch}
                return dataclasses.replace(
                    estimate, safer=_without_empty(changes), safer_peak_bytes=total
                )
    return estimate


def _input_sizes(model_settings: Any) -> list[int | None]:
    size = getattr(model_settings, "input_size", None)
    if size is None:
        return [None]
    sizes: list[int | None] = [None]
    while size > 8:
        size = max(8, size // 2 // 8 * 8)
        sizes.append(size)
    return sizes


def _batch_sizes(batch: int) -> list[int]:
    sizes = []
    while batch > 1:
        batch //= 2
        sizes.append(max(batch, 1))
    return sizes


def _peak_with(
    estimate: CostEstimate,
    family: Family,
    model_settings: Any,
    model: keras.Model,
    input_spec: Mapping[str, Any],
    size: int | None,
) -> tuple[Any, dict[str, dict[str, Any]]]:
    """Return a function of the batch size to the peak estimate, and the model changes."""
    memory = dict(estimate.memory)
    changes: dict[str, dict[str, Any]] = {"model": {}}
    elements = activation_elements(model)
    if size is not None:
        changes["model"] = {"input_size": size}
        smaller = dataclasses.replace(model_settings, input_size=size)
        smaller_spec = {**input_spec, "size": size}
        rebuilt = family.build(smaller, smaller_spec, int(model.output.shape[-1]))
        ratio = rebuilt.count_params() / max(model.count_params(), 1)
        for part in ("weights", "gradients", "optimizer"):
            memory[part] = int(memory[part] * ratio)
        memory["input_pipeline"] = int(
            memory["input_pipeline"] * (size / model_settings.input_size) ** 2
        )
        elements = activation_elements(rebuilt)
    fixed = sum(value for part, value in memory.items() if part != "activations")

    def peak(batch: int) -> int:
        return fixed + ACTIVATION_FACTOR * batch * elements * FLOAT_BYTES

    return peak, changes


def _without_empty(changes: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {group: values for group, values in changes.items() if values}
