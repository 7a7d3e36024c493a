"""Predict: drop images or a sequence CSV on a trained model and see what it predicts.

The prediction service, not this page, loads the model, so the web server never
imports TensorFlow. Session state: `predict_results` (the last image predictions, so
a rerun does not request them again); `ui.sequence_predict` and `ui.batch_predict`
list their own keys.
Query parameter: `model`, the id of the chosen run.
"""

import streamlit as st

import studio_ui
from bigmodel import inference_client, views
from bigmodel.errors import BigModelError
from bigmodel.imaging import decode_image, make_thumbnail
from bigmodel.inference_client import Prediction
from bigmodel.store import COMPLETED, STOPPED, Run
from ui import batch_predict, explanation, sequence_predict

t = studio_ui.translator()
store = studio_ui.store()

TOP_K = 3
PREVIEW_SIZE = 224


def model_picker_ui(models: list[Run]) -> Run:
    by_id = {run.id: run for run in models}
    if st.session_state.get("predict_model") not in by_id:
        requested = st.query_params.get("model", "")
        known = requested.isdigit() and int(requested) in by_id
        st.session_state["predict_model"] = (
            int(requested) if known else views.default_model(models).id
        )

    run_id = st.selectbox(
        t("ui.predict.model"),
        list(by_id),
        format_func=lambda run_id: views.model_label(by_id[run_id], t),
        key="predict_model",
    )
    st.query_params["model"] = str(run_id)
    return by_id[run_id]


def predict(run: Run, files: list) -> list[Prediction]:
    """Request predictions for all files at once, and reuse them while the files stay the same."""
    request = (run.id, tuple(file.file_id for file in files))
    cached = st.session_state.get("predict_results")
    if cached is not None and cached[0] == request:
        return list(cached[1])

    images = [(file.name, file.getvalue()) for file in files]
    with st.spinner(t("ui.predict.running", count=len(images))):
        predictions = inference_client.predict_images(studio_ui.home(), run.id, images, top_k=TOP_K)
    st.session_state["predict_results"] = (request, predictions)
    return predictions


def preview_ui(name: str, data: bytes) -> None:
    """Show the image as the model receives it, decoded by the same rule with EXIF orientation."""
    try:
        decoded = decode_image(data, name)
    except BigModelError:
        st.caption(t("ui.predict.no_preview"))
        return
    st.image(make_thumbnail(decoded.pixels, PREVIEW_SIZE))
    st.caption(t("ui.predict.size", width=decoded.width, height=decoded.height))


def prediction_ui(name: str, data: bytes, prediction: Prediction, threshold: float) -> None:
    with st.container(border=True):
        image_column, result_column = st.columns([1, 2])
        with image_column:
            preview_ui(name, data)
        with result_column:
            st.markdown(f"**{name}**")
            if prediction.error:
                st.error(
                    views.message_of(prediction.error, name, t.language), icon=":material/error:"
                )
            for label, probability in prediction.top:
                st.progress(
                    probability,
                    text=t(
                        "ui.predict.class_probability",
                        label=label,
                        probability=views.format_percent(probability),
                    ),
                )
            batch_predict.uncertain_note_ui(prediction, threshold, t)
            for warning in prediction.warnings:
                st.warning(views.message_of(warning, name, t.language), icon=":material/warning:")


st.title(t("ui.predict.title"))
st.caption(t("ui.predict.intro"))

models = [run for run in store.list_runs([COMPLETED, STOPPED]) if run.has_model]
if not models:
    st.info(t("ui.predict.no_model"))
    st.page_link("app_pages/train.py", label=t("ui.nav.train"), icon=":material/model_training:")
    st.stop()

run = model_picker_ui(models)
if views.model_kind(run) == "sequence":
    sequence_predict.predict_ui(run, t, store)
    st.stop()

classes = (run.results or {}).get("classes", [])
st.caption(t("ui.predict.classes", classes=", ".join(map(str, classes))))
threshold = batch_predict.threshold_ui(t)
if batch_predict.mode_ui(t) == "batch":
    batch_predict.batch_ui(run, threshold, t)
    st.stop()

files = st.file_uploader(t("ui.predict.files"), accept_multiple_files=True, key="predict_files")
if not files:
    st.caption(t("ui.predict.files_hint"))
    st.stop()

try:
    predictions = predict(run, files)
except BigModelError as error:
    studio_ui.show_error(error, t)
    st.stop()

for file, prediction in zip(files, predictions, strict=True):
    prediction_ui(file.name, file.getvalue(), prediction, threshold)

explanation.grad_cam_ui(run.id, files, t)
