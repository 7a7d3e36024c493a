"""AppTest of the predict page's batch mode and confidence threshold, in both languages.

The inference client is replaced by a fake, so no TensorFlow is loaded here. The
fake reads the probability of class `red` from each file name and splits the rest
between `blue` and `green`, so `0.3.png` is red 30 %, blue 35 % and green 35 %.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import PurePosixPath

import pytest
from image_factory import png_bytes
from streamlit.testing.v1 import AppTest

from bigmodel import batch_prediction, i18n, inference_client
from bigmodel.inference_client import Prediction
from bigmodel.store import RunStore
from tests.test_pages import RED, populate_store, start_app, texts

pytestmark = pytest.mark.usefixtures("studio_home")


@pytest.fixture
def studio_home(tmp_path, monkeypatch):
    from bigmodel.config import Home

    monkeypatch.setenv("BIGMODEL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("BIGMODEL_START_SERVICES", "0")
    return Home.from_env().ensure()


@pytest.fixture
def chunks(monkeypatch) -> list[list[str]]:
    """Record the names of each request to the fake inference service."""
    sent: list[list[str]] = []

    def fake_predict(home, run_id, images, top_k=3):
        sent.append([name for name, _ in images])
        predictions = []
        for name, _ in images:
            red = float(PurePosixPath(name).stem)
            top = [("red", red), ("blue", (1 - red) / 2), ("green", (1 - red) / 2)]
            top.sort(key=lambda pair: -pair[1])
            predictions.append(Prediction(name, top, [], None))
        return predictions

    monkeypatch.setattr(inference_client, "predict_images", fake_predict)
    monkeypatch.setattr(batch_prediction, "CHUNK_SIZE", 2)
    return sent


def zip_upload() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in ("0.9", "0.3", "0.7", "0.45", "0.2"):
            archive.writestr(f"照片/{name}.png", png_bytes(RED))
        archive.writestr("照片/说明.txt", b"not an image")
    return buffer.getvalue()


def upload_in_batch_mode(language: str, files) -> AppTest:
    app = start_app(language)
    app.switch_page("app_pages/predict.py").run()
    app.radio(key="predict_mode").set_value("batch").run()
    app.file_uploader(key="predict_batch").set_value(files).run()
    return app


def open_batch_mode(language: str) -> AppTest:
    return upload_in_batch_mode(language, ("批量.zip", zip_upload(), "application/zip"))


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_batch_zip_becomes_marked_table(
    store: RunStore, chunks: list[list[str]], language: str
) -> None:
    populate_store(store)
    t = i18n.Translator(language)

    app = open_batch_mode(language)

    assert not app.exception
    assert chunks == [
        ["批量.zip/照片/0.9.png", "批量.zip/照片/0.3.png"],
        ["批量.zip/照片/0.7.png", "批量.zip/照片/0.45.png"],
        ["批量.zip/照片/0.2.png"],
    ]
    table = app.dataframe[0].value
    file_column = t("ui.predict.column.file")
    assert table[file_column].tolist()[-1] == "批量.zip/照片/说明.txt"
    marks = dict(zip(table[file_column], table[t("ui.predict.column.uncertain")], strict=True))
    uncertain = t("batch.uncertain")
    assert [name for name, mark in marks.items() if mark == uncertain] == [
        "批量.zip/照片/0.2.png",
        "批量.zip/照片/0.3.png",
        "批量.zip/照片/0.45.png",
    ]
    assert marks["批量.zip/照片/说明.txt"] == ""
    summary = t("batch.summary", images=5, uncertain=3, failed=1)
    assert summary in texts(app.info)
    assert app.get("download_button")[0].proto.label == t("batch.download", rows=6)

    app.run()
    assert len(chunks) == 3


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_batch_threshold_filter_and_sort(
    store: RunStore, chunks: list[list[str]], language: str
) -> None:
    populate_store(store)
    t = i18n.Translator(language)
    app = open_batch_mode(language)
    file_column = t("ui.predict.column.file")

    app.slider(key="predict_threshold").set_value(80).run()
    app.toggle(key="predict_uncertain").set_value(True).run()

    assert not app.exception
    shown = app.dataframe[0].value[file_column].tolist()
    assert shown == [
        "批量.zip/照片/0.2.png",
        "批量.zip/照片/0.3.png",
        "批量.zip/照片/0.45.png",
        "批量.zip/照片/0.7.png",
    ]
    assert app.get("download_button")[0].proto.label == t("batch.download", rows=4)

    app.selectbox(key="predict_batch_sort").set_value("confidence_low").run()
    assert app.dataframe[0].value[file_column].tolist() == [
        "批量.zip/照片/0.3.png",
        "批量.zip/照片/0.2.png",
        "批量.zip/照片/0.45.png",
        "批量.zip/照片/0.7.png",
    ]

    app.toggle(key="predict_uncertain").set_value(False).run()
    app.multiselect(key="predict_batch_classes").set_value(["red"]).run()
    assert app.dataframe[0].value[file_column].tolist() == [
        "批量.zip/照片/0.45.png",
        "批量.zip/照片/0.7.png",
        "批量.zip/照片/0.9.png",
    ]
    assert len(chunks) == 3


def test_batch_without_images_says_so(store: RunStore, chunks: list[list[str]]) -> None:
    populate_store(store)
    app = upload_in_batch_mode(
        "en", [("a.txt", b"text", "text/plain"), ("b.csv", b"1,2", "text/csv")]
    )

    assert not app.exception
    assert chunks == []
    assert texts(app.warning) == [i18n.translate("en", "batch.no_images", skipped=2)]


def test_not_a_zip_shows_error(store: RunStore, chunks: list[list[str]]) -> None:
    populate_store(store)
    app = upload_in_batch_mode("en", ("photos.zip", b"not a zip", "application/zip"))

    assert not app.exception
    assert texts(app.error) == [i18n.translate("en", "errors.not_a_zip")]


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_single_image_below_threshold_is_marked(
    store: RunStore, chunks: list[list[str]], language: str
) -> None:
    populate_store(store)
    t = i18n.Translator(language)
    app = start_app(language)
    app.switch_page("app_pages/predict.py").run()
    app.file_uploader(key="predict_files").set_value(
        [("0.6.png", png_bytes(RED), "image/png"), ("0.9.png", png_bytes(RED), "image/png")]
    ).run()

    assert not app.exception
    assert texts(app.warning) == []

    app.slider(key="predict_threshold").set_value(70).run()
    expected = t("batch.single_uncertain", confidence="60.0%", threshold="70.0%")
    assert texts(app.warning) == [expected]
    assert t("batch.uncertain") in expected
    assert len(chunks) == 1


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_sequence_table_has_threshold_and_progress(
    store: RunStore, monkeypatch: pytest.MonkeyPatch, language: str
) -> None:
    from tests.test_sequence_pages import SEQUENCES, add_runs, classification_table, upload

    ids = add_runs(store)
    t = i18n.Translator(language)
    requests = []

    def fake_predict(home, run_id, csv_bytes, source, top_k=3, chunk_size=None, on_progress=None):
        requests.append(chunk_size)
        on_progress(1, 2)
        on_progress(2, 2)
        return classification_table()

    monkeypatch.setattr(inference_client, "predict_sequences", fake_predict)
    app = start_app(language)
    app.query_params["model"] = str(ids["classifier"])
    app.switch_page("app_pages/predict.py").run(timeout=30)
    upload(app, "GunPoint_TEST.csv", SEQUENCES, key="predict_csv")

    assert not app.exception
    assert requests == [1024]
    check = t("ui.predict.column.uncertain")
    # Confidences 0.97 and 0.61 against the default minimum of 50 %, then 70 %.
    assert app.dataframe[0].value[check].tolist() == ["", ""]
    app.slider(key="predict_threshold").set_value(70).run(timeout=30)
    assert app.dataframe[0].value[check].tolist() == ["", t("batch.uncertain")]
    assert requests == [1024]


def test_folder_upload_is_predicted(store: RunStore, chunks: list[list[str]]) -> None:
    populate_store(store)
    app = start_app()
    app.switch_page("app_pages/predict.py").run()
    app.radio(key="predict_mode").set_value("batch").run()
    app.file_uploader(key="predict_batch_folder").set_value(
        [
            ("检查/良品/0.8.png", png_bytes(RED), "image/png"),
            ("检查/Thumbs.db", b"junk", "application/octet-stream"),
        ]
    ).run()

    assert not app.exception
    assert chunks == [["检查/良品/0.8.png"]]
    assert app.dataframe[0].value["File"].tolist() == ["检查/良品/0.8.png"]
