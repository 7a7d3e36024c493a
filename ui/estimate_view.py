"""The train page's cost estimate: asked for on demand, kept per settings, with a safer setting.

The inference service computes the estimate, because this process must not import
TensorFlow. It takes a few seconds, so the page requests it only when the user presses
Estimate cost, or right after a safer setting was applied. The page shows it while the
form still has the settings it was computed for.

Session state: `train_estimate` contains the last estimate and the settings it belongs
to; `train_estimate_again` makes the next script run estimate without a click.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import streamlit as st

import studio_ui
from bigmodel import estimate_views, i18n, inference_client, views
from bigmodel.errors import BigModelError
from bigmodel.estimate_views import CostEstimate


def _settings_key(
    dataset_id: str, family: str, preset: str, model: dict[str, Any], training: dict[str, Any]
) -> str:
    settings = [dataset_id, family, preset, model, training]
    return json.dumps(settings, sort_keys=True, default=str)


def estimate_ui(
    dataset_id: str,
    family: str,
    preset: str,
    model: dict[str, Any],
    training: dict[str, Any],
    requested: bool,
    t: i18n.Translator,
) -> None:
    """Estimate the run's cost when `requested`, and show the estimate of these settings."""
    key = _settings_key(dataset_id, family, preset, model, training)
    if requested or st.session_state.pop("train_estimate_again", False):
        try:
            with st.spinner(t("estimates.running")):
                estimate = inference_client.estimate_cost(
                    studio_ui.home(), dataset_id, family, preset, model, training
                )
        except BigModelError as error:
            studio_ui.show_error(error, t)
            return
        st.session_state["train_estimate"] = {"key": key, "estimate": estimate}

    stored = st.session_state.get("train_estimate")
    if stored is not None and stored["key"] == key:
        _estimate_view_ui(stored["estimate"], family, t)


def _estimate_view_ui(estimate: CostEstimate, family: str, t: i18n.Translator) -> None:
    st.markdown(f"**{t('estimates.heading')}**")
    metrics = estimate_views.summary_metrics(estimate, t)
    for column, (label, value) in zip(st.columns(len(metrics)), metrics, strict=True):
        column.metric(label, value)
    st.caption(
        t(
            "estimates.caption",
            batches=estimate.timed_batches,
            steps=estimate.steps_per_epoch,
            validation_steps=estimate.validation_steps,
            first=views.format_duration(estimate.first_epoch_extra_seconds, t),
        )
    )

    if estimate.fits:
        st.success(t("estimates.fits"), icon=":material/check_circle:")
    else:
        _too_large_ui(estimate, family, t)

    with st.expander(t("estimates.memory_details")):
        rows = pd.DataFrame(estimate_views.memory_rows(estimate, t))
        columns = {"part": t("estimates.column_part"), "memory": t("estimates.column_memory")}
        st.dataframe(rows.rename(columns=columns), hide_index=True)


def _too_large_ui(estimate: CostEstimate, family: str, t: i18n.Translator) -> None:
    st.warning(
        t(
            "estimates.too_large",
            peak=estimate_views.format_bytes(estimate.peak_bytes),
            available=estimate_views.format_bytes(estimate.available_bytes),
            slots=estimate.slots,
        ),
        icon=":material/warning:",
    )
    if estimate.safer is None or estimate.safer_peak_bytes is None:
        st.caption(t("estimates.no_safer"))
        return

    changes = estimate_views.safer_text(estimate.safer, t)
    st.caption(
        t(
            "estimates.safer",
            changes=changes,
            peak=estimate_views.format_bytes(estimate.safer_peak_bytes),
        )
    )
    st.button(
        t("estimates.apply_safer", changes=changes),
        key="train_estimate_safer",
        icon=":material/shield:",
        on_click=_apply_safer,
        args=(family, estimate.safer),
    )


def _apply_safer(family: str, safer: dict[str, dict[str, Any]]) -> None:
    """Write the safer values into the settings form, and estimate them on the next run."""
    prefixes = {"model": f"train_{family}", "training": "train_training"}
    for group, values in safer.items():
        for name, value in values.items():
            st.session_state[f"{prefixes[group]}_{name}"] = value
    st.session_state["train_estimate_again"] = True
