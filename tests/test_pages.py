"""AppTest of every page of the web studio, in both languages, against a real run store.

The background services are switched off (`BIGMODEL_START_SERVICES=0`): the pages
only write runs to the store and read them back, so no worker is needed here.
"""

import dataclasses
import io
import json
from pathlib import Path

import pytest
from image_factory import png_bytes
from PIL import Image
from streamlit.testing.v1 import AppTest

from bigmodel import glossary, i18n, inference_client, services
from bigmodel.architectures.cnn import CNNSettings
from bigmodel.config import Home
from bigmodel.image_datasets import ingest_files
from bigmodel.inference_client import Prediction
from bigmodel.settings import Kind, TrainingSettings, from_dict, specs
from bigmodel.store import COMPLETED, FAILED, QUEUED, STOPPED, MetricRow, RunStore

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
CASES = Path(__file__).resolve().parent / "cases"
PAGES = (
    "app_pages/data.py",
    "app_pages/train.py",
    "app_pages/predict.py",
    "app_pages/models.py",
    "app_pages/glossary.py",
)
TITLES = {
    "app_pages/data.py": "ui.data.title",
    "app_pages/train.py": "ui.train.title",
    "app_pages/predict.py": "ui.predict.title",
    "app_pages/models.py": "ui.models.title",
    "app_pages/glossary.py": "glossary.page.title",
}
RED, BLUE = (220, 30, 30), (30, 30, 220)
SETTINGS = {"preset": "fast", "model": {}, "training": {"epochs": 3}}


def populate_store(store: RunStore) -> dict[str, int | str]:
    """Add a dataset, a completed run with metrics and a failed run; return their ids."""
    files = [(f"red{i}.png", png_bytes(RED), "red") for i in range(3)]
    files += [(f"blue{i}.png", png_bytes(BLUE, (10, 10)), "blue") for i in range(3)]
    dataset = ingest_files(files, "colours", store)

    completed = store.create_run("colours first try", dataset.id, "cnn", SETTINGS)
    store.start_run(completed, worker_pid=1)
    store.log_metrics(completed, epoch_rows(3))
    store.finish_run(
        completed,
        COMPLETED,
        results={
            "val_accuracy": 0.875,
            "val_loss": 0.31,
            "epochs_trained": 3,
            "parameters": 12345,
            "training_seconds": 4.2,
            "classes": ["blue", "red"],
            "input_spec": {"kind": "image", "color_mode": "rgb", "size": 24},
        },
        model_path=str(store.home.run_dir(completed) / "model.keras"),
    )
    store.update_run(completed, environment={"python": "3.11", "tensorflow": "2.21.0"})

    failed = store.create_run("colours too fast", dataset.id, "cnn", SETTINGS)
    store.start_run(failed, worker_pid=1)
    store.finish_run(
        failed, FAILED, error_key="errors.loss_not_finite", error_params={"learning_rate": 0.9}
    )
    return {"dataset": dataset.id, "completed": completed, "failed": failed}


def epoch_rows(count: int) -> list[MetricRow]:
    return [
        MetricRow(
            "epoch",
            epoch,
            4,
            float(epoch + 1),
            {
                "loss": 1.0 / (epoch + 1),
                "accuracy": 0.5 + 0.1 * epoch,
                "val_loss": 1.2 / (epoch + 1),
                "val_accuracy": 0.45 + 0.1 * epoch,
            },
        )
        for epoch in range(count)
    ]


@pytest.fixture
def studio_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Home:
    monkeypatch.setenv("BIGMODEL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("BIGMODEL_START_SERVICES", "0")
    return Home.from_env().ensure()


@pytest.fixture
def store(studio_home: Home) -> RunStore:
    return RunStore(studio_home)


def start_app(language: str = "en", timeout: float = 3) -> AppTest:
    app = AppTest.from_file(APP, default_timeout=timeout)
    app.query_params["lang"] = language
    return app.run()


def chart_spec(app: AppTest, index: int = 0) -> dict:
    return json.loads(app.get("plotly_chart")[index].proto.spec)


def texts(elements) -> list[str]:
    return [element.value for element in elements]


def case_file(name: str) -> bytes:
    return (CASES / name).read_bytes()


@pytest.mark.parametrize("language", i18n.LANGUAGES)
@pytest.mark.parametrize("populated", [False, True], ids=["empty", "populated"])
def test_every_page_renders(store: RunStore, language: str, populated: bool) -> None:
    if populated:
        populate_store(store)
    app = start_app(language)

    for page in PAGES:
        app.switch_page(page).run()
        assert not app.exception, page
        assert app.title[0].value == i18n.translate(language, TITLES[page]), page


def test_empty_store_shows_guards(store: RunStore) -> None:
    app = start_app()
    assert i18n.translate("en", "ui.data.empty") in texts(app.info)

    for page, key in [
        ("app_pages/train.py", "ui.train.no_dataset"),
        ("app_pages/predict.py", "ui.predict.no_model"),
        ("app_pages/models.py", "ui.models.empty"),
    ]:
        app.switch_page(page).run()
        assert i18n.translate("en", key) in texts(app.info), page


def test_language_follows_browser(store: RunStore) -> None:
    app = AppTest.from_file(APP)
    app.context["locale"] = "zh-CN"
    app.run()

    assert app.title[0].value == i18n.translate("zh-CN", "ui.data.title")
    assert app.query_params["lang"] == "zh-CN"


def test_query_parameter_overrides_browser(store: RunStore) -> None:
    app = AppTest.from_file(APP)
    app.context["locale"] = "zh-CN"
    app.query_params["lang"] = "en"
    app.run()

    assert app.title[0].value == i18n.translate("en", "ui.data.title")


def test_language_switch_keeps_choice(store: RunStore) -> None:
    app = start_app("en")
    app.radio(key="app_language").set_value("zh-CN").run()

    assert app.query_params["lang"] == "zh-CN"
    assert app.title[0].value == i18n.translate("zh-CN", "ui.data.title")
    app.switch_page("app_pages/train.py").run()
    assert app.title[0].value == i18n.translate("zh-CN", "ui.train.title")


def test_sample_button_ingests_digits(store: RunStore) -> None:
    app = start_app()
    app.button(key="data_sample").click().run(timeout=60)

    assert not app.exception
    assert not app.error
    bars = chart_spec(app)["data"][0]
    assert bars["x"] == [str(digit) for digit in range(10)]
    assert app.metric[1].value == "10"
    dataset_id = store.list_datasets("image")[0].id
    assert app.query_params["dataset"] == dataset_id
    assert len(app.image) == 10
    assert all(len(image.value) == 8 for image in app.image)


@pytest.mark.parametrize("file_name", ["B36_macos_zip.zip", "PETS.ZIP"])
def test_zip_upload_keeps_cat_and_dog(store: RunStore, file_name: str) -> None:
    app = start_app()
    app.file_uploader(key="data_zip").set_value(
        (file_name, case_file("B36_macos_zip.zip"), "application/zip")
    ).run()
    app.button(key="data_zip_add").click().run(timeout=10)

    assert not app.exception
    assert not app.error
    assert chart_spec(app)["data"][0]["x"] == ["cat", "dog"]
    ignored = app.metric[3]
    assert int(ignored.value) > 0
    assert [record.name for record in store.list_datasets()] == [Path(file_name).stem]


def test_single_class_zip_shows_error(store: RunStore) -> None:
    app = start_app()
    app.file_uploader(key="data_zip").set_value(
        ("B40_single_class.zip", case_file("B40_single_class.zip"), "application/zip")
    ).run()
    app.button(key="data_zip_add").click().run(timeout=10)

    assert not app.exception
    assert len(app.error) == 1
    assert "At least two classes are needed" in app.error[0].value
    assert store.list_datasets() == []
    assert i18n.translate("en", "ui.data.empty") in texts(app.info)


def test_rejected_zip_hides_previous_dataset(store: RunStore) -> None:
    populate_store(store)
    app = start_app()
    app.run()
    assert app.selectbox(key="data_dataset").value is not None

    app.file_uploader(key="data_zip").set_value(
        ("B40_single_class.zip", case_file("B40_single_class.zip"), "application/zip")
    ).run()
    app.button(key="data_zip_add").click().run(timeout=10)

    assert len(app.error) == 1
    assert all(box.key != "data_dataset" for box in app.selectbox)
    app.run()
    assert app.selectbox(key="data_dataset").value is not None


def jpeg_bytes(color: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), color).save(buffer, format="JPEG")
    return buffer.getvalue()


def test_file_batches_become_one_dataset(store: RunStore) -> None:
    app = start_app()
    for class_name, color in [("red", RED), ("blue", BLUE)]:
        uploader = next(u for u in app.file_uploader if u.key.startswith("data_files_"))
        uploader.set_value(
            [(f"{class_name}{i}.JPG", jpeg_bytes(color), "image/jpeg") for i in range(2)]
        ).run()
        app.text_input(key="data_class").set_value(class_name).run()
        app.button(key="data_add_batch").click().run()
    app.text_input(key="data_files_name").set_value("two colours").run()
    app.button(key="data_create").click().run(timeout=10)

    assert not app.exception
    assert not app.error
    [record] = store.list_datasets()
    assert record.name == "two colours"
    assert record.summary["counts"] == {"blue": 2, "red": 2}
    assert chart_spec(app)["data"][0]["x"] == ["blue", "red"]


def test_train_form_offers_every_setting(store: RunStore) -> None:
    populate_store(store)
    app = start_app()
    app.switch_page("app_pages/train.py").run()

    accessors = {
        Kind.INTEGER: "number_input",
        Kind.FLOAT: "number_input",
        Kind.BOOLEAN: "toggle",
        Kind.CHOICE: "selectbox",
    }
    for prefix, settings_class in [
        ("train_cnn", CNNSettings),
        ("train_training", TrainingSettings),
    ]:
        for spec in specs(settings_class):
            accessor = "select_slider" if spec.log_scale else accessors[spec.kind]
            widget = getattr(app, accessor)(key=f"{prefix}_{spec.name}")
            assert widget.label == i18n.translate("en", spec.label_key)
            assert widget.help == glossary.setting_help(spec.name, i18n.Translator("en"))
            assert widget.value == spec.default, spec.name


def test_train_submits_fast_preset(store: RunStore) -> None:
    ids = populate_store(store)
    app = start_app()
    app.switch_page("app_pages/train.py").run()
    app.segmented_control(key="train_preset").set_value("fast").run()
    assert app.number_input(key="train_cnn_input_size").value == 24
    app.form_submit_button[0].click().run()

    assert not app.exception
    assert not app.error
    run = store.list_runs()[0]
    assert run.status == QUEUED
    assert run.dataset_id == ids["dataset"]
    assert run.settings["preset"] == "fast"
    assert run.settings["model"]["input_size"] == 24
    assert run.settings["training"]["epochs"] == 10
    assert app.query_params["run"] == str(run.id)
    assert i18n.translate("en", "ui.train.worker_not_running") in texts(app.warning)


def test_queued_runs_show_their_place(store: RunStore) -> None:
    ids = populate_store(store)
    first = store.create_run("first", str(ids["dataset"]), "cnn", SETTINGS)
    second = store.create_run("second", str(ids["dataset"]), "cnn", SETTINGS)
    (store.home.root / services.WORKER_STATUS_FILE).write_text(json.dumps({"slots": 1}))

    with services.hold_lock(store.home, services.WORKER) as acquired:
        assert acquired
        app = start_app()
        app.query_params["run"] = str(second)
        app.switch_page("app_pages/train.py").run()

    expected = i18n.translate("en", "ui.train.queued", position=2, length=2, slots=1)
    assert expected in texts(app.info)
    assert first < second


def test_live_run_shows_chart_and_progress(store: RunStore) -> None:
    ids = populate_store(store)
    run_id = store.create_run("live", str(ids["dataset"]), "cnn", SETTINGS)
    store.start_run(run_id, worker_pid=1)
    store.log_metrics(run_id, epoch_rows(2))
    store.log_metrics(run_id, [MetricRow("batch", 2, 2, 2.5, {"loss": 0.4, "accuracy": 0.8})])
    progress = {
        "epoch": 2,
        "epochs": 3,
        "step": 2,
        "steps": 4,
        "fraction": 0.83,
        "elapsed": 65.0,
        "eta": 13.0,
    }
    store.update_run(run_id, progress=progress)

    app = start_app()
    app.query_params["run"] = str(run_id)
    app.switch_page("app_pages/train.py").run()

    assert not app.exception
    loss_traces = [trace for trace in chart_spec(app)["data"] if trace["xaxis"] == "x"]
    traces = {trace["name"]: trace for trace in loss_traces}
    assert traces["Training"]["x"] == [1, 2]
    assert traces["Validation"]["y"] == pytest.approx([1.2, 0.6])
    assert traces["Training (current epoch)"]["x"] == [2.5]
    bar = app.get("progress")[0]
    assert "Epoch 3/3 · batch 2/4" in bar.proto.text
    assert any("1 min 05 s" in caption.value for caption in app.caption)

    app.button(key="train_stop").click().run()
    assert store.get_run(run_id).stop_requested


def test_newest_active_run_is_shown(store: RunStore) -> None:
    ids = populate_store(store)
    older = store.create_run("older", str(ids["dataset"]), "cnn", SETTINGS)
    newer = store.create_run("newer", str(ids["dataset"]), "cnn", SETTINGS)

    app = start_app()
    app.switch_page("app_pages/train.py").run()

    assert app.subheader[0].value == f"Run #{newer}: newer"
    app.button(key=f"train_watch_{older}").click().run()
    assert app.query_params["run"] == str(older)
    assert app.subheader[0].value == f"Run #{older}: older"


def test_newest_finished_run_is_shown_without_active_runs(store: RunStore) -> None:
    ids = populate_store(store)

    app = start_app()
    app.switch_page("app_pages/train.py").run()

    assert app.subheader[0].value == f"Run #{ids['failed']}: colours too fast"
    assert i18n.translate("en", "ui.train.no_run") not in texts(app.caption)


def test_failed_run_shows_error(store: RunStore) -> None:
    ids = populate_store(store)
    app = start_app("zh-CN")
    app.query_params["run"] = str(ids["failed"])
    app.switch_page("app_pages/train.py").run()

    expected = i18n.translate("zh-CN", "errors.loss_not_finite", learning_rate=0.9)
    assert texts(app.error) == [expected]
    assert not app.success


def test_completed_run_shows_accuracy(store: RunStore) -> None:
    ids = populate_store(store)
    app = start_app()
    app.query_params["run"] = str(ids["completed"])
    app.switch_page("app_pages/train.py").run()

    assert texts(app.success) == ["Training finished. Validation accuracy: 87.5%."]
    assert not app.error
    assert len(chart_spec(app)["data"][0]["x"]) == 3


def test_predict_shows_top_classes_and_errors(
    store: RunStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = populate_store(store)
    calls = []

    def fake_predict(home, run_id, images, top_k=3):
        calls.append((run_id, [name for name, _ in images]))
        return [
            Prediction("red.png", [("red", 0.9), ("blue", 0.1)], [], None),
            Prediction("broken.jpg", [], [], {"key": "errors.image_damaged", "params": {}}),
        ]

    monkeypatch.setattr(inference_client, "predict_images", fake_predict)
    app = start_app()
    app.switch_page("app_pages/predict.py").run()
    app.file_uploader(key="predict_files").set_value(
        [("red.png", png_bytes(RED), "image/png"), ("broken.jpg", b"not a jpeg", "image/jpeg")]
    ).run()

    assert not app.exception
    assert calls == [(ids["completed"], ["red.png", "broken.jpg"])]
    bars = [bar.proto.text for bar in app.get("progress")]
    assert bars == ["red · 90.0%", "blue · 10.0%"]
    assert texts(app.error) == [i18n.translate("en", "errors.image_damaged", source="broken.jpg")]
    assert app.query_params["model"] == str(ids["completed"])

    app.run()
    assert len(calls) == 1


def test_predict_offers_completed_model_before_newer_stopped(store: RunStore) -> None:
    ids = populate_store(store)
    stopped = store.create_run("stopped after one epoch", str(ids["dataset"]), "cnn", SETTINGS)
    store.start_run(stopped, worker_pid=1)
    store.finish_run(
        stopped,
        STOPPED,
        results={"val_accuracy": 0.5, "classes": ["blue", "red"]},
        model_path=str(store.home.run_dir(stopped) / "model.keras"),
    )

    app = start_app()
    app.switch_page("app_pages/predict.py").run()

    picker = app.selectbox(key="predict_model")
    assert picker.value == ids["completed"]
    assert len(picker.options) == 2  # the stopped run stays available


def test_models_page_lists_runs(store: RunStore) -> None:
    ids = populate_store(store)
    app = start_app("zh-CN")
    app.switch_page("app_pages/models.py").run()

    assert not app.exception
    table = app.dataframe[0].value
    assert list(table["id"]) == [ids["failed"], ids["completed"]]
    assert list(table["status"]) == ["失败", "已完成"]
    assert list(table["dataset"]) == ["colours", "colours"]
    assert len(app.expander) == 2


def test_run_log_is_shown_for_download(store: RunStore) -> None:
    ids = populate_store(store)
    run_dir = store.home.run_dir(int(ids["completed"]))
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "run.log").write_text("INFO Run 1 started\nINFO epoch 1/3 {'loss': 0.5}\n")

    app = start_app()
    app.query_params["run"] = str(ids["completed"])
    app.switch_page("app_pages/train.py").run()

    assert not app.exception
    assert "epoch 1/3" in app.code[0].value
    assert app.get("download_button")


def overfitting_rows() -> list[MetricRow]:
    """Epochs whose validation loss is lowest in epoch 3 and rises while training loss falls."""
    losses = [1.0, 0.6, 0.4, 0.3, 0.2, 0.1]
    val_losses = [1.0, 0.7, 0.5, 0.55, 0.6, 0.7]
    return [
        MetricRow("epoch", epoch, 4, float(epoch + 1), {"loss": loss, "val_loss": val_loss})
        for epoch, (loss, val_loss) in enumerate(zip(losses, val_losses, strict=True))
    ]


def test_live_run_shows_diagnostics(store: RunStore) -> None:
    ids = populate_store(store)
    run_id = store.create_run("live", str(ids["dataset"]), "cnn", SETTINGS)
    store.start_run(run_id, worker_pid=1)
    store.log_metrics(run_id, overfitting_rows())

    app = start_app("zh-CN")
    app.query_params["run"] = str(run_id)
    app.switch_page("app_pages/train.py").run()

    assert not app.exception
    warnings = texts(app.warning)
    assert any(warning.startswith("模型出现过拟合") for warning in warnings), warnings
    assert i18n.translate("zh-CN", "ui.diagnostics.live") in texts(app.caption)
    assert app.button(key="train_remedy_overfitting_more_dropout")


@pytest.mark.parametrize(
    ("button", "changes"),
    [
        ("train_remedy_overfitting_more_dropout", {"dropout": 0.5}),
        ("train_remedy_overfitting_augmentation_image", {"rotation": 15, "zoom": 0.1}),
    ],
)
def test_remedy_button_fills_train_form(store: RunStore, button: str, changes: dict) -> None:
    ids = populate_store(store)
    settings = {"preset": "fast", "model": {"filters": 16}, "training": {"epochs": 6}}
    run_id = store.create_run("overfit", str(ids["dataset"]), "cnn", settings)
    store.start_run(run_id, worker_pid=1)
    store.log_metrics(run_id, overfitting_rows())
    results = {"val_accuracy": 0.9, "val_loss": 0.5, "epochs_trained": 6, "training_seconds": 3.0}
    store.finish_run(run_id, COMPLETED, results=results)

    app = start_app()
    app.query_params["run"] = str(run_id)
    app.switch_page("app_pages/train.py").run()
    app.button(key=button).click().run()

    assert not app.exception
    for name, value in changes.items():
        assert app.number_input(key=f"train_cnn_{name}").value == value, name
    assert app.number_input(key="train_cnn_filters").value == 16
    assert app.number_input(key="train_training_epochs").value == 6

    app.form_submit_button[0].click().run()
    assert not app.exception
    retrained = store.list_runs()[0]
    assert retrained.id != run_id
    assert retrained.dataset_id == ids["dataset"]
    assert retrained.settings["preset"] == "fast"
    expected = dataclasses.asdict(from_dict(CNNSettings, {"filters": 16, **changes}))
    assert retrained.settings["model"] == expected
    assert retrained.settings["training"]["epochs"] == 6


def test_run_with_outdated_settings_still_shows(store: RunStore) -> None:
    ids = populate_store(store)
    outdated = {"preset": "fast", "model": {"removed_setting": 1}, "training": {}}
    run_id = store.create_run("old", str(ids["dataset"]), "cnn", outdated)
    store.start_run(run_id, worker_pid=1)
    store.log_metrics(run_id, overfitting_rows())

    app = start_app()
    app.query_params["run"] = str(run_id)
    app.switch_page("app_pages/train.py").run()

    assert not app.exception
    assert app.subheader[0].value == f"Run #{run_id}: old"
    assert [warning.icon for warning in app.warning] == [":material/warning:"]  # worker only
