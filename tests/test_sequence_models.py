"""Sequence families: building, training as runs, saving, loading and predicting.

Training uses a few epochs on small slices of real data. The tests therefore check
that the path works and keeps its promises, not the accuracy, which
bench/sequence_accuracy.py measures.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

from bigmodel import cli, inference_client, jobs, sequence_pipeline, services, training
from bigmodel.architectures import PRESETS, families, get_family
from bigmodel.errors import BigModelError
from bigmodel.sequence_datasets import SequenceSpec, ingest_sequences, load_sequence_dataset
from bigmodel.sequence_prediction import SequencePredictor
from bigmodel.settings import from_dict
from bigmodel.store import COMPLETED
from tests.processes import background, environment

CASES = Path(__file__).parent / "cases"
SAMPLES = Path(__file__).parent.parent / "assets" / "sequences"
ROOT = Path(__file__).resolve().parent.parent
FAMILIES = ("rnn", "attention", "cnn1d")
FAST = {"epochs": 2, "batch_size": 8, "patience": 0}
SMALL = {
    "rnn": {"units": 8},
    "attention": {"encoder_blocks": 1, "embed_dim": 16, "ff_dim": 16},
    "cnn1d": {"conv_filters": 8},
}


def gunpoint_subset(rows: int = 16) -> bytes:
    """Return the header and the first `rows` series of the GunPoint training file."""
    lines = (SAMPLES / "GunPoint_TRAIN.csv").read_bytes().splitlines(keepends=True)
    return b"".join(lines[: rows + 1])


def gunpoint_spec() -> SequenceSpec:
    steps = tuple(f"t{i}" for i in range(150))
    return SequenceSpec("wide", "label", feature_columns=steps, max_length=60)


def train(store, dataset_id: str, family: str, **training_settings):
    run_id = jobs.submit_run(
        store,
        dataset_id,
        family,
        preset="fast",
        model=SMALL[family],
        training={**FAST, **training_settings},
    )
    assert store.start_run(run_id, worker_pid=0)
    return training.execute_run(store, store.get_run(run_id))


@pytest.fixture
def gunpoint(store):
    return ingest_sequences(gunpoint_subset(), "GunPoint_TRAIN.csv", gunpoint_spec(), "gp", store)


# Building


@pytest.mark.parametrize("family_name", FAMILIES)
def test_every_preset_builds(family_name):
    family = get_family(family_name)
    spec = {
        "task": "classification",
        "length": 12,
        "features": 3,
        "feature_mean": [0.0, 1.0, 2.0],
        "feature_std": [1.0, 1.0, 2.0],
    }

    for preset in PRESETS:
        settings = from_dict(
            family.settings_class, jobs.preset_settings(family_name, preset)["model"]
        )
        model = family.build(settings, spec, 4)
        assert model.output.shape == (None, 4)
        keras.backend.clear_session()


def test_sequence_families_registered():
    assert {family.name for family in families("sequence")} == set(FAMILIES)


@pytest.mark.parametrize(
    ("family_name", "changes"),
    [("rnn", {}), ("attention", {"positions": "sinusoidal"}), ("cnn1d", {})],
)
def test_padding_does_not_change_outputs(family_name, changes):
    family = get_family(family_name)
    settings = from_dict(family.settings_class, {**SMALL[family_name], **changes})
    spec = {
        "task": "classification",
        "features": 2,
        "feature_mean": [0.5, 1.0],
        "feature_std": [1.0, 2.0],
    }
    short = np.random.default_rng(0).normal(size=(2, 3, 2)).astype("float32")
    padded = np.full((2, 7, 2), np.nan, dtype="float32")
    padded[:, :3] = short

    long_model = family.build(settings, {**spec, "length": 7}, 3)
    short_model = family.build(settings, {**spec, "length": 3}, 3)
    short_model.set_weights(long_model.get_weights())

    np.testing.assert_allclose(long_model(padded), short_model(short), atol=1e-5)


def test_attention_rejects_heads_not_dividing_embedding():
    family = get_family("attention")
    settings = from_dict(family.settings_class, {"embed_dim": 20, "num_heads": 8})
    spec = {
        "task": "classification",
        "length": 4,
        "features": 1,
        "feature_mean": [0.0],
        "feature_std": [1.0],
    }

    with pytest.raises(BigModelError) as raised:
        family.build(settings, spec, 2)

    assert raised.value.key == "sequences.heads_not_divisor"


# Training, saving and loading


def test_each_family_reloads_in_fresh_process(store, gunpoint, tmp_path, monkeypatch):
    probe = gunpoint.examples().x[:5]
    before: dict[str, np.ndarray] = {}
    save_model = training.saved_models.save_model

    def save_and_record(model, folder, meta):
        before[meta["family"]] = np.asarray(model(probe, training=False))
        return save_model(model, folder, meta)

    monkeypatch.setattr(training.saved_models, "save_model", save_and_record)
    paths = {}
    for family in FAMILIES:
        run = train(store, gunpoint.id, family)
        assert run.status == COMPLETED, run.traceback
        assert run.results["epochs_trained"] == 2
        epochs = store.get_metrics(run.id, kind="epoch")
        assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(epochs[-1].values)
        paths[family] = run.model_path

    np.save(tmp_path / "probe.npy", probe)
    after = _predict_in_fresh_process(paths, tmp_path / "probe.npy", tmp_path, store.home)
    for family in FAMILIES:
        np.testing.assert_allclose(after[family], before[family], atol=1e-5, err_msg=family)


FRESH_PROCESS = """
import json, sys
from pathlib import Path
import numpy as np
from bigmodel.sequence_prediction import SequencePredictor
paths = json.loads(sys.argv[1])
probe = np.load(sys.argv[2])
for family, path in paths.items():
    outputs = SequencePredictor(Path(path)).predict_arrays(probe)
    np.save(Path(sys.argv[3]) / f"{family}.npy", outputs)
"""


def _predict_in_fresh_process(paths, probe, folder, home):
    subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS, json.dumps(paths), str(probe), str(folder)],
        cwd=ROOT,
        env=environment(home),
        check=True,
        timeout=300,
    )
    return {family: np.load(folder / f"{family}.npy") for family in paths}


def test_normalisation_uses_training_split_only(store):
    # The series rises, so the last windows, kept for validation, have larger values.
    text = "t,v\n" + "".join(f"{t},{t * t}\n" for t in range(40))
    spec = SequenceSpec("series", None, None, "t", window=4, horizon=1)
    dataset = ingest_sequences(text.encode(), "rising.csv", spec, "rising", store)

    prepared = sequence_pipeline.prepare_sequences(dataset, validation_split=0.25, seed=0)

    train_x = prepared.train_x
    assert prepared.input_spec["feature_mean"] == pytest.approx([np.nanmean(train_x)])
    assert prepared.input_spec["feature_std"] == pytest.approx([np.nanstd(train_x)])
    assert prepared.input_spec["feature_mean"][0] < np.nanmean(dataset.examples().x)
    assert max(prepared.split["train"]) < min(prepared.split["validation"])
    assert prepared.target_mean == pytest.approx(
        [np.mean(dataset.examples().y[prepared.split["train"]])]
    )


def test_trained_model_holds_training_statistics(store, gunpoint):
    run = train(store, gunpoint.id, "cnn1d")
    split = json.loads((store.home.run_dir(run.id) / "split.json").read_text())
    train_x = load_sequence_dataset(gunpoint.id, store).examples().x[split["train"]]

    model = SequencePredictor(Path(run.model_path)).model
    normalize = model.get_layer("normalize")

    assert normalize.mean == pytest.approx([float(np.nanmean(train_x))], rel=1e-5)
    assert normalize.std == pytest.approx([float(np.nanstd(train_x))], rel=1e-4)


def test_split_keeps_time_order_with_gap():
    groups = np.zeros(10, dtype=np.int64)

    train_part, validation = sequence_pipeline.chronological_split(groups, 0.2, gap=2)

    assert validation == [8, 9]
    assert train_part == [0, 1, 2, 3, 4, 5]


# Tasks


def test_regression_predicts_in_target_units(store):
    rng = np.random.default_rng(1)
    rows = []
    for index in range(24):
        level = rng.uniform(0, 1)
        rows += [f"s{index},{t},{level + 0.01 * t},{5000 + 2000 * level:.1f}" for t in range(5)]
    data = ("seq,t,v,output\n" + "\n".join(rows) + "\n").encode()
    dataset = ingest_sequences(data, "plant.csv", None, "plant", store)

    run = train(store, dataset.id, "cnn1d", epochs=3)
    table = SequencePredictor(Path(run.model_path)).predict_csv(data, "plant.csv")

    assert dataset.task == "regression"
    assert run.status == COMPLETED, run.traceback
    assert {"val_mae", "val_rmse"} <= set(run.results)
    assert "val_accuracy" not in run.results
    epochs = store.get_metrics(run.id, kind="epoch")
    assert {"mae", "rmse", "val_mae", "val_rmse"} <= set(epochs[-1].values)
    assert 3000 < table["prediction"].mean() < 8000
    assert list(table.columns) == ["sequence", "steps", "row", "prediction", "actual"]


def test_forecast_predicts_next_months(store):
    data = (SAMPLES / "airline.csv").read_bytes()
    spec = SequenceSpec(
        "series", None, None, "month", ("passengers",), ("passengers",), window=12, horizon=3
    )
    dataset = ingest_sequences(data, "airline.csv", spec, "airline", store)

    run = train(store, dataset.id, "rnn")
    table = SequencePredictor(Path(run.model_path)).predict_csv(data, "airline.csv")

    assert run.status == COMPLETED, run.traceback
    assert run.results["val_mae"] > 0
    assert table["ahead"].tolist() == [1, 2, 3]
    assert table["time"].tolist() == ["1961-01-01", "1961-02-01", "1961-03-01"]
    assert table["passengers"].between(50, 1500).all()


def test_one_based_labels_predicted_as_written(store):
    data = (CASES / "B52_labels_1based.csv").read_bytes()
    dataset = ingest_sequences(data, "B52_labels_1based.csv", None, "b52", store)

    run = train(store, dataset.id, "cnn1d", validation_split=0.3)
    table = SequencePredictor(Path(run.model_path)).predict_csv(data, "B52_labels_1based.csv")

    assert run.status == COMPLETED, run.traceback
    assert set(table["prediction"]) <= {"1", "2", "3"}
    assert {name for name, _ in table["top"].iloc[0]} == {"1", "2", "3"}
    assert set(table["actual"]) == {"1", "2", "3"}


def test_text_labels_predicted_as_text(store):
    data = (CASES / "B54_labels_strings.csv").read_bytes()
    dataset = ingest_sequences(data, "B54.csv", None, "b54", store)

    run = train(store, dataset.id, "rnn", validation_split=0.3)
    table = SequencePredictor(Path(run.model_path)).predict_csv(data, "B54.csv")

    assert set(table["prediction"]) <= {"正常", "故障", "待检"}
    assert table["confidence"].between(0, 1).all()


def test_ragged_prediction_pads_to_model_length(store):
    data = (CASES / "B50_ragged_long.csv").read_bytes()
    spec = dataclasses.replace(
        ingest_sequences(data, "B50.csv", None, "b50", store).spec, cleaning="fill_zero"
    )
    dataset = ingest_sequences(data, "B50.csv", spec, "b50 zero", store)

    run = train(store, dataset.id, "attention", validation_split=0.5)
    table = SequencePredictor(Path(run.model_path)).predict_csv(data, "B50.csv")

    assert run.status == COMPLETED, run.traceback
    assert table["sequence"].tolist() == ["S01", "S02", "S03", "S04"]
    assert table["steps"].tolist() == [3, 7, 5, 1]
    assert table["actual"].tolist() == ["A", "B", "A", "B"]


# Service and command line


def test_service_predicts_sequences(store, gunpoint):
    run = train(store, gunpoint.id, "cnn1d")
    data = gunpoint_subset(4)

    with background(store.home, services.INFERENCE):
        table = inference_client.predict_sequences(store.home, run.id, data, "probe.CSV")
        with pytest.raises(BigModelError) as raised:
            inference_client.predict_images(store.home, run.id, [("x.png", b"png")])

    local = SequencePredictor(Path(run.model_path)).predict_csv(data, "probe.CSV")
    assert table["sequence"].tolist() == ["2", "3", "4", "5"]
    assert table["prediction"].tolist() == local["prediction"].tolist()
    np.testing.assert_allclose(table["confidence"], local["confidence"], atol=1e-6)
    assert raised.value.key == "sequences.model_kind_mismatch"


def test_cli_ingests_trains_and_predicts_csv(home, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BIGMODEL_HOME", str(home.root))
    csv_file = tmp_path / "B52_labels_1based.CSV"
    csv_file.write_bytes((CASES / "B52_labels_1based.csv").read_bytes())

    assert cli.main(["--lang", "en", "ingest", str(csv_file), "--window", "3"]) == 0
    ingested = capsys.readouterr().out
    settings = ["--epochs", "1", "--units", "8", "--validation-split", "0.3"]
    train_flags = ["--dataset", str(csv_file), "--window", "3", "--family", "rnn", *settings]
    trained = cli.main(["--lang", "en", "train", *train_flags])
    capsys.readouterr()
    predicted = cli.main(["--lang", "en", "predict", "--run", "1", str(csv_file)])
    output = capsys.readouterr().out

    assert "16 examples (series layout, classification)" in ingested
    assert trained == 0
    assert predicted == 0
    assert "prediction" in output
    assert output.count("B52_labels_1based") >= 16
