"""The registry of model families.

Each family pairs a frozen settings dataclass with a builder and named presets. The
registry is free of TensorFlow: builders import Keras only when called, so the web
server can draw every form without loading TensorFlow.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from bigmodel.errors import SettingsError

PRESETS = ("fast", "balanced", "accurate")
DEFAULT_PRESET = "balanced"


@dataclasses.dataclass(frozen=True)
class Family:
    """A model family: its settings class, its builder and its presets.

    `build(settings, input_spec, num_outputs)` returns an uncompiled Keras model whose
    first layers do all preprocessing. `num_outputs` is the number of classes, or of
    predicted values for regression and forecasts. `presets` maps each name of `PRESETS` to the
    changes it makes to the family's defaults and to the training defaults.
    """

    name: str
    data_kind: str
    settings_class: type[Any]
    build: Callable[[Any, Mapping[str, Any], int], Any]
    presets: Mapping[str, Mapping[str, Mapping[str, Any]]]


_REGISTRY: dict[str, Family] = {}


def register(family: Family) -> Family:
    _REGISTRY[family.name] = family
    return family


def get_family(name: str) -> Family:
    _load_builtin_families()
    if name not in _REGISTRY:
        raise SettingsError("errors.family_unknown", name=name, known=", ".join(_REGISTRY))
    return _REGISTRY[name]


def families(data_kind: str | None = None) -> list[Family]:
    _load_builtin_families()
    return [f for f in _REGISTRY.values() if data_kind is None or f.data_kind == data_kind]


def _load_builtin_families() -> None:
    # Each module registers its family when imported.
    from bigmodel.architectures import attention, cnn, cnn1d, rnn  # noqa: F401
