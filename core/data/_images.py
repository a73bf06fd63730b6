"""Decode a dataset file through core.io, so DICOM and 16-bit files work everywhere."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.data.errors import DatasetError
from core.io import InvalidImageError
from core.io import load_image as _decode


def load_image(path: str | Path) -> np.ndarray:
    """Decode one dataset file to uint8 (H, W, 3) RGB.

    Args:
        path: image file (any format core.io reads).

    Returns:
        uint8 array (H, W, 3).

    Raises:
        DatasetError: the file is missing or cannot be decoded; the message names it.
    """
    try:
        # A researcher's own dataset files are trusted: decoding them in-process avoids the worker round trip
        # that uploads from the app pay for their isolation.
        return _decode(Path(path), isolate=False)
    except InvalidImageError as error:
        raise DatasetError(f"Cannot use dataset image '{path}': {error}") from error
