"""Reading PNG, JPEG, BMP, TIFF and GIF files with Pillow.

Pillow does the decoding; this module restricts it to the formats the tool
supports, enforces the pixel limits before decoding, applies the EXIF
orientation and converts every Pillow mode to the ``uint8`` RGB contract of
``core.io``. Use ``core.io.read_image``; this module is its Pillow backend.
"""

from __future__ import annotations

import io
import struct
import warnings
from typing import Callable

import numpy as np

# Importing a plugin registers it; Image.open(formats=...) only knows registered ones.
from PIL import (  # noqa: F401
    BmpImagePlugin,
    GifImagePlugin,
    Image,
    ImageOps,
    JpegImagePlugin,
    PngImagePlugin,
    TiffImagePlugin,
    UnidentifiedImageError,
)

from core.io.base import Decoded, InvalidImageError, check_dimensions, grey_to_rgb, window_to_uint8
from core.io.messages import printable

#: Pillow plugins allowed to open a file; the rest of Pillow's decoders stay out of reach.
PILLOW_FORMATS: tuple[str, ...] = ("PNG", "JPEG", "BMP", "TIFF", "GIF")

SUPPORTED_SENTENCE = "supported formats are PNG, JPEG, BMP, TIFF, GIF and DICOM"

# Most PNG text chunks kept in the metadata, and their longest key and text.
_TEXT_CHUNKS, _TEXT_KEY_CHARS, _TEXT_VALUE_CHARS = 32, 80, 2000

# The JPEG plugin labels camera JPEGs that carry a second (preview) picture "MPO".
_FORMAT_NAMES = {"MPO": "JPEG"}

# Magic numbers, used only to word the message when Pillow refuses a file.
_SIGNATURES: dict[bytes, str] = {
    b"\x89PNG\r\n\x1a\n": "PNG",
    b"\xff\xd8\xff": "JPEG",
    b"GIF87a": "GIF",
    b"GIF89a": "GIF",
    b"II*\x00": "TIFF",
    b"MM\x00*": "TIFF",
    b"BM": "BMP",
}


def decode_raster(data: bytes, label: str, *, max_pixels: int, min_side: int) -> Decoded:
    """Decode a Pillow-readable image into the ``uint8`` RGB contract.

    Args:
        data: the whole file.
        label: how the file is named in messages, e.g. ``"The file 'a.png'"``.
        max_pixels: most pixels accepted, checked on the header before decoding.
        min_side: fewest pixels accepted on either side.

    Returns:
        The pixels (first frame of an animation or multi-page TIFF, upright per
        EXIF), the format name, and metadata: ``mode`` (Pillow mode as stored),
        ``frames``, and for PNG every text chunk (keyword -> text).

    Raises:
        InvalidImageError: not a supported image, damaged, or outside the limits.
    """
    image = _open(data, label, max_pixels=max_pixels, min_side=min_side)
    with image:
        check_dimensions(*image.size, label=label, max_pixels=max_pixels, min_side=min_side)
        fmt = _FORMAT_NAMES.get(image.format or "", image.format or "image")
        try:
            image.load()
        except Image.DecompressionBombError:
            raise InvalidImageError(_bomb_message(label, max_pixels)) from None
        except MemoryError:
            raise
        except Exception:  # Pillow signals damage with many exception types
            raise InvalidImageError(_damaged_message(label, fmt)) from None
        metadata = {**_text_chunks(image), "mode": image.mode, "frames": _frame_count(image)}
        pixels = _to_rgb(_upright(image), label)
    return Decoded(pixels, fmt, metadata)


def _open(data: bytes, label: str, *, max_pixels: int, min_side: int) -> Image.Image:
    # Our own max_pixels check is the guard; Pillow's global warning would only
    # repeat it (and would be raised as an error under ``-W error``).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            return Image.open(io.BytesIO(data), formats=PILLOW_FORMATS)
        except Image.DecompressionBombError:
            raise InvalidImageError(_bomb_message(label, max_pixels)) from None
        except UnidentifiedImageError:
            raise _unidentified(data, label, max_pixels=max_pixels, min_side=min_side) from None
        except MemoryError:
            raise
        except Exception:
            raise InvalidImageError(_damaged_message(label, _signature(data) or "image")) from None


def _unidentified(data: bytes, label: str, *, max_pixels: int, min_side: int) -> InvalidImageError:
    fmt = _signature(data)
    if fmt is None:
        return InvalidImageError(f"{label} is not an image this tool can read; {SUPPORTED_SENTENCE}.")
    # Pillow refuses zero-sized images without saying so; read the header to tell the user.
    size = _declared_size(fmt, data)
    if size is not None:
        try:
            check_dimensions(*size, label=label, max_pixels=max_pixels, min_side=min_side)
        except InvalidImageError as exc:
            return exc
    return InvalidImageError(
        f"{label} looks like a {fmt} image but is damaged or uses a variant of {fmt} this tool "
        "cannot read; export or copy the image again."
    )


def _signature(data: bytes) -> str | None:
    return next((fmt for magic, fmt in _SIGNATURES.items() if data.startswith(magic)), None)


def _png_size(data: bytes) -> tuple[int, int]:
    return struct.unpack(">II", data[16:24])  # IHDR is always the first chunk


def _gif_size(data: bytes) -> tuple[int, int]:
    return struct.unpack("<HH", data[6:10])  # logical screen descriptor


def _bmp_size(data: bytes) -> tuple[int, int]:
    (header_size,) = struct.unpack("<I", data[14:18])
    if header_size == 12:  # the old OS/2 header stores 16-bit sizes
        return struct.unpack("<HH", data[18:22])
    width, height = struct.unpack("<ii", data[18:26])
    return width, abs(height)  # negative height means top-down rows


def _tiff_size(data: bytes) -> tuple[int, int]:
    header = data[:16] if 43 in data[2:4] else data[:8]  # BigTIFF headers are 16 bytes
    ifd = TiffImagePlugin.ImageFileDirectory_v2(ifh=header)
    stream = io.BytesIO(data)
    stream.seek(ifd.next)  # offset of the first image's directory
    ifd.load(stream)
    return int(ifd.get(256, 0)), int(ifd.get(257, 0))


_SIZE_READERS: dict[str, Callable[[bytes], tuple[int, int]]] = {
    "PNG": _png_size,
    "GIF": _gif_size,
    "BMP": _bmp_size,
    "TIFF": _tiff_size,
}


def _declared_size(fmt: str, data: bytes) -> tuple[int, int] | None:
    reader = _SIZE_READERS.get(fmt)
    try:
        return reader(data) if reader else None
    except Exception:  # a header too broken to read is reported as damaged by the caller
        return None


def _text_chunks(image: Image.Image) -> dict[str, str]:
    try:
        text = getattr(image, "text", None) or {}  # only PNG images have text chunks
    except Exception:  # Pillow reads the chunks after the image data, which may be damaged
        return {}
    # Bounded: a file may carry megabytes of text, and every key ends up in the metadata shown.
    chunks = [(printable(key)[:_TEXT_KEY_CHARS], value[:_TEXT_VALUE_CHARS]) for key, value in text.items()
              if isinstance(value, str)]
    return dict(chunks[:_TEXT_CHUNKS])


def _frame_count(image: Image.Image) -> int:
    try:
        return int(getattr(image, "n_frames", 1))
    except Exception:  # counting walks every frame of a GIF or TIFF, damaged ones included
        return 1


def _upright(image: Image.Image) -> Image.Image:
    try:
        return ImageOps.exif_transpose(image)
    except Exception:  # an unreadable EXIF block should not cost the user the image
        return image


#: Largest value of a 12-bit image: 16-bit integer files that go above it use the whole 16-bit scale.
_TWELVE_BIT_MAX = 4095


def _windowed_grey(image: Image.Image) -> np.ndarray:
    values = np.asarray(image)
    if np.issubdtype(values.dtype, np.integer) and values.size and values.max() > _TWELVE_BIT_MAX:
        # An 8-bit picture saved as 16 bits (x 257 or x 256) must show the same grey levels as the original.
        return grey_to_rgb(window_to_uint8(values, 0.0, 65535.0))
    # 12-bit data in a 16-bit container, 32-bit and float images rarely use their range: stretch what is there.
    return grey_to_rgb(window_to_uint8(values))


def _on_black(image: Image.Image) -> np.ndarray:
    # Transparent areas become black, the background of the medical images we read.
    rgba = image.convert("RGBA")
    black = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
    return np.asarray(Image.alpha_composite(black, rgba).convert("RGB"))


def _plain_rgb(image: Image.Image) -> np.ndarray:
    if "transparency" in image.info:  # palette or grey images with a transparent colour
        return _on_black(image)
    return np.asarray(image.convert("RGB"))


_CONVERTERS: dict[str, Callable[[Image.Image], np.ndarray]] = {
    **{mode: _windowed_grey for mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F")},
    **{mode: _on_black for mode in ("LA", "La", "PA", "RGBA", "RGBa")},
}


def _to_rgb(image: Image.Image, label: str) -> np.ndarray:
    converter = _CONVERTERS.get(image.mode, _plain_rgb)
    try:
        pixels = converter(image)
    except MemoryError:
        raise
    except Exception:
        raise InvalidImageError(
            f"{label} stores its pixels in the colour mode '{image.mode}', which this tool "
            "cannot convert to RGB; export the image as RGB or greyscale."
        ) from None
    return np.ascontiguousarray(pixels, dtype=np.uint8)


def _bomb_message(label: str, max_pixels: int) -> str:
    return (
        f"{label} declares more pixels than the {max_pixels:,} this tool accepts "
        "(it may be a 'decompression bomb'); export a smaller version of the image."
    )


def _damaged_message(label: str, fmt: str) -> str:
    return (
        f"{label} looks like a {fmt} image but is damaged or incomplete (for example cut short "
        "during a download or copy), so it cannot be read; export or copy it again."
    )
