"""The web server must never import TensorFlow or Keras.

Once `keras` is imported, Streamlit 1.67 clears the Keras session and collects garbage
after every script run, and importing TensorFlow costs seconds and hundreds of
megabytes. So every page is rendered in a fresh interpreter, in both languages, over a
store with a dataset and completed, failed and running runs, and the interpreter's
modules are checked afterwards.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

from test_pages import SETTINGS, epoch_rows, populate_store

from bigmodel.config import Home
from bigmodel.store import RunStore

ROOT = Path(__file__).resolve().parent.parent

FORBIDDEN = (
    "tensorflow",
    "keras",
    "bigmodel.training",
    "bigmodel.callbacks",
    "bigmodel.layers",
    "bigmodel.saved_models",
    "bigmodel.prediction",
    "bigmodel.inference",
    "bigmodel.image_pipeline",
    "bigmodel.worker",
)

RENDER_EVERY_PAGE = """
import json, sys
from streamlit.testing.v1 import AppTest

pages = ["pages/data.py", "pages/train.py", "pages/predict.py", "pages/models.py"]
problems = []
for language in ["zh-CN", "en"]:
    app = AppTest.from_file("app.py", default_timeout=30)
    app.query_params["lang"] = language
    app.run()
    for page in pages:
        app.switch_page(page).run()
        problems += [f"{language} {page}: {error.value}" for error in app.exception]
        if not app.title:
            problems.append(f"{language} {page}: no title")

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
    environment = {
        **os.environ,
        "BIGMODEL_HOME": str(home.root),
        "BIGMODEL_START_SERVICES": "0",
        "PYTHONPATH": str(ROOT),
    }

    result = subprocess.run(
        [sys.executable, "-c", RENDER_EVERY_PAGE, json.dumps(FORBIDDEN)],
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
