"""Execute one training run from the run store, start to finish.

`execute_run` is what a worker process calls for each claimed run, and what the CLI
calls in its own process. It never lets an error escape as success: a `BigModelError`
marks the run failed with its message, anything else marks it failed with the
traceback, and only a saved model marks it completed or stopped. A run paused on
request ends as paused, with a resume point from which `execute_run` continues it
when it is queued again (`bigmodel.jobs.resume_run`).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import platform
import time
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import keras
import numpy as np
import sklearn
import tensorflow as tf
from sklearn.utils.class_weight import compute_class_weight

from bigmodel import checkpoints, devices, saved_models, sequence_pipeline, training_state
from bigmodel.architectures import Family, get_family
from bigmodel.architectures.cnn import CNNSettings, resolve_color_mode
from bigmodel.callbacks import Checkpointer, LatestCheckpointer, RunStoreLogger
from bigmodel.errors import BigModelError, DatasetError
from bigmodel.image_datasets import load_image_dataset
from bigmodel.image_pipeline import image_dataset
from bigmodel.layers import TargetScaling
from bigmodel.sequence_datasets import load_sequence_dataset
from bigmodel.settings import TrainingSettings, from_dict
from bigmodel.splits import split_indices
from bigmodel.store import COMPLETED, FAILED, STOPPED, Run, RunStore, to_json

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[dict[str, Any]], None]


@dataclasses.dataclass
class PreparedData:
    """Training and validation pipelines of one run, with what the model must know.

    For regression and forecasts, the pipelines' targets are standardised with
    `target_mean` and `target_std`, and `num_outputs` is the number of predicted values.
    """

    train: tf.data.Dataset
    validation: tf.data.Dataset
    steps_per_epoch: int
    class_names: list[str]
    input_spec: dict[str, Any]
    split: dict[str, list[int]]
    task: str = "classification"
    num_outputs: int = 0
    target_names: list[str] = dataclasses.field(default_factory=list)
    target_mean: list[float] | None = None
    target_std: list[float] | None = None
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)
    """Further entries of the saved model's metadata."""
    notices: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    """Warnings about the split that make the validation figures less meaningful."""
    train_labels: list[int] = dataclasses.field(default_factory=list)
    """Class index of each training example; empty for regression and forecasts."""

    @property
    def outputs(self) -> int:
        return self.num_outputs if self.task != "classification" else len(self.class_names)


def execute_run(store: RunStore, run: Run, on_progress: ProgressCallback | None = None) -> Run:
    """Train `run`, which must already be marked running, and store its outcome."""
    run_dir = store.home.run_dir(run.id)
    run_dir.mkdir(parents=True, exist_ok=True)
    log_handler = _attach_run_log(run_dir / "run.log")
    try:
        logger.info("Run %s started: %s with settings %s", run.id, run.family, run.settings)
        _train(store, run, run_dir, on_progress)
    except BigModelError as error:
        logger.warning("Run %s failed: %s", run.id, error)
        store.finish_run(run.id, FAILED, error_key=error.key, error_params=to_json(error.params))
    except Exception:
        logger.exception("Run %s failed with an unexpected error", run.id)
        store.finish_run(
            run.id,
            FAILED,
            error_key="errors.unexpected",
            error_params={"run_id": run.id},
            traceback=traceback.format_exc(),
        )
    finally:
        logging.getLogger("bigmodel").removeHandler(log_handler)
        log_handler.close()
        keras.backend.clear_session()
    return store.get_run(run.id)


def _attach_run_log(path: Path) -> logging.Handler:
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    package_logger = logging.getLogger("bigmodel")
    package_logger.addHandler(handler)
    if package_logger.level == logging.NOTSET or package_logger.level > logging.INFO:
        package_logger.setLevel(logging.INFO)
    return handler


def _train(store: RunStore, run: Run, run_dir: Path, on_progress: ProgressCallback | None) -> None:
    family = get_family(run.family)
    model_settings = from_dict(family.settings_class, run.settings.get("model"))
    training = from_dict(TrainingSettings, run.settings.get("training"))
    strategy = devices.training_strategy()
    keras.utils.set_random_seed(training.seed)
    store.update_run(run.id, environment={**environment(), **devices.describe(strategy)})
    resume_from = _resume_point(run, run_dir)
    first_epoch = resume_from.epochs_trained if resume_from is not None else 0

    prepare = _PREPARERS[family.data_kind]
    data = prepare(
        store, run, model_settings, training, run_dir, range(first_epoch, training.epochs)
    )
    (run_dir / "split.json").write_text(json.dumps(data.split), "utf-8")

    with strategy.scope():
        model = family.build(model_settings, data.input_spec, data.outputs)
        model.compile(optimizer=_optimizer(training), **_loss_and_metrics(data))
        if resume_from is not None:
            training_state.restore_model(model, resume_from, resume_from.load_arrays())
    logger.info(
        "Run %s: model has %d parameters, trains on %d replicas from epoch %d",
        run.id,
        model.count_params(),
        strategy.num_replicas_in_sync,
        first_epoch + 1,
    )
    class_weight = class_weights(training, data)
    callbacks = _callbacks(store, run, training, data, run_dir, resume_from, on_progress)
    started = time.monotonic()
    history = model.fit(
        data.train,
        validation_data=data.validation,
        epochs=training.epochs,
        initial_epoch=first_epoch,
        steps_per_epoch=data.steps_per_epoch,
        callbacks=callbacks.ordered,
        shuffle=False,  # the pipeline shuffles every epoch itself
        class_weight=class_weight,
        verbose=0,
    )
    _check_finite(history.history, training)
    if callbacks.latest.paused:
        store.pause_run(run.id, callbacks.latest.epochs_trained)
        return

    trained = {
        "epochs_trained": first_epoch + len(history.history.get("loss", [])),
        "training_seconds": callbacks.store_logger.elapsed_before + time.monotonic() - started,
        "class_weights": list(class_weight.values()) if class_weight else None,
    }
    status = STOPPED if callbacks.store_logger.stopped_by_user else COMPLETED
    meta = _model_meta(run, family, data, model_settings, training)
    _save_outcome(store, run, run_dir, model, data, meta, status, trained)


def _save_outcome(
    store: RunStore,
    run: Run,
    run_dir: Path,
    model: keras.Model,
    data: PreparedData,
    meta: dict[str, Any],
    status: str,
    trained: dict[str, Any],
) -> None:
    """Evaluate and save the trained model, and finish the run with `status` and its results."""
    evaluation = model.evaluate(data.validation, return_dict=True, verbose=0)
    path = saved_models.save_model(_in_target_units(model, data), run_dir, meta)
    results = {
        **_validation_results(evaluation, data),
        "val_loss": float(evaluation["loss"]),
        **trained,
        "parameters": int(model.count_params()),
        "task": data.task,
        "classes": data.class_names,
        "targets": data.target_names,
        "input_spec": data.input_spec,
        "notices": data.notices,
        **_validation_class_counts(model, data),
    }
    store.finish_run(run.id, status, results=to_json(results), model_path=str(path))
    logger.info("Run %s %s: %s", run.id, status, results)


@dataclasses.dataclass
class RunCallbacks:
    """The callbacks of one run, in the order in which Keras calls them."""

    store_logger: RunStoreLogger
    latest: LatestCheckpointer
    ordered: list[keras.callbacks.Callback]


def _callbacks(
    store: RunStore,
    run: Run,
    training: TrainingSettings,
    data: PreparedData,
    run_dir: Path,
    resume_from: checkpoints.ResumePoint | None,
    on_progress: ProgressCallback | None,
) -> RunCallbacks:
    """Build the run's callbacks: best weights first and the resume point last.

    So an epoch that the store shows has its best weights on disk, and the resume
    point includes what every other callback did at the end of the epoch. The store
    logger comes before the learning-rate reduction, so that it records the learning
    rate that the epoch trained with.
    """
    folder = run_dir / "checkpoints"
    first_epoch = resume_from.epochs_trained if resume_from is not None else 0
    best_weights = Checkpointer(folder)
    store_logger = RunStoreLogger(
        store,
        run.id,
        training.epochs,
        data.steps_per_epoch,
        on_progress=on_progress,
        initial_epoch=first_epoch,
        elapsed_before=_elapsed_before(store, run.id, first_epoch),
    )
    stateful: dict[str, keras.callbacks.Callback] = {
        "best_weights": best_weights,
        "early_stopping": _early_stopping(training),
    }
    reduce_learning_rate = _reduce_learning_rate(training)
    if reduce_learning_rate is not None:
        stateful["reduce_learning_rate"] = reduce_learning_rate
    latest = LatestCheckpointer(
        folder,
        training.epochs,
        stateful,
        pause_requested=lambda: store.is_pause_requested(run.id),
        resume_from=resume_from,
        interval=checkpoint_interval(),
    )
    ordered = [best_weights, store_logger, stateful["early_stopping"]]
    if reduce_learning_rate is not None:
        ordered.append(reduce_learning_rate)
    ordered += [keras.callbacks.TerminateOnNaN(), latest]
    return RunCallbacks(store_logger, latest, ordered)


CHECKPOINT_SECONDS_VARIABLE = "BIGMODEL_CHECKPOINT_SECONDS"
"""Environment variable: minimum seconds between two writes of a run's resume point."""


def checkpoint_interval() -> float:
    """Return the seconds between resume points: `BIGMODEL_CHECKPOINT_SECONDS`, or 30."""
    return float(os.environ.get(CHECKPOINT_SECONDS_VARIABLE) or 30.0)


def _resume_point(run: Run, run_dir: Path) -> checkpoints.ResumePoint | None:
    """Return the resume point that a resumed run continues from; None for a fresh start.

    Raises:
        BigModelError: when the resume point is missing, damaged or of another epoch.
    """
    if run.resume_epoch is None:
        return None
    point = checkpoints.read_resume_point(run_dir / "checkpoints")
    if point is None or point.epochs_trained != run.resume_epoch or not point.is_intact():
        raise BigModelError("errors.resume_point_damaged", run_id=run.id, epoch=run.resume_epoch)
    logger.info("Run %s continues after epoch %d", run.id, point.epochs_trained)
    return point


def _elapsed_before(store: RunStore, run_id: int, first_epoch: int) -> float:
    """Return the training seconds that the epochs before `first_epoch` took."""
    rows = store.get_metrics(run_id, kind="epoch")
    return max((row.elapsed for row in rows if row.epoch < first_epoch), default=0.0)


def _loss_and_metrics(data: PreparedData) -> dict[str, Any]:
    """Return the loss and metrics of the task: cross-entropy, or MSE with MAE and RMSE."""
    if data.task == "classification":
        return {"loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]}
    assert data.target_std is not None
    return {
        "loss": "mse",
        "metrics": [
            sequence_pipeline.MeanAbsoluteErrorInUnits(data.target_std, name="mae"),
            sequence_pipeline.RootMeanSquaredErrorInUnits(data.target_std, name="rmse"),
        ],
    }


def _validation_results(evaluation: Mapping[str, float], data: PreparedData) -> dict[str, float]:
    if data.task == "classification":
        return {"val_accuracy": float(evaluation["accuracy"])}
    return {"val_mae": float(evaluation["mae"]), "val_rmse": float(evaluation["rmse"])}


def class_weights(training: TrainingSettings, data: PreparedData) -> dict[int, float] | None:
    """Return the loss weight of each class index, or None when every class weighs 1.

    `balanced` gives class `c` the weight `n / (k * n_c)` over the training split
    (scikit-learn's `compute_class_weight`). A class with no training example keeps 1.
    """
    if training.class_weight == "none" or data.task != "classification":
        return None
    present = np.unique(data.train_labels)
    computed = compute_class_weight("balanced", classes=present, y=data.train_labels)
    weights = {index: 1.0 for index in range(len(data.class_names))}
    weights.update({int(c): float(w) for c, w in zip(present, computed, strict=True)})
    return weights


def _validation_class_counts(model: keras.Model, data: PreparedData) -> dict[str, list[int]]:
    """Count the validation examples of each class and the model's predictions of each.

    Both lists follow `data.class_names`; diagnostics read them to find a model that
    predicts one class for everything. Regression and forecasts return nothing.
    """
    if data.task != "classification":
        return {}
    classes = len(data.class_names)
    true_counts = np.zeros(classes, dtype=np.int64)
    predicted_counts = np.zeros(classes, dtype=np.int64)
    for x, y in data.validation:
        predicted = np.argmax(model.predict_on_batch(x), axis=-1)
        true_counts += np.bincount(np.asarray(y), minlength=classes)
        predicted_counts += np.bincount(predicted, minlength=classes)
    return {
        "validation_counts": true_counts.tolist(),
        "validation_predicted_counts": predicted_counts.tolist(),
    }


def _in_target_units(model: keras.Model, data: PreparedData) -> keras.Model:
    """Return the model to save: for standardised targets, one that predicts in their units."""
    if data.target_mean is None or data.target_std is None:
        return model
    values = TargetScaling(data.target_mean, data.target_std, name="target_units")(model.output)
    return keras.Model(model.input, values, name=model.name)


def _optimizer(training: TrainingSettings) -> keras.optimizers.Optimizer:
    optimizers = {
        "adam": keras.optimizers.Adam,
        "adamw": keras.optimizers.AdamW,
        "rmsprop": keras.optimizers.RMSprop,
        "sgd": keras.optimizers.SGD,
    }
    return optimizers[training.optimizer](learning_rate=training.learning_rate)


def _early_stopping(training: TrainingSettings) -> keras.callbacks.EarlyStopping:
    # With patience 0 (no early stopping) the callback still restores the best
    # weights at the end, which is what a user Stop keeps.
    patience = training.patience if training.patience > 0 else training.epochs + 1
    return keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=patience, restore_best_weights=True
    )


MIN_LEARNING_RATE = 1e-6
"""Floor of learning-rate reduction, the smallest learning rate that the settings allow."""


def _reduce_learning_rate(training: TrainingSettings) -> keras.callbacks.ReduceLROnPlateau | None:
    if training.reduce_lr_patience == 0:
        return None
    return keras.callbacks.ReduceLROnPlateau(
        monitor="val_loss",
        factor=training.reduce_lr_factor,
        patience=training.reduce_lr_patience,
        min_lr=MIN_LEARNING_RATE,
    )


def _check_finite(history: Mapping[str, list[float]], training: TrainingSettings) -> None:
    losses = history.get("loss", [])
    if losses and not np.all(np.isfinite(losses)):
        raise BigModelError("errors.loss_not_finite", learning_rate=training.learning_rate)


def _prepare_images(
    store: RunStore,
    run: Run,
    model_settings: CNNSettings,
    training: TrainingSettings,
    run_dir: Path,
    epochs: range,
) -> PreparedData:
    dataset = load_image_dataset(run.dataset_id, store)
    if len(dataset.classes) < 2:
        raise DatasetError("errors.too_few_classes", count=len(dataset.classes))

    labels = [item.label for item in dataset.items]
    train_idx, val_idx = split_indices(labels, training.validation_split, training.seed)
    files = [dataset.path / item.file for item in dataset.items]

    def pipeline(indices: list[int], epochs: range | None) -> tf.data.Dataset:
        return image_dataset(
            [files[i] for i in indices],
            [labels[i] for i in indices],
            model_settings.input_size,
            training.batch_size,
            epochs=epochs,
            seed=training.seed,
            cache_dir=run_dir / "cache" / ("validation" if epochs is None else "train"),
        )

    notices = split_notices([labels[i] for i in val_idx], list(dataset.classes))
    color_mode = resolve_color_mode(model_settings, dataset.summary())
    return PreparedData(
        train=pipeline(train_idx, epochs),
        validation=pipeline(val_idx, None),
        steps_per_epoch=-(-len(train_idx) // training.batch_size),
        class_names=list(dataset.classes),
        input_spec={
            "kind": "image",
            "color_mode": color_mode,
            "size": model_settings.input_size,
        },
        split={"train": train_idx, "validation": val_idx},
        notices=notices,
        train_labels=[labels[i] for i in train_idx],
    )


SMALL_VALIDATION = 20
"""Validation sets smaller than this give accuracies that move in steps of 5 % or more."""


def split_notices(validation_labels: list[int], class_names: list[str]) -> list[dict[str, Any]]:
    """Return warnings for a validation set too small or missing classes to judge a model."""
    notices: list[dict[str, Any]] = []
    missing = [name for i, name in enumerate(class_names) if i not in set(validation_labels)]
    if missing:
        notices.append(
            {
                "key": "training.notice.validation_missing_classes",
                "params": {"count": len(missing), "classes": ", ".join(missing)},
            }
        )
    if len(validation_labels) < SMALL_VALIDATION:
        notices.append(
            {
                "key": "training.notice.validation_small",
                "params": {"count": len(validation_labels), "minimum": SMALL_VALIDATION},
            }
        )
    return notices


def _prepare_sequences(
    store: RunStore,
    run: Run,
    model_settings: Any,
    training: TrainingSettings,
    run_dir: Path,
    epochs: range,
) -> PreparedData:
    dataset = load_sequence_dataset(run.dataset_id, store)
    prepared = sequence_pipeline.prepare_sequences(
        dataset, training.validation_split, training.seed
    )

    def pipeline(x: np.ndarray, y: np.ndarray, epochs: range | None) -> tf.data.Dataset:
        return sequence_pipeline.sequence_dataset(
            x, y, training.batch_size, epochs=epochs, seed=training.seed
        )

    spec = dataset.spec
    return PreparedData(
        train=pipeline(prepared.train_x, prepared.train_y, epochs),
        validation=pipeline(prepared.validation_x, prepared.validation_y, None),
        steps_per_epoch=-(-len(prepared.train_x) // training.batch_size),
        class_names=list(dataset.class_names),
        input_spec=prepared.input_spec,
        split=prepared.split,
        task=dataset.task,
        num_outputs=prepared.num_outputs,
        target_names=list(dataset.target_names),
        target_mean=prepared.target_mean,
        target_std=prepared.target_std,
        train_labels=prepared.train_y.tolist() if dataset.task == "classification" else [],
        meta={
            "target_names": list(dataset.target_names),
            "feature_names": list(dataset.feature_names),
            "sequence": {
                "spec": spec.to_dict(),
                "length": dataset.length,
                "window": spec.window if spec.layout == "series" else None,
                "horizon": spec.horizon if dataset.task == "forecast" else None,
                # The saved model ends in a TargetScaling layer with these statistics,
                # so it already predicts in the targets' units.
                "target_mean": prepared.target_mean,
                "target_std": prepared.target_std,
            },
        },
    )


_PREPARERS: dict[str, Callable[..., PreparedData]] = {
    "image": _prepare_images,
    "sequence": _prepare_sequences,
}


def _model_meta(
    run: Run,
    family: Family,
    data: PreparedData,
    model_settings: Any,
    training: TrainingSettings,
) -> dict[str, Any]:
    return {
        "run_id": run.id,
        "name": run.name,
        "family": family.name,
        "task": data.task,
        "class_names": data.class_names,
        "input_spec": data.input_spec,
        "settings": {
            "model": dataclasses.asdict(model_settings),
            "training": dataclasses.asdict(training),
        },
        "dataset_id": run.dataset_id,
        "environment": environment(),
        **data.meta,
    }


def environment() -> dict[str, str]:
    """Return the library versions that a run's results depend on."""
    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "platform": platform.platform(),
    }
