"""Plotly figures of the studio: class counts and training curves.

Every title, axis label and legend entry comes from the message catalog through the
translator passed in, so the charts follow the user's language. No Streamlit or
TensorFlow here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from bigmodel import i18n
from bigmodel.store import MetricRow

TRAINING_COLOR = "#3a6ea5"
VALIDATION_COLOR = "#d9822b"
NOT_PLOTTED = frozenset({"learning_rate", "lr"})
"""Values that Keras may log beside the metrics, which the training chart leaves out."""
FONT = {"family": "Source Sans Pro, Noto Sans SC, sans-serif", "size": 13}


def class_counts_figure(
    counts: Mapping[str, int],
    t: i18n.Translator,
    *,
    title_key: str = "ui.chart.class_counts",
    count_key: str = "ui.chart.images",
) -> go.Figure:
    """Bar chart of the number of examples per class, in the dataset's class order.

    `title_key` and `count_key` name the title and the y axis: images by default, or
    for example sequences.
    """
    figure = go.Figure(
        go.Bar(
            x=list(counts),
            y=list(counts.values()),
            marker_color=TRAINING_COLOR,
            text=list(counts.values()),
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{x}: %{y}<extra></extra>",
        )
    )
    figure.update_layout(
        title=t(title_key),
        xaxis_title=t("ui.chart.class"),
        yaxis_title=t(count_key),
        xaxis_type="category",
        height=320,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        font=FONT,
    )
    return figure


def training_curves_figure(
    epoch_rows: Sequence[MetricRow],
    batch_rows: Sequence[MetricRow],
    steps_per_epoch: int,
    t: i18n.Translator,
    metrics: Sequence[str] = ("loss", "accuracy"),
) -> go.Figure:
    """Each metric per epoch, for training and validation, side by side.

    Args:
        epoch_rows: Metrics logged at the end of each epoch, in order.
        batch_rows: Metrics logged inside epochs. Only those of the epoch in progress
            are drawn, so the chart moves before the first epoch ends.
        steps_per_epoch: Batches in one epoch, to place batch rows between epochs.
        t: Translator for titles and legend entries.
        metrics: Metrics to draw until the rows name theirs: loss and accuracy for
            classification, loss, MAE and RMSE for regression and forecasts.

    Returns:
        A figure with one subplot per metric, loss first, then in the order the rows
        log them. The x axis counts epochs from 1, and an epoch's point sits at the end
        of that epoch.
    """
    names = logged_metrics([*epoch_rows, *batch_rows]) or list(metrics)
    figure = make_subplots(
        rows=1,
        cols=len(names),
        subplot_titles=[_metric_title(name, t) for name in names],
        horizontal_spacing=0.1 if len(names) < 3 else 0.07,
    )
    for column, metric in enumerate(names, start=1):
        show_legend = column == 1
        series = (
            (metric, t("ui.chart.training"), TRAINING_COLOR),
            (f"val_{metric}", t("ui.chart.validation"), VALIDATION_COLOR),
        )
        for key, name, color in series:
            trace = _epoch_trace(epoch_rows, key, name, color, show_legend)
            figure.add_trace(trace, row=1, col=column)

        name = t("ui.chart.training_current_epoch")
        current = _current_epoch_trace(
            epoch_rows, batch_rows, steps_per_epoch, metric, name, show_legend
        )
        if current is not None:
            figure.add_trace(current, row=1, col=column)
        if metric == "accuracy":
            figure.update_yaxes(range=[0, 1.02], tickformat=".0%", row=1, col=column)
        else:
            figure.update_yaxes(rangemode="tozero", row=1, col=column)
        figure.update_yaxes(title_text=_metric_title(metric, t), row=1, col=column)

    # Whole epochs on the axis, about ten ticks at most, even while batch points sit between.
    tick_step = max(1, math.ceil((len(epoch_rows) + 1) / 10))
    figure.update_xaxes(title_text=t("ui.chart.epoch"), rangemode="tozero", dtick=tick_step)
    figure.update_layout(
        height=360,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        legend={"orientation": "h", "y": -0.2},
        font=FONT,
        hovermode="x unified",
    )
    return figure


def logged_metrics(rows: Sequence[MetricRow]) -> list[str]:
    """Return the training metrics that rows contain, loss first, without `val_` twins."""
    names: dict[str, None] = {}
    for row in rows:
        for name in row.values:
            if not name.startswith("val_") and name not in NOT_PLOTTED:
                names[name] = None
    return sorted(names, key=lambda name: name != "loss")  # stable: the rest keep their order


def _metric_title(name: str, t: i18n.Translator) -> str:
    key = f"ui.chart.{name}"
    return t(key) if key in i18n.catalog(t.language) else name


def _epoch_trace(
    rows: Sequence[MetricRow], metric: str, name: str, color: str, show_legend: bool
) -> go.Scatter:
    points = [(row.epoch + 1, row.values[metric]) for row in rows if metric in row.values]
    return go.Scatter(
        x=[epoch for epoch, _ in points],
        y=[value for _, value in points],
        mode="lines+markers",
        name=name,
        legendgroup=name,
        showlegend=show_legend,
        line={"color": color, "width": 2},
    )


def _current_epoch_trace(
    epoch_rows: Sequence[MetricRow],
    batch_rows: Sequence[MetricRow],
    steps_per_epoch: int,
    metric: str,
    name: str,
    show_legend: bool,
) -> go.Scatter | None:
    """Training metric inside the epoch in progress, at fractional epochs, or None without rows."""
    current = len(epoch_rows)
    steps = max(steps_per_epoch, 1)
    points = [
        (row.epoch + row.step / steps, row.values[metric])
        for row in batch_rows
        if row.epoch == current and metric in row.values
    ]
    if not points:
        return None
    return go.Scatter(
        x=[x for x, _ in points],
        y=[value for _, value in points],
        mode="lines",
        name=name,
        legendgroup=name,
        showlegend=show_legend,
        line={"color": TRAINING_COLOR, "width": 1, "dash": "dot"},
    )
