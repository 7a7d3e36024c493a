"""Keras layers that make preprocessing part of every saved model.

Importing this module registers the custom layers, so it must be imported before a
saved model is loaded.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

# ITU-R BT.601 luma weights, the rule Pillow's `convert("L")` uses too.
_LUMA = (0.299, 0.587, 0.114)


@keras.saving.register_keras_serializable(package="bigmodel")
class RGBToGrayscale(keras.layers.Layer):
    """Convert RGB images to one luma channel.

    Input shape: `(batch, height, width, 3)`. Output shape: `(batch, height, width, 1)`.
    """

    def call(self, inputs: Any) -> Any:
        weights = ops.convert_to_tensor(_LUMA, dtype=inputs.dtype)
        return ops.sum(inputs * weights, axis=-1, keepdims=True)

    def compute_output_shape(self, input_shape: tuple[Any, ...]) -> tuple[Any, ...]:
        return (*input_shape[:-1], 1)


def resizing_layer(size: int) -> keras.layers.Layer:
    """Return the resizing step that the model and its input pipeline share."""
    return keras.layers.Resizing(
        size, size, interpolation="bilinear", antialias=True, name="resize"
    )


def image_preprocessing(inputs: Any, size: int, color_mode: str) -> Any:
    """Resize to `size` x `size`, scale 0-255 to 0-1 and convert colour, inside the model.

    Args:
        inputs: Symbolic RGB batch `(batch, height, width, 3)`, values 0-255, any size.
        size: Side of the square that images are resized to.
        color_mode: `rgb` keeps three channels; `grayscale` converts to one.
    """
    x = resizing_layer(size)(inputs)
    x = keras.layers.Rescaling(1.0 / 255, name="rescale")(x)
    if color_mode == "grayscale":
        x = RGBToGrayscale(name="grayscale")(x)
    return x
