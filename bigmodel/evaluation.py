"""Evaluating a trained model on every example of a labelled dataset.

`compute_evaluation` runs in a process with TensorFlow loaded (the inference
service, or a test): it predicts each example of the run's validation split, or of
another labelled dataset with the model's classes or columns, and caches the result
on disk. `load_evaluation` reads that cache and `summarize` and `mistakes` turn it
into metrics and examples, without TensorFlow, so the web server can call them.

Cache layout, in the run folder:

```
evaluation/<source>.json   model stamp, task, classes or targets, dataset
evaluation/<source>.npz    references, names, true labels or values, predictions
```

`<source>` is `validation`, or the id of the dataset evaluated. The model stamp is
the size and modification time of `model.keras`, so a model saved again makes the
cache stale.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics

from bigmodel.errors import DatasetError, ModelNotReadyError
from bigmodel.image_datasets import ImageDataset, ingest_zip, load_image_dataset
from bigmodel.imaging import decode_image
from bigmodel.sequence_datasets import (
    SequenceDataset,
    SequenceSpec,
    ingest_sequences,
    load_sequence_dataset,
)
from bigmodel.store import Run, RunStore

logger = logging.getLogger(__name__)

VALIDATION = "validation"
"""Source name of a run's own validation split."""
FOLDER = "evaluation"
FORMAT_VERSION = 1
IMAGE_BATCH_SIZE = 64
MODEL_META_FILE = "model.json"
"""`saved_models.META_FILE`, repeated because `saved_models` imports Keras."""
THRESHOLD_STEPS = 101
"""Points of the accuracy and coverage curve, thresholds 0.00 to 1.00."""


@dataclasses.dataclass(frozen=True, eq=False)
class EvaluationData:
    """A model's prediction for every example of one labelled dataset.

    Attributes:
        run_id: the run whose model predicted.
        source: `validation` for the run's validation split, else the dataset id.
        dataset_id: the dataset that `references` point into.
        kind: `image` or `sequence`.
        task: `classification`, `regression` or `forecast`.
        class_names: the model's classes, in output order; empty unless classification.
        target_names: the predicted columns of regression and forecasts.
        horizon: steps ahead that a forecast predicts; 1 otherwise.
        references: per example, the path of the canonical PNG (images) or the index
            into `SequenceDataset.examples()` (sequences), as text.
        names: per example, the uploaded file name or the sequence id.
        y_true: class indices `(examples,)` into `class_names`, or values
            `(examples, outputs)` in the targets' units.
        y_pred: class probabilities `(examples, classes)`, or values
            `(examples, outputs)`. Forecast outputs run step by step: output
            `ahead * len(target_names) + target`.
    """

    run_id: int
    source: str
    dataset_id: str
    kind: str
    task: str
    class_names: tuple[str, ...]
    target_names: tuple[str, ...]
    horizon: int
    references: tuple[str, ...]
    names: tuple[str, ...]
    y_true: np.ndarray
    y_pred: np.ndarray

    def __len__(self) -> int:
        return len(self.references)

    @property
    def is_classification(self) -> bool:
        return self.task == "classification"

    @property
    def predicted(self) -> np.ndarray:
        """Class index `(examples,)` of the most probable class; classification only."""
        return np.argmax(self.y_pred, axis=1)

    @property
    def confidence(self) -> np.ndarray:
        """Probability `(examples,)` of the predicted class; classification only."""
        return np.max(self.y_pred, axis=1)

    def sequence_index(self, example: int) -> int:
        """Return the index into `SequenceDataset.examples()` of one evaluated example."""
        return int(self.references[example])


@dataclasses.dataclass(frozen=True, eq=False)
class ThresholdCurve:
    """Accuracy and coverage of the predictions whose confidence reaches each threshold.

    `accuracy` is NaN where no prediction reaches the threshold.
    """

    thresholds: np.ndarray
    accuracy: np.ndarray
    coverage: np.ndarray


@dataclasses.dataclass(frozen=True, eq=False)
class EvaluationSummary:
    """Metrics of an evaluation, as `summarize` computes them.

    Classification fills `accuracy`, `class_table` (columns `class`, `precision`,
    `recall`, `f1`, `support`), `confusion` (counts, rows true class, columns
    predicted class), `confusion_normalized` (each row divided by its support),
    `threshold`, `threshold_accuracy` (NaN when `threshold_coverage` is 0),
    `threshold_coverage` and `curve`.

    Regression and forecasts fill `mae`, `rmse` and `r2`: over all outputs for one
    target, and the mean over the targets for several. They also fill `target_table`
    (columns `target`, `mae`, `rmse`, `r2`, `count`). The plot arrays `actual`,
    `predicted`, `residuals` (actual minus predicted) and `output_target` (the target
    index of each point) are flattened over the outputs.
    """

    task: str
    examples: int
    accuracy: float | None = None
    class_table: pd.DataFrame | None = None
    confusion: np.ndarray | None = None
    confusion_normalized: np.ndarray | None = None
    threshold: float = 0.0
    threshold_accuracy: float | None = None
    threshold_coverage: float | None = None
    curve: ThresholdCurve | None = None
    mae: float | None = None
    rmse: float | None = None
    r2: float | None = None
    target_table: pd.DataFrame | None = None
    actual: np.ndarray | None = None
    predicted: np.ndarray | None = None
    residuals: np.ndarray | None = None
    output_target: np.ndarray | None = None


@dataclasses.dataclass(frozen=True)
class ExampleResult:
    """One evaluated classification example: what it is, its label and the prediction.

    `position` indexes the arrays of `EvaluationData`.
    """

    position: int
    reference: str
    name: str
    true_class: str
    predicted_class: str
    confidence: float

    @property
    def correct(self) -> bool:
        return self.true_class == self.predicted_class


# Computing, with TensorFlow


def compute_evaluation(
    store: RunStore, run_id: int, dataset_id: str | None = None, predictor: Any = None
) -> EvaluationData:
    """Predict every example of a labelled dataset with a run's model, and cache the result.

    Images are decoded from the canonical PNGs by `imaging.decode_image` and passed at
    their own size through the saved model, which resizes them itself, as the predict
    path does. Sequences go through `SequencePredictor.predict_arrays`.

    Args:
        store: the run store.
        run_id: a completed or stopped run.
        dataset_id: a labelled dataset with the model's classes (classification) or
            columns (regression, forecasts). Defaults to the run's validation split.
        predictor: a loaded `Predictor` or `SequencePredictor` of this run's model,
            such as the inference service's cached one. Defaults to loading the model.

    Raises:
        ModelNotReadyError: the run has no saved model.
        DatasetError: the dataset is of another kind, or its classes or columns do not
            match the model's.
    """
    run = store.get_run(run_id)
    model_path = _model_path(run)
    if predictor is None:
        from bigmodel.inference import load_predictor

        predictor = load_predictor(model_path)

    meta = predictor.meta
    kind = meta.get("input_spec", {}).get("kind", "image")
    source = dataset_id or VALIDATION
    if kind == "sequence":
        data = _evaluate_sequences(store, run, meta, source, predictor)
    else:
        data = _evaluate_images(store, run, meta, source, predictor)

    save_evaluation(store, data, model_stamp(model_path))
    logger.info("Evaluated run %s on %s: %d examples", run_id, source, len(data))
    return data


def _model_path(run: Run) -> Path:
    if not run.has_model or run.model_path is None:
        raise ModelNotReadyError("errors.model_not_ready", run_id=run.id, status=run.status)
    return Path(run.model_path)


def _validation_indices(store: RunStore, run: Run) -> list[int]:
    """Return the validation indices stored with the run.

    Raises:
        DatasetError: the run folder has no `split.json`.
    """
    path = store.home.run_dir(run.id) / "split.json"
    try:
        split = json.loads(path.read_text("utf-8"))
    except FileNotFoundError as error:
        raise DatasetError("evaluation.split_missing", run_id=run.id, path=str(path)) from error
    return [int(index) for index in split["validation"]]


def _evaluate_images(
    store: RunStore, run: Run, meta: dict[str, Any], source: str, predictor: Any
) -> EvaluationData:
    class_names = list(meta["class_names"])
    if source == VALIDATION:
        dataset = load_image_dataset(run.dataset_id, store)
        indices = _validation_indices(store, run)
    else:
        dataset = load_image_dataset(source, store)
        indices = list(range(len(dataset.items)))
    labels = _class_map(dataset.classes, class_names, dataset.id, run.id)

    items = [dataset.items[i] for i in indices]
    files = [dataset.path / item.file for item in items]
    sizes = [(item.width, item.height) for item in items]
    probabilities = _image_probabilities(predictor.model, files, sizes, len(class_names))
    return EvaluationData(
        run_id=run.id,
        source=source,
        dataset_id=dataset.id,
        kind="image",
        task="classification",
        class_names=tuple(class_names),
        target_names=(),
        horizon=1,
        references=tuple(str(path) for path in files),
        names=tuple(item.source for item in items),
        y_true=np.asarray([labels[item.label] for item in items], dtype=np.int64),
        y_pred=probabilities,
    )


def _class_map(
    dataset_classes: Sequence[str], model_classes: Sequence[str], dataset_id: str, run_id: int
) -> list[int]:
    """Return the model's class index of each dataset class, matched by name.

    Raises:
        DatasetError: a dataset class is not one of the model's classes.
    """
    unknown = [name for name in dataset_classes if name not in model_classes]
    if unknown:
        raise DatasetError(
            "evaluation.classes_mismatch",
            dataset_id=dataset_id,
            run_id=run_id,
            unknown=", ".join(unknown),
            classes=", ".join(model_classes),
        )
    return [list(model_classes).index(name) for name in dataset_classes]


def _image_probabilities(
    model: Any, files: Sequence[Path], sizes: Sequence[tuple[int, int]], num_classes: int
) -> np.ndarray:
    """Return probabilities `(images, classes)`, calling the model on one image size at a time.

    `sizes` are the `(width, height)` that ingest recorded, so that images are decoded
    one batch at a time and memory does not grow with the dataset.
    """
    result = np.zeros((len(files), num_classes), dtype=np.float32)
    by_size: dict[tuple[int, int], list[int]] = {}
    for index, size in enumerate(sizes):
        by_size.setdefault(size, []).append(index)

    for indices in by_size.values():
        for start in range(0, len(indices), IMAGE_BATCH_SIZE):
            chunk = indices[start : start + IMAGE_BATCH_SIZE]
            pixels = [decode_image(files[i].read_bytes(), files[i].name).pixels for i in chunk]
            result[chunk] = np.asarray(model(np.stack(pixels).astype(np.float32), training=False))
    return result


def _evaluate_sequences(
    store: RunStore, run: Run, meta: dict[str, Any], source: str, predictor: Any
) -> EvaluationData:
    if source == VALIDATION:
        dataset = load_sequence_dataset(run.dataset_id, store)
        examples = dataset.examples()
        indices = _validation_indices(store, run)
    else:
        dataset = load_sequence_dataset(source, store)
        _check_sequence_columns(dataset, meta, run.id)
        examples = dataset.examples()
        indices = list(range(len(examples.x)))

    length = int(meta["sequence"]["length"])
    x = fit_length(examples.x[indices], length)
    y_pred = predictor.predict_arrays(x)
    class_names = list(meta["class_names"])
    if meta["task"] == "classification":
        labels = _class_map(dataset.class_names, class_names, dataset.id, run.id)
        y_true: np.ndarray = np.asarray(
            [labels[int(label)] for label in examples.y[indices]], dtype=np.int64
        )
    else:
        y_true = np.asarray(examples.y[indices], dtype=np.float32).reshape(len(indices), -1)

    return EvaluationData(
        run_id=run.id,
        source=source,
        dataset_id=dataset.id,
        kind="sequence",
        task=str(meta["task"]),
        class_names=tuple(class_names),
        target_names=tuple(meta.get("target_names", [])),
        horizon=int(meta["sequence"].get("horizon") or 1),
        references=tuple(str(index) for index in indices),
        names=tuple(examples.names[index] for index in indices),
        y_true=y_true,
        y_pred=np.asarray(y_pred, dtype=np.float32),
    )


def _check_sequence_columns(dataset: SequenceDataset, meta: dict[str, Any], run_id: int) -> None:
    """Raise `DatasetError` unless the dataset has the model's task, features and targets."""
    expected = {
        "task": meta["task"],
        "features": list(meta.get("feature_names", [])),
        "targets": list(meta.get("target_names", [])),
    }
    found = {
        "task": dataset.task,
        "features": list(dataset.feature_names),
        "targets": list(dataset.target_names),
    }
    if expected != found:
        raise DatasetError(
            "evaluation.columns_mismatch",
            dataset_id=dataset.id,
            run_id=run_id,
            found=_columns_text(found),
            expected=_columns_text(expected),
        )


def _columns_text(columns: dict[str, Any]) -> str:
    text = f"{columns['task']}: {', '.join(columns['features'])}"
    if columns["targets"]:
        text += f" → {', '.join(columns['targets'])}"
    return text


def fit_length(x: np.ndarray, length: int) -> np.ndarray:
    """Pad with NaN steps, or cut, `(examples, steps, features)` to `length` steps.

    Cutting keeps the first steps, as `read_for_prediction` does.
    """
    if x.shape[1] >= length:
        return x[:, :length]
    padding = np.full((x.shape[0], length - x.shape[1], x.shape[2]), np.nan, dtype=x.dtype)
    return np.concatenate([x, padding], axis=1)


# Test sets


def ingest_test_images(store: RunStore, run: Run, data: bytes, name: str) -> ImageDataset:
    """Ingest a zip of class folders as a test set for a run's image model.

    Raises:
        InvalidUploadError, LimitExceededError: as `image_datasets.ingest_zip` raises them.
        DatasetError: a class folder is not one of the model's classes.
    """
    dataset = ingest_zip(data, name, store)
    _class_map(dataset.classes, model_meta(run)["class_names"], dataset.id, run.id)
    return dataset


def ingest_test_sequences(
    store: RunStore, run: Run, data: bytes, source: str, name: str
) -> SequenceDataset:
    """Ingest a labelled CSV file as a test set for a run's sequence model.

    The file is read with the column roles, cleaning and length of the training data,
    as saved with the model, so it needs the same columns.

    Raises:
        InvalidUploadError: the file cannot be read as CSV.
        DatasetError: a column of the training data is missing, or a class is not
            one of the model's classes.
    """
    meta = model_meta(run)
    spec = SequenceSpec.from_dict(meta["sequence"]["spec"])
    if spec.layout != "series":
        spec = dataclasses.replace(spec, max_length=int(meta["sequence"]["length"]))
    dataset = ingest_sequences(data, source, spec, name, store)
    _check_sequence_columns(dataset, meta, run.id)
    if dataset.task == "classification":
        _class_map(dataset.class_names, meta["class_names"], dataset.id, run.id)
    return dataset


# The cache on disk


def model_stamp(model_path: Path) -> str:
    """Return a text that changes whenever the model file is written again."""
    status = model_path.stat()
    return f"{status.st_size}-{status.st_mtime_ns}"


def _cache_paths(store: RunStore, run_id: int, source: str) -> tuple[Path, Path]:
    folder = store.home.run_dir(run_id) / FOLDER
    return folder / f"{source}.json", folder / f"{source}.npz"


def save_evaluation(store: RunStore, data: EvaluationData, stamp: str) -> None:
    """Write an evaluation into the run folder, replacing an earlier one of the same source."""
    meta_path, arrays_path = _cache_paths(store, data.run_id, data.source)
    meta_path.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "version": FORMAT_VERSION,
        "model_stamp": stamp,
        "run_id": data.run_id,
        "source": data.source,
        "dataset_id": data.dataset_id,
        "kind": data.kind,
        "task": data.task,
        "class_names": list(data.class_names),
        "target_names": list(data.target_names),
        "horizon": data.horizon,
    }
    # The arrays are written first and the metadata last, each by an atomic rename,
    # so a reader never finds metadata that describes arrays not yet written.
    temporary = arrays_path.with_name(arrays_path.name + ".tmp.npz")
    np.savez(
        temporary,
        references=np.asarray(data.references, dtype=str),
        names=np.asarray(data.names, dtype=str),
        y_true=data.y_true,
        y_pred=data.y_pred,
    )
    temporary.replace(arrays_path)
    temporary_meta = meta_path.with_name(meta_path.name + ".tmp")
    temporary_meta.write_text(json.dumps(meta, ensure_ascii=False), "utf-8")
    temporary_meta.replace(meta_path)


def load_evaluation(
    store: RunStore, run_id: int, dataset_id: str | None = None
) -> EvaluationData | None:
    """Return the cached evaluation of a run's model on a dataset, or None.

    None means that it was never computed, or that the model changed since.
    """
    run = store.get_run(run_id)
    if not run.has_model or run.model_path is None or not Path(run.model_path).is_file():
        return None
    meta_path, arrays_path = _cache_paths(store, run_id, dataset_id or VALIDATION)
    try:
        meta = json.loads(meta_path.read_text("utf-8"))
    except FileNotFoundError:
        return None
    if meta.get("version") != FORMAT_VERSION or meta["model_stamp"] != model_stamp(
        Path(run.model_path)
    ):
        return None

    with np.load(arrays_path, allow_pickle=False) as arrays:
        return EvaluationData(
            run_id=run_id,
            source=meta["source"],
            dataset_id=meta["dataset_id"],
            kind=meta["kind"],
            task=meta["task"],
            class_names=tuple(meta["class_names"]),
            target_names=tuple(meta["target_names"]),
            horizon=int(meta["horizon"]),
            references=tuple(str(value) for value in arrays["references"]),
            names=tuple(str(value) for value in arrays["names"]),
            y_true=arrays["y_true"],
            y_pred=arrays["y_pred"],
        )


def model_meta(run: Run) -> dict[str, Any]:
    """Return the `model.json` saved beside a run's model, without loading the model."""
    path = _model_path(run).parent / MODEL_META_FILE
    meta: dict[str, Any] = json.loads(path.read_text("utf-8"))
    return meta


# Metrics, without TensorFlow


def summarize(data: EvaluationData, threshold: float = 0.0) -> EvaluationSummary:
    """Compute the metrics of an evaluation with scikit-learn.

    Args:
        data: an evaluation from `compute_evaluation` or `load_evaluation`.
        threshold: for classification, the confidence that a prediction must reach to
            count in `threshold_accuracy` and `threshold_coverage`, 0 to 1.
    """
    if data.is_classification:
        return _classification_summary(data, threshold)
    return _regression_summary(data)


def _classification_summary(data: EvaluationData, threshold: float) -> EvaluationSummary:
    labels = list(range(len(data.class_names)))
    y_true, y_pred = data.y_true, data.predicted
    precision, recall, f1, support = metrics.precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    table = pd.DataFrame(
        {
            "class": list(data.class_names),
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "support": support,
        }
    )
    counts = metrics.confusion_matrix(y_true, y_pred, labels=labels)
    accuracy, coverage = accuracy_at(data, threshold)
    return EvaluationSummary(
        task=data.task,
        examples=len(data),
        accuracy=float(metrics.accuracy_score(y_true, y_pred)) if len(data) else None,
        class_table=table,
        confusion=counts,
        confusion_normalized=_row_normalized(counts),
        threshold=threshold,
        threshold_accuracy=accuracy,
        threshold_coverage=coverage,
        curve=threshold_curve(data),
    )


def _row_normalized(counts: np.ndarray) -> np.ndarray:
    # A class without examples has a row of zeros, not of NaN.
    totals = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)


def accuracy_at(data: EvaluationData, threshold: float) -> tuple[float, float]:
    """Return the accuracy of the predictions with confidence >= `threshold`, and their share.

    The accuracy is NaN when no prediction reaches the threshold.
    """
    covered = data.confidence >= threshold
    coverage = float(covered.mean()) if len(data) else 0.0
    if not covered.any():
        return float("nan"), coverage
    accuracy = metrics.accuracy_score(data.y_true[covered], data.predicted[covered])
    return float(accuracy), coverage


def threshold_curve(data: EvaluationData, steps: int = THRESHOLD_STEPS) -> ThresholdCurve:
    """Return accuracy and coverage at the thresholds 0 to 1 in `steps` even steps."""
    thresholds = np.linspace(0.0, 1.0, steps)
    pairs = [accuracy_at(data, float(threshold)) for threshold in thresholds]
    return ThresholdCurve(
        thresholds=thresholds,
        accuracy=np.asarray([accuracy for accuracy, _ in pairs]),
        coverage=np.asarray([coverage for _, coverage in pairs]),
    )


def _regression_summary(data: EvaluationData) -> EvaluationSummary:
    targets = max(len(data.target_names), 1)
    actual = data.y_true.reshape(len(data), -1)
    predicted = data.y_pred.reshape(len(data), -1)
    # Outputs run step by step, so output j belongs to target j % targets.
    output_target = np.tile(np.arange(actual.shape[1]) % targets, len(data))
    flat_actual, flat_predicted = actual.reshape(-1), predicted.reshape(-1)

    rows = []
    for target in range(targets):
        chosen = output_target == target
        rows.append(
            {
                "target": data.target_names[target] if data.target_names else "",
                **_errors(flat_actual[chosen], flat_predicted[chosen]),
            }
        )
    table = pd.DataFrame(rows, columns=["target", "mae", "rmse", "r2", "count"])
    return EvaluationSummary(
        task=data.task,
        examples=len(data),
        mae=float(table["mae"].mean()),
        rmse=float(table["rmse"].mean()),
        r2=float(table["r2"].mean()),
        target_table=table,
        actual=flat_actual,
        predicted=flat_predicted,
        residuals=flat_actual - flat_predicted,
        output_target=output_target,
    )


def _errors(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    if len(actual) == 0:
        return {"mae": float("nan"), "rmse": float("nan"), "r2": float("nan"), "count": 0}
    # R² is undefined for fewer than two values, where scikit-learn would warn.
    r2 = float(metrics.r2_score(actual, predicted)) if len(actual) > 1 else float("nan")
    return {
        "mae": float(metrics.mean_absolute_error(actual, predicted)),
        "rmse": float(metrics.root_mean_squared_error(actual, predicted)),
        "r2": r2,
        "count": len(actual),
    }


# Examples


def mistakes(
    data: EvaluationData,
    *,
    true_class: str | None = None,
    predicted_class: str | None = None,
    limit: int | None = None,
) -> list[ExampleResult]:
    """Return the misclassified examples, the most confident mistake first.

    Args:
        data: a classification evaluation.
        true_class: keep only examples of this class. Defaults to every class.
        predicted_class: keep only examples predicted as this class.
        limit: keep at most this many. Defaults to all.
    """
    chosen = examples(data, true_class=true_class, predicted_class=predicted_class)
    wrong = [example for example in chosen if not example.correct]
    return wrong[:limit] if limit is not None else wrong


def examples(
    data: EvaluationData, *, true_class: str | None = None, predicted_class: str | None = None
) -> list[ExampleResult]:
    """Return the examples with the given true and predicted class, the most confident first.

    With both classes given this is one cell of the confusion matrix.
    """
    predicted, confidence = data.predicted, data.confidence
    results = [
        ExampleResult(
            position=index,
            reference=data.references[index],
            name=data.names[index],
            true_class=data.class_names[int(data.y_true[index])],
            predicted_class=data.class_names[int(predicted[index])],
            confidence=float(confidence[index]),
        )
        for index in range(len(data))
    ]
    chosen = [
        result
        for result in results
        if (true_class is None or result.true_class == true_class)
        and (predicted_class is None or result.predicted_class == predicted_class)
    ]
    return sorted(chosen, key=lambda result: (-result.confidence, result.position))


def largest_errors(data: EvaluationData, limit: int | None = None) -> list[int]:
    """Return positions of regression and forecast examples, largest mean absolute error first."""
    actual = data.y_true.reshape(len(data), -1)
    predicted = data.y_pred.reshape(len(data), -1)
    errors = np.abs(actual - predicted).mean(axis=1)
    order = [int(index) for index in np.argsort(-errors, kind="stable")]
    return order[:limit] if limit is not None else order


def sequence_values(store: RunStore, data: EvaluationData, position: int) -> np.ndarray:
    """Return the steps `(steps, features)` of one evaluated sequence, without padding."""
    dataset = load_sequence_dataset(data.dataset_id, store)
    x = dataset.examples().x[data.sequence_index(position)]
    return x[np.isfinite(x).any(axis=1)]


def load_dataset(store: RunStore, data: EvaluationData) -> ImageDataset | SequenceDataset:
    """Return the dataset that the evaluation's references point into."""
    if data.kind == "sequence":
        return load_sequence_dataset(data.dataset_id, store)
    return load_image_dataset(data.dataset_id, store)
