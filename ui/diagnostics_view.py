"""The run view's diagnostics: findings in plain language, each with buttons that retrain.

A remedy button stores a retrain request in the session state key `train_retrain`
(dataset, family and the run's settings with the remedy's change) and switches to the
train page. There `apply_retrain_request` fills the new-run form from it before the
form's widgets are drawn, so one more click on Start trains with the change.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import streamlit as st

import studio_ui
from bigmodel import diagnostics, i18n, sequence_views
from bigmodel.architectures import DEFAULT_PRESET, get_family
from bigmodel.errors import SettingsError
from bigmodel.settings import TrainingSettings, specs
from bigmodel.store import MetricRow, Run

logger = logging.getLogger(__name__)

RETRAIN_KEY = "train_retrain"
TRAIN_PAGE = "app_pages/train.py"


def run_facts(
    run: Run, history: Sequence[MetricRow], summary: Mapping[str, Any] | None
) -> diagnostics.RunFacts:
    """Collect what the diagnostics read about `run`; results only once it has finished."""
    return diagnostics.RunFacts(
        history=[row.values for row in history],
        family=run.family,
        settings=run.settings,
        task=sequence_views.run_task(run.results, summary),
        class_counts=(summary or {}).get("counts") or {},
        results=None if run.is_active else run.results,
    )


def diagnostics_ui(facts: diagnostics.RunFacts, run: Run, t: i18n.Translator) -> None:
    """Show each diagnostic as a warning, with one button per remedy."""
    try:
        found = diagnostics.diagnose(facts)
    except SettingsError as error:
        # Settings stored by an older version may no longer validate; the run is still shown.
        logger.warning("Run %s: no diagnostics, its settings are invalid: %s", run.id, error)
        return
    if not found:
        return
    st.markdown(f"**{t('ui.diagnostics.heading')}**")
    if run.is_active:
        st.caption(t("ui.diagnostics.live"))
    for diagnostic in found:
        st.warning(t(diagnostic.message_key, **diagnostic.params), icon=":material/troubleshoot:")
        for remedy in diagnostic.remedies:
            _remedy_button_ui(diagnostic, remedy, run, t)


def _remedy_button_ui(
    diagnostic: diagnostics.Diagnostic,
    remedy: diagnostics.Remedy,
    run: Run,
    t: i18n.Translator,
) -> None:
    clicked = st.button(
        t(remedy.label_key, **remedy.params),
        key=f"train_remedy_{diagnostic.key}_{remedy.key}",
        help=t("ui.diagnostics.remedy_help"),
        icon=":material/replay:",
    )
    if not clicked:
        return
    st.session_state[RETRAIN_KEY] = {
        "dataset_id": run.dataset_id,
        "family": run.family,
        "settings": diagnostics.retrain_settings(run.settings, run.family, remedy),
    }
    st.switch_page(TRAIN_PAGE)


def retrain_requested() -> bool:
    return RETRAIN_KEY in st.session_state


def apply_retrain_request(dataset_ids: Sequence[str]) -> None:
    """Fill the new-run form from a pending retrain request, then forget the request.

    A request for a dataset that no longer exists is dropped, and the form keeps its values.
    """
    request = st.session_state.pop(RETRAIN_KEY, None)
    if request is None or request["dataset_id"] not in dataset_ids:
        return
    family = get_family(request["family"])
    settings = request["settings"]
    st.session_state["train_dataset"] = request["dataset_id"]
    st.session_state["train_family"] = family.name
    # The family picker applies the preset when the family changes, which would
    # overwrite the values below.
    st.session_state["train_form_family"] = family.name
    st.session_state["train_preset"] = settings.get("preset") or DEFAULT_PRESET
    studio_ui.set_form_values(
        specs(family.settings_class), settings["model"], f"train_{family.name}"
    )
    studio_ui.set_form_values(specs(TrainingSettings), settings["training"], "train_training")
