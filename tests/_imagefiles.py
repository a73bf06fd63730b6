"""Builders of small image files, good and bad, for the reader tests.

Every builder returns the file's bytes; tests write them into ``tmp_path`` when
they need a path. The canonical picture is 32 rows x 48 columns with a left half
and a right half of different values, so a test can check both the shape
(rotation) and the colours that come back.
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image, PngImagePlugin
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

HEIGHT, WIDTH = 32, 48
LEFT, RIGHT = (HEIGHT // 2, 5), (HEIGHT // 2, WIDTH - 6)  # (row, column) probes


def halves(left, right, dtype=np.uint8) -> np.ndarray:
    """A HEIGHT x WIDTH array (with channels if the values are tuples), left half != right half."""
    left, right = np.asarray(left, dtype=dtype), np.asarray(right, dtype=dtype)
    out = np.empty((HEIGHT, WIDTH, *left.shape), dtype=dtype)
    out[:, : WIDTH // 2], out[:, WIDTH // 2 :] = left, right
    return out


def encode(image: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def palette_image() -> Image.Image:
    image = Image.new("P", (WIDTH, HEIGHT))
    image.putpalette([220, 20, 20, 20, 20, 220])  # index 0 red, index 1 blue
    image.putdata(halves(0, 1).ravel().tolist())
    return image


def png_with_text(text: dict[str, str]) -> bytes:
    info = PngImagePlugin.PngInfo()
    for key, value in text.items():
        info.add_text(key, value)
    return encode(Image.fromarray(halves(40, 200)), "PNG", pnginfo=info)


def animated_gif() -> bytes:
    red = Image.new("RGB", (WIDTH, HEIGHT), (255, 0, 0))
    blue = Image.new("RGB", (WIDTH, HEIGHT), (0, 0, 255))
    return encode(red, "GIF", save_all=True, append_images=[blue], duration=100, loop=0)


def jpeg_rotated_by_exif() -> bytes:
    """A 48-wide, 32-high JPEG whose EXIF says 'rotate 90 degrees clockwise to view'."""
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation
    return encode(Image.fromarray(halves((200, 30, 30), (30, 30, 200))), "JPEG", exif=exif)


def tiff_ramp_16bit() -> bytes:
    """A horizontal ramp over 1000..3000 of the 0..65535 range."""
    ramp = np.tile(np.linspace(1000, 3000, WIDTH), (HEIGHT, 1)).astype(np.uint16)
    return encode(Image.fromarray(ramp), "TIFF")


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims width x height pixels but carries almost no data (a 'bomb')."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr)
            + png_chunk(b"IDAT", zlib.compress(b"\0" * 64)) + png_chunk(b"IEND", b""))


def tiff_with_size(width: int, height: int) -> bytes:
    """An uncompressed 8-bit grey TIFF written by hand, so that a zero side is possible."""
    pixels = max(width * height, 1)
    data_offset = 8 + 2 + 12 * 8 + 4
    entries = [(256, 3, width), (257, 3, height), (258, 3, 8), (259, 3, 1), (262, 3, 1),
               (273, 4, data_offset), (278, 3, max(height, 1)), (279, 4, pixels)]
    ifd = struct.pack("<H", len(entries))
    for tag, kind, value in entries:
        packed = struct.pack("<I", value) if kind == 4 else struct.pack("<HH", value, 0)
        ifd += struct.pack("<HHI", tag, kind, 1) + packed
    return b"II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0) + b"\x80" * pixels


def dicom_bytes(
    frames: list[np.ndarray] | np.ndarray | None,
    *,
    photometric: str = "MONOCHROME2",
    bits_stored: int = 12,
    transfer_syntax: str = ExplicitVRLittleEndian,
    encapsulated: bytes | None = None,
    preamble: bool = True,
    **elements,
) -> bytes:
    """A minimal valid DICOM file (Secondary Capture) around ``frames``.

    Args:
        frames: one (H, W[, 3]) array, a list of them (multi-frame), or None for no pixel data.
        photometric: PhotometricInterpretation.
        bits_stored: BitsStored (BitsAllocated is 8 or 16 to match).
        transfer_syntax: the file meta TransferSyntaxUID.
        encapsulated: compressed frame bytes to store instead of ``frames``' raw bytes.
        preamble: write the 128-byte preamble and 'DICM' (False: a bare dataset).
        elements: further data elements by keyword, e.g. ``RescaleSlope=1``.
    """
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = transfer_syntax
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "OT"
    if frames is not None:
        stack = np.stack(frames) if isinstance(frames, list) else np.asarray(frames)[np.newaxis]
        samples = 3 if stack.ndim == 4 else 1
        ds.Rows, ds.Columns = stack.shape[1:3]
        ds.SamplesPerPixel = samples
        ds.PhotometricInterpretation = photometric
        ds.BitsAllocated = 8 if bits_stored <= 8 else 16
        ds.BitsStored, ds.HighBit, ds.PixelRepresentation = bits_stored, bits_stored - 1, 0
        if samples == 3:
            ds.PlanarConfiguration = 0
        if len(stack) > 1:
            ds.NumberOfFrames = len(stack)
        dtype = np.uint8 if ds.BitsAllocated == 8 else np.uint16
        if encapsulated is None:
            ds.PixelData = stack.astype(dtype).tobytes()
        else:
            ds.PixelData = encapsulate([encapsulated] * len(stack))
            ds["PixelData"].VR = "OB"
    for keyword, value in elements.items():
        setattr(ds, keyword, value)
    buffer = io.BytesIO()
    if preamble:
        ds.save_as(buffer, enforce_file_format=True)
    else:
        ds.save_as(buffer, implicit_vr=False, little_endian=True)
    return buffer.getvalue()
