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
from typing import Any

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
from ui import sequence_summary

STATE_KEYS = ("data_seq_file", "data_seq_values", "data_seq_columns", "data_seq_inspection")
WIDGET_PREFIX = "data_seq_"
LAYOUTS = ("wide", "long", "series")
TASKS = (None, "classification", "regression", "forecast")
CLEANING = ("fill_previous", "fill_mean", "fill_zero", "drop")
LENGTH_RULES = ("pad", "truncate")
MAX_FEATURE_CHOICES = 40
"""Numeric columns up to which the features are a multiselect; wide files list more steps."""

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
        studio_ui.show_error(error, t)
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
        spec = sequence_views.spec_from_values(spec_form_ui(t))
    inspection = _inspect(upload.file_id, upload.name, data, spec)
    with reading_box:
        reading_ui(inspection, t)
    understood_ui(inspection, t)
    _store_ui(inspection, spec, data, upload.name, t, store, choose)


def forget_upload() -> None:
    """Remove the upload's form and inspection from the session."""
    for key in STATE_KEYS:
        st.session_state.pop(key, None)
    for key in [key for key in st.session_state if str(key).startswith(WIDGET_PREFIX)]:
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


# The form


def spec_form_ui(t: i18n.Translator) -> dict[str, Any]:
    """Draw the layout choices and return their values, as `spec_from_values` reads them.

    Widgets appear only for the layout that uses them. Values of hidden widgets stay
    in `data_seq_values`, so switching the layout back restores them.
    """
    values: dict[str, Any] = st.session_state["data_seq_values"]
    columns = [name for name, _ in st.session_state["data_seq_columns"]]
    numeric = [name for name, kind in st.session_state["data_seq_columns"] if kind == "numeric"]
    optional = [None, *columns]

    first = st.columns(3)
    with first[0]:
        _field_ui(values, "layout", _selectbox(LAYOUTS, t, "sequences.layout", "layout"))
    with first[1]:
        _field_ui(values, "task", _selectbox(TASKS, t, "sequences.task", "task"))
    with first[2]:
        _field_ui(values, "cleaning", _selectbox(CLEANING, t, "ui.choice.cleaning", "cleaning"))

    layout = values["layout"]
    second = st.columns(3)
    with second[0]:
        _field_ui(values, "label_column", _column_box(optional, t, "label_column"))
    if layout != "wide":
        with second[1]:
            _field_ui(values, "id_column", _column_box(optional, t, "id_column"))
        with second[2]:
            _field_ui(values, "order_column", _column_box(optional, t, "order_column"))

    if layout == "series":
        _series_fields_ui(values, numeric, t)
    else:
        _length_fields_ui(values, t)
    _features_ui(values, numeric, layout, t)
    return values


def _field_ui(values: dict[str, Any], field: str, draw: Callable[[str, str], Any]) -> None:
    """Draw one widget of the form, filled from `values`, and store what it returns there."""
    key = f"{WIDGET_PREFIX}{field}"
    if key not in st.session_state:
        st.session_state[key] = values.get(field)
    values[field] = draw(key, field)


def _label(field: str, t: i18n.Translator) -> str:
    key = f"ui.data.seq_field.{field}"
    return t(key) if key in i18n.catalog(t.language) else t(f"sequences.spec.{field}.label")


def _help(field: str, t: i18n.Translator) -> str:
    return t(f"ui.data.seq_help.{field}")


def _selectbox(
    options: tuple[Any, ...], t: i18n.Translator, catalog_prefix: str, field: str
) -> Callable[[str, str], Any]:
    def draw(key: str, _field: str) -> Any:
        return st.selectbox(
            _label(field, t),
            options,
            format_func=lambda value: (
                t(f"{catalog_prefix}.{value}") if value else t("ui.data.seq_auto")
            ),
            key=key,
            help=_help(field, t),
        )

    return draw


def _column_box(
    options: list[str | None], t: i18n.Translator, field: str
) -> Callable[[str, str], Any]:
    def draw(key: str, _field: str) -> Any:
        if st.session_state.get(key) not in options:
            st.session_state[key] = None
        return st.selectbox(
            _label(field, t),
            options,
            format_func=lambda value: value if value is not None else t("ui.data.seq_none"),
            key=key,
            help=_help(field, t),
        )

    return draw


def _number(t: i18n.Translator, field: str, optional: bool = False) -> Callable[[str, str], Any]:
    def draw(key: str, _field: str) -> Any:
        value = st.number_input(
            _label(field, t),
            min_value=1,
            step=1,
            key=key,
            help=_help(field, t),
            placeholder=t("ui.data.seq_length_auto") if optional else None,
        )
        return None if value is None else int(value)

    return draw


def _series_fields_ui(values: dict[str, Any], numeric: list[str], t: i18n.Translator) -> None:
    forecast = values.get("label_column") is None or values.get("task") == "forecast"
    third = st.columns(3)
    with third[0]:
        if values.get("window") is None:
            values["window"] = 1
        _field_ui(values, "window", _number(t, "window"))
    if not forecast:
        return
    with third[1]:
        _field_ui(values, "horizon", _number(t, "horizon"))
    with third[2]:
        _field_ui(values, "target_columns", _multiselect(numeric, t, "target_columns"))


def _length_fields_ui(values: dict[str, Any], t: i18n.Translator) -> None:
    third = st.columns(3)
    with third[0]:
        _field_ui(values, "max_length", _number(t, "max_length", optional=True))
    with third[1]:

        def draw(key: str, field: str) -> Any:
            return st.radio(
                _label(field, t),
                LENGTH_RULES,
                format_func=lambda rule: t(f"ui.choice.length_rule.{rule}"),
                key=key,
                help=_help(field, t),
                horizontal=True,
            )

        _field_ui(values, "length_rule", draw)


def _multiselect(options: list[str], t: i18n.Translator, field: str) -> Callable[[str, str], Any]:
    def draw(key: str, _field: str) -> Any:
        st.session_state[key] = [
            name for name in st.session_state.get(key) or () if name in options
        ]
        return st.multiselect(
            _label(field, t),
            options,
            key=key,
            help=_help(field, t),
            placeholder=t("ui.data.seq_all_numeric"),
        )

    return draw


def _features_ui(
    values: dict[str, Any], numeric: list[str], layout: str, t: i18n.Translator
) -> None:
    roles = {values.get("label_column"), values.get("id_column"), values.get("order_column")}
    choices = [name for name in numeric if name not in roles]
    if layout == "wide" or len(choices) > MAX_FEATURE_CHOICES:
        chosen = [name for name in values.get("feature_columns") or () if name in choices]
        listed = chosen or choices
        key = "ui.data.seq_step_columns" if layout == "wide" else "ui.data.seq_many_features"
        st.caption(t(key, count=len(listed), columns=sequence_views.step_columns_text(listed)))
        return
    _field_ui(values, "feature_columns", _multiselect(choices, t, "feature_columns"))


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
    if inspection.preview is not None:
        st.caption(t("ui.data.seq_preview", count=len(inspection.preview)))
        st.dataframe(inspection.preview, hide_index=True)

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
    st.table(rows, hide_index=True)
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
