"""Reading DICOM files with pydicom 3 into the ``uint8`` RGB contract of ``core.io``.

Greyscale images go through the display pipeline a viewer would apply: the
modality LUT (Rescale Slope/Intercept, e.g. to Hounsfield units), then the VOI
transform (the file's Window Center/Width or VOI LUT) onto 8 bits, or a robust
window when the file has none, then MONOCHROME1 inversion so that high values
are bright as on any other image. A multi-frame file gives its middle frame.

Only technical fields reach the metadata: no name, id, date or other
identifier of the patient, the institution or the operator ever leaves here.
Use ``core.io.read_image``; this module is its DICOM backend.
"""

from __future__ import annotations

import io
from typing import Any, Callable

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.pixels import apply_color_lut, apply_modality_lut, apply_voi_lut, get_decoder
from pydicom.pixels.utils import get_nr_frames

from core.io.base import Decoded, InvalidImageError, check_dimensions, grey_to_rgb, window_to_uint8

#: File name endings that mark a DICOM file even without the 'DICM' preamble.
DICOM_SUFFIXES: tuple[str, ...] = (".dcm", ".dicom", ".dic")

_PIXEL_ELEMENTS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")

# pydicom names the gdcm plugin after its module; pip knows it as python-gdcm.
_PIP_NAMES = {"gdcm": "python-gdcm"}


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
        The pixels, ``"DICOM"`` and metadata with ``modality``,
        ``pixel_spacing_mm`` ((row, column) in mm, or None), ``rows``,
        ``columns``, ``bits_stored``, ``photometric_interpretation``,
        ``frames``, ``body_part`` and ``transfer_syntax``.

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
    check_dimensions(
        int(ds.get("Columns") or 0), int(ds.get("Rows") or 0),
        label=label, max_pixels=max_pixels, min_side=min_side,
    )
    _check_decodable(ds, label)
    frames = get_nr_frames(ds, warn=False)
    array = _middle_frame(ds, frames, label)
    interpretation = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).upper()
    converter = _CONVERTERS.get(interpretation)
    if converter is None:
        raise InvalidImageError(
            f"{label} stores its pixels as '{interpretation}', a colour encoding this tool does not support."
        )
    try:
        pixels = converter(array, ds)
    except (ValueError, KeyError, AttributeError, IndexError, TypeError) as exc:
        raise InvalidImageError(
            f"{label} has inconsistent display settings (rescale, window or lookup table), "
            f"so its image cannot be shown reliably. Details: {exc}."
        ) from None
    return Decoded(np.ascontiguousarray(pixels, dtype=np.uint8), "DICOM", _safe_metadata(ds, frames))


def _read_dataset(data: bytes, label: str) -> Dataset:
    has_preamble = data[128:132] == b"DICM"
    try:
        # Without the preamble (a bare dataset named .dcm) pydicom must be told to try.
        ds = pydicom.dcmread(io.BytesIO(data), force=not has_preamble)
    except Exception as exc:
        raise InvalidImageError(
            f"{label} is not a readable DICOM file: it is damaged or incomplete. Details: {exc}."
        ) from None
    # Forced reading turns any bytes into some dataset; a real one always names its SOP class.
    if not has_preamble and not any(keyword in ds for keyword in ("SOPClassUID", *_PIXEL_ELEMENTS)):
        raise InvalidImageError(
            f"{label} has a DICOM name but its content is not DICOM; "
            "supported formats are PNG, JPEG, BMP, TIFF, GIF and DICOM."
        )
    return ds


def _check_decodable(ds: Dataset, label: str) -> None:
    file_meta = getattr(ds, "file_meta", None)
    uid = getattr(file_meta, "TransferSyntaxUID", None) if file_meta is not None else None
    if uid is None:
        return  # pydicom guesses the encoding of bare datasets; decoding will tell
    try:
        decoder = get_decoder(uid)
    except NotImplementedError:
        raise InvalidImageError(
            f"{label} is encoded with the transfer syntax '{uid.name}' ({uid}), for which no "
            "DICOM decoder exists in this tool; convert the study to an uncompressed or "
            "JPEG-compressed DICOM and try again."
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
    except Exception as exc:  # decoders raise many types for bad streams
        raise InvalidImageError(
            f"{label} is a DICOM file whose pixel data is damaged or incomplete, so the image "
            f"cannot be decoded; export the study again. Details: {exc}."
        ) from None


def _grey(array: np.ndarray, ds: Dataset) -> np.ndarray:
    values = apply_modality_lut(array, ds)
    if ds.get("VOILUTSequence"):
        # A VOI LUT's outputs span 0 .. 2**bits - 1, bits being its descriptor's third value.
        bits = int(ds.VOILUTSequence[0].LUTDescriptor[2])
        grey = window_to_uint8(apply_voi_lut(values, ds), 0, 2**bits - 1)
    elif "WindowCenter" in ds and "WindowWidth" in ds:
        grey = _windowed(values, ds)
    else:
        grey = window_to_uint8(values)
    if str(ds.get("PhotometricInterpretation", "")).upper() == "MONOCHROME1":  # low values are bright
        grey = 255 - grey
    return grey_to_rgb(grey)


def _windowed(values: np.ndarray, ds: Dataset) -> np.ndarray:
    try:
        windowed = apply_voi_lut(values, ds)
        # pydicom maps onto the stored value range; values far outside the
        # window land exactly on its ends, which tells us that range.
        low, high = apply_voi_lut(np.array([-np.inf, np.inf]), ds)
    except ValueError:  # e.g. a zero window width: fall back to a robust window
        return window_to_uint8(values)
    return window_to_uint8(windowed, float(low), float(high))


def _colour(array: np.ndarray, ds: Dataset) -> np.ndarray:
    # pydicom has already converted YBR to RGB; only the bit depth is left to fix.
    bits = int(ds.get("BitsStored") or 8)
    return window_to_uint8(array, 0, 2**bits - 1) if bits > 8 else array


def _palette(array: np.ndarray, ds: Dataset) -> np.ndarray:
    rgb = apply_color_lut(array, ds)
    return window_to_uint8(rgb, 0, np.iinfo(rgb.dtype).max) if rgb.dtype != np.uint8 else rgb


_CONVERTERS: dict[str, Callable[[np.ndarray, Dataset], np.ndarray]] = {
    "MONOCHROME1": _grey,
    "MONOCHROME2": _grey,
    "RGB": _colour,
    "YBR_FULL": _colour,
    "YBR_FULL_422": _colour,
    "YBR_ICT": _colour,
    "YBR_RCT": _colour,
    "PALETTE COLOR": _palette,
}


def _safe_metadata(ds: Dataset, frames: int) -> dict[str, Any]:
    # An allow-list on purpose: anything not named here never leaves the module.
    spacing = ds.get("PixelSpacing") or ds.get("ImagerPixelSpacing")
    transfer_syntax = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    return {
        "modality": str(ds.get("Modality", "")) or None,
        "pixel_spacing_mm": tuple(float(v) for v in spacing) if spacing else None,
        "rows": int(ds.Rows),
        "columns": int(ds.Columns),
        "bits_stored": int(ds.get("BitsStored") or 0) or None,
        "photometric_interpretation": str(ds.get("PhotometricInterpretation", "")) or None,
        "frames": frames,
        "body_part": str(ds.get("BodyPartExamined", "")) or None,
        "transfer_syntax": transfer_syntax.name if transfer_syntax else None,
    }
