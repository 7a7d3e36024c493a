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
from bigmodel.imaging import DecodedImage, decode_image
from bigmodel.store import to_json

logger = logging.getLogger(__name__)


class Predictor:
    """A loaded model with its class names and input spec."""

    def __init__(self, model_path: Path) -> None:
        self.model, self.meta = saved_models.load_model(model_path)
        self.class_names: list[str] = list(self.meta["class_names"])

    def probabilities(self, pixels: np.ndarray) -> np.ndarray:
        """Return class probabilities `(num_classes,)` for one RGB image `(height, width, 3)`."""
        return self.batch_probabilities(pixels[np.newaxis])[0]

    def batch_probabilities(self, pixels: np.ndarray) -> np.ndarray:
        """Return class probabilities `(images, num_classes)` for RGB images of one size.

        `pixels` has shape `(images, height, width, 3)`.
        """
        # `predict_on_batch` runs the compiled predict function. A direct call of the
        # model runs eagerly, layer by layer, and took 4-5 times as long on the digits
        # CNN (2 cores, TensorFlow 2.21).
        return np.asarray(self.model.predict_on_batch(pixels.astype(np.float32)))

    def predict_images(
        self, images: Sequence[tuple[str, bytes]], top_k: int = 3
    ) -> list[dict[str, Any]]:
        """Return, for each `(name, bytes)`, its top `top_k` classes or the reason it failed.

        Each result is a plain dict: `name`, `top` as `[[class, probability], ...]`
        sorted by probability, `warnings`, and `error` (`{"key", "params"}`) for an
        image that could not be read. Images of one size go through the model in one
        call. Images of different sizes cannot share a batch, because the resizing
        layer is inside the model, so each size gets a call of its own.
        """
        results: list[dict[str, Any]] = []
        by_size: dict[tuple[int, ...], list[tuple[int, DecodedImage]]] = {}
        for index, (name, data) in enumerate(images):
            try:
                decoded = decode_image(data, name)
            except BigModelError as error:
                logger.info("Prediction input %s rejected: %s", name, error)
                results.append({"name": name, "top": [], "warnings": [], "error": _error(error)})
                continue
            results.append({"name": name, "warnings": [_message(w) for w in decoded.warnings]})
            by_size.setdefault(decoded.pixels.shape, []).append((index, decoded))

        for group in by_size.values():
            probabilities = self.batch_probabilities(np.stack([image.pixels for _, image in group]))
            for (index, _), row in zip(group, probabilities, strict=True):
                results[index]["top"] = self._top(row, top_k)
                results[index]["error"] = None
        return results

    def _top(self, probabilities: np.ndarray, top_k: int) -> list[list[Any]]:
        order = np.argsort(probabilities)[::-1][:top_k]
        return [[self.class_names[i], float(probabilities[i])] for i in order]


def _error(error: BigModelError) -> dict[str, Any]:
    return {"key": error.key, "params": to_json(error.params)}


def _message(warning: Any) -> dict[str, Any]:
    return {
        "key": warning.key,
        "params": to_json(dict(warning.params)),
    }
