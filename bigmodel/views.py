"""Plain-data helpers for the studio's pages: labels, table rows, thumbnails and progress text.

Nothing here imports Streamlit or TensorFlow, so the helpers can be tested without
a browser and the web server stays light. Rules such as validation and defaults live
in the core modules; these functions only shape their results for display.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np

from bigmodel import i18n
from bigmodel.errors import BigModelError
from bigmodel.imaging import decode_image, make_thumbnail
from bigmodel.samples import SAMPLE_PREFIX
from bigmodel.store import COMPLETED, DatasetRecord, Run

FULL_TABLE_ROWS = 50
"""Lists up to this long are shown as a table of whole sentences, longer ones scroll."""

THUMBNAILS_PER_CLASS = 8
THUMBNAIL_SIZE = 96
"""Side in pixels of the box that dataset thumbnails are scaled into."""


class _Notice(Protocol):
    source: str

    def message(self, language: str) -> str: ...


def format_duration(seconds: float | None, t: i18n.Translator) -> str:
    """Write a duration as `42 s`, `3 min 05 s` or `1 h 02 min` in the user's language."""
    if seconds is None or not math.isfinite(seconds):
        return t("ui.time.unknown")

    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return t("ui.time.hours", hours=hours, minutes=f"{minutes:02d}")
    if minutes:
        return t("ui.time.minutes", minutes=minutes, seconds=f"{secs:02d}")
    return t("ui.time.seconds", seconds=secs)


def format_percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def format_timestamp(value: dt.datetime | None) -> str:
    """Write a store timestamp (naive UTC) in the server's local time zone, to the minute."""
    if value is None:
        return "–"
    # NOTE: the server's time zone is used in place of the user's. That is right for a
    # team in one place and off by the time difference elsewhere.
    return value.replace(tzinfo=dt.UTC).astimezone().strftime("%Y-%m-%d %H:%M")


def progress_text(progress: Mapping[str, Any], t: i18n.Translator) -> str:
    """Write a run's progress as `epoch 3/20 · batch 12/45`.

    The store counts epochs from 0 and moves to the next epoch with step 0 as soon
    as one ends, so the epoch shown is the one in progress, counted from 1.
    """
    epochs = int(progress.get("epochs") or 0)
    epoch = min(int(progress.get("epoch") or 0) + 1, epochs)
    return t(
        "ui.train.progress",
        epoch=epoch,
        epochs=epochs,
        step=int(progress.get("step") or 0),
        steps=int(progress.get("steps") or 0),
    )


def status_label(status: str, t: i18n.Translator) -> str:
    return t(f"status.{status}")


def run_error_message(run: Run, language: str) -> str | None:
    """Translate the error a failed or interrupted run stored, or None if it has none."""
    if not run.error_key:
        return None
    return BigModelError(run.error_key, **(run.error_params or {})).message(language)


def message_of(problem: Mapping[str, Any], source: str, language: str) -> str:
    """Translate a `{"key", "params"}` problem about the input file `source`."""
    params = {"source": source, **(problem.get("params") or {})}
    return i18n.translate(language, problem["key"], **params)


def choose_run_id(requested: str | None, runs: Sequence[Run]) -> int | None:
    """Pick the run to watch: the requested id if it exists, else the newest active run,
    else the newest run; None only when there is no run at all.

    `runs` is ordered newest first, as `RunStore.list_runs` returns it.
    """
    known = {run.id for run in runs}
    if requested is not None and requested.isdigit() and int(requested) in known:
        return int(requested)
    newest = runs[0].id if runs else None
    return next((run.id for run in runs if run.is_active), newest)


def default_model(models: Sequence[Run]) -> Run:
    """Pick the model a page offers first: the newest completed run, else the newest.

    A run stopped early keeps a model too, but often a poor one, so it comes second.
    `models` is ordered newest first and must not be empty.
    """
    return next((run for run in models if run.status == COMPLETED), models[0])


def choice_label(name: str, value: Any, t: i18n.Translator) -> str:
    """Translate a choice of setting `name` if the catalog has `ui.choice.<name>.<value>`."""
    key = f"ui.choice.{name}.{value}"
    return t(key) if key in i18n.catalog(t.language) else str(value)


def setting_value_text(name: str, value: Any, t: i18n.Translator) -> str:
    """Write a stored setting value for people: yes or no, a translated choice, or the value."""
    if isinstance(value, bool):
        return t("ui.value.yes") if value else t("ui.value.no")
    return choice_label(name, value, t)


def dataset_display_name(name: str, t: i18n.Translator) -> str:
    """Return the name to show for a dataset, with a bundled sample's name translated."""
    if not name.startswith(SAMPLE_PREFIX):
        return name
    key = f"ui.sample.{name.removeprefix(SAMPLE_PREFIX)}"
    return t(key) if key in i18n.catalog(t.language) else name


def dataset_label(record: DatasetRecord, t: i18n.Translator) -> str:
    """Describe a dataset in one line: its name, size, classes or targets, and date."""
    summary = record.summary or {}
    name = dataset_display_name(record.name, t)
    date = format_timestamp(record.created_at)
    if record.kind != "sequence":
        return t(
            "ui.dataset.label",
            name=name,
            images=summary.get("num_images", 0),
            classes=len(summary.get("classes", ())),
            date=date,
        )
    if summary.get("task") == "classification":
        what = t("ui.dataset.classes", classes=len(summary.get("classes", ())))
    else:
        what = t(
            f"ui.dataset.{summary.get('task', 'regression')}",
            targets=", ".join(summary.get("targets", ())),
        )
    key = (
        "ui.dataset.series_label"
        if summary.get("layout") == "series"
        else "ui.dataset.sequence_label"
    )
    return t(key, name=name, sequences=summary.get("num_sequences", 0), what=what, date=date)


def model_kind(run: Run) -> str:
    """Return the kind of data a run's model reads: `image` or `sequence`."""
    return str(((run.results or {}).get("input_spec") or {}).get("kind", "image"))


def result_text(results: Mapping[str, Any] | None, t: i18n.Translator) -> str:
    """Write a run's validation result: accuracy, or MAE and RMSE in the targets' units."""
    results = results or {}
    if results.get("val_mae") is not None:
        return t(
            "ui.result.values",
            mae=format_number(results.get("val_mae")),
            rmse=format_number(results.get("val_rmse")),
            targets=", ".join(results.get("targets") or ()),
        )
    return t("ui.result.accuracy", accuracy=format_percent(results.get("val_accuracy")))


def format_number(value: float | None) -> str:
    """Write a measured value with 4 significant digits, such as `12.35` or `0.004521`."""
    return "–" if value is None else f"{value:.4g}"


def model_label(run: Run, t: i18n.Translator) -> str:
    return t(
        "ui.model.label",
        id=run.id,
        name=run.name,
        result=result_text(run.results, t),
        date=format_timestamp(run.finished_at or run.created_at),
    )


def run_rows(
    runs: Iterable[Run], dataset_names: Mapping[str, str], t: i18n.Translator
) -> list[dict[str, Any]]:
    """Build one row per run for the runs table, newest first, with translated statuses."""
    rows = []
    for run in runs:
        results = run.results or {}
        training = run.settings.get("training", {})
        rows.append(
            {
                "id": run.id,
                "name": run.name,
                "status": status_label(run.status, t),
                "dataset": dataset_display_name(
                    dataset_names.get(run.dataset_id, run.dataset_id), t
                ),
                "family": t(f"ui.family.{run.family}"),
                "val_accuracy": results.get("val_accuracy"),
                "val_error": _error_text(results),
                "epochs": _epochs_text(run, results, training),
                "parameters": results.get("parameters"),
                "created": format_timestamp(run.created_at),
            }
        )
    return rows


def _error_text(results: Mapping[str, Any]) -> str:
    """Write a value model's validation MAE and RMSE as `24.57 · 30.87`, else ""."""
    if results.get("val_mae") is None:
        return ""
    return f"{format_number(results['val_mae'])} · {format_number(results.get('val_rmse'))}"


def _epochs_text(run: Run, results: Mapping[str, Any], training: Mapping[str, Any]) -> str:
    planned = training.get("epochs", "?")
    if "epochs_trained" in results:
        return f"{results['epochs_trained']}/{planned}"
    if run.progress:
        return f"{min(run.progress.get('epoch', 0), planned)}/{planned}"
    return f"0/{planned}"


def settings_rows(values: Mapping[str, Any], t: i18n.Translator) -> list[dict[str, str]]:
    """Build `{"setting", "value"}` rows with each setting's translated label and value."""
    return [
        {"setting": t(f"settings.{name}.label"), "value": setting_value_text(name, value, t)}
        for name, value in values.items()
    ]


def notice_rows(notices: Iterable[_Notice], language: str) -> list[dict[str, str]]:
    """Build `{"file", "reason"}` rows for skipped files or warnings, in `language`."""
    return [{"file": notice.source, "reason": notice.message(language)} for notice in notices]


def counts_text(counts: Mapping[str, int]) -> str:
    """Write counts such as image modes as `RGB 120 · L 30`, most frequent first."""
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return " · ".join(f"{name} {count}" for name, count in ordered)


def size_text(size: Any) -> str:
    """Write an image size given as `[width, height]` as `640×480`, and any other value as is."""
    if isinstance(size, Sequence) and not isinstance(size, str) and len(size) == 2:
        return f"{size[0]}×{size[1]}"
    return str(size)


def class_thumbnails(
    dataset: Any,
    per_class: int = THUMBNAILS_PER_CLASS,
    size: int = THUMBNAIL_SIZE,
) -> dict[str, list[np.ndarray]]:
    """Make up to `per_class` thumbnails of each class from the dataset's canonical files.

    Args:
        dataset: An `ImageDataset`; each item's `label` indexes `dataset.classes` and
            its `file` is relative to `dataset.path`.
        per_class: Thumbnails per class, taken in the dataset's order.
        size: Side of the box each thumbnail fits in, in pixels.

    Returns:
        For each class, in the dataset's class order, uint8 arrays of shape
        `(height, width, 3)` with the longer side equal to `size`.
    """
    thumbnails: dict[str, list[np.ndarray]] = {name: [] for name in dataset.classes}
    for item in dataset.items:
        chosen = thumbnails[dataset.classes[item.label]]
        if len(chosen) >= per_class:
            continue
        path = dataset.path / item.file
        decoded = decode_image(path.read_bytes(), str(item.file))
        chosen.append(make_thumbnail(decoded.pixels, size))
    return thumbnails


def log_scale_options(minimum: float, maximum: float, value: float) -> list[float]:
    """List 1, 2 and 5 times each power of ten between `minimum` and `maximum`, and `value`.

    A slider over these steps covers a learning rate from 1e-6 to 1 in a few moves.
    """
    options = {value}
    low = math.floor(math.log10(minimum))
    high = math.ceil(math.log10(maximum))
    for exponent in range(low, high + 1):
        for mantissa in (1, 2, 5):
            option = float(f"{mantissa}e{exponent}")
            if minimum <= option <= maximum:
                options.add(option)
    return sorted(options)
