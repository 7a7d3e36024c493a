"""Fully convolutional networks (FCN) for sequence classification, regression and forecasting.

The FCN baseline of Wang, Yan and Oates (2017), "Time series classification from
scratch with deep neural networks": blocks of a 1-D convolution, batch normalisation
and ReLU, then global average pooling over time. The defaults, kernels of 8, 5 and 3
steps with 128, 256 and 128 filters, are those of the reference implementation in
hfawaz/dl-4-tsc (classifiers/fcn.py) and of aeon's FCNNetwork. There is no pooling
between blocks, so every step keeps its own features until the end. Padded steps are
left out of the batch statistics and of the pooling, and are reset to 0 after every
block.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from bigmodel.architectures import Family, register
from bigmodel.settings import setting


@dataclasses.dataclass(frozen=True)
class CNN1DSettings:
    """Hyperparameters of the 1-D CNN family."""

    conv_layers: int = setting(3, minimum=1, maximum=6, step=1)
    conv_filters: int = setting(128, minimum=4, maximum=512, step=4)
    """Filters of the first and last convolution; the ones between have twice as many."""
    kernel_length: int = setting(8, minimum=3, maximum=15, step=1)
    """Steps the first convolution covers; each next one covers 3 fewer, down to 3."""
    dropout: float = setting(0.0, minimum=0.0, maximum=0.9, step=0.05)
    noise: float = setting(0.0, minimum=0.0, maximum=1.0, step=0.05)
    """Gaussian noise added to training sequences, as a share of each feature's std."""
    scaling: float = setting(0.0, minimum=0.0, maximum=0.5, step=0.05)
    """Largest random change of a training sequence's amplitude, as a share."""
    time_shift: float = setting(0.0, minimum=0.0, maximum=0.5, step=0.05)
    """Largest random shift of a training sequence in time, as a share of its length."""


PRESETS: Mapping[str, Mapping[str, Mapping[str, Any]]] = {
    "fast": {
        "model": {"conv_filters": 32},
        "training": {"epochs": 40, "batch_size": 16, "patience": 10},
    },
    "balanced": {
        "model": {},
        "training": {"epochs": 150, "batch_size": 16, "patience": 30},
    },
    "accurate": {
        "model": {"conv_layers": 4, "dropout": 0.2},
        "training": {"epochs": 400, "batch_size": 16, "patience": 60},
    },
}


def layer_plan(settings: CNN1DSettings) -> list[tuple[int, int]]:
    """Return `(filters, kernel length)` of each convolution: 128/8, 256/5, 128/3 by default."""
    plan = []
    for index in range(settings.conv_layers):
        inner = 0 < index < settings.conv_layers - 1
        filters = settings.conv_filters * (2 if inner else 1)
        plan.append((filters, max(3, settings.kernel_length - 3 * index)))
    return plan


def build_cnn1d(settings: CNN1DSettings, input_spec: Mapping[str, Any], num_outputs: int) -> Any:
    """Build an uncompiled fully convolutional network.

    Args:
        settings: The family's hyperparameters.
        input_spec: `length`, `features`, `feature_mean`, `feature_std` and `task` of
            the dataset, as the training preparer resolves them.
        num_outputs: Classes, or values for regression and forecasts.

    Returns:
        A `keras.Model` mapping `(batch, length, features)` float32, NaN-padded, to
        probabilities or standardised values `(batch, num_outputs)`.
    """
    # NOTE: Keras is imported here, not at the top, so the web server can read the
    # settings of this family without loading TensorFlow.
    import keras

    from bigmodel import layers as studio_layers

    inputs = studio_layers.sequence_input(input_spec)
    augmented = studio_layers.sequence_augmentation(
        inputs, input_spec, settings.noise, settings.scaling, settings.time_shift
    )
    mask = studio_layers.PaddingMask(name="padding_mask")(augmented)
    x = studio_layers.SequenceNormalization(
        input_spec["feature_mean"], input_spec["feature_std"], mask_padding=False, name="normalize"
    )(augmented)

    for index, (filters, kernel) in enumerate(layer_plan(settings)):
        x = keras.layers.Conv1D(filters, kernel, padding="same", name=f"conv{index}")(x)
        # Momentum 0.9 instead of Keras' 0.99, so the moving statistics settle within
        # the few dozen steps that small datasets give.
        x = keras.layers.BatchNormalization(momentum=0.9, name=f"norm{index}")(x, mask=mask)
        x = keras.layers.Activation("relu", name=f"relu{index}")(x)
        x = studio_layers.ZeroMaskedSteps(name=f"zero_padding{index}")(x, mask)

    x = keras.layers.GlobalAveragePooling1D(name="pool")(x, mask=mask)
    x = keras.layers.Dropout(settings.dropout, name="dropout")(x)
    outputs = studio_layers.sequence_output(x, num_outputs, input_spec["task"])
    return keras.Model(inputs, outputs, name="cnn1d")


register(
    Family(
        name="cnn1d",
        data_kind="sequence",
        settings_class=CNN1DSettings,
        build=build_cnn1d,
        presets=PRESETS,
    )
)
