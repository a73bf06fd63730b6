"""Any supported file (PNG, JPEG, BMP, TIFF, GIF, DICOM) -> validated ``(H, W, 3)`` uint8 RGB pixels.

``core.io`` owns everything between the bytes of an untrusted file and an array the rest of the
project may trust: reading the source (path, bytes or upload), the byte and pixel limits, format
detection, the Pillow and pydicom decoders, the display conversion (windowing, LUTs, colour), the
synthetic-image marking, the one exception type of this boundary (:class:`InvalidImageError`, whose
message is a plain sentence) and the bounded decoding of untrusted bytes in a worker process.
It may import numpy, Pillow, pydicom (and its decoder plugins) and the standard library, and nothing
else of the project: no TensorFlow, no Streamlit, no other ``core`` package.

Modules: ``reader`` (the public entry points), ``base`` (error type, output contract, windowing),
``raster`` (Pillow formats), ``dicom`` (DICOM).
"""

from core.io.base import InvalidImageError
from core.io.reader import (
    MAX_BYTES,
    MAX_PIXELS,
    MIN_SIDE,
    SUPPORTED_FORMATS,
    ImageSource,
    LoadedImage,
    is_synthetic,
    load_image,
    read_image,
)

__all__ = [
    "MAX_BYTES", "MAX_PIXELS", "MIN_SIDE", "SUPPORTED_FORMATS", "ImageSource",
    "InvalidImageError", "LoadedImage", "read_image", "load_image", "is_synthetic",
]
