"""Evaluate: how a trained model does on labelled examples that it never trained on.

The examples are the run's validation split, or a test set uploaded here. The
prediction service predicts them once and caches the result in the run folder, so
the web server never imports TensorFlow and a revisit is immediate. `ui.evaluation_*`
list their session state keys; query parameters `model` and `test` keep the choice.
"""

import streamlit as st

import studio_ui
from bigmodel.store import COMPLETED, STOPPED
from ui import evaluation_gallery, evaluation_metrics, evaluation_source

t = studio_ui.translator()
store = studio_ui.store()

st.title(t("ui.evaluate.title"))
st.caption(t("ui.evaluate.intro"))

models = [run for run in store.list_runs([COMPLETED, STOPPED]) if run.has_model]
if not models:
    st.info(t("ui.evaluate.no_model"))
    st.page_link("app_pages/train.py", label=t("ui.nav.train"), icon=":material/model_training:")
    st.stop()

run = evaluation_source.model_picker_ui(models, t)
dataset_id = evaluation_source.source_ui(run, t, store)
data = evaluation_source.evaluation_ui(run, dataset_id, t, store)
if data is None:
    st.stop()
if len(data) == 0:
    st.info(t("ui.evaluate.no_examples"))
    st.stop()

if data.is_classification:
    summary = evaluation_metrics.classification_ui(data, t)
    matrix_column, table_column = st.columns(2, gap="large")
    with matrix_column:
        evaluation_metrics.confusion_ui(data, summary, t)
    with table_column:
        evaluation_metrics.class_table_ui(summary, t)
    true_class, predicted_class = evaluation_metrics.cell_ui(data, t)
    evaluation_gallery.gallery_ui(data, t, store, true_class, predicted_class)
    evaluation_gallery.suspicious_ui(data, t)
    evaluation_metrics.threshold_ui(summary, t)
else:
    evaluation_metrics.regression_ui(data, t)
    evaluation_gallery.largest_errors_ui(data, t, store)
