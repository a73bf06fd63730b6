"""DICOM files written element by element for the fuzz, and the element-level mutations applied to them.

Writing each element by hand (explicit VR little endian) lets a mutation give Rows two values, a
text value or a wrong VR, make NumberOfFrames ``inf`` or drop PixelData: things pydicom's writer
refuses to produce. Every image carries the patient identifiers in :data:`IDENTIFIERS`.
"""

from __future__ import annotations

import struct
import zlib
from typing import Callable

import numpy as np

#: Identifiers every DICOM base carries; none may appear in a message, metadata, log or stderr.
IDENTIFIERS: dict[str, str] = {
    "PatientName": "Doe^Jane", "PatientID": "MRN-483920", "PatientBirthDate": "19700101",
    "InstitutionName": "St Elsewhere Hospital",
}
#: Fragments searched for in every output (a damaged name may be split at its caret).
IDENTIFIER_FRAGMENTS: tuple[str, ...] = ("Doe^Jane", "Jane", "MRN-483920", "19700101", "Elsewhere")

_LONG_VRS = {"OB", "OW", "OF", "OD", "OL", "OV", "SQ", "UT", "UN", "UC", "UR"}
_UIDS = {"explicit": "1.2.840.10008.1.2.1", "deflated": "1.2.840.10008.1.2.1.99", "rle": "1.2.840.10008.1.2.5",
         "jpeg": "1.2.840.10008.1.2.4.50", "j2k": "1.2.840.10008.1.2.4.90", "jls": "1.2.840.10008.1.2.4.80",
         "jpegll": "1.2.840.10008.1.2.4.70", "htj2k": "1.2.840.10008.1.2.4.201"}
_TAGS = {"SOPClassUID": 0x00080016, "SOPInstanceUID": 0x00080018, "Modality": 0x00080060,
         "InstitutionName": 0x00080080, "PatientName": 0x00100010, "PatientID": 0x00100020,
         "PatientBirthDate": 0x00100030, "BodyPartExamined": 0x00180015, "SamplesPerPixel": 0x00280002,
         "PhotometricInterpretation": 0x00280004, "NumberOfFrames": 0x00280008, "Rows": 0x00280010,
         "Columns": 0x00280011, "PixelSpacing": 0x00280030, "BitsAllocated": 0x00280100,
         "BitsStored": 0x00280101, "HighBit": 0x00280102, "PixelRepresentation": 0x00280103,
         "WindowCenter": 0x00281050, "WindowWidth": 0x00281051, "RescaleIntercept": 0x00281052,
         "RescaleSlope": 0x00281053, "PixelData": 0x7FE00010}

Elements = dict[str, tuple[str, bytes]]


# ---- DICOM written element by element ---------------------------------------------------------

def element(tag: int, vr: str, value: bytes) -> bytes:
    """One explicit-VR little-endian element (value padded to an even length)."""
    if len(value) % 2:
        value += b"\0" if vr in ("UI", "OB", "UN") else b" "
    head = struct.pack("<HH", tag >> 16, tag & 0xFFFF) + vr.encode("ascii")
    if vr in _LONG_VRS:
        return head + b"\0\0" + struct.pack("<I", len(value)) + value
    return head + struct.pack("<H", len(value)) + value


def encapsulated(frames: list[bytes]) -> bytes:
    """Encapsulated pixel data: an empty offset table, one fragment per frame, a delimiter."""
    items = struct.pack("<HHI", 0xFFFE, 0xE000, 0) + b"".join(
        struct.pack("<HHI", 0xFFFE, 0xE000, len(f) + len(f) % 2) + f + b"\0" * (len(f) % 2) for f in frames)
    return items + struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)


def dicom_file(elements: Elements, syntax: str = "explicit", *, deflate: bool = False) -> bytes:
    """A DICOM Part 10 file from ``keyword -> (VR, raw value)``; encapsulated PixelData keeps its raw form."""
    uid = _UIDS[syntax].encode("ascii")
    meta = b"".join([element(0x00020001, "OB", b"\0\1"), element(0x00020002, "UI", b"1.2.840.10008.5.1.4.1.1.7"),
                     element(0x00020003, "UI", b"1.2.3.4.5.6.7.8"), element(0x00020010, "UI", uid),
                     element(0x00020012, "UI", b"1.2.3.4")])
    body = b""
    for keyword, (vr, value) in sorted(elements.items(), key=lambda item: _TAGS[item[0]]):
        if keyword == "PixelData" and syntax not in ("explicit", "deflated"):
            body += struct.pack("<HH", 0x7FE0, 0x0010) + b"OB\0\0" + b"\xff\xff\xff\xff" + value
        else:
            body += element(_TAGS[keyword], vr, value)
    if deflate:
        packer = zlib.compressobj(9, zlib.DEFLATED, -15)
        body = packer.compress(body) + packer.flush()
    return b"\0" * 128 + b"DICM" + element(0x00020000, "UL", struct.pack("<I", len(meta))) + meta + body


def _us(*values: int) -> bytes:
    return struct.pack(f"<{len(values)}H", *values)


def dicom_elements(pixels: np.ndarray, *, photometric: str = "MONOCHROME2", frames: int = 1,
                   pixel_data: bytes | None = None) -> Elements:
    """The elements of a small image (``pixels``: (H, W) uint16 or (H, W, 3) uint8), identifiers included."""
    colour = pixels.ndim == 3
    bits = 8 if colour else 16
    if pixel_data is None:  # frames one after another, as PixelData holds them
        pixel_data = np.concatenate([pixels] * frames).tobytes()
    elements: Elements = {
        "SOPClassUID": ("UI", b"1.2.840.10008.5.1.4.1.1.7"), "SOPInstanceUID": ("UI", b"1.2.3.4.5.6.7.8"),
        "Modality": ("CS", b"MR"), "BodyPartExamined": ("CS", b"HEAD"),
        **{keyword: ("PN" if keyword == "PatientName" else "DA" if "Date" in keyword else "LO", value.encode())
           for keyword, value in IDENTIFIERS.items()},
        "SamplesPerPixel": ("US", _us(3 if colour else 1)), "PhotometricInterpretation": ("CS", photometric.encode()),
        "Rows": ("US", _us(pixels.shape[0])), "Columns": ("US", _us(pixels.shape[1])),
        "PixelSpacing": ("DS", b"0.5\\0.5"), "BitsAllocated": ("US", _us(bits)),
        "BitsStored": ("US", _us(bits if colour else 12)),
        "HighBit": ("US", _us(bits - 1 if colour else 11)), "PixelRepresentation": ("US", _us(0)),
        "PixelData": ("OB" if colour else "OW", pixel_data),
    }
    if frames > 1:
        elements["NumberOfFrames"] = ("IS", str(frames).encode())
    if not colour:
        elements.update(WindowCenter=("DS", b"1024"), WindowWidth=("DS", b"2048"),
                        RescaleIntercept=("DS", b"-10"), RescaleSlope=("DS", b"1.5"))
    return elements


# ---- element-level DICOM mutations ------------------------------------------------------------

def _set(keyword: str, vr: str, value: bytes) -> Callable[[Elements], None]:
    return lambda elements: elements.__setitem__(keyword, (vr, value))


def _drop(keyword: str) -> Callable[[Elements], None]:
    return lambda elements: elements.pop(keyword, None)


def _scale_pixels(factor: float) -> Callable[[Elements], None]:
    def mutate(elements: Elements) -> None:
        vr, value = elements["PixelData"]
        elements["PixelData"] = (vr, (value * 2)[: int(len(value) * factor)])
    return mutate


ELEMENT_MUTATIONS: dict[str, Callable[[Elements], None]] = {
    **{f"{kw.lower()}-{name}": _set(kw, vr, value) for kw in ("Rows", "Columns") for name, vr, value in [
        ("multi", "US", _us(40, 40)), ("text", "IS", b"abc"), ("vr-fd", "FD", struct.pack("<d", 40.0)),
        ("vr-ds-inf", "DS", b"inf"), ("half", "US", _us(20)), ("huge", "US", _us(65535)), ("zero", "US", _us(0)),
        ("one-byte", "US", b"\x28"), ("vr-ul", "UL", struct.pack("<I", 2**31)),
        ("vr-ss", "SS", struct.pack("<h", -40))]},
    **{f"frames-{name}": _set("NumberOfFrames", vr, value) for name, vr, value in [
        ("inf", "IS", b"inf"), ("nan", "IS", b"nan"), ("huge", "IS", b"999999999"), ("negative", "IS", b"-3"),
        ("fraction", "IS", b"2.5"), ("multi", "IS", b"2\\3"), ("vr-us", "US", _us(3)),
        ("vr-fd", "FD", struct.pack("<d", 3)),
        ("more-than-data", "IS", b"5"), ("zero", "IS", b"0"), ("text", "IS", b"three"), ("exp", "DS", b"1e400")]},
    **{f"samples-{v}": _set("SamplesPerPixel", "US", _us(v)) for v in (0, 3, 4, 65535)},
    **{f"photometric-{i}": _set("PhotometricInterpretation", "CS", v) for i, v in enumerate(
        [b"YBR_PARTIAL_420", b"PALETTE COLOR", b"MONOCHROME1", b"\x00\x01\x02", b"RGB", b"YBR_FULL_422", b"HSV"])},
    **{f"bits-allocated-{v}": _set("BitsAllocated", "US", _us(v)) for v in (0, 1, 7, 8, 32, 64)},
    **{f"bits-stored-{v}": _set("BitsStored", "US", _us(v)) for v in (0, 1, 16, 40)},
    "highbit-99": _set("HighBit", "US", _us(99)), "pixelrep-1": _set("PixelRepresentation", "US", _us(1)),
    "pixelrep-5": _set("PixelRepresentation", "US", _us(5)),
    **{f"spacing-{name}": _set("PixelSpacing", "DS", v) for name, v in [
        ("single", b"0.5"), ("text", b"abc\\def"), ("inf", b"inf\\nan"), ("many", b"1\\2\\3\\4"), ("empty", b"")]},
    **{f"window-{name}": _set(kw, "DS", v) for name, kw, v in [
        ("text", "WindowCenter", b"abc"), ("zero-width", "WindowWidth", b"0"), ("multi", "WindowCenter", b"1\\2\\3"),
        ("inf", "WindowWidth", b"inf"), ("negative", "WindowWidth", b"-50")]},
    **{f"rescale-{name}": _set(kw, "DS", v) for name, kw, v in [
        ("text", "RescaleSlope", b"x"), ("inf", "RescaleSlope", b"inf"), ("huge", "RescaleIntercept", b"1e308"),
        ("multi", "RescaleSlope", b"1\\2")]},
    "pixels-truncated": _scale_pixels(0.5), "pixels-empty": _scale_pixels(0.0), "pixels-doubled": _scale_pixels(2.0),
    "pixels-odd": _scale_pixels(0.999),
    "pixels-vr-un": lambda e: e.__setitem__("PixelData", ("UN", e["PixelData"][1])),
    "pixels-vr-ow": lambda e: e.__setitem__("PixelData", ("OW", e["PixelData"][1])),
    **{f"drop-{kw.lower()}": _drop(kw) for kw in ("Rows", "Columns", "PixelData", "PhotometricInterpretation",
                                                  "BitsAllocated", "SamplesPerPixel", "SOPClassUID")},
    "identifier-long": _set("PatientName", "PN", b"Doe^Jane^" + b"X" * 400),
    "identifier-vr-un": _set("PatientID", "UN", b"MRN-483920"),
}
SYNTAX_SWAPS = ("explicit", "rle", "jpeg", "j2k", "jls", "jpegll", "htj2k", "deflated")
