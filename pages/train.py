"""Train: choose a dataset, a model family and its settings, start a run and watch it live.

Training runs in the background worker. This page only writes the run to the store
and reads it back every second, so a refresh, a second tab or another user sees the
same run and chart. Query parameters: `run` (the run on view) and `dataset`.
"""

import streamlit as st

import studio_ui
from bigmodel import charts, jobs, services, views
from bigmodel.architectures import DEFAULT_PRESET, PRESETS, families, get_family
from bigmodel.errors import BigModelError
from bigmodel.settings import TrainingSettings, specs
from bigmodel.store import (
    ACTIVE_STATUSES,
    COMPLETED,
    FAILED,
    INTERRUPTED,
    RUNNING,
    STOPPED,
    DatasetRecord,
    Run,
)

t = studio_ui.translator()
store = studio_ui.store()

REFRESH_SECONDS = 1.0


def dataset_picker_ui(records: list[DatasetRecord]) -> str:
    ids = [record.id for record in records]
    labels = {record.id: views.dataset_label(record, t) for record in records}
    if st.session_state.get("train_dataset") not in ids:
        requested = st.query_params.get("dataset") or st.session_state.get("dataset_id")
        st.session_state["train_dataset"] = requested if requested in ids else ids[0]
    return str(
        st.selectbox(
            t("ui.train.dataset"), ids, format_func=labels.__getitem__, key="train_dataset"
        )
    )


def _apply_preset() -> None:
    """Fill the settings form with the chosen preset's values."""
    family = get_family(st.session_state["train_family"])
    values = jobs.preset_settings(family.name, st.session_state["train_preset"])
    studio_ui.set_form_values(specs(family.settings_class), values["model"], f"train_{family.name}")
    studio_ui.set_form_values(specs(TrainingSettings), values["training"], "train_training")


def new_run_ui(records: list[DatasetRecord]) -> None:
    dataset_id = dataset_picker_ui(records)
    kind = next(record.kind for record in records if record.id == dataset_id)
    family_column, preset_column = st.columns([1, 2])
    family_name = family_column.selectbox(
        t("ui.train.family"),
        [family.name for family in families(kind)],
        format_func=lambda name: t(f"ui.family.{name}"),
        key="train_family",
        help=t("ui.train.family_help"),
    )
    preset = preset_column.segmented_control(
        t("ui.train.preset"),
        PRESETS,
        default=DEFAULT_PRESET,
        required=True,
        format_func=lambda name: t(f"ui.preset.{name}"),
        key="train_preset",
        help=t("ui.train.preset_help"),
        on_change=_apply_preset,
    )

    family = get_family(family_name)
    defaults = jobs.preset_settings(family.name, preset)
    with st.form("train_form", border=False):
        st.markdown(t("ui.train.model_settings"))
        model = studio_ui.settings_form_ui(
            specs(family.settings_class), defaults["model"], t, f"train_{family.name}"
        )
        st.markdown(t("ui.train.training_settings"))
        training = studio_ui.settings_form_ui(
            specs(TrainingSettings), defaults["training"], t, "train_training"
        )
        name = st.text_input(
            t("ui.train.run_name"), key="train_name", placeholder=t("ui.train.run_name_hint")
        )
        submitted = st.form_submit_button(
            t("ui.train.start"), type="primary", icon=":material/play_arrow:"
        )

    if not submitted:
        return
    dataset = next(record for record in records if record.id == dataset_id)
    default_name = t(
        "ui.train.default_run_name",
        dataset=views.dataset_display_name(dataset.name, t),
        preset=t(f"ui.preset.{preset}"),
    )
    try:
        run_id = jobs.submit_run(
            store,
            dataset_id,
            family.name,
            preset=preset,
            model=model,
            training=training,
            name=name.strip() or default_name,
        )
    except BigModelError as error:
        studio_ui.show_error(error, t)
        return
    studio_ui.start_services_once()
    st.query_params["run"] = str(run_id)


def _outcome_ui(run: Run) -> None:
    """Show how a finished run ended. A failure is shown as an error, never as a result."""
    results = run.results or {}
    accuracy = views.format_percent(results.get("val_accuracy"))
    if run.status == COMPLETED:
        st.success(t("ui.train.completed", accuracy=accuracy), icon=":material/check_circle:")
    elif run.status == STOPPED and run.has_model:
        st.info(t("ui.train.stopped", accuracy=accuracy), icon=":material/stop_circle:")
    elif run.status == STOPPED:
        st.info(t("ui.train.stopped_before_start"), icon=":material/stop_circle:")
    elif run.status in (FAILED, INTERRUPTED):
        message = views.run_error_message(run, t.language) or t("ui.train.failed_unknown")
        st.error(message, icon=":material/error:")

    if results:
        val_accuracy, val_loss, epochs, seconds = st.columns(4)
        val_accuracy.metric(t("ui.train.metric.val_accuracy"), accuracy)
        val_loss.metric(t("ui.train.metric.val_loss"), f"{results['val_loss']:.4f}")
        epochs.metric(t("ui.train.metric.epochs"), results["epochs_trained"])
        seconds.metric(
            t("ui.train.metric.time"), views.format_duration(results["training_seconds"], t)
        )


def _progress_ui(run: Run) -> None:
    if run.stop_requested:
        st.info(t("ui.train.stopping"), icon=":material/hourglass_top:")
    elif st.button(t("ui.train.stop"), key="train_stop", icon=":material/stop:"):
        jobs.stop_run(store, run.id)
        st.rerun()

    progress = run.progress
    if run.status != RUNNING or not progress:
        _queued_ui(run)
        return
    st.progress(float(progress["fraction"]), text=views.progress_text(progress, t))
    st.caption(
        t(
            "ui.train.timing",
            elapsed=views.format_duration(progress.get("elapsed"), t),
            eta=views.format_duration(progress.get("eta"), t),
        )
    )


def _queued_ui(run: Run) -> None:
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


def run_log_ui(run: Run) -> None:
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


def _run_view_ui(run_id: int, was_active: bool) -> None:
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
        _progress_ui(run)
    else:
        _outcome_ui(run)

    steps = int((run.progress or {}).get("steps") or 1)
    figure = charts.training_curves_figure(
        store.get_metrics(run.id, "epoch"), store.get_metrics(run.id, "batch"), steps, t
    )
    st.plotly_chart(figure, key="train_curves")


def run_view_ui(run: Run) -> None:
    """Draw the run, redrawn from the store every second while it is active."""
    every = REFRESH_SECONDS if run.is_active else None
    st.fragment(_run_view_ui, run_every=every)(run.id, run.is_active)


def other_runs_ui(current_id: int, runs: list[Run]) -> None:
    others = [run for run in runs if run.is_active and run.id != current_id]
    if not others:
        return
    st.subheader(t("ui.train.other_active"))
    for run in others:
        text, button = st.columns([4, 1])
        progress = views.progress_text(run.progress, t) if run.progress else ""
        text.write(
            t(
                "ui.train.other_run",
                id=run.id,
                name=run.name,
                status=views.status_label(run.status, t),
                progress=progress,
            )
        )
        if button.button(t("ui.train.watch"), key=f"train_watch_{run.id}"):
            st.query_params["run"] = str(run.id)
            st.rerun()


st.title(t("ui.train.title"))
st.caption(t("ui.train.intro"))

records = store.list_datasets("image")
if not records:
    st.info(t("ui.train.no_dataset"))
    st.page_link("pages/data.py", label=t("ui.nav.data"), icon=":material/photo_library:")
    st.stop()

has_active = bool(store.list_runs(ACTIVE_STATUSES))
with st.expander(t("ui.train.new_run"), expanded=not has_active, icon=":material/add_circle:"):
    new_run_ui(records)

runs = store.list_runs()
run_id = views.choose_run_id(st.query_params.get("run"), runs)
if run_id is None:
    st.caption(t("ui.train.no_run"))
    st.stop()

run_view_ui(store.get_run(run_id))
run_log_ui(store.get_run(run_id))
other_runs_ui(run_id, runs)
