"""The predict page's confidence threshold and its batch mode for many images.

The batch mode takes zip files, many images at once or a folder, sends them to the
inference service in chunks with a progress bar (`batch_prediction.predict_batch`),
and shows one table that can be filtered, sorted and downloaded as CSV. The rules
(which rows are uncertain, what the table and the CSV file contain) are in
`bigmodel.prediction_tables`; this module only draws them.

Session state: `predict_batch_results` (the last table and the request it belongs to,
so a rerun, such as a change of filter, does not predict again). Widget keys start
with `predict_`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import pandas as pd
import streamlit as st
from streamlit.runtime.uploaded_file_manager import UploadedFile

import studio_ui
from bigmodel import batch_prediction, i18n, inference_client, prediction_tables, views
from bigmodel.config import DEFAULT_THRESHOLD
from bigmodel.errors import BigModelError
from bigmodel.inference_client import Prediction
from bigmodel.store import Run

TOP_K = 3
MODES = ("single", "batch")
SORT_ORDERS = {
    "file": ("file", False),
    "prediction": ("prediction", False),
    "confidence_low": ("confidence", False),
    "confidence_high": ("confidence", True),
}
"""Sort choices of the batch table: the column and whether it sorts in descending order."""


def threshold_ui(t: i18n.Translator) -> float:
    """Draw the minimum-confidence slider and return the threshold from 0 to 1."""
    percent = st.slider(
        t("batch.threshold"),
        min_value=0,
        max_value=100,
        value=round(100 * DEFAULT_THRESHOLD),
        step=5,
        format="%d%%",
        key="predict_threshold",
        help=t("batch.threshold_help"),
    )
    return percent / 100


def mode_ui(t: i18n.Translator) -> str:
    """Let the user choose between a few images with previews and a batch with a table."""
    return str(
        st.radio(
            t("batch.mode"),
            MODES,
            format_func=lambda mode: t(f"batch.mode_option.{mode}"),
            horizontal=True,
            key="predict_mode",
        )
    )


def uncertain_note_ui(prediction: Prediction, threshold: float, t: i18n.Translator) -> None:
    """Mark a single image's prediction whose confidence is below the threshold."""
    if not prediction.top:
        return
    confidence = prediction.top[0][1]
    if prediction_tables.is_uncertain(confidence, threshold):
        st.warning(
            t(
                "batch.single_uncertain",
                confidence=views.format_percent(confidence),
                threshold=views.format_percent(threshold),
            ),
            icon=":material/help:",
        )


def batch_ui(run: Run, threshold: float, t: i18n.Translator) -> None:
    """Collect zips, images or a folder, predict them in chunks and show the table."""
    uploads = st.file_uploader(t("batch.files"), accept_multiple_files=True, key="predict_batch")
    folder = st.file_uploader(
        t("batch.folder"), accept_multiple_files="directory", key="predict_batch_folder"
    )
    files = [*(uploads or []), *(folder or [])]
    if not files:
        st.caption(t("batch.hint"))
        return

    try:
        table = _predict(run, files, t)
    except BigModelError as error:
        studio_ui.show_error(error, t)
        return
    if _all_failed(table):
        st.warning(t("batch.no_images", skipped=len(table)), icon=":material/warning:")
    table_ui(prediction_tables.mark_uncertain(table, threshold), run, t)


def _all_failed(table: pd.DataFrame) -> bool:
    return bool(table["error"].notna().all())


def _predict(run: Run, files: Sequence[UploadedFile], t: i18n.Translator) -> pd.DataFrame:
    """Predict the uploads once with a progress bar, and reuse the table while they stay."""
    request = (run.id, tuple(file.file_id for file in files))
    cached = st.session_state.get("predict_batch_results")
    if cached is not None and cached[0] == request:
        return cached[1]  # type: ignore[no-any-return]

    predict_chunk = functools.partial(
        inference_client.predict_images, studio_ui.home(), run.id, top_k=TOP_K
    )
    uploads = [(file.name, file.getvalue()) for file in files]
    with batch_prediction.batch_from_uploads(uploads) as batch:
        bar = st.progress(0.0, text=t("batch.progress", done=0, total=len(batch.images)))

        def show_progress(done: int, total: int) -> None:
            bar.progress(done / total, text=t("batch.progress", done=done, total=total))

        predictions = batch_prediction.predict_batch(
            batch.images,
            predict_chunk,
            chunk_size=batch_prediction.CHUNK_SIZE,
            on_progress=show_progress,
        )
        table = prediction_tables.image_table(predictions, batch.skipped)
    bar.empty()
    st.session_state["predict_batch_results"] = (request, table)
    return table


def table_ui(table: pd.DataFrame, run: Run, t: i18n.Translator) -> None:
    """Show the marked table with its summary, filters, sort order and download."""
    failed = int(table["error"].notna().sum())
    st.info(
        t(
            "batch.summary",
            images=len(table) - failed,
            uncertain=int(table["uncertain"].sum()),
            failed=failed,
        ),
        icon=":material/table_view:",
    )
    classes = [str(name) for name in (run.results or {}).get("classes", [])]
    view = _filtered_ui(table, classes, t)
    frame = prediction_tables.display_frame(view, t)
    st.dataframe(frame, hide_index=True, column_config=confidence_column(t))
    download_ui(frame, "predictions.csv", t)


def _filtered_ui(table: pd.DataFrame, classes: list[str], t: i18n.Translator) -> pd.DataFrame:
    class_column, order_column = st.columns([3, 2])
    chosen = class_column.multiselect(
        t("batch.classes"),
        classes,
        key="predict_batch_classes",
        placeholder=t("batch.classes_placeholder"),
    )
    order = order_column.selectbox(
        t("batch.sort"),
        list(SORT_ORDERS),
        format_func=lambda name: t(f"batch.sort_option.{name}"),
        key="predict_batch_sort",
    )
    uncertain_column, failed_column = st.columns(2)
    uncertain_only = uncertain_column.toggle(t("batch.uncertain_only"), key="predict_uncertain")
    failed_only = failed_column.toggle(t("batch.failed_only"), key="predict_failed")

    view = prediction_tables.filter_table(table, chosen, uncertain_only, failed_only)
    column, descending = SORT_ORDERS[order]
    return prediction_tables.sort_table(view, column, descending)


def confidence_column(t: i18n.Translator) -> dict[str, st.column_config.Column]:
    """Draw the confidence column as a bar with its percentage."""
    name = t("ui.predict.column.confidence")
    return {name: st.column_config.ProgressColumn(name, format="percent", min_value=0, max_value=1)}


def download_ui(frame: pd.DataFrame, file_name: str, t: i18n.Translator) -> None:
    """Offer the shown rows as CSV in UTF-8 with a byte-order mark."""
    st.download_button(
        t("batch.download", rows=len(frame)),
        prediction_tables.csv_bytes(frame),
        file_name=file_name,
        mime="text/csv",
        key="predict_download",
        icon=":material/download:",
    )
