"""Colouring Grad-CAM heat maps over images, without TensorFlow, for the pages."""

from __future__ import annotations

import numpy as np
import plotly.colors
from PIL import Image

COLORSCALE = plotly.colors.sequential.Turbo
"""Colours from cold (0) to hot (1): plotly's Turbo scale."""


def colorize(heatmap: np.ndarray) -> np.ndarray:
    """Map values `(rows, columns)` in 0-1 to RGB `(rows, columns, 3)` uint8 on `COLORSCALE`."""
    anchors = np.asarray([plotly.colors.hex_to_rgb(color) for color in COLORSCALE], dtype=float)
    positions = np.linspace(0.0, 1.0, len(anchors))
    values = np.clip(heatmap, 0.0, 1.0)
    channels = [np.interp(values, positions, anchors[:, channel]) for channel in range(3)]
    return np.stack(channels, axis=-1).round().astype(np.uint8)


def overlay(pixels: np.ndarray, heatmap: np.ndarray, opacity: float = 0.45) -> np.ndarray:
    """Blend a heat map over an RGB image `(height, width, 3)` uint8.

    The heat map's grid is stretched over the whole image with bilinear sampling,
    because the model resized the whole image to its square input. `opacity` is the
    heat map's share of each pixel, 0 to 1.
    """
    height, width = pixels.shape[:2]
    grid = Image.fromarray((np.clip(heatmap, 0.0, 1.0) * 255).astype(np.uint8))
    stretched = np.asarray(grid.resize((width, height), Image.Resampling.BILINEAR)) / 255.0
    colours = colorize(stretched).astype(float)
    blended = (1.0 - opacity) * pixels.astype(float) + opacity * colours
    return blended.round().astype(np.uint8)
