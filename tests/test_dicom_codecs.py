"""DICOM as PACS exports it: every compressed transfer syntax decodes, inside the bounded worker."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from pydicom.pixels import get_encoder
from pydicom.uid import (
    HTJ2K,
    JPEG2000,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    HTJ2KLossless,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGLossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)

from core.io import read_image
from tests._imagefiles import dicom_bytes, encode

imagecodecs = pytest.importorskip("imagecodecs", reason="imagecodecs (requirements-dev.txt) writes the test streams")

# A 12-bit ramp with structure in both directions, as a CT or MR slice stores it.
MONO = (np.add.outer(np.arange(32) * 37, np.arange(48) * 53) % 4096).astype(np.uint16)
_OPTIONS = dict(rows=32, columns=48, samples_per_pixel=1, bits_allocated=16, bits_stored=12,
                pixel_representation=0, photometric_interpretation="MONOCHROME2", number_of_frames=1)


def _pydicom_encoded(syntax):
    return lambda: get_encoder(syntax).encode(MONO, **_OPTIONS)


# syntax, encoder of one frame, largest grey-level difference allowed after display windowing
SYNTAXES = [
    (JPEGLosslessSV1, lambda: imagecodecs.jpeg8_encode(MONO, lossless=True, bitspersample=12, predictor=1), 0),
    (JPEGLossless, lambda: imagecodecs.jpeg8_encode(MONO, lossless=True, bitspersample=12, predictor=6), 0),
    (JPEGLSLossless, lambda: imagecodecs.jpegls_encode(MONO), 0),
    (JPEGLSNearLossless, lambda: imagecodecs.jpegls_encode(MONO, level=2), 1),
    (JPEG2000Lossless, _pydicom_encoded(JPEG2000Lossless), 0),
    (JPEG2000, lambda: imagecodecs.jpeg2k_encode(MONO, level=0, codecformat="J2K"), 0),
    (HTJ2KLossless, lambda: imagecodecs.htj2k_encode(MONO, level=0), 0),
    (HTJ2K, lambda: imagecodecs.htj2k_encode(MONO, level=0), 0),
    (RLELossless, _pydicom_encoded(RLELossless), 0),
]


def _reference() -> np.ndarray:
    return read_image(dicom_bytes(MONO, transfer_syntax=ExplicitVRLittleEndian)).pixels


@pytest.mark.parametrize(("syntax", "encode_frame", "tolerance"), SYNTAXES, ids=[s[0].name for s in SYNTAXES])
def test_each_compressed_transfer_syntax_shows_the_same_image_as_the_uncompressed_file(syntax, encode_frame, tolerance):
    data = dicom_bytes(MONO, transfer_syntax=syntax, encapsulated=encode_frame())
    loaded = read_image(data)
    assert loaded.format == "DICOM" and loaded.pixels.shape == (32, 48, 3)
    assert loaded.metadata["transfer_syntax"] == syntax.name
    difference = np.abs(loaded.pixels.astype(int) - _reference().astype(int)).max()
    assert difference <= tolerance


def test_a_baseline_jpeg_dicom_looks_like_its_uncompressed_twin():
    grey = (np.add.outer(np.arange(32), np.arange(48)) * 3).astype(np.uint8)
    jpeg = encode(Image.fromarray(grey), "JPEG", quality=95)
    compressed = read_image(dicom_bytes(grey, bits_stored=8, transfer_syntax=JPEGBaseline8Bit, encapsulated=jpeg))
    plain = read_image(dicom_bytes(grey, bits_stored=8))
    assert np.abs(compressed.pixels.astype(int) - plain.pixels.astype(int)).max() <= 12


def test_a_deflated_dicom_is_read_like_its_uncompressed_twin():
    loaded = read_image(dicom_bytes(MONO, transfer_syntax=DeflatedExplicitVRLittleEndian))
    assert np.array_equal(loaded.pixels, _reference())
