"""Pausing, resuming and restarting runs, in this process and in real worker processes.

A resumed run must end exactly where an uninterrupted run of the same seed ends: the
same epoch history, learning rates and final validation metrics on the CPU.
"""

import os
import signal

import numpy as np
import pytest

from bigmodel import checkpoints, jobs, services
from bigmodel.errors import RunStateError
from bigmodel.image_datasets import ingest_folder
from bigmodel.sequence_datasets import ingest_sequences
from bigmodel.store import COMPLETED, INTERRUPTED, PAUSED, QUEUED, RUNNING, STOPPED
from bigmodel.training import CHECKPOINT_SECONDS_VARIABLE, execute_run
from bigmodel.worker import recover_orphaned_runs
from tests.image_factory import make_color_folders
from tests.processes import background, wait_for
from tests.test_sequence_models import gunpoint_spec, gunpoint_subset

SMALL_CNN = {"input_size": 16, "filters": 8, "dense_units": 16, "dropout": 0.3}
RESUMABLE = {
    "epochs": 8,
    "batch_size": 8,
    "patience": 3,
    "reduce_lr_patience": 1,
    "reduce_lr_factor": 0.5,
}
TOLERANCE = 1e-6


@pytest.fixture
def colors_id(store, tmp_path):
    return ingest_folder(make_color_folders(tmp_path / "colors"), "colors", store).id


@pytest.fixture
def gunpoint_id(store):
    return ingest_sequences(
        gunpoint_subset(), "GunPoint_TRAIN.csv", gunpoint_spec(), "gp", store
    ).id


def _execute(store, run_id, on_progress=None):
    assert store.start_run(run_id, worker_pid=0)
    return execute_run(store, store.get_run(run_id), on_progress=on_progress)


def _pause_after(store, run_id, epochs):
    """Return a progress callback that requests a pause once `epochs` epochs have ended."""

    def on_progress(progress):
        if progress["epoch"] == epochs and progress["step"] == 0:
            jobs.pause_run(store, run_id)

    return on_progress


def _assert_same_training(resumed, uninterrupted, store):
    """Check that two finished runs have the same results and epoch history."""
    assert resumed.status == uninterrupted.status == COMPLETED
    assert resumed.results["epochs_trained"] == uninterrupted.results["epochs_trained"]
    for name in ("val_loss", "val_accuracy", "val_mae", "val_rmse"):
        if name in uninterrupted.results:
            expected = uninterrupted.results[name]
            assert resumed.results[name] == pytest.approx(expected, rel=TOLERANCE), name

    resumed_rows = store.get_metrics(resumed.id, kind="epoch")
    uninterrupted_rows = store.get_metrics(uninterrupted.id, kind="epoch")
    assert [row.epoch for row in resumed_rows] == [row.epoch for row in uninterrupted_rows]
    for resumed_row, row in zip(resumed_rows, uninterrupted_rows, strict=True):
        assert resumed_row.values.keys() == row.values.keys()
        for name, value in row.values.items():
            assert resumed_row.values[name] == pytest.approx(value, rel=TOLERANCE), (
                row.epoch,
                name,
            )


# In this process.


def test_image_run_pauses_and_resumes_like_uninterrupted(store, colors_id):
    settings = {"model": SMALL_CNN, "training": RESUMABLE}
    uninterrupted_id = jobs.submit_run(store, colors_id, "cnn", **settings)
    paused_id = jobs.submit_run(store, colors_id, "cnn", **settings)
    uninterrupted = _execute(store, uninterrupted_id)

    paused = _execute(store, paused_id, on_progress=_pause_after(store, paused_id, 3))
    assert paused.status == PAUSED, paused.traceback
    assert paused.resume_epoch == 3
    assert paused.model_path is None
    assert [row.epoch for row in store.get_metrics(paused_id, kind="epoch")] == [0, 1, 2]

    queued = jobs.resume_run(store, paused_id)
    assert queued.status == QUEUED
    assert queued.resume_epoch == 3
    resumed = _execute(store, paused_id)

    _assert_same_training(resumed, uninterrupted, store)
    rates = [row.values["learning_rate"] for row in store.get_metrics(paused_id, kind="epoch")]
    assert rates[0] == pytest.approx(0.001)
    assert rates == sorted(rates, reverse=True)


def test_sequence_run_pauses_and_resumes_like_uninterrupted(store, gunpoint_id):
    settings = {
        "model": {"units": 8, "dropout": 0.2},
        "training": {**RESUMABLE, "epochs": 5, "patience": 0},
    }
    uninterrupted_id = jobs.submit_run(store, gunpoint_id, "rnn", **settings)
    paused_id = jobs.submit_run(store, gunpoint_id, "rnn", **settings)
    uninterrupted = _execute(store, uninterrupted_id)

    paused = _execute(store, paused_id, on_progress=_pause_after(store, paused_id, 2))
    assert paused.status == PAUSED, paused.traceback
    jobs.resume_run(store, paused_id)
    resumed = _execute(store, paused_id)

    _assert_same_training(resumed, uninterrupted, store)


def test_damaged_resume_point_is_rejected(store, colors_id):
    run_id = jobs.submit_run(store, colors_id, "cnn", model=SMALL_CNN, training=RESUMABLE)
    paused = _execute(store, run_id, on_progress=_pause_after(store, run_id, 1))
    assert paused.status == PAUSED, paused.traceback

    arrays = store.home.run_dir(run_id) / "checkpoints" / checkpoints.LATEST_ARRAYS
    arrays.write_bytes(arrays.read_bytes() + b"changed")

    with pytest.raises(RunStateError) as raised:
        jobs.resume_run(store, run_id)
    assert raised.value.key == "errors.resume_point_damaged"
    assert store.get_run(run_id).status == PAUSED


def test_learning_rate_is_lowered_on_plateau(store, colors_id):
    training = {
        "epochs": 5,
        "batch_size": 8,
        "patience": 0,
        "optimizer": "sgd",
        "learning_rate": 1e-5,
        "reduce_lr_patience": 1,
        "reduce_lr_factor": 0.5,
    }
    run_id = jobs.submit_run(store, colors_id, "cnn", model=SMALL_CNN, training=training)

    run = _execute(store, run_id)

    assert run.status == COMPLETED, run.traceback
    rates = [row.values["learning_rate"] for row in store.get_metrics(run_id, kind="epoch")]
    assert len(rates) == 5
    assert rates[0] == pytest.approx(1e-5)
    assert rates[-1] < rates[0]
    halvings = np.log2(np.array(rates[0]) / np.array(rates))
    assert np.allclose(halvings, np.round(halvings), atol=1e-4)


def test_run_without_reduction_keeps_its_learning_rate(store, colors_id):
    training = {"epochs": 2, "batch_size": 8, "patience": 0, "learning_rate": 0.002}
    run_id = jobs.submit_run(store, colors_id, "cnn", model=SMALL_CNN, training=training)

    run = _execute(store, run_id)

    assert run.status == COMPLETED, run.traceback
    rates = [row.values["learning_rate"] for row in store.get_metrics(run_id, kind="epoch")]
    assert rates == pytest.approx([0.002, 0.002])


# Store only.


def test_queued_run_pauses_at_once_and_resumes_from_start(store, colors_id):
    run_id = jobs.submit_run(store, colors_id, "cnn", model=SMALL_CNN)

    paused = jobs.pause_run(store, run_id)
    assert paused.status == PAUSED
    assert paused.resume_epoch is None
    assert store.claim_next_run(worker_pid=1) is None

    resumed = jobs.resume_run(store, run_id)
    assert resumed.status == QUEUED
    assert resumed.resume_epoch is None
    assert store.claim_next_run(worker_pid=1).id == run_id


def test_running_run_pauses_only_when_worker_does(store, colors_id):
    run_id = jobs.submit_run(store, colors_id, "cnn", model=SMALL_CNN)
    store.start_run(run_id, worker_pid=1)

    run = jobs.pause_run(store, run_id)

    assert run.status == RUNNING
    assert run.pause_requested
    assert store.is_pause_requested(run_id)


@pytest.mark.parametrize("status", [COMPLETED, STOPPED])
def test_finished_run_cannot_pause_or_resume(store, colors_id, status):
    run_id = jobs.submit_run(store, colors_id, "cnn", model=SMALL_CNN)
    store.start_run(run_id, worker_pid=1)
    store.finish_run(run_id, status)

    with pytest.raises(RunStateError) as paused:
        jobs.pause_run(store, run_id)
    with pytest.raises(RunStateError) as resumed:
        jobs.resume_run(store, run_id)

    assert paused.value.key == "errors.run_not_pausable"
    assert resumed.value.key == "errors.run_not_resumable"
    assert str(run_id) in str(resumed.value)
    assert store.get_run(run_id).status == status


def test_stop_of_a_paused_run_ends_it(store, colors_id):
    run_id = jobs.submit_run(store, colors_id, "cnn", model=SMALL_CNN)
    jobs.pause_run(store, run_id)

    jobs.stop_run(store, run_id)

    assert store.get_run(run_id).status == STOPPED


def test_interrupted_run_without_checkpoint_restarts(store, colors_id):
    run_id = jobs.submit_run(
        store, colors_id, "cnn", model=SMALL_CNN, training={"epochs": 1, "batch_size": 8}
    )
    store.start_run(run_id, worker_pid=1)
    assert recover_orphaned_runs(store) == [run_id]
    option = jobs.resume_option(store, store.get_run(run_id))
    assert option.availability is checkpoints.Availability.NOTHING
    with pytest.raises(RunStateError) as nothing:
        jobs.resume_run(store, run_id)
    assert nothing.value.key == "errors.resume_nothing"

    folder = store.home.run_dir(run_id) / "checkpoints"
    folder.mkdir(parents=True)
    (folder / checkpoints.BEST_WEIGHTS).write_bytes(b"weights")
    option = jobs.resume_option(store, store.get_run(run_id))
    assert option.availability is checkpoints.Availability.BEST_WEIGHTS_ONLY
    with pytest.raises(RunStateError) as best_only:
        jobs.resume_run(store, run_id)
    assert best_only.value.key == "errors.resume_best_weights_only"

    restarted = jobs.restart_run(store, run_id)
    assert restarted.status == QUEUED
    assert restarted.resume_epoch is None
    assert restarted.error_key is None
    assert not folder.exists()

    finished = _execute(store, run_id)
    assert finished.status == COMPLETED, finished.traceback
    assert finished.results["epochs_trained"] == 1


# Real worker processes.


def test_worker_pauses_and_resumes_like_uninterrupted(store, colors_id, monkeypatch):
    monkeypatch.setenv("BIGMODEL_WORKERS", "1")
    settings = {"model": SMALL_CNN, "training": {**RESUMABLE, "epochs": 16, "patience": 4}}
    uninterrupted_id = jobs.submit_run(store, colors_id, "cnn", **settings)
    paused_id = jobs.submit_run(store, colors_id, "cnn", **settings)

    with background(store.home, services.WORKER):
        uninterrupted = jobs.wait_for_run(store, uninterrupted_id, timeout=300)
        wait_for(lambda: store.get_metrics(paused_id, kind="epoch"), timeout=120, interval=0.1)
        jobs.pause_run(store, paused_id)
        paused = jobs.wait_for_run(store, paused_id, timeout=120)
        assert paused.status == PAUSED, paused.traceback
        assert 1 <= paused.resume_epoch < uninterrupted.results["epochs_trained"]

        jobs.resume_run(store, paused_id)
        resumed = jobs.wait_for_run(store, paused_id, timeout=300)

    assert paused.worker_pid != resumed.worker_pid
    _assert_same_training(resumed, uninterrupted, store)


def test_interrupted_run_resumes_after_restart(store, colors_id, monkeypatch):
    monkeypatch.setenv("BIGMODEL_WORKERS", "1")
    monkeypatch.setenv(CHECKPOINT_SECONDS_VARIABLE, "0")
    epochs = 40
    run_id = jobs.submit_run(
        store,
        colors_id,
        "cnn",
        model=SMALL_CNN,
        training={"epochs": epochs, "batch_size": 8, "patience": 0},
    )
    folder = store.home.run_dir(run_id) / "checkpoints"

    def checkpointed():
        point = checkpoints.read_resume_point(folder)
        return point is not None and point.epochs_trained >= 2

    with background(store.home, services.WORKER) as process:
        wait_for(checkpointed, timeout=120, interval=0.1)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert store.get_run(run_id).status == RUNNING

    with background(store.home, services.WORKER):
        wait_for(lambda: store.get_run(run_id).status == INTERRUPTED, timeout=60, interval=0.1)
        interrupted = store.get_run(run_id)
        option = jobs.resume_option(store, interrupted)
        assert option.can_resume
        assert 1 <= option.epochs_trained < epochs

        queued = jobs.resume_run(store, run_id)
        history = [row.epoch for row in store.get_metrics(run_id, kind="epoch")]
        assert history == list(range(option.epochs_trained))
        assert queued.resume_epoch == option.epochs_trained
        finished = jobs.wait_for_run(store, run_id, timeout=300)

    assert finished.status == COMPLETED, finished.traceback
    assert finished.results["epochs_trained"] == epochs
    history = [row.epoch for row in store.get_metrics(run_id, kind="epoch")]
    assert history == list(range(epochs))
