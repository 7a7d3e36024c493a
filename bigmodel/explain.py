"""Explanations of single predictions, in a process with TensorFlow loaded.

Images get a Grad-CAM heat map (Selvaraju et al. 2017, "Grad-CAM: Visual
Explanations from Deep Networks via Gradient-based Localization"): the feature maps
of the last convolution block, weighted by the mean gradient of the class score over
each map, summed and clipped at zero. Sequences get the gradient saliency of each
step (Simonyan et al. 2014, "Deep Inside Convolutional Networks"), and models of the
attention family also the attention that each step receives.

Scores are taken before the softmax, as Grad-CAM prescribes, because the gradient of
a probability near 1 vanishes and would give an empty map for confident predictions.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from bigmodel.errors import BigModelError
from bigmodel.imaging import decode_image
from bigmodel.layers import padding_mask
from bigmodel.store import to_json

logger = logging.getLogger(__name__)

OUTPUT_LAYER = "probabilities"
"""Name of the softmax layer of classifiers; regression models end in `values`."""
VALUES_LAYER = "values"


@dataclasses.dataclass(frozen=True, eq=False)
class ImageExplanation:
    """A Grad-CAM heat map of one image.

    Attributes:
        class_index: the explained class, the predicted one unless another was requested.
        probability: the model's probability of that class.
        heatmap: `(rows, columns)` float32 in 0-1 over the last convolution block's
            grid. The grid covers the whole image, which the model resized to a square.
    """

    class_index: int
    probability: float
    heatmap: np.ndarray


@dataclasses.dataclass(frozen=True, eq=False)
class SequenceExplanation:
    """The importance of each real step of one sequence.

    Attributes:
        output_index: the explained class, or for regression and forecasts the output.
        score: the probability of that class, or the predicted value.
        saliency: `(steps,)` float32 in 0-1, the gradient's size at each step,
            summed over the features in standardised units; padded steps are left out.
        attention: `(steps,)` the mean attention each step receives over the heads,
            the real query steps and the encoder blocks, summing to 1; None for models
            without attention layers.
    """

    output_index: int
    score: float
    saliency: np.ndarray
    attention: np.ndarray | None


# Images


def last_conv_layer(model: keras.Model) -> str:
    """Return the name of the layer whose output Grad-CAM weighs.

    That is the last `Conv2D`, or the normalisation and activation layers right after
    it, which keep its grid.

    Raises:
        BigModelError: the model has no 2-D convolution.
    """
    layers = list(model.layers)
    conv_positions = [i for i, layer in enumerate(layers) if isinstance(layer, keras.layers.Conv2D)]
    if not conv_positions:
        raise BigModelError("evaluation.no_conv_layer", model=model.name)

    chosen = conv_positions[-1]
    grid = tuple(layers[chosen].output.shape[1:3])
    for position in range(chosen + 1, len(layers)):
        layer = layers[position]
        keeps_grid = isinstance(layer, (keras.layers.BatchNormalization, keras.layers.Activation))
        if not keeps_grid or tuple(layer.output.shape[1:3]) != grid:
            break
        chosen = position
    return str(layers[chosen].name)


def _scores(model: keras.Model, hidden: Any) -> Any:
    """Return the scores before the softmax `(batch, outputs)`, from the last layer's input."""
    if OUTPUT_LAYER in {layer.name for layer in model.layers}:
        output = model.get_layer(OUTPUT_LAYER)
        return keras.ops.matmul(hidden, output.kernel) + output.bias
    return hidden


def _final_input(model: keras.Model) -> Any:
    """Return the symbolic input of the classifier's softmax layer, or the regression values."""
    names = {layer.name for layer in model.layers}
    if OUTPUT_LAYER in names:
        return model.get_layer(OUTPUT_LAYER).input
    if VALUES_LAYER in names:
        return model.get_layer(VALUES_LAYER).output
    return model.output


def grad_cam(
    model: keras.Model, pixels: np.ndarray, class_index: int | None = None
) -> ImageExplanation:
    """Compute the Grad-CAM heat map of one RGB image `(height, width, 3)`, values 0-255.

    Args:
        model: an image classifier whose first layers resize the image.
        pixels: the image as `imaging.decode_image` returns it.
        class_index: the class to explain. Defaults to the predicted class.
    """
    feature_model = keras.Model(
        model.inputs,
        [model.get_layer(last_conv_layer(model)).output, _final_input(model), model.output],
    )
    batch = tf.convert_to_tensor(pixels[np.newaxis].astype(np.float32))
    with tf.GradientTape() as tape:
        feature_maps, hidden, probabilities = feature_model(batch, training=False)
        tape.watch(feature_maps)
        if class_index is None:
            class_index = int(np.argmax(probabilities[0]))
        score = _scores(model, hidden)[:, class_index]
    gradients = tape.gradient(score, feature_maps)

    weights = tf.reduce_mean(gradients, axis=(1, 2))
    cam = tf.nn.relu(tf.reduce_sum(feature_maps * weights[:, tf.newaxis, tf.newaxis, :], axis=-1))
    heatmap = _unit_scaled(np.asarray(cam[0], dtype=np.float32))
    return ImageExplanation(class_index, float(probabilities[0, class_index]), heatmap)


def _unit_scaled(values: np.ndarray) -> np.ndarray:
    # An all-zero map stays zero instead of dividing by zero.
    peak = float(values.max()) if values.size else 0.0
    return (values / peak if peak > 0 else np.zeros_like(values)).astype(np.float32)


def explain_images(
    model: keras.Model, class_names: Sequence[str], images: Sequence[tuple[str, bytes]]
) -> list[dict[str, Any]]:
    """Return a JSON-ready Grad-CAM result for each `(name, bytes)` image.

    Each result has `name`, `class`, `probability`, `heatmap` (rows of numbers) and
    `error` (`{"key", "params"}` for an image that could not be read, else None).
    """
    results: list[dict[str, Any]] = []
    for name, data in images:
        try:
            decoded = decode_image(data, name)
        except BigModelError as error:
            logger.info("Explanation input %s rejected: %s", name, error)
            failure = {"key": error.key, "params": to_json(error.params)}
            results.append({"name": name, "class": None, "heatmap": None, "error": failure})
            continue
        explanation = grad_cam(model, decoded.pixels)
        results.append(
            {
                "name": name,
                "class": class_names[explanation.class_index],
                "probability": explanation.probability,
                "heatmap": explanation.heatmap.round(4).tolist(),
                "error": None,
            }
        )
    return results


# Sequences


def sequence_saliency(
    model: keras.Model,
    x: np.ndarray,
    feature_std: Sequence[float],
    output_index: int | None = None,
) -> tuple[int, float, np.ndarray]:
    """Return the explained output, its value and the saliency `(steps,)` of one sequence.

    Args:
        model: a sequence model as saved, whose first layer standardises the features.
        x: one sequence `(steps, features)` in the model's length, NaN-padded.
        feature_std: the standard deviation of each feature, which the model divides
            by, so that the gradient is in standardised units.
        output_index: the class or output to explain. Defaults to the predicted class,
            or to the first output of a regression or forecast.
    """
    inputs = tf.convert_to_tensor(x[np.newaxis].astype(np.float32))
    score_model = keras.Model(model.inputs, [_final_input(model), model.output])
    with tf.GradientTape() as tape:
        tape.watch(inputs)
        hidden, outputs = score_model(inputs, training=False)
        if output_index is None:
            classifier = OUTPUT_LAYER in {layer.name for layer in model.layers}
            output_index = int(np.argmax(outputs[0])) if classifier else 0
        score = _scores(model, hidden)[:, output_index]
    gradients = np.asarray(tape.gradient(score, inputs)[0], dtype=np.float64)

    scaled = np.abs(np.nan_to_num(gradients)) * np.asarray(feature_std, dtype=np.float64)
    saliency = _unit_scaled(scaled.sum(axis=1))
    return output_index, float(outputs[0, output_index]), saliency


def attention_received(model: keras.Model, x: np.ndarray) -> np.ndarray | None:
    """Return the mean attention `(steps,)` that each step of one sequence receives.

    Averages the attention weights over the heads, over the real query steps and over
    the encoder blocks. Each `MultiHeadAttention` layer `<name>` must be fed by a layer
    `<name>_norm`, as `architectures.attention` builds them. Returns None for a model
    without attention layers.
    """
    attention_layers = [
        layer for layer in model.layers if isinstance(layer, keras.layers.MultiHeadAttention)
    ]
    if not attention_layers:
        return None

    inputs = tf.convert_to_tensor(x[np.newaxis].astype(np.float32))
    real = padding_mask(inputs)
    pairs = tf.logical_and(real[:, :, tf.newaxis], real[:, tf.newaxis, :])
    received = []
    for layer in attention_layers:
        norm = keras.Model(model.inputs, model.get_layer(f"{layer.name}_norm").output)
        normed = norm(inputs, training=False)
        _, scores = layer(
            normed, normed, attention_mask=pairs, return_attention_scores=True, training=False
        )
        by_query = np.asarray(tf.reduce_mean(scores, axis=1)[0])
        received.append(by_query[np.asarray(real[0])].mean(axis=0))
    return np.mean(received, axis=0).astype(np.float32)


def explain_sequence(
    model: keras.Model, meta: dict[str, Any], x: np.ndarray
) -> SequenceExplanation:
    """Explain one sequence `(steps, features)` in the model's length, NaN-padded."""
    feature_std = meta["input_spec"]["feature_std"]
    output_index, score, saliency = sequence_saliency(model, x, feature_std)
    real = np.isfinite(x).any(axis=1)
    attention = attention_received(model, x)
    return SequenceExplanation(
        output_index=output_index,
        score=score,
        saliency=saliency[real],
        attention=attention[real] if attention is not None else None,
    )
