"""The state of a training run beyond its weights: what a resumed run must get back.

`latest.keras` contains the weights and the optimizer state. A run continues exactly as
if it had never stopped only if it also gets back two things that Keras does not save
with a model: the seed states of random layers such as dropout, and the counters, best
values and best weights of callbacks such as early stopping and learning-rate reduction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import keras
import numpy as np

from bigmodel.checkpoints import ResumePoint

NUMBER_ATTRIBUTES: dict[type, tuple[str, ...]] = {
    keras.callbacks.EarlyStopping: ("wait", "stopped_epoch", "best", "best_epoch"),
    keras.callbacks.ReduceLROnPlateau: ("wait", "best", "cooldown_counter"),
}
"""Attributes of Keras 3 callbacks that their `on_train_begin` resets, per class.

Classes of this project that keep state list theirs in a `STATE_ATTRIBUTES` tuple.
"""

ARRAY_ATTRIBUTES: dict[type, tuple[str, ...]] = {
    keras.callbacks.EarlyStopping: ("best_weights",),
}
"""Attributes that are lists of arrays (or None), saved in the resume point's array file."""

SEED_PREFIX = "seed."


def _number_attributes(callback: keras.callbacks.Callback) -> tuple[str, ...]:
    names: tuple[str, ...] = getattr(callback, "STATE_ATTRIBUTES", ())
    return names + _attributes_of(callback, NUMBER_ATTRIBUTES)


def _attributes_of(
    callback: keras.callbacks.Callback, table: Mapping[type, tuple[str, ...]]
) -> tuple[str, ...]:
    names: tuple[str, ...] = ()
    for kind, attributes in table.items():
        if isinstance(callback, kind):
            names += attributes
    return names


def _plain(value: Any) -> int | float | None:
    if value is None:
        return None
    if isinstance(value, int | np.integer):
        return int(value)
    return float(value)


def capture(
    model: keras.Model, stateful: Mapping[str, keras.callbacks.Callback]
) -> tuple[dict[str, dict[str, Any]], dict[str, np.ndarray]]:
    """Return the callbacks' numbers and the arrays (seed states, callback arrays) to save.

    Args:
        model: The model in training.
        stateful: The callbacks whose state a resumed run needs, by a stable name.

    Returns:
        The numbers per callback name, for the resume point's JSON, and the arrays by
        key, for its array file. A list attribute that is None is recorded as None.
    """
    numbers: dict[str, dict[str, Any]] = {}
    arrays: dict[str, np.ndarray] = {}
    for index, state in enumerate(seed_states(model)):
        arrays[f"{SEED_PREFIX}{index}"] = keras.ops.convert_to_numpy(state)

    for name, callback in stateful.items():
        values = {attr: _plain(getattr(callback, attr)) for attr in _number_attributes(callback)}
        for attr in _attributes_of(callback, ARRAY_ATTRIBUTES):
            listed = getattr(callback, attr)
            values[attr] = None if listed is None else len(listed)
            for index, array in enumerate(listed or ()):
                arrays[f"{name}.{attr}.{index}"] = np.asarray(array)
        numbers[name] = values
    return numbers, arrays


def restore_callbacks(
    stateful: Mapping[str, keras.callbacks.Callback],
    point: ResumePoint,
    arrays: Mapping[str, np.ndarray],
) -> None:
    """Set the callbacks' state from `point`. Call after their `on_train_begin` reset it."""
    for name, callback in stateful.items():
        values = point.callbacks.get(name, {})
        for attr in _number_attributes(callback):
            if attr in values:
                setattr(callback, attr, values[attr])
        for attr in _attributes_of(callback, ARRAY_ATTRIBUTES):
            count = values.get(attr)
            listed = None if count is None else [arrays[f"{name}.{attr}.{i}"] for i in range(count)]
            setattr(callback, attr, listed)


def restore_model(model: keras.Model, point: ResumePoint, arrays: Mapping[str, np.ndarray]) -> None:
    """Load the weights, optimizer state and seed states of `point` into a compiled `model`.

    `model` must be built the way the checkpointed one was (same family, settings and
    seed), so that its variables match the saved ones one to one. Call it inside the
    distribution strategy's scope, because it creates the optimizer's variables.
    """
    model.optimizer.build(model.trainable_variables)
    model.load_weights(point.model_path)
    states = seed_states(model)
    for index, state in enumerate(states):
        state.assign(arrays[f"{SEED_PREFIX}{index}"])


def seed_states(model: keras.Model) -> list[Any]:
    """Return the seed generator states of the model's random layers, in layer order.

    `model.variables` lists the weights and these states, `model.weights` only the former.
    """
    weights = {id(weight) for weight in model.weights}
    return [variable for variable in model.variables if id(variable) not in weights]
