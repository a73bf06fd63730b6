"""Reading DICOM files with pydicom 3 into the ``uint8`` RGB contract of ``core.io``.

Every element the decoding depends on (Rows, Columns, NumberOfFrames, the transfer syntax) is
read through a guard that refuses a damaged value with a sentence; the display conversion lives in
``core.io.dicom_display``. A multi-frame file gives its middle frame, decoded alone. Compressed
transfer syntaxes (JPEG, JPEG Lossless, JPEG-LS, JPEG 2000, HTJ2K, RLE) decode through pydicom's
plugins (pylibjpeg with its libjpeg, openjpeg and rle plugins, pinned in requirements.txt).

pydicom and its plugins log and warn with raw header bytes, which can hold patient identifiers: at
import this module raises their loggers' level above CRITICAL and stops them propagating to the
application's handlers, and readers run with warnings silenced (``core.io.decode``).
Use ``core.io.read_image``; this module is its DICOM backend.
"""

from __future__ import annotations

import io
import logging
import math
import struct
import zlib

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.pixels import get_decoder

from core.io.base import Decoded, InvalidImageError, check_dimensions
from core.io.dicom_display import CONVERTERS, safe_metadata

#: File name endings that mark a DICOM file even without the 'DICM' preamble.
DICOM_SUFFIXES: tuple[str, ...] = (".dcm", ".dicom", ".dic")
#: Loggers that may print header bytes (identifiers included) of a damaged file.
QUIET_LOGGERS: tuple[str, ...] = ("pydicom", "pylibjpeg", "openjpeg", "libjpeg", "rle", "gdcm")
#: Most frames a file may declare; a cine loop has hundreds, a damaged count billions.
MAX_FRAMES = 100_000

#: Most bytes a deflated DICOM dataset may inflate to (a 40-megapixel 16-bit image has 80 MB).
MAX_INFLATED_BYTES = 256 * 2**20

_PIXEL_ELEMENTS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
# The transfer syntax element of the file meta, deflated and as it is rewritten once inflated.
_DEFLATED_ELEMENT = b"\x02\x00\x10\x00UI\x16\x001.2.840.10008.1.2.1.99"
_EXPLICIT_ELEMENT = b"\x02\x00\x10\x00UI\x14\x001.2.840.10008.1.2.1\x00"

# pydicom names the gdcm plugin after its module; pip knows it as python-gdcm.
_PIP_NAMES = {"gdcm": "python-gdcm"}


def _quiet_decoder_logs() -> None:
    for name in QUIET_LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(logging.CRITICAL + 1)
        logger.propagate = False


_quiet_decoder_logs()


def looks_like_dicom(data: bytes, name: str = "") -> bool:
    """True when the content has the DICOM preamble or the name a DICOM ending.

    Args:
        data: the file's bytes (the first 132 are enough).
        name: the file name, if known.

    Returns:
        Whether the file should be read as DICOM.
    """
    return data[128:132] == b"DICM" or name.lower().endswith(DICOM_SUFFIXES)


def decode_dicom(data: bytes, label: str, *, max_pixels: int, min_side: int) -> Decoded:
    """Decode the displayed image of a DICOM file.

    Args:
        data: the whole file.
        label: how the file is named in messages, e.g. ``"The file 'ct.dcm'"``.
        max_pixels: most pixels accepted per frame, checked before decoding.
        min_side: fewest pixels accepted on either side.

    Returns:
        The pixels, ``"DICOM"`` and metadata (see ``core.io.dicom_display.safe_metadata``).

    Raises:
        InvalidImageError: not DICOM, no pixel data, a compression this
            installation cannot decode, damaged pixel data, or outside the limits.
    """
    ds = _read_dataset(data, label)
    if not any(element in ds for element in _PIXEL_ELEMENTS):
        raise InvalidImageError(
            f"{label} is a DICOM file without an image (it has no pixel data); it may be a "
            "report, a structured document or a presentation state. Choose an image series instead."
        )
    rows, columns = _count(ds, "Rows", label), _count(ds, "Columns", label)
    check_dimensions(columns, rows, label=label, max_pixels=max_pixels, min_side=min_side)
    frames = _frames(ds, label)
    _check_decodable(ds, label)
    interpretation = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip().upper()
    if interpretation not in CONVERTERS:
        raise InvalidImageError(
            f"{label} stores its pixels in a colour encoding this tool does not support; "
            "export the image as greyscale or RGB."
        )
    dimensions, convert = CONVERTERS[interpretation]
    array = _middle_frame(ds, frames, label)
    if array.shape[:2] != (rows, columns) or array.ndim != dimensions:
        raise InvalidImageError(
            f"{label} holds pixel data that does not match the image size and colour layout it declares, "
            "so it cannot be shown reliably; export the study again."
        )
    try:
        pixels = convert(array, ds)
    except MemoryError:
        raise
    except Exception:  # damaged rescale, window or LUT elements fail in many ways
        raise InvalidImageError(
            f"{label} has inconsistent display settings (rescale, window or lookup table), "
            "so its image cannot be shown reliably; export the study again."
        ) from None
    return Decoded(np.ascontiguousarray(pixels, dtype=np.uint8), "DICOM", safe_metadata(ds, rows, columns, frames))


def _inflated(data: bytes, label: str) -> bytes:
    """A deflated file rewritten as explicit VR little endian, inflating at most :data:`MAX_INFLATED_BYTES`.

    pydicom inflates a deflated dataset whole before anything can be checked, so a megabyte can
    become gigabytes; here the inflation stops at the cap and the file is refused.
    """
    try:
        tag, vr, size, group_length = struct.unpack("<4s2sHI", data[132:144])
    except struct.error:
        return data
    meta_end = 144 + group_length
    if tag != b"\x02\x00\x00\x00" or vr != b"UL" or size != 4 or _DEFLATED_ELEMENT not in data[144:meta_end]:
        return data
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    try:
        body = inflater.decompress(data[meta_end:], MAX_INFLATED_BYTES + 1)
    except zlib.error:
        raise InvalidImageError(
            f"{label} is a compressed (deflated) DICOM file whose data is damaged; export the study again."
        ) from None
    if len(body) > MAX_INFLATED_BYTES:
        raise InvalidImageError(
            f"{label} expands to more than {MAX_INFLATED_BYTES // 2**20} MB when decompressed (it may be a "
            "'decompression bomb'); export the study uncompressed or as separate images."
        )
    meta = data[144:meta_end].replace(_DEFLATED_ELEMENT, _EXPLICIT_ELEMENT)
    return data[:140] + struct.pack("<I", len(meta)) + meta + body


def _read_dataset(data: bytes, label: str) -> Dataset:
    data = _inflated(data, label)
    has_preamble = data[128:132] == b"DICM"
    try:
        # Without the preamble (a bare dataset named .dcm) pydicom must be told to try.
        ds = pydicom.dcmread(io.BytesIO(data), force=not has_preamble)
    except MemoryError:
        raise
    except Exception:
        raise InvalidImageError(
            f"{label} is not a readable DICOM file: it is damaged or incomplete; export it again."
        ) from None
    # Forced reading turns any bytes into some dataset; a real one always names its SOP class.
    if not has_preamble and not any(keyword in ds for keyword in ("SOPClassUID", *_PIXEL_ELEMENTS)):
        raise InvalidImageError(
            f"{label} has a DICOM name but its content is not DICOM; "
            "supported formats are PNG, JPEG, BMP, TIFF, GIF and DICOM."
        )
    return ds


def _whole_number(value: object) -> int | None:
    # pydicom hands back int, IS/DS strings, floats or lists for a damaged element; one finite whole number only.
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return None
    return int(number) if math.isfinite(number) and number == int(number) else None


def _count(ds: Dataset, keyword: str, label: str) -> int:
    try:
        value = ds.get(keyword)
    except Exception:  # the raw element cannot be converted (wrong length or VR)
        value = None
    number = _whole_number(value) if value is not None else 0
    if number is None or number < 0:
        raise InvalidImageError(
            f"{label} has an invalid {keyword} value, so the size of its image is unknown; export the study again."
        )
    return number


def _frames(ds: Dataset, label: str) -> int:
    if "NumberOfFrames" not in ds:
        return 1
    try:
        value = ds.get("NumberOfFrames")
    except Exception:
        value = "invalid"
    frames = _whole_number(value) if value not in (None, "") else 1
    if frames is None or frames < 0 or frames > MAX_FRAMES:
        raise InvalidImageError(
            f"{label} has an invalid number of frames, so its image cannot be located; export the study again."
        )
    return max(frames, 1)  # 0 means 1 in files written by some older devices


def _check_decodable(ds: Dataset, label: str) -> None:
    file_meta = getattr(ds, "file_meta", None)
    uid = getattr(file_meta, "TransferSyntaxUID", None) if file_meta is not None else None
    if uid is None:
        return  # pydicom guesses the encoding of bare datasets; decoding will tell
    try:
        decoder = get_decoder(uid)
    except Exception:
        raise InvalidImageError(
            f"{label} is encoded with a transfer syntax for which no DICOM decoder exists in this tool; "
            "convert the study to an uncompressed or JPEG-compressed DICOM and try again."
        ) from None
    if not decoder.is_available:
        options = "; ".join(_pip_requirement(text) for text in decoder.missing_dependencies)
        raise InvalidImageError(
            f"{label} is compressed with '{uid.name}', which this installation cannot decode. "
            f"Export the study uncompressed, or ask your administrator to install one of these "
            f"Python packages: {options}."
        )


def _pip_requirement(missing: str) -> str:
    # pydicom says e.g. "pylibjpeg - requires pylibjpeg>=2.0 and pylibjpeg-openjpeg>=2.0";
    # numpy is always installed here, so it is not worth naming.
    requirement = missing.split("requires", 1)[-1].strip().removeprefix("numpy and ").replace(" and ", " + ")
    for module, package in _PIP_NAMES.items():
        if requirement.startswith(module):
            requirement = package + requirement[len(module):]
    return requirement


def _middle_frame(ds: Dataset, frames: int, label: str) -> np.ndarray:
    try:
        if frames > 1:
            # Decode only the frame we show: a cine loop can be gigabytes in full.
            ds.pixel_array_options(index=frames // 2)
        return ds.pixel_array
    except (MemoryError, KeyboardInterrupt, SystemExit):
        raise
    except BaseException:  # decoders raise many types for bad streams; Rust ones panic (a BaseException)
        raise InvalidImageError(
            f"{label} is a DICOM file whose pixel data is damaged or incomplete, so the image "
            "cannot be decoded; export the study again."
        ) from None
