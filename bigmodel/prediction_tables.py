"""Tables of many predictions: the confidence threshold, filters, order and the CSV download.

One table format serves images and sequences. An image table has a row per file:
`file`, `prediction`, `confidence`, `top` (`[[class, probability], ...]`) and
`error` (`{"key", "params"}` for a file that could not be read, else None). A
sequence table comes from `SequencePredictor.predict_csv`. `mark_uncertain` adds the
boolean column `uncertain` to either, and `display_frame` turns the table into the
text that the page shows and the CSV file contains.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from typing import Any

import pandas as pd

from bigmodel import i18n, sequence_views, views
from bigmodel.errors import SettingsError
from bigmodel.imaging import Notice
from bigmodel.inference_client import Prediction

IMAGE_COLUMNS = ("file", "prediction", "confidence", "top", "error")


def check_threshold(threshold: float) -> float:
    """Return `threshold` if it is a confidence from 0 to 1.

    Raises:
        SettingsError: the threshold is outside 0 to 1, or not a number.
    """
    if not 0.0 <= threshold <= 1.0:
        raise SettingsError("batch.threshold_invalid", value=threshold)
    return threshold


def is_uncertain(confidence: float | None, threshold: float) -> bool:
    """Return whether a prediction's confidence is below the threshold.

    A missing confidence, as for a file that could not be read, is not uncertain,
    because that row has an error instead.
    """
    if confidence is None or math.isnan(confidence):
        return False
    return confidence < threshold


def mark_uncertain(table: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Return a copy of a prediction table with the column `uncertain`.

    A table without `confidence`, such as a regression's, is returned unchanged,
    because its predictions have no confidence to compare.

    Raises:
        SettingsError: the threshold is outside 0 to 1.
    """
    check_threshold(threshold)
    if "confidence" not in table:
        return table
    marked = table.copy()
    marked["uncertain"] = [is_uncertain(_number(value), threshold) for value in table["confidence"]]
    return marked


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def image_table(predictions: Sequence[Prediction], skipped: Sequence[Notice]) -> pd.DataFrame:
    """Return the table of a batch: one row per predicted image, then one per skipped file."""
    records = [_image_record(prediction) for prediction in predictions]
    records += [
        {
            "file": notice.source,
            "prediction": None,
            "confidence": None,
            "top": [],
            "error": {"key": notice.key, "params": dict(notice.params)},
        }
        for notice in skipped
    ]
    return pd.DataFrame.from_records(records, columns=IMAGE_COLUMNS)


def _image_record(prediction: Prediction) -> dict[str, Any]:
    best = prediction.top[0] if prediction.top else (None, None)
    return {
        "file": prediction.name,
        "prediction": best[0],
        "confidence": best[1],
        "top": [[label, probability] for label, probability in prediction.top],
        "error": prediction.error,
    }


def filter_table(
    table: pd.DataFrame,
    classes: Collection[str] = (),
    uncertain_only: bool = False,
    failed_only: bool = False,
) -> pd.DataFrame:
    """Keep the rows predicted as one of `classes` (all when empty), uncertain or failed ones."""
    keep = pd.Series(True, index=table.index)
    if classes and "prediction" in table:
        keep &= table["prediction"].astype(str).isin([str(name) for name in classes])
    if uncertain_only and "uncertain" in table:
        keep &= table["uncertain"].astype(bool)
    if failed_only and "error" in table:
        keep &= table["error"].notna()
    return table[keep]


def sort_table(table: pd.DataFrame, column: str, descending: bool = False) -> pd.DataFrame:
    """Sort by one column, keeping the current order among equal values and empty values last."""
    if column not in table:
        return table
    return table.sort_values(column, ascending=not descending, kind="stable", na_position="last")


def display_frame(table: pd.DataFrame, t: i18n.Translator) -> pd.DataFrame:
    """Return the table as the page shows it and the CSV file contains it.

    Column names are translated, `top` becomes text such as `3: 91.2% · 8: 5.0%`,
    `uncertain` becomes the translated mark or an empty cell after `confidence`, and
    `error` becomes the translated reason.
    """
    displayed = table.copy()
    if "uncertain" in displayed:
        # The mark goes right after the confidence that it is about.
        marks = [t("batch.uncertain") if flag else "" for flag in displayed.pop("uncertain")]
        displayed.insert(displayed.columns.get_loc("confidence") + 1, "uncertain", marks)
    if "error" in displayed and "file" in displayed:
        displayed["error"] = [
            "" if problem is None else views.message_of(problem, str(name), t.language)
            for name, problem in zip(displayed["file"], displayed["error"], strict=True)
        ]
    return sequence_views.prediction_frame(displayed, t)


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """Write a displayed table as CSV in UTF-8 with a byte-order mark, so Excel reads Chinese."""
    return sequence_views.csv_download(frame)
