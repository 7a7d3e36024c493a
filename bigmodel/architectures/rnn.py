"""Recurrent networks (LSTM or GRU) for sequence classification, regression and forecasting.

Stacked recurrent layers read the standardised sequence step by step; the last layer
returns its final state, which a dense layer maps to the outputs. Padded steps are
masked, so a short sequence ends where its data ends.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from bigmodel.architectures import Family, register
from bigmodel.settings import setting


@dataclasses.dataclass(frozen=True)
class RNNSettings:
    """Hyperparameters of the RNN family."""

    cell: str = setting("gru", choices=("lstm", "gru"))
    """Recurrent cell: `lstm` or `gru`, which has fewer weights and trains faster."""
    recurrent_layers: int = setting(1, minimum=1, maximum=4, step=1)
    units: int = setting(64, minimum=4, maximum=512, step=4)
    """Size of the state of each recurrent layer, per direction."""
    bidirectional: bool = setting(True)
    """Read each sequence forwards and backwards as well, at twice the cost per epoch."""
    dropout: float = setting(0.2, minimum=0.0, maximum=0.9, step=0.05)
    noise: float = setting(0.0, minimum=0.0, maximum=1.0, step=0.05)
    """Gaussian noise added to training sequences, as a share of each feature's std."""
    scaling: float = setting(0.0, minimum=0.0, maximum=0.5, step=0.05)
    """Largest random change of a training sequence's amplitude, as a share."""
    time_shift: float = setting(0.0, minimum=0.0, maximum=0.5, step=0.05)
    """Largest random shift of a training sequence in time, as a share of its length."""


# Recurrent networks learn slowly on a few dozen long sequences, so the presets allow
# many epochs and a long patience, and early stopping ends most runs well before.
PRESETS: Mapping[str, Mapping[str, Mapping[str, Any]]] = {
    "fast": {
        "model": {"units": 32},
        "training": {"epochs": 60, "batch_size": 16, "patience": 15, "learning_rate": 0.003},
    },
    "balanced": {
        "model": {},
        "training": {"epochs": 400, "batch_size": 16, "patience": 60, "learning_rate": 0.003},
    },
    "accurate": {
        "model": {"recurrent_layers": 2, "units": 128},
        "training": {"epochs": 600, "batch_size": 16, "patience": 100, "learning_rate": 0.001},
    },
}


def build_rnn(settings: RNNSettings, input_spec: Mapping[str, Any], num_outputs: int) -> Any:
    """Build an uncompiled recurrent network.

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
    x = studio_layers.SequenceNormalization(
        input_spec["feature_mean"], input_spec["feature_std"], name="normalize"
    )(augmented)

    cell_class = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU}[settings.cell]
    for index in range(settings.recurrent_layers):
        last = index == settings.recurrent_layers - 1
        layer = cell_class(
            settings.units, return_sequences=not last, name=f"{settings.cell}{index}"
        )
        if settings.bidirectional:
            layer = keras.layers.Bidirectional(layer, name=f"bidirectional{index}")
        x = layer(x)
        x = keras.layers.Dropout(settings.dropout, name=f"dropout{index}")(x)

    outputs = studio_layers.sequence_output(x, num_outputs, input_spec["task"])
    return keras.Model(inputs, outputs, name="rnn")


register(
    Family(
        name="rnn",
        data_kind="sequence",
        settings_class=RNNSettings,
        build=build_rnn,
        presets=PRESETS,
    )
)
