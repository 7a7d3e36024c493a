"""Plain-data helpers for the sequence parts of the pages: labels, statements, tables and series.

Like `bigmodel.views`, nothing here imports Streamlit or TensorFlow. The functions
turn the results of `sequence_datasets.inspect_csv`, a dataset summary and
`inference_client.predict_sequences` into rows and sentences in the user's language.
They also build the two inputs that the predict page makes itself: a pasted
sequence, and a series without its last values.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import PurePath
from typing import Any

import numpy as np
import pandas as pd

from bigmodel import i18n
from bigmodel.csv_reading import BadCell, DroppedColumn, read_table
from bigmodel.errors import InvalidUploadError
from bigmodel.sequence_datasets import ColumnSummary, SequenceSpec

ENCODINGS = {
    "utf-8": "utf8",
    "utf-8-sig": "utf8_bom",
    "utf-16": "utf16",
    "utf-32": "utf32",
    "gb18030": "gb18030",
    "big5": "big5",
    "cp950": "cp950",
}
"""Catalog suffix under `ui.csv.encoding` of each codec that `csv_reading` reports."""
SEPARATORS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "bar"}
DECIMALS = {".": "point", ",": "comma"}

PASTE_SEPARATORS = re.compile(r"[\s,;，；]+")
"""Commas, semicolons (ASCII and full-width) and white space between pasted numbers."""
PASTED_SOURCE = "pasted.csv"

NOT_CHOSEN = ""
"""Form value of an optional column or of the automatic task. Widgets show None as an
empty choice, and `csv_reading` names blank headers `Unnamed: <i>`, so no column is ""."""
OPTIONAL_FIELDS = ("label_column", "id_column", "order_column", "task")

CLASSIFICATION_METRICS = ("loss", "accuracy")
VALUE_METRICS = ("loss", "mae", "rmse")
"""Metrics that training logs for regression and forecasts; MAE and RMSE in the targets' units."""


# Reading a file


def encoding_label(encoding: str, t: i18n.Translator) -> str:
    suffix = ENCODINGS.get(encoding)
    return t(f"ui.csv.encoding.{suffix}") if suffix else encoding


def separator_label(separator: str, t: i18n.Translator) -> str:
    suffix = SEPARATORS.get(separator)
    return t(f"ui.csv.separator.{suffix}") if suffix else repr(separator)


def decimal_label(decimal: str, t: i18n.Translator) -> str:
    suffix = DECIMALS.get(decimal)
    return t(f"ui.csv.decimal.{suffix}") if suffix else decimal


def column_rows(columns: Iterable[ColumnSummary], t: i18n.Translator) -> list[dict[str, Any]]:
    """Build one row per column: name, detected kind, role, missing and invalid cells."""
    return [
        {
            "column": column.name,
            "kind": t(f"ui.csv.kind.{column.kind}"),
            "role": t(f"sequences.role.{column.role}"),
            "missing": column.missing,
            "invalid": column.invalid,
        }
        for column in columns
    ]


def blank_missing(frame: pd.DataFrame) -> pd.DataFrame:
    """Return `frame` with missing cells as empty text, which tables show as blank.

    Streamlit's table writes the English word None in a missing cell.
    """
    return frame.astype(object).where(frame.notna(), "")


def bad_cell_rows(
    examples: Mapping[str, Sequence[BadCell]], t: i18n.Translator
) -> list[dict[str, Any]]:
    """Build one row per example cell: column, Excel row, the text as written and its problem."""
    return [
        {
            "column": cell.column,
            "row": cell.row,
            "value": cell.value if cell.value.strip() else t("ui.csv.blank"),
            "problem": t(f"ui.csv.cell.{cell.kind}"),
        }
        for cells in examples.values()
        for cell in cells
    ]


def bad_cell_counts(summary: Mapping[str, Any]) -> dict[str, tuple[int, int]]:
    """Return `(missing, invalid)` cells of each numeric column that has any, from a summary."""
    missing = summary.get("missing_cells") or {}
    invalid = summary.get("invalid_cells") or {}
    names = list(dict.fromkeys([*missing, *invalid]))
    return {name: (int(missing.get(name, 0)), int(invalid.get(name, 0))) for name in names}


def dropped_column_texts(columns: Iterable[DroppedColumn], language: str) -> list[str]:
    return [i18n.translate(language, column.reason_key, column=column.name) for column in columns]


# What a summary means


def cleaning_statement(summary: Mapping[str, Any], t: i18n.Translator) -> str:
    """Say what the cleaning policy did: how many cells it filled, or rows it dropped."""
    cleaning = summary.get("cleaning") or {}
    policy = cleaning.get("policy", "fill_previous")
    if policy == "drop":
        return t(
            "ui.seq.cleaning.dropped",
            rows=cleaning.get("dropped_rows", 0),
            sequences=cleaning.get("dropped_sequences", 0),
        )
    filled = sum((cleaning.get("filled_cells") or {}).values())
    return t("ui.seq.cleaning.filled", count=filled, policy=t(f"ui.choice.cleaning.{policy}"))


def length_statements(summary: Mapping[str, Any], t: i18n.Translator) -> list[str]:
    """Say how sequences of different lengths become examples of one length.

    Wide and long layouts pad or cut every sequence to `length` steps. A series is
    cut into overlapping windows instead.
    """
    lengths = [int(steps) for steps in (summary.get("length_counts") or {})]
    shortest, longest = (min(lengths), max(lengths)) if lengths else (0, 0)
    sequences = int(summary.get("num_sequences") or 0)
    if sequences == 1:
        key = "ui.seq.length.one"
    elif shortest == longest:
        key = "ui.seq.length.same"
    else:
        key = "ui.seq.length.range"
    statements = [t(key, sequences=sequences, shortest=shortest, longest=longest)]
    if summary.get("layout") == "series":
        key = (
            "ui.seq.length.windows_forecast" if summary.get("horizon") else "ui.seq.length.windows"
        )
        statements.append(
            t(
                key,
                window=summary.get("window"),
                horizon=summary.get("horizon"),
                examples=summary.get("num_examples", 0),
            )
        )
        return statements

    length = summary.get("length")
    padded = int(summary.get("padded_sequences") or 0)
    cut = int(summary.get("cut_sequences") or 0)
    short = int(summary.get("dropped_short_sequences") or 0)
    if padded:
        statements.append(t("ui.seq.length.padded", count=padded, length=length))
    if cut:
        statements.append(t("ui.seq.length.cut", count=cut, length=length))
    if short:
        statements.append(t("ui.seq.length.short_dropped", count=short, length=length))
    if not padded and not cut and not short:
        statements.append(t("ui.seq.length.equal", length=length))
    return statements


def task_label(task: str | None, t: i18n.Translator) -> str:
    return t(f"sequences.task.{task}") if task else t("ui.value.unknown")


def run_task(results: Mapping[str, Any] | None, dataset_summary: Mapping[str, Any] | None) -> str:
    """Return a run's task: from its results once finished, else from its dataset."""
    task = (results or {}).get("task") or (dataset_summary or {}).get("task")
    return str(task or "classification")


def default_metrics(task: str) -> tuple[str, ...]:
    """Return the metrics a chart shows before a run has logged any."""
    return CLASSIFICATION_METRICS if task == "classification" else VALUE_METRICS


# The form of the data page


def spec_from_values(values: Mapping[str, Any]) -> SequenceSpec:
    """Build a spec from the data page's form values.

    Columns chosen as label, id or order are left out of the features, so choosing a
    feature as the label moves it instead of raising a two-roles problem. Settings
    that another layout uses are cleared: a window only for series, a length only
    for wide and long.
    """
    chosen = {field: values.get(field) or None for field in OPTIONAL_FIELDS}
    layout = values["layout"]
    roles = {chosen["label_column"], chosen["id_column"], chosen["order_column"]}
    features = tuple(name for name in values.get("feature_columns") or () if name not in roles)
    series = layout == "series"
    return SequenceSpec(
        layout=layout,
        label_column=chosen["label_column"],
        id_column=chosen["id_column"] if layout != "wide" else None,
        order_column=chosen["order_column"] if layout != "wide" else None,
        feature_columns=features,
        target_columns=tuple(values.get("target_columns") or ()) if series else (),
        window=values.get("window") if series else None,
        horizon=int(values.get("horizon") or 1),
        max_length=None if series else values.get("max_length"),
        length_rule=values.get("length_rule") or "pad",
        cleaning=values.get("cleaning") or "fill_previous",
        task=chosen["task"],
    )


def spec_values(spec: SequenceSpec) -> dict[str, Any]:
    """Return the form values of a spec, as `spec_from_values` reads them."""
    values = spec.to_dict()
    for field in OPTIONAL_FIELDS:
        values[field] = values[field] or NOT_CHOSEN
    values["feature_columns"] = list(spec.feature_columns)
    values["target_columns"] = list(spec.target_columns)
    return values


def step_columns_text(columns: Sequence[str]) -> str:
    """Write many step columns as `t0 … t149`, and a few in full."""
    if len(columns) <= 4:
        return ", ".join(columns)
    return f"{columns[0]}, {columns[1]} … {columns[-1]}"


# Predictions


def top_text(top: Sequence[Sequence[Any]]) -> str:
    """Write the most likely classes as `1: 97.0% · 2: 3.0%`."""
    return " · ".join(f"{label}: {float(probability):.1%}" for label, probability in top)


def prediction_frame(table: pd.DataFrame, t: i18n.Translator) -> pd.DataFrame:
    """Return a prediction table for display and download, with translated column names.

    Classes stay as text, the `top` lists become text, and the target columns of a
    forecast keep their own names.
    """
    display = table.copy()
    if "top" in display:
        display["top"] = [top_text(top) for top in display["top"]]
    if "confidence" in display and "actual" in display and display["actual"].notna().any():
        display["correct"] = [
            _same(prediction, actual)
            for prediction, actual in zip(display["prediction"], display["actual"], strict=True)
        ]
    return display.rename(columns=lambda name: _column_name(str(name), t))


def _column_name(name: str, t: i18n.Translator) -> str:
    key = f"ui.predict.column.{name}"
    return t(key) if key in i18n.catalog(t.language) else name


def _same(prediction: Any, actual: Any) -> bool | None:
    if actual is None or (isinstance(actual, float) and np.isnan(actual)):
        return None
    return str(prediction) == str(actual)


def agreement(table: pd.DataFrame) -> tuple[int, int] | None:
    """Count the predicted classes equal to the file's labels: `(matches, labelled)`."""
    if "actual" not in table or "prediction" not in table:
        return None
    labelled = table[table["actual"].notna()]
    if labelled.empty:
        return None
    matches = sum(
        str(prediction) == str(actual)
        for prediction, actual in zip(labelled["prediction"], labelled["actual"], strict=True)
    )
    return matches, len(labelled)


def value_errors(table: pd.DataFrame) -> tuple[float, float, int] | None:
    """Return the MAE, RMSE and count of regression predictions against the file's values."""
    if "actual" not in table or "prediction" not in table:
        return None
    actual = pd.to_numeric(table["actual"], errors="coerce")
    known = actual.notna()
    if not known.any():
        return None
    errors = table.loc[known, "prediction"].astype(float) - actual[known]
    return float(errors.abs().mean()), float(np.sqrt((errors**2).mean())), int(known.sum())


def csv_download(frame: pd.DataFrame) -> bytes:
    """Write a table as CSV in UTF-8 with a byte-order mark, which Excel needs for Chinese."""
    return frame.to_csv(index=False).encode("utf-8-sig")


def pasted_sequence_csv(text: str, step_columns: Sequence[str]) -> bytes:
    """Turn numbers pasted as one sequence into a CSV file with the model's step columns.

    Steps after the last pasted number stay blank, which ends a shorter sequence as in
    the training file.

    Raises:
        InvalidUploadError: a pasted value is not a number, nothing is pasted, or
            there are more numbers than the model has steps.
    """
    tokens = [token for token in PASTE_SEPARATORS.split(text.strip()) if token]
    if not tokens:
        raise InvalidUploadError("ui.predict.paste_empty")
    if len(tokens) > len(step_columns):
        raise InvalidUploadError(
            "ui.predict.paste_too_long", count=len(tokens), steps=len(step_columns)
        )
    values = []
    for position, token in enumerate(tokens, start=1):
        try:
            values.append(float(token))
        except ValueError:
            raise InvalidUploadError(
                "ui.predict.paste_not_number", value=token, position=position
            ) from None
    cells = [repr(value) for value in values] + [""] * (len(step_columns) - len(values))
    return (",".join(step_columns) + "\n" + ",".join(cells) + "\n").encode("utf-8")


# Forecast history


def series_history(data: bytes, source: str, spec: SequenceSpec) -> pd.DataFrame:
    """Read the series of a CSV file for a chart: one row per step, in order.

    Returns:
        Columns `series` (the id, or the file name's stem for one series, as the
        prediction table names it), `step` (1, 2, … per series), `time` (the order
        column's value, or None) and one column per target.

    Raises:
        InvalidUploadError: the file cannot be read as CSV.
    """
    ordered = _ordered_rows(read_table(data, source).frame, spec, source)
    history = pd.DataFrame({"series": ordered["_series"]})
    history["step"] = ordered.groupby("_series", sort=False).cumcount() + 1
    history["time"] = ordered.get(spec.order_column)
    for name in spec.target_columns:
        if name in ordered:
            history[name] = ordered[name]
    return history.reset_index(drop=True)


def hold_out(history: pd.DataFrame, steps: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split each series of `series_history` into its history and its last `steps` steps."""
    from_end = history.groupby("series", sort=False).cumcount(ascending=False)
    held_out = from_end < steps
    return history[~held_out].reset_index(drop=True), history[held_out].reset_index(drop=True)


def file_without_last_steps(data: bytes, source: str, spec: SequenceSpec, steps: int) -> bytes:
    """Return the CSV file without the last `steps` rows of each series, in UTF-8.

    The predict page forecasts from the rest, so that the removed values can be
    compared with the forecast. The table is written back as it was read: numbers
    parsed with the file's decimal mark, dates in ISO form.

    Raises:
        InvalidUploadError: the file cannot be read as CSV.
    """
    ordered = _ordered_rows(read_table(data, source).frame, spec, source)
    from_end = ordered.groupby("_series", sort=False).cumcount(ascending=False)
    remaining = ordered[from_end >= steps].drop(columns="_series")
    buffer = io.StringIO()
    remaining.to_csv(buffer, index=False)
    return buffer.getvalue().encode("utf-8")


def _ordered_rows(frame: pd.DataFrame, spec: SequenceSpec, source: str) -> pd.DataFrame:
    """Return the rows sorted by series and order, with the series id in `_series`."""
    if spec.id_column in frame:
        ids: Any = [_id_text(value) for value in frame[spec.id_column]]
    else:
        ids = PurePath(source).stem
    ordered = frame.assign(_series=ids)
    # NOTE: text order values are sorted as text here, but the core ranks them in natural
    # order (`step 2` before `step 10`). The two orders agree for dates and numbers.
    if spec.order_column in frame:
        ordered = ordered.sort_values(["_series", spec.order_column], kind="stable")
    return ordered


def _id_text(value: Any) -> str:
    """Write an id as the core names sequences: integral numbers without `.0`."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return "" if pd.isna(value) else str(value).strip()
