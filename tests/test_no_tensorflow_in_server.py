"""The web server must never import TensorFlow or Keras.

Once `keras` is imported, Streamlit 1.67 clears the Keras session and collects garbage
after every script run, and importing TensorFlow costs seconds and hundreds of
megabytes. So every page is rendered in a fresh interpreter, in both languages, over a
store with image and sequence datasets and completed, failed and running runs. Then a
CSV file is inspected and stored, two sequence models predict a table and a
forecast, and an image model predicts a zip in batch mode, through stand-ins for the
prediction service. The interpreter's modules are
checked afterwards.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

from test_pages import SETTINGS, epoch_rows, populate_store
from test_sequence_pages import add_runs

from bigmodel.config import Home
from bigmodel.store import RunStore

ROOT = Path(__file__).resolve().parent.parent

FORBIDDEN = (
    "tensorflow",
    "keras",
    "bigmodel.training",
    "bigmodel.callbacks",
    "bigmodel.estimates",
    "bigmodel.layers",
    "bigmodel.saved_models",
    "bigmodel.prediction",
    "bigmodel.inference",
    "bigmodel.explain",
    "bigmodel.image_pipeline",
    "bigmodel.worker",
    "bigmodel.sequence_pipeline",
    "bigmodel.sequence_prediction",
)

RENDER_EVERY_PAGE = """
import json, sys
from pathlib import Path

import pandas as pd
from streamlit.testing.v1 import AppTest

from bigmodel import inference_client

ids = json.loads(sys.argv[2])
cases = Path("tests/cases")
sequences = Path("assets/sequences")


def fake_predict(home, run_id, csv_bytes, source, top_k=3, **chunking):
    if run_id == ids["forecaster"]:
        return pd.DataFrame({"sequence": ["airline"], "steps": [144], "row": [145],
                             "ahead": [1], "time": ["1961-01-01"], "passengers": [450.0]})
    return pd.DataFrame({"sequence": ["2"], "steps": [150], "row": [2], "prediction": ["1"],
                         "confidence": [0.9], "top": [[["1", 0.9], ["2", 0.1]]],
                         "actual": ["1"]})


def fake_predict_images(home, run_id, images, top_k=3):
    return [inference_client.Prediction(name, [("red", 0.6), ("blue", 0.4)], [], None)
            for name, _ in images]


inference_client.predict_sequences = fake_predict
inference_client.predict_images = fake_predict_images
inference_client.evaluate = lambda home, run_id, dataset_id=None: 0
pages = ["app_pages/data.py", "app_pages/train.py", "app_pages/evaluate.py", "app_pages/predict.py",
         "app_pages/models.py", "app_pages/demo.py", "app_pages/glossary.py"]
problems = []


def check(app, where):
    problems.extend(f"{where}: {error.value}" for error in app.exception)
    if not app.title:
        problems.append(f"{where}: no title")


for language in ["zh-CN", "en"]:
    app = AppTest.from_file("app.py", default_timeout=30)
    app.query_params["lang"] = language
    app.run()
    for page in pages:
        app.switch_page(page).run()
        check(app, f"{language} {page}")

    app.switch_page("app_pages/data.py").run()
    data = (cases / "B50_ragged_long.csv").read_bytes()
    app.file_uploader(key="data_csv_0").set_value(("B50.csv", data, "text/csv")).run()
    app.button(key="data_seq_store").click().run()
    check(app, f"{language} data upload")

    for model, name in [("classifier", "GunPoint_TEST.csv"), ("forecaster", "airline.csv")]:
        app.query_params["model"] = str(ids[model])
        app.switch_page("app_pages/predict.py").run()
        data = (sequences / name).read_bytes()
        app.file_uploader(key="predict_csv").set_value((name, data, "text/csv")).run()
        check(app, f"{language} predict {model}")
        if not app.get("download_button"):
            problems.append(f"{language} predict {model}: no download")

    app.selectbox(key="predict_model").set_value(ids["image"]).run()
    app.radio(key="predict_mode").set_value("batch").run()
    data = (cases / "B37_gbk_names.zip").read_bytes()
    app.file_uploader(key="predict_batch").set_value(("B37.zip", data, "application/zip")).run()
    check(app, f"{language} predict batch")
    if not app.get("download_button"):
        problems.append(f"{language} predict batch: no download")

forbidden = json.loads(sys.argv[1])
loaded = [name for name in forbidden if name in sys.modules]
print(json.dumps({"problems": problems, "loaded": loaded}))
"""


def test_pages_never_import_tensorflow(tmp_path: Path) -> None:
    home = Home(tmp_path / "home").ensure()
    store = RunStore(home)
    ids = populate_store(store)
    running = store.create_run("live", str(ids["dataset"]), "cnn", SETTINGS)
    store.start_run(running, worker_pid=1)
    store.log_metrics(running, epoch_rows(1))
    sequence_ids = add_runs(store)
    model_ids = {**sequence_ids, "image": ids["completed"]}
    sequence_run = store.create_run("live sequences", str(sequence_ids["airline"]), "rnn", SETTINGS)
    store.start_run(sequence_run, worker_pid=1)
    environment = {
        **os.environ,
        "BIGMODEL_HOME": str(home.root),
        "BIGMODEL_START_SERVICES": "0",
        "PYTHONPATH": str(ROOT),
    }

    result = subprocess.run(
        [sys.executable, "-c", RENDER_EVERY_PAGE, json.dumps(FORBIDDEN), json.dumps(model_ids)],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["problems"] == []
    assert report["loaded"] == []
    assert "B50" in [record.name for record in store.list_datasets("sequence")]
