"""The train page's view of one run: progress or outcome, the live chart, diagnostics, the log.

The view reads the run store, and its buttons (`ui.run_controls`) change the run
through `bigmodel.jobs`. While the run is active, `run_view_ui` redraws
it every `REFRESH_SECONDS` in a fragment, so the rest of the page stays still.
"""

from __future__ import annotations

import streamlit as st

import studio_ui
from bigmodel import charts, glossary, i18n, jobs, sequence_views, services, views
from bigmodel.architectures import DEFAULT_PRESET
from bigmodel.errors import RunNotFoundError
from bigmodel.store import (
    COMPLETED,
    FAILED,
    RESUMABLE_STATUSES,
    RUNNING,
    STOPPED,
    Run,
    RunStore,
)
from ui import diagnostics_view, run_controls

REFRESH_SECONDS = 1.0


def _outcome_ui(run: Run, t: i18n.Translator) -> None:
    """Show how a finished run ended. A failure is shown as an error, never as a result."""
    results = run.results or {}
    result = views.result_text(results, t)
    if run.status == COMPLETED:
        st.success(t("ui.train.completed", result=result), icon=":material/check_circle:")
    elif run.status == STOPPED and run.has_model:
        st.info(t("ui.train.stopped", result=result), icon=":material/stop_circle:")
    elif run.status == STOPPED and run.resume_epoch is not None:
        st.info(t("ui.runs.stopped_while_paused"), icon=":material/stop_circle:")
    elif run.status == STOPPED:
        st.info(t("ui.train.stopped_before_start"), icon=":material/stop_circle:")
    elif run.status == FAILED:
        message = views.run_error_message(run, t.language) or t("ui.train.failed_unknown")
        st.error(message, icon=":material/error:")
    if results:
        _result_metrics_ui(results, t)


def _result_metrics_ui(results: dict, t: i18n.Translator) -> None:
    """Show the validation result of the task, the loss, the epochs and the time."""
    if results.get("val_mae") is not None:
        unit = ", ".join(results.get("targets") or ())
        metrics = [
            (t("ui.train.metric.val_mae", unit=unit), views.format_number(results["val_mae"])),
            (t("ui.train.metric.val_rmse", unit=unit), views.format_number(results["val_rmse"])),
        ]
        terms = ["mae", "rmse"]
    else:
        accuracy = views.format_percent(results.get("val_accuracy"))
        metrics = [(t("ui.train.metric.val_accuracy"), accuracy)]
        terms = ["accuracy"]
    metrics += [
        (t("ui.train.metric.val_loss"), f"{results['val_loss']:.4f}"),
        (t("ui.train.metric.epochs"), results["epochs_trained"]),
        (t("ui.train.metric.time"), views.format_duration(results["training_seconds"], t)),
    ]
    helps = [glossary.metric_help(term, t) for term in [*terms, "loss"]]
    helps += [t("glossary.setting.epochs"), None]
    columns = st.columns(len(metrics))
    for column, (label, value), help_text in zip(columns, metrics, helps, strict=True):
        column.metric(label, value, help=help_text)


def _progress_ui(run: Run, t: i18n.Translator, store: RunStore) -> None:
    run_controls.active_controls_ui(run, t, store)

    progress = run.progress
    if run.status != RUNNING or not progress:
        _queued_ui(run, t, store)
        return
    st.progress(float(progress["fraction"]), text=views.progress_text(progress, t))
    st.caption(
        t(
            "ui.train.timing",
            elapsed=views.format_duration(progress.get("elapsed"), t),
            eta=views.format_duration(progress.get("eta"), t),
        )
    )


def _queued_ui(run: Run, t: i18n.Translator, store: RunStore) -> None:
    run_controls.queued_resume_ui(run, t)
    slots = services.worker_slots(studio_ui.home())
    if slots is None:
        st.warning(t("ui.train.worker_not_running"), icon=":material/warning:")
        return
    position, length = jobs.queue_position(store, run.id)
    if position:
        st.info(
            t("ui.train.queued", position=position, length=length, slots=slots),
            icon=":material/schedule:",
        )
    else:
        st.info(t("ui.train.waiting"), icon=":material/schedule:")


def run_log_ui(run: Run, t: i18n.Translator, store: RunStore) -> None:
    """Offer the run's own log, its last part shown and the whole for download."""
    log = jobs.run_log(store, run.id)
    if not log:
        return
    with st.expander(t("ui.train.log"), icon=":material/description:"):
        st.code(log[-20_000:], language=None, wrap_lines=True)
        st.download_button(
            t("ui.train.log_download"),
            log,
            file_name=f"run-{run.id}.log",
            mime="text/plain",
            key="train_log_download",
        )


def _run_view_ui(run_id: int, was_active: bool, t: i18n.Translator, store: RunStore) -> None:
    run = store.get_run(run_id)
    if was_active and not run.is_active:
        st.rerun()  # A full rerun registers this view again, without the timer.

    st.subheader(t("ui.train.run_heading", id=run.id, name=run.name))
    st.caption(
        t(
            "ui.train.run_caption",
            status=views.status_label(run.status, t),
            family=t(f"ui.family.{run.family}"),
            preset=t(f"ui.preset.{run.settings.get('preset', DEFAULT_PRESET)}"),
            created=views.format_timestamp(run.created_at),
        )
    )
    if run.is_active:
        _progress_ui(run, t, store)
    elif run.status in RESUMABLE_STATUSES:
        run_controls.resume_ui(run, t, store)
    else:
        _outcome_ui(run, t)
    epoch_rows = store.get_metrics(run.id, "epoch")
    run_controls.learning_rate_ui(run, epoch_rows, t)

    steps = int((run.progress or {}).get("steps") or 1)
    summary = _dataset_summary(run.dataset_id, store)
    task = sequence_views.run_task(run.results, summary)
    figure = charts.training_curves_figure(
        epoch_rows,
        store.get_metrics(run.id, "batch"),
        steps,
        t,
        metrics=sequence_views.default_metrics(task),
    )
    st.plotly_chart(figure, key="train_curves")
    diagnostics_view.diagnostics_ui(diagnostics_view.run_facts(run, epoch_rows, summary), run, t)


def _dataset_summary(dataset_id: str, store: RunStore) -> dict | None:
    try:
        return store.get_dataset(dataset_id).summary
    except RunNotFoundError:
        return None  # The chart then assumes classification until metrics arrive.


def run_view_ui(run: Run, t: i18n.Translator, store: RunStore) -> None:
    """Draw the run, redrawn from the store every second while it is active."""
    every = REFRESH_SECONDS if run.is_active else None
    st.fragment(_run_view_ui, run_every=every)(run.id, run.is_active, t, store)
