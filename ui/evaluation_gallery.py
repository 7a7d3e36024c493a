"""The evaluate page's galleries: mistakes, one confusion cell, or the largest errors.

Each card shows the example (an image with its Grad-CAM overlay, or a small line plot
with the importance of each step), its true and predicted label, a download, and a
box that marks its label as suspicious. The marked examples form a list that
downloads as CSV.

Session state: `evaluate_gallery_size` (cards shown), `evaluate_explain` (whether to
draw explanations), `evaluate_explanations` (explanations by run, dataset and example, so a
rerun does not request them again) and `evaluate_suspicious` (marked examples by run
and source). Each card's box has the key `evaluate_mark_<run>_<source>_<position>`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

import studio_ui
from bigmodel import evaluation, evaluation_charts, heatmaps, i18n, inference_client, views
from bigmodel.errors import BigModelError
from bigmodel.evaluation import EvaluationData, ExampleResult
from bigmodel.imaging import decode_image, make_thumbnail
from bigmodel.sequence_datasets import load_sequence_dataset
from bigmodel.sequence_views import csv_download
from bigmodel.store import RunStore
from ui import evaluation_metrics

COLUMNS = 4
THUMBNAIL_SIZE = 160
DEFAULT_CARDS = 8
MAX_CARDS = 48


def gallery_ui(
    data: EvaluationData,
    t: i18n.Translator,
    store: RunStore,
    true_class: str | None,
    predicted_class: str | None,
) -> None:
    """Show the examples of the chosen confusion cell, or the most confident mistakes."""
    if true_class is None and predicted_class is None:
        st.subheader(t("ui.evaluate.gallery_mistakes"))
        chosen = evaluation.mistakes(data)
    else:
        st.subheader(
            t(
                "ui.evaluate.gallery_cell",
                true_class=true_class or t("ui.evaluate.any_class"),
                predicted_class=predicted_class or t("ui.evaluate.any_class"),
            )
        )
        chosen = evaluation.examples(data, true_class=true_class, predicted_class=predicted_class)
    if not chosen:
        st.success(t("ui.evaluate.gallery_empty"), icon=":material/check_circle:")
        return

    shown = chosen[: _size_ui(len(chosen), t)]
    explained = _explain_ui(data, [item.position for item in shown], t, store)
    for start in range(0, len(shown), COLUMNS):
        columns = st.columns(COLUMNS)
        for column, item in zip(columns, shown[start : start + COLUMNS], strict=False):
            with column, st.container(border=True):
                _card_ui(data, item, explained.get(item.position), t, store)


def largest_errors_ui(data: EvaluationData, t: i18n.Translator, store: RunStore) -> None:
    """Show the regression or forecast examples with the largest error first."""
    st.subheader(t("ui.evaluate.gallery_errors"))
    positions = evaluation.largest_errors(data)
    shown = positions[: _size_ui(len(positions), t)]
    explained = _explain_ui(data, shown, t, store)
    for start in range(0, len(shown), COLUMNS):
        columns = st.columns(COLUMNS)
        for column, position in zip(columns, shown[start : start + COLUMNS], strict=False):
            with column, st.container(border=True):
                _sequence_ui(data, position, explained.get(position), t, store)
                actual = data.y_true[position].reshape(-1)
                predicted = data.y_pred[position].reshape(-1)
                st.caption(
                    t(
                        "ui.evaluate.card_values",
                        name=data.names[position],
                        actual=views.format_number(float(actual[0])),
                        predicted=views.format_number(float(predicted[0])),
                        error=views.format_number(float(np.abs(actual - predicted).mean())),
                    )
                )


def _size_ui(available: int, t: i18n.Translator) -> int:
    if available <= DEFAULT_CARDS:
        return available
    return int(
        st.slider(
            t("ui.evaluate.gallery_size", count=available),
            min_value=DEFAULT_CARDS // 2,
            max_value=min(MAX_CARDS, available),
            value=DEFAULT_CARDS,
            step=4 if available >= DEFAULT_CARDS + 4 else 1,
            key="evaluate_gallery_size",
        )
    )


def _explain_ui(
    data: EvaluationData, positions: list[int], t: i18n.Translator, store: RunStore
) -> dict[int, Any]:
    """Return the explanations of the shown examples, requesting the missing ones at once."""
    label = t(f"ui.evaluate.explain.{data.kind}")
    if not st.toggle(label, value=True, key="evaluate_explain", help=t("ui.evaluate.explain_help")):
        return {}
    cache: dict[tuple, Any] = st.session_state.setdefault("evaluate_explanations", {})
    keys = {p: (data.run_id, data.dataset_id, data.references[p]) for p in positions}
    missing = [p for p in positions if keys[p] not in cache]
    if missing:
        try:
            with st.spinner(t("ui.evaluate.explaining", count=len(missing))):
                found = _request_explanations(data, missing)
        except BigModelError as error:
            studio_ui.show_error(error, t)
            return {}
        for position, explanation in zip(missing, found, strict=True):
            cache[keys[position]] = explanation
    return {p: cache[keys[p]] for p in positions}


def _request_explanations(data: EvaluationData, positions: list[int]) -> list[Any]:
    home = studio_ui.home()
    if data.kind == "sequence":
        indices = [data.sequence_index(position) for position in positions]
        return list(inference_client.explain_sequences(home, data.run_id, data.dataset_id, indices))
    images = [(data.names[p], Path(data.references[p]).read_bytes()) for p in positions]
    return list(inference_client.explain_images(home, data.run_id, images))


def _card_ui(
    data: EvaluationData,
    item: ExampleResult,
    explanation: Any,
    t: i18n.Translator,
    store: RunStore,
) -> None:
    if data.kind == "sequence":
        _sequence_ui(data, item.position, explanation, t, store)
    else:
        _image_ui(data, item.position, explanation, t)
    st.markdown(
        t(
            "ui.evaluate.card",
            name=item.name,
            true_class=item.true_class,
            predicted_class=item.predicted_class,
            confidence=views.format_percent(item.confidence),
        )
    )
    _mark_ui(data, item, t)


def _image_ui(data: EvaluationData, position: int, explanation: Any, t: i18n.Translator) -> None:
    path = Path(data.references[position])
    content = path.read_bytes()
    pixels = make_thumbnail(decode_image(content, path.name).pixels, THUMBNAIL_SIZE)
    heatmap = getattr(explanation, "heatmap", None)
    if heatmap is not None:
        st.image(heatmaps.overlay(pixels, heatmap), caption=t("ui.evaluate.grad_cam_caption"))
    else:
        st.image(pixels)
    st.download_button(
        t("ui.evaluate.download_example"),
        content,
        file_name=f"{Path(data.names[position]).stem}.png",
        mime="image/png",
        key=f"evaluate_download_{data.source}_{position}",
        icon=":material/download:",
    )


def _sequence_ui(
    data: EvaluationData, position: int, explanation: Any, t: i18n.Translator, store: RunStore
) -> None:
    x, feature_names = _sequence_examples(str(store.home.root), data.dataset_id)
    values = x[data.sequence_index(position)]
    values = values[np.isfinite(values).any(axis=1)]
    figure = evaluation_charts.sequence_figure(
        values,
        feature_names,
        t,
        importance=getattr(explanation, "saliency", None),
        attention=getattr(explanation, "attention", None),
    )
    st.plotly_chart(figure, key=f"evaluate_sequence_{data.source}_{position}")
    frame = pd.DataFrame(values, columns=list(feature_names))
    frame.insert(0, t("ui.chart.step"), range(len(frame)))
    st.download_button(
        t("ui.evaluate.download_example"),
        csv_download(frame),
        file_name=f"sequence-{data.names[position]}.csv",
        mime="text/csv",
        key=f"evaluate_download_{data.source}_{position}",
        icon=":material/download:",
    )


@st.cache_data(show_spinner=False, max_entries=4)
def _sequence_examples(home_root: str, dataset_id: str) -> tuple[np.ndarray, tuple[str, ...]]:
    """Return the inputs `(examples, steps, features)` and feature names of a sequence dataset.

    `home_root` is part of the cache key, because tests use several data folders.
    """
    dataset = load_sequence_dataset(dataset_id, studio_ui.store())
    return dataset.examples().x, dataset.feature_names


def _suspicious(data: EvaluationData) -> dict[int, dict[str, Any]]:
    marked: dict[tuple, dict[int, dict[str, Any]]] = st.session_state.setdefault(
        "evaluate_suspicious", {}
    )
    return marked.setdefault((data.run_id, data.source), {})


def _mark_ui(data: EvaluationData, item: ExampleResult, t: i18n.Translator) -> None:
    marked = _suspicious(data)
    key = f"evaluate_mark_{data.run_id}_{data.source}_{item.position}"
    if key not in st.session_state:
        st.session_state[key] = item.position in marked
    if st.checkbox(t("ui.evaluate.mark"), key=key, help=t("ui.evaluate.mark_help")):
        marked[item.position] = {
            "name": item.name,
            "reference": item.reference,
            "true_class": item.true_class,
            "predicted_class": item.predicted_class,
            "confidence": round(item.confidence, 4),
        }
    else:
        marked.pop(item.position, None)


def suspicious_ui(data: EvaluationData, t: i18n.Translator) -> None:
    """Show the examples marked as suspicious, with a CSV download of the list."""
    marked = _suspicious(data)
    st.subheader(t("ui.evaluate.suspicious"))
    if not marked:
        st.caption(t("ui.evaluate.suspicious_empty"))
        return
    frame = evaluation_metrics.suspicious_frame(list(marked.values()), t)
    st.dataframe(frame, hide_index=True, key="evaluate_suspicious_table")
    st.download_button(
        t("ui.evaluate.suspicious_download", count=len(marked)),
        csv_download(frame),
        file_name=f"suspicious-labels-run{data.run_id}.csv",
        mime="text/csv",
        key="evaluate_suspicious_download",
        icon=":material/download:",
    )
