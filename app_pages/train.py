"""Train: choose a dataset, a model family and its settings, start a run and watch it live.

Training runs in the background worker. This page only writes the run to the store
and reads it back every second, so a refresh, a second tab or another user sees the
same run and chart. Query parameters: `run` (the run on view) and `dataset`.
Session state: `train_form_family`, the family whose preset fills the settings form.
Estimate cost asks the inference service what the run will cost (`ui.estimate_view`).
"""

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

import studio_ui
from bigmodel import jobs, views
from bigmodel.architectures import DEFAULT_PRESET, PRESETS, families, get_family
from bigmodel.errors import BigModelError
from bigmodel.settings import TrainingSettings, specs
from bigmodel.store import ACTIVE_STATUSES, DatasetRecord, Run
from ui import diagnostics_view, estimate_view, report_download, run_view

t = studio_ui.translator()
store = studio_ui.store()


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


# Order of the families in the picker, because the registry lists them in import order.
# The 1-D CNN comes first for sequences: with its defaults it learns the GunPoint and
# BasicMotions samples (docs/benchmarks.md), where the recurrent family's fast preset
# stayed at chance.
FAMILY_ORDER = ("cnn", "cnn1d", "rnn", "attention")


def _family_rank(name: str) -> tuple[int, str]:
    return (FAMILY_ORDER.index(name) if name in FAMILY_ORDER else len(FAMILY_ORDER), name)


def family_picker_ui(kind: str, column: DeltaGenerator) -> str:
    """Choose a family that trains on `kind` data, and fill the form with its preset on a change."""
    names = sorted((family.name for family in families(kind)), key=_family_rank)
    if st.session_state.get("train_family") not in names:
        st.session_state["train_family"] = names[0]
    family_name = str(
        column.selectbox(
            t("ui.train.family"),
            names,
            format_func=lambda name: t(f"ui.family.{name}"),
            key="train_family",
            help=t(f"ui.train.family_help.{kind}"),
        )
    )
    # Each family has its own presets, so the shared training settings follow the family.
    if st.session_state.get("train_form_family") != family_name:
        st.session_state["train_form_family"] = family_name
        if "train_preset" in st.session_state:
            _apply_preset()
    return family_name


def new_run_ui(records: list[DatasetRecord]) -> None:
    diagnostics_view.apply_retrain_request([record.id for record in records])
    dataset_id = dataset_picker_ui(records)
    record = next(record for record in records if record.id == dataset_id)
    family_column, preset_column = st.columns([1, 2])
    family_name = family_picker_ui(record.kind, family_column)
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
    # Enter in a number field only commits the field: a run starts from the button alone.
    with st.form("train_form", border=False, enter_to_submit=False):
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
        start_column, estimate_column = st.columns([1, 4])
        submitted = start_column.form_submit_button(
            t("ui.train.start"), type="primary", icon=":material/play_arrow:"
        )
        estimate_requested = estimate_column.form_submit_button(
            t("estimates.button"), icon=":material/speed:", help=t("estimates.button_help")
        )

    estimate_view.estimate_ui(
        dataset_id, family.name, preset, model, training, estimate_requested, t
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

records = store.list_datasets()
if not records:
    st.info(t("ui.train.no_dataset"))
    st.page_link("app_pages/data.py", label=t("ui.nav.data"), icon=":material/photo_library:")
    st.stop()

# A retrain request from a diagnostic's remedy opens the form even while runs are active.
expanded = not store.list_runs(ACTIVE_STATUSES) or diagnostics_view.retrain_requested()
with st.expander(t("ui.train.new_run"), expanded=expanded, icon=":material/add_circle:"):
    new_run_ui(records)

runs = store.list_runs()
run_id = views.choose_run_id(st.query_params.get("run"), runs)
if run_id is None:
    st.caption(t("ui.train.no_run"))
    st.stop()

run_view.run_view_ui(store.get_run(run_id), t, store)
run_view.run_log_ui(store.get_run(run_id), t, store)
report_download.report_ui(store.get_run(run_id), t, store)
other_runs_ui(run_id, runs)
