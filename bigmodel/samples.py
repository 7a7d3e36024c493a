"""Sample datasets bundled in `assets/`, for users who have no data at hand yet."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bigmodel.errors import RunNotFoundError
from bigmodel.image_datasets import ImageDataset, ingest_folder
from bigmodel.sequence_datasets import (
    SequenceDataset,
    SequenceSpec,
    ingest_sequences,
    inspect_csv,
)
from bigmodel.store import RunStore

ASSETS = Path(__file__).resolve().parent.parent / "assets"
SEQUENCES = ASSETS / "sequences"
SAMPLE_PREFIX = "sample:"
"""Start of the dataset names of bundled samples, so that pages can translate them."""

IMAGE_SAMPLES = {"digits": ASSETS / "digits"}
"""Image samples by name: class folders of PNG files."""


@dataclasses.dataclass(frozen=True)
class SequenceSample:
    """A bundled sequence CSV, a file to try the trained model on, and changes to the proposal.

    `spec_changes` replace fields of the layout that `inspect_csv` proposes for `train`.
    """

    train: Path
    test: Path
    spec_changes: Mapping[str, Any] = dataclasses.field(default_factory=dict)


SEQUENCE_SAMPLES = {
    "gunpoint": SequenceSample(SEQUENCES / "GunPoint_TRAIN.csv", SEQUENCES / "GunPoint_TEST.csv"),
    "basicmotions": SequenceSample(
        SEQUENCES / "BasicMotions_TRAIN_long.csv", SEQUENCES / "BasicMotions_TEST_long.csv"
    ),
    # Monthly counts: a window of two years forecasts the next twelve months.
    "airline": SequenceSample(
        SEQUENCES / "airline.csv", SEQUENCES / "airline.csv", {"window": 24, "horizon": 12}
    ),
}
"""Sequence samples by name: a GunPoint (wide), a BasicMotions (long) and an airline
passengers (series) CSV file."""


def load_image_sample(name: str, store: RunStore) -> ImageDataset:
    """Ingest a bundled image sample (once; later calls find it stored) and return it."""
    if name not in IMAGE_SAMPLES:
        raise RunNotFoundError("errors.sample_not_found", name=name, known=", ".join(IMAGE_SAMPLES))
    return ingest_folder(IMAGE_SAMPLES[name], f"{SAMPLE_PREFIX}{name}", store)


def sample_spec(name: str) -> SequenceSpec:
    """Return the layout a sequence sample is ingested with: the proposal and its changes."""
    sample = _sequence_sample(name)
    proposal = inspect_csv(sample.train.read_bytes(), sample.train.name).spec
    return dataclasses.replace(proposal, **sample.spec_changes)


def load_sequence_sample(name: str, store: RunStore) -> SequenceDataset:
    """Ingest a bundled sequence sample (once; later calls find it stored) and return it.

    Raises:
        RunNotFoundError: no sequence sample is called `name`.
    """
    sample = _sequence_sample(name)
    data = sample.train.read_bytes()
    return ingest_sequences(
        data, sample.train.name, sample_spec(name), f"{SAMPLE_PREFIX}{name}", store
    )


def _sequence_sample(name: str) -> SequenceSample:
    if name not in SEQUENCE_SAMPLES:
        known = ", ".join(SEQUENCE_SAMPLES)
        raise RunNotFoundError("errors.sample_not_found", name=name, known=known)
    return SEQUENCE_SAMPLES[name]
