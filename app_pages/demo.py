"""Demo: what a trained model can do, in plain words, for people who never open the train page.

The result comes from the evaluation of the run's validation split, which the
inference service computes once and caches, so this page never imports TensorFlow.
Query parameters: `model` (the run shown) and `present=1` (presentation mode for a
projector: no sidebar, no model picker, large type). `ui.demo_view` lists the
session state keys.
"""

import streamlit as st

import studio_ui
from bigmodel import evaluation
from bigmodel.errors import BigModelError
from bigmodel.store import COMPLETED, STOPPED
from ui import demo_view

t = studio_ui.translator()
store = studio_ui.store()

present = demo_view.presentation_mode_ui(t)
models = [run for run in store.list_runs([COMPLETED, STOPPED]) if run.has_model]
if not models:
    st.title(t("demo.title"))
    st.info(t("demo.no_model"))
    st.page_link("app_pages/train.py", label=t("ui.nav.train"), icon=":material/model_training:")
    st.stop()

run = demo_view.choose_model(models, t, present)
st.title(t("demo.title_model", name=run.name))
try:
    data = demo_view.evaluation_of(run, store, t)
except BigModelError as error:
    studio_ui.show_error(error, t)
    st.stop()
summary = evaluation.summarize(data)

demo_view.headline_ui(data, summary, t)
chart_column, try_column = st.columns([3, 2], gap="large")
with chart_column:
    demo_view.result_chart_ui(data, summary, t)
with try_column:
    demo_view.try_it_ui(run, t)
demo_view.examples_ui(data, store, t)
demo_view.limits_ui(run, data, summary, t)
if present:
    demo_view.leave_presentation_ui(t)
