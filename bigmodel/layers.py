"""Keras layers that make preprocessing part of every saved model.

Images are resized, scaled and converted to greyscale inside the model. Sequences are
standardised with statistics of the training split, padded steps are masked, and
regression outputs are mapped back to the targets' units.

Importing this module registers the custom layers, so it must be imported before a
saved model is loaded.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import keras
import numpy as np
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


@keras.saving.register_keras_serializable(package="bigmodel")
class SequenceNormalization(keras.layers.Layer):
    """Standardise sequence features with training statistics, and mask padded steps.

    Padded steps are NaN in every feature. They become 0 and, unless `mask_padding` is
    False, are masked, so that recurrent, attention and pooling layers skip them. A
    NaN inside a real step becomes 0, the feature's mean.

    Args:
        mean: Mean of each feature over the steps of the training examples.
        std: Standard deviation of each feature; a 0 is replaced by 1.
        mask_padding: Whether to attach a mask `(batch, steps)` to the output.
            Defaults to True.

    Input shape: `(batch, steps, features)`. Output shape: the same.
    """

    def __init__(
        self,
        mean: list[float],
        std: list[float],
        mask_padding: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.mean = [float(value) for value in mean]
        self.std = [float(value) if value > 0 else 1.0 for value in std]
        self.mask_padding = mask_padding
        self.supports_masking = mask_padding

    def call(self, inputs: Any) -> Any:
        mean = ops.convert_to_tensor(self.mean, dtype=inputs.dtype)
        std = ops.convert_to_tensor(self.std, dtype=inputs.dtype)
        present = ops.where(ops.isfinite(inputs), inputs, mean)
        return (present - mean) / std

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        if not self.mask_padding:
            return None
        return padding_mask(inputs)

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "mean": self.mean,
            "std": self.std,
            "mask_padding": self.mask_padding,
        }


def padding_mask(inputs: Any) -> Any:
    """Return True for each step `(batch, steps)` that has at least one finite feature."""
    return ops.any(ops.isfinite(inputs), axis=-1)


@keras.saving.register_keras_serializable(package="bigmodel")
class PaddingMask(keras.layers.Layer):
    """Return the mask of real steps of a NaN-padded batch, for layers that take `mask=`.

    Input shape: `(batch, steps, features)`. Output shape: `(batch, steps)`, bool.
    """

    def call(self, inputs: Any) -> Any:
        return padding_mask(inputs)


@keras.saving.register_keras_serializable(package="bigmodel")
class ZeroMaskedSteps(keras.layers.Layer):
    """Set the masked steps of a sequence to 0, so convolutions do not spread padding.

    Call it as `layer(inputs, step_mask)` with inputs `(batch, steps, channels)` and the
    mask `(batch, steps)` of `PaddingMask`. A Keras mask attached to `inputs` ends here,
    because the convolutions that follow cannot use it.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs: Any, step_mask: Any) -> Any:
        return inputs * ops.expand_dims(ops.cast(step_mask, inputs.dtype), -1)

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        return None


@keras.saving.register_keras_serializable(package="bigmodel")
class PositionEmbedding(keras.layers.Layer):
    """Add position information to a sequence of vectors, as a Transformer needs it.

    `learned` adds a trained vector per position. `sinusoidal` adds the fixed sines and
    cosines of "Attention Is All You Need" (Vaswani et al. 2017): position `p` gets
    `sin(p / 10000^(2i / dim))` in feature `2i` and the cosine in feature `2i + 1`.

    Args:
        length: Number of steps of every input.
        kind: `learned` or `sinusoidal`.

    Input shape: `(batch, length, dim)`. Output shape: the same; the mask passes through.
    """

    def __init__(self, length: int, kind: str = "learned", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if kind not in ("learned", "sinusoidal"):
            raise ValueError(f"Expected kind 'learned' or 'sinusoidal'. Received: kind={kind}")
        self.length = length
        self.kind = kind
        self.supports_masking = True

    def build(self, input_shape: tuple[Any, ...]) -> None:
        dim = int(input_shape[-1])
        if self.kind == "learned":
            self.positions = self.add_weight(
                shape=(self.length, dim), initializer="glorot_uniform", name="positions"
            )
        else:
            self.positions = ops.convert_to_tensor(sinusoidal_positions(self.length, dim))

    def call(self, inputs: Any) -> Any:
        return inputs + ops.cast(self.positions, inputs.dtype)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "length": self.length, "kind": self.kind}


def sinusoidal_positions(length: int, dim: int) -> np.ndarray:
    """Return the sinusoidal position table `(length, dim)`, float32."""
    positions = np.arange(length, dtype=np.float64)[:, np.newaxis]
    pair = np.arange(dim) // 2
    angles = positions / np.power(10000.0, 2 * pair / dim)
    table = np.where(np.arange(dim) % 2 == 0, np.sin(angles), np.cos(angles))
    return table.astype(np.float32)


@keras.saving.register_keras_serializable(package="bigmodel")
class TargetScaling(keras.layers.Layer):
    """Map standardised predictions back to the targets' units: `outputs * std + mean`.

    Args:
        mean: Mean of each output over the training examples.
        std: Standard deviation of each output; a 0 is replaced by 1.

    Input shape: `(batch, outputs)`. Output shape: the same.
    """

    def __init__(self, mean: list[float], std: list[float], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mean = [float(value) for value in mean]
        self.std = [float(value) if value > 0 else 1.0 for value in std]

    def call(self, inputs: Any) -> Any:
        mean = ops.convert_to_tensor(self.mean, dtype=inputs.dtype)
        std = ops.convert_to_tensor(self.std, dtype=inputs.dtype)
        return inputs * std + mean

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "mean": self.mean, "std": self.std}


def sequence_input(input_spec: Mapping[str, Any]) -> Any:
    """Return the model input `(batch, length, features)`, float32 with NaN padding."""
    return keras.Input(shape=(input_spec["length"], input_spec["features"]), name="sequence")


def sequence_output(x: Any, num_outputs: int, task: str) -> Any:
    """Return the output layer: softmax probabilities for classification, else linear values.

    Regression and forecast outputs are standardised targets; training wraps the model
    in `TargetScaling` before saving it, so saved models predict in the targets' units.
    """
    if task == "classification":
        return keras.layers.Dense(num_outputs, activation="softmax", name="probabilities")(x)
    return keras.layers.Dense(num_outputs, name="values")(x)
