"""Saving and loading trained models with everything needed to use them.

A run's model is two files in the run folder: `model.keras` (Keras format, with the
preprocessing layers inside) and `model.json` (class names, input spec, family,
settings and dataset), so a model can be used without the run store.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import keras

from bigmodel import layers  # noqa: F401  (registers the custom layers for loading)

MODEL_FILE = "model.keras"
META_FILE = "model.json"


def save_model(model: keras.Model, folder: Path, meta: dict[str, Any]) -> Path:
    """Write the model and its metadata into `folder`; return the model path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / MODEL_FILE
    model.save(path)
    (folder / META_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=2), "utf-8")
    return path


def load_model(path: Path) -> tuple[keras.Model, dict[str, Any]]:
    """Load a model saved by `save_model`, given the path of its `model.keras`."""
    model = keras.models.load_model(path, compile=False)
    meta = json.loads((path.parent / META_FILE).read_text("utf-8"))
    return model, meta
