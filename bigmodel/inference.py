"""The inference service: a long-lived local HTTP server that answers predictions.

It keeps the most recently used models loaded, so a prediction after the first takes
milliseconds instead of the seconds that loading TensorFlow and a model costs. It
listens on 127.0.0.1 on a free port, written to `inference.json` in the data folder.

Endpoints:
    GET  /health   -> `ok`
    POST /predict  {"run_id": int, "top_k": int, "images": [{"name", "data" (base64)}]}
                   -> {"predictions": [...]} as `Predictor.predict_images` returns them,
                   or status 400 with {"error": {"key", "params"}} for a bad request.
"""

from __future__ import annotations

import base64
import collections
import json
import logging
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bigmodel import services
from bigmodel.config import Home
from bigmodel.errors import BigModelError, ModelNotReadyError
from bigmodel.prediction import Predictor
from bigmodel.store import RunStore

logger = logging.getLogger(__name__)

MAX_LOADED_MODELS = 4


class ModelCache:
    """Loaded predictors by run id, evicting the least recently used beyond a limit."""

    def __init__(self, store: RunStore, capacity: int = MAX_LOADED_MODELS) -> None:
        self.store = store
        self.capacity = capacity
        self._predictors: collections.OrderedDict[int, Predictor] = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, run_id: int) -> Predictor:
        with self._lock:
            if run_id in self._predictors:
                self._predictors.move_to_end(run_id)
                return self._predictors[run_id]
            run = self.store.get_run(run_id)
            if not run.has_model or run.model_path is None:
                raise ModelNotReadyError("errors.model_not_ready", run_id=run_id, status=run.status)
            predictor = Predictor(Path(run.model_path))
            self._predictors[run_id] = predictor
            if len(self._predictors) > self.capacity:
                self._predictors.popitem(last=False)
            logger.info("Loaded the model of run %s", run_id)
            return predictor


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
            if self.path != "/predict":
                self._send(404, b"not found", "text/plain")
                return
            try:
                request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                images = [(i["name"], base64.b64decode(i["data"])) for i in request["images"]]
                predictor = cache.get(int(request["run_id"]))
                with predict_lock:
                    predictions = predictor.predict_images(images, int(request.get("top_k", 3)))
            except BigModelError as error:
                logger.info("Prediction request rejected: %s", error)
                body = {
                    "error": {
                        "key": error.key,
                        "params": {k: str(v) for k, v in error.params.items()},
                    }
                }
                self._send(400, json.dumps(body).encode(), "application/json")
                return
            except Exception:
                logger.exception("Prediction request failed")
                body = {"error": {"key": "errors.unexpected_prediction", "params": {}}}
                self._send(500, json.dumps(body).encode(), "application/json")
                return
            self._send(
                200,
                json.dumps({"predictions": predictions}).encode(),
                "application/json",
            )

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def serve(home: Home) -> int:
    """Answer predictions on 127.0.0.1 until terminated; return the exit code."""
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
