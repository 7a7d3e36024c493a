"""AppTest of the train page's Pause, Resume and Restart buttons against a real run store.

The background services are off (`BIGMODEL_START_SERVICES=0`): the buttons only
write to the store, and the resume points are written by `bigmodel.checkpoints`
with stand-in model files, so no TensorFlow is loaded here.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from test_pages import SETTINGS, epoch_rows, populate_store, start_app, texts

from bigmodel import checkpoints, i18n
from bigmodel.config import Home
from bigmodel.store import PAUSED, QUEUED, RUNNING, MetricRow, RunStore
from bigmodel.worker import recover_orphaned_runs


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> RunStore:
    monkeypatch.setenv("BIGMODEL_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("BIGMODEL_START_SERVICES", "0")
    return RunStore(Home.from_env().ensure())


def _run_page(store: RunStore, run_id: int, language: str = "en") -> AppTest:
    app = start_app(language)
    app.query_params["run"] = str(run_id)
    return app.switch_page("app_pages/train.py").run()


def _write_resume_point(store: RunStore, run_id: int, epochs_trained: int) -> None:
    folder = store.home.run_dir(run_id) / "checkpoints"
    checkpoints.write_resume_point(
        folder, epochs_trained, {}, {}, lambda path: path.write_bytes(b"model")
    )


def _running_run(store: RunStore, epochs: int) -> int:
    """Add a run that is running and has logged `epochs` epochs; return its id."""
    ids = populate_store(store)
    settings = {**SETTINGS, "training": {"epochs": 3, "learning_rate": 0.001}}
    run_id = store.create_run("long", str(ids["dataset"]), "cnn", settings)
    store.start_run(run_id, worker_pid=1)
    store.log_metrics(run_id, epoch_rows(epochs))
    return run_id


def test_running_run_offers_pause(store: RunStore) -> None:
    run_id = _running_run(store, 1)

    app = _run_page(store, run_id)
    assert app.button(key="train_pause").label == "Pause"
    assert app.button(key="train_stop").label == "Stop"
    app.button(key="train_pause").click().run()

    assert not app.exception
    run = store.get_run(run_id)
    assert run.status == RUNNING
    assert run.pause_requested
    assert i18n.translate("en", "ui.runs.pausing") in texts(app.info)
    assert not [button for button in app.button if button.key == "train_pause"]


def test_paused_run_resumes_from_page(store: RunStore) -> None:
    run_id = _running_run(store, 2)
    _write_resume_point(store, run_id, 2)
    store.pause_run(run_id, epochs_trained=2)

    app = _run_page(store, run_id, "zh-CN")
    expected = i18n.translate("zh-CN", "ui.runs.paused", epoch=2, epochs=3)
    assert expected in texts(app.info)
    assert any("已暂停 · " in caption for caption in texts(app.caption))
    assert not app.error
    app.button(key="train_resume").click().run()

    assert not app.exception
    run = store.get_run(run_id)
    assert run.status == QUEUED
    assert run.resume_epoch == 2
    assert [row.epoch for row in store.get_metrics(run_id, kind="epoch")] == [0, 1]
    captions = texts(app.caption)
    assert i18n.translate("zh-CN", "ui.runs.queued_to_resume", epoch=2, epochs=3) in captions


def test_interrupted_run_resumes_from_checkpoint(store: RunStore) -> None:
    run_id = _running_run(store, 3)
    store.log_metrics(run_id, [MetricRow("batch", 3, 2, 3.5, {"loss": 0.3})])
    _write_resume_point(store, run_id, 1)
    recover_orphaned_runs(store)

    app = _run_page(store, run_id)
    assert texts(app.error) == [i18n.translate("en", "errors.worker_lost", run_id=run_id)]
    resumable = i18n.translate("en", "ui.runs.interrupted_resumable", epoch=1, epochs=3)
    assert resumable in texts(app.info)
    assert app.button(key="train_resume").label == "Resume"
    app.button(key="train_resume").click().run()

    assert not app.exception
    run = store.get_run(run_id)
    assert run.status == QUEUED
    assert run.resume_epoch == 1
    assert run.error_key is None
    assert [row.epoch for row in store.get_metrics(run_id)] == [0]


@pytest.mark.parametrize(
    ("best_weights", "key"),
    [(False, "ui.runs.interrupted_nothing"), (True, "ui.runs.interrupted_best_weights_only")],
)
def test_interrupted_run_without_checkpoint_restarts(
    store: RunStore, best_weights: bool, key: str
) -> None:
    run_id = _running_run(store, 2)
    if best_weights:
        folder = store.home.run_dir(run_id) / "checkpoints"
        folder.mkdir(parents=True)
        (folder / checkpoints.BEST_WEIGHTS).write_bytes(b"weights")
    recover_orphaned_runs(store)

    app = _run_page(store, run_id)
    # The tiny dataset also draws a diagnostic warning, so look for this one among them.
    assert i18n.translate("en", key) in texts(app.warning)
    assert not [button for button in app.button if button.key == "train_resume"]
    app.button(key="train_restart").click().run()

    assert not app.exception
    run = store.get_run(run_id)
    assert run.status == QUEUED
    assert run.resume_epoch is None
    assert store.get_metrics(run_id) == []


def test_paused_status_is_listed_in_both_languages(store: RunStore) -> None:
    ids = populate_store(store)
    run_id = store.create_run("held", str(ids["dataset"]), "cnn", SETTINGS)
    store.request_pause(run_id)
    assert store.get_run(run_id).status == PAUSED

    for language, label in (("en", "paused"), ("zh-CN", "已暂停")):
        app = start_app(language)
        app.switch_page("app_pages/models.py").run()
        assert not app.exception
        assert app.dataframe[0].value["status"].iloc[0] == label


def test_learning_rate_shown_once_lowered(store: RunStore) -> None:
    run_id = _running_run(store, 0)
    rows = epoch_rows(2)
    rows[0].values["learning_rate"] = 0.001
    rows[1].values["learning_rate"] = 0.0005
    store.log_metrics(run_id, rows)

    app = _run_page(store, run_id)

    expected = i18n.translate("en", "ui.runs.learning_rate", rate="0.0005", start="0.001")
    assert expected in texts(app.caption)
