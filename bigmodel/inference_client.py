"""Asking the inference service for predictions, from a process without TensorFlow."""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any

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
    home: Home, run_id: int, csv_bytes: bytes, source: str, top_k: int = 3
) -> pd.DataFrame:
    """Predict every sequence of a CSV file with a run's sequence model.

    Returns:
        The table of `SequencePredictor.predict_csv`: for classification the class,
        its confidence and the `top_k` classes of each sequence or window; for
        regression the value; for a forecast the next values of each series.

    Raises:
        BigModelError: what the service rejected, such as a file without a column of
            the model's layout, or a run whose model predicts images.
        ServiceUnavailableError: if the service cannot be started or reached.
    """
    reply = _post(
        home,
        "/predict_sequences",
        {
            "run_id": run_id,
            "top_k": top_k,
            "source": source,
            "data": base64.b64encode(csv_bytes).decode(),
        },
    )
    return pd.DataFrame.from_records(reply["records"], columns=reply["columns"])


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
