"""Seeded hostile inputs for the upload path: base files of every format, mutated at byte and element level.

``case(seed, index)`` returns one input, deterministically: a hand-made hostile file for the first
indices (:data:`HOSTILE`), then a structure-aware mutation of a small base file. DICOM bases are
written element by element (:func:`dicom_file`), so a mutation can give Rows two values, a text
value or a wrong VR, make NumberOfFrames ``inf``, or corrupt one length field; every DICOM base
carries the patient identifiers in :data:`IDENTIFIERS`, which must never come back.
"""

from __future__ import annotations

import functools
import io
import struct
import zlib
from typing import Callable, NamedTuple

import numpy as np
from PIL import Image

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


class Case(NamedTuple):
    """One fuzz input: its bytes, a file name, the base format and the mutation applied."""

    data: bytes
    name: str
    fmt: str
    mutation: str


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
    elements: Elements = {
        "SOPClassUID": ("UI", b"1.2.840.10008.5.1.4.1.1.7"), "SOPInstanceUID": ("UI", b"1.2.3.4.5.6.7.8"),
        "Modality": ("CS", b"MR"), "BodyPartExamined": ("CS", b"HEAD"),
        **{keyword: ("PN" if keyword == "PatientName" else "DA" if "Date" in keyword else "LO", value.encode())
           for keyword, value in IDENTIFIERS.items()},
        "SamplesPerPixel": ("US", _us(3 if colour else 1)), "PhotometricInterpretation": ("CS", photometric.encode()),
        "Rows": ("US", _us(pixels.shape[0])), "Columns": ("US", _us(pixels.shape[1])),
        "PixelSpacing": ("DS", b"0.5\\0.5"), "BitsAllocated": ("US", _us(bits)), "BitsStored": ("US", _us(bits if colour else 12)),
        "HighBit": ("US", _us(bits - 1 if colour else 11)), "PixelRepresentation": ("US", _us(0)),
        "PixelData": ("OB" if colour else "OW", pixel_data if pixel_data is not None else np.tile(pixels, (frames,) + (1,) * (pixels.ndim - 1)).tobytes()),
    }
    if frames > 1:
        elements["NumberOfFrames"] = ("IS", str(frames).encode())
    if not colour:
        elements.update(WindowCenter=("DS", b"1024"), WindowWidth=("DS", b"2048"),
                        RescaleIntercept=("DS", b"-10"), RescaleSlope=("DS", b"1.5"))
    return elements


# ---- base files -------------------------------------------------------------------------------

def _picture(height: int = 40, width: int = 56) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([(x * 4) % 256, (y * 6) % 256, ((x + y) * 3) % 256], axis=-1).astype(np.uint8)


def _save(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def _mono16() -> np.ndarray:
    return (_picture()[..., 0].astype(np.uint16) * 16)


def _codec_frames() -> dict[str, bytes]:
    """Compressed frames of the 16-bit picture for each compressed DICOM syntax this machine can write."""
    mono = _mono16()
    frames: dict[str, bytes] = {"jpeg": _save(Image.fromarray(_picture()[..., 0]), "JPEG", quality=90)}
    try:
        from pydicom.pixels.encoders.base import get_encoder
        from pydicom.uid import JPEG2000Lossless, RLELossless
        options = dict(rows=mono.shape[0], columns=mono.shape[1], samples_per_pixel=1, bits_allocated=16,
                       bits_stored=12, pixel_representation=0, photometric_interpretation="MONOCHROME2",
                       number_of_frames=1)
        frames["rle"] = get_encoder(RLELossless).encode(mono, **options)
        frames["j2k"] = get_encoder(JPEG2000Lossless).encode(mono, **options)
    except Exception:  # noqa: BLE001  (an encoder plugin missing: fewer bases, same fuzz)
        pass
    try:
        import imagecodecs  # a test dependency; the app itself only decodes
        frames["jls"] = imagecodecs.jpegls_encode(mono)
        frames["jpegll"] = imagecodecs.jpeg8_encode(mono, lossless=True, bitspersample=12, predictor=1)
        frames["htj2k"] = imagecodecs.htj2k_encode(mono, level=0)
    except Exception:  # noqa: BLE001
        pass
    return frames


@functools.lru_cache(maxsize=1)
def bases() -> dict[str, tuple[str, Callable[[], bytes] | bytes]]:
    """Base files by id: (format family, bytes); DICOM bases are rebuilt per element mutation."""
    picture, grey = _picture(), _picture()[..., 0]
    files = {
        "png-rgb": ("PNG", _save(Image.fromarray(picture), "PNG")),
        "png-i16": ("PNG", _save(Image.fromarray(_mono16()), "PNG")),
        "png-pal": ("PNG", _save(Image.fromarray(picture).convert("P"), "PNG")),
        "jpeg-rgb": ("JPEG", _save(Image.fromarray(picture), "JPEG", quality=85)),
        "jpeg-prog": ("JPEG", _save(Image.fromarray(grey), "JPEG", progressive=True)),
        "bmp-rgb": ("BMP", _save(Image.fromarray(picture), "BMP")),
        "tiff-i16": ("TIFF", _save(Image.fromarray(_mono16()), "TIFF")),
        "tiff-lzw": ("TIFF", _save(Image.fromarray(picture), "TIFF", compression="tiff_lzw")),
        "tiff-pages": ("TIFF", _save(Image.fromarray(picture), "TIFF", save_all=True,
                                     append_images=[Image.fromarray(grey).convert("RGB")] * 2)),
        "gif-anim": ("GIF", _save(Image.fromarray(picture).convert("P"), "GIF", save_all=True,
                                  append_images=[Image.fromarray(grey).convert("P")] * 2, duration=50)),
    }
    for syntax, frame in _codec_frames().items():
        files[f"dicom-{syntax}"] = ("DICOM", dicom_file(dicom_elements(_mono16(), pixel_data=encapsulated([frame])), syntax))
    return files


DICOM_BASES: dict[str, Callable[[], tuple[Elements, str, bool]]] = {
    "dicom-mono": lambda: (dicom_elements(_mono16()), "explicit", False),
    "dicom-rgb": lambda: (dicom_elements(_picture(), photometric="RGB"), "explicit", False),
    "dicom-frames": lambda: (dicom_elements(_mono16(), frames=3), "explicit", False),
    "dicom-deflated": lambda: (dicom_elements(_mono16()), "deflated", True),
}


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
        ("one-byte", "US", b"\x28"), ("vr-ul", "UL", struct.pack("<I", 2**31)), ("vr-ss", "SS", struct.pack("<h", -40))]},
    **{f"frames-{name}": _set("NumberOfFrames", vr, value) for name, vr, value in [
        ("inf", "IS", b"inf"), ("nan", "IS", b"nan"), ("huge", "IS", b"999999999"), ("negative", "IS", b"-3"),
        ("fraction", "IS", b"2.5"), ("multi", "IS", b"2\\3"), ("vr-us", "US", _us(3)), ("vr-fd", "FD", struct.pack("<d", 3)),
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
_SYNTAX_SWAPS = ("explicit", "rle", "jpeg", "j2k", "jls", "jpegll", "htj2k", "deflated")


# ---- byte-level mutations ---------------------------------------------------------------------

_INTERESTING = [b"\x00", b"\xff", b"\x7f", b"\x80", b"\xff\xff", b"\x00\x00\x00\x00", b"\xff\xff\xff\xff",
                b"\x7f\xff\xff\xff", b"\x00\x00\x00\x80", b"\x01\x00"]


def _truncate(data: bytes, rng: np.random.Generator) -> bytes:
    return data[: int(rng.integers(0, len(data)))]


def _bitflip(data: bytes, rng: np.random.Generator) -> bytes:
    out = bytearray(data)
    for _ in range(int(rng.integers(1, 9))):
        position = int(rng.integers(0, len(out)))
        out[position] ^= 1 << int(rng.integers(0, 8))
    return bytes(out)


def _overwrite(data: bytes, rng: np.random.Generator) -> bytes:
    value = _INTERESTING[int(rng.integers(0, len(_INTERESTING)))]
    position = int(rng.integers(0, max(1, len(data) - len(value))))
    return data[:position] + value + data[position + len(value):]


def _header_overwrite(data: bytes, rng: np.random.Generator) -> bytes:
    # Most parsing happens in the first few hundred bytes: aim there.
    value = _INTERESTING[int(rng.integers(0, len(_INTERESTING)))]
    position = int(rng.integers(0, min(len(data), 400)))
    return data[:position] + value + data[position + len(value):]


def _splice(data: bytes, rng: np.random.Generator) -> bytes:
    start, end = sorted(int(v) for v in rng.integers(0, len(data), 2))
    at = int(rng.integers(0, len(data)))
    return data[:at] + data[start:end] + data[at:]


def _delete(data: bytes, rng: np.random.Generator) -> bytes:
    start = int(rng.integers(0, len(data)))
    return data[:start] + data[start + int(rng.integers(1, 64)):]


def _dicom_length(data: bytes, rng: np.random.Generator) -> bytes:
    # Corrupt the length field of one identifier element: pydicom then reads header bytes as values.
    keyword = list(IDENTIFIERS)[int(rng.integers(0, len(IDENTIFIERS)))]
    needle = IDENTIFIERS[keyword].encode()
    position = data.find(needle)
    if position < 2:
        return _bitflip(data, rng)
    length = int(rng.choice([0, 1, 3, 0xFFFF, len(needle) + int(rng.integers(1, 200))]))
    return data[: position - 2] + struct.pack("<H", length) + data[position:]


BYTE_MUTATIONS: dict[str, Callable[[bytes, np.random.Generator], bytes]] = {
    "truncate": _truncate, "bitflip": _bitflip, "overwrite": _overwrite, "header": _header_overwrite,
    "splice": _splice, "delete": _delete, "dicom-length": _dicom_length,
}


# ---- hand-made hostile files ------------------------------------------------------------------

def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _png_with_dicm_at_128() -> bytes:
    png = _save(Image.fromarray(_picture()), "PNG")
    # IHDR ends at byte 33; a text chunk whose payload puts 'DICM' at byte 128.
    header = png[:33]
    filler = b"Comment\0" + b"x" * (128 - 33 - 8 - 8)
    return header + _png_chunk(b"tEXt", filler + b"DICM" + b"y" * 8) + png[33:]


def _jp2_box_length_zero() -> bytes:
    jp2 = b"\x00\x00\x00\x0cjP  \r\n\x87\n" + b"\x00\x00\x00\x00ftypjp2 " + b"\0" * 24
    return dicom_file(dicom_elements(_mono16(), pixel_data=encapsulated([jp2])), "j2k")


@functools.lru_cache(maxsize=1)
def deflate_bomb(inflated_bytes: int = 1_500_000_000) -> bytes:
    """A deflated DICOM of about 1.5 MB whose dataset inflates to ``inflated_bytes`` (a frame stack of zeros)."""
    elements = dicom_elements(np.zeros((1000, 1000), np.uint16), frames=inflated_bytes // 2_000_000, pixel_data=b"")
    body = b"".join(element(_TAGS[k], vr, v) for k, (vr, v) in sorted(elements.items(), key=lambda i: _TAGS[i[0]])
                    if k != "PixelData")
    size = (inflated_bytes // 2_000_000) * 2_000_000
    header = body + struct.pack("<HH", 0x7FE0, 0x0010) + b"OW\0\0" + struct.pack("<I", size)
    # Blocks ended by a full flush stand alone, so one compressed run of zeros can be repeated.
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    parts = [packer.compress(header) + packer.flush(zlib.Z_FULL_FLUSH)]
    zeros = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = 1 << 22
    block = zeros.compress(bytes(chunk)) + zeros.flush(zlib.Z_FULL_FLUSH)
    parts += [block] * (size // chunk)
    tail = zlib.compressobj(9, zlib.DEFLATED, -15)
    parts.append(tail.compress(bytes(size % chunk)) + tail.flush())
    plain = dicom_file({}, "deflated")
    return plain + b"".join(parts)


def _tiff_ifd_loop() -> bytes:
    tiff = bytearray(_save(Image.fromarray(_picture()[..., 0]), "TIFF"))
    first = struct.unpack("<I", tiff[4:8])[0]
    count = struct.unpack("<H", tiff[first:first + 2])[0]
    tiff[first + 2 + 12 * count: first + 6 + 12 * count] = struct.pack("<I", first)  # next IFD = itself
    return bytes(tiff)


def _gif_many_frames(count: int = 300) -> bytes:
    frames = [Image.new("P", (32, 32), i % 256) for i in range(count)]
    return _save(frames[0], "GIF", save_all=True, append_images=frames[1:])


HOSTILE: dict[str, tuple[str, Callable[[], bytes], str]] = {
    # id: (format family, builder, file name)
    "jp2-box-length-0": ("DICOM", _jp2_box_length_zero, "jp2.dcm"),
    "deflate-bomb": ("DICOM", deflate_bomb, "bomb.dcm"),
    "png-header-bomb": ("PNG", lambda: _png_chunk(b"", b"")[:0] + b"\x89PNG\r\n\x1a\n" + _png_chunk(
        b"IHDR", struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)) + _png_chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + _png_chunk(b"IEND", b""), "bomb.png"),
    "png-with-dicm-at-128": ("PNG", _png_with_dicm_at_128, "scan.png"),
    "tiff-ifd-loop": ("TIFF", _tiff_ifd_loop, "loop.tif"),
    "gif-300-frames": ("GIF", _gif_many_frames, "cine.gif"),
    "dicom-60000-square": ("DICOM", lambda: dicom_file({**dicom_elements(_mono16()), "Rows": ("US", _us(60000)),
                                                         "Columns": ("US", _us(60000))}), "big.dcm"),
    "dicom-frames-over-cap": ("DICOM", lambda: dicom_file({**dicom_elements(_mono16()),
                                                            "NumberOfFrames": ("IS", b"100001")}), "frames.dcm"),
    "dicom-preamble-only": ("DICOM", lambda: b"\0" * 128 + b"DICM", "empty.dcm"),
    "dicom-garbage-deflate": ("DICOM", lambda: dicom_file({}, "deflated") + b"\x01\x02garbage" * 50, "garbage.dcm"),
    "text-named-dcm": ("DICOM", lambda: b"Patient notes: Doe^Jane MRN-483920\n" * 20, "notes.dcm"),
    "one-byte": ("PNG", lambda: b"\x89", "one.png"),
}


def case(seed: int, index: int) -> Case:
    """The ``index``-th input of the run seeded ``seed`` (hostile files first, then mutations)."""
    hostile = list(HOSTILE)
    if index < len(hostile):
        fmt, build, name = HOSTILE[hostile[index]]
        return Case(build(), name, fmt, hostile[index])
    rng = np.random.default_rng([seed, index])
    pool = [*bases(), *DICOM_BASES]
    base = pool[int(rng.integers(0, len(pool)))]
    if base in DICOM_BASES:
        elements, syntax, deflate = DICOM_BASES[base]()
        mutation = "none"
        if rng.random() < 0.6:
            mutation = list(ELEMENT_MUTATIONS)[int(rng.integers(0, len(ELEMENT_MUTATIONS)))]
            ELEMENT_MUTATIONS[mutation](elements)
        elif rng.random() < 0.1:
            syntax, mutation = _SYNTAX_SWAPS[int(rng.integers(0, len(_SYNTAX_SWAPS)))], "syntax-swap"
        data, fmt = dicom_file(elements, syntax, deflate=deflate), "DICOM"
    else:
        fmt, data = bases()[base]
        mutation = "none"
    if mutation == "none" or rng.random() < 0.3:
        byte_mutation = list(BYTE_MUTATIONS)[int(rng.integers(0, len(BYTE_MUTATIONS)))]
        if byte_mutation != "dicom-length" or fmt == "DICOM":
            data = BYTE_MUTATIONS[byte_mutation](data, rng)
            mutation = byte_mutation if mutation == "none" else f"{mutation}+{byte_mutation}"
    name = {"DICOM": "scan.dcm", "PNG": "image.png", "JPEG": "image.jpg", "BMP": "image.bmp",
            "TIFF": "image.tif", "GIF": "image.gif"}[fmt] if rng.random() < 0.5 else ""
    return Case(data, name, fmt, f"{base}:{mutation}")
