"""The B56 case: the red probe gets the same class and probability on both paths.

A model trained on the red and blue squares of B56_redblue.zip predicts the probe
B56_probe_red.png once through the evaluation of a test set that contains it, and
once as an upload to the predict path, both through the inference service. The
evaluate page then shows the probability that the predict page shows.
"""

import io
import zipfile
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from bigmodel import evaluation, i18n, inference_client, jobs, services, views
from bigmodel.image_datasets import ingest_zip
from bigmodel.store import COMPLETED
from bigmodel.training import execute_run
from tests.processes import background

CASES = Path(__file__).parent / "cases"
APP = str(Path(__file__).resolve().parent.parent / "app.py")
PROBE = "B56_probe_red.png"


@pytest.fixture
def store(tmp_path, monkeypatch):
    from bigmodel.config import Home
    from bigmodel.store import RunStore

    monkeypatch.setenv("BIGMODEL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("BIGMODEL_START_SERVICES", "0")
    return RunStore(Home.from_env().ensure())


@pytest.fixture
def redblue_run(store):
    dataset = ingest_zip(CASES / "B56_redblue.zip", "redblue", store)
    run_id = jobs.submit_run(
        store,
        dataset.id,
        "cnn",
        preset="fast",
        model={"input_size": 16, "filters": 8, "dense_units": 16},
        training={"epochs": 4, "batch_size": 8},
    )
    store.start_run(run_id, worker_pid=0)
    run = execute_run(store, store.get_run(run_id))
    assert run.status == COMPLETED, run.traceback
    return run


def probe_test_set() -> bytes:
    """Return a zip with the probe as a red image and one blue square of the training set."""
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(CASES / "B56_redblue.zip") as training,
        zipfile.ZipFile(buffer, "w") as archive,
    ):
        blue = next(name for name in training.namelist() if name.startswith("blue/"))
        archive.writestr("blue/blue.png", training.read(blue))
        archive.writestr(f"red/{PROBE}", (CASES / PROBE).read_bytes())
    return buffer.getvalue()


def test_probe_same_on_evaluation_and_predict(store, redblue_run):
    test_set = evaluation.ingest_test_images(store, redblue_run, probe_test_set(), "probe")

    with background(store.home, services.INFERENCE):
        inference_client.evaluate(store.home, redblue_run.id, test_set.id)
        predicted = inference_client.predict_images(
            store.home, redblue_run.id, [(PROBE, (CASES / PROBE).read_bytes())]
        )[0]

        data = evaluation.load_evaluation(store, redblue_run.id, test_set.id)
        assert data is not None
        position = next(i for i, name in enumerate(data.names) if name.endswith(PROBE))
        evaluated_class = data.class_names[int(data.predicted[position])]
        evaluated_probability = float(data.confidence[position])
        assert evaluated_class == predicted.top[0][0] == "red"
        assert evaluated_probability == pytest.approx(predicted.top[0][1], abs=1e-6)

        app = AppTest.from_file(APP, default_timeout=120)
        app.query_params["lang"] = "en"
        app.query_params["model"] = str(redblue_run.id)
        app.query_params["test"] = test_set.id
        app.run()
        app.switch_page("app_pages/evaluate.py").run()
        app.selectbox(key="evaluate_true").set_value("red").run()
        app.selectbox(key="evaluate_predicted").set_value("red").run()

    assert not app.exception
    shown = i18n.translate(
        "en",
        "ui.evaluate.card",
        name=data.names[position],
        true_class="red",
        predicted_class="red",
        confidence=views.format_percent(predicted.top[0][1]),
    )
    assert shown in [element.value for element in app.markdown]
