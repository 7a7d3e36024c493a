"""The inference service: a long-lived local HTTP server that returns predictions.

It keeps the most recently used models loaded, so a prediction after the first takes
milliseconds instead of the seconds that loading TensorFlow and a model costs. It
listens on 127.0.0.1 on a free port, written to `inference.json` in the data folder.

Endpoints:
    GET  /health   -> `ok`
    POST /predict  {"run_id": int, "top_k": int, "images": [{"name", "data" (base64)}]}
                   -> {"predictions": [...]} as `Predictor.predict_images` returns them.
    POST /predict_sequences
                   {"run_id": int, "top_k": int, "source": str, "data": str (base64 CSV),
                    optional "start": int, "count": int}
                   -> {"columns": [...], "records": [...], "total": int}: the table of
                   `SequencePredictor.predict_csv_part` as JSON records, for the examples
                   `start` to `start + count` (all without `count`), and the number of
                   examples in the file.
    POST /evaluate {"run_id": int, "dataset_id": str | null}
                   -> {"source": str, "examples": int}; `evaluation.compute_evaluation`
                   predicts the validation split or the dataset and caches the result
                   in the run folder, where `evaluation.load_evaluation` reads it.
    POST /explain_images {"run_id": int, "images": [{"name", "data" (base64)}]}
                   -> {"explanations": [...]} as `explain.explain_images` returns them.
    POST /explain_sequences {"run_id": int, "dataset_id": str, "indices": [int, ...]}
                   -> {"explanations": [{"index", "output", "score", "saliency",
                   "attention"}]} for examples of a stored sequence dataset.
    POST /estimate {"dataset_id": str, "family": str, "preset": str,
                    "model": {...}, "training": {...}}
                   -> the `CostEstimate` of `bigmodel.estimates.estimate_cost` as a dict.

A bad request gets status 400 and {"error": {"key", "params"}}.
"""

from __future__ import annotations

import base64
import binascii
import collections
import json
import logging
import os
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bigmodel import estimates, evaluation, explain, saved_models, services
from bigmodel.config import Home
from bigmodel.errors import BigModelError, InvalidUploadError, ModelNotReadyError
from bigmodel.prediction import Predictor
from bigmodel.sequence_datasets import load_sequence_dataset
from bigmodel.sequence_prediction import SequencePredictor, table_records
from bigmodel.store import RunStore, to_json

logger = logging.getLogger(__name__)

MAX_LOADED_MODELS = 4

AnyPredictor = Predictor | SequencePredictor


def load_predictor(model_path: Path) -> AnyPredictor:
    """Load the predictor that suits a saved model: for sequences or for images."""
    meta = json.loads((model_path.parent / saved_models.META_FILE).read_text("utf-8"))
    if meta.get("input_spec", {}).get("kind") == "sequence":
        return SequencePredictor(model_path)
    return Predictor(model_path)


class ModelCache:
    """Loaded predictors by run id, evicting the least recently used beyond a limit."""

    def __init__(self, store: RunStore, capacity: int = MAX_LOADED_MODELS) -> None:
        self.store = store
        self.capacity = capacity
        self._predictors: collections.OrderedDict[int, AnyPredictor] = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, run_id: int) -> AnyPredictor:
        with self._lock:
            if run_id in self._predictors:
                self._predictors.move_to_end(run_id)
                return self._predictors[run_id]
            run = self.store.get_run(run_id)
            if not run.has_model or run.model_path is None:
                raise ModelNotReadyError("errors.model_not_ready", run_id=run_id, status=run.status)
            predictor = load_predictor(Path(run.model_path))
            self._predictors[run_id] = predictor
            if len(self._predictors) > self.capacity:
                self._predictors.popitem(last=False)
            logger.info("Loaded the model of run %s", run_id)
            return predictor


def _predict_images(request: dict[str, Any], cache: ModelCache) -> dict[str, Any]:
    images = [(i["name"], _decode_base64(i["data"], i["name"])) for i in request["images"]]
    predictor = _predictor_of_kind(cache, int(request["run_id"]), Predictor, "image")
    return {"predictions": predictor.predict_images(images, int(request.get("top_k", 3)))}


def _predict_sequences(request: dict[str, Any], cache: ModelCache) -> dict[str, Any]:
    source = str(request.get("source") or "upload.csv")
    data = _decode_base64(request["data"], source)
    predictor = _predictor_of_kind(cache, int(request["run_id"]), SequencePredictor, "sequence")
    count = request.get("count")
    table, total = predictor.predict_csv_part(
        data,
        source,
        int(request.get("top_k", 3)),
        start=int(request.get("start", 0)),
        count=None if count is None else int(count),
    )
    return {
        "columns": [str(column) for column in table.columns],
        "records": table_records(table),
        "total": total,
    }


def _predictor_of_kind(cache: ModelCache, run_id: int, expected: type[Any], kind: str) -> Any:
    predictor = cache.get(run_id)
    if not isinstance(predictor, expected):
        raise ModelNotReadyError("sequences.model_kind_mismatch", run_id=run_id, kind=kind)
    return predictor


def _decode_base64(text: str, source: str) -> bytes:
    # Characters outside the base64 alphabet, such as line breaks, are skipped, as the
    # image endpoint always did; broken padding is an error.
    try:
        return base64.b64decode(text)
    except (binascii.Error, ValueError) as error:
        raise InvalidUploadError("sequences.upload_not_base64", file=source) from error


def _evaluate(request: dict[str, Any], cache: ModelCache) -> dict[str, Any]:
    run_id = int(request["run_id"])
    dataset_id = request.get("dataset_id") or None
    data = evaluation.compute_evaluation(cache.store, run_id, dataset_id, cache.get(run_id))
    return {"source": data.source, "examples": len(data)}


def _explain_images(request: dict[str, Any], cache: ModelCache) -> dict[str, Any]:
    images = [(i["name"], _decode_base64(i["data"], i["name"])) for i in request["images"]]
    predictor = _predictor_of_kind(cache, int(request["run_id"]), Predictor, "image")
    return {"explanations": explain.explain_images(predictor.model, predictor.class_names, images)}


def _explain_sequences(request: dict[str, Any], cache: ModelCache) -> dict[str, Any]:
    predictor = _predictor_of_kind(cache, int(request["run_id"]), SequencePredictor, "sequence")
    examples = load_sequence_dataset(str(request["dataset_id"]), cache.store).examples()
    indices = [int(index) for index in request["indices"]]
    x = evaluation.fit_length(examples.x[indices], predictor.length)

    explanations = []
    for index, sequence in zip(indices, x, strict=True):
        result = explain.explain_sequence(predictor.model, predictor.meta, sequence)
        attention = None if result.attention is None else result.attention.round(5).tolist()
        explanations.append(
            {
                "index": index,
                "output": result.output_index,
                "score": result.score,
                "saliency": result.saliency.round(5).tolist(),
                "attention": attention,
            }
        )
    return {"explanations": explanations}


def _estimate(request: dict[str, Any], cache: ModelCache) -> dict[str, Any]:
    estimate = estimates.estimate_cost(
        cache.store,
        str(request["dataset_id"]),
        str(request["family"]),
        preset=str(request["preset"]),
        model=request.get("model") or {},
        training=request.get("training") or {},
    )
    return estimate.to_dict()


ROUTES: dict[str, Callable[[dict[str, Any], ModelCache], dict[str, Any]]] = {
    "/predict": _predict_images,
    "/predict_sequences": _predict_sequences,
    "/evaluate": _evaluate,
    "/explain_images": _explain_images,
    "/explain_sequences": _explain_sequences,
    "/estimate": _estimate,
}
FAILURE_KEYS = {"/estimate": "estimates.failed"}
"""Catalog key of the message for an unexpected failure of each route that is no prediction."""


def _handler_class(cache: ModelCache) -> type[BaseHTTPRequestHandler]:
    predict_lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            logger.debug("%s " + format, self.address_string(), *args)

        def do_GET(self) -> None:
            if self.path == "/health":
                self._send(200, b"ok", "text/plain")
            else:
                self._send(404, b"not found", "text/plain")

        def do_POST(self) -> None:
            route = ROUTES.get(self.path)
            if route is None:
                self._send(404, b"not found", "text/plain")
                return
            try:
                request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with predict_lock:
                    reply = route(request, cache)
            except BigModelError as error:
                logger.info("Request to %s rejected: %s", self.path, error)
                body = {
                    "error": {
                        "key": error.key,
                        "params": to_json(error.params),
                    }
                }
                self._send(400, json.dumps(body).encode(), "application/json")
                return
            except Exception:
                logger.exception("Request to %s failed", self.path)
                key = FAILURE_KEYS.get(self.path, "errors.unexpected_prediction")
                body = {"error": {"key": key, "params": {}}}
                self._send(500, json.dumps(body).encode(), "application/json")
                return
            self._send(200, json.dumps(reply, ensure_ascii=False).encode(), "application/json")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def serve(home: Home) -> int:
    """Serve predictions on 127.0.0.1 until terminated; return the exit code."""
    with services.hold_lock(home, services.INFERENCE, record_pid=True) as acquired:
        if not acquired:
            logger.info("An inference service for %s is running already; exiting", home.root)
            return 0
        cache = ModelCache(RunStore(home))
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(cache))
        address = {"port": server.server_address[1], "pid": os.getpid()}
        temporary = home.root / f"{services.INFERENCE_ADDRESS_FILE}.tmp"
        temporary.write_text(json.dumps(address), "utf-8")
        temporary.replace(home.root / services.INFERENCE_ADDRESS_FILE)
        logger.info(
            "Inference service %d listening on 127.0.0.1:%d",
            os.getpid(),
            address["port"],
        )
        try:
            server.serve_forever()
        finally:
            server.server_close()
    return 0
