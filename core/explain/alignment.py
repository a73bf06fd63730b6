"""Map a heat map from the model input back onto the image the clinician uploaded.

The model saw a crop of the upload (the head, the cell), scaled and letterboxed into a square.
``to_upload`` undoes both: the letterbox padding is cut away, the rest is scaled back over the
crop box, and everything the model did not see is 0.
"""

from __future__ import annotations

import cv2
import numpy as np

from core.preprocess import Geometry


def to_model_input(cam: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A feature-resolution map (h, w) bilinearly up-sampled to the model input (H, W), >= 0."""
    cam = np.asarray(cam, np.float32)
    if cam.shape == tuple(size):
        return cam
    # cv2 keeps cell centres aligned (half-pixel convention), as tf.image.resize does.
    return np.maximum(cv2.resize(cam, (size[1], size[0]), interpolation=cv2.INTER_LINEAR), 0.0)


def to_upload(model_map: np.ndarray, geometry: Geometry) -> np.ndarray:
    """The model-input map placed over the uploaded image.

    Args:
        model_map: (H, W) map at the model input size (see :func:`to_model_input`).
        geometry: ``core.preprocess.Prepared.geometry`` of that input.

    Returns:
        float32 (upload height, upload width): the map over the crop box, 0 elsewhere.
    """
    height, width = geometry.upload_size
    cx0, cy0, cx1, cy1 = geometry.crop
    px0, py0, px1, py1 = geometry.content
    out = np.zeros((height, width), np.float32)
    inside = np.asarray(model_map, np.float32)[py0:py1, px0:px1]  # letterbox padding cut away
    if inside.size == 0 or cx1 <= cx0 or cy1 <= cy0:
        return out
    out[cy0:cy1, cx0:cx1] = cv2.resize(inside, (cx1 - cx0, cy1 - cy0), interpolation=cv2.INTER_LINEAR)
    return np.maximum(out, 0.0)


def to_model_space(mask: np.ndarray, geometry: Geometry, size: tuple[int, int]) -> np.ndarray:
    """An upload-sized bool mask carried into the model input (False on the letterbox padding).

    Args:
        mask: bool (upload height, upload width).
        geometry: the preparation's geometry.
        size: (H, W) of the model input.

    Returns:
        bool (H, W).
    """
    out = np.zeros(size, bool)
    cx0, cy0, cx1, cy1 = geometry.crop
    px0, py0, px1, py1 = geometry.content
    region = np.asarray(mask, np.uint8)[cy0:cy1, cx0:cx1]
    if region.size == 0 or px1 <= px0 or py1 <= py0:
        return out
    out[py0:py1, px0:px1] = cv2.resize(region, (px1 - px0, py1 - py0), interpolation=cv2.INTER_NEAREST) > 0
    return out
