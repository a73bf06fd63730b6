"""The downloadable PDF report and the batch results CSV."""

from __future__ import annotations

import datetime as dt
import io
import zlib

import numpy as np
import pandas as pd
import pytest

from core.serving import Prediction
from core.tasks import get_task
from core.ui import FileResult, dicom_facts, percent
from core.ui.report import DEMO_WARNING, DISCLAIMER, app_version, build_pdf, report_filename, results_csv, results_table

TASK = get_task("brain_mri_4class")
CARD = {
    "task_id": TASK.id, "name": "small_cnn", "class_names": list(TASK.classes),
    "training_data": {"dataset": "phantoms", "kind": "synthetic-phantoms", "seed": 0, "generator_version": "1"},
    "test_metrics": {"accuracy": 0.91, "roc_auc": {"macro": 0.97}},
    "calibration": {"temperature": 1.3, "ece_before": 0.08, "ece_after": 0.02},
    "uncertainty_threshold": 0.6, "latency_ms": 4.2, "params": 12345, "sha256": "ab" * 32,
    "created": "2025-01-01T00:00:00",
}


def _prediction(label, probs, *, uncertain=False, ood=False):
    probabilities = dict(zip(TASK.classes, probs))
    return Prediction(label=None if ood else label, probabilities=probabilities,
                      confidence=max(probs), uncertain=uncertain, out_of_distribution=ood,
                      ood_score=100.0 if ood else 1.0)


def _pdf_text(pdf: bytes) -> bytes:
    """Uncompressed content of every stream, so tests can search the page text."""
    chunks = [pdf]
    for part in pdf.split(b"stream")[1:]:
        body = part.split(b"endstream")[0].strip(b"\r\n")
        try:
            chunks.append(zlib.decompress(body))
        except zlib.error:
            pass
    return b"\n".join(chunks)


@pytest.fixture
def image():
    rng = np.random.default_rng(0)
    return rng.integers(0, 255, (48, 48, 3), dtype=np.uint8)


def test_pdf_report_opens_with_the_model_status_and_names_the_result_every_class_and_the_disclaimer(image):
    pred = _prediction("glioma", [0.82, 0.1, 0.05, 0.03])
    pdf = build_pdf(TASK, pred, CARD, image, overlay=image[::-1], source_name="image 1 (3fa2c1)",
                    colour_scale=np.zeros((8, 64, 3), np.uint8), created=dt.datetime(2025, 3, 4, 10, 30),
                    compress=False)
    assert pdf.startswith(b"%PDF")
    assert pdf.rstrip().endswith(b"%%EOF")
    text = _pdf_text(pdf)
    assert text.index(b"DEMO. Demo on phantoms") < text.index(b"Result")  # status first, not at the bottom
    for name in TASK.class_names.values():
        assert name.encode() in text
    assert b"82 %" in text and b"decision threshold 60 %" in text
    assert b"2025-03-04" in text
    assert b"image 1 \\(3fa2c1\\)" in text  # PDF strings escape parentheses
    assert DISCLAIMER.split(".")[0].encode() in text  # "Not a medical device"
    assert b"synthetic phantoms" in text  # demo weights are called out
    assert CARD["sha256"].encode() in text and app_version().encode() in text
    assert b"low contribution" in text and b"high contribution" in text  # the overlay's colour scale
    assert text.count(b"/Subtype /Image") >= 3  # the image, its overlay and the colour scale


def test_pdf_says_how_far_the_heat_map_can_be_trusted_next_to_it(image):
    card = {**CARD, "explanations": {"pointing_game": 0.73, "images_with_lesion_mask": 100, "energy_in_mask": 0.25,
                                     "pointing_game_centre_baseline": 0.35,
                                     "shortcut_audit": {"energy_outside_anatomy": 0.04, "flagged": False}}}
    pred = _prediction("glioma", [0.82, 0.1, 0.05, 0.03])
    text = _pdf_text(build_pdf(TASK, pred, card, image, overlay=image[::-1], compress=False))
    assert b"hottest point on the lesion in 73 % of 100 test images" in text
    assert b"centre would score 35 %" in text  # the baseline to read it against (wrapped onto a second line)
    assert b"Heat off the patient" in text and b"4 % of the heat" in text


def test_pdf_never_prints_a_certain_looking_100_or_0_percent(image):
    pred = _prediction("glioma", [0.9996, 0.0002, 0.0001, 0.0001])
    text = _pdf_text(build_pdf(TASK, pred, CARD, image, compress=False))
    assert b">99 %" in text and b"<1 %" in text
    assert b"(100 %)" not in text and b"(0 %)" not in text and b"100.0%" not in text
    assert [percent(p) for p in (1.0, 0.995, 0.5, 0.004, 0.0)] == [">99 %", ">99 %", "50 %", "<1 %", "<1 %"]


def test_pdf_carries_the_reviewer_fields_filled_in_the_app(image):
    pred = _prediction("glioma", [0.82, 0.1, 0.05, 0.03])
    fields = {"Study id": "ST-42", "Reviewer": "Dr A. Reader", "Note": "compare with prior"}
    text = _pdf_text(build_pdf(TASK, pred, CARD, image, fields=fields, compress=False))
    for value in fields.values():
        assert value.encode() in text


def test_pdf_of_a_refused_image_gives_the_reason_and_no_class_label(image):
    pred = _prediction(None, [0.7, 0.1, 0.1, 0.1], ood=True)
    text = _pdf_text(build_pdf(TASK, pred, CARD, image, compress=False))
    assert b"does not look like a brain MRI image" in text
    assert b"out-of-distribution check" in text  # the reason, not only the refusal
    assert b"Glioma" not in text and b"Pituitary tumour" not in text


def test_report_file_name_names_task_date_and_the_images_hash():
    name = report_filename(TASK.id, b"some image bytes", dt.date(2026, 11, 30))
    assert name.startswith("report-brain_mri_4class-20261130-") and name.endswith(".pdf")
    assert name != report_filename(TASK.id, b"other image bytes", dt.date(2026, 11, 30))


def test_compressed_pdf_is_smaller_but_still_a_pdf(image):
    pred = _prediction("glioma", [0.82, 0.1, 0.05, 0.03])
    plain = build_pdf(TASK, pred, CARD, image, compress=False)
    packed = build_pdf(TASK, pred, CARD, image)
    assert packed.startswith(b"%PDF") and len(packed) < len(plain)


def test_pdf_of_real_weights_has_no_demo_warning_and_survives_non_latin_text(image):
    card = dict(CARD, training_data={"dataset": "Kaggle \u2014 Brain Tumor MRI \u2192 v2", "kind": "real"})
    pred = _prediction("meningioma", [0.2, 0.5, 0.2, 0.1], uncertain=True)
    text = _pdf_text(build_pdf(TASK, pred, card, image, compress=False,
                               facts=dicom_facts({"modality": "MR", "pixel_spacing_mm": [0.5, 0.5],
                                                  "patient_name": "DOE^JANE"}, "DICOM")))
    assert DEMO_WARNING.split(".")[0].encode() not in text
    assert b"Uncertain" in text
    assert b"RESEARCH USE. Research use only: trained on Kaggle - Brain Tumor MRI -> v2" in text
    assert b"0.5 x 0.5" in text and b"MR" in text
    assert b"DOE" not in text  # DICOM identifiers never reach the report


def test_results_csv_has_one_row_per_file_including_failures():
    results = [
        FileResult("a.png", _prediction("glioma", [0.9, 0.05, 0.03, 0.02])),
        FileResult("b.png", _prediction("notumor", [0.3, 0.2, 0.4, 0.1], uncertain=True)),
        FileResult("c.png", _prediction(None, [0.25] * 4, ood=True)),
        FileResult("d.txt", error="d.txt is not an image file the app can read."),
    ]
    frame = pd.read_csv(io.BytesIO(results_csv(TASK, results)))
    assert list(frame["image"]) == ["a.png", "b.png", "c.png", "d.txt"]
    assert list(frame["status"]) == ["classified", "uncertain", "out of distribution", "error"]
    assert frame.loc[0, "predicted class"] == "Glioma"
    assert frame.loc[0, "P(Glioma)"] == pytest.approx(0.9)
    assert pd.isna(frame.loc[2, "predicted class"]) and pd.isna(frame.loc[2, "P(Glioma)"])
    assert "not an image" in frame.loc[3, "message"]
    assert "out-of-distribution check" in frame.loc[2, "message"]  # why it was refused
    assert {f"P({n})" for n in TASK.class_names.values()} <= set(frame.columns)


def test_results_table_of_no_files_is_empty_with_headers():
    frame = results_table(TASK, [])
    assert frame.empty and "image" in frame.columns and "prediction set" in frame.columns
