"""The data page's sequence part: bundled samples, and a CSV upload checked before it is stored.

An upload goes through three steps on one screen. First `inspect_csv` reads it and
proposes a layout. The form below then lets the user correct every choice, and each
change inspects the file again. Last, the button stores it with `ingest_sequences`.

Session state: `data_seq_file` (the upload whose proposal fills the form),
`data_seq_values` (the form's values, kept while a widget is hidden),
`data_seq_columns` (the file's columns and kinds), `data_seq_inspection` (the last
inspection and the spec it used), `data_csv_round` (renews the uploader after a
store) and `data_csv_stored` (the message shown after the rerun that follows a
store). All of them except the round are removed when the upload is removed or
stored, so the raw file is kept only while it is under inspection.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePath

import pandas as pd
import streamlit as st

import studio_ui
from bigmodel import i18n, sequence_views, views
from bigmodel.errors import BigModelError
from bigmodel.samples import SEQUENCE_SAMPLES, load_sequence_sample
from bigmodel.sequence_datasets import (
    SequenceDataset,
    SequenceInspection,
    SequenceSpec,
    ingest_sequences,
    inspect_csv,
)
from bigmodel.store import RunStore
from ui import sequence_form, sequence_summary

STATE_KEYS = ("data_seq_file", "data_seq_values", "data_seq_columns", "data_seq_inspection")

Choose = Callable[[str], None]


# Samples


def samples_ui(t: i18n.Translator, store: RunStore, choose: Choose) -> None:
    """Offer each bundled sequence sample as one button that ingests it."""
    st.markdown(t("ui.data.seq_samples"))
    for name in SEQUENCE_SAMPLES:
        text, button = st.columns([3, 1], vertical_alignment="center")
        text.markdown(t(f"ui.data.seq_sample.{name}"))
        clicked = button.button(
            t("ui.data.seq_sample_button"), key=f"data_seq_sample_{name}", width="stretch"
        )
        if not clicked:
            continue
        dataset = _ingest(lambda name=name: load_sequence_sample(name, store), t, choose)
        if dataset is not None:
            st.toast(_ingested_message(dataset, t), icon=":material/check_circle:")


def _ingest(
    make: Callable[[], SequenceDataset], t: i18n.Translator, choose: Choose
) -> SequenceDataset | None:
    """Run one ingest call, show its error if it raises one, and choose the new dataset."""
    try:
        with st.spinner(t("ui.data.seq_reading")):
            dataset = make()
    except BigModelError as error:
        studio_ui.show_ingest_error(error, t)
        return None
    choose(dataset.id)
    return dataset


def _ingested_message(dataset: SequenceDataset, t: i18n.Translator) -> str:
    return t(
        "ui.data.seq_ingested",
        name=views.dataset_display_name(dataset.name, t),
        sequences=dataset.summary.get("num_sequences", 0),
        examples=dataset.summary.get("num_examples", 0),
    )


# Upload


def csv_upload_ui(t: i18n.Translator, store: RunStore, choose: Choose) -> None:
    """Read an uploaded CSV file, let the user correct its layout, and store it on request."""
    st.write(t("ui.data.csv_help"))
    stored = st.session_state.pop("data_csv_stored", None)
    if stored:
        st.success(stored, icon=":material/check_circle:")

    round_number = st.session_state.setdefault("data_csv_round", 0)
    upload = st.file_uploader(t("ui.data.csv_label"), key=f"data_csv_{round_number}")
    if upload is None:
        forget_upload()
        return

    data = upload.getvalue()
    try:
        if st.session_state.get("data_seq_file") != upload.file_id:
            _start_form(upload.file_id, upload.name, data)
    except BigModelError as error:
        forget_upload()
        studio_ui.show_error(error, t)
        return

    reading_box = st.container()
    with st.container(border=True):
        st.markdown(t("ui.data.seq_form_heading"))
        spec = sequence_views.spec_from_values(sequence_form.spec_form_ui(t))
    inspection = _inspect(upload.file_id, upload.name, data, spec)
    with reading_box:
        reading_ui(inspection, t)
    understood_ui(inspection, t)
    _store_ui(inspection, spec, data, upload.name, t, store, choose)


def forget_upload() -> None:
    """Remove the upload's form and inspection from the session."""
    for key in STATE_KEYS:
        st.session_state.pop(key, None)
    for key in [
        key for key in st.session_state if str(key).startswith(sequence_form.WIDGET_PREFIX)
    ]:
        if not str(key).startswith("data_seq_sample_"):
            st.session_state.pop(key, None)


def _start_form(file_id: str, source: str, data: bytes) -> None:
    """Inspect a new upload with the proposed layout and fill the form with the proposal."""
    forget_upload()
    proposal = inspect_csv(data, source)
    st.session_state["data_seq_values"] = sequence_views.spec_values(proposal.spec)
    st.session_state["data_seq_columns"] = [
        (column.name, column.kind) for column in proposal.columns
    ]
    spec = sequence_views.spec_from_values(st.session_state["data_seq_values"])
    st.session_state["data_seq_inspection"] = (file_id, spec, proposal)
    st.session_state["data_seq_file"] = file_id


def _inspect(file_id: str, source: str, data: bytes, spec: SequenceSpec) -> SequenceInspection:
    """Inspect the upload with `spec`, or return the last inspection if nothing changed."""
    memo = st.session_state.get("data_seq_inspection")
    if memo is not None and memo[0] == file_id and memo[1] == spec:
        return memo[2]  # type: ignore[no-any-return]
    inspection = inspect_csv(data, source, spec)
    st.session_state["data_seq_inspection"] = (file_id, spec, inspection)
    return inspection


# What the studio read and understood


def reading_ui(inspection: SequenceInspection, t: i18n.Translator) -> None:
    """Show how the file was decoded, its first rows, and the role of each column."""
    st.markdown(
        t(
            "ui.data.seq_reading_line",
            encoding=sequence_views.encoding_label(inspection.encoding, t),
            separator=sequence_views.separator_label(inspection.separator, t),
            decimal=sequence_views.decimal_label(inspection.decimal, t),
            rows=inspection.num_rows,
            columns=len(inspection.columns),
        )
    )
    if inspection.percent_columns:
        st.info(t("ui.data.seq_percent", columns=", ".join(inspection.percent_columns)))
    if inspection.preview is not None:
        st.caption(t("ui.data.seq_preview", count=len(inspection.preview)))
        st.dataframe(sequence_views.blank_missing(inspection.preview), hide_index=True)

    st.caption(t("ui.data.seq_columns"))
    rows = pd.DataFrame(sequence_views.column_rows(inspection.columns, t))
    columns = ("column", "kind", "role", "missing", "invalid")
    rows = rows.rename(columns={name: t(f"ui.seq.column.{name}") for name in columns})
    st.dataframe(rows, hide_index=True)
    for text in sequence_views.dropped_column_texts(inspection.dropped_columns, t.language):
        st.caption(text)


def understood_ui(inspection: SequenceInspection, t: i18n.Translator) -> None:
    """Show what the chosen layout makes of the file, or why it cannot be used."""
    st.subheader(t("ui.data.seq_understood"))
    if inspection.problem is not None:
        st.error(inspection.problem.message(t.language), icon=":material/error:")
        _bad_cells_ui(inspection, t)
        return
    assert inspection.summary is not None
    sequence_summary.summary_ui(inspection.summary, t, "data_seq")
    _bad_cells_ui(inspection, t)
    sequence_summary.notices_ui(inspection.notices, t)


def _bad_cells_ui(inspection: SequenceInspection, t: i18n.Translator) -> None:
    """List example cells without a number, by row and value, with the choice made for them."""
    examples = inspection.cells_by_column()
    if not examples:
        return
    st.markdown(t("ui.data.seq_bad_cells", count=len(inspection.cells)))
    rows = pd.DataFrame(sequence_views.bad_cell_rows(examples, t))
    columns = ("column", "row", "value", "problem")
    rows = rows.rename(columns={name: t(f"ui.seq.column.{name}") for name in columns})
    # A data frame shows cell text as it is; st.table would render "-" as a bullet.
    st.dataframe(rows, hide_index=True)
    policy = t(f"ui.choice.cleaning.{inspection.spec.cleaning}")
    st.caption(t("ui.data.seq_bad_cells_choice", policy=policy))


def _store_ui(
    inspection: SequenceInspection,
    spec: SequenceSpec,
    data: bytes,
    source: str,
    t: i18n.Translator,
    store: RunStore,
    choose: Choose,
) -> None:
    name = st.text_input(
        t("ui.data.name_label"), key="data_seq_name", placeholder=PurePath(source).stem
    )
    clicked = st.button(
        t("ui.data.seq_store"),
        key="data_seq_store",
        type="primary",
        disabled=inspection.problem is not None,
        icon=":material/save:",
    )
    if not clicked:
        return
    dataset_name = name.strip() or PurePath(source).stem
    dataset = _ingest(lambda: ingest_sequences(data, source, spec, dataset_name, store), t, choose)
    if dataset is None:
        return
    # A new uploader key empties the widget, so the raw file leaves the session.
    forget_upload()
    st.session_state["data_csv_round"] = st.session_state.get("data_csv_round", 0) + 1
    st.session_state["data_csv_stored"] = _ingested_message(dataset, t)
    st.rerun()
