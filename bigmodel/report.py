"""A shareable report of one run: a single HTML file that opens without a network.

`build_report` writes the dataset summary, the settings in plain words, the training
curves, the evaluation on the validation split, the best and worst examples and the
model's limits, in one language. plotly.js is embedded once in the page and images
are inlined as PNG data URIs, so the file has no outside reference. It needs an
evaluation (`bigmodel.evaluation`): the CLI computes one with TensorFlow, and the
studio requests it from the inference service. No Streamlit or TensorFlow here.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from PIL import Image
from plotly.offline import get_plotlyjs

from bigmodel import (
    charts,
    evaluation,
    glossary,
    i18n,
    result_charts,
    sequence_charts,
    sequence_views,
    showcase,
    views,
)
from bigmodel.architectures import DEFAULT_PRESET
from bigmodel.evaluation import EvaluationData, EvaluationSummary
from bigmodel.store import Run, RunStore

THUMBNAIL_SIZE = 128
CHART_CONFIG = {"displaylogo": False, "responsive": True}
STYLE = """
body { font-family: "Source Sans Pro", "Noto Sans SC", "Microsoft YaHei", sans-serif;
       max-width: 1100px; margin: 2rem auto; padding: 0 1.5rem; color: #262730; }
h1 { font-size: 2rem; margin-bottom: 0.2rem; }
h2 { margin-top: 2.5rem; border-bottom: 1px solid #ddd; padding-bottom: 0.3rem; }
.headline { font-size: 1.8rem; font-weight: 600; margin: 1rem 0 0.3rem; }
.muted { color: #6b6f76; }
table { border-collapse: collapse; margin: 0.8rem 0; }
th, td { border-bottom: 1px solid #e6e6e6; padding: 0.35rem 0.8rem; text-align: left;
         vertical-align: top; }
.examples { display: flex; flex-wrap: wrap; gap: 1rem; }
.example { width: 220px; }
.example img { width: 128px; image-rendering: pixelated; border: 1px solid #ddd; }
.wrong { color: #b3261e; }
"""


def build_report(store: RunStore, run_id: int, language: str, data: EvaluationData) -> str:
    """Write the report of a run as one HTML document in `language`.

    Args:
        store: The run store.
        run_id: A completed or stopped run with a model.
        language: A catalog language, such as `en` or `zh-CN`.
        data: The evaluation of the run's validation split.

    Returns:
        The whole HTML document, UTF-8 text of a few megabytes, most of it plotly.js.
    """
    t = i18n.Translator(language)
    run = store.get_run(run_id)
    summary = evaluation.summarize(data)
    charts_html = _ChartWriter()
    body = [
        _heading_html(run, t),
        _result_html(data, summary, t),
        _dataset_html(store, run, t, charts_html),
        _settings_html(run, t),
        _training_html(store, run, data, t, charts_html),
        _evaluation_html(data, summary, t, charts_html),
        _examples_html(store, data, t, charts_html),
        _limits_html(run, data, summary, t),
        _environment_html(run, t),
    ]
    return _page(t("report.title", id=run.id, name=run.name), t.language, "\n".join(body))


def file_name(run_id: int, language: str) -> str:
    """Return the report's default file name, such as `run-7-report-zh-CN.html`."""
    return f"run-{run_id}-report-{language}.html"


class _ChartWriter:
    """Turn figures into `<div>`s that share the page's one copy of plotly.js."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, figure: go.Figure) -> str:
        self.count += 1
        return str(
            figure.to_html(
                full_html=False,
                include_plotlyjs=False,
                div_id=f"chart-{self.count}",
                config=CHART_CONFIG,
            )
        )


def _page(title: str, language: str, body: str) -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="{language}">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{_text(title)}</title>\n<style>{STYLE}</style>\n"
        f"<script>{get_plotlyjs()}</script>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def _text(value: Any) -> str:
    return html.escape(str(value))


def _section(title: str, *parts: str) -> str:
    return f"<section>\n<h2>{_text(title)}</h2>\n" + "\n".join(parts) + "\n</section>"


def _paragraph(text: str, css_class: str = "") -> str:
    attribute = f' class="{css_class}"' if css_class else ""
    return f"<p{attribute}>{_text(text)}</p>"


def _list(lines: Iterable[str]) -> str:
    return "<ul>\n" + "\n".join(f"<li>{_text(line)}</li>" for line in lines) + "\n</ul>"


def _table(frame: pd.DataFrame) -> str:
    head = "".join(f"<th>{_text(column)}</th>" for column in frame.columns)
    rows = [
        "<tr>" + "".join(f"<td>{_text(value)}</td>" for value in row) + "</tr>"
        for row in frame.itertuples(index=False)
    ]
    return f"<table>\n<tr>{head}</tr>\n" + "\n".join(rows) + "\n</table>"


# Sections


def _heading_html(run: Run, t: i18n.Translator) -> str:
    created = views.format_timestamp(run.finished_at or run.created_at)
    generated = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M")
    return f"<h1>{_text(t('report.title', id=run.id, name=run.name))}</h1>\n" + _paragraph(
        t("report.generated", created=created, generated=generated), "muted"
    )


def _result_html(data: EvaluationData, summary: EvaluationSummary, t: i18n.Translator) -> str:
    return (
        _paragraph(showcase.headline(data, summary, t), "headline")
        + "\n"
        + _paragraph(showcase.subline(data, summary, t))
    )


def _dataset_html(store: RunStore, run: Run, t: i18n.Translator, chart: _ChartWriter) -> str:
    record = store.get_dataset(run.dataset_id)
    summary = record.summary or {}
    lines = [views.dataset_label(record, t)]
    if record.kind == "sequence":
        lines += sequence_views.length_statements(summary, t)
        lines.append(t("ui.seq.features", features=", ".join(summary.get("features") or ())))
    else:
        lines.append(t("report.data.images", images=summary.get("num_images", 0)))
    parts = [_list(lines)]

    if summary.get("counts"):
        if record.kind == "image":
            figure = charts.class_counts_figure(summary["counts"], t)
        else:
            figure = charts.class_counts_figure(
                summary["counts"],
                t,
                title_key="ui.chart.class_counts_examples",
                count_key="ui.chart.examples",
            )
        parts.append(chart(figure))
    elif summary.get("target_histograms"):
        parts.append(
            chart(sequence_charts.target_histogram_figure(summary["target_histograms"], t))
        )
    return _section(t("report.section.data"), *parts)


def _settings_html(run: Run, t: i18n.Translator) -> str:
    preset = run.settings.get("preset", DEFAULT_PRESET)
    intro = t(
        "report.settings.intro",
        family=t(f"ui.family.{run.family}"),
        preset=t(f"ui.preset.{preset}"),
    )
    rows = [
        {
            t("report.settings.setting"): t(f"settings.{name}.label"),
            t("report.settings.value"): views.setting_value_text(name, value, t),
            t("report.settings.meaning"): t(f"glossary.setting.{name}"),
        }
        for group in ("model", "training")
        for name, value in (run.settings.get(group) or {}).items()
    ]
    return _section(t("report.section.settings"), _paragraph(intro), _table(pd.DataFrame(rows)))


def _training_html(
    store: RunStore, run: Run, data: EvaluationData, t: i18n.Translator, chart: _ChartWriter
) -> str:
    results = run.results or {}
    epochs = store.get_metrics(run.id, "epoch")
    lines = [
        t("report.training.epochs", epochs=results.get("epochs_trained", len(epochs))),
        t("report.training.time", time=views.format_duration(results.get("training_seconds"), t)),
        t("report.training.loss", loss=glossary.metric_help("loss", t)),
    ]
    metrics = sequence_views.default_metrics(data.task)
    figure = charts.training_curves_figure(epochs, [], 1, t, metrics=metrics)
    return _section(t("report.section.training"), _list(lines), chart(figure))


def _evaluation_html(
    data: EvaluationData, summary: EvaluationSummary, t: i18n.Translator, chart: _ChartWriter
) -> str:
    if data.is_classification and summary.confusion is not None:
        figure = result_charts.confusion_figure(summary.confusion, data.class_names, t)
        table = _class_table(summary, t)
        terms: tuple[str, ...] = ("accuracy", "precision", "recall", "f1", "confusion_matrix")
    else:
        unit = ", ".join(data.target_names)
        figure = result_charts.error_figure(
            np.asarray(data.y_true), np.asarray(data.y_pred), unit, t
        )
        table = _target_table(summary, t)
        terms = ("mae", "rmse", "r2")
    explanations = [
        f"{t(f'glossary.metric.{term}.name')}: {t(f'glossary.metric.{term}.text')}"
        for term in terms
    ]
    return _section(
        t("report.section.evaluation"),
        _paragraph(t("report.evaluation.intro", total=len(data), noun=showcase.noun(data, t))),
        _table(table),
        chart(figure),
        _list(explanations),
    )


def _class_table(summary: EvaluationSummary, t: i18n.Translator) -> pd.DataFrame:
    table = summary.class_table if summary.class_table is not None else pd.DataFrame()
    shown = pd.DataFrame(
        {
            t("report.table.class"): table["class"],
            t("glossary.metric.precision.name"): table["precision"].map(views.format_percent),
            t("glossary.metric.recall.name"): table["recall"].map(views.format_percent),
            t("glossary.metric.f1.name"): table["f1"].map(lambda value: f"{value:.3f}"),
            t("report.table.support"): table["support"],
        }
    )
    return shown


def _target_table(summary: EvaluationSummary, t: i18n.Translator) -> pd.DataFrame:
    table = summary.target_table if summary.target_table is not None else pd.DataFrame()
    return pd.DataFrame(
        {
            t("report.table.target"): table["target"],
            "MAE": table["mae"].map(views.format_number),
            "RMSE": table["rmse"].map(views.format_number),
            "R²": table["r2"].map(views.format_number),
            t("report.table.count"): table["count"],
        }
    )


def _examples_html(
    store: RunStore, data: EvaluationData, t: i18n.Translator, chart: _ChartWriter
) -> str:
    parts = []
    for heading, positions in (
        (t("demo.best"), showcase.best_positions(data)),
        (t("demo.worst"), showcase.worst_positions(data)),
    ):
        cells = [_example_html(store, data, position, t, chart) for position in positions]
        parts.append(f'<h3>{_text(heading)}</h3>\n<div class="examples">{"".join(cells)}</div>')
    return _section(t("report.section.examples"), *parts)


def _example_html(
    store: RunStore, data: EvaluationData, position: int, t: i18n.Translator, chart: _ChartWriter
) -> str:
    example = showcase.shown_example(data, position, t)
    css_class = "example" if example.correct else "example wrong"
    if data.kind == "image":
        picture = showcase.example_thumbnail(data, position, THUMBNAIL_SIZE)
        body = f'<img src="{png_data_uri(picture)}" alt="{_text(example.name)}">'
    else:
        values = evaluation.sequence_values(store, data, position)
        features = store.get_dataset(data.dataset_id).summary.get("features") or []
        forecast = showcase.forecast_of(data, position)
        body = chart(result_charts.sequence_figure(values, features, example.name, t, forecast))
    return (
        f'<div class="{css_class}">{body}<div>{_text(example.name)}</div>'
        f"<div>{_text(example.caption)}</div></div>"
    )


def png_data_uri(pixels: np.ndarray) -> str:
    """Encode uint8 pixels `(height, width, 3)` as a `data:image/png;base64,` URI."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _limits_html(
    run: Run, data: EvaluationData, summary: EvaluationSummary, t: i18n.Translator
) -> str:
    return _section(t("report.section.limits"), _list(showcase.limits(run, data, summary, t)))


def _environment_html(run: Run, t: i18n.Translator) -> str:
    versions: Sequence[str] = [
        f"{name} {version}" for name, version in (run.environment or {}).items()
    ]
    return _section(
        t("report.section.environment"),
        _paragraph(t("report.environment", versions=", ".join(versions) or "–"), "muted"),
    )
