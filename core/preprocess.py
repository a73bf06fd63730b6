"""Per-task preprocessing: deterministic steps from a decoded image to the model input.

Each task names a recipe (``Task.preprocessing``); a recipe is an ordered tuple of
named steps, so the app can show every intermediate image and training, evaluation
and serving all run exactly the same code. Backbone normalisation (``preprocess_input``)
is deliberately absent: it belongs to the model, which carries it in its card.

Every step falls back to the full frame when it cannot find what it looks for
(blank, all-white, tiny images), because a second opinion on the uncropped image is
better than a crash in front of a clinician.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import cv2
import numpy as np

from core.tasks import get_task

#: Grey level separating the head (or the stained cell) from the dark background,
#: as in the seed paper's crop (threshold 45 after a 5x5 Gaussian blur).
BRAIN_THRESHOLD = 45
#: Smear backgrounds are pure black, so any faint stain counts as cell.
CELL_THRESHOLD = 10
#: A "largest contour" smaller than this fraction of the frame is noise, not anatomy.
MIN_OBJECT_FRACTION = 0.01

Size = int | tuple[int, int]
Box = tuple[int, int, int, int]


class Geometry(NamedTuple):
    """Where the model input came from in the uploaded image (heat maps are mapped back through it).

    Attributes:
        upload_size: (height, width) of the image given to ``prepare``.
        crop: (x0, y0, x1, y1) of the upload region the model saw, exclusive ends.
        content: (x0, y0, x1, y1) where that region lies in the model input; the rest is padding.
    """

    upload_size: tuple[int, int]
    crop: Box
    content: Box


class Prepared(NamedTuple):
    """The model-ready image and every intermediate step, in order.

    Attributes:
        image: uint8 (H, W, 3) at the requested size.
        steps: step name -> uint8 image, in the order the steps ran (starts with "input").
        geometry: how the model input maps onto the upload (crop, then letterbox).
    """

    image: np.ndarray
    steps: dict[str, np.ndarray]
    geometry: Geometry | None = None


def _check_image(image: np.ndarray) -> None:
    if not isinstance(image, np.ndarray):
        raise ValueError(f"Expected an image as a numpy array, got {type(image).__name__}.")
    if image.dtype != np.uint8:
        raise ValueError(
            f"Expected an 8-bit image (dtype uint8), got dtype {image.dtype}; "
            "decode files with core.io.load_image, which converts 16-bit and DICOM data."
        )
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3, 4)):
        raise ValueError(
            f"Expected an image of shape (H, W) or (H, W, 1|3|4), got shape {image.shape}."
        )
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError(f"The image is empty (shape {image.shape}).")


def to_rgb(image: np.ndarray) -> np.ndarray:
    """Return a 3-channel uint8 copy of a grey, grey+1, RGB or RGBA image.

    Args:
        image: uint8 array (H, W) or (H, W, 1|3|4).

    Returns:
        uint8 (H, W, 3).
    """
    _check_image(image)
    if image.ndim == 2:
        return np.repeat(image[:, :, None], 3, axis=2)
    channels = image.shape[2]
    if channels == 1:
        return np.repeat(image, 3, axis=2)
    if channels == 4:  # alpha carries no diagnostic content
        return np.ascontiguousarray(image[:, :, :3])
    return image.copy()


def _grey(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return image
    if image.shape[2] == 1:
        return image[:, :, 0]
    return cv2.cvtColor(np.ascontiguousarray(image[:, :, :3]), cv2.COLOR_RGB2GRAY)


def parse_size(size: Size) -> tuple[int, int]:
    """Normalise a size to (height, width).

    Args:
        size: a positive int (square) or a (height, width) pair of positive ints.

    Returns:
        (height, width).

    Raises:
        ValueError: anything else.
    """
    def is_count(value: object) -> bool:
        return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value > 0

    if is_count(size):
        size = (int(size), int(size))
    if not isinstance(size, (tuple, list)) or len(size) != 2 or not all(map(is_count, size)):
        raise ValueError(
            f"Size must be a positive int or a (height, width) pair of positive ints, got {size!r}."
        )
    return int(size[0]), int(size[1])


def find_largest_object(image: np.ndarray, threshold: int = BRAIN_THRESHOLD) -> Box | None:
    """Bounding box of the largest bright object, or None when there is none.

    The seed paper's recipe: grey, Gaussian blur, threshold, erode x2 / dilate x2 (removes
    specks and thin lines such as annotations), largest external contour, and its extreme
    left/right/top/bottom points. A closing (dilate x2 / erode x2) runs first: at low
    resolution the skull is a ring a few pixels thin, separated from the brain by dark CSF,
    and the erosion alone would cut it off and crop into the head.

    Args:
        image: uint8 (H, W) or (H, W, C).
        threshold: grey level above which a pixel belongs to an object.

    Returns:
        (x0, y0, x1, y1) with x1, y1 exclusive, or None.
    """
    _check_image(image)
    grey = cv2.GaussianBlur(_grey(image), (5, 5), 0)
    mask = cv2.threshold(grey, threshold, 255, cv2.THRESH_BINARY)[1]
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, None, iterations=2)
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, None, iterations=2)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    largest = max(contours, key=cv2.contourArea)
    if cv2.contourArea(largest) < MIN_OBJECT_FRACTION * grey.size:
        return None
    points = largest[:, 0, :]
    x0, y0 = points[:, 0].min(), points[:, 1].min()
    x1, y1 = points[:, 0].max() + 1, points[:, 1].max() + 1
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    return int(x0), int(y0), int(x1), int(y1)


def crop_to_largest_contour(
    image: np.ndarray, threshold: int = BRAIN_THRESHOLD
) -> tuple[np.ndarray, Box]:
    """Crop to the extreme points of the largest contour (the head, or the cell).

    Args:
        image: uint8 (H, W) or (H, W, C).
        threshold: grey level separating object from background.

    Returns:
        (cropped copy, box) with box = (x0, y0, x1, y1), exclusive ends; the full frame
        and its box when no object is found (blank, too small, too dark).
    """
    box = find_largest_object(image, threshold)
    if box is None:
        box = (0, 0, image.shape[1], image.shape[0])
    x0, y0, x1, y1 = box
    return image[y0:y1, x0:x1].copy(), box


def denoise(image: np.ndarray, diameter: int = 5, sigma_color: float = 50.0,
            sigma_space: float = 50.0) -> np.ndarray:
    """Edge-preserving bilateral filter: smooths noise without blurring lesion margins.

    Args:
        image: uint8 (H, W) or (H, W, 1|3).
        diameter: pixel neighbourhood diameter.
        sigma_color: how different grey levels may be and still be averaged.
        sigma_space: how far apart pixels may be and still be averaged.

    Returns:
        uint8 image of the same shape.
    """
    _check_image(image)
    if image.ndim == 3 and image.shape[2] == 4:
        image = image[:, :, :3]
    squeezed = image[:, :, 0] if image.ndim == 3 and image.shape[2] == 1 else image
    out = cv2.bilateralFilter(np.ascontiguousarray(squeezed), diameter, sigma_color, sigma_space)
    return out.reshape(image.shape)


def letterbox_box(shape: tuple[int, int], size: Size) -> Box:
    """Where ``resize_with_pad`` puts an image of ``shape`` (h, w) inside ``size``.

    Returns:
        (x0, y0, x1, y1) of the scaled image in the padded output, exclusive ends.
    """
    height, width = parse_size(size)
    h, w = shape
    scale = min(height / h, width / w)
    new_h = min(height, max(1, round(h * scale)))
    new_w = min(width, max(1, round(w * scale)))
    top, left = (height - new_h) // 2, (width - new_w) // 2
    return left, top, left + new_w, top + new_h


def resize_with_pad(image: np.ndarray, size: Size) -> np.ndarray:
    """Letterbox: resize keeping the aspect ratio, then pad with black to ``size``.

    Stretching would distort lesion shape (e.g. "taller than wide" in breast ultrasound),
    so the image is scaled to fit and centred.

    Args:
        image: uint8 (H, W) or (H, W, C).
        size: target side (int) or (height, width).

    Returns:
        uint8 image of shape (height, width[, C]).
    """
    _check_image(image)
    height, width = parse_size(size)
    h, w = image.shape[:2]
    scale = min(height / h, width / w)
    left, top, right, bottom = letterbox_box((h, w), (height, width))
    new_h, new_w = bottom - top, right - left
    # INTER_AREA avoids aliasing when shrinking; INTER_LINEAR is smooth when enlarging.
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(np.ascontiguousarray(image), (new_w, new_h), interpolation=interpolation)
    if image.ndim == 3 and resized.ndim == 2:  # cv2 drops a single channel axis
        resized = resized[:, :, None]
    out = np.zeros((height, width) + image.shape[2:], dtype=np.uint8)
    out[top:top + new_h, left:left + new_w] = resized
    return out


def to_grey_rgb(image: np.ndarray) -> np.ndarray:
    """Grey levels repeated on 3 channels (ultrasound has no colour; some exports tint it).

    Args:
        image: uint8 (H, W) or (H, W, C).

    Returns:
        uint8 (H, W, 3) with equal channels.
    """
    _check_image(image)
    return to_rgb(_grey(image))


#: A step returns the new image, or (image, box) when it crops the box (x0, y0, x1, y1) out of its input.
Step = Callable[[np.ndarray, tuple[int, int]], "np.ndarray | tuple[np.ndarray, Box]"]

#: recipe id (``Task.preprocessing``) -> ordered (step name, step) pairs after "input".
RECIPES: dict[str, tuple[tuple[str, Step], ...]] = {
    "brain_mri": (
        ("brain crop", lambda im, size: crop_to_largest_contour(im, BRAIN_THRESHOLD)),
        ("denoised", lambda im, size: denoise(im)),
        ("resized + padded", resize_with_pad),
    ),
    "breast_us": (
        ("grayscale", lambda im, size: to_grey_rgb(im)),
        # Mild: speckle is itself a texture the classifier learns from.
        ("denoised", lambda im, size: denoise(im, diameter=5, sigma_color=25, sigma_space=25)),
        ("resized + padded", resize_with_pad),
    ),
    "blood_smear": (
        ("cell crop", lambda im, size: crop_to_largest_contour(im, CELL_THRESHOLD)),
        ("resized + padded", resize_with_pad),
    ),
}


def prepare(image: np.ndarray, task_id: str, size: Size | None = None) -> Prepared:
    """Run a task's preprocessing recipe on one decoded image.

    Args:
        image: uint8 (H, W) or (H, W, 1|3|4), RGB order (as core.io.load_image returns).
        task_id: a key of core.tasks.TASKS (or a Task).
        size: output side or (height, width); defaults to the task's input_size.

    Returns:
        Prepared(image uint8 (H, W, 3), steps name -> uint8 image, starting with "input").

    Raises:
        ValueError: wrong dtype/shape or size; UnknownTaskError for an unknown task.
    """
    task = get_task(task_id)
    _check_image(image)
    target = parse_size(size if size is not None else task.input_size)
    try:
        recipe = RECIPES[task.preprocessing]
    except KeyError:
        raise ValueError(
            f"Task '{task.id}' asks for preprocessing '{task.preprocessing}', which is not one of: "
            f"{', '.join(RECIPES)}."
        ) from None
    current = to_rgb(image)
    steps = {"input": current}
    crop, content = (0, 0, current.shape[1], current.shape[0]), None
    for name, step in recipe:
        before = current.shape[:2]
        out = step(current, target)
        if isinstance(out, tuple):  # a crop: remember where, in the upload's coordinates
            out, (x0, y0, x1, y1) = out
            crop = (crop[0] + x0, crop[1] + y0, crop[0] + x1, crop[1] + y1)
        elif step is resize_with_pad:
            content = letterbox_box(before, target)
        current = to_rgb(out)
        steps[name] = current
    if content is None:
        content = (0, 0, current.shape[1], current.shape[0])
    return Prepared(current, steps, Geometry(tuple(image.shape[:2]), crop, content))
