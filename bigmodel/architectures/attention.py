"""A Transformer encoder for sequence classification, regression and forecasting.

Each step's features are projected to `embed_dim` values and given position
information. Encoder blocks then apply multi-head self-attention and a feed-forward
network, each with layer normalisation before it and a residual connection around it
(the pre-norm arrangement, which trains more steadily on small data than the original
post-norm one). Global average pooling over the real steps feeds the output layer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from bigmodel.architectures import Family, register
from bigmodel.settings import setting


@dataclasses.dataclass(frozen=True)
class AttentionSettings:
    """Hyperparameters of the attention family."""

    # The defaults are small on purpose. On GunPoint's 40 training series an encoder of
    # 2 blocks of 64 values overfitted: test accuracy 0.77 against 0.96 for these
    # defaults, measured with bench/sequence_accuracy.py on a 2-core CPU.
    encoder_blocks: int = setting(1, minimum=1, maximum=8, step=1)
    embed_dim: int = setting(32, minimum=8, maximum=512, step=8)
    """Values per step inside the encoder; must be a multiple of `num_heads`."""
    num_heads: int = setting(4, choices=(1, 2, 4, 8))
    ff_dim: int = setting(64, minimum=8, maximum=2048, step=8)
    """Hidden units of the feed-forward network in each block."""
    positions: str = setting("sinusoidal", choices=("learned", "sinusoidal"))
    dropout: float = setting(0.1, minimum=0.0, maximum=0.9, step=0.05)
    noise: float = setting(0.0, minimum=0.0, maximum=1.0, step=0.05)
    """Gaussian noise added to training sequences, as a share of each feature's std."""
    scaling: float = setting(0.0, minimum=0.0, maximum=0.5, step=0.05)
    """Largest random change of a training sequence's amplitude, as a share."""
    time_shift: float = setting(0.0, minimum=0.0, maximum=0.5, step=0.05)
    """Largest random shift of a training sequence in time, as a share of its length."""


PRESETS: Mapping[str, Mapping[str, Mapping[str, Any]]] = {
    "fast": {
        "model": {},
        "training": {"epochs": 80, "batch_size": 16, "patience": 20},
    },
    "balanced": {
        "model": {},
        "training": {"epochs": 300, "batch_size": 16, "patience": 60},
    },
    "accurate": {
        "model": {"encoder_blocks": 2, "embed_dim": 64, "ff_dim": 128},
        "training": {"epochs": 500, "batch_size": 16, "patience": 100, "learning_rate": 0.0005},
    },
}


def build_attention(
    settings: AttentionSettings, input_spec: Mapping[str, Any], num_outputs: int
) -> Any:
    """Build an uncompiled Transformer encoder with the Functional API.

    Args:
        settings: The family's hyperparameters.
        input_spec: `length`, `features`, `feature_mean`, `feature_std` and `task` of
            the dataset, as the training preparer resolves them.
        num_outputs: Classes, or values for regression and forecasts.

    Returns:
        A `keras.Model` mapping `(batch, length, features)` float32, NaN-padded, to
        probabilities or standardised values `(batch, num_outputs)`.

    Raises:
        SettingsError: `embed_dim` is not a multiple of `num_heads`.
    """
    # NOTE: Keras is imported here, not at the top, so the web server can read the
    # settings of this family without loading TensorFlow.
    import keras

    from bigmodel import layers as studio_layers
    from bigmodel.errors import SettingsError

    if settings.embed_dim % settings.num_heads:
        raise SettingsError(
            "sequences.heads_not_divisor", embed_dim=settings.embed_dim, heads=settings.num_heads
        )

    inputs = studio_layers.sequence_input(input_spec)
    augmented = studio_layers.sequence_augmentation(
        inputs, input_spec, settings.noise, settings.scaling, settings.time_shift
    )
    x = studio_layers.SequenceNormalization(
        input_spec["feature_mean"], input_spec["feature_std"], name="normalize"
    )(augmented)
    x = keras.layers.Dense(settings.embed_dim, name="embed")(x)
    x = studio_layers.PositionEmbedding(input_spec["length"], settings.positions, name="positions")(
        x
    )
    x = keras.layers.Dropout(settings.dropout, name="embed_dropout")(x)

    for block in range(settings.encoder_blocks):
        x = _encoder_block(x, settings, f"block{block}")

    x = keras.layers.LayerNormalization(epsilon=1e-6, name="final_norm")(x)
    x = keras.layers.GlobalAveragePooling1D(name="pool")(x)
    x = keras.layers.Dropout(settings.dropout, name="dropout")(x)
    outputs = studio_layers.sequence_output(x, num_outputs, input_spec["task"])
    return keras.Model(inputs, outputs, name="attention")


def _encoder_block(x: Any, settings: AttentionSettings, name: str) -> Any:
    """Return `x` after self-attention and a feed-forward network, each with a residual."""
    import keras

    normed = keras.layers.LayerNormalization(epsilon=1e-6, name=f"{name}_attention_norm")(x)
    attended = keras.layers.MultiHeadAttention(
        num_heads=settings.num_heads,
        key_dim=settings.embed_dim // settings.num_heads,
        dropout=settings.dropout,
        name=f"{name}_attention",
    )(normed, normed)
    attended = keras.layers.Dropout(settings.dropout, name=f"{name}_attention_dropout")(attended)
    x = keras.layers.Add(name=f"{name}_attention_residual")([x, attended])

    normed = keras.layers.LayerNormalization(epsilon=1e-6, name=f"{name}_ff_norm")(x)
    hidden = keras.layers.Dense(settings.ff_dim, activation="gelu", name=f"{name}_ff_hidden")(
        normed
    )
    hidden = keras.layers.Dense(settings.embed_dim, name=f"{name}_ff_output")(hidden)
    hidden = keras.layers.Dropout(settings.dropout, name=f"{name}_ff_dropout")(hidden)
    return keras.layers.Add(name=f"{name}_ff_residual")([x, hidden])


register(
    Family(
        name="attention",
        data_kind="sequence",
        settings_class=AttentionSettings,
        build=build_attention,
        presets=PRESETS,
    )
)
