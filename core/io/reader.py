"""Read any supported image file into a validated array; nothing is ever written.

The contract, whatever the file: ``load_image`` returns a ``uint8`` array of shape
``(H, W, 3)`` in RGB order.

* Grey images are replicated to three channels; alpha is composited on black;
  CMYK, palette and bilevel images are converted to RGB; EXIF orientation is applied.
* 16-bit, 32-bit and float images (TIFF, PNG) are scaled to 8 bits by a robust
  window: the 0.5th..99.5th percentile of the values, or min..max when those
  coincide (``core.io.base.window_to_uint8``). 8-bit images are not rescaled.
* DICOM is shown as a viewer would: rescale slope/intercept, then the file's
  window (or VOI LUT), else the robust window; MONOCHROME1 is inverted; a
  multi-frame file gives its middle frame (see ``core.io.dicom``).
* Animated GIF and multi-page TIFF give their first frame.

DICOM is recognised by its content (``DICM`` at byte 128) or a ``.dcm`` name, unless the file
starts as a PNG, JPEG or GIF; everything else goes to Pillow, restricted to PNG, JPEG, BMP, TIFF
and GIF. Decoding runs in a worker process bounded in time and memory (``core.io.sandbox``) unless
the caller passes ``isolate=False`` for files it trusts. Every rejection raises
:class:`InvalidImageError` with a plain sentence a clinician can act on.
"""

from __future__ import annotations

import io
import os
import stat
from dataclasses import dataclass, field
from functools import singledispatch
from pathlib import Path
from typing import IO, Any, Callable

import numpy as np

from core.io.base import InvalidImageError, check_contract
from core.io.decode import decode_bytes
from core.io.limits import DECODE_SECONDS, MAX_BYTES, MAX_PIXELS, MIN_SIDE
from core.io.messages import file_label
from core.io.sandbox import decode_isolated

__all__ = [
    "MAX_BYTES", "MAX_PIXELS", "MIN_SIDE", "SUPPORTED_FORMATS", "ImageSource",
    "InvalidImageError", "LoadedImage", "read_image", "load_image", "is_synthetic",
]

#: Formats this module reads, for the app's file picker and help text.
SUPPORTED_FORMATS: tuple[str, ...] = ("PNG", "JPEG", "BMP", "TIFF", "GIF", "DICOM")

#: A path, the file's bytes, or a binary file-like object (e.g. Streamlit's UploadedFile).
ImageSource = str | os.PathLike | bytes | bytearray | memoryview | IO[bytes]

# PNG text keys written by the GAN generation script, and how to parse them.
_SYNTHETIC_FIELDS: dict[str, Callable[[str], Any]] = {"generator_sha256": str, "seed": int, "index": int}


@dataclass(frozen=True)
class LoadedImage:
    """An image read from a file, with what is safe to show about it.

    Attributes:
        pixels: ``uint8`` array ``(H, W, 3)``, RGB (see the module docstring).
        format: ``"PNG"``, ``"JPEG"``, ``"BMP"``, ``"TIFF"``, ``"GIF"`` or ``"DICOM"``.
        metadata: technical fields only. DICOM: ``modality``, ``pixel_spacing_mm``,
            ``rows``, ``columns``, ``bits_stored``, ``photometric_interpretation``,
            ``frames``, ``body_part``, ``transfer_syntax`` (never a patient identifier).
            Other formats: ``mode`` (Pillow mode as stored), ``frames``, and for
            PNG every text chunk (keyword -> text).
        synthetic: True when the PNG says it was made by a generator (``synthetic=true``).
        synthetic_info: for synthetic images, ``generator_sha256`` (str), ``seed`` and
            ``index`` (int) where present; empty otherwise.
    """

    pixels: np.ndarray
    format: str
    metadata: dict[str, Any]
    synthetic: bool = False
    synthetic_info: dict[str, Any] = field(default_factory=dict)


def read_image(
    source: ImageSource,
    *,
    max_bytes: int = MAX_BYTES,
    max_pixels: int = MAX_PIXELS,
    min_side: int = MIN_SIDE,
    isolate: bool = True,
    timeout_s: float = DECODE_SECONDS,
) -> LoadedImage:
    """Read and validate an image file.

    Args:
        source: a path, the file's bytes, or a binary file-like object. A
            seekable object is read from its start and its position is
            restored afterwards (Streamlit reads uploads again).
        max_bytes: largest file accepted, in bytes.
        max_pixels: most pixels accepted (per frame).
        min_side: fewest pixels accepted on each side.
        isolate: decode in the bounded worker process (the default, and the only choice for
            uploads); False decodes in this process, for trusted files read in bulk.
        timeout_s: wall time the worker may spend on this file before it is stopped.

    Returns:
        The pixels with their format, safe metadata and synthetic-image marking.

    Raises:
        InvalidImageError: the file is missing, empty, too large, not a
            supported image, damaged, or its image is too big or too small.
    """
    data, name = _read_source(source, max_bytes)
    label = file_label(name)
    if not data:
        raise InvalidImageError(f"{label} is empty (0 bytes).")
    _check_byte_count(len(data), max_bytes, label)
    if isolate:
        decoded = decode_isolated(data, name, max_pixels=max_pixels, min_side=min_side, seconds=timeout_s)
    else:
        decoded = decode_bytes(data, name, max_pixels=max_pixels, min_side=min_side)
    pixels = check_contract(decoded.pixels, label=label, max_pixels=max_pixels, min_side=min_side)
    synthetic, info = _synthetic_marking(decoded.metadata)
    return LoadedImage(pixels, decoded.format, decoded.metadata, synthetic, info)


def load_image(
    source: ImageSource,
    *,
    max_bytes: int = MAX_BYTES,
    max_pixels: int = MAX_PIXELS,
    min_side: int = MIN_SIDE,
    isolate: bool = True,
) -> np.ndarray:
    """Read an image file into a ``uint8`` RGB array of shape ``(H, W, 3)``.

    Args:
        source: a path, the file's bytes, or a binary file-like object.
        max_bytes: largest file accepted, in bytes.
        max_pixels: most pixels accepted (per frame).
        min_side: fewest pixels accepted on each side.
        isolate: see :func:`read_image`.

    Returns:
        ``read_image(source, ...).pixels``.

    Raises:
        InvalidImageError: see :func:`read_image`.
    """
    return read_image(source, max_bytes=max_bytes, max_pixels=max_pixels, min_side=min_side, isolate=isolate).pixels


def is_synthetic(source: ImageSource, *, isolate: bool = True) -> bool:
    """True when the image carries the generator's ``synthetic=true`` PNG marking.

    Args:
        source: a path, the file's bytes, or a binary file-like object.
        isolate: see :func:`read_image`.

    Returns:
        Whether the image was made by an image generator (e.g. the project's DCGAN).

    Raises:
        InvalidImageError: see :func:`read_image`.
    """
    return read_image(source, isolate=isolate).synthetic


def _synthetic_marking(metadata: dict[str, Any]) -> tuple[bool, dict[str, Any]]:
    if str(metadata.get("synthetic", "")).strip().lower() != "true":
        return False, {}
    info: dict[str, Any] = {}
    for key, parse in _SYNTHETIC_FIELDS.items():
        if key in metadata:
            try:
                info[key] = parse(metadata[key])
            except ValueError:  # keep what the file says rather than lose it
                info[key] = metadata[key]
    return True, info


def _check_byte_count(size: int, max_bytes: int, label: str) -> None:
    if size > max_bytes:
        raise InvalidImageError(
            f"{label} is {_megabytes(size)}, larger than the {_megabytes(max_bytes)} this tool "
            "accepts; export a smaller or compressed version of the image."
        )


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.3g} MB"


@singledispatch
def _read_source(source: Any, max_bytes: int) -> tuple[bytes, str]:
    """Return the file's bytes (at most ``max_bytes + 1``) and its base name ('' if unknown)."""
    if callable(getattr(source, "read", None)):
        return _read_stream(source, max_bytes)
    raise InvalidImageError(
        f"Cannot read an image from a {type(source).__name__}; "
        "pass a file path, the file's bytes or an open binary file."
    )


@_read_source.register(bytes)
@_read_source.register(bytearray)
@_read_source.register(memoryview)
def _read_bytes(source: bytes | bytearray | memoryview, max_bytes: int) -> tuple[bytes, str]:
    return bytes(source), ""


@_read_source.register(str)
@_read_source.register(os.PathLike)
def _read_path(source: str | os.PathLike, max_bytes: int) -> tuple[bytes, str]:
    path = Path(source)
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise InvalidImageError(f"'{path}' is a folder, not an image file.")
        # Refuse an oversized file before reading a byte of it.
        _check_byte_count(info.st_size, max_bytes, file_label(path.name))
        with path.open("rb") as handle:
            return handle.read(max_bytes + 1), path.name
    except FileNotFoundError:
        raise InvalidImageError(f"The file '{path}' does not exist; check its name and folder.") from None
    except OSError as exc:  # strerror is the operating system's own short phrase, e.g. "Permission denied"
        reason = f": {exc.strerror}" if exc.strerror else ""
        raise InvalidImageError(
            f"The file '{path}' cannot be opened{reason}; check that it exists and may be read."
        ) from None


def _read_stream(stream: IO[bytes], max_bytes: int) -> tuple[bytes, str]:
    raw_name = getattr(stream, "name", "")
    name = Path(raw_name).name if isinstance(raw_name, str) else ""
    label = file_label(name)
    try:
        data = _read_seekable(stream, max_bytes, label) if _is_seekable(stream) else stream.read(max_bytes + 1)
    except InvalidImageError:
        raise
    except (OSError, ValueError):  # e.g. a closed file
        raise InvalidImageError(
            f"{label} cannot be read (it may have been closed or moved); upload it again."
        ) from None
    if isinstance(data, str):
        raise InvalidImageError(f"{label} was opened as text; open it in binary mode ('rb').")
    return bytes(data), name


def _read_seekable(stream: IO[bytes], max_bytes: int, label: str) -> bytes:
    start = stream.tell()
    try:
        _check_byte_count(stream.seek(0, io.SEEK_END), max_bytes, label)
        stream.seek(0)
        return stream.read(max_bytes + 1)
    finally:
        stream.seek(start)  # the caller (e.g. Streamlit) may read the upload again


def _is_seekable(stream: IO[bytes]) -> bool:
    try:
        return bool(stream.seekable())
    except (AttributeError, OSError, ValueError):
        return False
