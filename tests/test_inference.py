"""The inference service as a real process, asked over HTTP on 127.0.0.1."""

import pytest

from bigmodel import inference_client, jobs, services
from bigmodel.errors import BigModelError
from bigmodel.image_datasets import ingest_folder
from bigmodel.training import execute_run
from tests.image_factory import make_color_folders, png_bytes
from tests.processes import background


@pytest.fixture
def trained_run(store, tmp_path):
    dataset = ingest_folder(make_color_folders(tmp_path / "colors"), "colors", store)
    run_id = jobs.submit_run(
        store,
        dataset.id,
        "cnn",
        model={"input_size": 16, "filters": 8, "dense_units": 16},
        training={"epochs": 3, "batch_size": 8},
    )
    store.start_run(run_id, worker_pid=0)
    return execute_run(store, store.get_run(run_id))


def test_service_predicts_like_the_model(store, trained_run):
    images = [("red.PNG", png_bytes((220, 30, 30))), ("blue.png", png_bytes((30, 30, 220)))]

    with background(store.home, services.INFERENCE):
        predictions = inference_client.predict_images(store.home, trained_run.id, images)

    assert [p.name for p in predictions] == ["red.PNG", "blue.png"]
    assert predictions[0].top[0][0] == "red"
    assert predictions[1].top[0][0] == "blue"
    assert len(predictions[0].top) == 2
    assert predictions[0].error is None


def test_service_rejects_run_without_model(store, trained_run):
    queued = jobs.submit_run(store, trained_run.dataset_id, "cnn")

    with background(store.home, services.INFERENCE), pytest.raises(BigModelError) as raised:
        inference_client.predict_images(store.home, queued, [("x.png", png_bytes((0, 0, 0)))])

    assert raised.value.key == "errors.model_not_ready"
