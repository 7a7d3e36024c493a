"""Keras layers that make preprocessing and augmentation part of every saved model.

Images are resized, scaled and converted to greyscale inside the model. Sequences are
standardised with statistics of the training split, padded steps are masked, and
regression outputs are mapped back to the targets' units. Augmentation layers change
images and sequences at random in training only.

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


def image_preprocessing(
    inputs: Any,
    size: int,
    color_mode: str,
    augmentation: Mapping[str, Any] | None = None,
) -> Any:
    """Resize to `size` x `size`, augment, scale 0-255 to 0-1 and convert colour, inside the model.

    Args:
        inputs: Symbolic RGB batch `(batch, height, width, 3)`, values 0-255, any size.
        size: Side of the square that images are resized to.
        color_mode: `rgb` keeps three channels; `grayscale` converts to one.
        augmentation: `flip`, `rotation`, `zoom` and `contrast`, as `image_augmentation`
            takes them. Defaults to no augmentation.
    """
    x = resizing_layer(size)(inputs)
    x = image_augmentation(x, **(augmentation or {}))
    x = keras.layers.Rescaling(1.0 / 255, name="rescale")(x)
    if color_mode == "grayscale":
        x = RGBToGrayscale(name="grayscale")(x)
    return x


def image_augmentation(
    x: Any, flip: str = "none", rotation: float = 0, zoom: float = 0.0, contrast: float = 0.0
) -> Any:
    """Add Keras' random image layers for each augmentation that is switched on.

    The layers change images only in training. In `predict` and `evaluate` they pass
    images through unchanged, so a saved model predicts as if they were absent.

    Args:
        x: Symbolic batch `(batch, size, size, 3)`, values 0-255.
        flip: `none`, `horizontal`, `vertical` or `horizontal_and_vertical`.
        rotation: Largest rotation either way, in degrees.
        zoom: Largest zoom in or out, as a share of the image side.
        contrast: Largest change of contrast, as a share (0.2 means 0.8x to 1.2x).
    """
    if flip != "none":
        x = keras.layers.RandomFlip(flip, name="augment_flip")(x)
    if rotation > 0:
        # RandomRotation takes a share of a full turn.
        x = keras.layers.RandomRotation(rotation / 360, name="augment_rotation")(x)
    if zoom > 0:
        x = keras.layers.RandomZoom((-zoom, zoom), name="augment_zoom")(x)
    if contrast > 0:
        x = keras.layers.RandomContrast(contrast, value_range=(0, 255), name="augment_contrast")(x)
    return x


class _RandomSequenceLayer(keras.layers.Layer):
    """Base of the sequence augmentation layers: random in training, the identity otherwise.

    Padded steps are NaN in every feature. Noise and scaling keep them NaN, and a time
    shift moves them along with the rest of their sequence.
    """

    def __init__(self, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs: Any, training: bool | None = None) -> Any:
        if not training:
            return inputs
        return self.augment(inputs)

    def augment(self, inputs: Any) -> Any:
        raise NotImplementedError

    def compute_output_shape(self, input_shape: tuple[Any, ...]) -> tuple[Any, ...]:
        return input_shape

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "seed": self.seed}


@keras.saving.register_keras_serializable(package="bigmodel")
class RandomNoise(_RandomSequenceLayer):
    """Add Gaussian noise with a standard deviation per feature, in training only.

    Keras' `GaussianNoise` takes one standard deviation for every feature, but the
    features of a raw sequence have their own units, so this layer takes one each.

    Args:
        stddev: Standard deviation of the noise of each feature, in its units.

    Input shape: `(batch, steps, features)`. Output shape: the same.
    """

    def __init__(self, stddev: list[float], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.stddev = [float(value) for value in stddev]

    def augment(self, inputs: Any) -> Any:
        stddev = ops.convert_to_tensor(self.stddev, dtype=inputs.dtype)
        noise = keras.random.normal(ops.shape(inputs), dtype=inputs.dtype, seed=self.seed_generator)
        return inputs + noise * stddev

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "stddev": self.stddev}


@keras.saving.register_keras_serializable(package="bigmodel")
class RandomScaling(_RandomSequenceLayer):
    """Stretch each training sequence around the feature means by a random factor.

    Each sequence gets one scale `s` drawn uniformly from `[1 - factor, 1 + factor]`,
    and every value `v` of feature `f` becomes `center[f] + (v - center[f]) * s`.

    Args:
        factor: Largest change of amplitude, as a share.
        center: Value of each feature that stays in place, usually its mean.

    Input shape: `(batch, steps, features)`. Output shape: the same.
    """

    def __init__(self, factor: float, center: list[float], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.factor = float(factor)
        self.center = [float(value) for value in center]

    def augment(self, inputs: Any) -> Any:
        center = ops.convert_to_tensor(self.center, dtype=inputs.dtype)
        scale = keras.random.uniform(
            (ops.shape(inputs)[0], 1, 1),
            minval=1 - self.factor,
            maxval=1 + self.factor,
            dtype=inputs.dtype,
            seed=self.seed_generator,
        )
        return center + (inputs - center) * scale

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "factor": self.factor, "center": self.center}


@keras.saving.register_keras_serializable(package="bigmodel")
class RandomTimeShift(_RandomSequenceLayer):
    """Shift each training sequence in time by a random number of steps.

    A shift of `k` steps moves step `i` to step `i + k`. Steps that move past either
    end are dropped, and the steps they leave empty become padding (NaN), which the
    models mask. No step wraps around, so no false jump appears between the ends.

    Args:
        max_steps: Largest shift either way, in steps.

    Input shape: `(batch, steps, features)`. Output shape: the same.
    """

    def __init__(self, max_steps: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_steps = int(max_steps)

    def augment(self, inputs: Any) -> Any:
        shape = ops.shape(inputs)
        shift = keras.random.randint(
            (shape[0], 1), -self.max_steps, self.max_steps + 1, seed=self.seed_generator
        )
        source = ops.expand_dims(ops.arange(shape[1]), 0) - shift
        inside = ops.logical_and(source >= 0, source < shape[1])
        indices = ops.broadcast_to(ops.expand_dims(ops.clip(source, 0, shape[1] - 1), -1), shape)
        shifted = ops.take_along_axis(inputs, indices, axis=1)
        padding = ops.full_like(inputs, float("nan"))
        return ops.where(ops.expand_dims(inside, -1), shifted, padding)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "max_steps": self.max_steps}


def sequence_augmentation(
    inputs: Any,
    input_spec: Mapping[str, Any],
    noise: float = 0.0,
    scaling: float = 0.0,
    time_shift: float = 0.0,
) -> Any:
    """Add the random sequence layers for each augmentation that is switched on.

    The layers work on the raw, NaN-padded inputs, before standardisation, and change
    sequences only in training.

    Args:
        inputs: Symbolic batch `(batch, length, features)`.
        input_spec: `length`, `feature_mean` and `feature_std` of the training split.
        noise: Standard deviation of the noise, as a share of each feature's.
        scaling: Largest change of amplitude around the feature means, as a share.
        time_shift: Largest shift either way, as a share of the sequence length.
    """
    # NOTE: the targets stay as they are. Scaling and shifts therefore suit
    # classification, but they misalign regression and forecast targets.
    x = inputs
    max_steps = round(time_shift * input_spec["length"])
    if max_steps > 0:
        x = RandomTimeShift(max_steps, name="augment_time_shift")(x)
    if scaling > 0:
        x = RandomScaling(scaling, input_spec["feature_mean"], name="augment_scaling")(x)
    if noise > 0:
        stddev = [noise * (std if std > 0 else 1.0) for std in input_spec["feature_std"]]
        x = RandomNoise(stddev, name="augment_noise")(x)
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
