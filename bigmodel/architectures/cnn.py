"""Convolutional networks for image classification.

The classic design: blocks of convolution and max pooling, then dense layers and a
softmax. Convolutions use `same` padding and a block pools only while the feature map
is at least 2 pixels wide, so any input size from 8x8 up builds and trains.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from bigmodel.architectures import Family, register
from bigmodel.settings import setting


@dataclasses.dataclass(frozen=True)
class CNNSettings:
    """Hyperparameters of the CNN family."""

    input_size: int = setting(32, minimum=8, maximum=512, step=8)
    """Side in pixels that every image is resized to inside the model."""
    color_mode: str = setting("auto", choices=("auto", "rgb", "grayscale"))
    """`auto` picks greyscale when every image of the dataset was greyscale."""
    conv_blocks: int = setting(2, minimum=1, maximum=6, step=1)
    filters: int = setting(32, minimum=4, maximum=512, step=4)
    """Filters of the first block; each following block doubles them."""
    kernel_size: int = setting(3, choices=(3, 5, 7))
    dense_units: int = setting(128, minimum=0, maximum=4096, step=16)
    """Units of the hidden dense layer; 0 leaves it out."""
    dropout: float = setting(0.3, minimum=0.0, maximum=0.9, step=0.05)
    batch_norm: bool = setting(True)
    flip: str = setting(
        "none", choices=("none", "horizontal", "vertical", "horizontal_and_vertical")
    )
    """Mirror training images at random. Leave it off where mirroring changes the class."""
    rotation: int = setting(0, minimum=0, maximum=180, step=5)
    """Largest random rotation of a training image either way, in degrees."""
    zoom: float = setting(0.0, minimum=0.0, maximum=0.5, step=0.05)
    """Largest random zoom in or out of a training image, as a share of its side."""
    contrast: float = setting(0.0, minimum=0.0, maximum=0.9, step=0.05)
    """Largest random change of contrast of a training image, as a share."""

    @property
    def augmentation(self) -> dict[str, Any]:
        return {
            "flip": self.flip,
            "rotation": self.rotation,
            "zoom": self.zoom,
            "contrast": self.contrast,
        }


PRESETS: Mapping[str, Mapping[str, Mapping[str, Any]]] = {
    "fast": {
        "model": {"input_size": 24, "conv_blocks": 2, "filters": 16, "dense_units": 64},
        "training": {"epochs": 10, "patience": 3},
    },
    "balanced": {"model": {}, "training": {}},
    "accurate": {
        "model": {
            "input_size": 48,
            "conv_blocks": 3,
            "filters": 32,
            "dense_units": 256,
        },
        "training": {"epochs": 40, "patience": 8},
    },
}


def resolve_color_mode(settings: CNNSettings, dataset_summary: Mapping[str, Any]) -> str:
    """Return `rgb` or `grayscale` for `auto`, from the colour modes the dataset had."""
    if settings.color_mode != "auto":
        return settings.color_mode
    grey_modes = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"}
    modes = set(dataset_summary.get("modes", {}))
    return "grayscale" if modes and modes <= grey_modes else "rgb"


def build_cnn(settings: CNNSettings, input_spec: Mapping[str, Any], num_classes: int) -> Any:
    """Build an uncompiled CNN that takes RGB images of any size.

    Args:
        settings: The family's hyperparameters.
        input_spec: `{"color_mode": "rgb" | "grayscale"}` as resolved for the dataset.
        num_classes: Number of output classes.

    Returns:
        A `keras.Model` mapping a float batch `(batch, height, width, 3)` with values
        0-255 to class probabilities `(batch, num_classes)`.
    """
    # NOTE: Keras is imported here, not at the top, so the web server can read the
    # settings of this family without loading TensorFlow.
    import keras

    from bigmodel import layers as studio_layers

    inputs = keras.Input(shape=(None, None, 3), name="image")
    x = studio_layers.image_preprocessing(
        inputs, settings.input_size, input_spec["color_mode"], settings.augmentation
    )

    size = settings.input_size
    for block in range(settings.conv_blocks):
        filters = settings.filters * 2**block
        x = keras.layers.Conv2D(filters, settings.kernel_size, padding="same", name=f"conv{block}")(
            x
        )
        if settings.batch_norm:
            # Momentum 0.9 instead of Keras' 0.99, so the moving statistics settle
            # within the few dozen steps that small datasets give.
            x = keras.layers.BatchNormalization(momentum=0.9, name=f"norm{block}")(x)
        x = keras.layers.Activation("relu", name=f"relu{block}")(x)
        if size >= 2:
            x = keras.layers.MaxPooling2D(2, name=f"pool{block}")(x)
            size //= 2

    x = keras.layers.Flatten(name="flatten")(x)
    if settings.dense_units:
        x = keras.layers.Dropout(settings.dropout, name="dropout_hidden")(x)
        x = keras.layers.Dense(settings.dense_units, activation="relu", name="dense")(x)
    x = keras.layers.Dropout(settings.dropout, name="dropout")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="cnn")


register(
    Family(
        name="cnn",
        data_kind="image",
        settings_class=CNNSettings,
        build=build_cnn,
        presets=PRESETS,
    )
)
