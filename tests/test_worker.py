"""The training worker as a real process beside a real SQLite store."""

import os
import signal
import subprocess
import sys

import pytest

from bigmodel import jobs, services
from bigmodel.errors import SettingsError
from bigmodel.image_datasets import ingest_folder
from bigmodel.store import COMPLETED, FAILED, INTERRUPTED, QUEUED, RUNNING, STOPPED
from bigmodel.worker import MAX_SLOTS, default_slots, recover_orphaned_runs
from tests.image_factory import make_color_folders
from tests.processes import background, environment, wait_for

SMALL = {"input_size": 16, "filters": 8, "dense_units": 16}


@pytest.fixture
def dataset_id(store, tmp_path):
    return ingest_folder(make_color_folders(tmp_path / "colors"), "colors", store).id


def test_worker_trains_queued_runs_in_order(store, dataset_id, monkeypatch):
    monkeypatch.setenv("BIGMODEL_WORKERS", "1")
    training = {"epochs": 1, "batch_size": 8}
    run_ids = [
        jobs.submit_run(store, dataset_id, "cnn", model=SMALL, training=training) for _ in range(3)
    ]

    with background(store.home, services.WORKER):
        runs = [jobs.wait_for_run(store, run_id, timeout=180) for run_id in run_ids]

    assert [run.status for run in runs] == [COMPLETED, COMPLETED, COMPLETED]
    assert runs[0].finished_at <= runs[1].started_at
    assert runs[1].finished_at <= runs[2].started_at
    assert len({run.worker_pid for run in runs}) == 3


def test_cancelled_queued_run_is_skipped(store, dataset_id, monkeypatch):
    monkeypatch.setenv("BIGMODEL_WORKERS", "1")
    busy = jobs.submit_run(
        store, dataset_id, "cnn", model=SMALL, training={"epochs": 500, "batch_size": 4}
    )
    cancelled = jobs.submit_run(store, dataset_id, "cnn", model=SMALL, training={"epochs": 1})
    last = jobs.submit_run(store, dataset_id, "cnn", model=SMALL, training={"epochs": 1})

    with background(store.home, services.WORKER):
        wait_for(lambda: store.get_run(busy).status == RUNNING, timeout=120, interval=0.1)
        jobs.stop_run(store, cancelled)
        jobs.stop_run(store, busy)
        finished = jobs.wait_for_run(store, last, timeout=180)

    assert store.get_run(busy).status == STOPPED
    assert finished.status == COMPLETED
    skipped = store.get_run(cancelled)
    assert skipped.status == STOPPED
    assert skipped.started_at is None
    assert skipped.worker_pid is None
    assert store.get_metrics(cancelled) == []


def test_stop_ends_a_running_run_within_a_batch(store, dataset_id):
    run_id = jobs.submit_run(
        store, dataset_id, "cnn", model=SMALL, training={"epochs": 500, "batch_size": 4}
    )

    with background(store.home, services.WORKER):
        wait_for(lambda: store.get_metrics(run_id, kind="epoch"), timeout=120, interval=0.1)
        jobs.stop_run(store, run_id)
        run = jobs.wait_for_run(store, run_id, timeout=60)

    assert run.status == STOPPED
    assert run.model_path is not None
    assert run.results["epochs_trained"] < 500


def test_stop_of_a_queued_run_needs_no_worker(store, dataset_id):
    run_id = jobs.submit_run(store, dataset_id, "cnn", model=SMALL)

    jobs.stop_run(store, run_id)

    assert store.get_run(run_id).status == STOPPED


def test_killed_worker_leaves_run_interrupted_for_the_next(store, dataset_id):
    run_id = jobs.submit_run(
        store, dataset_id, "cnn", model=SMALL, training={"epochs": 500, "batch_size": 4}
    )

    with background(store.home, services.WORKER) as process:
        wait_for(lambda: store.get_run(run_id).status == RUNNING, timeout=120, interval=0.1)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    assert store.get_run(run_id).status == RUNNING
    assert recover_orphaned_runs(store) == [run_id]
    run = store.get_run(run_id)
    assert run.status == INTERRUPTED
    assert run.error_key == "errors.worker_lost"


def test_killed_child_fails_its_run_and_is_replaced(store, dataset_id):
    run_id = jobs.submit_run(
        store, dataset_id, "cnn", model=SMALL, training={"epochs": 500, "batch_size": 4}
    )

    with background(store.home, services.WORKER):
        wait_for(lambda: store.get_metrics(run_id, kind="epoch"), timeout=120, interval=0.1)
        running = store.get_run(run_id)
        os.kill(running.worker_pid, signal.SIGKILL)
        failed = jobs.wait_for_run(store, run_id, timeout=30)
        next_id = jobs.submit_run(store, dataset_id, "cnn", model=SMALL, training={"epochs": 1})
        next_run = jobs.wait_for_run(store, next_id, timeout=180)

    assert failed.status == FAILED
    assert failed.error_key == "errors.worker_killed"
    assert failed.error_params["code"] == -signal.SIGKILL
    assert (store.home.run_dir(run_id) / "run.log").exists()
    assert (store.home.run_dir(run_id) / "checkpoints" / "best.weights.h5").exists()
    assert next_run.status == COMPLETED


def test_default_slots_follow_cores_and_memory(monkeypatch):
    monkeypatch.delenv("BIGMODEL_WORKERS", raising=False)
    gib = 1024**3

    assert default_slots(cores=2, memory_bytes=24 * gib) == 1
    assert default_slots(cores=16, memory_bytes=64 * gib) == 8
    assert default_slots(cores=16, memory_bytes=8 * gib) == 2
    assert default_slots(cores=1, memory_bytes=1 * gib) == 1
    monkeypatch.setenv("BIGMODEL_WORKERS", "3")
    assert default_slots(cores=2, memory_bytes=gib) == 3


@pytest.mark.parametrize("value", ["0", "1000", "two", "-1"])
def test_worker_count_out_of_range_is_rejected(monkeypatch, value):
    monkeypatch.setenv("BIGMODEL_WORKERS", value)

    with pytest.raises(SettingsError) as raised:
        default_slots()

    assert raised.value.key == "errors.workers_invalid"
    assert raised.value.params == {"value": value, "maximum": MAX_SLOTS}


def test_orphaned_child_never_claims_a_run(store, dataset_id):
    run_id = jobs.submit_run(store, dataset_id, "cnn", model=SMALL, training={"epochs": 1})
    command = [sys.executable, "-m", "bigmodel.worker", "--slot", "0", "--manager", "1"]

    child = subprocess.run(command, env=environment(store.home), timeout=120, check=False)

    assert child.returncode == 0
    assert store.get_run(run_id).status == QUEUED


def test_second_worker_exits_while_one_runs(store):
    with background(store.home, services.WORKER):
        assert services.is_running(store.home, services.WORKER)
        assert services.start(store.home, services.WORKER) is False
