"""The demo: its plain-words result, chosen examples and limits, and the page in AppTest.

The evaluation is written to the run folder as the inference service would write it,
so these tests need no TensorFlow. The browser tests run the real service.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from image_factory import png_bytes
from test_pages import RED, SETTINGS, populate_store, start_app

from bigmodel import evaluation, i18n, inference_client, showcase
from bigmodel.config import Home
from bigmodel.evaluation import EvaluationData
from bigmodel.image_datasets import load_image_dataset
from bigmodel.inference_client import Prediction
from bigmodel.samples import load_sequence_sample
from bigmodel.store import COMPLETED, RunStore

CONFIDENT_MISTAKE = 0
"""Position of the one misclassified example in `image_evaluation`."""


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> RunStore:
    """Return a run store in a temporary BIGMODEL_HOME, with the app's services switched off."""
    monkeypatch.setenv("BIGMODEL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("BIGMODEL_START_SERVICES", "0")
    return RunStore(Home.from_env().ensure())


@pytest.fixture
def missing_keys(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record every catalog key that a page requests and the catalog of its language lacks."""
    missing: list[str] = []
    translate = i18n.translate

    def checked(language: str, key: str, **params: object) -> str:
        if key not in i18n.catalog(language):
            missing.append(key)
        return translate(language, key, **params)

    monkeypatch.setattr(i18n, "translate", checked)
    return missing


def image_evaluation(store: RunStore, ids: dict) -> EvaluationData:
    """Build an evaluation of the six colour images: five right, one confidently wrong."""
    run = store.get_run(int(ids["completed"]))
    dataset = load_image_dataset(str(ids["dataset"]), store)
    labels = np.asarray([item.label for item in dataset.items], dtype=np.int64)
    confidence = np.linspace(0.6, 0.95, len(labels))
    probabilities = np.zeros((len(labels), 2), dtype=np.float32)
    probabilities[np.arange(len(labels)), labels] = confidence
    probabilities[np.arange(len(labels)), 1 - labels] = 1 - confidence
    probabilities[CONFIDENT_MISTAKE] = [0.01, 0.99] if labels[0] == 0 else [0.99, 0.01]
    return EvaluationData(
        run_id=run.id,
        source=evaluation.VALIDATION,
        dataset_id=dataset.id,
        kind="image",
        task="classification",
        class_names=tuple(dataset.classes),
        target_names=(),
        horizon=1,
        references=tuple(str(dataset.path / item.file) for item in dataset.items),
        names=tuple(item.source for item in dataset.items),
        y_true=labels,
        y_pred=probabilities,
    )


def save_as_service(store: RunStore, data: EvaluationData) -> None:
    """Write a model file and the evaluation's cache, as training and the service do."""
    model_path = Path(store.get_run(data.run_id).model_path)
    model_path.parent.mkdir(parents=True, exist_ok=True)
    model_path.write_bytes(b"a saved model")
    (model_path.parent / "model.json").write_text(json.dumps({"class_names": ["blue", "red"]}))
    evaluation.save_evaluation(store, data, evaluation.model_stamp(model_path))


def value_evaluation() -> EvaluationData:
    actual = np.asarray([[100.0], [120.0], [140.0], [160.0]], dtype=np.float32)
    predicted = actual + np.asarray([[2.0], [-4.0], [1.0], [-6.0]], dtype=np.float32)
    return EvaluationData(
        run_id=1,
        source=evaluation.VALIDATION,
        dataset_id="d",
        kind="sequence",
        task="regression",
        class_names=(),
        target_names=("passengers",),
        horizon=1,
        references=("0", "1", "2", "3"),
        names=("a", "b", "c", "d"),
        y_true=actual,
        y_pred=predicted,
    )


def test_headline_counts_correct_images(store: RunStore) -> None:
    ids = populate_store(store)
    data = image_evaluation(store, ids)
    summary = evaluation.summarize(data)
    t = i18n.Translator("en")

    assert showcase.headline(data, summary, t) == "Correct on 5 of 6 test images"
    assert "83.3%" in showcase.subline(data, summary, t)
    assert "6" in showcase.headline(data, summary, i18n.Translator("zh-CN"))


def test_headline_gives_average_error() -> None:
    data = value_evaluation()
    summary = evaluation.summarize(data)

    assert showcase.headline(data, summary, i18n.Translator("en")) == (
        "Average error: 3.25 passengers"
    )


def test_best_and_worst_classification(store: RunStore) -> None:
    ids = populate_store(store)
    data = image_evaluation(store, ids)

    best = showcase.best_positions(data)
    worst = showcase.worst_positions(data)

    assert CONFIDENT_MISTAKE not in best
    assert best[0] == 5
    assert worst[0] == CONFIDENT_MISTAKE
    assert worst[1] == 1
    assert len(best) == len(worst) == showcase.EXAMPLES_SHOWN
    assert not showcase.shown_example(data, CONFIDENT_MISTAKE, i18n.Translator("en")).correct


def test_best_and_worst_values() -> None:
    data = value_evaluation()

    assert showcase.best_positions(data, 2) == [2, 0]
    assert showcase.worst_positions(data, 2) == [3, 1]
    caption = showcase.shown_example(data, 3, i18n.Translator("en")).caption
    assert caption == "Actual 160 · predicted 154 · error 6"


def test_limits_name_classes_and_mistake(store: RunStore) -> None:
    ids = populate_store(store)
    data = image_evaluation(store, ids)
    run = store.get_run(int(ids["completed"]))
    t = i18n.Translator("en")

    lines = showcase.limits(run, data, evaluation.summarize(data), t)

    assert lines[0] == t("demo.limit.classes", classes="blue, red")
    actual = data.class_names[int(data.y_true[CONFIDENT_MISTAKE])]
    predicted = data.class_names[1 - int(data.y_true[CONFIDENT_MISTAKE])]
    assert t("demo.limit.confused", actual=actual, predicted=predicted, count=1) in lines
    assert t("demo.limit.few_examples", total=6, noun=t("demo.noun.images")) in lines
    assert t("demo.limit.image", size=24) in lines


def test_value_limits_give_range_and_largest_error() -> None:
    data = value_evaluation()
    run_results = {"input_spec": {"kind": "sequence"}}
    run = type("FakeRun", (), {"results": run_results})()
    t = i18n.Translator("en")

    lines = showcase.limits(run, data, evaluation.summarize(data), t)

    assert t("demo.limit.largest_error", error="6", unit="passengers") in lines
    assert t("demo.limit.value_range", minimum="100", maximum="160", unit="passengers") in lines


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_demo_page_shows_result(store: RunStore, language: str, missing_keys: list[str]) -> None:
    ids = populate_store(store)
    data = image_evaluation(store, ids)
    save_as_service(store, data)
    t = i18n.Translator(language)

    app = start_app(language)
    app.switch_page("app_pages/demo.py").run()

    assert not app.exception
    assert app.title[0].value == t("demo.title_model", name="colours first try")
    assert app.header[0].value == showcase.headline(data, evaluation.summarize(data), t)
    heatmap = json.loads(app.get("plotly_chart")[0].proto.spec)["data"][0]
    assert heatmap["type"] == "heatmap"
    assert sum(map(sum, heatmap["z"])) == 6
    assert len(app.image) == 2 * showcase.EXAMPLES_SHOWN
    assert [header.value for header in app.subheader][:3] == [
        t("demo.try_heading"),
        t("demo.best"),
        t("demo.worst"),
    ]
    assert app.query_params["model"] == str(ids["completed"])
    assert app.selectbox(key="demo_model").value == ids["completed"]
    assert missing_keys == []


def test_presentation_mode_hides_picker(store: RunStore) -> None:
    ids = populate_store(store)
    save_as_service(store, image_evaluation(store, ids))

    app = start_app()
    app.switch_page("app_pages/demo.py").run()
    app.toggle(key="demo_present").set_value(True).run()

    assert app.query_params["present"] == "1"
    assert not [box for box in app.selectbox if box.key == "demo_model"]
    assert app.get("html")
    assert app.header

    app.button(key="demo_leave").click().run()
    assert "present" not in app.query_params
    assert app.selectbox(key="demo_model")


def test_presentation_mode_from_url(store: RunStore) -> None:
    ids = populate_store(store)
    save_as_service(store, image_evaluation(store, ids))

    app = start_app()
    app.query_params["present"] = "1"
    app.query_params["model"] = str(ids["completed"])
    app.switch_page("app_pages/demo.py").run()

    assert not app.exception
    assert not [toggle for toggle in app.toggle if toggle.key == "demo_present"]
    assert app.get("html")


def test_demo_asks_service_for_missing_evaluation(
    store: RunStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = populate_store(store)
    requests = []

    def fake_evaluate(home, run_id, dataset_id=None):
        requests.append(run_id)
        data = image_evaluation(store, ids)
        save_as_service(store, data)
        return len(data)

    monkeypatch.setattr(inference_client, "evaluate", fake_evaluate)
    app = start_app()
    app.switch_page("app_pages/demo.py").run()

    assert not app.exception
    assert requests == [ids["completed"]]
    assert app.header[0].value == "Correct on 5 of 6 test images"

    app.run()
    assert requests == [ids["completed"]]


def test_try_it_predicts_dropped_image(store: RunStore, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = populate_store(store)
    save_as_service(store, image_evaluation(store, ids))
    calls = []

    def fake_predict(home, run_id, images, top_k=3):
        calls.append((run_id, [name for name, _ in images]))
        return [Prediction("red.png", [("red", 0.9), ("blue", 0.1)], [], None)]

    monkeypatch.setattr(inference_client, "predict_images", fake_predict)
    app = start_app()
    app.switch_page("app_pages/demo.py").run()
    app.file_uploader(key="demo_try_image").set_value(
        ("red.png", png_bytes(RED), "image/png")
    ).run()

    assert not app.exception
    assert calls == [(ids["completed"], ["red.png"])]
    answer = i18n.translate("en", "demo.try_answer", label="red", confidence="90.0%")
    assert answer in [header.value for header in app.header]

    app.run()
    assert len(calls) == 1
    assert answer in [header.value for header in app.header]


def test_demo_without_model_shows_guard(store: RunStore) -> None:
    app = start_app("zh-CN")
    app.switch_page("app_pages/demo.py").run()

    assert not app.exception
    assert [box.value for box in app.info] == [i18n.translate("zh-CN", "demo.no_model")]


def sequence_evaluation(store: RunStore, sample: str) -> EvaluationData:
    """Store a sequence sample, a completed run on it and an evaluation of a few examples."""
    dataset = load_sequence_sample(sample, store)
    examples = dataset.examples()
    positions = list(range(min(8, len(examples.x))))
    task = dataset.summary["task"]
    run_id = store.create_run(sample, dataset.id, "cnn1d", SETTINGS)
    store.start_run(run_id, worker_pid=1)
    results = {"task": task, "input_spec": {"kind": "sequence"}, "val_loss": 0.5}
    model_path = store.home.run_dir(run_id) / "model.keras"
    store.finish_run(run_id, COMPLETED, results=results, model_path=str(model_path))

    if task == "classification":
        classes = tuple(dataset.summary["classes"])
        y_true = np.asarray(examples.y[positions], dtype=np.int64)
        y_pred = np.full((len(positions), len(classes)), 0.1, dtype=np.float32)
        answers = y_true.copy()
        answers[::2] = (y_true[::2] + 1) % len(classes)  # every other example is a mistake
        y_pred[np.arange(len(positions)), answers] = 0.9
        targets: tuple[str, ...] = ()
    else:
        classes = ()
        y_true = np.asarray(examples.y[positions], dtype=np.float32).reshape(len(positions), -1)
        y_pred = y_true * 1.1
        targets = tuple(dataset.summary["targets"])
    return EvaluationData(
        run_id=run_id,
        source=evaluation.VALIDATION,
        dataset_id=dataset.id,
        kind="sequence",
        task=task,
        class_names=classes,
        target_names=targets,
        horizon=int(dataset.spec.horizon or 1),
        references=tuple(str(position) for position in positions),
        names=tuple(str(examples.names[position]) for position in positions),
        y_true=y_true,
        y_pred=y_pred,
    )


@pytest.mark.parametrize("sample", ["gunpoint", "airline"])
def test_demo_page_shows_sequences(store: RunStore, sample: str, missing_keys: list[str]) -> None:
    data = sequence_evaluation(store, sample)
    save_as_service(store, data)
    t = i18n.Translator("en")

    app = start_app()
    app.switch_page("app_pages/demo.py").run()

    assert not app.exception
    assert app.header[0].value == showcase.headline(data, evaluation.summarize(data), t)
    charts = [json.loads(chart.proto.spec) for chart in app.get("plotly_chart")]
    expected = "heatmap" if sample == "gunpoint" else "scatter"
    assert charts[0]["data"][0]["type"] == expected
    assert len(charts) == 1 + 2 * showcase.EXAMPLES_SHOWN
    if sample == "airline":
        assert data.task == "forecast"
        forecast = charts[1]["data"][-1]
        assert forecast["name"] == t("ui.chart.forecast")
    assert missing_keys == []


def test_try_it_predicts_dropped_csv(store: RunStore, monkeypatch: pytest.MonkeyPatch) -> None:
    data = sequence_evaluation(store, "gunpoint")
    save_as_service(store, data)
    calls = []

    def fake_predict(home, run_id, csv_bytes, source, top_k=3):
        calls.append((run_id, source))
        return pd.DataFrame({"sequence": ["s1"], "prediction": ["2"], "confidence": [0.8]})

    monkeypatch.setattr(inference_client, "predict_sequences", fake_predict)
    app = start_app()
    app.switch_page("app_pages/demo.py").run()
    app.file_uploader(key="demo_try_csv").set_value(("one.csv", b"t0,t1\n1,2\n", "text/csv")).run()

    assert not app.exception
    assert calls == [(data.run_id, "one.csv")]
    table = app.dataframe[0].value
    assert list(table[i18n.translate("en", "ui.predict.column.prediction")]) == ["2"]
