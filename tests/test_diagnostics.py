"""Diagnostics of training runs: real short runs built to show each problem, and edge cases.

The real runs train tiny CNNs on the bundled 8x8 digits; each took 10 to 35 s on a
2-core CPU shared with other jobs. The synthetic histories pin the thresholds down.
"""

import math
import string

import pytest

from bigmodel import diagnostics, i18n, jobs, samples
from bigmodel.diagnostics import RunFacts, diagnose
from bigmodel.image_datasets import ingest_folder
from bigmodel.store import COMPLETED, RunStore
from bigmodel.training import execute_run
from tests.image_factory import make_digit_folders

TINY = {"input_size": 8, "filters": 8, "dense_units": 32}


def keys(found: list[diagnostics.Diagnostic]) -> list[str]:
    return [diagnostic.key for diagnostic in found]


def run_facts(store: RunStore, run_id: int) -> RunFacts:
    run = store.get_run(run_id)
    summary = store.get_dataset(run.dataset_id).summary
    return RunFacts(
        history=[row.values for row in store.get_metrics(run_id, "epoch")],
        family=run.family,
        settings=run.settings,
        class_counts=summary["counts"],
        results=run.results,
    )


def train(store: RunStore, dataset_id: str, model: dict, training: dict) -> RunFacts:
    run_id = jobs.submit_run(
        store, dataset_id, "cnn", preset="fast", model=model, training=training
    )
    assert store.start_run(run_id, worker_pid=0)
    run = execute_run(store, store.get_run(run_id))
    assert run.status == COMPLETED, run.traceback
    return run_facts(store, run_id)


def digits(store: RunStore, tmp_path, classes: dict[str, tuple[str, int]]) -> str:
    return ingest_folder(make_digit_folders(tmp_path / "digits", classes), "digits", store).id


# Real training runs


def test_healthy_digits_run_is_silent(store):
    dataset_id = samples.load_image_sample("digits", store).id
    run_id = jobs.submit_run(store, dataset_id, "cnn", training={"epochs": 4})
    store.start_run(run_id, worker_pid=0)
    assert execute_run(store, store.get_run(run_id)).status == COMPLETED

    assert diagnose(run_facts(store, run_id)) == []


def test_tiny_training_set_trained_long_overfits(store, tmp_path):
    # Two classes of different images of the same ten digits: no feature of an image
    # predicts its class, so the network can only memorise its training half.
    classes = {"a": ("0123456789", 3), "b": ("0123456789", 3, 3)}
    dataset_id = digits(store, tmp_path, classes)
    model = {**TINY, "filters": 32, "dense_units": 128, "dropout": 0.0, "batch_norm": False}
    training = {"epochs": 30, "patience": 0, "validation_split": 0.5, "batch_size": 8}

    found = diagnose(train(store, dataset_id, model, training))

    assert "overfitting" in keys(found)
    overfitting = found[keys(found).index("overfitting")]
    assert overfitting.params["last_val_loss"] > overfitting.params["best_val_loss"]
    assert [remedy.key for remedy in overfitting.remedies] == ["augmentation_image", "more_dropout"]


def test_oversized_learning_rate_diverges(store, tmp_path):
    dataset_id = digits(store, tmp_path, {digit: (digit, 40) for digit in "0123"})
    model = {**TINY, "batch_norm": False}
    training = {"epochs": 6, "patience": 0, "learning_rate": 1.0}

    found = diagnose(train(store, dataset_id, model, training))

    assert keys(found)[0].startswith("divergence_")
    [remedy] = found[0].remedies
    assert remedy.changes == {"training": {"learning_rate": 0.1}}


def test_tiny_learning_rate_stalls(store, tmp_path):
    dataset_id = digits(store, tmp_path, {digit: (digit, 40) for digit in "0123"})
    training = {"epochs": 4, "patience": 0, "learning_rate": 1e-6}

    found = diagnose(train(store, dataset_id, TINY, training))

    assert "learning_rate_low" in keys(found)
    remedy = found[keys(found).index("learning_rate_low")].remedies[0]
    assert remedy.changes == {"training": {"learning_rate": 1e-5}}


def test_small_model_short_run_underfits(store, tmp_path):
    dataset_id = digits(store, tmp_path, {digit: (digit, 40) for digit in "0123456789"})
    model = {**TINY, "filters": 4, "dense_units": 0}

    found = diagnose(train(store, dataset_id, model, {"epochs": 4, "patience": 0}))

    assert "underfitting" in keys(found)
    remedy = found[keys(found).index("underfitting")].remedies[0]
    assert remedy.changes == {"training": {"epochs": 12}}


# Synthetic histories


def history(losses, val_losses=None, accuracies=None):
    rows = []
    for epoch, loss in enumerate(losses):
        row = {"loss": loss}
        if val_losses is not None:
            row["val_loss"] = val_losses[epoch]
        if accuracies is not None:
            row["accuracy"] = accuracies[epoch]
        rows.append(row)
    return rows


def facts(rows, model=None, training=None, counts=None, results=None, family="cnn", task=None):
    return RunFacts(
        history=rows,
        family=family,
        settings={"model": model or {}, "training": training or {"epochs": max(len(rows), 1)}},
        task=task or "classification",
        class_counts=counts if counts is not None else {"a": 100, "b": 100},
        results=results,
    )


RISING_VALIDATION = history(
    [1.0, 0.6, 0.4, 0.3, 0.2, 0.1], [1.0, 0.7, 0.5, 0.55, 0.6, 0.7], [0.6, 0.8, 0.9, 1, 1, 1]
)


def test_overfitting_names_best_epoch_and_remedies():
    [found] = diagnose(facts(RISING_VALIDATION))

    assert found.key == "overfitting"
    assert found.params["best_epoch"] == 3
    assert found.params["last_val_loss"] == 0.7
    changes = [remedy.changes for remedy in found.remedies]
    assert changes == [
        {"model": {"rotation": 15, "zoom": 0.1}},
        {"model": {"dropout": 0.5}},
    ]


def test_overfitting_waits_three_epochs_after_best():
    rows = RISING_VALIDATION[:5]

    assert "overfitting" not in keys(diagnose(facts(rows)))


def test_overfitting_needs_falling_training_loss():
    rows = history([1.0, 0.6, 0.4, 0.45, 0.5, 0.5], [1.0, 0.7, 0.5, 0.55, 0.6, 0.7])

    assert "overfitting" not in keys(diagnose(facts(rows)))


def test_overfitting_remedies_skip_what_is_on():
    model = {"rotation": 10, "dropout": 0.6}

    [found] = diagnose(facts(RISING_VALIDATION, model=model))

    assert found.remedies == ()


def test_sequence_overfitting_offers_noise():
    [found] = diagnose(facts(RISING_VALIDATION, family="rnn"))

    assert found.remedies[0].changes == {"model": {"noise": 0.1, "scaling": 0.1}}


def test_non_finite_loss_is_divergence():
    rows = [{"loss": 2.0, "accuracy": 0.3}, {"accuracy": 0.1}]

    found = diagnose(facts(rows, training={"learning_rate": 0.5}))

    assert keys(found) == ["divergence_not_finite"]
    assert found[0].params["epoch"] == 2
    assert found[0].remedies[0].changes == {"training": {"learning_rate": 0.05}}


def test_rising_training_loss_is_divergence():
    rows = history([1.0, 0.5, 0.9], accuracies=[0.5, 0.7, 0.5])

    assert keys(diagnose(facts(rows))) == ["divergence_rising"]


def test_noise_near_zero_loss_is_no_divergence():
    # A healthy digits run: the loss went from 0.022 back up to 0.051.
    losses = [0.9, 0.2, 0.08, 0.04, 0.022, 0.051]
    rows = history(losses, [0.3, 0.1, 0.06, 0.05, 0.04, 0.05], accuracies=[0.8] + [0.99] * 5)

    found = diagnose(facts(rows, counts={str(c): 100 for c in range(10)}))

    assert found == []


def test_exploded_loss_is_divergence():
    rows = history([300.0, 2.0, 1.0], accuracies=[0.3, 0.4, 0.5])

    [found] = diagnose(facts(rows))

    assert found.key == "divergence_exploded"
    assert found.params["baseline"] == pytest.approx(math.log(2))


@pytest.mark.parametrize(
    ("learning_rate", "key", "new_rate"),
    [(0.05, "divergence_stuck", 0.005), (0.0001, "learning_rate_low", 0.001)],
)
def test_stalled_loss_blames_learning_rate(learning_rate, key, new_rate):
    # The training loss wanders by dropout noise while the validation loss stays flat.
    losses = [0.9, 0.62, 0.7, 0.66, 0.69]
    rows = history(losses, [0.9, 0.69, 0.7, 0.68, 0.69], accuracies=[0.5] * 5)

    found = diagnose(facts(rows, training={"learning_rate": learning_rate, "epochs": 5}))

    assert keys(found) == [key]
    assert found[0].remedies[0].changes == {"training": {"learning_rate": new_rate}}


def test_converged_flat_loss_is_silent():
    rows = history([0.05, 0.049, 0.05, 0.049], accuracies=[0.99] * 4)

    assert diagnose(facts(rows, results={"classes": ["a", "b"]})) == []


def test_underfitting_only_after_every_epoch():
    rows = history([2.0, 1.8, 1.6, 1.4], accuracies=[0.2, 0.3, 0.35, 0.4])

    assert keys(diagnose(facts(rows, results={}))) == ["underfitting"]
    assert diagnose(facts(rows)) == []  # still training
    stopped_early = facts(rows, training={"epochs": 10}, results={})
    assert diagnose(stopped_early) == []


def test_one_class_needs_other_classes_in_validation():
    results = {
        "classes": ["a", "b"],
        "validation_counts": [30, 10],
        "validation_predicted_counts": [40, 0],
    }
    only_a = {**results, "validation_counts": [40, 0]}

    [found] = diagnose(facts([], results=results))
    assert found.key == "one_class"
    assert found.params == {"class_name": "a", "count": 40, "missed": 10}
    assert found.remedies[0].key == "lower_learning_rate"
    assert diagnose(facts([], results=only_a)) == []


def test_one_class_on_imbalanced_data_offers_class_weights():
    results = {
        "classes": ["a", "b"],
        "validation_counts": [38, 2],
        "validation_predicted_counts": [40, 0],
    }

    found = diagnose(facts([], counts={"a": 190, "b": 40}, results=results))

    assert keys(found) == ["one_class", "imbalance"]
    assert found[0].remedies[0].changes == {"training": {"class_weight": "balanced"}}


def test_imbalance_reports_ratio_until_weighted():
    counts = {"ok": 950, "defect": 50}

    [found] = diagnose(facts([], counts=counts))
    assert found.key == "imbalance"
    assert found.params["ratio"] == 19
    assert found.params["smallest"] == "defect"
    weighted = facts([], counts=counts, training={"class_weight": "balanced"})
    assert diagnose(weighted) == []


def test_few_examples_lists_smallest_classes_first():
    counts = {"a": 40, "b": 12, "c": 20}

    [found] = diagnose(facts([], counts=counts))

    assert found.key == "few_examples"
    assert found.params["classes"] == "b (12), c (20)"
    assert found.params["count"] == 2


def test_regression_skips_class_checks():
    rows = history([0.9, 0.5, 0.3, 0.2])

    assert diagnose(facts(rows, family="rnn", task="regression", counts={"a": 3})) == []


# Remedies and messages


ALL_FOUND = [
    *diagnose(facts(RISING_VALIDATION, counts={"a": 100, "b": 5})),
    *diagnose(facts([{"loss": 1.0}, {}, {"accuracy": 0.1}])),
    *diagnose(facts(history([300.0, 1.0]))),
    *diagnose(facts(history([1.0, 0.5, 0.9]))),
    *diagnose(facts(history([1.0] * 4), training={"learning_rate": 0.0001})),
    *diagnose(facts(history([1.0] * 4), training={"learning_rate": 0.1})),
    *diagnose(facts(history([2.0, 1.8, 1.6, 1.4], accuracies=[0.2] * 4), results={})),
    *diagnose(
        facts(
            [],
            results={
                "classes": ["a", "b"],
                "validation_counts": [3, 3],
                "validation_predicted_counts": [6, 0],
            },
        )
    ),
]


def test_every_diagnostic_is_covered():
    messages = {key.split(".")[1] for key in i18n.catalog("en") if key.endswith(".message")}

    assert set(keys(ALL_FOUND)) == messages


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_messages_fill_every_placeholder(language):
    formatter = string.Formatter()
    for diagnostic in ALL_FOUND:
        message = i18n.translate(language, diagnostic.message_key, **diagnostic.params)
        assert "{" not in message, message
        for remedy in diagnostic.remedies:
            template = i18n.catalog(language)[remedy.label_key]
            fields = {name for _, name, _, _ in formatter.parse(template) if name}
            assert fields <= set(remedy.params), remedy.key


def test_remedies_give_valid_settings():
    settings = jobs.preset_settings("cnn", "fast")
    for diagnostic in ALL_FOUND:
        for remedy in diagnostic.remedies:
            changed = diagnostics.retrain_settings({"preset": "fast", **settings}, "cnn", remedy)
            for section, values in remedy.changes.items():
                for name, value in values.items():
                    assert changed[section][name] == value, remedy.key
            assert changed["model"]["input_size"] == settings["model"]["input_size"]
