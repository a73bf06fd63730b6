"""Bytes -> validated pixels, in the calling process, with the safety net every reader shares.

:func:`decode_bytes` picks the reader by content (a strong raster signature first, then DICOM by its
``DICM`` marker or name, then Pillow), silences the libraries' warnings (they can quote file
content, DICOM identifiers included), turns any exception a damaged file provokes into
:class:`InvalidImageError` and checks the output contract. It runs inside the bounded worker
(``core.io.worker``); call it directly only for files you trust (e.g. a dataset on your own disk).
"""

from __future__ import annotations

import warnings
from typing import Callable

from core.io.base import Decoded, InvalidImageError, check_contract
from core.io.dicom import decode_dicom, looks_like_dicom
from core.io.messages import file_label
from core.io.raster import decode_raster

Decoder = Callable[..., Decoded]

# Signatures no DICOM preamble carries in practice: a PNG, JPEG or GIF holding 'DICM' at byte 128
# is a picture. (TIFF is left out on purpose: dual-personality DICOM-TIFF files put a TIFF header
# in the preamble, and DICOM is what they mean.)
_RASTER_SIGNATURES: tuple[bytes, ...] = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a")

# First match wins.
_DECODERS: tuple[tuple[Callable[[bytes, str], bool], Decoder], ...] = (
    (lambda data, name: data.startswith(_RASTER_SIGNATURES), decode_raster),
    (looks_like_dicom, decode_dicom),
    (lambda data, name: True, decode_raster),
)


def memory_message(label: str) -> str:
    """The sentence for a file whose decoding needs more memory than a decoder may use."""
    return (
        f"{label} took too much memory to decode (it may be damaged or a 'decompression bomb'); "
        "export a smaller or uncompressed version of the image."
    )


def damaged_message(label: str) -> str:
    """The sentence for a file that made a decoder fail in a way no reader foresaw."""
    return (
        f"{label} is damaged or uses a variant of its format this tool cannot read, so it cannot be "
        "decoded; export or copy the image again."
    )


def decode_bytes(data: bytes, name: str = "", *, max_pixels: int, min_side: int) -> Decoded:
    """Decode a whole file held in memory, in this process.

    Args:
        data: the file's bytes (already checked against the byte limit).
        name: the file's base name, for DICOM detection and messages ('' if unknown).
        max_pixels: most pixels accepted (per frame), checked before decoding where the format allows.
        min_side: fewest pixels accepted on either side.

    Returns:
        Pixels (``uint8``, ``(H, W, 3)``, within the limits), format name and safe metadata.

    Raises:
        InvalidImageError: whatever is wrong with the file, as a plain sentence.
    """
    label = file_label(name)
    decode = next(decoder for matches, decoder in _DECODERS if matches(data, name))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # library warnings can quote identifiers and bytes
            decoded = decode(data, label, max_pixels=max_pixels, min_side=min_side)
    except InvalidImageError:
        raise
    except MemoryError:
        raise InvalidImageError(memory_message(label)) from None
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException:  # the net under every reader; Rust decoders panic with a BaseException
        raise InvalidImageError(damaged_message(label)) from None
    pixels = check_contract(decoded.pixels, label=label, max_pixels=max_pixels, min_side=min_side)
    return Decoded(pixels, decoded.format, decoded.metadata)
