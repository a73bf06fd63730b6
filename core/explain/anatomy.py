"""Where the anatomy is in an uploaded image, and where the shortcuts are.

Heat outside the anatomy (black background, letterbox padding) is never drawn; heat on burned-in
text and calipers is a shortcut the model card's audit counts. One function per preprocessing
recipe, in a registry keyed like ``core.preprocess.RECIPES``.
"""

from __future__ import annotations

from typing import Callable

import cv2
import numpy as np

from core.preprocess import BRAIN_THRESHOLD, CELL_THRESHOLD, MIN_OBJECT_FRACTION, to_rgb

#: Ultrasound field: anything brighter than this after blurring is inside the scanned sector.
FIELD_THRESHOLD = 6
#: Burned-in marks are near-white and much brighter than their surroundings.
MARK_LEVEL, MARK_CONTRAST = 200, 60
#: Marks are sparse; above this share of the frame the bright points are speckle, not annotations.
MARK_MAX_FRACTION = 0.01


def _grey(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(to_rgb(image), cv2.COLOR_RGB2GRAY)


def _largest_filled(binary: np.ndarray) -> np.ndarray | None:
    contours, _ = cv2.findContours(binary, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    largest = max(contours, key=cv2.contourArea)
    if cv2.contourArea(largest) < MIN_OBJECT_FRACTION * binary.size:
        return None
    filled = np.zeros(binary.shape, np.uint8)
    cv2.drawContours(filled, [largest], -1, 1, thickness=cv2.FILLED)
    return filled.astype(bool)


def _object_mask(image: np.ndarray, threshold: int) -> np.ndarray:
    # The same recipe as the crop (blur, threshold, close, open, largest contour), filled.
    grey = cv2.GaussianBlur(_grey(image), (5, 5), 0)
    binary = cv2.threshold(grey, threshold, 255, cv2.THRESH_BINARY)[1]
    binary = cv2.morphologyEx(binary, cv2.MORPH_CLOSE, None, iterations=2)
    binary = cv2.morphologyEx(binary, cv2.MORPH_OPEN, None, iterations=2)
    filled = _largest_filled(binary)
    return np.ones(grey.shape, bool) if filled is None else filled


def head_mask(image: np.ndarray) -> np.ndarray:
    """The head (skull included): the largest bright contour, filled; the whole frame if none."""
    return _object_mask(image, BRAIN_THRESHOLD)


def cell_mask(image: np.ndarray) -> np.ndarray:
    """The stained cell: the largest non-black contour, filled; the whole frame if none."""
    return _object_mask(image, CELL_THRESHOLD)


def burned_in_marks(image: np.ndarray) -> np.ndarray:
    """Burned-in text, calipers and rulers: small near-white strokes far brighter than around them."""
    grey = _grey(image)
    background = cv2.medianBlur(grey, 9)
    marks = (grey >= MARK_LEVEL) & (grey.astype(np.int16) - background >= MARK_CONTRAST)
    if marks.mean() > MARK_MAX_FRACTION:  # bright speckle everywhere: nothing tells marks apart
        return np.zeros(grey.shape, bool)
    return cv2.dilate(marks.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)


def ultrasound_field(image: np.ndarray) -> np.ndarray:
    """The scanned field (sector or rectangle): the largest non-black region, filled."""
    return _object_mask(image, FIELD_THRESHOLD)


#: recipe id -> (anatomy mask, shortcut mask or None); masks are bool (H, W) at the image's size.
ANATOMY: dict[str, tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray] | None]] = {
    "brain_mri": (head_mask, None),
    "breast_us": (ultrasound_field, burned_in_marks),
    "blood_smear": (cell_mask, None),
}


def anatomy_mask(image: np.ndarray, recipe: str) -> np.ndarray:
    """Where heat may be drawn: the anatomy of ``image`` for a task's preprocessing recipe.

    Args:
        image: the uploaded uint8 image.
        recipe: ``Task.preprocessing``.

    Returns:
        bool (H, W); all True for a recipe without an anatomy finder.
    """
    finder = ANATOMY.get(recipe, (None, None))[0]
    return finder(image) if finder is not None else np.ones(image.shape[:2], bool)


def shortcut_mask(image: np.ndarray, recipe: str) -> np.ndarray:
    """Where heat means the model looks at something other than the patient: outside the anatomy,
    plus burned-in marks where the modality has them.

    Returns:
        bool (H, W).
    """
    outside = ~anatomy_mask(image, recipe)
    marks = ANATOMY.get(recipe, (None, None))[1]
    return outside | marks(image) if marks is not None else outside
