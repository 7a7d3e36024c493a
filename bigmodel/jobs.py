"""Submitting, watching and stopping training runs.

These functions only write to and read from the run store, so the web server calls
them without loading TensorFlow. A worker process does the training.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from typing import Any

from bigmodel.architectures import DEFAULT_PRESET, PRESETS, get_family
from bigmodel.errors import DatasetError, SettingsError
from bigmodel.settings import TrainingSettings, from_dict
from bigmodel.store import FINISHED_STATUSES, QUEUED, MetricRow, Run, RunStore


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


def wait_for_run(store: RunStore, run_id: int, timeout: float, interval: float = 0.2) -> Run:
    """Poll the store until `run_id` has finished or `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    run = store.get_run(run_id)
    while run.status not in FINISHED_STATUSES and time.monotonic() < deadline:
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
