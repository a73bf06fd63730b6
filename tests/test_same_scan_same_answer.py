"""The same pixels get the same answer, whatever the file format they arrive in (real scans, served models).

A real slice read from its published file (its grey channel) is re-delivered as PNG, as a 16-bit TIFF holding
the full 16-bit range, and as a 12-bit DICOM whose window maps its stored values back onto the same grey
levels. Every copy must get the same class, the same refusal decision, and probabilities within one percentage point.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from core import inference
from core.io import load_image
from tests._imagefiles import dicom_bytes

#: Real images per task, spread over the classes by a fixed stride through the sorted file list.
N_IMAGES = 6


def _copies(pixels: np.ndarray) -> dict[str, bytes]:
    grey = pixels[..., 0]
    png, tiff = io.BytesIO(), io.BytesIO()
    Image.fromarray(pixels).save(png, format="PNG")
    Image.fromarray(grey.astype(np.uint16) * 257).save(tiff, format="TIFF")
    # 12-bit stored values v = 16 g + 8; the linear window (centre 2048, width 4096) maps them back to g.
    dicom = dicom_bytes(grey.astype(np.uint16) * 16 + 8, bits_stored=12, WindowCenter=2048, WindowWidth=4096)
    return {"png": png.getvalue(), "tiff16": tiff.getvalue(), "dicom12": dicom}


def _files(folder, n):
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png")
                   and "_mask" not in p.name)
    return files[:: max(1, len(files) // n)][:n]


@pytest.mark.realdata
@pytest.mark.parametrize("task_id", ["brain_mri_4class", "brain_mri_binary", "breast_us"])
def test_one_scan_in_four_formats_gets_one_answer(real_data, task_id):
    model = inference.load_model(task_id)
    for path in _files(real_data(task_id), N_IMAGES):
        published = load_image(path.read_bytes())
        # Grey scans only: a slice with coloured calipers or a colour cast has no single grey version to compare.
        reference_pixels = np.repeat(published[..., :1], 3, axis=2)
        reference = model.predict(reference_pixels)
        copies = _copies(reference_pixels)
        if (published == reference_pixels).all():
            copies["published file"] = path.read_bytes()
        for fmt, data in copies.items():
            pixels = load_image(data)
            assert np.abs(pixels.astype(int) - reference_pixels.astype(int)).max() <= 1, (path.name, fmt)
            other = model.predict(pixels)
            assert other.out_of_distribution == reference.out_of_distribution, (path.name, fmt)
            assert other.top_class == reference.top_class, (path.name, fmt)
            gap = max(abs(other.probabilities[c] - reference.probabilities[c]) for c in reference.probabilities)
            assert gap <= 0.01, (path.name, fmt, gap)
