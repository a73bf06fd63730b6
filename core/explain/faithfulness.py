"""Do the maps point at the lesion, and does the model's answer depend on what they point at?

Pointing game and energy-in-mask compare a map with a lesion mask (both at the upload's size);
deletion / insertion AUC (Petsiuk et al. 2018) remove or reveal the model input's pixels in the
order of the map and follow the class probability: a faithful map makes it fall fast (low
deletion AUC) and rise fast (high insertion AUC).
"""

from __future__ import annotations

from typing import Callable

import cv2
import numpy as np

#: The lesion mask is dilated by this fraction of the image side for the pointing game.
POINTING_TOLERANCE = 0.05
#: Pixel fractions at which the deletion / insertion curves are sampled.
CURVE_STEPS = 16


def dilate(mask: np.ndarray, fraction: float = POINTING_TOLERANCE) -> np.ndarray:
    """``mask`` grown by ``fraction`` of the image's longer side (a disc), as bool."""
    radius = max(1, int(round(fraction * max(mask.shape[:2]))))
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv2.dilate(np.asarray(mask, np.uint8), disc) > 0


def pointing_hit(heatmap: np.ndarray, mask: np.ndarray, fraction: float = POINTING_TOLERANCE) -> bool:
    """The map's maximum falls inside the lesion mask dilated by ``fraction`` of the side.

    Args:
        heatmap: (H, W) map; an all-zero map points nowhere (a miss).
        mask: (H, W) lesion mask (non-zero = lesion), same size.

    Returns:
        True for a hit.
    """
    if heatmap.shape != mask.shape[:2]:
        raise ValueError(f"Heat map {heatmap.shape} and mask {mask.shape} must have the same size.")
    if not np.any(heatmap > 0):
        return False
    y, x = np.unravel_index(int(np.argmax(heatmap)), heatmap.shape)
    return bool(dilate(mask > 0, fraction)[y, x])


def centre_hit(mask: np.ndarray, fraction: float = POINTING_TOLERANCE) -> bool:
    """The pointing game of a map that always points at the image centre: the baseline a real map must beat
    (lesions in cropped clinical images are often near the middle)."""
    centre = np.zeros(mask.shape[:2], np.float32)
    centre[mask.shape[0] // 2, mask.shape[1] // 2] = 1.0
    return pointing_hit(centre, mask, fraction)


def energy_inside(heatmap: np.ndarray, mask: np.ndarray) -> float:
    """Fraction of the map's total heat that lies inside the (undilated) mask; 0 for an empty map."""
    total = float(np.sum(heatmap))
    return float(np.sum(heatmap[np.asarray(mask) > 0]) / total) if total > 0 else 0.0


def _curve_batches(image: np.ndarray, heatmap: np.ndarray, baseline: np.ndarray, steps: int):
    order = np.argsort(-heatmap.ravel(), kind="stable")  # most heat first
    fractions = np.linspace(0.0, 1.0, steps + 1)
    n = order.size
    deleted, inserted = [], []
    for fraction in fractions:
        chosen = np.zeros(n, bool)
        chosen[order[:int(round(fraction * n))]] = True
        chosen = chosen.reshape(heatmap.shape)[..., None]
        deleted.append(np.where(chosen, baseline, image))
        inserted.append(np.where(chosen, image, baseline))
    return fractions, np.stack(deleted), np.stack(inserted)


def deletion_insertion(predict: Callable[[np.ndarray], np.ndarray], image: np.ndarray, heatmap: np.ndarray,
                       class_index: int, steps: int = CURVE_STEPS) -> tuple[float, float]:
    """Deletion and insertion AUC of one map on one model input.

    Deleted pixels are replaced by a heavily blurred copy of the image (not black: black is
    itself evidence for some modalities); insertion starts from that blurred copy.

    Args:
        predict: (n, H, W, C) float32 model inputs -> (n, classes) probabilities.
        image: (H, W, C) the model input, 0..255.
        heatmap: (H, W) map at the model input's size.
        class_index: the explained class.
        steps: points on each curve.

    Returns:
        (deletion AUC, insertion AUC), each the mean class probability along its curve, in [0, 1].
    """
    image = np.asarray(image, np.float32)
    sigma = max(image.shape[:2]) / 10
    baseline = cv2.GaussianBlur(image, (0, 0), sigmaX=sigma)
    fractions, deleted, inserted = _curve_batches(image, np.asarray(heatmap, np.float32), baseline, steps)
    probs = predict(np.concatenate([deleted, inserted]).astype(np.float32))[:, class_index]
    down, up = probs[:len(fractions)], probs[len(fractions):]
    return float(np.trapezoid(down, fractions)), float(np.trapezoid(up, fractions))
