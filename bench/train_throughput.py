"""Training throughput of the studio's job path against plain `model.fit`.

Trains the default CNN on the bundled digits sample twice in one run: once as a studio
run (submitted to the run store, trained by a worker process that logs every batch to
the store and checks the stop flag), and once with a plain `model.fit` on the same
training and validation images, already resized, in this process. Prints samples per
second for both (median over the epochs after the first, which includes tracing),
their ratio, and the time from submitting a run to its first live metric with an idle
worker that has TensorFlow loaded.

Usage:
    python bench/train_throughput.py [--epochs 6]
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from bigmodel import jobs, services  # noqa: E402
from bigmodel.config import Home  # noqa: E402
from bigmodel.samples import load_image_sample  # noqa: E402
from bigmodel.store import COMPLETED, RunStore  # noqa: E402
from tests.processes import background  # noqa: E402


def wait_until_ready(home: Home, timeout: float = 120) -> None:
    log = home.logs / f"{services.WORKER}-test.log"
    deadline = time.monotonic() + timeout
    while "ready" not in (log.read_text(errors="replace") if log.exists() else ""):
        if time.monotonic() > deadline:
            raise SystemExit("worker did not become ready")
        time.sleep(0.1)


def studio_path(store: RunStore, dataset_id: str, epochs: int) -> tuple[float, float, int]:
    """Return (samples per second, seconds to first metric, run id) through the job path."""
    with background(store.home, services.WORKER):
        wait_until_ready(store.home)
        submitted = time.monotonic()
        run_id = jobs.submit_run(
            store, dataset_id, "cnn", training={"epochs": epochs, "patience": 0}
        )
        while not store.get_metrics(run_id):
            time.sleep(0.01)
        first_metric = time.monotonic() - submitted
        run = jobs.wait_for_run(store, run_id, timeout=1800)
    if run.status != COMPLETED:
        raise SystemExit(f"run {run_id} ended as {run.status}: {run.error_key}")

    ends = [row.elapsed for row in store.get_metrics(run_id, kind="epoch")]
    epoch_seconds = [b - a for a, b in itertools.pairwise(ends)]
    train_samples = len(_split(store, run_id)["train"])
    return train_samples / statistics.median(epoch_seconds), first_metric, run_id


def _split(store: RunStore, run_id: int) -> dict[str, list[int]]:
    import json

    return json.loads((store.home.run_dir(run_id) / "split.json").read_text())


def plain_fit(store: RunStore, run_id: int, epochs: int) -> float:
    """Return samples per second of `model.fit` on the same images, model and settings."""
    import keras
    import numpy as np
    from PIL import Image

    from bigmodel.architectures import get_family
    from bigmodel.image_datasets import load_image_dataset
    from bigmodel.layers import resizing_layer
    from bigmodel.settings import TrainingSettings, from_dict

    run = store.get_run(run_id)
    family = get_family("cnn")
    settings = from_dict(family.settings_class, run.settings["model"])
    training = from_dict(TrainingSettings, run.settings["training"])
    dataset = load_image_dataset(run.dataset_id, store)
    split = _split(store, run_id)

    resize = resizing_layer(settings.input_size)
    images = np.stack(
        [
            np.asarray(resize(np.asarray(Image.open(dataset.path / item.file), np.float32)))
            for item in dataset.items
        ]
    )
    labels = np.array([item.label for item in dataset.items])
    train, validation = split["train"], split["validation"]

    keras.utils.set_random_seed(training.seed)
    model = family.build(settings, run.results["input_spec"], len(dataset.classes))
    model.compile(
        optimizer=keras.optimizers.Adam(training.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    ends: list[float] = []
    timer = keras.callbacks.LambdaCallback(on_epoch_end=lambda *_: ends.append(time.monotonic()))
    model.fit(
        images[train],
        labels[train],
        validation_data=(images[validation], labels[validation]),
        batch_size=training.batch_size,
        epochs=epochs,
        callbacks=[timer],
        verbose=0,
    )
    epoch_seconds = [b - a for a, b in itertools.pairwise(ends)]
    return len(train) / statistics.median(epoch_seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        store = RunStore(Home(Path(folder)))
        dataset = load_image_sample("digits", store)
        studio, first_metric, run_id = studio_path(store, dataset.id, args.epochs)
        plain = plain_fit(store, run_id, args.epochs)
        accuracy = store.get_run(run_id).results["val_accuracy"]

    print(f"digits sample, default CNN settings, {args.epochs} epochs, {os.cpu_count()} cores")
    print(f"{'path':<28}{'samples/s':>12}")
    print(f"{'studio job path':<28}{studio:>12.0f}")
    print(f"{'plain model.fit':<28}{plain:>12.0f}")
    print(f"ratio studio / plain: {studio / plain:.2f} (target at least 0.90)")
    print(f"submit to first live metric, idle warm worker: {first_metric:.2f} s")
    print(f"validation accuracy of the studio run: {accuracy:.4f}")


if __name__ == "__main__":
    main()
