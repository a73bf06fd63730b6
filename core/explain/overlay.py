"""Colour a heat map over the image it explains, with a colour bar saying what the colours mean.

Pure numpy + OpenCV (no TensorFlow), so pages and reports can draw overlays cheaply.
"""

from __future__ import annotations

import cv2
import numpy as np

from core.explain.registry import ExplainError

#: UI name -> OpenCV colour map.
COLORMAPS: dict[str, int] = {
    "jet": cv2.COLORMAP_JET,
    "turbo": cv2.COLORMAP_TURBO,
    "inferno": cv2.COLORMAP_INFERNO,
    "viridis": cv2.COLORMAP_VIRIDIS,
    "hot": cv2.COLORMAP_HOT,
}

#: What the colours mean, printed beside the bar (the strongest class evidence in the image is 1).
DEFAULT_LEGEND = ("strongest evidence", "no evidence")


def _as_rgb(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 1):
        return cv2.cvtColor(image.reshape(image.shape[:2]), cv2.COLOR_GRAY2RGB)
    if image.ndim == 3 and image.shape[2] in (3, 4):
        return np.ascontiguousarray(image[..., :3])
    raise ExplainError(f"Expected a grey or RGB image (H, W[, 1|3|4]); got shape {image.shape}.")


def _colour(levels: np.ndarray, colormap: str) -> np.ndarray:
    return cv2.cvtColor(cv2.applyColorMap(levels, COLORMAPS[colormap]), cv2.COLOR_BGR2RGB)


def colour_bar(height: int, colormap: str = "jet", legend: tuple[str, str] = DEFAULT_LEGEND,
               top_value: float = 1.0) -> np.ndarray:
    """A vertical colour bar with its meaning written at both ends.

    Args:
        height: pixel height (the overlay's).
        colormap: a key of ``COLORMAPS``.
        legend: (text at the top, text at the bottom).
        top_value: the heat the top colour stands for (1 = the strongest evidence in the image);
            a class with weaker evidence never reaches the top colours.

    Returns:
        uint8 (height, width, 3) RGB on white.
    """
    if colormap not in COLORMAPS:
        raise ExplainError(f"Unknown colour map '{colormap}'; choose one of: {', '.join(COLORMAPS)}.")
    height = max(int(height), 48)
    scale = max(0.3, min(0.5, height / 600))
    text_w = max(cv2.getTextSize(t, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)[0][0] for t in legend)
    bar_w, pad = max(12, height // 20), 6
    panel = np.full((height, bar_w + text_w + 3 * pad, 3), 255, np.uint8)
    margin = max(8, height // 20)
    ramp = np.linspace(255 * np.clip(top_value, 0, 1), 0, height - 2 * margin)
    levels = np.repeat(np.uint8(np.round(ramp))[:, None], bar_w, axis=1)
    panel[margin:height - margin, pad:pad + bar_w] = _colour(levels, colormap)
    x = 2 * pad + bar_w
    for text, y in ((legend[0], margin + 10), (legend[1], height - margin)):
        cv2.putText(panel, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA)
    return panel


def overlay(image_uint8: np.ndarray, heatmap: np.ndarray, alpha: float = 0.4,
            colormap: str = "jet", legend: tuple[str, str] | None = None) -> np.ndarray:
    """Colour a heat map and blend it over the image it explains.

    Args:
        image_uint8: (H, W), (H, W, 1) or (H, W, 3) uint8 image; the upload itself when the map
            comes from ``core.explain.heatmap``.
        heatmap: 2-D map in [0, 1] (any size; resized to the image).
        alpha: weight of the heat map, 0 (image only) to 1 (heat map only).
        colormap: a key of ``COLORMAPS``.
        legend: (top, bottom) texts of a colour bar appended on the right; None: no bar.

    Returns:
        (H, W, 3) uint8 RGB, or (H, W + bar, 3) with a legend.

    Raises:
        ExplainError: wrong dtype or shape, alpha out of range, unknown colour map.
    """
    image = np.asarray(image_uint8)
    if image.dtype != np.uint8:
        raise ExplainError(f"overlay needs a uint8 image (0-255); got {image.dtype}.")
    heatmap = np.asarray(heatmap, dtype=np.float32)
    if heatmap.ndim != 2 or heatmap.size == 0 or not np.isfinite(heatmap).all():
        raise ExplainError(f"The heat map must be a finite 2-D array; got shape {heatmap.shape}.")
    if not 0.0 <= alpha <= 1.0:
        raise ExplainError(f"alpha must lie in [0, 1]; got {alpha}.")
    if colormap not in COLORMAPS:
        raise ExplainError(f"Unknown colour map '{colormap}'; choose one of: {', '.join(COLORMAPS)}.")
    rgb = _as_rgb(image)
    height, width = rgb.shape[:2]
    levels = np.uint8(np.round(255 * np.clip(heatmap, 0.0, 1.0)))
    levels = cv2.resize(levels, (width, height), interpolation=cv2.INTER_LINEAR)
    blended = cv2.addWeighted(rgb, 1.0 - alpha, _colour(levels, colormap), alpha, 0.0)
    if legend is None:
        return blended
    bar = colour_bar(height, colormap, legend)
    if bar.shape[0] != height:  # tiny images: squeeze the bar rather than refuse
        bar = cv2.resize(bar, (bar.shape[1], height), interpolation=cv2.INTER_AREA)
    return np.hstack([blended, bar])
