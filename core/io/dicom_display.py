"""What a DICOM viewer does to decoded values before showing them, and the metadata safe to show.

Greyscale: the modality LUT (Rescale Slope/Intercept, e.g. to Hounsfield units), then the VOI
transform (the file's Window Center/Width or VOI LUT) onto 8 bits, or a robust window when the file
has none, then MONOCHROME1 inversion so that high values are bright. Colour: pydicom has already
converted YBR to RGB; only the bit depth is left. Palette: the file's colour LUT.
Only technical fields reach the metadata (an allow-list): never a name, id, date or institution.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
from pydicom.dataset import Dataset
from pydicom.pixels import apply_color_lut, apply_modality_lut, apply_voi_lut

from core.io.base import grey_to_rgb, window_to_uint8
from core.io.messages import printable


def _grey(array: np.ndarray, ds: Dataset) -> np.ndarray:
    values = apply_modality_lut(array, ds)
    if ds.get("VOILUTSequence"):
        # A VOI LUT's outputs span 0 .. 2**bits - 1, bits being its descriptor's third value.
        bits = min(int(ds.VOILUTSequence[0].LUTDescriptor[2]), 32)
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
    bits = min(int(ds.get("BitsStored") or 8), 32)
    return window_to_uint8(array, 0, 2**bits - 1) if bits > 8 else array


def _palette(array: np.ndarray, ds: Dataset) -> np.ndarray:
    rgb = apply_color_lut(array, ds)
    return window_to_uint8(rgb, 0, np.iinfo(rgb.dtype).max) if rgb.dtype != np.uint8 else rgb


#: Photometric interpretation -> (dimensions of the decoded frame, conversion to RGB).
CONVERTERS: dict[str, tuple[int, Callable[[np.ndarray, Dataset], np.ndarray]]] = {
    "MONOCHROME1": (2, _grey),
    "MONOCHROME2": (2, _grey),
    "RGB": (3, _colour),
    "YBR_FULL": (3, _colour),
    "YBR_FULL_422": (3, _colour),
    "YBR_ICT": (3, _colour),
    "YBR_RCT": (3, _colour),
    "PALETTE COLOR": (2, _palette),
}


def _or_none(read: Callable[[], Any]) -> Any:
    try:
        return read()
    except Exception:  # a damaged element costs its field, never the image
        return None


def _spacing(ds: Dataset) -> tuple[float, float] | None:
    spacing = ds.get("PixelSpacing") or ds.get("ImagerPixelSpacing")
    values = tuple(float(value) for value in spacing)
    if len(values) != 2 or not all(math.isfinite(value) and value > 0 for value in values):
        return None
    return values


def _text(ds: Dataset, keyword: str) -> str | None:
    return printable(str(ds.get(keyword, "")))[:64] or None


def safe_metadata(ds: Dataset, rows: int, columns: int, frames: int) -> dict[str, Any]:
    """The technical fields of a DICOM file, each ``None`` when absent or unreadable.

    Args:
        ds: the dataset.
        rows: its validated Rows.
        columns: its validated Columns.
        frames: its validated number of frames.

    Returns:
        ``modality``, ``pixel_spacing_mm`` ((row, column) in mm), ``rows``, ``columns``,
        ``bits_stored``, ``photometric_interpretation``, ``frames``, ``body_part``, ``transfer_syntax``.
    """
    # An allow-list on purpose: anything not named here never leaves core.io.
    return {
        "modality": _or_none(lambda: _text(ds, "Modality")),
        "pixel_spacing_mm": _or_none(lambda: _spacing(ds)),
        "rows": rows,
        "columns": columns,
        "bits_stored": _or_none(lambda: int(ds.get("BitsStored") or 0) or None),
        "photometric_interpretation": _or_none(lambda: _text(ds, "PhotometricInterpretation")),
        "frames": frames,
        "body_part": _or_none(lambda: _text(ds, "BodyPartExamined")),
        "transfer_syntax": _or_none(lambda: ds.file_meta.TransferSyntaxUID.name[:120]),
    }
