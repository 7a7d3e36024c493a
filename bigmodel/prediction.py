"""Predicting with a saved model, in a process that has TensorFlow loaded.

Images pass through the same decode rule as at ingest (`imaging.decode_image`) and
then through the model, whose first layers resize, scale and convert colour exactly
as in training.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bigmodel import saved_models
from bigmodel.errors import BigModelError
from bigmodel.imaging import decode_image
from bigmodel.store import to_json

logger = logging.getLogger(__name__)


class Predictor:
    """A loaded model with its class names and input spec."""

    def __init__(self, model_path: Path) -> None:
        self.model, self.meta = saved_models.load_model(model_path)
        self.class_names: list[str] = list(self.meta["class_names"])

    def probabilities(self, pixels: np.ndarray) -> np.ndarray:
        """Return class probabilities `(num_classes,)` for one RGB image `(height, width, 3)`."""
        batch = pixels[np.newaxis].astype(np.float32)
        return np.asarray(self.model(batch, training=False))[0]

    def predict_images(
        self, images: Sequence[tuple[str, bytes]], top_k: int = 3
    ) -> list[dict[str, Any]]:
        """Return, for each `(name, bytes)`, its top `top_k` classes or the reason it failed.

        Each result is a plain dict: `name`, `top` as `[[class, probability], ...]`
        sorted by probability, `warnings`, and `error` (`{"key", "params"}`) for an
        image that could not be read.
        """
        return [self._predict_one(name, data, top_k) for name, data in images]

    def _predict_one(self, name: str, data: bytes, top_k: int) -> dict[str, Any]:
        try:
            decoded = decode_image(data, name)
        except BigModelError as error:
            logger.info("Prediction input %s rejected: %s", name, error)
            return {"name": name, "top": [], "warnings": [], "error": _error(error)}

        probabilities = self.probabilities(decoded.pixels)
        order = np.argsort(probabilities)[::-1][:top_k]
        return {
            "name": name,
            "top": [[self.class_names[i], float(probabilities[i])] for i in order],
            "warnings": [_message(w) for w in decoded.warnings],
            "error": None,
        }


def _error(error: BigModelError) -> dict[str, Any]:
    return {"key": error.key, "params": to_json(error.params)}


def _message(warning: Any) -> dict[str, Any]:
    return {
        "key": warning.key,
        "params": to_json(dict(warning.params)),
    }
