"""Training, saving and predicting in this process, on tiny real images and sequences."""

import json
from pathlib import Path

import keras
import numpy as np
import pytest

from bigmodel import jobs, views
from bigmodel.errors import BigModelError
from bigmodel.image_datasets import ingest_folder
from bigmodel.prediction import Predictor
from bigmodel.sequence_datasets import SequenceSpec, ingest_sequences
from bigmodel.settings import TrainingSettings
from bigmodel.splits import split_indices
from bigmodel.store import COMPLETED, FAILED, STOPPED
from bigmodel.training import _check_finite, execute_run, split_notices
from tests.image_factory import make_color_folders, png_bytes

FAST = {"epochs": 2, "batch_size": 8, "patience": 0}
SMALL_MODEL = {"input_size": 16, "filters": 8, "dense_units": 16}


@pytest.fixture
def dataset_id(store, tmp_path):
    folder = make_color_folders(tmp_path / "colors")
    return ingest_folder(folder, "colors", store).id


def _train(store, dataset_id, model=None, training=None):
    run_id = jobs.submit_run(
        store,
        dataset_id,
        "cnn",
        preset="fast",
        model={**SMALL_MODEL, **(model or {})},
        training={**FAST, **(training or {})},
    )
    assert store.start_run(run_id, worker_pid=0)
    return execute_run(store, store.get_run(run_id))


def test_run_completes_with_metrics_and_model(store, dataset_id):
    run = _train(store, dataset_id)

    assert run.status == COMPLETED, run.traceback
    assert run.results["epochs_trained"] == 2
    assert 0.0 <= run.results["val_accuracy"] <= 1.0
    assert Path(run.model_path).is_file()
    epochs = store.get_metrics(run.id, kind="epoch")
    assert [row.epoch for row in epochs] == [0, 1]
    assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(epochs[0].values)


def test_run_keeps_latest_and_best_checkpoints(store, dataset_id):
    run = _train(store, dataset_id)

    checkpoints = store.home.run_dir(run.id) / "checkpoints"
    latest = keras.models.load_model(checkpoints / "latest.keras")
    assert latest.optimizer.iterations.numpy() > 0
    assert (checkpoints / "best.weights.h5").stat().st_size > 0


def test_run_stores_split_seed_and_versions(store, dataset_id):
    run = _train(store, dataset_id)

    split = json.loads((store.home.run_dir(run.id) / "split.json").read_text())
    assert len(split["train"]) + len(split["validation"]) == 32
    assert set(split["train"]).isdisjoint(split["validation"])
    assert run.settings["training"]["seed"] == 42
    assert "tensorflow" in run.environment
    assert run.environment["replicas"] == "1"


def test_saved_model_predicts_like_the_trained_one(store, dataset_id):
    run = _train(store, dataset_id, training={"epochs": 3})
    predictor = Predictor(Path(run.model_path))

    red, blue = png_bytes((220, 30, 30)), png_bytes((30, 30, 220))
    results = predictor.predict_images([("red.png", red), ("blue.png", blue)], top_k=2)

    assert predictor.class_names == ["blue", "red"]
    assert results[0]["top"][0][0] == "red"
    assert results[1]["top"][0][0] == "blue"
    assert sum(p for _, p in results[0]["top"]) == pytest.approx(1.0, abs=1e-5)


def test_eight_by_eight_images_train(store, tmp_path):
    folder = make_color_folders(tmp_path / "tiny", size=8)
    dataset = ingest_folder(folder, "tiny", store)

    run = _train(store, dataset.id, model={"input_size": 8, "conv_blocks": 4})

    assert run.status == COMPLETED, run.traceback


def test_same_seed_gives_same_metrics(store, dataset_id):
    first = _train(store, dataset_id)
    second = _train(store, dataset_id)

    assert first.results["val_loss"] == pytest.approx(second.results["val_loss"], rel=1e-5)


def test_stop_request_ends_run_as_stopped_with_model(store, dataset_id):
    run_id = jobs.submit_run(
        store, dataset_id, "cnn", model=SMALL_MODEL, training={**FAST, "epochs": 50}
    )
    store.start_run(run_id, worker_pid=0)
    store.update_run(run_id, stop_requested=True)

    run = execute_run(store, store.get_run(run_id))

    assert run.status == STOPPED
    assert Path(run.model_path).is_file()
    assert run.results["epochs_trained"] == 1
    batches = store.get_metrics(run_id, kind="epoch")
    assert len(batches) == 1


def test_nan_loss_stops_run_with_message(store):
    """A value that overflows float32 makes the loss NaN in the first epoch.

    Ingest rejects such numbers, so the test writes one into the stored arrays, as a
    damaged or hand-made dataset file would have it.
    """
    rng = np.random.default_rng(0)
    lines = ["t0,t1,t2,t3,label"]
    for index in range(40):
        values = rng.normal(size=4) + index % 2
        lines.append(",".join(f"{value:.3f}" for value in values) + f",{'ab'[index % 2]}")
    spec = SequenceSpec("wide", "label", feature_columns=("t0", "t1", "t2", "t3"))
    data = ("\n".join(lines) + "\n").encode()
    dataset = ingest_sequences(data, "overflow.csv", spec, "overflow", store)
    arrays_path = Path(dataset.path) / "arrays.npz"
    with np.load(arrays_path, allow_pickle=False) as stored:
        arrays = dict(stored)
    arrays["values"][4, 0, 0] = 1e39
    np.savez_compressed(arrays_path, **arrays)
    run_id = jobs.submit_run(
        store,
        dataset.id,
        "cnn1d",
        model={"conv_filters": 8, "kernel_length": 3},
        training={"epochs": 3, "batch_size": 8, "patience": 0},
    )
    store.start_run(run_id, worker_pid=0)

    run = execute_run(store, store.get_run(run_id))

    assert run.status == FAILED
    assert run.error_key == "errors.loss_not_finite"
    assert run.model_path is None
    message = views.run_error_message(run, "en")
    assert "NaN" in message
    assert "(0.001)" in message
    assert len(store.get_metrics(run_id, kind="epoch")) == 1


def test_non_finite_loss_fails_with_learning_rate_message():
    training = TrainingSettings(learning_rate=0.5)

    with pytest.raises(BigModelError) as raised:
        _check_finite({"loss": [2.3, float("nan")]}, training)

    assert raised.value.key == "errors.loss_not_finite"
    assert "0.5" in str(raised.value)


def test_predictor_reports_unreadable_image(store, dataset_id):
    run = _train(store, dataset_id)
    predictor = Predictor(Path(run.model_path))

    result = predictor.predict_images([("broken.png", b"not an image")])[0]

    assert result["top"] == []
    assert result["error"]["key"] == "errors.image_unknown_format"
    assert result["name"] == "broken.png"


def test_split_keeps_every_class_in_training():
    labels = [0, 1, 1, 2, 2, 2]

    train, validation = split_indices(labels, 0.5, seed=1)

    assert {labels[i] for i in train} == {0, 1, 2}
    assert 0 not in {labels[i] for i in validation}
    assert set(train).isdisjoint(validation)
    assert len(train) + len(validation) == 6


def test_split_notices_name_missing_classes_and_small_sets():
    notices = split_notices([1, 1, 2], ["cat", "dog", "fox"])

    keys = [notice["key"] for notice in notices]
    assert keys == [
        "training.notice.validation_missing_classes",
        "training.notice.validation_small",
    ]
    assert notices[0]["params"]["classes"] == "cat"
    assert split_notices(list(range(3)) * 10, ["a", "b", "c"]) == []
