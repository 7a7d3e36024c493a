"""The train page's report download: one HTML file of a finished run, built on request.

The report needs the run's evaluation, which the inference service computes once and
caches, and the HTML is several megabytes, so it is built only after a click.
Session state: `report_file` (the run id, language and HTML of the last report).
"""

from __future__ import annotations

import streamlit as st

import studio_ui
from bigmodel import i18n, report
from bigmodel.errors import BigModelError
from bigmodel.store import Run, RunStore
from ui import demo_view


def report_ui(run: Run, t: i18n.Translator, store: RunStore) -> None:
    """Offer the report of a run with a model: a button that builds it, then its download."""
    if not run.has_model:
        return
    prepared = st.session_state.get("report_file")
    if prepared is None or prepared[:2] != (run.id, t.language):
        if not st.button(
            t("report.prepare"),
            key="report_prepare",
            help=t("report.prepare_help"),
            icon=":material/summarize:",
        ):
            return
        try:
            data = demo_view.evaluation_of(run, store, t)
            with st.spinner(t("report.preparing")):
                document = report.build_report(store, run.id, t.language, data)
        except BigModelError as error:
            studio_ui.show_error(error, t)
            return
        prepared = (run.id, t.language, document)
        st.session_state["report_file"] = prepared

    st.download_button(
        t("report.download"),
        prepared[2].encode("utf-8"),
        file_name=report.file_name(run.id, t.language),
        mime="text/html",
        key="report_download",
        icon=":material/download:",
    )
