"""Plotly figures of an evaluation: confusion matrix, threshold curve, errors and step importance.

Like `bigmodel.charts`, every title and axis label comes from the message catalog
through the translator passed in. No Streamlit or TensorFlow here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from bigmodel import i18n
from bigmodel.charts import FONT, TRAINING_COLOR, VALIDATION_COLOR
from bigmodel.evaluation import EvaluationSummary, ThresholdCurve

IMPORTANCE_COLOR = "#d62728"
ATTENTION_COLOR = "#9467bd"
_MARGIN = {"l": 10, "r": 10, "t": 50, "b": 10}


def confusion_figure(
    summary: EvaluationSummary,
    class_names: Sequence[str],
    t: i18n.Translator,
    *,
    normalized: bool = False,
) -> go.Figure:
    """Confusion matrix: true class in rows, predicted class in columns.

    Each cell shows its count, or with `normalized` the share of its row. A scatter
    layer of transparent squares covers the cells, because Streamlit reports point
    selections of scatter traces but not of heatmaps: its points carry the cell's
    classes as `x` (predicted) and `y` (true).
    """
    assert summary.confusion is not None and summary.confusion_normalized is not None
    counts = summary.confusion
    values = summary.confusion_normalized if normalized else counts
    names = [str(name) for name in class_names]
    text = (
        [[f"{value:.0%}" for value in row] for row in values]
        if normalized
        else [[str(int(value)) for value in row] for row in values]
    )
    figure = go.Figure(
        go.Heatmap(
            z=np.asarray(values).tolist(),
            x=names,
            y=names,
            text=text,
            texttemplate="%{text}",
            colorscale="Blues",
            showscale=False,
            hoverinfo="skip",
        )
    )
    rows, columns = np.indices(counts.shape)
    figure.add_trace(
        go.Scatter(
            x=[names[column] for column in columns.ravel()],
            y=[names[row] for row in rows.ravel()],
            customdata=counts.ravel().tolist(),
            mode="markers",
            marker={"symbol": "square", "size": 28, "color": "rgba(0,0,0,0)"},
            hovertemplate=t(
                "ui.evaluate.chart.cell_hover",
                true_class="%{y}",
                predicted_class="%{x}",
                count="%{customdata}",
            )
            + "<extra></extra>",
            showlegend=False,
        )
    )
    side = min(640, 140 + 44 * len(names))
    figure.update_layout(
        title=t(
            "ui.evaluate.chart.confusion_normalized"
            if normalized
            else "ui.evaluate.chart.confusion"
        ),
        xaxis_title=t("ui.evaluate.chart.predicted_class"),
        yaxis_title=t("ui.evaluate.chart.true_class"),
        height=side,
        margin=_MARGIN,
        font=FONT,
        clickmode="event+select",
        dragmode=False,
    )
    figure.update_xaxes(type="category", side="bottom")
    figure.update_yaxes(type="category", autorange="reversed")
    return figure


def threshold_figure(curve: ThresholdCurve, threshold: float, t: i18n.Translator) -> go.Figure:
    """Accuracy and coverage over the confidence threshold, with the chosen threshold marked."""
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(
            x=curve.thresholds,
            y=curve.accuracy,
            name=t("ui.evaluate.chart.accuracy"),
            line={"color": TRAINING_COLOR},
        )
    )
    figure.add_trace(
        go.Scatter(
            x=curve.thresholds,
            y=curve.coverage,
            name=t("ui.evaluate.chart.coverage"),
            line={"color": VALIDATION_COLOR},
        )
    )
    figure.add_vline(x=threshold, line_dash="dash", line_color="#555")
    figure.update_layout(
        title=t("ui.evaluate.chart.threshold"),
        xaxis_title=t("ui.evaluate.chart.confidence_threshold"),
        yaxis_title=t("ui.evaluate.chart.share"),
        height=320,
        margin=_MARGIN,
        font=FONT,
        legend={"orientation": "h", "y": -0.25},
        hovermode="x unified",
    )
    figure.update_xaxes(range=[0, 1], tickformat=".0%")
    figure.update_yaxes(range=[0, 1.02], tickformat=".0%")
    return figure


def predicted_actual_figure(
    summary: EvaluationSummary, target_names: Sequence[str], t: i18n.Translator
) -> go.Figure:
    """Predicted against actual values per target, and the line of perfect predictions."""
    assert summary.actual is not None and summary.predicted is not None
    figure = _points_by_target(
        summary, summary.actual, summary.predicted, target_names, TRAINING_COLOR
    )
    low = float(min(summary.actual.min(), summary.predicted.min()))
    high = float(max(summary.actual.max(), summary.predicted.max()))
    figure.add_trace(
        go.Scatter(
            x=[low, high],
            y=[low, high],
            mode="lines",
            name=t("ui.evaluate.chart.perfect"),
            line={"color": "#888", "dash": "dash"},
        )
    )
    _layout_points(figure, t, "predicted_actual", "actual", "predicted")
    return figure


def residuals_figure(
    summary: EvaluationSummary, target_names: Sequence[str], t: i18n.Translator
) -> go.Figure:
    """Residuals (actual minus predicted) against the predicted values, with the zero line."""
    assert summary.residuals is not None and summary.predicted is not None
    figure = _points_by_target(
        summary, summary.predicted, summary.residuals, target_names, VALIDATION_COLOR
    )
    figure.add_hline(y=0, line_dash="dash", line_color="#888")
    _layout_points(figure, t, "residuals", "predicted", "residual")
    return figure


def _points_by_target(
    summary: EvaluationSummary,
    x: np.ndarray,
    y: np.ndarray,
    target_names: Sequence[str],
    color: str,
) -> go.Figure:
    """Return a figure with one trace of points per target; the first target gets `color`."""
    assert summary.output_target is not None
    figure = go.Figure()
    for index, name in enumerate(target_names or [""]):
        chosen = summary.output_target == index
        figure.add_trace(
            go.Scatter(
                x=x[chosen].tolist(),
                y=y[chosen].tolist(),
                mode="markers",
                name=name,
                marker={"color": color if index == 0 else None, "opacity": 0.7},
            )
        )
    return figure


def _layout_points(figure: go.Figure, t: i18n.Translator, title: str, x: str, y: str) -> None:
    figure.update_layout(
        title=t(f"ui.evaluate.chart.{title}"),
        xaxis_title=t(f"ui.evaluate.chart.{x}"),
        yaxis_title=t(f"ui.evaluate.chart.{y}"),
        height=380,
        margin=_MARGIN,
        font=FONT,
        legend={"orientation": "h", "y": -0.2},
    )


def sequence_figure(
    values: np.ndarray,
    feature_names: Sequence[str],
    t: i18n.Translator,
    *,
    importance: np.ndarray | None = None,
    attention: np.ndarray | None = None,
    height: int = 200,
) -> go.Figure:
    """Small line plot of one sequence `(steps, features)`, with the importance of each step.

    `importance` (0-1, gradient saliency) is drawn as shaded bars behind the lines on
    a second axis, and `attention` as a dotted line on that axis, scaled to peak at 1.
    """
    figure = go.Figure()
    steps = np.arange(len(values))
    if importance is not None:
        figure.add_trace(
            go.Bar(
                x=steps,
                y=importance,
                name=t("ui.evaluate.chart.importance"),
                marker_color=IMPORTANCE_COLOR,
                opacity=0.35,
                yaxis="y2",
            )
        )
    if attention is not None and attention.max() > 0:
        figure.add_trace(
            go.Scatter(
                x=steps,
                y=attention / attention.max(),
                name=t("ui.evaluate.chart.attention"),
                line={"color": ATTENTION_COLOR, "dash": "dot"},
                yaxis="y2",
            )
        )
    for index, name in enumerate(feature_names):
        figure.add_trace(
            go.Scatter(
                x=steps,
                y=values[:, index],
                name=str(name),
                mode="lines",
                line={"color": TRAINING_COLOR if index == 0 else None, "width": 1.5},
            )
        )
    figure.update_layout(
        height=height,
        margin={"l": 5, "r": 5, "t": 30, "b": 5},
        font=FONT,
        showlegend=importance is not None or len(feature_names) > 1,
        legend={"orientation": "h", "y": 1.0, "yanchor": "bottom", "font": {"size": 10}},
        xaxis_title=t("ui.chart.step"),
        yaxis2={"overlaying": "y", "side": "right", "range": [0, 1.05], "visible": False},
        bargap=0,
    )
    return figure
