"""Asking the inference service for predictions, from a process without TensorFlow."""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from bigmodel import services
from bigmodel.config import Home
from bigmodel.errors import BigModelError, ServiceUnavailableError
from bigmodel.estimate_views import CostEstimate

logger = logging.getLogger(__name__)

START_TIMEOUT = 90.0
"""Seconds to wait for a starting service; it imports TensorFlow, which takes 8-13 s here."""


@dataclasses.dataclass(frozen=True)
class Prediction:
    """The top classes for one input, or the reason it could not be predicted."""

    name: str
    top: list[tuple[str, float]]
    warnings: list[dict[str, Any]]
    error: dict[str, Any] | None

    @classmethod
    def from_dict(cls, value: dict[str, Any]) -> Prediction:
        return cls(
            name=value["name"],
            top=[(str(label), float(p)) for label, p in value["top"]],
            warnings=list(value.get("warnings", [])),
            error=value.get("error"),
        )


def _address(home: Home) -> int | None:
    try:
        return int(
            json.loads((home.root / services.INFERENCE_ADDRESS_FILE).read_text("utf-8"))["port"]
        )
    except (OSError, ValueError, KeyError):
        return None


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
            return bool(response.read() == b"ok")
    except OSError:
        return False


def ensure_service(home: Home, timeout: float = START_TIMEOUT) -> int:
    """Start the inference service if needed and return its port once it responds.

    Raises:
        ServiceUnavailableError: if it does not respond within `timeout` seconds.
    """
    services.start(home, services.INFERENCE)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        port = _address(home)
        if port is not None and services.is_running(home, services.INFERENCE) and _healthy(port):
            return port
        time.sleep(0.25)
    raise ServiceUnavailableError("errors.inference_unavailable", seconds=int(timeout))


def predict_images(
    home: Home, run_id: int, images: Sequence[tuple[str, bytes]], top_k: int = 3
) -> list[Prediction]:
    """Predict the top `top_k` classes of each `(name, bytes)` image with a run's model.

    Raises:
        BigModelError: what the service rejected, such as a run without a model.
        ServiceUnavailableError: if the service cannot be started or reached.
    """
    reply = _post(
        home,
        "/predict",
        {
            "run_id": run_id,
            "top_k": top_k,
            "images": [{"name": n, "data": base64.b64encode(d).decode()} for n, d in images],
        },
    )
    return [Prediction.from_dict(p) for p in reply["predictions"]]


def predict_sequences(
    home: Home,
    run_id: int,
    csv_bytes: bytes,
    source: str,
    top_k: int = 3,
    chunk_size: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Predict every sequence of a CSV file with a run's sequence model.

    With `chunk_size`, the file is predicted `chunk_size` sequences or windows per
    request, so requests of other users run between two chunks, and `on_progress`
    is called with `(examples done, examples in all)` after each one.

    Returns:
        The table of `SequencePredictor.predict_csv`: for classification the class,
        its confidence and the `top_k` classes of each sequence or window; for
        regression the value; for a forecast the next values of each series.

    Raises:
        BigModelError: what the service rejected, such as a file without a column of
            the model's layout, or a run whose model predicts images.
        ServiceUnavailableError: if the service cannot be started or reached.
    """
    # NOTE: every chunk sends the whole file again. The service parses it only once,
    # because it keeps the examples of the last file, but a large file still costs
    # one transfer and one base64 decoding per chunk on 127.0.0.1.
    payload: dict[str, Any] = {
        "run_id": run_id,
        "top_k": top_k,
        "source": source,
        "data": base64.b64encode(csv_bytes).decode(),
        "count": chunk_size,
    }
    parts: list[pd.DataFrame] = []
    done, total = 0, None
    while total is None or done < total:
        reply = _post(home, "/predict_sequences", {**payload, "start": done})
        parts.append(pd.DataFrame.from_records(reply["records"], columns=reply["columns"]))
        total = int(reply["total"])
        done = total if chunk_size is None else min(done + chunk_size, total)
        if on_progress is not None:
            on_progress(done, total)
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]


def evaluate(home: Home, run_id: int, dataset_id: str | None = None) -> int:
    """Have the inference service evaluate a run's model and cache the result.

    Read the result with `evaluation.load_evaluation` afterwards.

    Args:
        run_id: a completed or stopped run.
        dataset_id: a labelled dataset with the model's classes or columns. Defaults
            to the run's validation split.

    Returns:
        The number of examples evaluated.

    Raises:
        BigModelError: what the service rejected, such as a dataset whose classes
            differ from the model's.
        ServiceUnavailableError: if the service cannot be started or reached.
    """
    reply = _post(home, "/evaluate", {"run_id": run_id, "dataset_id": dataset_id})
    return int(reply["examples"])


@dataclasses.dataclass(frozen=True)
class ImageExplanation:
    """The Grad-CAM heat map of one image, or the reason it could not be explained.

    `heatmap` is `(rows, columns)` in 0-1 over a grid that covers the whole image.
    """

    name: str
    class_name: str | None
    probability: float | None
    heatmap: np.ndarray | None
    error: dict[str, Any] | None


@dataclasses.dataclass(frozen=True)
class SequenceExplanation:
    """The importance of each real step of one sequence of a stored dataset.

    `saliency` is in 0-1; `attention` sums to 1, and is None for models without
    attention layers. `output` is the explained class or output index.
    """

    index: int
    output: int
    score: float
    saliency: np.ndarray
    attention: np.ndarray | None


def explain_images(
    home: Home, run_id: int, images: Sequence[tuple[str, bytes]]
) -> list[ImageExplanation]:
    """Compute the Grad-CAM heat map of the predicted class of each `(name, bytes)` image.

    Raises:
        BigModelError: what the service rejected, such as a run whose model predicts
            sequences.
        ServiceUnavailableError: if the service cannot be started or reached.
    """
    reply = _post(
        home,
        "/explain_images",
        {
            "run_id": run_id,
            "images": [{"name": n, "data": base64.b64encode(d).decode()} for n, d in images],
        },
    )
    return [
        ImageExplanation(
            name=item["name"],
            class_name=item.get("class"),
            probability=item.get("probability"),
            heatmap=None if item.get("heatmap") is None else np.asarray(item["heatmap"]),
            error=item.get("error"),
        )
        for item in reply["explanations"]
    ]


def explain_sequences(
    home: Home, run_id: int, dataset_id: str, indices: Sequence[int]
) -> list[SequenceExplanation]:
    """Compute the importance of each step of examples of a stored sequence dataset.

    Args:
        indices: positions in `SequenceDataset.examples()`.

    Raises:
        BigModelError: what the service rejected, such as a run whose model predicts
            images.
        ServiceUnavailableError: if the service cannot be started or reached.
    """
    reply = _post(
        home,
        "/explain_sequences",
        {"run_id": run_id, "dataset_id": dataset_id, "indices": [int(i) for i in indices]},
    )
    return [
        SequenceExplanation(
            index=int(item["index"]),
            output=int(item["output"]),
            score=float(item["score"]),
            saliency=np.asarray(item["saliency"], dtype=np.float32),
            attention=None
            if item["attention"] is None
            else np.asarray(item["attention"], dtype=np.float32),
        )
        for item in reply["explanations"]
    ]


def estimate_cost(
    home: Home,
    dataset_id: str,
    family: str,
    preset: str,
    model: dict[str, Any],
    training: dict[str, Any],
) -> CostEstimate:
    """Estimate the parameters, peak memory and epoch time of a run before it starts.

    `model` and `training` override single values of the preset, as in
    `jobs.submit_run`. The service builds the model and times a few batches, which
    takes a few seconds.

    Raises:
        BigModelError: what the service rejected, such as an invalid setting.
        ServiceUnavailableError: if the service cannot be started or reached.
    """
    reply = _post(
        home,
        "/estimate",
        {
            "dataset_id": dataset_id,
            "family": family,
            "preset": preset,
            "model": model,
            "training": training,
        },
    )
    return CostEstimate.from_dict(reply)


def _post(home: Home, path: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Send a JSON request to the inference service and return its JSON reply.

    Raises:
        BigModelError: the service returned an error.
        ServiceUnavailableError: the service cannot be started or reached.
    """
    port = ensure_service(home)
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=600) as response:
            reply: dict[str, Any] = json.loads(response.read())
    except urllib.error.HTTPError as error:
        failure = json.loads(error.read() or b"{}")
        problem = failure.get("error") or {
            "key": "errors.unexpected_prediction",
            "params": {},
        }
        raise BigModelError(problem["key"], **problem["params"]) from None
    except OSError as error:
        logger.warning("Inference service on port %d failed: %s", port, error)
        raise ServiceUnavailableError("errors.inference_unavailable", seconds=0) from error
    return reply
