"""The data page's report of a sequence CSV file, drawn from a dataset summary.

The data page draws the same summary twice: for an upload under inspection, before
anything is stored, and for a stored sequence dataset. Both come from
`sequence_datasets`, which computes the summary once, so the two views cannot
disagree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd
import streamlit as st

from bigmodel import charts, i18n, sequence_charts, sequence_views, views
from bigmodel.imaging import Notice


def summary_ui(summary: Mapping[str, Any], t: i18n.Translator, key_prefix: str) -> None:
    """Draw the counts, the length and class or target charts, and what cleaning did."""
    _metrics_ui(summary, t)

    lengths_column, labels_column = st.columns(2)
    with lengths_column:
        figure = sequence_charts.length_histogram_figure(summary.get("length_counts") or {}, t)
        st.plotly_chart(figure, key=f"{key_prefix}_lengths")
    with labels_column:
        if summary.get("task") == "classification":
            figure = charts.class_counts_figure(
                summary.get("counts") or {},
                t,
                title_key="ui.chart.class_counts_examples",
                count_key="ui.chart.examples",
            )
        else:
            figure = sequence_charts.target_histogram_figure(
                summary.get("target_histograms") or {}, t
            )
        st.plotly_chart(figure, key=f"{key_prefix}_labels")

    lines = sequence_views.length_statements(summary, t)
    lines.append(t("ui.seq.features", features=", ".join(summary.get("features") or ())))
    if summary.get("task") != "classification":
        lines += _target_lines(summary, t)
    lines.append(sequence_views.cleaning_statement(summary, t))
    if summary.get("ignored_columns"):
        lines.append(t("ui.seq.ignored", columns=", ".join(summary["ignored_columns"])))
    st.markdown("\n".join(f"- {line}" for line in lines))
    bad_cell_counts_ui(summary, t)


def _metrics_ui(summary: Mapping[str, Any], t: i18n.Translator) -> None:
    task = summary.get("task")
    if task == "classification":
        what = t("ui.seq.task_classes", classes=", ".join(summary.get("classes") or ()))
    else:
        what = t("ui.seq.task_targets", targets=", ".join(summary.get("targets") or ()))
    st.markdown(t("ui.seq.task_line", task=sequence_views.task_label(task, t), what=what))

    columns = st.columns(4)
    columns[0].metric(t("ui.seq.metric.sequences"), summary.get("num_sequences", 0))
    columns[1].metric(t("ui.seq.metric.examples"), summary.get("num_examples", 0))
    columns[2].metric(t("ui.seq.metric.length"), summary.get("length") or "–")
    if task == "classification":
        columns[3].metric(t("ui.seq.metric.classes"), len(summary.get("classes") or ()))
    else:
        columns[3].metric(t("ui.seq.metric.targets"), len(summary.get("targets") or ()))


def _target_lines(summary: Mapping[str, Any], t: i18n.Translator) -> list[str]:
    lines = []
    for name, stats in (summary.get("target_stats") or {}).items():
        lines.append(
            t(
                "ui.seq.target",
                name=name,
                minimum=views.format_number(stats.get("min")),
                maximum=views.format_number(stats.get("max")),
                mean=views.format_number(stats.get("mean")),
                std=views.format_number(stats.get("std")),
            )
        )
    return lines


def bad_cell_counts_ui(summary: Mapping[str, Any], t: i18n.Translator) -> None:
    """List the numeric columns with missing or unparsable cells, with their counts."""
    counts = sequence_views.bad_cell_counts(summary)
    if not counts:
        return
    st.markdown(t("ui.seq.bad_cells_heading"))
    rows = pd.DataFrame(
        [
            {
                t("ui.seq.column.column"): name,
                t("ui.seq.column.missing"): missing,
                t("ui.seq.column.invalid"): invalid,
            }
            for name, (missing, invalid) in counts.items()
        ]
    )
    st.table(rows, hide_index=True)


def notices_ui(notices: Iterable[Notice], t: i18n.Translator) -> None:
    """Show each notice of an inspection or a dataset as one sentence."""
    messages = [notice.message(t.language) for notice in notices]
    if not messages:
        return
    st.markdown(t("ui.seq.notices_heading", count=len(messages)))
    st.markdown("\n".join(f"- {message}" for message in messages))


def spec_lines(spec: Mapping[str, Any], t: i18n.Translator) -> list[str]:
    """Describe a stored dataset's layout and column roles, one sentence each."""
    lines = [t(f"sequences.layout.{spec.get('layout', 'wide')}")]
    roles = (
        ("label_column", "ui.seq.role_line.label"),
        ("id_column", "ui.seq.role_line.id"),
        ("order_column", "ui.seq.role_line.order"),
    )
    for field, key in roles:
        if spec.get(field):
            lines.append(t(key, column=spec[field]))
    return lines


def dataset_overview_ui(
    summary: Mapping[str, Any],
    spec: Mapping[str, Any],
    notices: Iterable[Notice],
    t: i18n.Translator,
) -> None:
    """Draw a stored sequence dataset: its source, layout, summary and notices."""
    st.caption(
        t(
            "ui.seq.stored_source",
            source=summary.get("source", ""),
            encoding=sequence_views.encoding_label(str(summary.get("encoding", "")), t),
            rows=summary.get("num_rows", 0),
        )
    )
    st.markdown(" · ".join(spec_lines(spec, t)))
    summary_ui(summary, t, "data_stored")
    notices_ui(notices, t)
