"""Predicting with a saved sequence model, in a process that has TensorFlow loaded.

An uploaded CSV file is read in the model's layout by the code that ingested the
training data (`sequence_datasets.read_for_prediction`), with the same column roles,
cleaning policy and length. The model standardises the features and maps regression
outputs back to the targets' units itself. The table therefore contains values in the
user's units and class names as the user wrote them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from bigmodel import saved_models
from bigmodel.errors import ModelNotReadyError
from bigmodel.sequence_datasets import (
    PredictionInputs,
    SequenceSpec,
    SequenceTask,
    read_for_prediction,
)

logger = logging.getLogger(__name__)

BATCH_SIZE = 256
"""Examples per model call, which bounds the memory a long upload takes."""


class SequencePredictor:
    """A loaded sequence model with the layout, classes or targets that it was trained on.

    Raises:
        ModelNotReadyError: the model at `model_path` was not trained on sequences.
    """

    def __init__(self, model_path: Path) -> None:
        self.model, self.meta = saved_models.load_model(model_path)
        sequence = self.meta.get("sequence")
        if sequence is None:
            raise ModelNotReadyError(
                "sequences.model_not_sequence",
                run_id=self.meta.get("run_id"),
                kind=self.meta.get("input_spec", {}).get("kind", "image"),
            )
        self.spec = SequenceSpec.from_dict(sequence["spec"])
        self.task = cast(SequenceTask, self.meta["task"])
        self.length = int(sequence["length"])
        self.horizon = int(sequence.get("horizon") or 1)
        self.class_names: list[str] = list(self.meta["class_names"])
        self.target_names: list[str] = list(self.meta.get("target_names", []))
        self._last_read: tuple[tuple[str, str], PredictionInputs] | None = None

    def predict_arrays(self, x: np.ndarray) -> np.ndarray:
        """Return the model's outputs for inputs `(examples, length, features)`.

        Outputs `(examples, outputs)` are class probabilities, or values in the
        targets' units.
        """
        batches = [
            np.asarray(self.model(x[start : start + BATCH_SIZE], training=False))
            for start in range(0, len(x), BATCH_SIZE)
        ]
        return np.concatenate(batches) if batches else np.zeros((0, 0), np.float32)

    def predict_csv(self, data: bytes, source: str, top_k: int = 3) -> pd.DataFrame:
        """Predict every sequence, window or series of a CSV file in the model's layout.

        Returns:
            One row per prediction. Every table has `sequence` (the id), `steps` (steps
            in the file) and `row` (Excel row of the last step used). Classification
            adds `prediction`, `confidence` and `top` (`[[class, probability], ...]`
            for the `top_k` most likely classes); regression adds `prediction`. Where
            the file has labels, `actual` contains them. A forecast has one row per
            series and step ahead: `ahead` (1 to horizon), `time` (the step's order
            value, or None when the order column has no regular interval) and one
            column per target.

        Raises:
            InvalidUploadError: the file cannot be read as CSV.
            DatasetError: the file lacks a column of the model's layout, or a series is
                shorter than the model's window.
        """
        table, _ = self.predict_csv_part(data, source, top_k)
        return table

    def predict_csv_part(
        self, data: bytes, source: str, top_k: int = 3, start: int = 0, count: int | None = None
    ) -> tuple[pd.DataFrame, int]:
        """Predict the examples `start` to `start + count` of a CSV file, all when `count` is None.

        Returns the table of those examples, as `predict_csv` returns it, and the
        number of examples in the whole file. The file is read once: the examples of
        the last file read are kept for the following parts of the same file.

        Raises:
            InvalidUploadError, DatasetError: as for `predict_csv`.
        """
        inputs = self._read(data, source)
        stop = None if count is None else start + count
        part = _slice_inputs(inputs, start, stop)
        outputs = self.predict_arrays(part.x)
        logger.info(
            "Predicted examples %d to %d of %d of %s with a %s model",
            start,
            start + len(outputs),
            len(inputs.x),
            source,
            self.task,
        )
        if self.task == "classification":
            return self._class_table(part, outputs, top_k), len(inputs.x)
        if self.task == "forecast":
            return self._forecast_table(part, outputs), len(inputs.x)
        return self._value_table(part, outputs), len(inputs.x)

    def _read(self, data: bytes, source: str) -> PredictionInputs:
        digest = (hashlib.sha256(data).hexdigest(), source)
        if self._last_read is not None and self._last_read[0] == digest:
            return self._last_read[1]
        means = self.meta["input_spec"]["feature_mean"]
        inputs = read_for_prediction(data, source, self.spec, self.task, self.length, means)
        self._last_read = (digest, inputs)
        return inputs

    def _class_table(
        self, inputs: PredictionInputs, outputs: np.ndarray, top_k: int
    ) -> pd.DataFrame:
        order = np.argsort(outputs, axis=1)[:, ::-1][:, :top_k]
        table = _identity_columns(inputs)
        table["prediction"] = [self.class_names[ranked[0]] for ranked in order]
        table["confidence"] = [float(outputs[i, ranked[0]]) for i, ranked in enumerate(order)]
        table["top"] = [
            [[self.class_names[j], float(outputs[i, j])] for j in ranked]
            for i, ranked in enumerate(order)
        ]
        return _with_actual(table, inputs)

    def _value_table(self, inputs: PredictionInputs, outputs: np.ndarray) -> pd.DataFrame:
        table = _identity_columns(inputs)
        table["prediction"] = outputs[:, 0].astype(float)
        return _with_actual(table, inputs)

    def _forecast_table(self, inputs: PredictionInputs, outputs: np.ndarray) -> pd.DataFrame:
        steps = outputs.reshape(len(outputs), self.horizon, len(self.target_names))
        records: list[dict[str, Any]] = []
        for index, name in enumerate(inputs.names):
            future = inputs.future[index] if inputs.future else None
            for ahead in range(self.horizon):
                record = {
                    "sequence": name,
                    "steps": inputs.lengths[index],
                    "row": inputs.rows[index],
                    "ahead": ahead + 1,
                    "time": future[ahead] if future else None,
                }
                for target, value in zip(self.target_names, steps[index, ahead], strict=True):
                    record[target] = float(value)
                records.append(record)
        return pd.DataFrame.from_records(records)


def _slice_inputs(inputs: PredictionInputs, start: int, stop: int | None) -> PredictionInputs:
    part = slice(start, stop)
    return dataclasses.replace(
        inputs,
        x=inputs.x[part],
        names=inputs.names[part],
        lengths=inputs.lengths[part],
        rows=inputs.rows[part],
        actual=None if inputs.actual is None else inputs.actual[part],
        future=None if inputs.future is None else inputs.future[part],
    )


def _identity_columns(inputs: PredictionInputs) -> pd.DataFrame:
    return pd.DataFrame(
        {"sequence": list(inputs.names), "steps": list(inputs.lengths), "row": list(inputs.rows)}
    )


def _with_actual(table: pd.DataFrame, inputs: PredictionInputs) -> pd.DataFrame:
    if inputs.actual is not None:
        table["actual"] = list(inputs.actual)
    return table


def table_records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """Return a prediction table as JSON-ready records, with NaN as None."""
    cleaned = table.astype(object).where(table.notna(), None)
    return [
        {str(key): _plain(value) for key, value in record.items()}
        for record in cleaned.to_dict(orient="records")
    ]


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value
