"""The Keras callback that connects a training run to the run store.

It does not import Streamlit: it writes metrics and progress to the store, and
the pages read the store. It also reads the run's stop flag after every batch, so a
Stop from any page ends training within one batch.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras

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
    """

    def __init__(
        self,
        store: RunStore,
        run_id: int,
        epochs: int,
        steps_per_epoch: int,
        batch_interval: float = 0.5,
        on_progress: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        super().__init__()
        self.store = store
        self.run_id = run_id
        self.epochs = epochs
        self.steps_per_epoch = max(steps_per_epoch, 1)
        self.batch_interval = batch_interval
        self.on_progress = on_progress
        self.stopped_by_user = False
        self._start = 0.0
        self._last_write = 0.0
        self._epoch = 0

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._start = time.monotonic()
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
        row = MetricRow("epoch", epoch, self.steps_per_epoch, elapsed, _plain(logs))
        self.store.log_metrics(self.run_id, [row])
        self._epoch = epoch + 1
        self._write_progress(step=0)
        logger.info("Run %s: epoch %d/%d %s", self.run_id, epoch + 1, self.epochs, row.values)

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
    """Keep the latest and the best state of a run on disk while it trains.

    `latest.keras` is the whole model with its optimizer state. It is written after an
    epoch when `interval` seconds have passed since the last write, and after the last
    epoch. `best.weights.h5` contains the weights of the epoch with the lowest
    validation loss so far. Both survive a killed worker.

    Args:
        folder: Where the checkpoints go; created if missing.
        interval: Minimum seconds between two writes of `latest.keras`. Defaults to 30,
            so runs of many short epochs do not spend their time writing files.
    """

    def __init__(self, folder: Path, interval: float = 30.0) -> None:
        super().__init__()
        self.folder = folder
        self.interval = interval
        self.best = math.inf
        self._last_write = -math.inf

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        val_loss = float((logs or {}).get("val_loss", math.inf))
        if val_loss < self.best:
            self.best = val_loss
            self.model.save_weights(self.folder / "best.weights.h5")
        if time.monotonic() - self._last_write >= self.interval:
            self._save_latest(epoch)

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self._save_latest(None)

    def _save_latest(self, epoch: int | None) -> None:
        self.model.save(self.folder / "latest.keras")
        self._last_write = time.monotonic()
        logger.debug("Checkpoint written after epoch %s in %s", epoch, self.folder)
