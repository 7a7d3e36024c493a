"""The data page's form that turns a CSV file into sequences: layout, roles and options.

`spec_form_ui` draws one widget per field of `SequenceSpec` that the chosen layout
uses and returns the values, which `sequence_views.spec_from_values` turns into a
spec. Widget keys start with `data_seq_`. The values live in the session state key
`data_seq_values` and the file's columns in `data_seq_columns`, both filled by
`ui.sequence_data` when a file arrives.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from bigmodel import i18n, sequence_views

WIDGET_PREFIX = "data_seq_"
LAYOUTS = ("wide", "long", "series")
TASKS = (sequence_views.NOT_CHOSEN, "classification", "regression", "forecast")
CLEANING = ("fill_previous", "fill_mean", "fill_zero", "drop")
LENGTH_RULES = ("pad", "truncate")
MAX_FEATURE_CHOICES = 40
"""Numeric columns up to which the features are a multiselect; wide files list more steps."""


def spec_form_ui(t: i18n.Translator) -> dict[str, Any]:
    """Draw the layout choices and return their values, as `spec_from_values` reads them.

    Widgets appear only for the layout that uses them. Values of hidden widgets stay
    in `data_seq_values`, so switching the layout back restores them.
    """
    values: dict[str, Any] = st.session_state["data_seq_values"]
    columns = [name for name, _ in st.session_state["data_seq_columns"]]
    numeric = [name for name, kind in st.session_state["data_seq_columns"] if kind == "numeric"]
    optional = [sequence_views.NOT_CHOSEN, *columns]

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


def _field_ui(values: dict[str, Any], field: str, draw: Callable[[str], Any]) -> None:
    """Draw one widget of the form, filled from `values`, and store what it returns there."""
    key = f"{WIDGET_PREFIX}{field}"
    if key not in st.session_state:
        st.session_state[key] = values.get(field)
    values[field] = draw(key)


def _label(field: str, t: i18n.Translator) -> str:
    key = f"ui.data.seq_field.{field}"
    return t(key) if key in i18n.catalog(t.language) else t(f"sequences.spec.{field}.label")


def _help(field: str, t: i18n.Translator) -> str:
    return t(f"ui.data.seq_help.{field}")


def _selectbox(
    options: tuple[Any, ...], t: i18n.Translator, catalog_prefix: str, field: str
) -> Callable[[str], Any]:
    def draw(key: str) -> Any:
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


def _column_box(options: list[str], t: i18n.Translator, field: str) -> Callable[[str], Any]:
    def draw(key: str) -> Any:
        if st.session_state.get(key) not in options:
            st.session_state[key] = sequence_views.NOT_CHOSEN
        return st.selectbox(
            _label(field, t),
            options,
            format_func=lambda value: value or t("ui.data.seq_none"),
            key=key,
            help=_help(field, t),
        )

    return draw


def _number(t: i18n.Translator, field: str, optional: bool = False) -> Callable[[str], Any]:
    def draw(key: str) -> Any:
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
    forecast = not values.get("label_column") or values.get("task") == "forecast"
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
        targets = _multiselect(numeric, t, "target_columns", "ui.data.seq_last_numeric")
        _field_ui(values, "target_columns", targets)


def _length_fields_ui(values: dict[str, Any], t: i18n.Translator) -> None:
    third = st.columns(3)
    with third[0]:
        _field_ui(values, "max_length", _number(t, "max_length", optional=True))
    with third[1]:

        def draw(key: str) -> Any:
            return st.radio(
                _label("length_rule", t),
                LENGTH_RULES,
                format_func=lambda rule: t(f"ui.choice.length_rule.{rule}"),
                key=key,
                help=_help("length_rule", t),
                horizontal=True,
            )

        _field_ui(values, "length_rule", draw)


def _multiselect(
    options: list[str], t: i18n.Translator, field: str, placeholder_key: str
) -> Callable[[str], Any]:
    def draw(key: str) -> Any:
        st.session_state[key] = [
            name for name in st.session_state.get(key) or () if name in options
        ]
        return st.multiselect(
            _label(field, t),
            options,
            key=key,
            help=_help(field, t),
            placeholder=t(placeholder_key),
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
    features = _multiselect(choices, t, "feature_columns", "ui.data.seq_all_numeric")
    _field_ui(values, "feature_columns", features)
