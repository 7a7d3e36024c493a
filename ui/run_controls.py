"""The buttons that change a run's course: Stop, Pause, Resume and Restart, with their states.

An active run offers Stop and Pause, and shows which of them is under way. A paused or
interrupted run offers Resume from its checkpoint, or Restart from scratch when no
complete checkpoint was saved. Each click writes to the run store through
`bigmodel.jobs` and reruns the app, so that the run view redraws with its new status.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

import studio_ui
from bigmodel import checkpoints, i18n, jobs, views
from bigmodel.errors import BigModelError
from bigmodel.store import PAUSED, MetricRow, Run, RunStore

_NO_CHECKPOINT_MESSAGES = {
    checkpoints.Availability.BEST_WEIGHTS_ONLY: "ui.runs.interrupted_best_weights_only",
    checkpoints.Availability.NOTHING: "ui.runs.interrupted_nothing",
}


def _act(
    action: Callable[[RunStore, int], object], run: Run, t: i18n.Translator, store: RunStore
) -> None:
    """Apply `action` to the run and rerun the app, or show why it was rejected."""
    try:
        action(store, run.id)
    except BigModelError as error:
        studio_ui.show_error(error, t)
        return
    studio_ui.start_services_once()
    st.rerun()


def active_controls_ui(run: Run, t: i18n.Translator, store: RunStore) -> None:
    """Offer Stop and Pause for a queued or running run, and show which is under way."""
    if run.stop_requested:
        st.info(t("ui.train.stopping"), icon=":material/hourglass_top:")
        return
    if run.pause_requested:
        st.info(t("ui.runs.pausing"), icon=":material/pause_circle:")

    stop_column, pause_column, _ = st.columns([1, 1, 4])
    if stop_column.button(t("ui.train.stop"), key="train_stop", icon=":material/stop:"):
        _act(jobs.stop_run, run, t, store)
    if not run.pause_requested and pause_column.button(
        t("ui.runs.pause"), key="train_pause", icon=":material/pause:", help=t("ui.runs.pause_help")
    ):
        _act(jobs.pause_run, run, t, store)


def queued_resume_ui(run: Run, t: i18n.Translator) -> None:
    """Show the epoch after which a queued, previously paused or interrupted run continues."""
    if run.resume_epoch is None:
        return
    epochs = run.settings.get("training", {}).get("epochs")
    st.caption(t("ui.runs.queued_to_resume", epoch=run.resume_epoch, epochs=epochs))


def resume_ui(run: Run, t: i18n.Translator, store: RunStore) -> None:
    """Show why a paused or interrupted run is not training, and offer Resume or Restart."""
    option = jobs.resume_option(store, run)
    if run.status == PAUSED and run.resume_epoch is None:
        st.info(t("ui.runs.paused_before_start"), icon=":material/pause_circle:")
    elif run.status == PAUSED:
        paused = t("ui.runs.paused", epoch=run.resume_epoch, epochs=option.epochs)
        st.info(paused, icon=":material/pause_circle:")
    else:
        message = views.run_error_message(run, t.language) or t("ui.train.failed_unknown")
        st.error(message, icon=":material/error:")

    if option.can_resume:
        if run.status != PAUSED:
            resumable = t(
                "ui.runs.interrupted_resumable", epoch=option.epochs_trained, epochs=option.epochs
            )
            st.info(resumable, icon=":material/restore:")
        if st.button(
            t("ui.runs.resume"), key="train_resume", type="primary", icon=":material/play_arrow:"
        ):
            _act(jobs.resume_run, run, t, store)
        return

    st.warning(t(_NO_CHECKPOINT_MESSAGES[option.availability]), icon=":material/warning:")
    if st.button(
        t("ui.runs.restart"),
        key="train_restart",
        icon=":material/restart_alt:",
        help=t("ui.runs.restart_help"),
    ):
        _act(jobs.restart_run, run, t, store)


def learning_rate_ui(run: Run, epoch_rows: list[MetricRow], t: i18n.Translator) -> None:
    """Show the current learning rate once learning-rate reduction has lowered it."""
    start = run.settings.get("training", {}).get("learning_rate")
    rates = [row.values["learning_rate"] for row in epoch_rows if "learning_rate" in row.values]
    if start is None or not rates or rates[-1] >= start * (1 - 1e-6):
        return
    st.caption(t("ui.runs.learning_rate", rate=f"{rates[-1]:.3g}", start=f"{start:.3g}"))
