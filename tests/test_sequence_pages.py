"""AppTest of the sequence path of every page: CSV upload and inspection, training, prediction.

Every CSV case file goes through the real upload widget, and the test checks that
the page shows the outcome the case expects. The background services are off
(`BIGMODEL_START_SERVICES=0`) and predictions come from a stand-in for
`inference_client.predict_sequences`, so no TensorFlow is loaded here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from bigmodel import i18n, inference_client, sequence_views
from bigmodel.architectures.cnn1d import CNN1DSettings
from bigmodel.config import Home
from bigmodel.samples import load_sequence_sample
from bigmodel.sequence_datasets import SequenceSpec, ingest_sequences
from bigmodel.settings import specs
from bigmodel.store import COMPLETED, QUEUED, MetricRow, RunStore

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
CASES = Path(__file__).resolve().parent / "cases"
SEQUENCES = ROOT / "assets" / "sequences"
UPLOADER = "data_csv_0"
SETTINGS = {"preset": "fast", "model": {}, "training": {"epochs": 3}}


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> RunStore:
    monkeypatch.setenv("BIGMODEL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("BIGMODEL_START_SERVICES", "0")
    return RunStore(Home.from_env().ensure())


def start_app(language: str = "en", page: str | None = None) -> AppTest:
    app = AppTest.from_file(APP, default_timeout=30)
    app.query_params["lang"] = language
    app.run()
    if page is not None:
        app.switch_page(page).run()
    return app


def upload(app: AppTest, name: str, folder: Path = CASES, key: str = UPLOADER) -> AppTest:
    data = (folder / name).read_bytes()
    return app.file_uploader(key=key).set_value((name, data, "text/csv")).run()


def markdown_text(app: AppTest) -> str:
    return "\n".join(element.value for element in [*app.markdown, *app.caption])


def chart(app: AppTest, key: str) -> dict:
    charts = [element for element in app.get("plotly_chart") if key in element.proto.id]
    assert charts, f"no chart with key {key}"
    return json.loads(charts[0].proto.spec)


def table_with(app: AppTest, column: str) -> pd.DataFrame:
    frames = [element.value for element in [*app.dataframe, *app.table]]
    return next(frame for frame in frames if column in frame.columns)


def add_runs(store: RunStore) -> dict[str, int | str]:
    """Add the GunPoint and airline samples with a finished run on each; return their ids."""
    gunpoint = load_sequence_sample("gunpoint", store)
    airline = load_sequence_sample("airline", store)
    classifier = _finished_run(
        store,
        gunpoint.id,
        {"task": "classification", "val_accuracy": 0.92, "classes": ["1", "2"], "targets": []},
    )
    forecaster = _finished_run(
        store,
        airline.id,
        {
            "task": "forecast",
            "val_mae": 21.5,
            "val_rmse": 27.25,
            "classes": [],
            "targets": ["passengers"],
        },
    )
    return {
        "gunpoint": gunpoint.id,
        "airline": airline.id,
        "classifier": classifier,
        "forecaster": forecaster,
    }


def _finished_run(store: RunStore, dataset_id: str, results: dict) -> int:
    run_id = store.create_run(f"cnn1d on {dataset_id}", dataset_id, "cnn1d", SETTINGS)
    store.start_run(run_id, worker_pid=1)
    metrics = ("accuracy",) if results["task"] == "classification" else ("mae", "rmse")
    store.log_metrics(run_id, [_epoch_row(epoch, ("loss", *metrics)) for epoch in range(3)])
    store.finish_run(
        run_id,
        COMPLETED,
        results={
            **results,
            "val_loss": 0.3,
            "epochs_trained": 3,
            "parameters": 1000,
            "training_seconds": 2.0,
            "input_spec": {"kind": "sequence", "task": results["task"]},
        },
        model_path=str(store.home.run_dir(run_id) / "model.keras"),
    )
    return run_id


def _epoch_row(epoch: int, metrics: tuple[str, ...]) -> MetricRow:
    values = {name: 1.0 / (epoch + 1) for name in metrics}
    values |= {f"val_{name}": 1.2 / (epoch + 1) for name in metrics}
    return MetricRow("epoch", epoch, 4, float(epoch + 1), values)


# Data page: every CSV case through the upload widget


def test_b16_upper_case_extension_is_read(store: RunStore) -> None:
    app = upload(start_app(), "B16_data.CSV")

    assert not app.exception
    assert not app.error
    assert list(table_with(app, "value").columns) == ["t", "value", "label"]
    assert chart(app, "data_seq_labels")["data"][0]["x"] == ["a", "b"]


def test_b43_gbk_headers_and_encoding(store: RunStore) -> None:
    app = upload(start_app("zh-CN"), "B43_gbk.csv")

    assert not app.exception
    preview = table_with(app, "时间")
    assert list(preview.columns)[:3] == ["时间", "温度(℃)", "压力(kPa)"]
    assert "GB18030" in markdown_text(app)
    assert preview["温度(℃)"].tolist() == [21.5, 22.0, 35.8, 22.4, 36.1, 22.1]


def test_b45_byte_order_mark_is_removed(store: RunStore) -> None:
    app = upload(start_app(), "B45_utf8_bom.csv")

    preview = table_with(app, "时间")
    assert preview.columns[0] == "时间"
    assert "UTF-8 with a byte-order mark" in markdown_text(app)


def test_b46_decimal_commas_become_numbers(store: RunStore) -> None:
    app = upload(start_app(), "B46_semicolon_decimal_comma.csv")

    preview = table_with(app, "temperatur")
    assert preview["temperatur"].tolist() == [21.5, 22.0, 35.8, 22.4]
    assert preview["druck"].tolist() == [1013.2, 1012.8, 998.7, 1011.1]
    text = markdown_text(app)
    assert "separator **semicolon (;)**" in text
    assert "decimal mark **comma (,)**" in text


def test_b48_bad_cells_listed_with_choice(store: RunStore) -> None:
    app = upload(start_app(), "B48_dirty_numeric.csv")

    cells = table_with(app, "Problem")
    assert list(zip(cells["Row"], cells["Value"], strict=True)) == [
        (4, "N/A"),
        (5, "-"),
        (6, "#DIV/0!"),
        (7, "(blank)"),
        (10, "NULL"),
    ]
    assert cells["Problem"].tolist() == ["missing"] * 2 + ["not a number"] + ["missing"] * 2
    values = table_with(app, "数值")["数值"].tolist()
    # A column with missing cells is shown as text, so that those cells stay blank
    # instead of showing the word None.
    assert values[1] == "13.0"
    assert values[6] == "12.8"
    assert values[7] == "12.9"
    assert values[2] == ""
    percent = i18n.translate("en", "ui.data.seq_percent", columns="数值")
    assert percent in [element.value for element in app.info]
    assert "Fill with the previous value; 5 cells were filled." in markdown_text(app)

    # Dropping the five rows leaves only the class 正常, and the page reports that in plain words.
    app.selectbox(key="data_seq_cleaning").set_value("drop").run()
    assert not app.exception
    assert "contains only one class (正常)" in app.error[0].value
    assert "Missing values above: Drop those rows." in markdown_text(app)
    assert len(table_with(app, "Problem")) == 5

    app.selectbox(key="data_seq_cleaning").set_value("fill_mean").run()
    assert not app.error
    assert "Fill with the column mean; 5 cells were filled." in markdown_text(app)


def test_b50_lengths_and_padding(store: RunStore) -> None:
    app = upload(start_app(), "B50_ragged_long.csv")

    assert chart(app, "data_seq_lengths")["data"][0]["x"] == [1, 3, 5, 7]
    text = markdown_text(app)
    assert "4 sequences of 1 to 7 steps." in text
    assert "3 shorter sequences are padded to 7 steps with masked steps" in text

    app.radio(key="data_seq_length_rule").set_value("truncate").run()
    app.number_input(key="data_seq_max_length").set_value(3).run()
    text = markdown_text(app)
    assert "2 longer sequences are cut to their first 3 steps." in text
    assert "1 sequences shorter than 3 steps are left out." in text


@pytest.mark.parametrize(
    ("name", "classes"),
    [
        ("B52_labels_1based.csv", ["1", "2", "3"]),
        ("B54_labels_strings.csv", ["待检", "故障", "正常"]),
    ],
)
def test_label_cases_show_classes(store: RunStore, name: str, classes: list[str]) -> None:
    app = upload(start_app(), name)

    assert not app.exception
    assert chart(app, "data_seq_labels")["data"][0]["x"] == classes


@pytest.mark.parametrize(
    "name",
    [
        "B16_data.CSV",
        "B43_gbk.csv",
        "B45_utf8_bom.csv",
        "B46_semicolon_decimal_comma.csv",
        "B48_dirty_numeric.csv",
        "B50_ragged_long.csv",
        "B52_labels_1based.csv",
        "B54_labels_strings.csv",
    ],
)
def test_case_is_stored_and_overview_renders(store: RunStore, name: str) -> None:
    app = upload(start_app(), name)
    app.button(key="data_seq_store").click().run()

    assert not app.exception
    assert not app.error
    [record] = store.list_datasets("sequence")
    assert record.name == Path(name).stem
    assert app.query_params["dataset"] == record.id
    assert app.file_uploader(key="data_csv_1").value is None
    assert "data_seq_file" not in app.session_state
    assert chart(app, "data_stored_lengths")["data"][0]["type"] == "bar"


def test_impossible_spec_is_a_plain_message(store: RunStore) -> None:
    app = upload(start_app(), "B54_labels_strings.csv")
    app.selectbox(key="data_seq_task").set_value("regression").run()

    assert not app.exception
    expected = "Regression needs a numeric label, but the label column label contains"
    assert any(expected in error.value for error in app.error)
    assert app.button(key="data_seq_store").disabled


def test_layout_change_reinspects(store: RunStore) -> None:
    app = upload(start_app(), "B50_ragged_long.csv")
    app.selectbox(key="data_seq_layout").set_value("series").run()

    assert not app.exception
    roles = table_with(app, "Role")
    assert dict(zip(roles["Column"], roles["Role"], strict=True))["seq_id"] == "Sequence id"
    assert "Each example is a window of" in markdown_text(app)


def test_sequence_sample_button_ingests(store: RunStore) -> None:
    app = start_app()
    app.button(key="data_seq_sample_airline").click().run()

    assert not app.exception
    [record] = store.list_datasets("sequence")
    assert record.summary["task"] == "forecast"
    assert record.summary["horizon"] == 12
    assert app.query_params["dataset"] == record.id
    assert chart(app, "data_stored_labels")["layout"]["title"]["text"] == (
        "Distribution of the target values"
    )


# Train page


def test_train_offers_sequence_families(store: RunStore) -> None:
    ids = add_runs(store)
    app = start_app()
    app.query_params["dataset"] = str(ids["gunpoint"])
    app.switch_page("app_pages/train.py").run()

    family = app.selectbox(key="train_family")
    assert family.options == [
        i18n.translate("en", f"ui.family.{name}") for name in ("cnn1d", "rnn", "attention")
    ]
    family.set_value("cnn1d").run()
    for spec in specs(CNN1DSettings):
        assert app.number_input(key=f"train_cnn1d_{spec.name}").value == spec.default
    assert app.number_input(key="train_training_epochs").value == 150

    # Form widgets send their values with the submit button, in the same run.
    app.number_input(key="train_training_epochs").set_value(3)
    app.form_submit_button[0].click().run()
    assert not app.exception
    run = store.list_runs()[0]
    assert run.status == QUEUED
    assert run.family == "cnn1d"
    assert run.dataset_id == ids["gunpoint"]
    assert run.settings["training"]["epochs"] == 3


def test_train_form_follows_dataset_kind(store: RunStore) -> None:
    from test_pages import populate_store

    images = populate_store(store)
    ids = add_runs(store)
    app = start_app()
    app.query_params["dataset"] = str(images["dataset"])
    app.switch_page("app_pages/train.py").run()
    assert app.selectbox(key="train_family").options == [i18n.translate("en", "ui.family.cnn")]
    assert app.number_input(key="train_training_epochs").value == 20

    app.selectbox(key="train_dataset").set_value(ids["gunpoint"]).run()
    assert not app.exception
    assert app.selectbox(key="train_family").value == "cnn1d"
    assert app.number_input(key="train_training_epochs").value == 150
    assert app.number_input(key="train_cnn1d_conv_layers").value == 3


def test_live_forecast_run_charts_mae_and_rmse(store: RunStore) -> None:
    ids = add_runs(store)
    run_id = store.create_run("live", str(ids["airline"]), "rnn", SETTINGS)
    store.start_run(run_id, worker_pid=1)
    app = start_app()
    app.query_params["run"] = str(run_id)
    app.switch_page("app_pages/train.py").run()

    titles = [note["text"] for note in chart(app, "train_curves")["layout"]["annotations"]]
    assert titles == ["Loss", "MAE", "RMSE"]

    store.log_metrics(run_id, [_epoch_row(0, ("loss", "mae", "rmse"))])
    app.run()
    traces = chart(app, "train_curves")["data"]
    assert {trace["xaxis"] for trace in traces if trace["name"] == "Validation"} == {
        "x",
        "x2",
        "x3",
    }


def test_finished_forecast_shows_mae_in_units(store: RunStore) -> None:
    ids = add_runs(store)
    app = start_app("zh-CN")
    app.query_params["run"] = str(ids["forecaster"])
    app.switch_page("app_pages/train.py").run()

    assert [element.value for element in app.success] == [
        "训练完成。验证集平均绝对误差 MAE：21.5，均方根误差 RMSE：27.25（passengers）。"
    ]
    labels = [metric.label for metric in app.metric]
    assert "验证集平均绝对误差 MAE（passengers）" in labels


# Predict page


def classification_table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sequence": ["2", "3"],
            "steps": [150, 150],
            "row": [2, 3],
            "prediction": ["1", "2"],
            "confidence": [0.97, 0.61],
            "top": [[["1", 0.97], ["2", 0.03]], [["2", 0.61], ["1", 0.39]]],
            "actual": ["1", "1"],
        }
    )


def test_predict_sequence_table_and_download(
    store: RunStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = add_runs(store)
    calls = []

    def fake_predict(home, run_id, csv_bytes, source, top_k=3, **chunking):
        calls.append((run_id, source, len(csv_bytes)))
        return classification_table()

    monkeypatch.setattr(inference_client, "predict_sequences", fake_predict)
    app = start_app()
    app.query_params["model"] = str(ids["classifier"])
    app.switch_page("app_pages/predict.py").run()
    upload(app, "GunPoint_TEST.csv", SEQUENCES, key="predict_csv")

    assert not app.exception
    assert calls == [
        (
            ids["classifier"],
            "GunPoint_TEST.csv",
            len((SEQUENCES / "GunPoint_TEST.csv").read_bytes()),
        )
    ]
    table = table_with(app, "Prediction")
    assert table["Most likely classes"].tolist() == ["1: 97.0% · 2: 3.0%", "2: 61.0% · 1: 39.0%"]
    assert table["Correct"].tolist() == [True, False]
    assert any("1 of 2 sequences (50.0%)" in info.value for info in app.info)
    assert app.get("download_button")

    app.run()
    assert len(calls) == 1


def test_sample_test_file_button(store: RunStore, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = add_runs(store)
    sources = []
    monkeypatch.setattr(
        inference_client,
        "predict_sequences",
        lambda home, run_id, data, source, top_k=3, **chunking: (
            sources.append(source) or classification_table()
        ),
    )
    app = start_app()
    app.query_params["model"] = str(ids["classifier"])
    app.switch_page("app_pages/predict.py").run()
    app.button(key="predict_sample_button").click().run()

    assert not app.exception
    assert sources == ["GunPoint_TEST.csv"]
    # The GunPoint test file belongs to the GunPoint model, not to the next model chosen.
    app.selectbox(key="predict_model").set_value(ids["forecaster"]).run()
    assert not app.exception
    assert sources == ["GunPoint_TEST.csv"]


def test_pasted_sequence_is_checked(store: RunStore, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = add_runs(store)
    sent = []

    def fake_predict(home, run_id, csv_bytes, source, top_k=3, **chunking):
        sent.append(csv_bytes.decode())
        return classification_table().head(1)

    monkeypatch.setattr(inference_client, "predict_sequences", fake_predict)
    app = start_app()
    app.query_params["model"] = str(ids["classifier"])
    app.switch_page("app_pages/predict.py").run()

    app.text_area(key="predict_paste").set_value("0.1, 0.2, x").run()
    assert [error.value for error in app.error] == [
        i18n.translate("en", "ui.predict.paste_not_number", value="x", position=3)
    ]
    app.text_area(key="predict_paste").set_value("0.1, 0.2，0.3").run()
    assert not app.error
    header, values = sent[0].splitlines()
    assert header.split(",")[:2] == ["t0", "t1"]
    assert len(header.split(",")) == 150
    assert values.startswith("0.1,0.2,0.3,,")


def forecast_table(source: str, months: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sequence": [Path(source).stem] * len(months),
            "steps": [144] * len(months),
            "row": [145] * len(months),
            "ahead": list(range(1, len(months) + 1)),
            "time": months,
            "passengers": [450.0 + index for index in range(len(months))],
        }
    )


def test_forecast_chart_with_held_out_values(
    store: RunStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = add_runs(store)
    sent = []

    def fake_predict(home, run_id, csv_bytes, source, top_k=3, **chunking):
        sent.append(csv_bytes)
        months = [f"1961-{month:02d}-01" for month in range(1, 13)]
        return forecast_table(source, months)

    monkeypatch.setattr(inference_client, "predict_sequences", fake_predict)
    app = start_app()
    app.query_params["model"] = str(ids["forecaster"])
    app.switch_page("app_pages/predict.py").run()
    upload(app, "airline.csv", SEQUENCES, key="predict_csv")

    assert not app.exception
    traces = {trace["name"]: trace for trace in chart(app, "predict_forecast")["data"]}
    assert set(traces) == {"History", "Forecast"}
    assert len(traces["History"]["x"]) == 144
    assert traces["Forecast"]["x"][1:] == [f"1961-{month:02d}-01" for month in range(1, 13)]
    assert table_with(app, "Steps ahead")["passengers"].tolist()[0] == 450.0

    app.toggle(key="predict_holdout").set_value(True).run()
    assert not app.exception
    assert len(sent) == 2
    assert len(sent[1].decode().splitlines()) == 1 + 144 - 12
    traces = {trace["name"]: trace for trace in chart(app, "predict_forecast")["data"]}
    assert len(traces["History"]["x"]) == 132
    # The actual line starts at the last month of the history and contains the 12 months after it.
    assert traces["Actual values (held out)"]["x"][:2] == ["1959-12", "1960-01"]
    assert len(traces["Actual values (held out)"]["x"]) == 13


def regression_dataset(store: RunStore) -> str:
    """Ingest 12 wide sequences of 8 steps whose label is a measured value."""
    header = ",".join(f"t{step}" for step in range(8)) + ",value"
    rows = [
        ",".join(str(0.1 * (row + step)) for step in range(8)) + f",{row * 1.5}"
        for row in range(12)
    ]
    data = "\n".join([header, *rows]).encode()
    spec = SequenceSpec(
        "wide", "value", feature_columns=tuple(f"t{step}" for step in range(8)), task="regression"
    )
    return ingest_sequences(data, "values.csv", spec, "values", store).id


def test_regression_compares_with_file_values(
    store: RunStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    dataset_id = regression_dataset(store)
    run_id = _finished_run(
        store,
        dataset_id,
        {
            "task": "regression",
            "val_mae": 0.5,
            "val_rmse": 0.7,
            "classes": [],
            "targets": ["value"],
        },
    )
    table = pd.DataFrame(
        {
            "sequence": ["2", "3"],
            "steps": [8, 8],
            "row": [2, 3],
            "prediction": [1.0, 2.0],
            "actual": ["0", "1.5"],
        }
    )
    monkeypatch.setattr(inference_client, "predict_sequences", lambda *args, **kwargs: table)
    app = start_app()
    app.query_params["model"] = str(run_id)
    app.switch_page("app_pages/predict.py").run()
    app.file_uploader(key="predict_csv").set_value(("values.csv", b"t0\n1\n", "text/csv")).run()

    assert not app.exception
    assert [info.value for info in app.info] == [
        "Compared with the file's values: MAE 0.75, RMSE 0.7906, over 2 predictions."
    ]
    assert "Correct" not in table_with(app, "Prediction").columns
    assert "This model predicts value." in markdown_text(app)


def test_csv_download_has_byte_order_mark() -> None:
    t = i18n.Translator("zh-CN")
    frame = sequence_views.prediction_frame(classification_table(), t)

    data = sequence_views.csv_download(frame)
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.decode("utf-8-sig").splitlines()[0].startswith("序列,步数,行,预测,置信度")


# Models page


def test_models_page_shows_task_metrics(store: RunStore) -> None:
    ids = add_runs(store)
    app = start_app()
    app.switch_page("app_pages/models.py").run()

    assert not app.exception
    table = app.dataframe[0].value
    by_id = table.set_index("id")
    assert by_id.loc[ids["forecaster"], "val_error"] == "21.5 · 27.25"
    assert by_id.loc[ids["classifier"], "val_accuracy"] == 0.92
    assert "**Result:** Forecast. Validation MAE: 21.5, RMSE: 27.25 (passengers)." in [
        text.value for text in app.markdown
    ]
