"""What every image reader shares: the error type and the output contract.

Readers (``core.io.raster`` for Pillow formats, ``core.io.dicom``) decode a file and
hand back a :class:`Decoded` whose pixels already follow the contract of
``core.io.load_image``: ``uint8``, shape ``(H, W, 3)``, RGB. Public callers import
these names from ``core.io``; this module exists so the readers can share them
without importing ``core.io.reader`` (which imports them).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from core.io.messages import plain_sentence

#: Percentiles of the robust window used for 16-bit, 32-bit and float data.
#: Clipping the extreme 0.5 % on each side keeps a few hot or dead pixels from
#: squashing the whole image into a handful of grey levels.
ROBUST_PERCENTILES: tuple[float, float] = (0.5, 99.5)

# Estimating percentiles on a strided sample is accurate to a grey level and
# keeps a 40-megapixel image from costing seconds.
_PERCENTILE_SAMPLE = 1_000_000


class InvalidImageError(ValueError):
    """A file was rejected; the message says why in words a clinician can act on.

    Every message passes through :func:`core.io.messages.plain_sentence`: one printable line of at
    most 300 characters, whatever text it was built from.
    """

    def __init__(self, message: object = "The file cannot be read as an image.") -> None:
        super().__init__(plain_sentence(message))


class Decoded(NamedTuple):
    """A decoded image before it is wrapped for the caller.

    Attributes:
        pixels: ``uint8`` array of shape ``(H, W, 3)``, RGB.
        format: short format name, e.g. ``"PNG"`` or ``"DICOM"``.
        metadata: safe technical fields only (no identifiers).
    """

    pixels: np.ndarray
    format: str
    metadata: dict[str, Any]


def check_dimensions(width: int, height: int, *, label: str, max_pixels: int, min_side: int) -> None:
    """Reject an image by its size before anything is decoded.

    Args:
        width: columns declared by the file.
        height: rows declared by the file.
        label: how the file is named in messages, e.g. ``"The file 'a.png'"``.
        max_pixels: most pixels accepted (decompression-bomb guard).
        min_side: fewest pixels accepted on either side.

    Raises:
        InvalidImageError: a zero side, too many pixels or too small.
    """
    if width <= 0 or height <= 0:
        raise InvalidImageError(
            f"{label} describes an empty image ({width} x {height} pixels): "
            "one of its dimensions is zero, so there is nothing to analyse."
        )
    if width * height > max_pixels:
        raise InvalidImageError(
            f"{label} is {width:,} x {height:,} pixels ({width * height:,} pixels), more than "
            f"the {max_pixels:,} pixels this tool accepts; export a smaller version of the image."
        )
    if width < min_side or height < min_side:
        raise InvalidImageError(
            f"{label} is only {width} x {height} pixels; at least {min_side} pixels on each "
            "side are needed for an analysis."
        )


def window_to_uint8(values: np.ndarray, low: float | None = None, high: float | None = None) -> np.ndarray:
    """Map values linearly onto 0..255, clipping outside ``[low, high]``.

    Without ``low``/``high`` a robust window is used: the
    :data:`ROBUST_PERCENTILES` of the finite values, or their min-max when the
    percentiles coincide (e.g. a small bright object on a flat background).
    A constant image maps to 0. NaN and infinities map to 0.

    Args:
        values: an array of any numeric dtype and shape.
        low: value that maps to 0.
        high: value that maps to 255.

    Returns:
        ``uint8`` array of the same shape.
    """
    # A private float64 copy, scaled in place: a 40-megapixel image must fit the decoder's memory cap.
    data = np.array(values, dtype=np.float64, copy=True)
    finite = np.isfinite(data)
    if low is None or high is None:
        low, high = _robust_range(data[finite])
    if not high > low:
        return np.zeros(data.shape, dtype=np.uint8)
    data -= low
    data *= 255.0 / (high - low)
    data[~finite] = 0.0
    np.rint(data, out=data)
    np.clip(data, 0, 255, out=data)
    return data.astype(np.uint8)


def _robust_range(finite_values: np.ndarray) -> tuple[float, float]:
    if finite_values.size == 0:
        return 0.0, 0.0
    step = max(1, finite_values.size // _PERCENTILE_SAMPLE)
    low, high = np.percentile(finite_values[::step], ROBUST_PERCENTILES)
    if high <= low:
        low, high = finite_values.min(), finite_values.max()
    return float(low), float(high)


def grey_to_rgb(grey: np.ndarray) -> np.ndarray:
    """Replicate a ``(H, W)`` grey image to ``(H, W, 3)``; models expect RGB."""
    return np.ascontiguousarray(np.repeat(grey[..., np.newaxis], 3, axis=-1))


def check_contract(pixels: object, *, label: str, max_pixels: int, min_side: int) -> np.ndarray:
    """The last gate every decoded image passes: ``uint8``, ``(H, W, 3)``, within the limits.

    Args:
        pixels: what a decoder returned.
        label: how the file is named in messages.
        max_pixels: most pixels accepted.
        min_side: fewest pixels accepted on either side.

    Returns:
        ``pixels`` as a C-contiguous array.

    Raises:
        InvalidImageError: anything else; a damaged file can make a decoder return odd shapes.
    """
    if not (isinstance(pixels, np.ndarray) and pixels.dtype == np.uint8 and pixels.ndim == 3 and pixels.shape[2] == 3):
        raise InvalidImageError(
            f"{label} holds pixel data that does not match the image size and colour layout it declares, "
            "so it cannot be shown reliably; export the image again."
        )
    height, width = pixels.shape[:2]
    check_dimensions(width, height, label=label, max_pixels=max_pixels, min_side=min_side)
    return np.ascontiguousarray(pixels)
