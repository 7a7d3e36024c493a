"""Augmentation layers inside the models, and balanced class weights in training."""

import json
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from sklearn.utils.class_weight import compute_class_weight

from bigmodel import diagnostics, jobs, samples, saved_models
from bigmodel.architectures import get_family
from bigmodel.image_datasets import ingest_folder, load_image_dataset
from bigmodel.layers import RandomTimeShift
from bigmodel.prediction import Predictor
from bigmodel.store import COMPLETED
from bigmodel.training import execute_run
from tests.image_factory import make_color_folders, make_digit_folders

IMAGE_AUGMENTATION = {"flip": "horizontal", "rotation": 30, "zoom": 0.2, "contrast": 0.3}
SEQUENCE_AUGMENTATION = {"noise": 0.3, "scaling": 0.3, "time_shift": 0.2}
SEQUENCE_SPEC = {
    "kind": "sequence",
    "task": "classification",
    "length": 20,
    "features": 2,
    "feature_names": ["a", "b"],
    "feature_mean": [0.0, 5.0],
    "feature_std": [1.0, 2.0],
}
SEQUENCE_FAMILIES = ("rnn", "cnn1d", "attention")


def build(family_name: str, changes: dict, input_spec: dict, outputs: int = 3) -> keras.Model:
    family = get_family(family_name)
    keras.utils.set_random_seed(0)
    return family.build(family.settings_class(**changes), input_spec, outputs)


def images(count: int = 4, size: int = 16) -> np.ndarray:
    return np.random.default_rng(0).uniform(0, 255, (count, size, size, 3)).astype("float32")


def sequences() -> np.ndarray:
    x = np.random.default_rng(0).normal(size=(4, 20, 2)).astype("float32")
    x[0, 15:] = np.nan  # a padded, shorter sequence
    return x


def test_image_augmentation_changes_training_inputs():
    model = build("cnn", {"input_size": 16, **IMAGE_AUGMENTATION}, {"color_mode": "rgb"})
    preprocessed = keras.Model(model.input, model.get_layer("rescale").output)
    x = images()

    np.testing.assert_allclose(preprocessed(x, training=False), x / 255, rtol=1e-6)
    assert not np.allclose(preprocessed(x, training=True), x / 255, atol=1e-3)


def test_image_augmentation_is_inert_at_inference():
    augmented = build("cnn", {"input_size": 16, **IMAGE_AUGMENTATION}, {"color_mode": "rgb"})
    plain = build("cnn", {"input_size": 16}, {"color_mode": "rgb"})
    plain.set_weights(augmented.get_weights())

    np.testing.assert_allclose(
        augmented.predict(images(), verbose=0), plain.predict(images(), verbose=0)
    )


@pytest.mark.parametrize("family_name", SEQUENCE_FAMILIES)
def test_sequence_augmentation_is_inert_at_inference(family_name):
    augmented = build(family_name, SEQUENCE_AUGMENTATION, SEQUENCE_SPEC)
    plain = build(family_name, {}, SEQUENCE_SPEC)
    plain.set_weights(augmented.get_weights())

    outputs = augmented.predict(sequences(), verbose=0)

    np.testing.assert_allclose(outputs, plain.predict(sequences(), verbose=0), rtol=1e-5)
    assert np.isfinite(augmented(sequences(), training=True)).all()


def test_sequence_augmentation_keeps_padding():
    model = build("rnn", {"noise": 0.3, "scaling": 0.3}, SEQUENCE_SPEC)
    augmented = keras.Model(model.input, model.get_layer("augment_noise").output)
    x = sequences()

    changed = np.asarray(augmented(x, training=True))

    assert np.isnan(changed[0, 15:]).all()
    assert np.isfinite(changed[0, :15]).all()
    assert not np.allclose(changed[1:], x[1:], atol=1e-3)
    np.testing.assert_array_equal(np.asarray(augmented(x, training=False)), x)


def test_time_shift_moves_whole_sequences():
    steps = np.tile(np.arange(10, dtype="float32")[None, :, None], (16, 1, 1))

    shifted = np.asarray(RandomTimeShift(3, seed=1)(steps, training=True))[..., 0]

    shifts = set()
    for row in shifted:
        present = np.flatnonzero(np.isfinite(row))
        shift = int(present[0] - row[present[0]])
        shifts.add(shift)
        assert -3 <= shift <= 3
        np.testing.assert_array_equal(row[present], present - shift)
        assert len(present) == 10 - abs(shift)
    assert len(shifts) > 1


# Loads each model in a process that has never built one, so the custom layers must
# come from their registration alone, and prints the predictions as JSON.
FRESH_PROCESS_CHECK = """
import json, sys
from pathlib import Path
import numpy as np
from bigmodel import saved_models
outputs = {}
for name, path in json.loads(sys.argv[1]).items():
    model, _ = saved_models.load_model(Path(path))
    outputs[name] = model.predict(np.load(sys.argv[2] + "/" + name + ".npy"), verbose=0).tolist()
print(json.dumps(outputs))
"""


def test_augmented_models_reload_in_fresh_process(store, tmp_path):
    dataset = ingest_folder(make_color_folders(tmp_path / "colors"), "colors", store)
    run_id = jobs.submit_run(
        store,
        dataset.id,
        "cnn",
        preset="fast",
        model={"input_size": 16, "filters": 8, "dense_units": 16, **IMAGE_AUGMENTATION},
        training={"epochs": 2, "batch_size": 8, "patience": 0},
    )
    store.start_run(run_id, worker_pid=0)
    run = execute_run(store, store.get_run(run_id))
    assert run.status == COMPLETED, run.traceback

    paths = {"cnn": run.model_path}
    inputs = {"cnn": images()}
    for family_name in SEQUENCE_FAMILIES:
        model = build(family_name, SEQUENCE_AUGMENTATION, SEQUENCE_SPEC)
        paths[family_name] = str(saved_models.save_model(model, tmp_path / family_name, {}))
        inputs[family_name] = sequences()
    for name, x in inputs.items():
        np.save(tmp_path / f"{name}.npy", x)

    result = subprocess.run(
        [sys.executable, "-c", FRESH_PROCESS_CHECK, json.dumps(paths), str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parent.parent,
    )

    assert result.returncode == 0, result.stderr[-3000:]
    reloaded = json.loads(result.stdout.strip().splitlines()[-1])
    for name, path in paths.items():
        model, _ = saved_models.load_model(Path(path))
        expected = model.predict(inputs[name], verbose=0)
        np.testing.assert_allclose(reloaded[name], expected, rtol=1e-5, atol=1e-6, err_msg=name)


# Class weights


def minority_recall(store, run, dataset_id: str, minority: str) -> float:
    """Return the share of the minority's validation images that the saved model finds."""
    dataset = load_image_dataset(dataset_id, store)
    split = json.loads((store.home.run_dir(run.id) / "split.json").read_text())
    index = list(dataset.classes).index(minority)
    items = [dataset.items[i] for i in split["validation"] if dataset.items[i].label == index]
    files = [(item.file, (dataset.path / item.file).read_bytes()) for item in items]
    predictions = Predictor(Path(run.model_path)).predict_images(files, top_k=1)
    return sum(p["top"][0][0] == minority for p in predictions) / len(items)


def test_balanced_class_weights_reach_fit(store, tmp_path):
    # 171 images of threes against 9 of eights: a 95/5 split.
    folder = make_digit_folders(tmp_path / "digits", {"many": ("3", 171), "few": ("8", 9)})
    dataset_id = ingest_folder(folder, "imbalanced", store).id
    runs = {}
    for class_weight in ("none", "balanced"):
        training = {
            "epochs": 8,
            "patience": 0,
            "validation_split": 0.3,
            "class_weight": class_weight,
        }
        run_id = jobs.submit_run(
            store,
            dataset_id,
            "cnn",
            preset="fast",
            model={"input_size": 8, "filters": 8, "dense_units": 32},
            training=training,
        )
        store.start_run(run_id, worker_pid=0)
        runs[class_weight] = execute_run(store, store.get_run(run_id))
        assert runs[class_weight].status == COMPLETED, runs[class_weight].traceback

    weighted = runs["balanced"]
    dataset = load_image_dataset(dataset_id, store)
    split = json.loads((store.home.run_dir(weighted.id) / "split.json").read_text())
    labels = [dataset.items[i].label for i in split["train"]]
    expected = compute_class_weight("balanced", classes=np.array([0, 1]), y=labels)
    assert weighted.results["class_weights"] == pytest.approx(expected.tolist())
    assert weighted.settings["training"]["class_weight"] == "balanced"
    assert runs["none"].results["class_weights"] is None

    unweighted_recall = minority_recall(store, runs["none"], dataset_id, "few")
    weighted_recall = minority_recall(store, weighted, dataset_id, "few")
    assert weighted_recall > unweighted_recall

    counts = store.get_dataset(dataset_id).summary["counts"]
    for class_weight, expected_keys in [
        ("none", {"one_class", "imbalance"}),
        ("balanced", set()),
    ]:
        run = runs[class_weight]
        facts = diagnostics.RunFacts(
            history=[row.values for row in store.get_metrics(run.id, "epoch")],
            family="cnn",
            settings=run.settings,
            class_counts=counts,
            results=run.results,
        )
        found = {diagnostic.key for diagnostic in diagnostics.diagnose(facts)}
        assert found & {"one_class", "imbalance"} == expected_keys, class_weight


def test_sequence_run_trains_with_augmentation_and_weights(store):
    dataset = samples.load_sequence_sample("gunpoint", store)
    run_id = jobs.submit_run(
        store,
        dataset.id,
        "cnn1d",
        preset="fast",
        model={"conv_layers": 1, "conv_filters": 4, **SEQUENCE_AUGMENTATION},
        training={"epochs": 2, "patience": 0, "class_weight": "balanced"},
    )
    store.start_run(run_id, worker_pid=0)

    run = execute_run(store, store.get_run(run_id))

    assert run.status == COMPLETED, run.traceback
    assert len(run.results["class_weights"]) == 2
    assert sum(run.results["validation_predicted_counts"]) == sum(run.results["validation_counts"])
    model, meta = saved_models.load_model(Path(run.model_path))
    assert meta["settings"]["model"]["time_shift"] == SEQUENCE_AUGMENTATION["time_shift"]
    assert model.get_layer("augment_time_shift").max_steps > 0
