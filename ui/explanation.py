"""Grad-CAM overlays of uploaded images, for the predict page.

Session state: `predict_grad_cam` (the toggle) and `predict_explanations` (the last
heat maps and the request they belong to, so a rerun does not request them again).
"""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st
from streamlit.runtime.uploaded_file_manager import UploadedFile

import studio_ui
from bigmodel import heatmaps, i18n, inference_client, views
from bigmodel.errors import BigModelError
from bigmodel.imaging import decode_image, make_thumbnail
from bigmodel.inference_client import ImageExplanation

COLUMNS = 4
THUMBNAIL_SIZE = 200


def grad_cam_ui(run_id: int, files: Sequence[UploadedFile], t: i18n.Translator) -> None:
    """Offer a Grad-CAM overlay of each image: where the model looked for its predicted class."""
    if not st.toggle(
        t("ui.evaluate.explain.image"), key="predict_grad_cam", help=t("ui.evaluate.explain_help")
    ):
        return
    try:
        explanations = _explanations(run_id, files, t)
    except BigModelError as error:
        studio_ui.show_error(error, t)
        return

    for start in range(0, len(files), COLUMNS):
        columns = st.columns(COLUMNS)
        batch = zip(
            files[start : start + COLUMNS], explanations[start : start + COLUMNS], strict=True
        )
        for column, (file, explanation) in zip(columns, batch, strict=False):
            with column:
                _overlay_ui(file, explanation, t)


def _explanations(
    run_id: int, files: Sequence[UploadedFile], t: i18n.Translator
) -> list[ImageExplanation]:
    request = (run_id, tuple(file.file_id for file in files))
    cached = st.session_state.get("predict_explanations")
    if cached is not None and cached[0] == request:
        return list(cached[1])
    images = [(file.name, file.getvalue()) for file in files]
    with st.spinner(t("ui.evaluate.explaining", count=len(images))):
        explanations = inference_client.explain_images(studio_ui.home(), run_id, images)
    st.session_state["predict_explanations"] = (request, explanations)
    return explanations


def _overlay_ui(file: UploadedFile, explanation: ImageExplanation, t: i18n.Translator) -> None:
    if explanation.error is not None:
        st.caption(views.message_of(explanation.error, file.name, t.language))
        return
    if explanation.heatmap is None:
        return
    pixels = make_thumbnail(decode_image(file.getvalue(), file.name).pixels, THUMBNAIL_SIZE)
    caption = t(
        "ui.evaluate.grad_cam_for",
        name=file.name,
        class_name=explanation.class_name,
        probability=views.format_percent(explanation.probability),
    )
    st.image(heatmaps.overlay(pixels, explanation.heatmap), caption=caption)
