"""Submitting, watching, stopping, pausing and resuming training runs.

These functions only write to and read from the run store and the run folders, so
the web server calls them without loading TensorFlow. A worker process does the
training.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bigmodel import checkpoints
from bigmodel.architectures import DEFAULT_PRESET, PRESETS, get_family
from bigmodel.errors import DatasetError, RunStateError, SettingsError
from bigmodel.settings import TrainingSettings, from_dict
from bigmodel.store import (
    ACTIVE_STATUSES,
    PAUSED,
    QUEUED,
    RESUMABLE_STATUSES,
    MetricRow,
    Run,
    RunStore,
)

logger = logging.getLogger(__name__)


def preset_settings(family_name: str, preset: str = DEFAULT_PRESET) -> dict[str, dict[str, Any]]:
    """Return the full model and training settings of a family's preset.

    Raises:
        SettingsError: for an unknown family or preset.
    """
    family = get_family(family_name)
    if preset not in PRESETS:
        raise SettingsError("errors.preset_unknown", name=preset, known=", ".join(PRESETS))
    changes = family.presets[preset]
    model = from_dict(family.settings_class, changes.get("model", {}))
    training = from_dict(TrainingSettings, changes.get("training", {}))
    return {
        "model": dataclasses.asdict(model),
        "training": dataclasses.asdict(training),
    }


def submit_run(
    store: RunStore,
    dataset_id: str,
    family_name: str,
    *,
    preset: str = DEFAULT_PRESET,
    model: Mapping[str, Any] | None = None,
    training: Mapping[str, Any] | None = None,
    name: str | None = None,
    worker_pid: int | None = None,
) -> int:
    """Validate the settings and queue a training run; return its id.

    `model` and `training` override single values of the preset. With `worker_pid`
    the run is created as running in that process, which then trains it itself.

    Raises:
        SettingsError: for an invalid setting, naming it and its value.
        RunNotFoundError: for an unknown dataset.
        DatasetError: when the family cannot train on this kind of dataset.
    """
    family = get_family(family_name)
    dataset = store.get_dataset(dataset_id)
    if dataset.kind != family.data_kind:
        raise DatasetError("errors.family_data_mismatch", family=family.name, kind=dataset.kind)

    base = preset_settings(family.name, preset)
    model_settings = from_dict(family.settings_class, {**base["model"], **(model or {})})
    training_settings = from_dict(TrainingSettings, {**base["training"], **(training or {})})
    settings = {
        "preset": preset,
        "model": dataclasses.asdict(model_settings),
        "training": dataclasses.asdict(training_settings),
    }
    return store.create_run(
        name or f"{family.name} · {dataset.name}", dataset.id, family.name, settings, worker_pid
    )


def stop_run(store: RunStore, run_id: int) -> None:
    """Ask the worker to stop a run after its current batch, keeping the best weights."""
    store.request_stop(run_id)


def pause_run(store: RunStore, run_id: int) -> Run:
    """Pause a run: a running one after its current epoch, a queued one at once.

    The worker saves a resume point (weights, optimizer, callbacks and random state)
    and marks the run paused; no worker claims it until `resume_run`.

    Raises:
        RunNotFoundError: for an unknown run.
        RunStateError: when the run is neither queued nor running.
    """
    _run_in(store, run_id, ACTIVE_STATUSES, "errors.run_not_pausable")
    store.request_pause(run_id)
    return store.get_run(run_id)


@dataclasses.dataclass(frozen=True)
class ResumeOption:
    """The checkpoint that a paused or interrupted run can continue from.

    Attributes:
        availability: Whether a resume point exists, only the best weights, or nothing.
        epochs_trained: Epochs that the resume point holds; None without one.
        epochs: Epochs that the run's settings ask for.
    """

    availability: checkpoints.Availability
    epochs_trained: int | None
    epochs: int

    @property
    def can_resume(self) -> bool:
        return self.availability is checkpoints.Availability.RESUME_POINT


def resume_option(store: RunStore, run: Run) -> ResumeOption:
    """Tell what `run` would continue from, by the files in its checkpoint folder.

    A run paused while it was still queued has trained nothing, so it resumes from the
    start without a checkpoint.
    """
    epochs = int(run.settings.get("training", {}).get("epochs") or TrainingSettings.epochs)
    if run.status == PAUSED and run.resume_epoch is None:
        return ResumeOption(checkpoints.Availability.RESUME_POINT, 0, epochs)
    folder = _checkpoint_folder(store, run.id)
    availability = checkpoints.availability(folder)
    point = None
    if availability is checkpoints.Availability.RESUME_POINT:
        point = checkpoints.read_resume_point(folder)
    return ResumeOption(availability, point.epochs_trained if point else None, epochs)


_NO_RESUME_POINT = {
    checkpoints.Availability.BEST_WEIGHTS_ONLY: "errors.resume_best_weights_only",
    checkpoints.Availability.NOTHING: "errors.resume_nothing",
}


def resume_run(store: RunStore, run_id: int) -> Run:
    """Queue a paused or interrupted run again, to continue from its resume point.

    The epochs after the resume point, which an interrupted run may have logged before
    its last checkpoint was written, are deleted from its history: the resumed run
    trains them again.

    Raises:
        RunNotFoundError: for an unknown run.
        RunStateError: when the run is neither paused nor interrupted, or has no intact
            resume point. Then only `restart_run` can train it again.
    """
    run = _run_in(store, run_id, RESUMABLE_STATUSES, "errors.run_not_resumable")
    if run.status == PAUSED and run.resume_epoch is None:
        _requeue(store, run, None)
        return store.get_run(run_id)

    option = resume_option(store, run)
    if not option.can_resume:
        raise RunStateError(_NO_RESUME_POINT[option.availability], run_id=run.id)
    point = checkpoints.read_resume_point(_checkpoint_folder(store, run.id))
    if point is None or not point.is_intact():
        raise RunStateError(
            "errors.resume_point_damaged", run_id=run.id, epoch=option.epochs_trained
        )
    store.delete_metrics(run.id, from_epoch=point.epochs_trained)
    _requeue(store, run, point.epochs_trained)
    return store.get_run(run_id)


def restart_run(store: RunStore, run_id: int) -> Run:
    """Queue a paused or interrupted run to train again from scratch, with the same settings.

    Its checkpoints and its metric history are deleted; its log is kept and goes on.

    Raises:
        RunNotFoundError: for an unknown run.
        RunStateError: when the run is neither paused nor interrupted.
    """
    run = _run_in(store, run_id, RESUMABLE_STATUSES, "errors.run_not_resumable")
    shutil.rmtree(_checkpoint_folder(store, run.id), ignore_errors=True)
    store.delete_metrics(run.id)
    logger.info("Run %s restarts from scratch; its checkpoints and metrics are deleted", run.id)
    _requeue(store, run, None, progress=None)
    return store.get_run(run_id)


def _run_in(store: RunStore, run_id: int, statuses: tuple[str, ...], error_key: str) -> Run:
    """Return the run, or raise `error_key` when its status is not one of `statuses`."""
    run = store.get_run(run_id)
    if run.status not in statuses:
        raise RunStateError(error_key, run_id=run.id, status=run.status)
    return run


def _requeue(store: RunStore, run: Run, resume_epoch: int | None, **values: Any) -> None:
    if not store.requeue_run(run.id, resume_epoch, **values):
        current = store.get_run(run.id)
        raise RunStateError("errors.run_not_resumable", run_id=run.id, status=current.status)


def _checkpoint_folder(store: RunStore, run_id: int) -> Path:
    return store.home.run_dir(run_id) / "checkpoints"


def wait_for_run(store: RunStore, run_id: int, timeout: float, interval: float = 0.2) -> Run:
    """Poll the store until no worker trains `run_id` any more or `timeout` seconds have passed.

    That is when it has finished or is paused.
    """
    deadline = time.monotonic() + timeout
    run = store.get_run(run_id)
    while run.status in ACTIVE_STATUSES and time.monotonic() < deadline:
        time.sleep(interval)
        run = store.get_run(run_id)
    return run


def queue_position(store: RunStore, run_id: int) -> tuple[int, int]:
    """Return the 1-based place of a queued run in the queue and the queue's length."""
    queued = [run.id for run in reversed(store.list_runs([QUEUED]))]
    return (queued.index(run_id) + 1 if run_id in queued else 0), len(queued)


def run_log(store: RunStore, run_id: int) -> str:
    """Return the run's own log: start, settings, every epoch, warnings and any traceback."""
    path = store.home.run_dir(run_id) / "run.log"
    return path.read_text("utf-8", errors="replace") if path.exists() else ""


def epoch_history(store: RunStore, run_id: int) -> list[MetricRow]:
    return store.get_metrics(run_id, kind="epoch")
