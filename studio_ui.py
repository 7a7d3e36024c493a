"""Streamlit glue shared by the pages: language, run store, services, errors and the settings form.

The core (`bigmodel/`) never imports Streamlit, so everything that touches session
state, query parameters or widgets for more than one page lives here. Session state
keys: `language` and `translator` (the session's language), `services_started`.
Query parameter: `lang`, so a refresh keeps the language.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import streamlit as st

from bigmodel import glossary, i18n, services, views
from bigmodel.config import Home
from bigmodel.errors import BigModelError
from bigmodel.settings import Kind, SettingSpec
from bigmodel.store import RunStore

LANGUAGE_NAMES = {"zh-CN": "简体中文", "en": "English"}
SETTINGS_COLUMNS = 3


def _requested_language() -> str:
    """Pick the language: the `lang` query parameter, the session's, or the browser's."""
    requested = st.query_params.get("lang")
    if requested:
        return i18n.normalize_language(requested)
    if "language" in st.session_state:
        return str(st.session_state["language"])
    return i18n.normalize_language(st.context.locale)


def translator() -> i18n.Translator:
    """Return the session's translator, and keep its language in the URL."""
    language = _requested_language()
    st.session_state["language"] = language
    if st.query_params.get("lang") != language:
        st.query_params["lang"] = language

    current = st.session_state.get("translator")
    if current is None or current.language != language:
        current = i18n.Translator(language)
        st.session_state["translator"] = current
    return current


def _switch_language() -> None:
    language = st.session_state["app_language"]
    st.session_state["language"] = language
    st.query_params["lang"] = language


def language_switch_ui(t: i18n.Translator) -> None:
    """Draw the language switch; a change reruns the app in the chosen language."""
    st.session_state["app_language"] = t.language
    st.radio(
        t("ui.app.language"),
        i18n.LANGUAGES,
        format_func=LANGUAGE_NAMES.__getitem__,
        key="app_language",
        horizontal=True,
        on_change=_switch_language,
    )


# Streamlit 1.67 writes the upload button and the size limit of `st.file_uploader` in
# English only. These rules hide its words (font size 0) and show the catalog's instead;
# the selectors are Streamlit's own test ids. The file types after the limit are dropped.
_UPLOADER_CSS = """
<style>
[data-testid="stFileUploaderDropzone"] button [data-testid="stMarkdownContainer"] p,
[data-testid="stFileUploaderDropzoneInstructions"] span {{ font-size: 0; }}
[data-testid="stFileUploaderDropzone"] button [data-testid="stMarkdownContainer"] p::after {{
  content: "{upload}"; font-size: 0.875rem; }}
[data-testid="stFileUploaderDropzone"]:has(input[webkitdirectory])
  button [data-testid="stMarkdownContainer"] p::after {{ content: "{upload_folder}"; }}
[data-testid="stFileUploaderDropzoneInstructions"] span::after {{
  content: "{limit}"; font-size: 0.875rem; }}
</style>
"""


def uploader_texts_ui(t: i18n.Translator) -> None:
    """Put the session's language on the texts that Streamlit's file uploader draws."""
    megabytes = int(st.get_option("server.maxUploadSize"))
    size = f"{megabytes // 1024} GB" if megabytes % 1024 == 0 else f"{megabytes} MB"
    texts = {
        "upload": t("ui.uploader.upload"),
        "upload_folder": t("ui.uploader.upload_folder"),
        "limit": t("ui.uploader.limit", size=size),
    }
    st.html(_UPLOADER_CSS.format(**{name: _css_string(text) for name, text in texts.items()}))


def _css_string(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def home() -> Home:
    return Home.from_env()


@st.cache_resource(show_spinner=False)
def _store_for(root: str) -> RunStore:
    return RunStore(Home(Path(root)))


def store() -> RunStore:
    """Return the run store of `BIGMODEL_HOME`, one engine per data folder and process."""
    return _store_for(str(home().root))


def start_services_once() -> None:
    """Start the training worker and the prediction service once per browser session.

    `BIGMODEL_START_SERVICES=0` turns this off, for tests and for servers whose
    services are started by the operator.
    """
    if os.environ.get("BIGMODEL_START_SERVICES", "1") == "0":
        return
    if st.session_state.get("services_started"):
        return
    for service in (services.WORKER, services.INFERENCE):
        services.start(home(), service)
    st.session_state["services_started"] = True


INGEST_FAILED = "data_ingest_failed"
"""Session state flag: an upload was rejected in this script run (see `ingest_failed`)."""


def show_error(error: BigModelError, t: i18n.Translator) -> None:
    st.error(error.message(t.language), icon=":material/error:")


def show_ingest_error(error: BigModelError, t: i18n.Translator) -> None:
    """Show why an upload was rejected, and remember it for the rest of this script run."""
    show_error(error, t)
    st.session_state[INGEST_FAILED] = True


def ingest_failed() -> bool:
    """Tell whether an upload was rejected in this script run, and forget it for the next.

    The data page then leaves out the summary of the dataset chosen before, which would
    read as the result of the rejected upload.
    """
    return bool(st.session_state.pop(INGEST_FAILED, False))


def set_form_values(
    specs: Sequence[SettingSpec], values: Mapping[str, Any], key_prefix: str
) -> None:
    """Overwrite the widgets of `settings_form_ui` with `values`, such as a preset's."""
    for spec in specs:
        st.session_state[f"{key_prefix}_{spec.name}"] = values[spec.name]


def settings_form_ui(
    specs: Sequence[SettingSpec],
    values: Mapping[str, Any],
    t: i18n.Translator,
    key_prefix: str,
) -> dict[str, Any]:
    """Draw a widget for each setting and return the values the user set, by name.

    `values` fills widgets that have no value in this session yet. Labels are the
    catalog's `settings.<name>.label`, and help texts `glossary.setting_help`. Ranges
    and steps come from each spec, so the form accepts what validation accepts.
    """
    columns = st.columns(SETTINGS_COLUMNS)
    chosen: dict[str, Any] = {}
    for index, spec in enumerate(specs):
        key = f"{key_prefix}_{spec.name}"
        if key not in st.session_state:
            st.session_state[key] = values[spec.name]
        with columns[index % SETTINGS_COLUMNS]:
            chosen[spec.name] = _setting_ui(spec, t, key)
    return chosen


def _setting_ui(spec: SettingSpec, t: i18n.Translator, key: str) -> Any:
    label = t(spec.label_key)
    help_text = glossary.setting_help(spec.name, t)
    common: dict[str, Any] = {"key": key, "help": help_text, "persist_state": "session"}

    if spec.kind is Kind.BOOLEAN:
        return st.toggle(label, **common)

    if spec.kind is Kind.CHOICE:
        return st.selectbox(
            label,
            spec.choices or (),
            format_func=lambda value: views.choice_label(spec.name, value, t),
            **common,
        )

    if spec.log_scale and spec.minimum and spec.maximum:
        options = views.log_scale_options(spec.minimum, spec.maximum, st.session_state[key])
        return st.select_slider(label, options, format_func="{:g}".format, **common)

    if spec.kind is Kind.INTEGER:
        return st.number_input(
            label,
            min_value=None if spec.minimum is None else int(spec.minimum),
            max_value=None if spec.maximum is None else int(spec.maximum),
            step=int(spec.step or 1),
            **common,
        )

    step = float(spec.step or 0.01)
    return st.number_input(
        label,
        min_value=None if spec.minimum is None else float(spec.minimum),
        max_value=None if spec.maximum is None else float(spec.maximum),
        step=step,
        format="%.2f" if step >= 0.01 else "%g",
        **common,
    )
