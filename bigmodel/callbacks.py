"""The Keras callbacks that connect a training run to the run store and to its checkpoints.

They do not import Streamlit: they write metrics and progress to the store, and
the pages read the store. `RunStoreLogger` reads the run's stop flag after every
batch, so a Stop from any page ends training within one batch. `LatestCheckpointer`
reads the pause flag after every epoch and pauses the run with a resume point.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import keras

from bigmodel import checkpoints, training_state
from bigmodel.store import MetricRow, RunStore, utcnow

logger = logging.getLogger(__name__)


def _plain(logs: dict[str, Any] | None) -> dict[str, float]:
    values = {name: float(value) for name, value in (logs or {}).items()}
    return {name: value for name, value in values.items() if math.isfinite(value)}


class RunStoreLogger(keras.callbacks.Callback):
    """Log metrics and progress of one run to the store, and stop when asked.

    Args:
        store: The run store.
        run_id: The run being trained.
        epochs: Number of epochs requested, for the progress estimate.
        steps_per_epoch: Batches in one epoch, for progress inside an epoch.
        batch_interval: Seconds between two stored in-epoch rows. Defaults to 0.5.
        on_progress: Called with the progress dict each time it is stored, for
            terminal output in the CLI.
        initial_epoch: The epoch that training starts with; a resumed run's first.
        elapsed_before: Seconds of training before this process took the run over, so
            that the elapsed time and the ETA count the whole run.

    Each epoch's row also stores the learning rate that the epoch trained with, as
    `learning_rate`.
    """

    def __init__(
        self,
        store: RunStore,
        run_id: int,
        epochs: int,
        steps_per_epoch: int,
        batch_interval: float = 0.5,
        on_progress: Callable[[dict[str, Any]], None] | None = None,
        initial_epoch: int = 0,
        elapsed_before: float = 0.0,
    ) -> None:
        super().__init__()
        self.store = store
        self.run_id = run_id
        self.epochs = epochs
        self.steps_per_epoch = max(steps_per_epoch, 1)
        self.batch_interval = batch_interval
        self.on_progress = on_progress
        self.stopped_by_user = False
        self.elapsed_before = elapsed_before
        self._start = 0.0
        self._last_write = 0.0
        self._epoch = initial_epoch

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._start = time.monotonic() - self.elapsed_before
        self._write_progress(step=0)

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._epoch = epoch

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if self.store.is_stop_requested(self.run_id):
            logger.info(
                "Run %s: stop requested at epoch %d, batch %d",
                self.run_id,
                self._epoch,
                batch,
            )
            self.stopped_by_user = True
            self.model.stop_training = True

        now = time.monotonic()
        if now - self._last_write < self.batch_interval:
            return
        self._last_write = now
        row = MetricRow("batch", self._epoch, batch + 1, now - self._start, _plain(logs))
        self.store.log_metrics(self.run_id, [row])
        self._write_progress(step=batch + 1)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        elapsed = time.monotonic() - self._start
        values = {**_plain(logs), "learning_rate": self._learning_rate()}
        row = MetricRow("epoch", epoch, self.steps_per_epoch, elapsed, values)
        self.store.log_metrics(self.run_id, [row])
        self._epoch = epoch + 1
        self._write_progress(step=0)
        logger.info("Run %s: epoch %d/%d %s", self.run_id, epoch + 1, self.epochs, row.values)

    def _learning_rate(self) -> float:
        return float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))

    def _write_progress(self, step: int) -> None:
        elapsed = time.monotonic() - self._start
        done = (self._epoch + step / self.steps_per_epoch) / self.epochs
        progress = {
            "epoch": self._epoch,
            "epochs": self.epochs,
            "step": step,
            "steps": self.steps_per_epoch,
            "fraction": min(done, 1.0),
            "elapsed": elapsed,
            "eta": elapsed * (1 - done) / done if done > 0 else None,
        }
        self.store.update_run(
            self.run_id,
            progress=progress,
            heartbeat_at=utcnow(),
            worker_pid=os.getpid(),
        )
        if self.on_progress is not None:
            self.on_progress(progress)


class Checkpointer(keras.callbacks.Callback):
    """Keep the weights of the epoch with the lowest validation loss in `best.weights.h5`.

    The file survives a killed worker. It must come before `RunStoreLogger`, so that
    an epoch that the store shows has its best weights on disk too.

    Args:
        folder: Where the checkpoint goes; created if missing.
    """

    STATE_ATTRIBUTES = ("best",)
    """Attribute that a resumed run must get back: the lowest validation loss so far."""

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder
        self.best = math.inf

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        val_loss = float((logs or {}).get("val_loss", math.inf))
        if val_loss < self.best:
            self.best = val_loss
            self.model.save_weights(self.folder / checkpoints.BEST_WEIGHTS)


class LatestCheckpointer(keras.callbacks.Callback):
    """Write the resume point of a run while it trains, and pause the run on request.

    After an epoch it writes `latest.keras` (the model with its optimizer state) and
    the rest of the resume point (see `bigmodel.checkpoints`): when `interval` seconds
    have passed since the last write, after the last epoch (also one that early
    stopping, a NaN loss or Stop ends), and when `pause_requested()` returns True.
    The last case also stops training and sets `paused`. It must be the last callback,
    so that the state it writes includes what every other callback did at the end of
    the epoch.

    Args:
        folder: Where the checkpoint goes; created if missing.
        epochs: Number of epochs requested.
        stateful: The callbacks whose state a resumed run needs, by a name that stays
            the same between the paused and the resumed process.
        pause_requested: Called after each epoch but the last.
        resume_from: The resume point this training continues from. Its callback state
            is restored when training begins, after the callbacks reset themselves.
            Defaults to None, a fresh start.
        interval: Minimum seconds between two writes. Defaults to 30, so runs of many
            short epochs do not spend their time writing files.
    """

    def __init__(
        self,
        folder: Path,
        epochs: int,
        stateful: Mapping[str, keras.callbacks.Callback],
        pause_requested: Callable[[], bool],
        resume_from: checkpoints.ResumePoint | None = None,
        interval: float = 30.0,
    ) -> None:
        super().__init__()
        self.folder = folder
        self.epochs = epochs
        self.stateful = stateful
        self.pause_requested = pause_requested
        self.resume_from = resume_from
        self.interval = interval
        self.paused = False
        self.epochs_trained = resume_from.epochs_trained if resume_from else 0
        self._last_write = -math.inf

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.resume_from is not None:
            arrays = self.resume_from.load_arrays()
            training_state.restore_callbacks(self.stateful, self.resume_from, arrays)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.epochs_trained = epoch + 1
        last = self.model.stop_training or self.epochs_trained >= self.epochs
        if not last and self.pause_requested():
            self.paused = True
            self.model.stop_training = True
        if self.paused or last or time.monotonic() - self._last_write >= self.interval:
            self._write()

    def _write(self) -> None:
        numbers, arrays = training_state.capture(self.model, self.stateful)
        checkpoints.write_resume_point(
            self.folder, self.epochs_trained, numbers, arrays, self.model.save
        )
        self._last_write = time.monotonic()
