"""Plotly figures of sequence datasets and forecasts.

Like `bigmodel.charts`, every text comes from the message catalog through the
translator passed in. No Streamlit or TensorFlow here.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from bigmodel import i18n
from bigmodel.charts import FONT, TRAINING_COLOR, VALIDATION_COLOR

ACTUAL_COLOR = "#2a9d5c"
MAX_LENGTH_BARS = 60
"""Distinct lengths up to which each length gets its own bar; more are binned."""
_MARGIN = {"l": 10, "r": 10, "t": 50, "b": 10}


def length_histogram_figure(length_counts: Mapping[str, int], t: i18n.Translator) -> go.Figure:
    """Bar chart of how many sequences have each length, in steps.

    Args:
        length_counts: Sequences per length, keyed by the length as text, as a
            dataset summary stores them.
        t: Translator for the title and axes.
    """
    lengths = sorted((int(steps), int(count)) for steps, count in length_counts.items())
    if len(lengths) <= MAX_LENGTH_BARS:
        trace: go.Bar | go.Histogram = go.Bar(
            x=[steps for steps, _ in lengths],
            y=[count for _, count in lengths],
            marker_color=TRAINING_COLOR,
            text=[count for _, count in lengths],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{x}: %{y}<extra></extra>",
        )
    else:
        expanded = [steps for steps, count in lengths for _ in range(count)]
        trace = go.Histogram(x=expanded, marker_color=TRAINING_COLOR)
    figure = go.Figure(trace)
    figure.update_layout(
        title=t("ui.chart.lengths"),
        xaxis_title=t("ui.chart.steps"),
        yaxis_title=t("ui.chart.sequences"),
        height=320,
        margin=_MARGIN,
        font=FONT,
        bargap=0.2,
    )
    if len(lengths) <= MAX_LENGTH_BARS:
        figure.update_xaxes(type="category")
    return figure


def target_histogram_figure(
    histograms: Mapping[str, Mapping[str, Sequence[float]]], t: i18n.Translator
) -> go.Figure:
    """Histogram of each target's values, one subplot per target, from a dataset summary.

    Args:
        histograms: Per target, `edges` (one more than `counts`) and `counts`.
        t: Translator for the title and axes.
    """
    names = list(histograms) or [""]
    figure = make_subplots(rows=1, cols=len(names), subplot_titles=names)
    for column, name in enumerate(names, start=1):
        histogram = histograms.get(name) or {"edges": [], "counts": []}
        edges, counts = list(histogram["edges"]), list(histogram["counts"])
        centres = [(low + high) / 2 for low, high in itertools.pairwise(edges)]
        widths = [high - low for low, high in itertools.pairwise(edges)]
        figure.add_trace(
            go.Bar(
                x=centres,
                y=counts,
                width=widths,
                marker_color=TRAINING_COLOR,
                marker_line={"color": "white", "width": 1},
                showlegend=False,
                hovertemplate="%{x:.4g}: %{y}<extra></extra>",
            ),
            row=1,
            col=column,
        )
    figure.update_yaxes(title_text=t("ui.chart.examples"), row=1, col=1)
    figure.update_layout(
        title=t("ui.chart.target_distribution"),
        height=320,
        margin=_MARGIN,
        font=FONT,
    )
    return figure


def forecast_figure(
    history: pd.DataFrame,
    forecast: pd.DataFrame,
    actual: pd.DataFrame | None,
    targets: Sequence[str],
    t: i18n.Translator,
) -> go.Figure:
    """Draw the history of one series, the forecast after it and the actual values, per target.

    Args:
        history: Steps of the series as `sequence_views.series_history` returns them:
            `step`, `time` and one column per target.
        forecast: Rows of the prediction table for this series: `ahead`, `time` and
            one column per target.
        actual: Held-out steps of the series, in the form of `history`, or None.
        targets: The predicted columns, one subplot each.
        t: Translator for titles and legend entries.

    Returns:
        A figure whose x axis shows the order column's values where the forecast has
        them for every step, and step numbers otherwise.
    """
    use_time = _has_times(history) and forecast["time"].notna().all()
    last_step = int(history["step"].max()) if len(history) else 0
    figure = make_subplots(
        rows=len(targets), cols=1, shared_xaxes=True, subplot_titles=list(targets)
    )
    for row, target in enumerate(targets, start=1):
        show_legend = row == 1
        history_x = _x_values(history, use_time)
        history_y = list(history[target])
        figure.add_trace(
            _line(history_x, history_y, t("ui.chart.history"), TRAINING_COLOR, show_legend),
            row=row,
            col=1,
        )
        if actual is not None and len(actual):
            actual_x, actual_y = _continued(
                history_x, history_y, _x_values(actual, use_time), list(actual[target])
            )
            trace = _line(actual_x, actual_y, t("ui.chart.actual"), ACTUAL_COLOR, show_legend)
            figure.add_trace(trace, row=row, col=1)

        if use_time:
            forecast_x = list(forecast["time"])
        else:
            forecast_x = [last_step + int(ahead) for ahead in forecast["ahead"]]
        forecast_x, forecast_y = _continued(
            history_x, history_y, forecast_x, list(forecast[target])
        )
        trace = _line(forecast_x, forecast_y, t("ui.chart.forecast"), VALIDATION_COLOR, show_legend)
        trace.update(mode="lines+markers", line={"dash": "dash", "color": VALIDATION_COLOR})
        figure.add_trace(trace, row=row, col=1)

    figure.update_xaxes(title_text=t("ui.chart.time") if use_time else t("ui.chart.step"))
    figure.update_layout(
        title=t("ui.chart.forecast_title"),
        height=260 + 160 * len(targets),
        margin=_MARGIN,
        font=FONT,
        legend={"orientation": "h", "y": -0.15},
        hovermode="x unified",
    )
    return figure


def _continued(
    history_x: list[Any], history_y: list[Any], x: list[Any], y: list[Any]
) -> tuple[list[Any], list[Any]]:
    """Start a line at the last point of the history, so that it continues the history."""
    if not history_x:
        return x, y
    return [history_x[-1], *x], [history_y[-1], *y]


def _has_times(history: pd.DataFrame) -> bool:
    return "time" in history and len(history) > 0 and bool(history["time"].notna().all())


def _x_values(frame: pd.DataFrame, use_time: bool) -> list[Any]:
    if use_time:
        return [_time_text(value) for value in frame["time"]]
    return [int(step) for step in frame["step"]]


def _time_text(value: Any) -> Any:
    """Write datetimes as ISO text, so history and forecast share one date axis."""
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat() if value == value.normalize() else value.isoformat()
    return value


def _line(x: Sequence[Any], y: Any, name: str, color: str, show_legend: bool) -> go.Scatter:
    return go.Scatter(
        x=list(x),
        y=list(y),
        mode="lines",
        name=name,
        legendgroup=name,
        showlegend=show_legend,
        line={"color": color, "width": 2},
    )
