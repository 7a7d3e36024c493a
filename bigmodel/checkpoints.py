"""A run's checkpoint files, and the resume point that a paused or interrupted run continues from.

A run folder's `checkpoints/` holds:

- `latest.keras`: the whole model with its optimizer state (Keras format).
- `latest-state.npz`: what `latest.keras` leaves out: the seed states of random layers
  such as dropout, and the arrays of callbacks, such as early stopping's best weights.
- `latest.json`: the resume point: how many epochs the two files above follow, the
  callbacks' counters and best values, and the SHA-256 of both files.
- `best.weights.h5`: the weights of the epoch with the lowest validation loss so far.

This module reads and writes files only and does not import TensorFlow, so the web
server can tell whether a run can resume.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, cast

import numpy as np

logger = logging.getLogger(__name__)

LATEST_MODEL = "latest.keras"
LATEST_ARRAYS = "latest-state.npz"
RESUME_POINT = "latest.json"
BEST_WEIGHTS = "best.weights.h5"


class Availability(enum.StrEnum):
    """The kind of checkpoint that a run's folder offers to continue from."""

    RESUME_POINT = "resume_point"
    """A complete resume point: the run continues where it was."""
    BEST_WEIGHTS_ONLY = "best_weights_only"
    """Only the best weights, without optimizer and callback state: the run must restart."""
    NOTHING = "nothing"


@dataclasses.dataclass(frozen=True)
class ResumePoint:
    """The state that a run continues from, as recorded in `latest.json`.

    Attributes:
        folder: The checkpoint folder.
        epochs_trained: Epochs that `latest.keras` has been trained for, so the resumed
            run starts with this epoch index.
        callbacks: Per callback name, its counters and best values.
        hashes: SHA-256 of `latest.keras` and `latest-state.npz` when they were written.
    """

    folder: Path
    epochs_trained: int
    callbacks: dict[str, dict[str, Any]]
    hashes: dict[str, str]

    @property
    def model_path(self) -> Path:
        return self.folder / LATEST_MODEL

    @property
    def arrays_path(self) -> Path:
        return self.folder / LATEST_ARRAYS

    def is_intact(self) -> bool:
        """Check that both files exist and are the ones this resume point was written with.

        A worker killed between replacing the files leaves them out of step.
        """
        for name in (LATEST_MODEL, LATEST_ARRAYS):
            path = self.folder / name
            if not path.is_file() or _sha256(path) != self.hashes.get(name):
                logger.warning("Checkpoint file %s does not match its resume point", path)
                return False
        return True

    def load_arrays(self) -> dict[str, np.ndarray]:
        with np.load(self.arrays_path) as arrays:
            return {name: arrays[name] for name in arrays.files}


def read_resume_point(folder: Path) -> ResumePoint | None:
    """Return the resume point recorded in `folder`, or None when there is none to read."""
    path = folder / RESUME_POINT
    try:
        recorded = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        logger.warning("Cannot read the resume point %s: %s", path, error)
        return None
    return ResumePoint(
        folder=folder,
        epochs_trained=int(recorded["epochs_trained"]),
        callbacks=dict(recorded.get("callbacks", {})),
        hashes=dict(recorded.get("hashes", {})),
    )


def availability(folder: Path) -> Availability:
    """Tell what a run can continue from, by the files present (their hashes are not checked)."""
    point = read_resume_point(folder)
    if point is not None and point.model_path.is_file() and point.arrays_path.is_file():
        return Availability.RESUME_POINT
    if (folder / BEST_WEIGHTS).is_file():
        return Availability.BEST_WEIGHTS_ONLY
    return Availability.NOTHING


def write_resume_point(
    folder: Path,
    epochs_trained: int,
    callbacks: Mapping[str, Mapping[str, Any]],
    arrays: Mapping[str, np.ndarray],
    save_model: Callable[[Path], None],
) -> ResumePoint:
    """Write `latest.keras`, `latest-state.npz` and then `latest.json` that names them.

    Each file is written under a temporary name and then renamed, so a reader never
    sees a half-written file. `save_model` writes the model to the path it is given,
    which ends in `.keras`.
    """
    folder.mkdir(parents=True, exist_ok=True)
    model_partial = folder / "latest.partial.keras"
    arrays_partial = folder / "latest-state.partial.npz"
    save_model(model_partial)
    with arrays_partial.open("wb") as file:
        np.savez(file, **cast(dict[str, Any], arrays))
    hashes = {LATEST_MODEL: _sha256(model_partial), LATEST_ARRAYS: _sha256(arrays_partial)}

    recorded = {"epochs_trained": epochs_trained, "callbacks": callbacks, "hashes": hashes}
    point_partial = folder / "latest.partial.json"
    point_partial.write_text(json.dumps(recorded, indent=1), "utf-8")
    os.replace(model_partial, folder / LATEST_MODEL)
    os.replace(arrays_partial, folder / LATEST_ARRAYS)
    os.replace(point_partial, folder / RESUME_POINT)
    logger.debug("Resume point after %d epochs written in %s", epochs_trained, folder)
    return ResumePoint(folder, epochs_trained, {k: dict(v) for k, v in callbacks.items()}, hashes)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
