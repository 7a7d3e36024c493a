"""Plotly figures of a model's results for the demo page and the report.

A confusion matrix for classifiers, predicted against actual values for value models,
and one small chart per sequence example. Like `bigmodel.charts`, every text comes
from the catalog through the translator passed in. No Streamlit or TensorFlow here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from bigmodel import i18n
from bigmodel.charts import FONT, TRAINING_COLOR, VALIDATION_COLOR

CORRECT_COLOR = "#2a9d5c"
_MARGIN = {"l": 10, "r": 10, "t": 50, "b": 10}


def confusion_figure(
    confusion: np.ndarray, class_names: Sequence[str], t: i18n.Translator
) -> go.Figure:
    """Heatmap of example counts, true class down the rows and predicted class across.

    Args:
        confusion: Counts of shape `(classes, classes)`.
        class_names: The classes in the order of the rows and columns.
        t: Translator for the title, the axes and the hover text.
    """
    names = [str(name) for name in class_names]
    counts = np.asarray(confusion, dtype=np.int64)
    figure = go.Figure(
        go.Heatmap(
            z=counts.tolist(),
            x=names,
            y=names,
            text=counts.tolist(),
            texttemplate="%{text}",
            colorscale="Blues",
            showscale=False,
            hovertemplate=t(
                "demo.chart.confusion_hover", actual="%{y}", predicted="%{x}", count="%{z}"
            )
            + "<extra></extra>",
        )
    )
    side = min(640, 160 + 36 * len(names))
    figure.update_layout(
        title=t("demo.chart.confusion"),
        xaxis_title=t("demo.chart.predicted_class"),
        yaxis_title=t("demo.chart.true_class"),
        height=side,
        margin=_MARGIN,
        font=FONT,
    )
    figure.update_xaxes(type="category", side="bottom")
    figure.update_yaxes(type="category", autorange="reversed")
    return figure


def error_figure(
    actual: np.ndarray, predicted: np.ndarray, unit: str, t: i18n.Translator
) -> go.Figure:
    """Scatter of predicted against actual values, with the line where both are equal.

    Args:
        actual: True values, flattened over examples and outputs.
        predicted: Predicted values in the same order.
        unit: The targets' names, shown on the axes.
        t: Translator for the title, axes and legend.
    """
    actual = np.asarray(actual, dtype=float).reshape(-1)
    predicted = np.asarray(predicted, dtype=float).reshape(-1)
    low = float(min(actual.min(initial=0.0), predicted.min(initial=0.0)))
    high = float(max(actual.max(initial=1.0), predicted.max(initial=1.0)))
    figure = go.Figure(
        [
            go.Scatter(
                x=[low, high],
                y=[low, high],
                mode="lines",
                name=t("demo.chart.perfect"),
                line={"color": CORRECT_COLOR, "dash": "dash"},
            ),
            go.Scatter(
                x=actual,
                y=predicted,
                mode="markers",
                name=t("demo.chart.predictions"),
                marker={"color": TRAINING_COLOR, "size": 7, "opacity": 0.7},
            ),
        ]
    )
    figure.update_layout(
        title=t("demo.chart.errors"),
        xaxis_title=t("demo.chart.actual_value", unit=unit),
        yaxis_title=t("demo.chart.predicted_value", unit=unit),
        height=380,
        margin=_MARGIN,
        font=FONT,
        legend={"orientation": "h", "y": -0.2},
    )
    return figure


def sequence_figure(
    values: np.ndarray,
    feature_names: Sequence[str],
    title: str,
    t: i18n.Translator,
    forecast: tuple[np.ndarray, np.ndarray] | None = None,
) -> go.Figure:
    """Small line chart of one sequence, one line per feature, with an optional forecast.

    Args:
        values: Steps of shape `(steps, features)`, without padding.
        feature_names: A name per feature, for the legend.
        title: The chart's title, such as the caption of the example.
        t: Translator for the axis and legend.
        forecast: The actual and predicted values of the steps after the sequence,
            each `(horizon,)` for the first target.
    """
    steps = np.arange(1, len(values) + 1)
    figure = go.Figure()
    for index in range(values.shape[1] if values.ndim == 2 else 1):
        column = values[:, index] if values.ndim == 2 else values
        name = feature_names[index] if index < len(feature_names) else str(index + 1)
        figure.add_trace(go.Scatter(x=steps, y=column, mode="lines", name=name))
    if forecast is not None:
        actual, predicted = forecast
        ahead = np.arange(len(values) + 1, len(values) + 1 + len(actual))
        figure.add_trace(
            go.Scatter(x=ahead, y=actual, mode="lines", name=t("demo.chart.actual"),
                       line={"color": CORRECT_COLOR})
        )  # fmt: skip
        figure.add_trace(
            go.Scatter(x=ahead, y=predicted, mode="lines+markers", name=t("ui.chart.forecast"),
                       line={"color": VALIDATION_COLOR, "dash": "dash"})
        )  # fmt: skip
    figure.update_layout(
        title={"text": title, "font": {"size": 12}},
        xaxis_title=t("ui.chart.step"),
        height=220,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        font=FONT,
        showlegend=(values.ndim == 2 and values.shape[1] > 1) or forecast is not None,
    )
    return figure
