"""Canonical sequence datasets: a CSV file ingested once into arrays with its column roles.

Three layouts are understood, each a `SequenceSpec.layout`:

- `wide`: one row per sequence, one column per step (`t0..t149`) and a label column.
  Columns named `<prefix><number>` with several prefixes (`a0..a9`, `b0..b9`) are
  several features. Blank cells at the end of a row end a shorter sequence.
- `long`: one row per step, with a sequence id column, an optional order column,
  numeric feature columns and a label that is the same in every row of a sequence.
- `series`: one row per time step of one long series, or of several when an id
  column is given. Windows of `window` consecutive steps are the examples. With
  target columns the task is forecasting: each window predicts the next `horizon`
  values of the targets. With a label column instead, each window gets the label of
  its last step (classification, or regression for a numeric label).

`inspect_csv` proposes the layout and the column roles and reports what it found.
`ingest_sequences` stores the result under `Home.datasets`:

```
<id>/manifest.json   spec, task, classes or targets, features, summary and notices
<id>/arrays.npz      values, lengths, labels or targets, ids and row numbers
```

`<id>` is the first 16 hex digits of a SHA-256 over the file's bytes and the resolved
spec, so the same file ingested with the same choices is stored once.

Row numbers are those Excel shows, the header being row 1. This module must stay free
of TensorFlow, because the web server imports it.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import itertools
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd

from bigmodel.csv_reading import (
    MISSING_MARKERS,
    BadCell,
    CleaningPolicy,
    DroppedColumn,
    LabelMapping,
    TableReading,
    detect_task,
    read_table,
)
from bigmodel.errors import DatasetError, SettingsError
from bigmodel.image_datasets import natural_key
from bigmodel.imaging import Notice
from bigmodel.store import DatasetRecord, RunStore, utcnow

logger = logging.getLogger(__name__)

Layout = Literal["wide", "long", "series"]
SequenceTask = Literal["classification", "regression", "forecast"]
LengthRule = Literal["pad", "truncate"]
ColumnRole = Literal["label", "id", "order", "feature", "target", "ignored"]

KIND = "sequence"
MANIFEST_NAME = "manifest.json"
ARRAYS_NAME = "arrays.npz"
MANIFEST_VERSION = 1

MIN_WIDE_STEPS = 8
"""Fewest `<prefix><number>` columns that make a file look like the wide layout."""
DEFAULT_WINDOW = 24
"""Largest window that `propose_spec` proposes for a series."""
EXAMPLE_CELLS = 5
"""Cells per column that `SequenceInspection.cells_by_column` shows by default."""
PREVIEW_ROWS = 10
"""Rows of the file that `SequenceInspection.preview` contains."""
HISTOGRAM_BINS = 20
"""Most bins of each target's histogram in a regression or forecast summary."""

LABEL_NAMES = frozenset(
    {"label", "labels", "class", "target", "y", "category", "标签", "类别", "分类", "类型"}
)
ID_NAMES = frozenset(
    {
        "id",
        "seq",
        "series",
        "sequence",
        "sample",
        "recording",
        "device",
        "序列",
        "编号",
        "样本",
        "设备",
    }
)
ORDER_NAMES = frozenset(
    {
        "t",
        "time",
        "timestamp",
        "date",
        "datetime",
        "step",
        "month",
        "year",
        "day",
        "时间",
        "日期",
        "时刻",
        "序号",
        "月份",
    }
)
_STEP_COLUMN = re.compile(r"(.*?)(\d+)")


@dataclasses.dataclass(frozen=True)
class SequenceSpec:
    """The user's choices for turning a CSV file into sequences.

    `propose_spec` fills every field from the file. `resolve_spec` fills the fields
    left empty: all numeric columns without another role become features, a series
    without a label forecasts its last numeric column, and `window` and `task` get
    their proposals.
    """

    layout: Layout
    label_column: str | None = None
    """Wide and long: the class or value of each sequence. Series: the label of each step."""
    id_column: str | None = None
    """Long: the sequence of each row (required). Series: splits the file into series."""
    order_column: str | None = None
    """Sorts the rows of each sequence or series; None keeps the file's order."""
    feature_columns: tuple[str, ...] = ()
    """Numeric input columns. Wide: the step columns."""
    target_columns: tuple[str, ...] = ()
    """Series forecasting: the numeric columns to predict; they are inputs too."""
    window: int | None = None
    """Series: steps of history in each example."""
    horizon: int = 1
    """Series forecasting: steps predicted after each window."""
    max_length: int | None = None
    """Wide and long: steps kept per sequence. None keeps the longest (`pad`) or the
    shortest (`truncate`)."""
    length_rule: LengthRule = "pad"
    """Wide and long: `pad` pads shorter sequences with masked steps; `truncate` cuts
    every sequence to one length and leaves out the shorter ones."""
    cleaning: CleaningPolicy = "fill_previous"
    """Policy for missing and invalid numbers, as in `csv_reading.clean_table`, but
    applied within each sequence."""
    task: SequenceTask | None = None
    """None takes the proposal: `detect_task` on the label, or forecast for a series."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> SequenceSpec:
        """Rebuild a spec from `to_dict` output or from form values; unknown keys raise."""
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise SettingsError(
                "errors.setting_unknown", names=", ".join(unknown), known=", ".join(sorted(known))
            )
        fields = dict(values)
        for name in ("feature_columns", "target_columns"):
            fields[name] = tuple(fields.get(name) or ())
        return cls(**fields)


@dataclasses.dataclass(frozen=True)
class ColumnSummary:
    """One column of the file with the role the spec gives it."""

    name: str
    kind: str
    """`numeric`, `text` or `datetime`, as `csv_reading` detected it."""
    role: ColumnRole
    missing: int
    """Blank cells, and in numeric columns also missing markers such as `N/A`."""
    invalid: int
    """Cells of a numeric column that are not numbers, such as `#DIV/0!`."""


@dataclasses.dataclass(frozen=True)
class SequenceInspection:
    """A spec applied to a file without storing it, for the user to check before ingest.

    `problem` is the error that `ingest_sequences` would raise with `spec`, as a notice.
    In that case `summary` is None. Otherwise `summary` is the summary that the stored
    dataset would have.
    """

    source: str
    encoding: str
    separator: str
    decimal: str
    num_rows: int
    columns: tuple[ColumnSummary, ...]
    spec: SequenceSpec
    task: SequenceTask | None
    lengths: tuple[int, ...]
    """Steps of each sequence or series after cleaning, before padding or cutting."""
    summary: dict[str, Any] | None
    cells: tuple[BadCell, ...]
    """Missing and invalid cells of the numeric columns, row by row."""
    dropped_columns: tuple[DroppedColumn, ...]
    notices: tuple[Notice, ...]
    problem: Notice | None
    preview: pd.DataFrame | None = None
    """The first `PREVIEW_ROWS` rows as read: numbers parsed, text and dates as detected."""
    percent_columns: tuple[str, ...] = ()
    """Numeric columns where values with a percent sign were read as the number before it."""

    def cells_by_column(self, limit: int = EXAMPLE_CELLS) -> dict[str, list[BadCell]]:
        """Return up to `limit` example cells per column, in row order."""
        examples: dict[str, list[BadCell]] = collections.defaultdict(list)
        for cell in self.cells:
            if len(examples[cell.column]) < limit:
                examples[cell.column].append(cell)
        return dict(examples)


@dataclasses.dataclass(frozen=True, eq=False)
class SequenceExamples:
    """The examples of a dataset as arrays, ready for a split and a model.

    Attributes:
        x: inputs `(examples, length, features)`, float32; padded steps are NaN.
        y: class indices `(examples,)` int64 for classification, otherwise values
            `(examples, outputs)` float32; a forecast has `horizon * targets` outputs,
            step by step.
        names: the sequence id of each example; for series windows the series id
            and the row of the window's last step.
        groups: index of the sequence or series each example comes from.
        chronological: True for series windows, which overlap in time, so that a
            split must keep their order instead of shuffling.
    """

    x: np.ndarray
    y: np.ndarray
    names: tuple[str, ...]
    groups: np.ndarray
    chronological: bool


@dataclasses.dataclass(frozen=True, eq=False)
class SequenceDataset:
    """An ingested sequence dataset, as stored in its folder.

    Attributes:
        spec: the resolved spec, with every proposal filled in.
        length: steps of each example: the padded or cut length, or the window.
        class_names: classes in `LabelMapping` order; empty unless classification.
        target_names: the predicted columns; empty for classification.
    """

    id: str
    name: str
    path: Path
    spec: SequenceSpec
    task: SequenceTask
    feature_names: tuple[str, ...]
    class_names: tuple[str, ...]
    target_names: tuple[str, ...]
    length: int
    summary: dict[str, Any]
    notices: tuple[Notice, ...]

    def examples(self) -> SequenceExamples:
        """Load the stored arrays and return the training examples."""
        with np.load(self.path / ARRAYS_NAME, allow_pickle=False) as arrays:
            stored = {name: arrays[name] for name in arrays.files}
        if self.spec.layout == "series":
            return _series_examples(stored, self.spec, self.task)
        return SequenceExamples(
            x=stored["values"],
            y=stored["labels"] if self.task == "classification" else stored["targets"],
            names=tuple(str(name) for name in stored["ids"]),
            groups=np.arange(len(stored["ids"])),
            chronological=False,
        )


@dataclasses.dataclass(frozen=True, eq=False)
class PredictionInputs:
    """Model inputs read from a CSV file for prediction, with what identifies each one.

    Attributes:
        x: `(examples, length, features)` float32, padded steps NaN.
        names: sequence or series id of each example.
        lengths: steps of each sequence or series in the file, after cleaning.
        rows: Excel row of the last step that each example uses.
        actual: the label in the file for each example, where the file has a label
            column: the sequence's label, or the label of a window's last step.
        future: forecasts only: per example, the order values of the predicted steps,
            or None when the order column has no regular interval.
    """

    x: np.ndarray
    names: tuple[str, ...]
    lengths: tuple[int, ...]
    rows: tuple[int, ...]
    actual: tuple[str | None, ...] | None
    future: tuple[tuple[str, ...] | None, ...] | None


@dataclasses.dataclass
class _Sequence:
    """One sequence or series as read from the file, in step order, before padding."""

    id: str
    values: np.ndarray
    """`(steps, features)` float64; NaN for missing and invalid cells."""
    rows: np.ndarray
    """Excel row number of each step."""
    labels: np.ndarray | None
    """Label cell of each step, as read; None when the spec has no label or the file lacks it."""
    order: pd.Series | None
    """Sort key of each step, datetimes where the order column has dates."""


@dataclasses.dataclass
class _Cleaning:
    """Changes that `_clean_sequences` made, for the summary and the notices."""

    policy: str
    filled_cells: dict[str, int]
    dropped_rows: list[int]
    dropped_sequences: list[str]


@dataclasses.dataclass
class _Built:
    """A spec applied to a table: the arrays to store and everything to report."""

    spec: SequenceSpec
    task: SequenceTask
    arrays: dict[str, np.ndarray]
    class_names: tuple[str, ...]
    target_names: tuple[str, ...]
    length: int
    lengths: list[int]
    summary: dict[str, Any]
    notices: list[Notice]


# Public entry points


def inspect_csv(data: bytes, source: str, spec: SequenceSpec | None = None) -> SequenceInspection:
    """Read a CSV file and report how it would become sequences, without storing anything.

    Args:
        data: the file's bytes.
        source: the file name, used in messages.
        spec: the user's choices. Defaults to the proposal of `propose_spec`.

    Returns:
        The proposal or the given spec, resolved, with the columns and their roles,
        the lengths, classes or target statistics, and every missing and invalid cell.
        A spec that `ingest_sequences` would reject is reported in `problem`.

    Raises:
        InvalidUploadError: the file cannot be read as CSV (see `csv_reading.read_table`).
    """
    reading = read_table(data, source)
    spec = spec or propose_spec(reading)
    built: _Built | None = None
    problem: Notice | None = None
    try:
        built = _build(reading, spec)
    except (DatasetError, SettingsError) as error:
        problem = Notice(source, error.key, dict(error.params))

    shown = built.spec if built is not None else spec
    return SequenceInspection(
        source=source,
        encoding=reading.encoding,
        separator=reading.separator,
        decimal=reading.decimal,
        num_rows=len(reading.frame),
        columns=_column_summaries(reading, shown),
        spec=shown,
        task=built.task if built is not None else spec.task,
        lengths=tuple(built.lengths) if built is not None else (),
        summary=built.summary if built is not None else None,
        cells=reading.bad_cells,
        percent_columns=reading.percent_columns,
        dropped_columns=reading.dropped_columns,
        notices=tuple(built.notices) if built is not None else (),
        problem=problem,
        preview=reading.frame.head(PREVIEW_ROWS).copy(),
    )


def ingest_sequences(
    data: bytes, source: str, spec: SequenceSpec | None, name: str, store: RunStore
) -> SequenceDataset:
    """Ingest a CSV file into a canonical sequence dataset and record it in the store.

    Args:
        data: the file's bytes.
        source: the file name, used in messages and the summary.
        spec: the user's choices. Defaults to the proposal of `propose_spec`.
        name: display name of the dataset.
        store: the run store that records the dataset.

    Returns:
        The stored dataset. If the same bytes were ingested with the same spec before,
        the earlier dataset, with its earlier name, is returned.

    Raises:
        InvalidUploadError: the file cannot be read as CSV.
        DatasetError: the spec does not fit the file, with the column or value named.
        SettingsError: a number of the spec is out of range.
    """
    reading = read_table(data, source)
    built = _build(reading, spec or propose_spec(reading))
    dataset_id = _content_id(data, built.spec)
    folder = _publish(built, dataset_id, name, source, store.home.datasets)
    dataset = _load_folder(folder)
    store.add_dataset(
        DatasetRecord(dataset.id, KIND, dataset.name, str(folder), dataset.summary, utcnow())
    )
    logger.info(
        "Sequence dataset %s ready: %s layout, %s, %d examples of %d steps",
        dataset.id,
        built.spec.layout,
        built.task,
        built.summary["num_examples"],
        built.length,
    )
    return dataset


def load_sequence_dataset(dataset_id: str, store: RunStore) -> SequenceDataset:
    """Load a stored sequence dataset.

    Raises:
        RunNotFoundError: no dataset has the id `dataset_id`.
        DatasetError: the dataset is not a sequence dataset, or its files are missing.
    """
    record = store.get_dataset(dataset_id)
    if record.kind != KIND:
        raise DatasetError(
            "sequences.dataset_not_sequence", dataset_id=dataset_id, kind=record.kind
        )
    folder = Path(record.path)
    if not (folder / MANIFEST_NAME).is_file() or not (folder / ARRAYS_NAME).is_file():
        raise DatasetError(
            "errors.dataset_files_missing", dataset_id=dataset_id, path=str(folder / ARRAYS_NAME)
        )
    return _load_folder(folder)


def read_for_prediction(
    data: bytes,
    source: str,
    spec: SequenceSpec,
    task: SequenceTask,
    length: int,
    feature_means: Sequence[float] | None = None,
) -> PredictionInputs:
    """Read a CSV file in a model's layout into model inputs, by the rules of ingest.

    The label column may be absent. Wide and long sequences are padded or cut to the
    model's `length`, keeping their first steps. A series gives every window for
    classification and regression, and its last window for a forecast. The policies
    `fill_mean` and `fill_previous` fill with `feature_means`, the model's training
    means, where they are given, and otherwise with the means of this file.

    Raises:
        InvalidUploadError: the file cannot be read as CSV.
        DatasetError: a column of the spec is missing, or a series is shorter than the
            window.
    """
    reading = read_table(data, source)
    _check_prediction_columns(reading, spec)
    label_present = spec.label_column is not None and spec.label_column in reading.frame
    sequences, _, _ = _read_sequences(reading, spec, drop_unlabelled=False)
    sequences, _ = _clean_sequences(sequences, spec, feature_means)
    if not sequences:
        raise DatasetError("sequences.no_sequences", file=source)

    if spec.layout != "series":
        return _sequence_inputs(sequences, length, label_present)
    if task == "forecast":
        return _forecast_inputs(sequences, spec, length, source)
    return _window_inputs(sequences, length, source, label_present)


def propose_spec(reading: TableReading) -> SequenceSpec:
    """Propose a layout and column roles for a table.

    The label is a column named like `label`, `class` or 标签, else a last text column.
    A column named like `id`, `series_id` or 编号 with repeated values makes the long
    layout, as does a text column whose values come in blocks with one label each.
    Otherwise at least `MIN_WIDE_STEPS` numeric `<prefix><number>` columns without an
    order column make the wide layout, and anything else is a series. The order column
    is the first datetime column, a column named like `time` or 时间, or an integer
    column that only increases. The wide and long layouts need a label, so without
    one found so far they take the last column that has no other role.
    """
    label = _find_label_column(reading)
    named_id = _find_id_column(reading, label, by_name=True)
    if named_id is not None and _has_repeats(reading.frame[named_id]):
        return _proposal(reading, "long", label, named_id)

    order = _find_order_column(reading, {label, named_id})
    steps = _wide_step_columns(reading, {label, named_id})
    if len(steps) >= MIN_WIDE_STEPS and order is None:
        label = label or _last_column(reading, {named_id, *steps})
        return SequenceSpec("wide", label, named_id, None, tuple(steps))

    block_id = _find_id_column(reading, label, by_name=False)
    if block_id is not None:
        return _proposal(reading, "long", label, block_id)
    return _proposal(reading, "series", label, None)


def resolve_spec(reading: TableReading, spec: SequenceSpec) -> tuple[SequenceSpec, SequenceTask]:
    """Check a spec against a table and fill in what it leaves to the proposal.

    Raises:
        SettingsError: the layout, cleaning policy, task or a number is invalid.
        DatasetError: a column is unknown or has the wrong kind, a required role is
            missing, or the task does not fit the label.
    """
    _check_choices(spec)
    _check_columns_exist(reading, spec)
    features = spec.feature_columns or _default_features(reading, spec)
    targets = spec.target_columns
    if spec.layout == "series" and spec.label_column is None and not targets:
        targets = features[-1:]
    if spec.layout == "series":
        features = tuple(dict.fromkeys((*features, *targets)))
    _check_features(reading, features)
    _check_roles(reading, spec, targets)

    task = spec.task or _propose_task(reading, spec)
    _check_task(reading, spec, task, targets)
    resolved = dataclasses.replace(
        spec, feature_columns=features, target_columns=targets if task == "forecast" else ()
    )
    return resolved, task


# Proposal


def _proposal(
    reading: TableReading, layout: Layout, label: str | None, id_column: str | None
) -> SequenceSpec:
    order = _find_order_column(reading, {label, id_column})
    if layout == "long" and label is None:
        label = _last_column(reading, {id_column, order})
    spec = SequenceSpec(layout, label, id_column, order)
    features = _default_features(reading, spec)
    if layout != "series":
        return dataclasses.replace(spec, feature_columns=features)

    targets = () if label is not None else features[-1:]
    window = _default_window(reading, spec) if features else 1
    return dataclasses.replace(
        spec, feature_columns=features, target_columns=targets, window=window
    )


def _last_column(reading: TableReading, exclude: set[str | None]) -> str | None:
    names = [str(name) for name in reading.frame.columns if name not in exclude]
    return names[-1] if names else None


def _default_window(reading: TableReading, spec: SequenceSpec) -> int:
    """Return a window that leaves about half of the shortest series for examples."""
    if spec.id_column is not None:
        shortest = int(reading.frame.groupby(spec.id_column, sort=False).size().min())
    else:
        shortest = len(reading.frame)
    horizon = spec.horizon if spec.label_column is None else 0
    return max(1, min(DEFAULT_WINDOW, (shortest - horizon) // 2))


def _name_key(name: str) -> str:
    return name.strip().casefold()


def _find_label_column(reading: TableReading) -> str | None:
    named = [name for name in reading.frame.columns if _name_key(name) in LABEL_NAMES]
    if named:
        return str(named[-1])
    last = str(reading.frame.columns[-1])
    return last if reading.column_kinds.get(last) == "text" else None


def _is_id_name(name: str) -> bool:
    key = _name_key(name)
    return key in ID_NAMES or key.endswith(("_id", "-id", " id")) or "编号" in key


def _find_id_column(reading: TableReading, label: str | None, *, by_name: bool) -> str | None:
    """Find a sequence id: by name, or a text column in blocks with one label per block."""
    for name in reading.frame.columns:
        if name == label:
            continue
        kind = reading.column_kinds.get(name)
        if by_name and _is_id_name(name) and kind in ("text", "numeric"):
            return str(name)
        if not by_name and kind == "text" and _is_block_id(reading.frame, name, label):
            return str(name)
    return None


def _has_repeats(column: pd.Series) -> bool:
    present = column.dropna()
    return bool(len(present) and present.nunique() < len(present))


def _is_block_id(frame: pd.DataFrame, name: str, label: str | None) -> bool:
    """Return whether each value of a column fills one block of rows with a single label."""
    column = frame[name]
    if column.isna().any() or not _has_repeats(column):
        return False
    starts = column.ne(column.shift())
    if int(starts.sum()) != column.nunique() or column.nunique() < 2:
        return False
    if label is None:
        return True
    labels_per_block = frame.groupby(name, sort=False)[label].nunique(dropna=True)
    return bool((labels_per_block <= 1).all())


def _find_order_column(reading: TableReading, exclude: set[str | None]) -> str | None:
    candidates = [name for name in reading.frame.columns if name not in exclude]
    for name in candidates:
        if reading.column_kinds.get(name) == "datetime":
            return str(name)
    for name in candidates:
        if _name_key(name) in ORDER_NAMES:
            return str(name)
    # A counter is the order only when another numeric column is left as a feature.
    numeric = [name for name in candidates if reading.column_kinds.get(name) == "numeric"]
    for name in numeric:
        if len(numeric) > 1 and _is_counter(reading.frame[name]):
            return str(name)
    return None


def _is_counter(column: pd.Series) -> bool:
    """Return whether a numeric column contains integers that only increase, such as 0, 1, 2."""
    values = column.to_numpy(dtype="float64")
    if len(values) < 2 or np.isnan(values).any():
        return False
    return bool(np.all(values == np.round(values)) and np.all(np.diff(values) > 0))


def _wide_step_columns(reading: TableReading, exclude: set[str | None]) -> list[str]:
    """Return the numeric `<prefix><number>` columns of the most common prefix."""
    numbered: dict[str, list[str]] = collections.defaultdict(list)
    for name in reading.frame.columns:
        match = _STEP_COLUMN.fullmatch(str(name))
        if name in exclude or match is None or reading.column_kinds.get(name) != "numeric":
            continue
        numbered[match.group(1)].append(str(name))
    if not numbered:
        return []
    widest = max(len(columns) for columns in numbered.values())
    prefixes = [prefix for prefix, columns in numbered.items() if len(columns) == widest]
    return [name for prefix in prefixes for name in numbered[prefix]]


def _default_features(reading: TableReading, spec: SequenceSpec) -> tuple[str, ...]:
    roles = {spec.label_column, spec.id_column, spec.order_column}
    return tuple(
        str(name)
        for name, kind in reading.column_kinds.items()
        if kind == "numeric" and name not in roles
    )


def _propose_task(reading: TableReading, spec: SequenceSpec) -> SequenceTask:
    if spec.label_column is None:
        return "forecast"
    labels = _label_cells(reading.frame[spec.label_column])
    return detect_task(labels.rename(spec.label_column))


# Checks of a spec


def _check_choices(spec: SequenceSpec) -> None:
    choices: tuple[tuple[str, Any, tuple[Any, ...]], ...] = (
        ("layout", spec.layout, get_args(Layout)),
        ("length_rule", spec.length_rule, get_args(LengthRule)),
        ("cleaning", spec.cleaning, get_args(CleaningPolicy)),
        ("task", spec.task, (None, *get_args(SequenceTask))),
    )
    for name, value, allowed in choices:
        if value not in allowed:
            listed = ", ".join(str(choice) for choice in allowed if choice is not None)
            raise SettingsError("errors.setting_choice", name=name, value=value, choices=listed)

    for name, value in (
        ("window", spec.window),
        ("horizon", spec.horizon),
        ("max_length", spec.max_length),
    ):
        if value is not None and (not isinstance(value, int) or value < 1):
            raise SettingsError(
                "errors.setting_range", name=name, value=value, minimum=1, maximum="∞"
            )


def _check_columns_exist(reading: TableReading, spec: SequenceSpec) -> None:
    named = [spec.label_column, spec.id_column, spec.order_column]
    named += [*spec.feature_columns, *spec.target_columns]
    columns = list(reading.frame.columns)
    for name in named:
        if name is not None and name not in columns:
            raise DatasetError(
                "sequences.column_unknown",
                column=name,
                file=reading.source,
                columns=", ".join(map(str, columns)),
            )


def _check_features(reading: TableReading, features: Sequence[str]) -> None:
    if not features:
        raise DatasetError("sequences.no_numeric_feature", file=reading.source)
    for name in features:
        kind = reading.column_kinds.get(name)
        if kind != "numeric":
            raise DatasetError("sequences.feature_not_numeric", column=name, kind=kind)


def _check_roles(reading: TableReading, spec: SequenceSpec, targets: Sequence[str]) -> None:
    if spec.layout == "long" and spec.id_column is None:
        raise DatasetError("sequences.id_required", file=reading.source)
    if spec.layout != "series" and spec.label_column is None:
        raise DatasetError("sequences.label_required", layout=spec.layout, file=reading.source)
    roles = [spec.label_column, spec.id_column, spec.order_column]
    for name in spec.feature_columns:
        if name in roles:
            raise DatasetError("sequences.column_two_roles", column=name)
    if spec.layout == "series" and spec.label_column is not None and targets:
        raise DatasetError("sequences.label_and_targets", label=spec.label_column)


def _check_task(
    reading: TableReading, spec: SequenceSpec, task: SequenceTask, targets: Sequence[str]
) -> None:
    if task == "forecast" and (spec.layout != "series" or not targets):
        raise DatasetError("sequences.forecast_needs_series", layout=spec.layout)
    if task != "forecast" and spec.label_column is None:
        raise DatasetError("sequences.label_required", layout=spec.layout, file=reading.source)
    if task == "regression" and spec.label_column is not None:
        labels = _label_cells(reading.frame[spec.label_column])
        numbers = pd.to_numeric(labels, errors="coerce")
        if numbers.isna().any():
            raise DatasetError(
                "sequences.label_not_numeric",
                column=spec.label_column,
                value=str(labels[numbers.isna()].iloc[0]),
            )


def _check_prediction_columns(reading: TableReading, spec: SequenceSpec) -> None:
    needed = [spec.id_column, spec.order_column, *spec.feature_columns]
    for name in needed:
        if name is not None and name not in reading.frame.columns:
            raise DatasetError(
                "sequences.prediction_column_missing",
                column=name,
                file=reading.source,
                columns=", ".join(map(str, reading.frame.columns)),
            )
    for name in spec.feature_columns:
        if reading.column_kinds.get(name) != "numeric":
            raise DatasetError(
                "sequences.feature_not_numeric", column=name, kind=reading.column_kinds.get(name)
            )


# Building a dataset


def _build(reading: TableReading, spec: SequenceSpec) -> _Built:
    spec, task = resolve_spec(reading, spec)
    labelled_only = spec.layout != "series"
    sequences, notices, unlabelled = _read_sequences(reading, spec, drop_unlabelled=labelled_only)
    sequences, cleaning = _clean_sequences(sequences, spec)
    notices += _cleaning_notices(cleaning, reading.source)
    if not sequences:
        raise DatasetError("sequences.no_sequences", file=reading.source)

    if spec.layout == "series":
        built = _build_series(reading, spec, task, sequences)
    else:
        built = _build_sequences(reading, spec, task, sequences)
    built.notices[:0] = notices
    built.summary.update(_common_summary(reading, built, cleaning, unlabelled))
    return built


def _build_sequences(
    reading: TableReading, spec: SequenceSpec, task: SequenceTask, sequences: list[_Sequence]
) -> _Built:
    """Pad or cut wide or long sequences into one array, with one label each."""
    lengths = [len(sequence.values) for sequence in sequences]
    length, kept_indices, length_summary = _choose_length(lengths, spec)
    kept = set(kept_indices)
    short = [sequence.id for index, sequence in enumerate(sequences) if index not in kept]
    notices = _length_notices(length_summary, length, short, reading.source)
    sequences = [sequences[index] for index in kept_indices]
    if not sequences:
        raise DatasetError("sequences.no_sequences", file=reading.source)

    labels = pd.Series([_sequence_label(s, spec) for s in sequences], name=spec.label_column)
    arrays = {
        "values": _pad_or_cut([sequence.values for sequence in sequences], length),
        "lengths": np.asarray([len(sequence.values) for sequence in sequences], dtype=np.int64),
        "ids": np.asarray([sequence.id for sequence in sequences], dtype=str),
        "rows": np.asarray([int(sequence.rows[0]) for sequence in sequences], dtype=np.int64),
    }
    class_names, target_names = _encode_labels(labels, spec, task, arrays)
    y = arrays["labels"] if task == "classification" else arrays["targets"]
    summary = {
        **length_summary,
        **_label_summary(y, task, class_names, target_names),
        "num_examples": len(sequences),
        "length": length,
        "window": None,
        "horizon": None,
    }
    return _Built(spec, task, arrays, class_names, target_names, length, lengths, summary, notices)


def _build_series(
    reading: TableReading, spec: SequenceSpec, task: SequenceTask, sequences: list[_Sequence]
) -> _Built:
    """Store whole series; `_series_examples` cuts the windows from them when they are used."""
    assert spec.window is not None  # resolve_spec sets it for every series
    horizon = spec.horizon if task == "forecast" else 0
    needed = spec.window + horizon
    lengths = [len(sequence.values) for sequence in sequences]
    usable = [sequence for sequence in sequences if len(sequence.values) >= needed]
    if not usable:
        raise DatasetError(
            "sequences.window_too_long",
            window=spec.window,
            horizon=horizon,
            length=max(lengths),
            file=reading.source,
        )
    notices = [
        Notice(
            reading.source,
            "sequences.notice.series_too_short",
            {"series": sequence.id, "steps": len(sequence.values), "needed": needed},
        )
        for sequence in sequences
        if len(sequence.values) < needed
    ]

    arrays: dict[str, np.ndarray] = {
        "values": np.concatenate([sequence.values for sequence in usable]).astype(np.float32),
        "offsets": np.cumsum([0] + [len(sequence.values) for sequence in usable]).astype(np.int64),
        "ids": np.asarray([sequence.id for sequence in usable], dtype=str),
        "rows": np.concatenate([sequence.rows for sequence in usable]).astype(np.int64),
    }
    class_names, target_names = _encode_series_targets(usable, spec, task, arrays)
    examples = _series_examples(arrays, spec, task)
    if len(examples.names) == 0:
        raise DatasetError("sequences.no_labelled_windows", window=spec.window, file=reading.source)

    summary = {
        **_label_summary(examples.y, task, class_names, target_names),
        "num_examples": len(examples.names),
        "length": spec.window,
        "window": spec.window,
        "horizon": spec.horizon if task == "forecast" else None,
        "length_rule": None,
    }
    return _Built(
        spec, task, arrays, class_names, target_names, spec.window, lengths, summary, notices
    )


# Reading sequences from the table


def _read_sequences(
    reading: TableReading, spec: SequenceSpec, *, drop_unlabelled: bool
) -> tuple[list[_Sequence], list[Notice], list[int]]:
    """Split the table into sequences, and drop the rows without a label if asked.

    Returns the sequences, notices about left-out rows, and the Excel rows of the rows
    that were dropped for a missing label.
    """
    frame = reading.frame
    rows = np.asarray(reading.row_numbers, dtype=np.int64)
    keep = np.ones(len(frame), dtype=bool)
    notices: list[Notice] = []
    if spec.id_column is not None and spec.layout != "wide":
        no_id = frame[spec.id_column].isna().to_numpy()
        keep &= ~no_id
        notices += _rows_notice("sequences.notice.id_missing", rows[no_id], reading.source)

    unlabelled: list[int] = []
    if drop_unlabelled and spec.label_column is not None and spec.label_column in frame:
        no_label = _label_cells(frame[spec.label_column]).isna().to_numpy() & keep
        keep &= ~no_label
        unlabelled = [int(row) for row in rows[no_label]]
        notices += _rows_notice("sequences.notice.label_missing", rows[no_label], reading.source)

    if spec.layout == "wide":
        return _wide_sequences(reading, spec, keep), notices, unlabelled
    return _grouped_sequences(reading, spec, keep), notices, unlabelled


def _wide_sequences(reading: TableReading, spec: SequenceSpec, keep: np.ndarray) -> list[_Sequence]:
    """Read one sequence per row; missing cells after the last value end the sequence."""
    frame = reading.frame
    _, grid = _wide_grid(spec.feature_columns)
    cube = np.stack([frame[list(columns)].to_numpy(dtype="float64") for columns in grid], axis=-1)
    rows = np.asarray(reading.row_numbers, dtype=np.int64)
    ids = _id_texts(frame[spec.id_column]) if spec.id_column else [str(row) for row in rows]
    labels = _optional_labels(frame, spec)

    sequences = []
    for index in np.flatnonzero(keep):
        present = np.flatnonzero(~np.isnan(cube[index]).all(axis=1))
        steps = int(present[-1]) + 1 if len(present) else 0
        step_labels = None if labels is None else np.full(steps, labels[index], dtype=object)
        sequences.append(
            _Sequence(
                ids[index], cube[index, :steps], np.full(steps, rows[index]), step_labels, None
            )
        )
    return sequences


def _wide_grid(columns: Sequence[str]) -> tuple[tuple[str, ...], list[list[str]]]:
    """Return the feature names of wide step columns and their columns in step order.

    When every column is `<prefix><number>`, each prefix is a feature and the numbers
    order its steps. Otherwise the columns are the steps of one feature, in file order.

    Raises:
        DatasetError: two prefixes have different step numbers.
    """
    matches = [_STEP_COLUMN.fullmatch(name) for name in columns]
    if not all(matches):
        return ("value",), [list(columns)]

    by_prefix: dict[str, dict[int, str]] = {}
    for match in matches:
        assert match is not None
        by_prefix.setdefault(match.group(1), {})[int(match.group(2))] = match.group(0)
    prefixes = list(by_prefix)
    steps = sorted(by_prefix[prefixes[0]])
    for prefix in prefixes[1:]:
        if sorted(by_prefix[prefix]) != steps:
            raise DatasetError(
                "sequences.wide_steps_mismatch",
                first=prefixes[0],
                other=prefix,
                first_count=len(steps),
                other_count=len(by_prefix[prefix]),
            )
    return tuple(prefixes), [[by_prefix[prefix][step] for step in steps] for prefix in prefixes]


def feature_names(spec: SequenceSpec) -> tuple[str, ...]:
    """Return the names of the model's input features: the step prefixes of a wide spec."""
    if spec.layout == "wide":
        return _wide_grid(spec.feature_columns)[0]
    return spec.feature_columns


def _grouped_sequences(
    reading: TableReading, spec: SequenceSpec, keep: np.ndarray
) -> list[_Sequence]:
    """Group the rows of a long or series table by id and sort each group by the order column."""
    frame = reading.frame
    rows = np.asarray(reading.row_numbers, dtype=np.int64)
    values = frame[list(spec.feature_columns)].to_numpy(dtype="float64")
    labels = _optional_labels(frame, spec)
    order = _order_key(frame[spec.order_column]) if spec.order_column else None
    if spec.id_column is not None:
        ids = _id_texts(frame[spec.id_column])
    else:
        ids = [Path(reading.source).stem] * len(frame)

    groups: dict[str, list[int]] = {}
    for position in np.flatnonzero(keep):
        groups.setdefault(ids[position], []).append(int(position))

    sequences = []
    for sequence_id, positions in groups.items():
        index = np.asarray(positions)
        if order is not None:
            index = index[np.argsort(order.to_numpy()[index], kind="stable")]
        sequences.append(
            _Sequence(
                sequence_id,
                values[index],
                rows[index],
                None if labels is None else labels[index],
                None if order is None else order.iloc[index].reset_index(drop=True),
            )
        )
    return sequences


def _order_key(column: pd.Series) -> pd.Series:
    """Return a sortable copy of an order column: numbers, datetimes, or ranks of text.

    Text that is entirely year-first dates, such as `1949-01`, becomes datetimes.
    Other text is ranked in natural order, so `step 2` sorts before `step 10`.
    """
    if column.dtype.kind in "fiM":
        return column.reset_index(drop=True)
    text = column.astype("str")
    datetimes = pd.to_datetime(text, format="ISO8601", errors="coerce")
    if datetimes[column.notna()].notna().all():
        return datetimes.reset_index(drop=True)
    present = sorted(set(text[column.notna()]), key=natural_key)
    ranks = {value: rank for rank, value in enumerate(present)}
    # Rows without an order value sort after all others.
    return text.map(ranks).fillna(len(ranks)).astype("int64").reset_index(drop=True)


def _cell_text(value: Any) -> str:
    """Return a cell as text, with integral numbers written without `.0`."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value).strip()


def _id_texts(column: pd.Series) -> list[str]:
    return [_cell_text(value) if pd.notna(value) else "" for value in column]


def _label_cells(column: pd.Series) -> pd.Series:
    """Return a label column with blank cells and missing markers such as `N/A` as NA.

    `csv_reading` keeps markers as text in text columns, but a label `N/A` is far more
    often a missing label than a class.
    """
    if column.dtype.kind in "fiM":
        return column
    markers = column.astype("str").str.strip().str.casefold().isin(MISSING_MARKERS)
    return column.where(~markers & column.notna())


def _optional_labels(frame: pd.DataFrame, spec: SequenceSpec) -> np.ndarray | None:
    if spec.label_column is None or spec.label_column not in frame:
        return None
    return _label_cells(frame[spec.label_column]).to_numpy(dtype=object)


def _present(value: Any) -> bool:
    return (
        value is not None
        and not (isinstance(value, float) and np.isnan(value))
        and value is not pd.NA
    )


def _sequence_label(sequence: _Sequence, spec: SequenceSpec) -> Any:
    """Return the label of a wide or long sequence.

    Raises:
        DatasetError: the label differs between rows of the sequence.
    """
    assert sequence.labels is not None
    seen: dict[str, int] = {}
    for label, row in zip(sequence.labels, sequence.rows, strict=True):
        if _present(label):
            seen.setdefault(_cell_text(label), int(row))
    if len(seen) > 1:
        (first, first_row), (second, second_row) = list(seen.items())[:2]
        raise DatasetError(
            "sequences.label_not_constant",
            sequence=sequence.id,
            column=spec.label_column,
            first=first,
            first_row=first_row,
            second=second,
            second_row=second_row,
        )
    return next(label for label in sequence.labels if _present(label))


def _first_label(sequence: _Sequence) -> str | None:
    if sequence.labels is None:
        return None
    present = [_cell_text(label) for label in sequence.labels if _present(label)]
    return present[0] if present else None


# Cleaning


def _clean_sequences(
    sequences: list[_Sequence], spec: SequenceSpec, means: Sequence[float] | None = None
) -> tuple[list[_Sequence], _Cleaning]:
    """Apply the cleaning policy within each sequence, so no value crosses into another.

    `fill_previous` copies the previous step and fills leading gaps from the next one.
    A feature without any value in its sequence gets the feature's mean: `means` if
    given, else the mean over all sequences. `fill_mean` uses that mean everywhere and
    `fill_zero` writes 0. `drop` removes the
    steps with a missing value, or a whole wide sequence, which is one row. Sequences
    left without steps are dropped.
    """
    names = feature_names(spec)
    cleaning = _Cleaning(spec.cleaning, dict.fromkeys(names, 0), [], [])
    if not sequences:
        return sequences, cleaning
    if means is None:
        feature_means = _nanmean(np.concatenate([sequence.values for sequence in sequences]))
    else:
        feature_means = np.asarray(means, dtype=np.float64)
    fill_values = np.nan_to_num(feature_means, nan=0.0)

    cleaned = []
    for sequence in sequences:
        missing = np.isnan(sequence.values)
        if spec.cleaning == "drop":
            sequence = _drop_missing_steps(sequence, missing, spec.layout, cleaning)
        elif missing.any():
            sequence.values = _fill(sequence.values, spec.cleaning, fill_values)
            for name, count in zip(names, missing.sum(axis=0), strict=True):
                cleaning.filled_cells[name] += int(count)
        if len(sequence.values) == 0:
            cleaning.dropped_sequences.append(sequence.id)
            continue
        cleaned.append(sequence)
    return cleaned, cleaning


def _nanmean(values: np.ndarray) -> np.ndarray:
    present = ~np.isnan(values)
    counts = present.sum(axis=0)
    totals = np.where(present, values, 0.0).sum(axis=0)
    return np.divide(totals, counts, out=np.full(values.shape[1], np.nan), where=counts > 0)


def _drop_missing_steps(
    sequence: _Sequence, missing: np.ndarray, layout: Layout, cleaning: _Cleaning
) -> _Sequence:
    incomplete = np.asarray(missing.any(axis=1))
    if not incomplete.any():
        return sequence
    if layout == "wide":
        incomplete = np.ones_like(incomplete)
    cleaning.dropped_rows.extend(sorted({int(row) for row in sequence.rows[incomplete]}))
    keep = ~incomplete
    return _Sequence(
        sequence.id,
        sequence.values[keep],
        sequence.rows[keep],
        None if sequence.labels is None else sequence.labels[keep],
        None if sequence.order is None else sequence.order[keep].reset_index(drop=True),
    )


def _fill(values: np.ndarray, policy: str, means: np.ndarray) -> np.ndarray:
    if policy == "fill_zero":
        return np.nan_to_num(values, nan=0.0)
    if policy == "fill_previous":
        values = pd.DataFrame(values).ffill().bfill().to_numpy(dtype="float64")
    return np.where(np.isnan(values), means, values)


def _cleaning_notices(cleaning: _Cleaning, source: str) -> list[Notice]:
    notices = []
    filled = {name: count for name, count in cleaning.filled_cells.items() if count}
    if filled:
        columns = ", ".join(f"{name} ({count})" for name, count in filled.items())
        notices.append(
            Notice(
                source,
                "sequences.notice.cells_filled",
                {"count": sum(filled.values()), "policy": cleaning.policy, "columns": columns},
            )
        )
    notices += _rows_notice("sequences.notice.rows_dropped", cleaning.dropped_rows, source)
    if cleaning.dropped_sequences:
        notices.append(
            Notice(
                source,
                "sequences.notice.sequences_empty",
                {
                    "count": len(cleaning.dropped_sequences),
                    "sequences": _examples(cleaning.dropped_sequences),
                },
            )
        )
    return notices


def _rows_notice(key: str, rows: Iterable[int], source: str) -> list[Notice]:
    listed = [int(row) for row in rows]
    if not listed:
        return []
    return [Notice(source, key, {"count": len(listed), "rows": _examples(listed)})]


def _examples(values: Sequence[Any], limit: int = 10) -> str:
    """Join the first `limit` values for a message, with an ellipsis when there are more."""
    shown = ", ".join(str(value) for value in values[:limit])
    return shown + (", …" if len(values) > limit else "")


# Lengths and labels


def _choose_length(
    lengths: Sequence[int], spec: SequenceSpec
) -> tuple[int, list[int], dict[str, Any]]:
    """Return the length of every example, the indices of the sequences kept, and a summary."""
    if spec.length_rule == "pad":
        length = spec.max_length or max(lengths)
        kept = list(range(len(lengths)))
    else:
        length = spec.max_length or min(lengths)
        kept = [index for index, steps in enumerate(lengths) if steps >= length]
    summary = {
        "length_rule": spec.length_rule,
        "max_length": spec.max_length,
        "padded_sequences": sum(lengths[index] < length for index in kept),
        "cut_sequences": sum(lengths[index] > length for index in kept),
        "dropped_short_sequences": len(lengths) - len(kept),
    }
    return length, kept, summary


def _length_notices(
    summary: Mapping[str, Any], length: int, short: Sequence[str], source: str
) -> list[Notice]:
    notices = []
    if summary["padded_sequences"]:
        count = summary["padded_sequences"]
        notices.append(
            Notice(source, "sequences.notice.padded", {"count": count, "length": length})
        )
    if summary["cut_sequences"]:
        count = summary["cut_sequences"]
        notices.append(Notice(source, "sequences.notice.cut", {"count": count, "length": length}))
    if short:
        params = {"count": len(short), "length": length, "sequences": _examples(short)}
        notices.append(Notice(source, "sequences.notice.short_dropped", params))
    return notices


def _pad_or_cut(values: Sequence[np.ndarray], length: int) -> np.ndarray:
    """Stack `(steps, features)` arrays into `(n, length, features)` float32, NaN-padded.

    Longer sequences keep their first `length` steps.
    """
    features = values[0].shape[1] if len(values) else 0
    stacked = np.full((len(values), length, features), np.nan, dtype=np.float32)
    for index, sequence in enumerate(values):
        steps = min(len(sequence), length)
        stacked[index, :steps] = sequence[:steps]
    return stacked


def _encode_labels(
    labels: pd.Series, spec: SequenceSpec, task: SequenceTask, arrays: dict[str, np.ndarray]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Store one class index or value per sequence in `arrays`; return classes and targets."""
    assert spec.label_column is not None
    if task == "classification":
        mapping = LabelMapping.from_series(labels)
        arrays["labels"] = mapping.encode(labels)
        return mapping.classes, ()
    numbers = pd.to_numeric(labels, errors="coerce").to_numpy(dtype=np.float32)
    arrays["targets"] = numbers[:, np.newaxis]
    return (), (spec.label_column,)


def _encode_series_targets(
    sequences: Sequence[_Sequence],
    spec: SequenceSpec,
    task: SequenceTask,
    arrays: dict[str, np.ndarray],
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Store the per-step labels or targets of series in `arrays`; return classes and targets.

    A step without a label gets class -1 or the value NaN, and no window ends on it.
    """
    if task == "forecast":
        positions = [spec.feature_columns.index(name) for name in spec.target_columns]
        arrays["targets"] = arrays["values"][:, positions]
        return (), spec.target_columns

    assert spec.label_column is not None
    cells = np.concatenate(
        [sequence.labels for sequence in sequences if sequence.labels is not None]
    )
    labels = pd.Series(cells, name=spec.label_column)
    present = labels.map(_present).to_numpy(dtype=bool)
    if task == "regression":
        numbers = pd.to_numeric(labels.where(present), errors="coerce")
        arrays["targets"] = numbers.to_numpy(dtype=np.float32)[:, np.newaxis]
        return (), (spec.label_column,)

    mapping = LabelMapping.from_series(labels[present])
    encoded = np.full(len(labels), -1, dtype=np.int64)
    encoded[present] = mapping.encode(labels[present])
    arrays["labels"] = encoded
    return mapping.classes, ()


def _series_examples(
    arrays: Mapping[str, np.ndarray], spec: SequenceSpec, task: SequenceTask
) -> SequenceExamples:
    """Cut the windows of every stored series.

    A window ending at step `e` contains steps `e - window + 1 .. e`. Its target is
    the label of step `e`, or for a forecast the targets of steps `e + 1 .. e + horizon`.
    """
    assert spec.window is not None
    window, horizon = spec.window, spec.horizon
    offsets, ids, rows = arrays["offsets"], arrays["ids"], arrays["rows"]
    inputs, outputs, names, groups = [], [], [], []
    for group, (start, end) in enumerate(itertools.pairwise(offsets)):
        last = end - horizon if task == "forecast" else end
        ends = np.arange(start + window - 1, last)
        if task == "classification":
            ends = ends[arrays["labels"][ends] >= 0]
        elif task == "regression":
            ends = ends[~np.isnan(arrays["targets"][ends, 0])]
        if len(ends) == 0:
            continue
        inputs.append(np.stack([arrays["values"][e - window + 1 : e + 1] for e in ends]))
        outputs.append(_window_targets(arrays, task, ends, horizon))
        names += [f"{ids[group]}@{rows[e]}" for e in ends]
        groups += [group] * len(ends)

    features = arrays["values"].shape[1]
    output_shape = (0,) if task == "classification" else (0, outputs[0].shape[1] if outputs else 0)
    return SequenceExamples(
        x=np.concatenate(inputs) if inputs else np.zeros((0, window, features), np.float32),
        y=np.concatenate(outputs) if outputs else np.zeros(output_shape),
        names=tuple(names),
        groups=np.asarray(groups, dtype=np.int64),
        chronological=True,
    )


def _window_targets(
    arrays: Mapping[str, np.ndarray], task: SequenceTask, ends: np.ndarray, horizon: int
) -> np.ndarray:
    if task == "classification":
        return np.asarray(arrays["labels"][ends], dtype=np.int64)
    targets = arrays["targets"]
    if task == "regression":
        return np.asarray(targets[ends], dtype=np.float32)
    steps = [targets[e + 1 : e + 1 + horizon].reshape(-1) for e in ends]
    return np.stack(steps).astype(np.float32)


def _label_summary(
    y: np.ndarray,
    task: SequenceTask,
    class_names: Sequence[str],
    target_names: Sequence[str],
) -> dict[str, Any]:
    """Describe the examples' classes with counts, or each target's distribution.

    A distribution is `target_stats` (min, max, mean, std) and `target_histograms`
    (`edges`, one more than `counts`, over up to `HISTOGRAM_BINS` equal bins).
    """
    if task == "classification":
        counts = np.bincount(y, minlength=len(class_names))
        return {
            "classes": list(class_names),
            "counts": {name: int(count) for name, count in zip(class_names, counts, strict=True)},
        }
    by_target = y.reshape(len(y), -1, len(target_names)) if len(y) else y
    stats = {}
    histograms = {}
    for index, name in enumerate(target_names):
        values = by_target[..., index].reshape(-1) if len(y) else np.zeros(0)
        histograms[name] = _histogram(values)
        stats[name] = {
            "min": float(values.min()) if len(values) else None,
            "max": float(values.max()) if len(values) else None,
            "mean": float(values.mean()) if len(values) else None,
            "std": float(values.std()) if len(values) else None,
        }
    return {"targets": list(target_names), "target_stats": stats, "target_histograms": histograms}


def _histogram(values: np.ndarray) -> dict[str, list[float] | list[int]]:
    finite = values[np.isfinite(values)]
    if len(finite) == 0:
        return {"edges": [], "counts": []}
    bins = min(HISTOGRAM_BINS, max(1, len(np.unique(finite))))
    counts, edges = np.histogram(finite, bins=bins)
    # float32 targets give edges such as 168.85000610351562; 6 digits are what a chart shows.
    rounded = [float(f"{edge:.6g}") for edge in edges]
    return {"edges": rounded, "counts": [int(count) for count in counts]}


def _common_summary(
    reading: TableReading, built: _Built, cleaning: _Cleaning, unlabelled: Sequence[int]
) -> dict[str, Any]:
    spec = built.spec
    numeric = [name for name, kind in reading.column_kinds.items() if kind == "numeric"]
    invalid = collections.Counter(c.column for c in reading.bad_cells if c.kind != "missing")
    roles = {column.name: column.role for column in _column_summaries(reading, spec)}
    return {
        "source": reading.source,
        "encoding": reading.encoding,
        "layout": spec.layout,
        "task": built.task,
        "num_rows": len(reading.frame),
        "num_sequences": len(built.lengths),
        "length_counts": {
            str(steps): count for steps, count in sorted(collections.Counter(built.lengths).items())
        },
        "features": list(feature_names(spec)),
        "num_features": len(feature_names(spec)),
        "cleaning": {
            "policy": cleaning.policy,
            "filled_cells": cleaning.filled_cells,
            "dropped_rows": len(cleaning.dropped_rows),
            "dropped_sequences": len(cleaning.dropped_sequences),
        },
        "missing_cells": {
            name: reading.missing_cells[name] for name in numeric if reading.missing_cells.get(name)
        },
        "invalid_cells": {name: invalid[name] for name in numeric if invalid.get(name)},
        "unlabelled_rows": len(unlabelled),
        "ignored_columns": [name for name, role in roles.items() if role == "ignored"],
        "num_notices": len(built.notices),
    }


def _column_summaries(reading: TableReading, spec: SequenceSpec) -> tuple[ColumnSummary, ...]:
    invalid = collections.Counter(c.column for c in reading.bad_cells if c.kind != "missing")
    roles: dict[str, ColumnRole] = {name: "feature" for name in spec.feature_columns}
    roles.update({name: "target" for name in spec.target_columns})
    for name, role in (
        (spec.label_column, "label"),
        (spec.id_column, "id"),
        (spec.order_column, "order"),
    ):
        if name is not None:
            roles[name] = role  # type: ignore[assignment]
    return tuple(
        ColumnSummary(
            name=str(name),
            kind=reading.column_kinds.get(name, "text"),
            role=roles.get(name, "ignored"),
            missing=reading.missing_cells.get(name, 0),
            invalid=invalid.get(name, 0),
        )
        for name in reading.frame.columns
    )


# Prediction inputs


def _sequence_inputs(
    sequences: Sequence[_Sequence], length: int, label_present: bool
) -> PredictionInputs:
    """Pad or cut wide or long sequences to the model's length, keeping their first steps."""
    return PredictionInputs(
        x=_pad_or_cut([sequence.values for sequence in sequences], length),
        names=tuple(sequence.id for sequence in sequences),
        lengths=tuple(len(sequence.values) for sequence in sequences),
        rows=tuple(
            int(sequence.rows[min(length, len(sequence.rows)) - 1]) for sequence in sequences
        ),
        actual=tuple(_first_label(sequence) for sequence in sequences) if label_present else None,
        future=None,
    )


def _forecast_inputs(
    sequences: Sequence[_Sequence], spec: SequenceSpec, window: int, source: str
) -> PredictionInputs:
    """Take the last `window` steps of each series, to forecast what follows them."""
    for sequence in sequences:
        if len(sequence.values) < window:
            raise DatasetError(
                "sequences.history_too_short",
                series=sequence.id,
                steps=len(sequence.values),
                window=window,
                file=source,
            )
    x = np.stack([sequence.values[-window:] for sequence in sequences]).astype(np.float32)
    return PredictionInputs(
        x=x,
        names=tuple(sequence.id for sequence in sequences),
        lengths=tuple(len(sequence.values) for sequence in sequences),
        rows=tuple(int(sequence.rows[-1]) for sequence in sequences),
        actual=None,
        future=tuple(_future_order(sequence.order, spec.horizon) for sequence in sequences),
    )


def _window_inputs(
    sequences: Sequence[_Sequence], window: int, source: str, label_present: bool
) -> PredictionInputs:
    """Cut every window of each series; each is named by the row of its last step."""
    inputs, names, lengths, rows, actual = [], [], [], [], []
    for sequence in sequences:
        for end in range(window - 1, len(sequence.values)):
            inputs.append(sequence.values[end - window + 1 : end + 1])
            names.append(sequence.id)
            lengths.append(len(sequence.values))
            rows.append(int(sequence.rows[end]))
            label = None if sequence.labels is None else sequence.labels[end]
            actual.append(_cell_text(label) if _present(label) else None)
    if not inputs:
        longest = max(len(sequence.values) for sequence in sequences)
        raise DatasetError(
            "sequences.history_too_short",
            series=sequences[0].id,
            steps=longest,
            window=window,
            file=source,
        )
    return PredictionInputs(
        x=np.stack(inputs).astype(np.float32),
        names=tuple(names),
        lengths=tuple(lengths),
        rows=tuple(rows),
        actual=tuple(actual) if label_present else None,
        future=None,
    )


def _future_order(order: pd.Series | None, horizon: int) -> tuple[str, ...] | None:
    """Continue an order column with a regular interval by `horizon` steps, else None."""
    if order is None or len(order) < 3:
        return None
    if order.dtype.kind == "M":
        try:
            index = pd.DatetimeIndex(order.to_numpy(), freq="infer")
        except ValueError:
            return None
        if index.freq is None:
            return None
        future = pd.date_range(index[-1], periods=horizon + 1, freq=index.freq)[1:]
        midnight = all(stamp == stamp.normalize() for stamp in index)
        return tuple(
            stamp.date().isoformat() if midnight else stamp.isoformat() for stamp in future
        )

    values = order.to_numpy(dtype="float64")
    steps = np.diff(values)
    if not np.allclose(steps, steps[0]) or steps[0] <= 0:
        return None
    return tuple(_cell_text(values[-1] + steps[0] * ahead) for ahead in range(1, horizon + 1))


# Storage


def _content_id(data: bytes, spec: SequenceSpec) -> str:
    digest = hashlib.sha256(data)
    digest.update(json.dumps(spec.to_dict(), sort_keys=True, ensure_ascii=False).encode("utf-8"))
    return digest.hexdigest()[:16]


def _publish(built: _Built, dataset_id: str, name: str, source: str, datasets: Path) -> Path:
    """Write the dataset into `datasets/<dataset_id>` in one rename, unless it exists.

    A dataset folder is therefore complete or absent, even when two processes ingest
    the same file at once.
    """
    target = datasets / dataset_id
    if (target / MANIFEST_NAME).is_file():
        logger.info("Sequence dataset %s already exists, so it is reused", dataset_id)
        return target

    datasets.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".ingest-", dir=datasets))
    try:
        np.savez_compressed(staging / ARRAYS_NAME, allow_pickle=False, **built.arrays)
        manifest = _manifest(built, dataset_id, name, source)
        text = json.dumps(manifest, ensure_ascii=False, indent=1)
        (staging / MANIFEST_NAME).write_text(text, encoding="utf-8")
        if target.exists():
            logger.warning("Replacing incomplete dataset folder %s", target)
            shutil.rmtree(target)
        try:
            os.rename(staging, target)
        except OSError:
            if not (target / MANIFEST_NAME).is_file():
                raise
            logger.info("Sequence dataset %s was stored by another process", dataset_id)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _manifest(built: _Built, dataset_id: str, name: str, source: str) -> dict[str, Any]:
    return {
        "version": MANIFEST_VERSION,
        "kind": KIND,
        "id": dataset_id,
        "name": name,
        "source": source,
        "created_at": utcnow().isoformat(),
        "spec": built.spec.to_dict(),
        "task": built.task,
        "feature_names": list(feature_names(built.spec)),
        "class_names": list(built.class_names),
        "target_names": list(built.target_names),
        "length": built.length,
        "summary": built.summary,
        "notices": [notice.to_json() for notice in built.notices],
    }


def _load_folder(folder: Path) -> SequenceDataset:
    manifest = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
    return SequenceDataset(
        id=manifest["id"],
        name=manifest["name"],
        path=folder,
        spec=SequenceSpec.from_dict(manifest["spec"]),
        task=manifest["task"],
        feature_names=tuple(manifest["feature_names"]),
        class_names=tuple(manifest["class_names"]),
        target_names=tuple(manifest["target_names"]),
        length=int(manifest["length"]),
        summary=manifest["summary"],
        notices=tuple(Notice.from_json(notice) for notice in manifest["notices"]),
    )
