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
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np
from PIL import Image

from benchmarks.fuzz_dicom import (  # noqa: F401  (re-exported for the tests)
    _TAGS,
    _UIDS,
    ELEMENT_MUTATIONS,
    IDENTIFIER_FRAGMENTS,
    IDENTIFIERS,
    SYNTAX_SWAPS,
    Elements,
    _us,
    dicom_elements,
    dicom_file,
    element,
    encapsulated,
)


class Case(NamedTuple):
    """One fuzz input: its bytes, a file name, the base format and the mutation applied."""

    data: bytes
    name: str
    fmt: str
    mutation: str


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
        elements = dicom_elements(_mono16(), pixel_data=encapsulated([frame]))
        files[f"dicom-{syntax}"] = ("DICOM", dicom_file(elements, syntax))
    return files


DICOM_BASES: dict[str, Callable[[], tuple[Elements, str, bool]]] = {
    "dicom-mono": lambda: (dicom_elements(_mono16()), "explicit", False),
    "dicom-rgb": lambda: (dicom_elements(_picture(), photometric="RGB"), "explicit", False),
    "dicom-frames": lambda: (dicom_elements(_mono16(), frames=3), "explicit", False),
    "dicom-deflated": lambda: (dicom_elements(_mono16()), "deflated", True),
}


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


def _png_header_bomb() -> bytes:
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)  # 10 gigapixels declared, 64 bytes given
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", zlib.compress(b"\0" * 64))
            + _png_chunk(b"IEND", b""))


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
    "png-header-bomb": ("PNG", _png_header_bomb, "bomb.png"),
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


#: Further base files (e.g. real scans) by id: (format family, bytes); see :func:`add_bases`.
EXTRA_BASES: dict[str, tuple[str, bytes]] = {}
_FAMILIES = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP", ".tif": "TIFF", ".tiff": "TIFF",
             ".gif": "GIF", ".dcm": "DICOM"}


def add_bases(root: Path, count: int, seed: int) -> int:
    """Add ``count`` image files found under ``root`` (a seeded choice) as base files; return how many."""
    paths = sorted(p for p in root.rglob("*") if p.suffix.lower() in _FAMILIES and p.is_file())
    chosen = np.random.default_rng(seed).permutation(len(paths))[:count]
    for number in chosen:
        path = paths[int(number)]
        EXTRA_BASES[f"file-{path.suffix.lower()[1:]}-{number}"] = (_FAMILIES[path.suffix.lower()], path.read_bytes())
    return len(chosen)


def case(seed: int, index: int) -> Case:
    """The ``index``-th input of the run seeded ``seed`` (hostile files first, then mutations)."""
    hostile = list(HOSTILE)
    if index < len(hostile):
        fmt, build, name = HOSTILE[hostile[index]]
        return Case(build(), name, fmt, hostile[index])
    rng = np.random.default_rng([seed, index])
    pool = [*bases(), *DICOM_BASES, *EXTRA_BASES]
    base = pool[int(rng.integers(0, len(pool)))]
    if base in DICOM_BASES:
        elements, syntax, deflate = DICOM_BASES[base]()
        mutation = "none"
        if rng.random() < 0.6:
            mutation = list(ELEMENT_MUTATIONS)[int(rng.integers(0, len(ELEMENT_MUTATIONS)))]
            ELEMENT_MUTATIONS[mutation](elements)
        elif rng.random() < 0.1:
            syntax, mutation = SYNTAX_SWAPS[int(rng.integers(0, len(SYNTAX_SWAPS)))], "syntax-swap"
        data, fmt = dicom_file(elements, syntax, deflate=deflate), "DICOM"
    else:
        fmt, data = {**bases(), **EXTRA_BASES}[base]
        mutation = "none"
    if mutation == "none" or rng.random() < 0.3:
        byte_mutation = list(BYTE_MUTATIONS)[int(rng.integers(0, len(BYTE_MUTATIONS)))]
        if byte_mutation != "dicom-length" or fmt == "DICOM":
            data = BYTE_MUTATIONS[byte_mutation](data, rng)
            mutation = byte_mutation if mutation == "none" else f"{mutation}+{byte_mutation}"
    name = {"DICOM": "scan.dcm", "PNG": "image.png", "JPEG": "image.jpg", "BMP": "image.bmp",
            "TIFF": "image.tif", "GIF": "image.gif"}[fmt] if rng.random() < 0.5 else ""
    return Case(data, name, fmt, f"{base}:{mutation}")
