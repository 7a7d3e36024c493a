"""Explanations: Grad-CAM on images and step importance on sequences, on synthetic cases.

Each case is built so that one region decides the class: a bright square in the
top-right corner of an image, or a bump in steps 24-30 of a sequence. A model that
learned the case must be explained by that region.
"""

import keras
import numpy as np
import pytest

from bigmodel import explain, heatmaps
from bigmodel.architectures import get_family
from bigmodel.architectures.cnn import CNNSettings, build_cnn
from bigmodel.errors import BigModelError
from bigmodel.settings import from_dict

SIZE = 24
STEPS = 40
BUMP = slice(24, 31)


def corner_images(count: int, square: bool, rng: np.random.Generator) -> np.ndarray:
    images = rng.integers(0, 60, size=(count, SIZE, SIZE, 3)).astype(np.float32)
    if square:
        images[:, 1:7, 17:23] = 250
    return images


@pytest.fixture(scope="module")
def corner_model():
    rng = np.random.default_rng(0)
    x = np.concatenate([corner_images(40, False, rng), corner_images(40, True, rng)])
    y = np.asarray([0] * 40 + [1] * 40)
    keras.utils.set_random_seed(2)
    settings = CNNSettings(input_size=SIZE, filters=8, dense_units=16, dropout=0.0)
    model = build_cnn(settings, {"color_mode": "rgb"}, 2)
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=8, batch_size=16, verbose=0)
    return model


def bump_sequences(count: int, bump: bool, rng: np.random.Generator) -> np.ndarray:
    x = rng.normal(0.0, 0.3, size=(count, STEPS, 1)).astype(np.float32)
    if bump:
        x[:, BUMP, 0] += 2.0
    return x


def train_bump_model(family_name: str, settings: dict) -> tuple[keras.Model, dict]:
    rng = np.random.default_rng(0)
    x = np.concatenate([bump_sequences(60, False, rng), bump_sequences(60, True, rng)])
    y = np.asarray([0] * 60 + [1] * 60)
    spec = {
        "task": "classification",
        "length": STEPS,
        "features": 1,
        "feature_mean": [float(x.mean())],
        "feature_std": [float(x.std())],
    }
    family = get_family(family_name)
    keras.utils.set_random_seed(1)
    model = family.build(from_dict(family.settings_class, settings), spec, 2)
    model.compile(keras.optimizers.Adam(0.003), "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=15, batch_size=16, verbose=0)
    return model, {"input_spec": spec}


def padded_probe() -> np.ndarray:
    """A sequence with the bump whose last 5 steps are padding."""
    probe = bump_sequences(1, True, np.random.default_rng(5))[0]
    probe[35:] = np.nan
    return probe


def outside_bump(values: np.ndarray) -> np.ndarray:
    return np.concatenate([values[: BUMP.start], values[BUMP.stop :]])


# Images


def test_last_conv_layer_of_cnn(corner_model):
    assert explain.last_conv_layer(corner_model) == "relu1"


def test_model_without_convolution_is_rejected():
    inputs = keras.Input((4, 4, 3))
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Flatten()(inputs)))

    with pytest.raises(BigModelError) as raised:
        explain.last_conv_layer(model)

    assert raised.value.key == "evaluation.no_conv_layer"


def test_grad_cam_points_at_square(corner_model):
    image = corner_images(1, True, np.random.default_rng(9))[0].astype(np.uint8)

    result = explain.grad_cam(corner_model, image, class_index=1)

    heatmap = result.heatmap
    half = heatmap.shape[0] // 2
    assert heatmap.shape == (SIZE // 2, SIZE // 2)
    assert heatmap.max() == pytest.approx(1.0)
    assert heatmap.min() >= 0.0
    row, column = np.unravel_index(heatmap.argmax(), heatmap.shape)
    assert row < half
    assert column >= half
    corner = heatmap[:half, half:].mean()
    rest = np.concatenate([heatmap[half:].ravel(), heatmap[:half, :half].ravel()]).mean()
    assert corner > 3 * rest


def test_grad_cam_explains_predicted_class(corner_model):
    image = corner_images(1, True, np.random.default_rng(9))[0].astype(np.uint8)
    batch = image[np.newaxis].astype(np.float32)
    probabilities = np.asarray(corner_model(batch, training=False))[0]

    result = explain.grad_cam(corner_model, image)

    assert result.class_index == int(np.argmax(probabilities))
    assert result.probability == pytest.approx(float(probabilities.max()), abs=1e-5)


def test_grad_cam_on_other_image_size(corner_model):
    # The model resizes any image, so the grid stays the model's.
    image = np.full((50, 30, 3), 40, dtype=np.uint8)

    result = explain.grad_cam(corner_model, image)

    assert result.heatmap.shape == (SIZE // 2, SIZE // 2)


# Sequences


def test_saliency_points_at_bump():
    model, meta = train_bump_model("cnn1d", {"conv_filters": 8})

    result = explain.explain_sequence(model, meta, padded_probe())

    assert result.output_index == 1
    assert result.saliency.shape == (35,)
    assert result.attention is None
    assert BUMP.start <= int(result.saliency.argmax()) < BUMP.stop
    assert result.saliency[BUMP].mean() > 1.5 * outside_bump(result.saliency).mean()


def test_attention_points_at_bump():
    model, meta = train_bump_model("attention", {"embed_dim": 16, "ff_dim": 16})

    result = explain.explain_sequence(model, meta, padded_probe())

    attention = result.attention
    assert attention is not None
    assert attention.shape == (35,)
    assert attention.sum() == pytest.approx(1.0, abs=1e-4)
    assert BUMP.start <= int(attention.argmax()) < BUMP.stop
    assert attention[BUMP].mean() > 2 * outside_bump(attention).mean()


# Colouring, without TensorFlow


def test_overlay_keeps_image_shape():
    pixels = np.zeros((30, 50, 3), dtype=np.uint8)
    heatmap = np.zeros((4, 4))
    heatmap[0, 3] = 1.0

    blended = heatmaps.overlay(pixels, heatmap)

    assert blended.shape == (30, 50, 3)
    assert blended.dtype == np.uint8
    # The hot top-right corner is brighter than the cold bottom-left one.
    assert blended[0, 49].sum() > blended[29, 0].sum()


def test_colorize_ends_of_scale():
    colours = heatmaps.colorize(np.asarray([[0.0, 1.0]]))

    assert colours[0, 0].tolist() == list(heatmaps.plotly.colors.hex_to_rgb(heatmaps.COLORSCALE[0]))
    assert colours[0, 1].tolist() == list(
        heatmaps.plotly.colors.hex_to_rgb(heatmaps.COLORSCALE[-1])
    )
