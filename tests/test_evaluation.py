"""Evaluation of saved models: predictions of whole datasets, the cache, metrics and examples."""

import json
import os
from pathlib import Path

import numpy as np
import pytest

from bigmodel import evaluation, inference_client, jobs, services
from bigmodel.errors import BigModelError, DatasetError
from bigmodel.evaluation import EvaluationData
from bigmodel.image_datasets import ingest_folder
from bigmodel.prediction import Predictor
from bigmodel.sequence_datasets import SequenceSpec, ingest_sequences
from bigmodel.training import execute_run
from tests.image_factory import make_color_folders, png_bytes
from tests.processes import background

SAMPLES = Path(__file__).parent.parent / "assets" / "sequences"


@pytest.fixture
def trained_run(store, tmp_path):
    dataset = ingest_folder(make_color_folders(tmp_path / "colors"), "colors", store)
    run_id = jobs.submit_run(
        store,
        dataset.id,
        "cnn",
        model={"input_size": 16, "filters": 8, "dense_units": 16},
        training={"epochs": 2, "batch_size": 8, "patience": 0},
    )
    store.start_run(run_id, worker_pid=0)
    return execute_run(store, store.get_run(run_id))


def classification_data(y_true, y_pred, classes=("a", "b", "c")) -> EvaluationData:
    count = len(y_true)
    return EvaluationData(
        run_id=1,
        source="validation",
        dataset_id="d",
        kind="image",
        task="classification",
        class_names=tuple(classes),
        target_names=(),
        horizon=1,
        references=tuple(f"/x/{i}.png" for i in range(count)),
        names=tuple(f"{i}.png" for i in range(count)),
        y_true=np.asarray(y_true, dtype=np.int64),
        y_pred=np.asarray(y_pred, dtype=np.float32),
    )


# Computing and caching, with TensorFlow


def test_validation_split_is_evaluated(store, trained_run):
    data = evaluation.compute_evaluation(store, trained_run.id)

    split = json.loads((store.home.run_dir(trained_run.id) / "split.json").read_text())
    assert len(data) == len(split["validation"])
    assert data.class_names == ("blue", "red")
    assert data.y_pred.shape == (len(data), 2)
    np.testing.assert_allclose(data.y_pred.sum(axis=1), 1.0, atol=1e-5)
    assert all(Path(reference).is_file() for reference in data.references)


def test_evaluation_matches_predict_path(store, trained_run):
    data = evaluation.compute_evaluation(store, trained_run.id)
    predictor = Predictor(Path(trained_run.model_path))

    images = [
        (name, Path(path).read_bytes())
        for name, path in zip(data.names, data.references, strict=True)
    ]
    predictions = predictor.predict_images(images, top_k=2)

    for row, prediction in zip(data.y_pred, predictions, strict=True):
        by_class = dict(prediction["top"])
        expected = [by_class[name] for name in data.class_names]
        np.testing.assert_allclose(row, expected, atol=1e-5)


def test_cache_round_trips(store, trained_run):
    computed = evaluation.compute_evaluation(store, trained_run.id)

    loaded = evaluation.load_evaluation(store, trained_run.id)

    assert loaded is not None
    assert loaded.references == computed.references
    assert loaded.names == computed.names
    np.testing.assert_array_equal(loaded.y_true, computed.y_true)
    np.testing.assert_array_equal(loaded.y_pred, computed.y_pred)


def test_cache_is_stale_after_model_changes(store, trained_run):
    evaluation.compute_evaluation(store, trained_run.id)
    model = Path(trained_run.model_path)
    status = model.stat()

    os.utime(model, ns=(status.st_atime_ns, status.st_mtime_ns + 1_000_000_000))

    assert evaluation.load_evaluation(store, trained_run.id) is None


def test_never_evaluated_loads_none(store, trained_run):
    assert evaluation.load_evaluation(store, trained_run.id) is None


def test_test_set_unknown_class_rejected(store, trained_run, tmp_path):
    folder = make_color_folders(tmp_path / "other", per_class=3)
    (folder / "blue").rename(folder / "green")
    dataset = ingest_folder(folder, "other", store)

    with pytest.raises(DatasetError) as raised:
        evaluation.compute_evaluation(store, trained_run.id, dataset.id)

    assert raised.value.key == "evaluation.classes_mismatch"
    assert "green" in str(raised.value)


def test_test_set_is_evaluated_whole(store, trained_run, tmp_path):
    folder = make_color_folders(tmp_path / "test", per_class=3, seed=7)
    dataset = ingest_folder(folder, "test", store)

    data = evaluation.compute_evaluation(store, trained_run.id, dataset.id)

    assert data.source == dataset.id
    assert len(data) == 6
    assert evaluation.load_evaluation(store, trained_run.id, dataset.id) is not None
    assert evaluation.load_evaluation(store, trained_run.id) is None


def test_service_evaluates_for_the_page(store, trained_run):
    with background(store.home, services.INFERENCE):
        count = inference_client.evaluate(store.home, trained_run.id)

    loaded = evaluation.load_evaluation(store, trained_run.id)
    assert loaded is not None
    assert count == len(loaded)


def test_service_rejects_unknown_classes(store, trained_run, tmp_path):
    folder = make_color_folders(tmp_path / "other", per_class=3)
    (folder / "red").rename(folder / "green")
    dataset = ingest_folder(folder, "other", store)

    with background(store.home, services.INFERENCE), pytest.raises(BigModelError) as raised:
        inference_client.evaluate(store.home, trained_run.id, dataset.id)

    assert raised.value.key == "evaluation.classes_mismatch"


# Sequences


def gunpoint_rows(start: int, count: int) -> bytes:
    lines = (SAMPLES / "GunPoint_TRAIN.csv").read_bytes().splitlines(keepends=True)
    return b"".join([lines[0], *lines[1 + start : 1 + start + count]])


@pytest.fixture
def sequence_run(store):
    spec = SequenceSpec("wide", "label", max_length=60)
    dataset = ingest_sequences(gunpoint_rows(0, 16), "gp.csv", spec, "gp", store)
    run_id = jobs.submit_run(
        store,
        dataset.id,
        "cnn1d",
        model={"conv_filters": 8},
        training={"epochs": 2, "batch_size": 8, "patience": 0},
    )
    store.start_run(run_id, worker_pid=0)
    return execute_run(store, store.get_run(run_id))


def test_sequence_validation_and_test_file(store, sequence_run):
    run = sequence_run
    validation = evaluation.compute_evaluation(store, run.id)
    assert validation.kind == "sequence"
    assert validation.y_pred.shape == (len(validation), 2)

    # A test file ingested with its full length still fits the model's 60 steps.
    longer = SequenceSpec("wide", "label")
    test_set = ingest_sequences(gunpoint_rows(16, 10), "test.csv", longer, "test", store)
    tested = evaluation.compute_evaluation(store, run.id, test_set.id)
    assert len(tested) == 10
    assert set(tested.y_true.tolist()) <= {0, 1}


def test_sequence_test_file_other_task_rejected(store, sequence_run):
    run = sequence_run
    # The same file read as regression has a task that the model does not have.
    spec = SequenceSpec("wide", "label", task="regression")
    other = ingest_sequences(gunpoint_rows(16, 6), "test.csv", spec, "as values", store)

    with pytest.raises(DatasetError) as raised:
        evaluation.compute_evaluation(store, run.id, other.id)

    assert raised.value.key == "evaluation.columns_mismatch"


# Metrics, without TensorFlow


def test_summary_of_classification():
    data = classification_data(
        [0, 0, 1, 1, 2],
        [[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.1, 0.8, 0.1], [0.3, 0.6, 0.1], [0.0, 0.4, 0.6]],
    )

    summary = evaluation.summarize(data)

    assert summary.accuracy == pytest.approx(0.8)
    np.testing.assert_array_equal(summary.confusion, [[1, 1, 0], [0, 2, 0], [0, 0, 1]])
    np.testing.assert_allclose(summary.confusion_normalized[0], [0.5, 0.5, 0.0])
    table = summary.class_table.set_index("class")
    assert table.loc["a", "recall"] == pytest.approx(0.5)
    assert table.loc["b", "precision"] == pytest.approx(2 / 3)
    assert table.loc["c", "f1"] == pytest.approx(1.0)
    assert table["support"].tolist() == [2, 2, 1]


def test_threshold_gives_accuracy_and_coverage():
    data = classification_data(
        [0, 0, 1, 1], [[0.95, 0.05, 0], [0.4, 0.6, 0], [0.3, 0.7, 0], [0.45, 0.55, 0]]
    )

    summary = evaluation.summarize(data, threshold=0.65)

    assert summary.threshold_coverage == pytest.approx(0.5)
    assert summary.threshold_accuracy == pytest.approx(1.0)
    assert summary.curve.coverage[0] == pytest.approx(1.0)
    assert summary.curve.accuracy[0] == pytest.approx(0.75)
    assert np.isnan(summary.curve.accuracy[-1])


def test_class_without_examples_has_zero_row():
    data = classification_data([0, 1], [[0.9, 0.1, 0.0], [0.1, 0.9, 0.0]])

    summary = evaluation.summarize(data)

    np.testing.assert_array_equal(summary.confusion_normalized[2], [0.0, 0.0, 0.0])


def test_mistakes_most_confident_first():
    data = classification_data(
        [0, 0, 1, 2, 2],
        [[0.2, 0.8, 0], [0.4, 0.6, 0], [0.1, 0.9, 0], [0.05, 0.95, 0], [0, 0, 1]],
    )

    found = evaluation.mistakes(data)

    assert [mistake.position for mistake in found] == [3, 0, 1]
    assert found[0].true_class == "c"
    assert found[0].predicted_class == "b"
    assert found[0].confidence == pytest.approx(0.95)
    assert [m.position for m in evaluation.mistakes(data, true_class="a", limit=1)] == [0]


def test_examples_of_one_confusion_cell():
    data = classification_data(
        [0, 0, 1, 2], [[0.2, 0.8, 0], [0.4, 0.6, 0], [0.1, 0.9, 0], [0, 0, 1]]
    )

    cell = evaluation.examples(data, true_class="a", predicted_class="b")

    assert [example.position for example in cell] == [0, 1]


def test_summary_of_regression():
    data = EvaluationData(
        run_id=1,
        source="validation",
        dataset_id="d",
        kind="sequence",
        task="regression",
        class_names=(),
        target_names=("y",),
        horizon=1,
        references=("0", "1", "2", "3"),
        names=("a", "b", "c", "d"),
        y_true=np.asarray([[1.0], [2.0], [3.0], [4.0]], dtype=np.float32),
        y_pred=np.asarray([[1.5], [2.0], [2.0], [4.0]], dtype=np.float32),
    )

    summary = evaluation.summarize(data)

    assert summary.mae == pytest.approx(0.375)
    assert summary.rmse == pytest.approx(np.sqrt(1.25 / 4))
    assert summary.r2 == pytest.approx(1 - 1.25 / 5.0)
    np.testing.assert_allclose(summary.residuals, [-0.5, 0.0, 1.0, 0.0])
    assert evaluation.largest_errors(data) == [2, 0, 1, 3]


def test_forecast_metrics_per_target():
    # Two targets, horizon 2: outputs run (ahead 1: p, q), (ahead 2: p, q).
    y_true = np.asarray([[1, 10, 2, 20], [3, 30, 4, 40]], dtype=np.float32)
    y_pred = y_true + np.asarray([[1, 0, 1, 0], [1, 0, 1, 0]], dtype=np.float32)
    data = EvaluationData(
        run_id=1,
        source="validation",
        dataset_id="d",
        kind="sequence",
        task="forecast",
        class_names=(),
        target_names=("p", "q"),
        horizon=2,
        references=("0", "1"),
        names=("s", "s"),
        y_true=y_true,
        y_pred=y_pred,
    )

    summary = evaluation.summarize(data)

    table = summary.target_table.set_index("target")
    assert table.loc["p", "mae"] == pytest.approx(1.0)
    assert table.loc["q", "mae"] == pytest.approx(0.0)
    assert table.loc["p", "count"] == 4
    assert summary.mae == pytest.approx(0.5)
    assert summary.output_target.tolist() == [0, 1, 0, 1, 0, 1, 0, 1]


def test_fit_length_pads_and_cuts():
    x = np.ones((2, 5, 1), dtype=np.float32)

    assert evaluation.fit_length(x, 3).shape == (2, 3, 1)
    padded = evaluation.fit_length(x, 7)
    assert padded.shape == (2, 7, 1)
    assert np.isnan(padded[:, 5:]).all()


# Explanations through the service


def test_service_explains_images(store, trained_run):
    images = [("red.png", png_bytes((220, 30, 30))), ("broken.png", b"not an image")]

    with background(store.home, services.INFERENCE):
        explained = inference_client.explain_images(store.home, trained_run.id, images)

    assert explained[0].class_name == "red"
    assert explained[0].heatmap is not None
    assert explained[0].heatmap.ndim == 2
    assert explained[0].heatmap.max() <= 1.0
    assert explained[0].error is None
    assert explained[1].heatmap is None
    assert explained[1].error["key"] == "errors.image_unknown_format"


def test_service_explains_sequences(store, sequence_run):
    with background(store.home, services.INFERENCE):
        explained = inference_client.explain_sequences(
            store.home, sequence_run.id, sequence_run.dataset_id, [0, 3]
        )

    assert [item.index for item in explained] == [0, 3]
    assert explained[0].saliency.shape == (60,)
    assert explained[0].attention is None
    assert explained[0].output in (0, 1)


def test_run_without_split_is_explained(store, trained_run):
    (store.home.run_dir(trained_run.id) / "split.json").unlink()

    with pytest.raises(DatasetError) as raised:
        evaluation.compute_evaluation(store, trained_run.id)

    assert raised.value.key == "evaluation.split_missing"
