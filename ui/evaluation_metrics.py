"""The evaluate page's metrics: accuracy, per-class table, confusion matrix, threshold; or errors.

Session state: `evaluate_threshold` (the confidence slider) and `evaluate_normalized`
(counts or shares in the confusion matrix). `evaluate_true` and `evaluate_predicted`
contain the chosen confusion cell, which a click on the matrix or the two select
boxes set. `evaluate_clicked` is the last click already applied, so that the boxes
can change the cell afterwards.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import streamlit as st

from bigmodel import evaluation, evaluation_charts, i18n, views
from bigmodel.evaluation import EvaluationData, EvaluationSummary

ANY = ""
"""Value of a cell box that keeps every class."""


def classification_ui(data: EvaluationData, t: i18n.Translator) -> EvaluationSummary:
    """Show the accuracy, the number of examples and of mistakes; return the summary."""
    threshold = float(st.session_state.get("evaluate_threshold", 0.0))
    summary = evaluation.summarize(data, threshold)

    accuracy_column, examples_column, mistakes_column = st.columns(3)
    accuracy_column.metric(t("ui.evaluate.accuracy"), views.format_percent(summary.accuracy))
    examples_column.metric(t("ui.evaluate.examples"), summary.examples)
    mistakes_column.metric(t("ui.evaluate.mistakes"), len(evaluation.mistakes(data)))
    return summary


def class_table_ui(summary: EvaluationSummary, t: i18n.Translator) -> None:
    assert summary.class_table is not None
    st.subheader(t("ui.evaluate.per_class"))
    columns = {
        "class": t("ui.evaluate.column.class"),
        "precision": t("ui.evaluate.column.precision"),
        "recall": t("ui.evaluate.column.recall"),
        "f1": t("ui.evaluate.column.f1"),
        "support": t("ui.evaluate.column.support"),
    }
    # Percent numbers, not progress bars, so that all five columns fit beside the matrix.
    config = {
        columns[name]: st.column_config.NumberColumn(
            columns[name], help=t(f"ui.evaluate.help.{name}"), format="percent"
        )
        for name in ("precision", "recall", "f1")
    }
    config[columns["support"]] = st.column_config.NumberColumn(
        columns["support"], help=t("ui.evaluate.help.support")
    )
    table = summary.class_table.assign(**{"class": summary.class_table["class"].astype(str)})
    st.dataframe(
        table.rename(columns=columns), hide_index=True, column_config=config, key="evaluate_table"
    )


def threshold_ui(summary: EvaluationSummary, t: i18n.Translator) -> None:
    """Show the confidence slider with the accuracy and coverage of the predictions above it."""
    st.subheader(t("ui.evaluate.threshold_heading"))
    st.caption(t("ui.evaluate.threshold_help"))
    slider_column, accuracy_column, coverage_column = st.columns([2, 1, 1])
    with slider_column:
        st.slider(
            t("ui.evaluate.threshold"),
            min_value=0.0,
            max_value=1.0,
            step=0.01,
            key="evaluate_threshold",
            format="%.2f",
        )
    accuracy = summary.threshold_accuracy
    accuracy_column.metric(
        t("ui.evaluate.threshold_accuracy"),
        "–" if accuracy is None or math.isnan(accuracy) else views.format_percent(accuracy),
    )
    coverage_column.metric(
        t("ui.evaluate.threshold_coverage"), views.format_percent(summary.threshold_coverage)
    )
    assert summary.curve is not None
    st.plotly_chart(
        evaluation_charts.threshold_figure(summary.curve, summary.threshold, t),
        key="evaluate_threshold_chart",
    )


def confusion_ui(data: EvaluationData, summary: EvaluationSummary, t: i18n.Translator) -> None:
    """Show the confusion matrix; a click on a cell chooses it in `cell_ui`'s select boxes."""
    st.subheader(t("ui.evaluate.confusion"))
    st.caption(t("ui.evaluate.confusion_help"))
    normalized = st.toggle(t("ui.evaluate.normalized"), key="evaluate_normalized")
    figure = evaluation_charts.confusion_figure(summary, data.class_names, t, normalized=normalized)
    event = st.plotly_chart(
        figure,
        key="evaluate_confusion",
        on_select="rerun",
        selection_mode="points",
        config={"displayModeBar": False},
    )
    _apply_click(event)


def cell_ui(data: EvaluationData, t: i18n.Translator) -> tuple[str | None, str | None]:
    """Show and change the chosen confusion cell; return it as (true class, predicted class).

    None in either place keeps every class.
    """
    names = [ANY, *(str(name) for name in data.class_names)]
    for key in ("evaluate_true", "evaluate_predicted"):
        if st.session_state.get(key) not in names:
            st.session_state[key] = ANY
    true_column, predicted_column = st.columns(2)
    true_class = true_column.selectbox(
        t("ui.evaluate.cell_true"),
        names,
        format_func=lambda name: name or t("ui.evaluate.any_class"),
        key="evaluate_true",
    )
    predicted_class = predicted_column.selectbox(
        t("ui.evaluate.cell_predicted"),
        names,
        format_func=lambda name: name or t("ui.evaluate.any_class"),
        key="evaluate_predicted",
    )
    return true_class or None, predicted_class or None


def _apply_click(event: Any) -> None:
    """Copy a newly clicked cell into the select boxes, which are drawn after the chart."""
    points = event["selection"]["points"] if event and "selection" in event else []
    if not points:
        return
    clicked = (str(points[0].get("y")), str(points[0].get("x")))
    if st.session_state.get("evaluate_clicked") == clicked:
        return
    st.session_state["evaluate_clicked"] = clicked
    st.session_state["evaluate_true"], st.session_state["evaluate_predicted"] = clicked


def regression_ui(data: EvaluationData, t: i18n.Translator) -> None:
    """Show MAE, RMSE and R², a table per target, and the predicted-actual and residual plots."""
    summary = evaluation.summarize(data)
    mae_column, rmse_column, r2_column, examples_column = st.columns(4)
    mae_column.metric(t("ui.evaluate.mae"), views.format_number(summary.mae))
    rmse_column.metric(t("ui.evaluate.rmse"), views.format_number(summary.rmse))
    r2_column.metric(t("ui.evaluate.r2"), _r2_text(summary.r2), help=t("ui.evaluate.help.r2"))
    examples_column.metric(t("ui.evaluate.examples"), summary.examples)

    if len(data.target_names) > 1:
        assert summary.target_table is not None
        table = summary.target_table.rename(
            columns={
                "target": t("ui.evaluate.column.target"),
                "mae": t("ui.evaluate.mae"),
                "rmse": t("ui.evaluate.rmse"),
                "r2": t("ui.evaluate.r2"),
                "count": t("ui.evaluate.column.count"),
            }
        )
        st.dataframe(table, hide_index=True, key="evaluate_target_table")

    left, right = st.columns(2)
    left.plotly_chart(
        evaluation_charts.predicted_actual_figure(summary, data.target_names, t),
        key="evaluate_predicted_actual",
    )
    right.plotly_chart(
        evaluation_charts.residuals_figure(summary, data.target_names, t),
        key="evaluate_residuals",
    )


def _r2_text(value: float | None) -> str:
    if value is None or math.isnan(value):
        return "–"
    return f"{value:.3f}"


def suspicious_frame(records: list[dict[str, Any]], t: i18n.Translator) -> pd.DataFrame:
    """Return the examples marked as suspicious, with translated column names for the export."""
    return pd.DataFrame.from_records(
        records, columns=["name", "reference", "true_class", "predicted_class", "confidence"]
    ).rename(
        columns={
            "name": t("ui.evaluate.column.example"),
            "reference": t("ui.evaluate.column.reference"),
            "true_class": t("ui.evaluate.column.true_class"),
            "predicted_class": t("ui.evaluate.column.predicted_class"),
            "confidence": t("ui.evaluate.column.confidence"),
        }
    )
