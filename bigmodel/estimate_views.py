"""The cost estimate of a training run as plain data, and its rows for the train page.

`bigmodel.estimates` computes a `CostEstimate` in the inference service, which sends
it as JSON. This module imports neither TensorFlow nor Streamlit, so the web server
reads and shows the estimate without loading either.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from bigmodel import i18n, views

MEMORY_PARTS = ("runtime", "weights", "gradients", "optimizer", "activations", "input_pipeline")
"""Parts of the peak memory estimate, in the order the page lists them."""


@dataclasses.dataclass(frozen=True)
class CostEstimate:
    """The expected cost of one training run, known before it starts.

    Attributes:
        parameters: Weights of the model, trainable or not.
        memory: Bytes of each part of `MEMORY_PARTS` at the peak of training.
        process_baseline_bytes: The part of `memory["runtime"]` that a worker process
            uses before a run arrives (Python with TensorFlow loaded).
        available_bytes: Machine memory divided among the worker's slots.
        slots: Runs that the worker trains at once.
        epoch_seconds: One epoch after the first: training steps plus validation.
        first_epoch_extra_seconds: What the first epoch adds: tracing the training
            and validation functions, and decoding the images once.
        steps_per_epoch: Training batches in one epoch.
        validation_steps: Validation batches in one epoch.
        timed_batches: Training batches timed to compute `epoch_seconds`.
        safer: Changes of settings that bring the estimate under `available_bytes`,
            as `{"model": {...}, "training": {...}}`, or None when it already fits
            or when no tried change fits.
        safer_peak_bytes: The peak memory estimate with `safer` applied, or None.
    """

    parameters: int
    memory: dict[str, int]
    process_baseline_bytes: int
    available_bytes: int
    slots: int
    epoch_seconds: float
    first_epoch_extra_seconds: float
    steps_per_epoch: int
    validation_steps: int
    timed_batches: int
    safer: dict[str, dict[str, Any]] | None = None
    safer_peak_bytes: int | None = None

    @property
    def peak_bytes(self) -> int:
        return sum(self.memory.values())

    @property
    def run_bytes(self) -> int:
        """The peak memory that the run adds to a worker process that is waiting for it."""
        return self.peak_bytes - self.process_baseline_bytes

    @property
    def fits(self) -> bool:
        return self.peak_bytes <= self.available_bytes

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> CostEstimate:
        names = {field.name for field in dataclasses.fields(cls)}
        return cls(**{name: value for name, value in values.items() if name in names})


def format_bytes(count: float) -> str:
    """Write a byte count as `512 MiB` or `3.2 GiB`."""
    if count >= 1024**3:
        return f"{count / 1024**3:.1f} GiB"
    return f"{count / 1024**2:.0f} MiB"


def summary_metrics(estimate: CostEstimate, t: i18n.Translator) -> list[tuple[str, str]]:
    """Return the estimate's headline figures as (label, value) pairs."""
    return [
        (t("estimates.parameters"), f"{estimate.parameters:,}"),
        (t("estimates.peak_memory"), format_bytes(estimate.peak_bytes)),
        (t("estimates.available_memory"), format_bytes(estimate.available_bytes)),
        (t("estimates.epoch_time"), format_epoch_time(estimate.epoch_seconds, t)),
    ]


def format_epoch_time(seconds: float, t: i18n.Translator) -> str:
    """Write an epoch time to a tenth of a second below 10 s, else as `format_duration` does."""
    if seconds < 10:
        return t("ui.time.seconds", seconds=f"{seconds:.1f}")
    return views.format_duration(seconds, t)


def memory_rows(estimate: CostEstimate, t: i18n.Translator) -> list[dict[str, str]]:
    """Return one row per part of the memory estimate, for a table."""
    return [
        {
            "part": t(f"estimates.part.{part}"),
            "memory": format_bytes(estimate.memory.get(part, 0)),
        }
        for part in MEMORY_PARTS
    ]


def safer_text(safer: Mapping[str, Mapping[str, Any]], t: i18n.Translator) -> str:
    """Write the changes of a safer setting, such as `Batch size: 8, Input size (pixels): 16`."""
    changes = [
        t("estimates.change", setting=t(f"settings.{name}.label"), value=value)
        for group in ("training", "model")
        for name, value in safer.get(group, {}).items()
    ]
    return ", ".join(changes)
