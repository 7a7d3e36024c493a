"""The run store on a real SQLite file: upgrades of older databases and run transitions."""

import datetime as dt
import sqlite3

import pytest

from bigmodel import jobs
from bigmodel.store import PAUSED, QUEUED, RUNNING, DatasetRecord, RunStore, add_missing_columns

NEW_COLUMNS = ("pause_requested", "resume_epoch")


def _add_dataset(store: RunStore) -> str:
    record = DatasetRecord("d" * 16, "image", "colours", "/nowhere", {}, dt.datetime(2026, 1, 1))
    store.add_dataset(record)
    return record.id


def _run_columns(path) -> set[str]:
    with sqlite3.connect(path) as connection:
        return {row[1] for row in connection.execute("PRAGMA table_info(runs)")}


def test_older_database_gains_new_columns(home):
    store = RunStore(home)
    run_id = store.create_run("older run", _add_dataset(store), "cnn", {"training": {}})
    store.engine.dispose()
    path = home.root / "studio.db"
    with sqlite3.connect(path) as connection:
        for column in NEW_COLUMNS:
            connection.execute(f"ALTER TABLE runs DROP COLUMN {column}")
    assert _run_columns(path).isdisjoint(NEW_COLUMNS)

    upgraded = RunStore(home)

    assert set(NEW_COLUMNS) <= _run_columns(path)
    run = upgraded.get_run(run_id)
    assert run.name == "older run"
    assert run.status == QUEUED
    assert run.pause_requested is None
    assert run.resume_epoch is None
    assert jobs.pause_run(upgraded, run_id).status == PAUSED


def test_current_database_needs_no_columns(home):
    store = RunStore(home)

    assert add_missing_columns(store.engine) == []


def test_pause_request_is_cleared_when_run_finishes(home):
    store = RunStore(home)
    run_id = store.create_run("run", _add_dataset(store), "cnn", {"training": {}})
    store.start_run(run_id, worker_pid=1)
    store.request_pause(run_id)
    assert store.is_pause_requested(run_id)

    store.finish_run(run_id, "completed")

    assert not store.is_pause_requested(run_id)


@pytest.mark.parametrize("status", [RUNNING, QUEUED])
def test_requeue_accepts_only_paused_or_interrupted(home, status):
    store = RunStore(home)
    run_id = store.create_run("run", _add_dataset(store), "cnn", {"training": {}})
    if status == RUNNING:
        store.start_run(run_id, worker_pid=1)

    assert not store.requeue_run(run_id, resume_epoch=2)
    assert store.get_run(run_id).status == status
    assert store.get_run(run_id).resume_epoch is None
