"""AppTest of the evaluate page, and of Grad-CAM on the predict page, in both languages.

The services are switched off. Evaluations are written to the run folder's cache as
the prediction service writes them, and the requests that the page sends to the
service (evaluate, explain) are replaced by functions that record them.
"""

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from image_factory import png_bytes
from streamlit.testing.v1 import AppTest
from test_pages import BLUE, RED, populate_store
from test_sequence_pages import add_runs

from bigmodel import evaluation, i18n, inference_client
from bigmodel.config import Home
from bigmodel.errors import ModelNotReadyError
from bigmodel.evaluation import EvaluationData
from bigmodel.image_datasets import load_image_dataset
from bigmodel.inference_client import ImageExplanation, Prediction, SequenceExplanation
from bigmodel.sequence_datasets import load_sequence_dataset
from bigmodel.store import RunStore

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
PAGE = "app_pages/evaluate.py"
HEATMAP = np.eye(4)


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> RunStore:
    monkeypatch.setenv("BIGMODEL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("BIGMODEL_START_SERVICES", "0")
    return RunStore(Home.from_env().ensure())


@pytest.fixture
def explained(monkeypatch: pytest.MonkeyPatch) -> list:
    """Record explanation requests and return a diagonal heat map or a ramp of importance."""
    calls: list = []

    def explain_images(home, run_id, images):
        calls.append(("images", run_id, [name for name, _ in images]))
        return [ImageExplanation(name, "red", 0.9, HEATMAP, None) for name, _ in images]

    def explain_sequences(home, run_id, dataset_id, indices):
        calls.append(("sequences", run_id, list(indices)))
        steps = load_sequence_dataset(dataset_id, RunStore(Home.from_env())).length
        ramp = np.linspace(0, 1, steps, dtype=np.float32)
        return [SequenceExplanation(i, 0, 0.8, ramp, ramp / ramp.sum()) for i in indices]

    monkeypatch.setattr(inference_client, "explain_images", explain_images)
    monkeypatch.setattr(inference_client, "explain_sequences", explain_sequences)
    return calls


def fake_model(store: RunStore, run_id: int) -> Path:
    """Write stand-ins for a run's model file and its `model.json`; return the model path."""
    run = store.get_run(run_id)
    path = Path(run.model_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"a model")
    meta = {"class_names": run.results["classes"], "input_spec": run.results["input_spec"]}
    (path.parent / "model.json").write_text(json.dumps(meta))
    return path


def image_evaluation(store: RunStore, run_id: int, dataset_id: str, source: str) -> EvaluationData:
    """Cache an evaluation of the colours dataset: every red image right, blue ones mixed."""
    dataset = load_image_dataset(dataset_id, store)
    labels = np.asarray(dataset.labels())
    # Classes are ["blue", "red"]. Blue images get 0.3, 0.6, 0.8 for blue in turn.
    blue_share = np.where(labels == 0, [0.3, 0.6, 0.8, 0.3, 0.6, 0.8][: len(labels)], 0.1)
    data = EvaluationData(
        run_id=run_id,
        source=source,
        dataset_id=dataset_id,
        kind="image",
        task="classification",
        class_names=dataset.classes,
        target_names=(),
        horizon=1,
        references=tuple(str(path) for path in dataset.files()),
        names=tuple(item.source for item in dataset.items),
        y_true=labels,
        y_pred=np.stack([blue_share, 1 - blue_share], axis=1).astype(np.float32),
    )
    evaluation.save_evaluation(store, data, evaluation.model_stamp(fake_model(store, run_id)))
    return data


def start_app(language: str = "en", timeout: float = 20) -> AppTest:
    app = AppTest.from_file(APP, default_timeout=timeout)
    app.query_params["lang"] = language
    app.run()
    app.switch_page(PAGE).run()
    return app


def texts(elements) -> list[str]:
    return [element.value for element in elements]


def chart(app: AppTest, key: str) -> dict:
    charts = [element for element in app.get("plotly_chart") if key in element.proto.id]
    assert charts, f"no chart with key {key}"
    return json.loads(charts[0].proto.spec)


def metric(app: AppTest, label_key: str, language: str = "en") -> str:
    label = i18n.translate(language, label_key)
    return next(m.value for m in app.metric if m.label == label)


def image_captions(app: AppTest) -> list[str]:
    return [caption for image in app.image for caption in image.captions]


def markdown(app: AppTest) -> str:
    return "\n".join(element.value for element in [*app.markdown, *app.caption, *app.subheader])


# Images


def test_no_model_shows_guard(store):
    app = start_app()

    assert not app.exception
    assert texts(app.info) == [i18n.translate("en", "ui.evaluate.no_model")]


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_page_shows_metrics_matrix_and_mistakes(store, explained, language):
    ids = populate_store(store)
    image_evaluation(store, ids["completed"], ids["dataset"], "validation")

    app = start_app(language)

    assert not app.exception
    assert app.title[0].value == i18n.translate(language, "ui.evaluate.title")
    # Blue images: 0.3 is a mistake, 0.6 and 0.8 are right; every red image is right.
    assert metric(app, "ui.evaluate.accuracy", language) == "83.3%"
    assert metric(app, "ui.evaluate.mistakes", language) == "1"
    table = app.dataframe[0].value
    assert list(table[i18n.translate(language, "ui.evaluate.column.class")]) == ["blue", "red"]
    assert list(table[i18n.translate(language, "ui.evaluate.column.support")]) == [3, 3]
    confusion = chart(app, "evaluate_confusion")
    assert confusion["data"][0]["type"] == "heatmap"
    assert confusion["data"][0]["z"] == [[2, 1], [0, 3]]
    assert confusion["layout"]["title"]["text"] == i18n.translate(
        language, "ui.evaluate.chart.confusion"
    )
    heading = i18n.translate(language, "ui.evaluate.gallery_mistakes")
    assert heading in markdown(app)
    assert explained == [("images", ids["completed"], ["blue0.png"])]
    assert image_captions(app) == [i18n.translate(language, "ui.evaluate.grad_cam_caption")]


def test_normalized_matrix_shows_shares(store, explained):
    ids = populate_store(store)
    image_evaluation(store, ids["completed"], ids["dataset"], "validation")
    app = start_app()

    app.toggle(key="evaluate_normalized").set_value(True).run()

    spec = chart(app, "evaluate_confusion")
    np.testing.assert_allclose(spec["data"][0]["z"], [[2 / 3, 1 / 3], [0, 1]])
    assert spec["data"][0]["text"][0] == ["67%", "33%"]


def test_cell_choice_shows_its_examples(store, explained):
    ids = populate_store(store)
    image_evaluation(store, ids["completed"], ids["dataset"], "validation")
    app = start_app()

    app.selectbox(key="evaluate_true").set_value("blue").run()
    app.selectbox(key="evaluate_predicted").set_value("blue").run()

    assert not app.exception
    heading = i18n.translate(
        "en", "ui.evaluate.gallery_cell", true_class="blue", predicted_class="blue"
    )
    assert heading in markdown(app)
    cards = [text for text in texts(app.markdown) if "True: blue" in text]
    # The most confident of the two correct blue images comes first.
    assert len(cards) == 2
    assert "80.0%" in cards[0]
    assert "60.0%" in cards[1]


def test_threshold_changes_accuracy_and_coverage(store, explained):
    ids = populate_store(store)
    image_evaluation(store, ids["completed"], ids["dataset"], "validation")
    app = start_app()
    assert metric(app, "ui.evaluate.threshold_coverage") == "100.0%"

    app.slider(key="evaluate_threshold").set_value(0.75).run()

    # Left above 0.75: blue 0.8 and the three red 0.9, all right.
    assert metric(app, "ui.evaluate.threshold_coverage") == "66.7%"
    assert metric(app, "ui.evaluate.threshold_accuracy") == "100.0%"
    line = chart(app, "evaluate_threshold_chart")["layout"]["shapes"][0]
    assert line["x0"] == 0.75


def test_marked_labels_export_as_csv(store, explained):
    ids = populate_store(store)
    image_evaluation(store, ids["completed"], ids["dataset"], "validation")
    app = start_app()
    assert i18n.translate("en", "ui.evaluate.suspicious_empty") in markdown(app)

    box = next(box for box in app.checkbox if box.key.startswith("evaluate_mark_"))
    box.check().run()

    frame = app.dataframe[-1].value
    assert list(frame[i18n.translate("en", "ui.evaluate.column.example")]) == ["blue0.png"]
    assert list(frame[i18n.translate("en", "ui.evaluate.column.true_class")]) == ["blue"]
    labels = [button.proto.label for button in app.get("download_button")]
    assert i18n.translate("en", "ui.evaluate.suspicious_download", count=1) in labels


def test_explanations_can_be_switched_off(store, explained):
    ids = populate_store(store)
    image_evaluation(store, ids["completed"], ids["dataset"], "validation")
    app = start_app()

    app.toggle(key="evaluate_explain").set_value(False).run()
    app.run()

    assert len(explained) == 1
    assert image_captions(app) == [""]


def test_missing_evaluation_is_requested(store, explained, monkeypatch):
    ids = populate_store(store)
    requests = []

    def evaluate(home, run_id, dataset_id=None):
        requests.append((run_id, dataset_id))
        return len(image_evaluation(store, run_id, ids["dataset"], "validation"))

    monkeypatch.setattr(inference_client, "evaluate", evaluate)
    fake_model(store, ids["completed"])
    app = start_app()

    assert not app.exception
    assert requests == [(ids["completed"], None)]
    assert metric(app, "ui.evaluate.accuracy") == "83.3%"

    app.run()
    assert len(requests) == 1


def test_service_error_is_shown(store, monkeypatch):
    ids = populate_store(store)
    fake_model(store, ids["completed"])

    def evaluate(home, run_id, dataset_id=None):
        raise ModelNotReadyError("errors.model_not_ready", run_id=run_id, status="failed")

    monkeypatch.setattr(inference_client, "evaluate", evaluate)
    app = start_app()

    assert not app.exception
    status = i18n.translate("en", "status.failed")
    run_id = ids["completed"]
    expected = i18n.translate("en", "errors.model_not_ready", run_id=run_id, status=status)
    assert texts(app.error) == [expected]


def colours_zip(*classes: str) -> bytes:
    buffer = io.BytesIO()
    colours = {"red": RED, "blue": BLUE, "green": (30, 200, 30)}
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in classes:
            for index in range(2):
                archive.writestr(f"{name}/{index}.png", png_bytes(colours[name], (9 + index, 9)))
    return buffer.getvalue()


def test_test_set_upload_is_evaluated(store, explained, monkeypatch):
    ids = populate_store(store)
    fake_model(store, ids["completed"])
    requests = []

    def evaluate(home, run_id, dataset_id=None):
        requests.append((run_id, dataset_id))
        source = dataset_id or "validation"
        return len(image_evaluation(store, run_id, dataset_id or ids["dataset"], source))

    monkeypatch.setattr(inference_client, "evaluate", evaluate)
    app = start_app()
    assert requests == [(ids["completed"], None)]
    app.session_state["evaluate_source"] = "test"
    app.run()
    assert len(requests) == 1
    app.file_uploader(key="evaluate_test_upload").set_value(
        ("test.zip", colours_zip("red", "blue"), "application/zip")
    ).run()
    app.button(key="evaluate_test_add").click().run()

    assert not app.exception
    test_id = app.query_params["test"]
    assert requests[1:] == [(ids["completed"], test_id)]
    assert test_id != ids["dataset"]
    table = app.dataframe[0].value
    assert list(table[i18n.translate("en", "ui.evaluate.column.support")]) == [2, 2]


def test_test_set_with_other_class_is_rejected(store, explained):
    ids = populate_store(store)
    image_evaluation(store, ids["completed"], ids["dataset"], "validation")
    app = start_app()
    app.session_state["evaluate_source"] = "test"
    app.run()

    app.file_uploader(key="evaluate_test_upload").set_value(
        ("test.zip", colours_zip("red", "green"), "application/zip")
    ).run()
    app.button(key="evaluate_test_add").click().run()

    assert not app.exception
    assert len(app.error) == 1
    assert "green" in app.error[0].value


# Sequences


def sequence_evaluation(store: RunStore, run_id: int, dataset_id: str) -> EvaluationData:
    dataset = load_sequence_dataset(dataset_id, store)
    examples = dataset.examples()
    count = min(len(examples.x), 12)
    if dataset.task == "classification":
        y_true = examples.y[:count]
        confidence = np.linspace(0.55, 0.95, count)
        wrong = np.arange(count) % 3 == 0
        first = np.where((y_true == 0) ^ wrong, confidence, 1 - confidence)
        y_pred = np.stack([first, 1 - first], axis=1)
    else:
        y_true = examples.y[:count]
        y_pred = y_true + np.arange(count, dtype=np.float32)[:, np.newaxis]
    data = EvaluationData(
        run_id=run_id,
        source="validation",
        dataset_id=dataset_id,
        kind="sequence",
        task=dataset.task,
        class_names=dataset.class_names,
        target_names=dataset.target_names,
        horizon=dataset.spec.horizon if dataset.task == "forecast" else 1,
        references=tuple(str(index) for index in range(count)),
        names=examples.names[:count],
        y_true=y_true,
        y_pred=y_pred.astype(np.float32),
    )
    evaluation.save_evaluation(store, data, evaluation.model_stamp(fake_model(store, run_id)))
    return data


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_sequence_mistakes_show_importance(store, explained, language):
    ids = add_runs(store)
    sequence_evaluation(store, ids["classifier"], ids["gunpoint"])

    app = AppTest.from_file(APP, default_timeout=30)
    app.query_params["lang"] = language
    app.query_params["model"] = str(ids["classifier"])
    app.run()
    app.switch_page(PAGE).run()

    assert not app.exception
    assert i18n.translate(language, "ui.evaluate.gallery_mistakes") in markdown(app)
    assert explained[0][0] == "sequences"
    plots = [e for e in app.get("plotly_chart") if "evaluate_sequence_" in e.proto.id]
    assert len(plots) == len(explained[0][2])
    traces = json.loads(plots[0].proto.spec)["data"]
    names = [trace.get("name") for trace in traces]
    assert i18n.translate(language, "ui.evaluate.chart.importance") in names
    assert i18n.translate(language, "ui.evaluate.chart.attention") in names


def test_forecast_shows_errors_and_plots(store, explained):
    ids = add_runs(store)
    data = sequence_evaluation(store, ids["forecaster"], ids["airline"])

    app = AppTest.from_file(APP, default_timeout=30)
    app.query_params["lang"] = "en"
    app.query_params["model"] = str(ids["forecaster"])
    app.run()
    app.switch_page(PAGE).run()

    assert not app.exception
    # Example i is off by i for every output, so the mean absolute error is the mean of i.
    expected = np.arange(len(data), dtype=float).mean()
    assert metric(app, "ui.evaluate.mae") == f"{expected:.4g}"
    scatter = chart(app, "evaluate_predicted_actual")
    assert scatter["layout"]["xaxis"]["title"]["text"] == "Actual value"
    assert chart(app, "evaluate_residuals")["data"][0]["mode"] == "markers"
    assert i18n.translate("en", "ui.evaluate.gallery_errors") in markdown(app)
    # The largest error comes first.
    assert explained[0][2][0] == len(data) - 1


# The predict page


def test_predict_page_shows_grad_cam(store, explained, monkeypatch):
    ids = populate_store(store)

    def fake_predict(home, run_id, images, top_k=3):
        return [Prediction(name, [("red", 0.9), ("blue", 0.1)], [], None) for name, _ in images]

    monkeypatch.setattr(inference_client, "predict_images", fake_predict)
    app = AppTest.from_file(APP, default_timeout=20)
    app.query_params["lang"] = "zh-CN"
    app.run()
    app.switch_page("app_pages/predict.py").run()
    app.file_uploader(key="predict_files").set_value(
        [("red.png", png_bytes(RED), "image/png")]
    ).run()
    assert explained == []

    app.toggle(key="predict_grad_cam").set_value(True).run()

    assert not app.exception
    assert explained == [("images", ids["completed"], ["red.png"])]
    caption = i18n.translate(
        "zh-CN", "ui.evaluate.grad_cam_for", name="red.png", class_name="red", probability="90.0%"
    )
    assert caption in image_captions(app)
