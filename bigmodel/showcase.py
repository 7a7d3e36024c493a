"""What a manager is shown of a model: the result in plain words, examples and the limits.

The demo page and the HTML report both draw from here, so they cannot disagree. Every
function reads an evaluation of the run's validation split (`bigmodel.evaluation`),
which contains examples that the model never trained on. No Streamlit or TensorFlow here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from bigmodel import i18n, views
from bigmodel.evaluation import EvaluationData, EvaluationSummary, largest_errors
from bigmodel.imaging import decode_image, make_thumbnail
from bigmodel.store import Run

EXAMPLES_SHOWN = 4
"""Examples in each of the best and the worst row."""
FEW_EXAMPLES = 100
"""Below this many validation examples, the limits warn that the result is rough."""
MAX_CLASSES_LISTED = 12


@dataclasses.dataclass(frozen=True)
class ShownExample:
    """One evaluated example as the demo shows it: its name and a caption in plain words."""

    position: int
    name: str
    correct: bool
    caption: str


def noun(data: EvaluationData, t: i18n.Translator) -> str:
    """Return what the examples are called: images, sequences or windows of a series."""
    if data.kind == "image":
        return t("demo.noun.images")
    return t("demo.noun.windows" if data.task == "forecast" else "demo.noun.sequences")


def headline(data: EvaluationData, summary: EvaluationSummary, t: i18n.Translator) -> str:
    """Write the result as one sentence: `Correct on 97 of 100 test images` or `Average error …`."""
    if data.is_classification:
        correct = int(np.trace(summary.confusion)) if summary.confusion is not None else 0
        return t(
            "demo.headline.classification", correct=correct, total=len(data), noun=noun(data, t)
        )
    return t(
        "demo.headline.values",
        error=views.format_number(summary.mae),
        unit=", ".join(data.target_names),
    )


def subline(data: EvaluationData, summary: EvaluationSummary, t: i18n.Translator) -> str:
    """Say what the headline was measured on, and the second number a reader may ask for."""
    if data.is_classification:
        return t(
            "demo.subline.classification",
            accuracy=views.format_percent(summary.accuracy),
            total=len(data),
            noun=noun(data, t),
        )
    return t(
        "demo.subline.values",
        rmse=views.format_number(summary.rmse),
        r2=views.format_number(summary.r2),
        total=len(data),
        noun=noun(data, t),
    )


def best_positions(data: EvaluationData, limit: int = EXAMPLES_SHOWN) -> list[int]:
    """Return the examples the model does best: the most confident right answers, or the
    smallest errors of a value model."""
    if data.is_classification:
        right = np.flatnonzero(data.predicted == data.y_true)
        order = right[np.argsort(-data.confidence[right], kind="stable")]
        return [int(position) for position in order[:limit]]
    return list(reversed(largest_errors(data)))[:limit]


def worst_positions(data: EvaluationData, limit: int = EXAMPLES_SHOWN) -> list[int]:
    """Return the examples the model does worst: the most confident mistakes, then the least
    confident right answers when it made fewer mistakes, or the largest errors."""
    if not data.is_classification:
        return largest_errors(data, limit)
    wrong = np.flatnonzero(data.predicted != data.y_true)
    right = np.flatnonzero(data.predicted == data.y_true)
    order = list(wrong[np.argsort(-data.confidence[wrong], kind="stable")])
    order += list(right[np.argsort(data.confidence[right], kind="stable")])
    return [int(position) for position in order[:limit]]


def shown_example(data: EvaluationData, position: int, t: i18n.Translator) -> ShownExample:
    """Describe one example: the true and the predicted class with its confidence, or the
    actual and predicted values with the error."""
    name = data.names[position]
    if data.is_classification:
        true_class = data.class_names[int(data.y_true[position])]
        predicted_class = data.class_names[int(data.predicted[position])]
        caption = t(
            "demo.example.classification",
            actual=true_class,
            predicted=predicted_class,
            confidence=views.format_percent(float(data.confidence[position])),
        )
        return ShownExample(position, name, true_class == predicted_class, caption)

    actual = np.asarray(data.y_true[position], dtype=float).reshape(-1)
    predicted = np.asarray(data.y_pred[position], dtype=float).reshape(-1)
    error = float(np.abs(actual - predicted).mean())
    caption = t(
        "demo.example.values",
        actual=views.format_number(float(actual.mean())),
        predicted=views.format_number(float(predicted.mean())),
        error=views.format_number(error),
    )
    if len(actual) > 1:
        caption = t("demo.example.values_mean", values=caption, count=len(actual))
    return ShownExample(position, name, True, caption)


def example_thumbnail(data: EvaluationData, position: int, size: int) -> np.ndarray:
    """Return an image example as uint8 pixels `(height, width, 3)`, its longer side `size`."""
    path = Path(data.references[position])
    decoded = decode_image(path.read_bytes(), path.name)
    return make_thumbnail(decoded.pixels, size)


def limits(
    run: Run,
    data: EvaluationData,
    summary: EvaluationSummary,
    t: i18n.Translator,
) -> list[str]:
    """List what the model cannot do or where its result is uncertain, one sentence each."""
    lines = []
    if data.is_classification:
        lines.append(t("demo.limit.classes", classes=_listed(data.class_names)))
        confused = most_confused(data, summary)
        if confused is not None:
            actual, predicted, count = confused
            lines.append(t("demo.limit.confused", actual=actual, predicted=predicted, count=count))
    else:
        lines += _value_limits(data, summary, t)
    if len(data) < FEW_EXAMPLES:
        lines.append(t("demo.limit.few_examples", total=len(data), noun=noun(data, t)))
    lines += _input_limits(run.results or {}, t)
    lines.append(t("demo.limit.same_kind"))
    return lines


def most_confused(data: EvaluationData, summary: EvaluationSummary) -> tuple[str, str, int] | None:
    """Return the true class, the predicted class and the count of the most common mistake."""
    if summary.confusion is None:
        return None
    mistakes = np.array(summary.confusion, dtype=np.int64)
    np.fill_diagonal(mistakes, 0)
    if mistakes.max(initial=0) == 0:
        return None
    actual, predicted = np.unravel_index(int(np.argmax(mistakes)), mistakes.shape)
    count = int(mistakes[actual, predicted])
    return data.class_names[int(actual)], data.class_names[int(predicted)], count


def _value_limits(
    data: EvaluationData, summary: EvaluationSummary, t: i18n.Translator
) -> list[str]:
    unit = ", ".join(data.target_names)
    actual = np.asarray(data.y_true, dtype=float)
    errors = np.abs(actual - np.asarray(data.y_pred, dtype=float))
    lines = [
        t(
            "demo.limit.largest_error",
            error=views.format_number(float(errors.max(initial=0.0))),
            unit=unit,
        ),
        t(
            "demo.limit.value_range",
            minimum=views.format_number(float(actual.min(initial=np.inf))),
            maximum=views.format_number(float(actual.max(initial=-np.inf))),
            unit=unit,
        ),
    ]
    if data.task == "forecast":
        lines.append(t("demo.limit.horizon", steps=data.horizon))
    return lines


def _input_limits(results: Mapping[str, Any], t: i18n.Translator) -> list[str]:
    spec = results.get("input_spec") or {}
    if spec.get("kind", "image") == "image" and spec.get("size"):
        key = (
            "demo.limit.image_gray" if spec.get("color_mode") == "grayscale" else "demo.limit.image"
        )
        return [t(key, size=spec["size"])]
    return []


def _listed(names: tuple[str, ...]) -> str:
    if len(names) <= MAX_CLASSES_LISTED:
        return ", ".join(names)
    return ", ".join(names[:MAX_CLASSES_LISTED]) + " …"


def forecast_of(data: EvaluationData, position: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Return the actual and forecast values `(horizon,)` of the first target, for a forecast.

    Forecast outputs run step by step, so the first target is every `targets`-th output.
    """
    if data.task != "forecast":
        return None
    targets = max(len(data.target_names), 1)
    actual = np.asarray(data.y_true[position], dtype=float).reshape(-1)[::targets]
    predicted = np.asarray(data.y_pred[position], dtype=float).reshape(-1)[::targets]
    return actual, predicted
