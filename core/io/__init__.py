"""Any supported file (PNG, JPEG, BMP, TIFF, GIF, DICOM) -> validated ``(H, W, 3)`` uint8 RGB pixels.

``core.io`` owns everything between the bytes of an untrusted file and an array the rest of the
project may trust: reading the source (path, bytes or upload), the byte and pixel limits (the byte
limit is the app's upload limit), format detection, the Pillow and pydicom decoders (compressed DICOM
through pylibjpeg), the display conversion, the synthetic-image marking, the one exception type of
this boundary (:class:`InvalidImageError`, always a plain sentence of at most 300 characters), and the
bounded decoding of untrusted bytes in worker processes killed when they overrun (10 s, 1 GB).
It may import numpy, Pillow, pydicom and its decoder plugins and the standard library, and nothing
else: no TensorFlow, no Streamlit, no other ``core`` package.

Modules: ``reader`` (public entry points), ``limits`` (every limit), ``messages`` (the sanitiser),
``decode`` (routing and the safety net), ``sandbox`` / ``worker`` (bounded decoding), ``raster``
(Pillow formats), ``dicom`` / ``dicom_display`` (DICOM), ``base`` (error type, output contract).
"""

from core.io.base import InvalidImageError
from core.io.limits import (
    DECODE_MEMORY_BYTES,
    DECODE_SECONDS,
    MAX_BYTES,
    MAX_PIXELS,
    MAX_UPLOAD_BYTES,
    MAX_UPLOAD_MB,
    MESSAGE_CHARS,
    MIN_SIDE,
)
from core.io.messages import plain_sentence
from core.io.reader import SUPPORTED_FORMATS, ImageSource, LoadedImage, is_synthetic, load_image, read_image

__all__ = [
    "DECODE_MEMORY_BYTES", "DECODE_SECONDS", "MAX_BYTES", "MAX_PIXELS", "MAX_UPLOAD_BYTES", "MAX_UPLOAD_MB",
    "MESSAGE_CHARS", "MIN_SIDE", "SUPPORTED_FORMATS", "ImageSource", "InvalidImageError", "LoadedImage",
    "plain_sentence", "read_image", "load_image", "is_synthetic",
]
