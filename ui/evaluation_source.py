"""The evaluate page's inputs: the model, the labelled examples, and the evaluation itself.

Session state: `evaluate_model` (the chosen run), `evaluate_source` (validation split
or test set) and `evaluate_test_upload`. Query parameters: `model` (the run id) and
`test` (the id of the test set), so a refresh shows the same evaluation.
"""

from __future__ import annotations

from pathlib import PurePath

import streamlit as st

import studio_ui
from bigmodel import evaluation, i18n, inference_client, views
from bigmodel.errors import BigModelError
from bigmodel.evaluation import EvaluationData
from bigmodel.store import Run, RunStore

VALIDATION = "validation"
TEST_SET = "test"


def model_picker_ui(models: list[Run], t: i18n.Translator) -> Run:
    """Choose a run with a saved model; the first choice comes from the `model` query parameter."""
    by_id = {run.id: run for run in models}
    if st.session_state.get("evaluate_model") not in by_id:
        requested = st.query_params.get("model", "")
        chosen = int(requested) if requested.isdigit() and int(requested) in by_id else None
        st.session_state["evaluate_model"] = chosen or views.default_model(models).id

    run_id = st.selectbox(
        t("ui.evaluate.model"),
        list(by_id),
        format_func=lambda run_id: views.model_label(by_id[run_id], t),
        key="evaluate_model",
    )
    if st.query_params.get("model") != str(run_id):
        st.query_params["model"] = str(run_id)
        st.query_params.pop("test", None)
    return by_id[run_id]


def source_ui(run: Run, t: i18n.Translator, store: RunStore) -> str | None:
    """Choose the labelled examples: the run's validation split, or a test set to upload.

    Returns:
        The id of the test set, or None for the validation split.

    Stops the page while a test set is chosen but not uploaded yet.
    """
    if "evaluate_source" not in st.session_state:
        st.session_state["evaluate_source"] = (
            TEST_SET if st.query_params.get("test") else VALIDATION
        )
    source = st.segmented_control(
        t("ui.evaluate.source"),
        (VALIDATION, TEST_SET),
        format_func=lambda name: t(f"ui.evaluate.source_{name}"),
        required=True,
        key="evaluate_source",
    )
    if source == VALIDATION:
        st.query_params.pop("test", None)
        return None

    dataset_id = _test_upload_ui(run, t, store)
    if dataset_id is None:
        dataset_id = st.query_params.get("test")
    if not dataset_id:
        st.stop()
    return dataset_id


def _test_upload_ui(run: Run, t: i18n.Translator, store: RunStore) -> str | None:
    """Ingest an uploaded test set, a zip of class folders or a CSV file, and return its id."""
    kind = views.model_kind(run)
    st.caption(t(f"ui.evaluate.test_help.{kind}"))
    upload = st.file_uploader(
        t(f"ui.evaluate.test_file.{kind}"),
        type=["zip"] if kind == "image" else ["csv", "txt", "tsv"],
        key="evaluate_test_upload",
    )
    if upload is None:
        return None
    if not st.button(t("ui.evaluate.test_button"), key="evaluate_test_add", type="primary"):
        return None

    name = PurePath(upload.name).stem
    try:
        with st.spinner(t("ui.evaluate.reading_test")):
            if kind == "image":
                dataset_id = evaluation.ingest_test_images(store, run, upload.getvalue(), name).id
            else:
                dataset = evaluation.ingest_test_sequences(
                    store, run, upload.getvalue(), upload.name, name
                )
                dataset_id = dataset.id
    except BigModelError as error:
        studio_ui.show_error(error, t)
        st.stop()
    st.query_params["test"] = dataset_id
    return dataset_id


def evaluation_ui(
    run: Run, dataset_id: str | None, t: i18n.Translator, store: RunStore
) -> EvaluationData | None:
    """Return the evaluation of the run's model on the examples, having it computed once.

    The prediction service computes it the first time and caches it in the run
    folder; later visits read the cache. Errors are shown, and give None.
    """
    data = evaluation.load_evaluation(store, run.id, dataset_id)
    if data is not None:
        return data
    try:
        with st.spinner(t("ui.evaluate.running")):
            inference_client.evaluate(studio_ui.home(), run.id, dataset_id)
    except BigModelError as error:
        studio_ui.show_error(error, t)
        return None
    return evaluation.load_evaluation(store, run.id, dataset_id)
