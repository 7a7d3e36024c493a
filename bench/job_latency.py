"""Latency and per-epoch overhead of the studio's job path.

Prints, in one run on the bundled digits sample:

1. The time from submitting a run to its first live metric in the run store, with a
   warm worker and with a cold one. A warm worker's child process has TensorFlow
   loaded and waits for a run. A cold worker is started right after the run is
   submitted, so its child imports TensorFlow first.
2. The per-epoch time of the warm run against plain `model.fit` in this process, on
   the same split, the same `tf.data` pipeline (resized images cached in memory,
   shuffled every epoch), the same model and optimizer. The difference is what the
   job path adds: its process, the callbacks that write metrics and progress to the
   store and read the stop flag after every batch, the checkpoints and early stopping.
   Epoch times are medians over the epochs after the first, which includes tracing.

Usage:
    python bench/job_latency.py [--epochs 6] [--preset balanced]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from bench.train_throughput import wait_until_ready  # noqa: E402
from bigmodel import jobs, services  # noqa: E402
from bigmodel.config import Home  # noqa: E402
from bigmodel.samples import load_image_sample  # noqa: E402
from bigmodel.store import COMPLETED, RunStore  # noqa: E402
from tests.processes import background  # noqa: E402


def seconds_to_first_metric(store: RunStore, run_id: int, submitted: float) -> float:
    while not store.get_metrics(run_id):
        time.sleep(0.01)
    return time.monotonic() - submitted


def warm_run(store: RunStore, dataset_id: str, preset: str, epochs: int) -> tuple[float, int]:
    """Submit a run to a worker whose child waits with TensorFlow loaded, and train it.

    Returns the seconds from submitting to the first metric, and the run id.
    """
    with background(store.home, services.WORKER):
        wait_until_ready(store.home)
        submitted = time.monotonic()
        run_id = jobs.submit_run(
            store, dataset_id, "cnn", preset=preset, training={"epochs": epochs, "patience": 0}
        )
        first_metric = seconds_to_first_metric(store, run_id, submitted)
        run = jobs.wait_for_run(store, run_id, timeout=1800)
    if run.status != COMPLETED:
        raise SystemExit(f"run {run_id} ended as {run.status}: {run.error_key}")
    return first_metric, run_id


def cold_run(store: RunStore, dataset_id: str, preset: str) -> float:
    """Submit a run, then start the worker, and return the seconds to the first metric.

    The run is stopped once its first metric is stored, because only the start counts.
    """
    submitted = time.monotonic()
    run_id = jobs.submit_run(store, dataset_id, "cnn", preset=preset, training={"epochs": 2})
    with background(store.home, services.WORKER):
        first_metric = seconds_to_first_metric(store, run_id, submitted)
        jobs.stop_run(store, run_id)
        jobs.wait_for_run(store, run_id, timeout=600)
    return first_metric


def job_epoch_seconds(store: RunStore, run_id: int) -> float:
    ends = [row.elapsed for row in store.get_metrics(run_id, kind="epoch")]
    return statistics.median(later - earlier for earlier, later in itertools.pairwise(ends))


def plain_epoch_seconds(store: RunStore, run_id: int, epochs: int) -> float:
    """Train the run's model with plain `model.fit` on its split, and return the epoch time."""
    import keras

    from bigmodel.architectures import get_family
    from bigmodel.image_datasets import load_image_dataset
    from bigmodel.image_pipeline import image_dataset
    from bigmodel.settings import TrainingSettings, from_dict

    run = store.get_run(run_id)
    family = get_family(run.family)
    settings = from_dict(family.settings_class, run.settings["model"])
    training = from_dict(TrainingSettings, run.settings["training"])
    dataset = load_image_dataset(run.dataset_id, store)
    split = json.loads((store.home.run_dir(run_id) / "split.json").read_text())
    files = [dataset.path / item.file for item in dataset.items]
    labels = [item.label for item in dataset.items]

    def pipeline(indices: list[int], shuffle: bool) -> object:
        return image_dataset(
            [files[i] for i in indices],
            [labels[i] for i in indices],
            settings.input_size,
            training.batch_size,
            shuffle=shuffle,
            seed=training.seed,
        )

    keras.utils.set_random_seed(training.seed)
    model = family.build(settings, run.results["input_spec"], len(dataset.classes))
    model.compile(
        optimizer=keras.optimizers.Adam(training.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    ends: list[float] = []
    clock = keras.callbacks.LambdaCallback(on_epoch_end=lambda *_: ends.append(time.monotonic()))
    model.fit(
        pipeline(split["train"], shuffle=True),
        validation_data=pipeline(split["validation"], shuffle=False),
        epochs=epochs,
        callbacks=[clock],
        shuffle=False,
        verbose=0,
    )
    return statistics.median(later - earlier for earlier, later in itertools.pairwise(ends))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--preset", default="balanced")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        store = RunStore(Home(Path(folder)))
        dataset = load_image_sample("digits", store)
        warm, run_id = warm_run(store, dataset.id, args.preset, args.epochs)
        cold = cold_run(store, dataset.id, args.preset)
        job = job_epoch_seconds(store, run_id)
        plain = plain_epoch_seconds(store, run_id, args.epochs)

    print(f"digits sample, CNN {args.preset} preset, {args.epochs} epochs, {os.cpu_count()} cores")
    print(f"submit to first metric, warm worker (child waiting): {warm:.2f} s")
    print(f"submit to first metric, cold worker (started at submit): {cold:.2f} s")
    print(f"{'epoch time':<28}{'seconds':>10}")
    print(f"{'studio job path':<28}{job:>10.2f}")
    print(f"{'plain model.fit':<28}{plain:>10.2f}")
    print(f"overhead per epoch: {job - plain:+.2f} s ({(job - plain) / plain:+.1%})")
    print(f"load average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
