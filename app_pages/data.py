"""Data: add images or a sequence CSV and see what the studio understood before any training.

Session state: `dataset_id` (the dataset chosen last, which the train page offers
first), `data_staged` (files with a typed class, waiting to become one dataset) and
`data_files_round` (renews the file uploader after each batch). `ui.sequence_data`
lists the keys of a CSV upload under inspection. Query parameter: `dataset`, so a
refresh shows the same dataset.
"""

from collections.abc import Callable
from pathlib import PurePath

import pandas as pd
import streamlit as st

import studio_ui
from bigmodel import charts, views
from bigmodel.errors import BigModelError
from bigmodel.image_datasets import ImageDataset, ingest_files, ingest_zip, load_image_dataset
from bigmodel.samples import load_image_sample
from bigmodel.sequence_datasets import load_sequence_dataset
from bigmodel.store import DatasetRecord
from ui import sequence_data, sequence_summary

t = studio_ui.translator()
store = studio_ui.store()


def _choose(dataset_id: str) -> None:
    st.session_state["dataset_id"] = dataset_id
    st.session_state["data_dataset"] = dataset_id
    st.query_params["dataset"] = dataset_id


def _ingest(make: Callable[[], ImageDataset]) -> ImageDataset | None:
    """Run one ingest call, show its error if it raises one, and choose the new dataset."""
    try:
        with st.spinner(t("ui.data.reading")):
            dataset = make()
    except BigModelError as error:
        studio_ui.show_ingest_error(error, t)
        return None

    _choose(dataset.id)
    name = views.dataset_display_name(dataset.name, t)
    st.toast(
        t("ui.data.ingested", name=name, images=len(dataset.items)), icon=":material/check_circle:"
    )
    return dataset


def sample_ui() -> None:
    st.write(t("ui.data.sample_help"))
    if st.button(t("ui.data.sample_button"), key="data_sample", type="primary"):
        _ingest(lambda: load_image_sample("digits", store))


def zip_upload_ui() -> None:
    st.write(t("ui.data.zip_help"))
    upload = st.file_uploader(t("ui.data.zip_label"), key="data_zip")
    name = st.text_input(t("ui.data.name_label"), key="data_zip_name")
    if st.button(t("ui.data.zip_button"), key="data_zip_add", disabled=upload is None):
        assert upload is not None
        dataset_name = name.strip() or PurePath(upload.name).stem
        _ingest(lambda: ingest_zip(upload.getvalue(), dataset_name, store))


def files_upload_ui() -> None:
    """Collect batches of files with one typed class each, then ingest them as one dataset."""
    st.write(t("ui.data.files_help"))
    staged: list[tuple[str, bytes, str]] = st.session_state.setdefault("data_staged", [])
    round_number = st.session_state.setdefault("data_files_round", 0)

    files = st.file_uploader(
        t("ui.data.files_label"), accept_multiple_files=True, key=f"data_files_{round_number}"
    )
    class_name = st.text_input(t("ui.data.class_label"), key="data_class").strip()
    if st.button(
        t("ui.data.add_batch"), key="data_add_batch", disabled=not files or not class_name
    ):
        staged.extend((file.name, file.getvalue(), class_name) for file in files or ())
        st.session_state["data_files_round"] = round_number + 1
        st.rerun()

    if not staged:
        return
    counts = pd.Series([class_name for _, _, class_name in staged]).value_counts(sort=False)
    st.caption(t("ui.data.staged", files=len(staged), classes=len(counts)))
    st.dataframe(
        pd.DataFrame({t("ui.data.column.class"): counts.index, t("ui.data.column.files"): counts}),
        hide_index=True,
    )
    name = st.text_input(t("ui.data.name_label"), key="data_files_name")
    create, clear = st.columns(2)
    if clear.button(t("ui.data.clear_batches"), key="data_clear"):
        staged.clear()
        st.rerun()
    if create.button(t("ui.data.create"), key="data_create", type="primary"):
        dataset_name = name.strip() or t("ui.data.default_name")
        if _ingest(lambda: ingest_files(staged, dataset_name, store)) is not None:
            staged.clear()


def dataset_picker_ui(records: list[DatasetRecord]) -> str:
    """Select a stored dataset. The first choice comes from the URL, then from the session."""
    ids = [record.id for record in records]
    labels = {record.id: views.dataset_label(record, t) for record in records}
    if st.session_state.get("data_dataset") not in ids:
        requested = st.query_params.get("dataset") or st.session_state.get("dataset_id")
        st.session_state["data_dataset"] = requested if requested in ids else ids[0]

    chosen: str = st.selectbox(
        t("ui.data.pick_label"), ids, format_func=labels.__getitem__, key="data_dataset"
    )
    st.session_state["dataset_id"] = chosen
    st.query_params["dataset"] = chosen
    return chosen


@st.cache_data(show_spinner=False, max_entries=8)
def _thumbnails(dataset_id: str, _dataset: ImageDataset) -> dict[str, list]:
    # A dataset id is the hash of its content, so the thumbnails of an id never change.
    return views.class_thumbnails(_dataset)


def overview_ui(dataset: ImageDataset) -> None:
    summary = dataset.summary()
    images, classes, skipped, ignored = st.columns(4)
    images.metric(t("ui.data.metric.images"), summary["num_images"])
    classes.metric(t("ui.data.metric.classes"), len(dataset.classes))
    skipped.metric(t("ui.data.metric.skipped"), len(dataset.skipped))
    ignored.metric(t("ui.data.metric.ignored"), len(dataset.ignored))

    st.plotly_chart(charts.class_counts_figure(dataset.counts(), t), key="data_counts")

    sizes = summary["sizes"]
    st.markdown(
        "\n".join(
            [
                "- "
                + t(
                    "ui.data.sizes",
                    minimum=views.size_text(sizes["min"]),
                    median=views.size_text(sizes["median"]),
                    maximum=views.size_text(sizes["max"]),
                ),
                "- " + t("ui.data.modes", modes=views.counts_text(summary["modes"])),
                "- " + t("ui.data.formats", formats=views.counts_text(summary["formats"])),
            ]
        )
    )


def thumbnails_ui(dataset: ImageDataset) -> None:
    st.subheader(t("ui.data.examples"))
    st.caption(t("ui.data.examples_help", count=views.THUMBNAILS_PER_CLASS))
    counts = dataset.counts()
    for class_name, thumbnails in _thumbnails(dataset.id, dataset).items():
        st.markdown(t("ui.data.class_heading", name=class_name, count=counts[class_name]))
        st.image(thumbnails, width=views.THUMBNAIL_SIZE)


def notices_ui(notices: tuple) -> None:
    """List files with their reasons; a long list scrolls, a short one shows whole sentences."""
    columns = {"file": t("ui.data.column.file"), "reason": t("ui.data.column.reason")}
    rows = pd.DataFrame(views.notice_rows(notices, t.language)).rename(columns=columns)
    if len(rows) <= views.FULL_TABLE_ROWS:
        st.table(rows, hide_index=True)
    else:
        st.dataframe(rows, hide_index=True)


def problems_ui(dataset: ImageDataset) -> None:
    if dataset.warnings:
        st.subheader(t("ui.data.warnings", count=len(dataset.warnings)))
        notices_ui(dataset.warnings)
    if dataset.skipped:
        st.subheader(t("ui.data.skipped", count=len(dataset.skipped)))
        notices_ui(dataset.skipped)
    if dataset.ignored:
        with st.expander(t("ui.data.ignored", count=len(dataset.ignored))):
            st.write(", ".join(dataset.ignored))


st.title(t("ui.data.title"))
st.caption(t("ui.data.intro"))

with st.container(border=True):
    sample_tab, zip_tab, files_tab, csv_tab = st.tabs(
        [
            t("ui.data.tab.sample"),
            t("ui.data.tab.zip"),
            t("ui.data.tab.files"),
            t("ui.data.tab.csv"),
        ]
    )
    with sample_tab:
        sample_ui()
        sequence_data.samples_ui(t, store, _choose)
    with zip_tab:
        zip_upload_ui()
    with files_tab:
        files_upload_ui()
    with csv_tab:
        sequence_data.csv_upload_ui(t, store, _choose)

records = store.list_datasets()
if not records:
    st.info(t("ui.data.empty"))
    st.stop()
if studio_ui.ingest_failed():
    st.stop()

dataset_id = dataset_picker_ui(records)
kind = next(record.kind for record in records if record.id == dataset_id)
try:
    if kind == "sequence":
        sequence_dataset = load_sequence_dataset(dataset_id, store)
    else:
        dataset = load_image_dataset(dataset_id, store)
except BigModelError as error:
    studio_ui.show_error(error, t)
    st.stop()

if kind == "sequence":
    sequence_summary.dataset_overview_ui(
        sequence_dataset.summary, sequence_dataset.spec.to_dict(), sequence_dataset.notices, t
    )
else:
    overview_ui(dataset)
    thumbnails_ui(dataset)
    problems_ui(dataset)
st.page_link(
    "app_pages/train.py",
    label=t("ui.data.next"),
    icon=":material/arrow_forward:",
    query_params={"dataset": dataset_id, "lang": t.language},
)
