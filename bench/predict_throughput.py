"""Prediction throughput of the studio's batch path against plain `model.predict`.

Trains the default CNN on the bundled digits sample for one epoch (the weights do not
change the speed), then predicts all 1,797 digit images twice in one run:

- the studio batch path: a zip of the images read by `batch_from_uploads` and sent
  to the inference service process in chunks (`predict_batch` with the inference
  client), which decodes each chunk and runs the model on it in one call;
- plain `model.predict` in this process on the same images, already decoded into
  one array, with the chunk size as batch size.

Each path is warmed up once (model loading and tracing) and then timed `--repeat`
times; the median is printed in images per second.

Usage:
    python bench/predict_throughput.py [--chunk 64] [--repeat 3]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
import zipfile
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from bigmodel import inference_client, jobs, services  # noqa: E402
from bigmodel.batch_prediction import batch_from_uploads, predict_batch  # noqa: E402
from bigmodel.config import Home  # noqa: E402
from bigmodel.samples import IMAGE_SAMPLES, load_image_sample  # noqa: E402
from bigmodel.store import COMPLETED, RunStore  # noqa: E402
from tests.processes import background  # noqa: E402

DIGITS = sorted(IMAGE_SAMPLES["digits"].glob("*/*.png"))


def train_default_cnn(store: RunStore) -> int:
    from bigmodel.training import execute_run

    dataset = load_image_sample("digits", store)
    run_id = jobs.submit_run(store, dataset.id, "cnn", training={"epochs": 1})
    store.start_run(run_id, worker_pid=0)
    run = execute_run(store, store.get_run(run_id))
    if run.status != COMPLETED:
        raise SystemExit(f"run {run_id} ended as {run.status}: {run.error_key}")
    return run_id


def digits_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in DIGITS:
            archive.write(path, f"digits/{path.parent.name}/{path.name}")
    return buffer.getvalue()


def studio_batch_path(home: Home, run_id: int, chunk: int, repeat: int) -> float:
    """Return images per second through the zip, the client and the inference service."""
    data = digits_zip()
    predict_chunk = partial(inference_client.predict_images, home, run_id, top_k=3)

    def predict_all() -> float:
        started = time.perf_counter()
        with batch_from_uploads([("digits.zip", data)]) as batch:
            predictions = predict_batch(batch.images, predict_chunk, chunk_size=chunk)
        seconds = time.perf_counter() - started
        assert len(predictions) == len(DIGITS)
        return seconds

    with background(home, services.INFERENCE):
        predict_all()
        seconds = statistics.median(predict_all() for _ in range(repeat))
    return len(DIGITS) / seconds


def plain_predict(store: RunStore, run_id: int, chunk: int, repeat: int) -> float:
    """Return images per second of `model.predict` on the decoded images as one array."""
    import numpy as np

    from bigmodel import saved_models
    from bigmodel.imaging import decode_image

    model, _ = saved_models.load_model(Path(store.get_run(run_id).model_path))
    pixels = np.stack([decode_image(path.read_bytes(), path.name).pixels for path in DIGITS])
    images = pixels.astype(np.float32)

    def predict_all() -> float:
        started = time.perf_counter()
        model.predict(images, batch_size=chunk, verbose=0)
        return time.perf_counter() - started

    predict_all()
    seconds = statistics.median(predict_all() for _ in range(repeat))
    return len(DIGITS) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunk", type=int, default=64, help="images per request and batch")
    parser.add_argument("--repeat", type=int, default=3, help="timed passes over the images")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        home = Home(Path(folder)).ensure()
        store = RunStore(home)
        run_id = train_default_cnn(store)
        studio = studio_batch_path(home, run_id, args.chunk, args.repeat)
        plain = plain_predict(store, run_id, args.chunk, args.repeat)

    print(
        f"digits sample ({len(DIGITS)} images of 8x8), default CNN, chunk {args.chunk}, "
        f"median of {args.repeat}, {os.cpu_count()} cores"
    )
    print(f"{'path':<28}{'images/s':>12}")
    print(f"{'studio batch path':<28}{studio:>12.0f}")
    print(f"{'plain model.predict':<28}{plain:>12.0f}")
    print(f"ratio studio / plain: {studio / plain:.2f}")


if __name__ == "__main__":
    main()
