"""The demo page's parts: presentation mode, the headline, chart, examples, try-it box and limits.

Presentation mode is on when the URL has `present=1`, so a projector's bookmark opens
it directly. It hides the sidebar, the header and the model picker, and enlarges the
type. Session state: `demo_model` (the chosen run), `demo_present` (the toggle) and
`demo_try_result` (the last try-it prediction and the file it belongs to).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

import studio_ui
from bigmodel import (
    evaluation,
    i18n,
    inference_client,
    result_charts,
    sequence_views,
    showcase,
    views,
)
from bigmodel.errors import BigModelError
from bigmodel.evaluation import EvaluationData, EvaluationSummary
from bigmodel.imaging import decode_image, make_thumbnail
from bigmodel.inference_client import Prediction
from bigmodel.store import Run, RunStore

PRESENT_PARAMETER = "present"
THUMBNAIL_SIZE = 160
TRY_PREVIEW_SIZE = 280

# The selectors are Streamlit's own test ids (1.67) of the sidebar, its open button, the
# header and the main block. The root font size scales every rem-based size of the page.
PRESENTATION_CSS = """
<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"],
[data-testid="stExpandSidebarButton"], [data-testid="stHeader"] { display: none; }
html { font-size: 22px; }
[data-testid="stMainBlockContainer"] { max-width: 100%; padding: 1.5rem 3rem; }
[data-testid="stHeading"] h2 { font-size: 2.6rem; }
</style>
"""


def presentation_mode_ui(t: i18n.Translator) -> bool:
    """Return whether presentation mode is on, and offer the toggle outside it."""
    present = st.query_params.get(PRESENT_PARAMETER) == "1"
    if present:
        st.html(PRESENTATION_CSS)
        return True
    st.toggle(
        t("demo.present"),
        key="demo_present",
        help=t("demo.present_help"),
        on_change=_enter_presentation,
    )
    return False


def _enter_presentation() -> None:
    if st.session_state.get("demo_present"):
        st.query_params[PRESENT_PARAMETER] = "1"


def leave_presentation_ui(t: i18n.Translator) -> None:
    if st.button(t("demo.leave_present"), key="demo_leave", icon=":material/close_fullscreen:"):
        st.query_params.pop(PRESENT_PARAMETER, None)
        st.session_state["demo_present"] = False
        st.rerun()


def choose_model(models: list[Run], t: i18n.Translator, present: bool) -> Run:
    """Pick the run from the URL, else the newest; outside presentation mode, offer a picker."""
    by_id = {run.id: run for run in models}
    if st.session_state.get("demo_model") not in by_id:
        requested = st.query_params.get("model", "")
        known = requested.isdigit() and int(requested) in by_id
        st.session_state["demo_model"] = int(requested) if known else views.default_model(models).id
    if present:
        run_id = int(st.session_state["demo_model"])
    else:
        run_id = st.selectbox(
            t("demo.model"),
            list(by_id),
            format_func=lambda run_id: views.model_label(by_id[run_id], t),
            key="demo_model",
        )
    st.query_params["model"] = str(run_id)
    return by_id[run_id]


def evaluation_of(run: Run, store: RunStore, t: i18n.Translator) -> EvaluationData:
    """Read the run's evaluation, asking the inference service to compute it when missing.

    Raises:
        BigModelError: the service rejected the request or cannot be reached.
    """
    data = evaluation.load_evaluation(store, run.id)
    if data is not None:
        return data
    with st.spinner(t("demo.evaluating")):
        inference_client.evaluate(studio_ui.home(), run.id)
    data = evaluation.load_evaluation(store, run.id)
    if data is None:
        raise BigModelError("demo.evaluation_missing", run_id=run.id)
    return data


def headline_ui(data: EvaluationData, summary: EvaluationSummary, t: i18n.Translator) -> None:
    st.header(showcase.headline(data, summary, t), anchor=False)
    st.markdown(showcase.subline(data, summary, t))


def result_chart_ui(data: EvaluationData, summary: EvaluationSummary, t: i18n.Translator) -> None:
    """Draw the confusion matrix of a classifier, or predicted against actual values."""
    if data.is_classification and summary.confusion is not None:
        figure = result_charts.confusion_figure(summary.confusion, data.class_names, t)
    else:
        figure = result_charts.error_figure(
            np.asarray(data.y_true), np.asarray(data.y_pred), ", ".join(data.target_names), t
        )
    st.plotly_chart(figure, key="demo_result_chart")


def examples_ui(data: EvaluationData, store: RunStore, t: i18n.Translator) -> None:
    """Show the best and the worst examples, each with the model's prediction."""
    for heading, positions, key in (
        (t("demo.best"), showcase.best_positions(data), "best"),
        (t("demo.worst"), showcase.worst_positions(data), "worst"),
    ):
        st.subheader(heading, anchor=False)
        chosen = [showcase.shown_example(data, position, t) for position in positions]
        if not chosen:
            st.caption(t("demo.no_examples"))
            continue
        columns = st.columns(len(chosen))
        for column, example in zip(columns, chosen, strict=True):
            with column:
                _example_ui(data, example, store, t, f"demo_{key}_{example.position}")


def _example_ui(
    data: EvaluationData,
    example: showcase.ShownExample,
    store: RunStore,
    t: i18n.Translator,
    key: str,
) -> None:
    if data.kind == "image":
        st.image(showcase.example_thumbnail(data, example.position, THUMBNAIL_SIZE))
        st.caption(example.caption)
        return
    values = evaluation.sequence_values(store, data, example.position)
    features = _feature_names(store, data)
    forecast = showcase.forecast_of(data, example.position)
    figure = result_charts.sequence_figure(values, features, example.caption, t, forecast)
    st.plotly_chart(figure, key=key)


def _feature_names(store: RunStore, data: EvaluationData) -> list[str]:
    return list(store.get_dataset(data.dataset_id).summary.get("features") or ())


def try_it_ui(run: Run, t: i18n.Translator) -> None:
    """Take one image or CSV file and show the model's live prediction for it."""
    st.subheader(t("demo.try_heading"), anchor=False)
    if views.model_kind(run) == "sequence":
        upload = st.file_uploader(t("demo.try_csv"), key="demo_try_csv")
    else:
        upload = st.file_uploader(t("demo.try_image"), key="demo_try_image")
    if upload is None:
        st.caption(t("demo.try_hint"))
        return

    try:
        result = _try_prediction(run, upload.file_id, upload.name, upload.getvalue(), t)
    except BigModelError as error:
        studio_ui.show_error(error, t)
        return
    if isinstance(result, Prediction):
        _try_image_ui(upload.name, upload.getvalue(), result, t)
    else:
        st.dataframe(sequence_views.prediction_frame(result, t), hide_index=True)


def _try_prediction(
    run: Run, file_id: str, name: str, data: bytes, t: i18n.Translator
) -> Prediction | pd.DataFrame:
    """Request the prediction of a dropped file once, and reuse it while the file stays."""
    request = (run.id, file_id)
    cached = st.session_state.get("demo_try_result")
    if cached is not None and cached[0] == request:
        return cached[1]  # type: ignore[no-any-return]

    with st.spinner(t("demo.try_running")):
        if views.model_kind(run) == "sequence":
            result: Prediction | pd.DataFrame = inference_client.predict_sequences(
                studio_ui.home(), run.id, data, name
            )
        else:
            [result] = inference_client.predict_images(studio_ui.home(), run.id, [(name, data)])
    st.session_state["demo_try_result"] = (request, result)
    return result


def _try_image_ui(name: str, data: bytes, prediction: Prediction, t: i18n.Translator) -> None:
    picture, answer = st.columns([1, 2])
    try:
        picture.image(make_thumbnail(decode_image(data, name).pixels, TRY_PREVIEW_SIZE))
    except BigModelError:
        picture.caption(t("ui.predict.no_preview"))
    if prediction.error:
        answer.error(views.message_of(prediction.error, name, t.language), icon=":material/error:")
        return
    label, probability = prediction.top[0]
    answer.header(
        t("demo.try_answer", label=label, confidence=views.format_percent(probability)),
        anchor=False,
    )
    for other, other_probability in prediction.top[1:]:
        answer.progress(
            other_probability,
            text=t(
                "ui.predict.class_probability",
                label=other,
                probability=views.format_percent(other_probability),
            ),
        )


def limits_ui(
    run: Run, data: EvaluationData, summary: EvaluationSummary, t: i18n.Translator
) -> None:
    st.subheader(t("demo.limits"), anchor=False)
    st.markdown("\n".join(f"- {line}" for line in showcase.limits(run, data, summary, t)))
