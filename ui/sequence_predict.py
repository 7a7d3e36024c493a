"""The predict page for sequence models: a CSV file or pasted numbers in, a table and a chart out.

The prediction service reads the file in the model's layout, by the rules of the
training data, and returns one table (`inference_client.predict_sequences`). This
module only chooses the input, shows a progress bar while the file is predicted in
chunks, shows the table with a download, marks classifications below the confidence
threshold, and for a forecast draws the history and the forecast. When the user
hides the file's last values from the model, the chart shows them beside the
forecast.

Session state: `predict_sequence_results` (the last table and the request it
belongs to, so a rerun does not predict again) and `predict_sample` (the run and the
bundled sample whose test file the user chose for it).
"""

from __future__ import annotations

import hashlib
from pathlib import PurePath

import pandas as pd
import streamlit as st
from streamlit.runtime.uploaded_file_manager import UploadedFile

import studio_ui
from bigmodel import (
    i18n,
    inference_client,
    prediction_tables,
    sequence_charts,
    sequence_views,
    views,
)
from bigmodel.errors import BigModelError
from bigmodel.samples import SAMPLE_PREFIX, SEQUENCE_SAMPLES
from bigmodel.sequence_datasets import SequenceSpec, feature_names, load_sequence_dataset
from bigmodel.store import Run, RunStore
from ui import batch_predict

TOP_K = 3
CHUNK_SIZE = 1024
"""Sequences or windows per request to the inference service, between two progress steps."""


def predict_ui(run: Run, t: i18n.Translator, store: RunStore) -> None:
    """Collect a CSV file for a sequence model, predict it and show the results."""
    results = run.results or {}
    spec, sample = _training_data(run, store)
    model_caption_ui(results, spec, t)

    upload = st.file_uploader(t("ui.predict.csv"), key="predict_csv")
    pasted = _paste_ui(spec, t)
    if sample is not None:
        _sample_button_ui(run.id, sample, t)
    threshold = None
    if results.get("task") == "classification":
        threshold = batch_predict.threshold_ui(t)
    holdout = False
    if results.get("task") == "forecast" and spec is not None:
        holdout = st.toggle(
            t("ui.predict.holdout", steps=spec.horizon),
            key="predict_holdout",
            help=t("ui.predict.holdout_help"),
        )

    try:
        source, data = _chosen_input(run.id, upload, pasted, spec)
    except BigModelError as error:
        studio_ui.show_error(error, t)
        return
    if data is None:
        st.caption(t("ui.predict.csv_hint"))
        return

    try:
        table = _predict(run, source, data, spec, holdout, t)
    except BigModelError as error:
        studio_ui.show_error(error, t)
        return
    # A forecast is read best as a chart, so the chart comes before its table.
    if results.get("task") == "forecast" and spec is not None:
        forecast_ui(table, data, source, spec, holdout, t)
    results_ui(table, results, source, threshold, t)


def _training_data(run: Run, store: RunStore) -> tuple[SequenceSpec | None, str | None]:
    """Return the layout of the run's training data and the name of its bundled sample, if any.

    The saved model contains its layout, so prediction works without them. The page
    needs them only for the paste box, the sample button and the forecast chart.
    """
    try:
        dataset = load_sequence_dataset(run.dataset_id, store)
    except BigModelError:
        return None, None
    sample = dataset.name.removeprefix(SAMPLE_PREFIX)
    return dataset.spec, sample if sample in SEQUENCE_SAMPLES else None


def model_caption_ui(results: dict, spec: SequenceSpec | None, t: i18n.Translator) -> None:
    """Say what the model predicts and which columns a file for it needs."""
    task = results.get("task")
    if task == "classification":
        lines = [t("ui.predict.classes", classes=", ".join(map(str, results.get("classes", []))))]
    elif task == "forecast":
        horizon = spec.horizon if spec is not None else "?"
        lines = [
            t("ui.predict.forecasts", targets=", ".join(results.get("targets", [])), steps=horizon)
        ]
    else:
        lines = [t("ui.predict.regresses", targets=", ".join(results.get("targets", [])))]
    if spec is not None:
        needed = [name for name in (spec.id_column, spec.order_column) if name]
        needed += list(spec.feature_columns)
        lines.append(
            t(
                "ui.predict.layout",
                layout=t(f"sequences.layout.{spec.layout}"),
                columns=sequence_views.step_columns_text(needed),
            )
        )
    st.caption("  \n".join(lines))


def _paste_ui(spec: SequenceSpec | None, t: i18n.Translator) -> str:
    """Offer a box for one sequence of numbers, for wide models with one feature."""
    if spec is None or spec.layout != "wide" or len(feature_names(spec)) != 1:
        return ""
    return str(
        st.text_area(
            t("ui.predict.paste", steps=len(spec.feature_columns)),
            key="predict_paste",
            placeholder="0.12, 0.15, 0.31, …",
            height=80,
        )
    )


def _sample_button_ui(run_id: int, sample: str, t: i18n.Translator) -> None:
    test_file = SEQUENCE_SAMPLES[sample].test
    if st.button(
        t("ui.predict.sample_file", file=test_file.name),
        key="predict_sample_button",
        icon=":material/dataset:",
    ):
        st.session_state["predict_sample"] = (run_id, sample)


def _chosen_input(
    run_id: int, upload: UploadedFile | None, pasted: str, spec: SequenceSpec | None
) -> tuple[str, bytes | None]:
    """Return the input to predict: an upload, else pasted numbers, else the sample file.

    Raises:
        InvalidUploadError: the pasted text is not a sequence of numbers that fits.
    """
    if upload is not None:
        st.session_state.pop("predict_sample", None)
        return upload.name, upload.getvalue()
    if pasted.strip() and spec is not None:
        st.session_state.pop("predict_sample", None)
        data = sequence_views.pasted_sequence_csv(pasted, spec.feature_columns)
        return sequence_views.PASTED_SOURCE, data
    chosen_for, sample = st.session_state.get("predict_sample") or (None, None)
    if chosen_for == run_id and sample in SEQUENCE_SAMPLES:
        path = SEQUENCE_SAMPLES[sample].test
        return path.name, path.read_bytes()
    return "", None


def _predict(
    run: Run,
    source: str,
    data: bytes,
    spec: SequenceSpec | None,
    holdout: bool,
    t: i18n.Translator,
) -> pd.DataFrame:
    """Request the predictions of a file once, and reuse them while the request stays the same."""
    if holdout and spec is not None:
        data = sequence_views.file_without_last_steps(data, source, spec, spec.horizon)
    request = (run.id, source, hashlib.sha256(data).hexdigest())
    cached = st.session_state.get("predict_sequence_results")
    if cached is not None and cached[0] == request:
        return cached[1]  # type: ignore[no-any-return]

    bar = st.progress(0.0, text=t("ui.predict.running_sequences", file=source))

    def show_progress(done: int, total: int) -> None:
        bar.progress(
            done / max(total, 1), text=t("batch.sequence_progress", done=done, total=total)
        )

    table = inference_client.predict_sequences(
        studio_ui.home(),
        run.id,
        data,
        source,
        top_k=TOP_K,
        chunk_size=CHUNK_SIZE,
        on_progress=show_progress,
    )
    bar.empty()
    st.session_state["predict_sequence_results"] = (request, table)
    return table


def results_ui(
    table: pd.DataFrame,
    results: dict,
    source: str,
    threshold: float | None,
    t: i18n.Translator,
) -> None:
    """Show the prediction table, how it compares with the file's labels, and a download.

    With a `threshold`, classifications below it are marked uncertain in the table
    and in the CSV file.
    """
    _agreement_ui(table, results, t)
    if threshold is not None:
        table = prediction_tables.mark_uncertain(table, threshold)
    display = prediction_tables.display_frame(table, t)
    config = batch_predict.confidence_column(t) if "confidence" in table else {}
    st.dataframe(display, hide_index=True, column_config=config)
    batch_predict.download_ui(display, f"predictions-{PurePath(source).stem}.csv", t)


def _agreement_ui(table: pd.DataFrame, results: dict, t: i18n.Translator) -> None:
    if results.get("task") == "classification":
        agreement = sequence_views.agreement(table)
        if agreement is not None:
            matches, labelled = agreement
            share = views.format_percent(matches / labelled)
            st.info(
                t("ui.predict.agreement", matches=matches, labelled=labelled, share=share),
                icon=":material/fact_check:",
            )
        return
    errors = sequence_views.value_errors(table)
    if errors is not None:
        mae, rmse, count = errors
        st.info(
            t(
                "ui.predict.value_errors",
                mae=views.format_number(mae),
                rmse=views.format_number(rmse),
                count=count,
            ),
            icon=":material/fact_check:",
        )


def forecast_ui(
    table: pd.DataFrame,
    data: bytes,
    source: str,
    spec: SequenceSpec,
    holdout: bool,
    t: i18n.Translator,
) -> None:
    """Draw the history of a series, its forecast and the held-out actual values."""
    history = sequence_views.series_history(data, source, spec)
    actual = None
    if holdout:
        history, actual = sequence_views.hold_out(history, spec.horizon)

    names = list(dict.fromkeys(table["sequence"]))
    series = names[0]
    if len(names) > 1:
        series = st.selectbox(t("ui.predict.series"), names, key="predict_series")
    figure = sequence_charts.forecast_figure(
        history[history["series"] == series],
        table[table["sequence"] == series],
        None if actual is None else actual[actual["series"] == series],
        list(spec.target_columns),
        t,
    )
    st.plotly_chart(figure, key="predict_forecast")
