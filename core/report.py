"""Downloadable reports: a one-page PDF per image (fpdf2) and the results CSV of a batch.

Both are built in memory and returned as bytes: the app never writes a patient's image to disk.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from PIL import Image

from core.app_support import MISSING, FileResult, card_summary, is_demo, verdict
from core.tasks import Task, get_task

DISCLAIMER = (
    "Not a medical device. This report is a computer-generated second opinion for research and "
    "education; it must not be used alone for diagnosis or treatment. A qualified clinician must "
    "review the images and the full clinical context."
)
DEMO_WARNING = (
    "The model that produced this report uses demo weights trained on synthetic phantoms, not on "
    "patient data. Its output has no clinical meaning."
)

#: Longest side, in pixels, of an image embedded in the report (80 mm wide is ~600 px at 190 dpi).
_MAX_IMAGE_SIDE = 640

# Core PDF fonts only encode latin-1; these are the non-latin-1 characters our texts use.
_ASCII_FOR = {"\u2013": "-", "\u2014": "-", "\u2018": "'", "\u2019": "'", "\u201c": '"',
              "\u201d": '"', "\u2192": "->", "\u2265": ">=", "\u2264": "<=", "\u2026": "..."}


def _latin1(text: Any) -> str:
    text = "".join(_ASCII_FOR.get(ch, ch) for ch in str(text))
    return text.encode("latin-1", errors="replace").decode("latin-1")


class _Report(FPDF):
    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", "I", 7)
        self.cell(0, 5, _latin1(f"MedImg Second Opinion - not a medical device - page {self.page_no()}"),
                  align="C")


def _heading(pdf: FPDF, text: str) -> None:
    pdf.ln(2)
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(0, 6, _latin1(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("Helvetica", "", 9)


def _paragraph(pdf: FPDF, text: str, style: str = "") -> None:
    pdf.set_font("Helvetica", style, 9)
    pdf.multi_cell(0, 4.5, _latin1(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _key_values(pdf: FPDF, rows: Mapping[str, str]) -> None:
    for key, value in rows.items():
        pdf.set_font("Helvetica", "B", 8)
        pdf.cell(45, 4.5, _latin1(key))
        pdf.set_font("Helvetica", "", 8)
        pdf.multi_cell(0, 4.5, _latin1(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _pil(pixels: np.ndarray) -> Image.Image:
    image = Image.fromarray(np.asarray(pixels, dtype=np.uint8))
    image.thumbnail((_MAX_IMAGE_SIDE, _MAX_IMAGE_SIDE))  # an 8-megapixel TIFF would bloat the PDF
    return image


def _images(pdf: FPDF, image: np.ndarray, overlay: np.ndarray | None) -> None:
    y, box = pdf.get_y(), 80.0
    # Each image is fitted in a square box, so a very tall or wide image cannot run off the page.
    pdf.image(_pil(image), x=pdf.l_margin, y=y, w=box, h=box, keep_aspect_ratio=True)
    if overlay is not None:
        pdf.image(_pil(overlay), x=pdf.l_margin + box + 10, y=y, w=box, h=box, keep_aspect_ratio=True)
    bottom = y + box
    pdf.set_y(bottom + 1)
    pdf.set_font("Helvetica", "I", 8)
    pdf.cell(box + 10, 4, "Image as analysed")
    if overlay is not None:
        pdf.cell(box, 4, "Class-activation overlay (where the model looked)")
    pdf.ln(6)


def _probability_bars(pdf: FPDF, task: Task, probabilities: Mapping[str, float]) -> None:
    bar_max = 90.0
    for class_id in task.classes:
        p = float(probabilities[class_id])
        pdf.set_font("Helvetica", "", 9)
        pdf.cell(45, 5, _latin1(task.class_names[class_id]))
        x, y = pdf.get_x(), pdf.get_y()
        pdf.set_fill_color(220, 220, 220)
        pdf.rect(x, y + 1, bar_max, 3, style="F")
        pdf.set_fill_color(40, 90, 160)
        pdf.rect(x, y + 1, max(bar_max * p, 0.2), 3, style="F")
        pdf.set_x(x + bar_max + 3)
        pdf.cell(0, 5, f"{p:.1%}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def build_pdf(
    task: Task | str,
    prediction: Any,
    card: Mapping[str, Any],
    image: np.ndarray,
    overlay: np.ndarray | None = None,
    *,
    source_name: str = "",
    facts: Mapping[str, str] | None = None,
    cam_method: str | None = None,
    created: dt.datetime | None = None,
    compress: bool = True,
) -> bytes:
    """One-page PDF report of one image.

    Args:
        task: the task (or its id).
        prediction: the ``core.inference.Prediction`` of the image.
        card: the model card of the model that produced it.
        image: HxWx3 uint8 image as analysed.
        overlay: optional HxWx3 uint8 class-activation overlay.
        source_name: the file name the user gave (no server path).
        facts: acquisition facts to print (``core.app_support.dicom_facts``: never identifiers).
        cam_method: name of the explanation method, printed under the overlay.
        created: report date (default: now, local time).
        compress: False writes uncompressed page streams (readable text, for tests).

    Returns:
        The PDF file as bytes.
    """
    task = get_task(task)
    result = verdict(task, prediction)
    created = created or dt.datetime.now().astimezone()
    pdf = _Report(format="A4")
    pdf.set_compression(compress)
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 15)
    pdf.cell(0, 8, "Second-opinion report", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    _paragraph(pdf, f"{task.display_name} | {created:%Y-%m-%d %H:%M %Z}".strip())
    if source_name:
        _paragraph(pdf, f"File: {source_name}")
    if facts:
        _paragraph(pdf, "DICOM: " + "; ".join(f"{k} {v}" for k, v in facts.items()))
    pdf.ln(2)
    _images(pdf, image, overlay)
    if overlay is not None and cam_method:
        _paragraph(pdf, f"Overlay method: {cam_method}", style="I")

    _heading(pdf, "Result")
    _paragraph(pdf, result.headline, style="B")
    if result.status != "out_of_distribution":
        _heading(pdf, "Calibrated probability of each class")
        _probability_bars(pdf, task, prediction.probabilities)
        _heading(pdf, "Clinical note")
        _paragraph(pdf, result.note or MISSING)

    _heading(pdf, "Model")
    _key_values(pdf, card_summary(card))
    _heading(pdf, "Disclaimer")
    if is_demo(card):
        _paragraph(pdf, DEMO_WARNING, style="B")
    _paragraph(pdf, DISCLAIMER)
    return bytes(pdf.output())


def results_table(task: Task | str, results: Sequence[FileResult]) -> pd.DataFrame:
    """One row per file: verdict, predicted class, confidence, every class probability, or the error.

    Args:
        task: the task (or its id) the files were analysed for.
        results: what the app got for each file, in upload order.

    Returns:
        A DataFrame with a stable column order (probability columns named by class display name).
    """
    task = get_task(task)
    prob_cols = [f"P({task.class_names[c]})" for c in task.classes]
    rows = []
    for r in results:
        row: dict[str, Any] = {"file": r.name, "status": "error", "predicted class": None,
                               "confidence": None, **dict.fromkeys(prob_cols), "message": r.error}
        if r.prediction is not None:
            v = verdict(task, r.prediction)
            row.update({"status": v.status.replace("_", " "), "predicted class": v.label_name,
                        "message": v.headline})
            if v.label is not None:
                row["confidence"] = round(float(r.prediction.confidence), 4)
                row.update({col: round(float(r.prediction.probabilities[c]), 4)
                            for col, c in zip(prob_cols, task.classes)})
        rows.append(row)
    columns = ["file", "status", "predicted class", "confidence", *prob_cols, "message"]
    return pd.DataFrame(rows, columns=columns)


def results_csv(task: Task | str, results: Sequence[FileResult]) -> bytes:
    """The results table as UTF-8 CSV bytes (one row per file, header first)."""
    return results_table(task, results).to_csv(index=False).encode("utf-8")
