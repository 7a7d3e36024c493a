"""Models: every training run with its outcome, settings and environment, from the run store."""

import pandas as pd
import streamlit as st

import studio_ui
from bigmodel import glossary, sequence_views, views
from bigmodel.store import Run

t = studio_ui.translator()
store = studio_ui.store()


def runs_table_ui(runs: list[Run], dataset_names: dict[str, str]) -> None:
    rows = pd.DataFrame(views.run_rows(runs, dataset_names, t))
    config = {
        "id": st.column_config.NumberColumn(t("ui.models.column.id"), format="%d"),
        "name": t("ui.models.column.name"),
        "status": t("ui.models.column.status"),
        "dataset": t("ui.models.column.dataset"),
        "family": t("ui.models.column.family"),
        "val_accuracy": st.column_config.ProgressColumn(
            t("ui.models.column.val_accuracy"),
            format="percent",
            min_value=0,
            max_value=1,
            help=glossary.metric_help("accuracy", t),
        ),
        "val_error": st.column_config.TextColumn(
            t("ui.models.column.val_error"),
            help=f"{glossary.metric_help('mae', t)} {glossary.metric_help('rmse', t)}",
        ),
        "epochs": t("ui.models.column.epochs"),
        "parameters": st.column_config.NumberColumn(
            t("ui.models.column.parameters"),
            format="localized",
            help=glossary.metric_help("parameters", t),
        ),
        "created": t("ui.models.column.created"),
    }
    # Without regression or forecast runs the error column stays hidden, as it is empty.
    if (rows["val_error"] == "").all():
        rows = rows.drop(columns="val_error")
    st.dataframe(rows, hide_index=True, column_config=config)


def _settings_table_ui(title: str, values: dict) -> None:
    st.markdown(title)
    rows = pd.DataFrame(views.settings_rows(values, t))
    st.dataframe(
        rows.rename(columns={"setting": t("ui.models.setting"), "value": t("ui.models.value")}),
        hide_index=True,
    )


def run_details_ui(run: Run) -> None:
    label = t(
        "ui.models.details", id=run.id, name=run.name, status=views.status_label(run.status, t)
    )
    with st.expander(label):
        message = views.run_error_message(run, t.language)
        if message:
            st.error(message, icon=":material/error:")
        if run.traceback:
            st.caption(t("ui.models.traceback"))
            st.code(run.traceback, language=None)

        if run.results:
            task = sequence_views.task_label(run.results.get("task", "classification"), t)
            result = views.result_text(run.results, t)
            st.markdown(t("ui.models.result", task=task, result=result))
        model_column, training_column, environment_column = st.columns(3)
        with model_column:
            _settings_table_ui(t("ui.models.model_settings"), run.settings.get("model", {}))
        with training_column:
            _settings_table_ui(t("ui.models.training_settings"), run.settings.get("training", {}))
        with environment_column:
            st.markdown(t("ui.models.environment"))
            if run.environment:
                st.dataframe(
                    pd.DataFrame(
                        {
                            t("ui.models.library"): list(run.environment),
                            t("ui.models.version"): list(run.environment.values()),
                        }
                    ),
                    hide_index=True,
                )
            else:
                st.caption(t("ui.models.no_environment"))
        if run.model_path:
            st.caption(t("ui.models.model_path", path=run.model_path))


st.title(t("ui.models.title"))
st.caption(t("ui.models.intro"))

runs = store.list_runs()
if not runs:
    st.info(t("ui.models.empty"))
    st.page_link("app_pages/train.py", label=t("ui.nav.train"), icon=":material/model_training:")
    st.stop()

dataset_names = {record.id: record.name for record in store.list_datasets()}
runs_table_ui(runs, dataset_names)
st.subheader(t("ui.models.details_heading"))
for run in runs:
    run_details_ui(run)
