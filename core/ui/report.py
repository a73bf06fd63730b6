"""Downloadable reports: a one-page PDF per image (fpdf2) and the results table/CSV of a batch.

Both are built in memory and returned as bytes: the app never writes a patient's image to disk. The
PDF opens with what the model may be used for, names images by their label (never their file name
unless the user allowed it) and ends with the app version and the weights' sha256.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.metadata
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from PIL import Image

from core.tasks import Task, get_task
from core.ui.cards import MISSING, card_summary, model_status
from core.ui.measures import MEASURES
from core.ui.session import HASH_CHARS
from core.ui.verdicts import CALIBRATED_HELP, FileResult, percent, verdict

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
#: The model's figures the report repeats (labels of ``core.ui.measures.MEASURES``).
_REPORT_MEASURES = ("Trained on", "Correct answers", "Calibration error", "Uncertain below", "Prediction set",
                    "Heat map on the lesion", "Heat off the patient")  # how far to trust the overlay above
#: Banner fill per model status kind (RGB).
_STATUS_FILL = {"research": (222, 232, 246), "demo": (255, 236, 204), "unknown": (250, 215, 215)}

# Core PDF fonts only encode latin-1; these are the non-latin-1 characters our texts use.
_ASCII_FOR = {"\u2013": "-", "\u2014": "-", "\u2018": "'", "\u2019": "'", "\u201c": '"',
              "\u201d": '"', "\u2192": "->", "\u2265": ">=", "\u2264": "<=", "\u2026": "..."}


def _latin1(text: Any) -> str:
    text = "".join(_ASCII_FOR.get(ch, ch) for ch in str(text))
    return text.encode("latin-1", errors="replace").decode("latin-1")


def app_version() -> str:
    """The installed app's version (the package metadata), or the source tree's."""
    try:
        return importlib.metadata.version("medimg-second-opinion")
    except importlib.metadata.PackageNotFoundError:
        import core

        return core.__version__


def report_filename(task_id: str, data: bytes, day: dt.date | None = None) -> str:
    """``report-<task>-<date>-<hash>.pdf``: the hash is the image label's, so the two can be matched."""
    digest = hashlib.sha256(data).hexdigest()[:HASH_CHARS]
    return f"report-{task_id}-{(day or dt.date.today()):%Y%m%d}-{digest}.pdf"


class _Report(FPDF):
    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", "I", 7)
        self.cell(0, 5, _latin1(f"MedImg Second Opinion {app_version()} - not a medical device - page "
                                f"{self.page_no()}"), align="C")


def _heading(pdf: FPDF, text: str) -> None:
    pdf.ln(2)
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(0, 6, _latin1(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("Helvetica", "", 9)


def _paragraph(pdf: FPDF, text: str, style: str = "", size: float = 9) -> None:
    pdf.set_font("Helvetica", style, size)
    pdf.multi_cell(0, 4.5, _latin1(text), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _key_values(pdf: FPDF, rows: Mapping[str, str]) -> None:
    for key, value in rows.items():
        pdf.set_font("Helvetica", "B", 8)
        pdf.cell(45, 4.5, _latin1(key))
        pdf.set_font("Helvetica", "", 8)
        pdf.multi_cell(0, 4.5, _latin1(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _status_banner(pdf: FPDF, card: Mapping[str, Any]) -> None:
    status = model_status(card)
    pdf.set_fill_color(*_STATUS_FILL[status.kind])
    pdf.set_font("Helvetica", "B", 10)
    pdf.multi_cell(0, 5.5, _latin1(f"{status.badge}. {status.text}"), border=1, fill=True, padding=2, align="L",
                   new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _pil(pixels: np.ndarray) -> Image.Image:
    image = Image.fromarray(np.asarray(pixels, dtype=np.uint8))
    image.thumbnail((_MAX_IMAGE_SIDE, _MAX_IMAGE_SIDE))  # an 8-megapixel TIFF would bloat the PDF
    return image


def _images(pdf: FPDF, image: np.ndarray, overlay: np.ndarray | None, scale: np.ndarray | None,
            cam_method: str | None) -> None:
    y, box = pdf.get_y(), 56.0
    if y + box + 20 > pdf.h - pdf.b_margin:
        pdf.add_page()
        y = pdf.get_y()
    # Each image is fitted in a square box, so a very tall or wide image cannot run off the page.
    pdf.image(_pil(image), x=pdf.l_margin, y=y, w=box, h=box, keep_aspect_ratio=True)
    right = pdf.l_margin + box + 10
    if overlay is not None:
        pdf.image(_pil(overlay), x=right, y=y, w=box, h=box, keep_aspect_ratio=True)
    pdf.set_y(y + box + 1)
    pdf.set_font("Helvetica", "I", 8)
    pdf.cell(box + 10, 4, "Image as uploaded")
    if overlay is not None:
        pdf.cell(box, 4, _latin1(f"{cam_method or 'Heat map'} overlay: where the model looked"))
    pdf.ln(5)
    if overlay is not None and scale is not None:
        pdf.image(_pil(scale), x=right, y=pdf.get_y(), w=box, h=4)
        pdf.set_y(pdf.get_y() + 4.5)
        pdf.set_x(right)
        pdf.cell(box / 2, 4, "low contribution")
        pdf.cell(box / 2, 4, "high contribution", align="R")
        pdf.ln(5)


def _probability_bars(pdf: FPDF, task: Task, probabilities: Mapping[str, float], threshold: float | None) -> None:
    """Bars on a fixed 0-100 % scale with the decision threshold as a vertical line."""
    bar_max, top = 90.0, pdf.get_y()
    x0 = pdf.l_margin + 45
    for class_id in task.classes:
        p = float(probabilities[class_id])
        pdf.set_font("Helvetica", "", 9)
        pdf.cell(45, 5, _latin1(task.class_names[class_id]))
        y = pdf.get_y()
        pdf.set_fill_color(225, 225, 225)
        pdf.rect(x0, y + 1, bar_max, 3, style="F")
        pdf.set_fill_color(74, 111, 165)
        pdf.rect(x0, y + 1, max(bar_max * p, 0.2), 3, style="F")
        pdf.set_x(x0 + bar_max + 3)
        pdf.cell(0, 5, _latin1(percent(p)), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if threshold is not None:
        x = x0 + bar_max * threshold
        pdf.set_draw_color(170, 50, 50)
        pdf.set_dash_pattern(dash=1, gap=1)
        pdf.line(x, top, x, pdf.get_y())
        pdf.set_dash_pattern()
        pdf.set_text_color(170, 50, 50)
        pdf.set_xy(x - 20, pdf.get_y() + 0.5)
        pdf.cell(40, 3.5, _latin1(f"decision threshold {percent(threshold)}"), align="C")
        pdf.set_text_color(0, 0, 0)
        pdf.set_draw_color(0, 0, 0)
    pdf.ln(4)
    _paragraph(pdf, CALIBRATED_HELP, style="I", size=8)


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
    colour_scale: np.ndarray | None = None,
    fields: Mapping[str, str] | None = None,
    created: dt.datetime | None = None,
    compress: bool = True,
) -> bytes:
    """One-page PDF report of one image.

    Args:
        task: the task (or its id).
        prediction: the ``core.serving.Prediction`` of the image.
        card: the model card of the model that produced it.
        image: HxWx3 uint8 image as uploaded.
        overlay: optional HxWx3 uint8 class-activation overlay on that image.
        source_name: how the image is called ("image 1 (3fa2c1)"; the file name only if the user allowed it).
        facts: acquisition facts to print (``core.ui.dicom_facts``: never identifiers).
        cam_method: name of the explanation method, printed under the overlay.
        colour_scale: the overlay's colour ramp (``core.ui.colour_scale()``), printed under it.
        fields: optional reviewer fields filled in the app (e.g. study id, reviewer, note).
        created: report date (default: now, local time).
        compress: False writes uncompressed page streams (readable text, for tests).

    Returns:
        The PDF file as bytes.
    """
    task = get_task(task)
    result = verdict(task, prediction, card)
    created = created or dt.datetime.now().astimezone()
    pdf = _Report(format="A4")
    pdf.set_compression(compress)
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 15)
    pdf.cell(0, 8, "Second-opinion report", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    _status_banner(pdf, card)
    pdf.ln(1)
    _paragraph(pdf, " | ".join(filter(None, [task.display_name, f"{created:%Y-%m-%d %H:%M %Z}".strip(),
                                             source_name])))
    if facts:
        _paragraph(pdf, "DICOM: " + "; ".join(f"{k} {v}" for k, v in facts.items()))
    if fields:
        _key_values(pdf, {k: (v.strip() or "-") for k, v in fields.items()})

    _heading(pdf, "Result")
    _paragraph(pdf, result.headline, style="B", size=11)
    if result.reason:
        _paragraph(pdf, f"Why: {result.reason}")
    if result.candidates:
        _paragraph(pdf, f"Could be: {result.candidates} (classes the model cannot rule out at this level)")
    if result.label is not None:
        _heading(pdf, "Calibrated probability of each class (bars on a fixed 0 to 100 % scale)")
        _probability_bars(pdf, task, prediction.probabilities, card.get("uncertainty_threshold"))
    if result.note:
        _heading(pdf, "Clinical note")
        _paragraph(pdf, result.note)
    pdf.ln(2)
    _images(pdf, image, overlay, colour_scale, cam_method)

    _heading(pdf, "Model")
    summary = card_summary(card)
    sha = summary.pop("sha256", MISSING)
    summary.update({m.label: m.read(card) for m in MEASURES if m.label in _REPORT_MEASURES})
    _key_values(pdf, {**summary, "App version": app_version(), "Model sha256": sha})
    _heading(pdf, "Disclaimer")
    if model_status(card).kind == "demo":
        _paragraph(pdf, DEMO_WARNING, style="B", size=8)
    _paragraph(pdf, DISCLAIMER, size=8)
    return bytes(pdf.output())


def results_table(task: Task | str, results: Sequence[FileResult], card: Mapping[str, Any] | None = None,
                  *, as_text: bool = False) -> pd.DataFrame:
    """One row per file: status, predicted class, prediction set, every class probability, reason or error.

    Args:
        task: the task (or its id) the files were analysed for.
        results: what the app got for each file, in upload order.
        card: the model's card (names the prediction set's level).
        as_text: probabilities as people read them (">99 %") instead of numbers (for the CSV).

    Returns:
        A DataFrame with a stable column order (probability columns named by class display name).
    """
    task = get_task(task)
    prob_cols = [f"P({task.class_names[c]})" for c in task.classes]
    rows = []
    for r in results:
        row: dict[str, Any] = {"image": r.name, "status": "error", "predicted class": None,
                               "prediction set": None, **dict.fromkeys(prob_cols), "message": r.error}
        if r.prediction is not None:
            v = verdict(task, r.prediction, card)
            members = getattr(r.prediction, "prediction_set", ()) or ()
            row.update({"status": v.status.replace("_", " "), "predicted class": v.label_name,
                        "message": v.reason or v.headline})
            if v.label is not None:
                row["prediction set"] = " | ".join(task.class_names.get(c, c) for c in members) or None
                probs = [float(r.prediction.probabilities[c]) for c in task.classes]
                row.update({col: percent(p) if as_text else round(p, 6) for col, p in zip(prob_cols, probs)})
        rows.append(row)
    columns = ["image", "status", "predicted class", "prediction set", *prob_cols, "message"]
    return pd.DataFrame(rows, columns=columns)


def results_csv(task: Task | str, results: Sequence[FileResult], card: Mapping[str, Any] | None = None) -> bytes:
    """The results table as UTF-8 CSV bytes (one row per file, header first)."""
    return results_table(task, results, card).to_csv(index=False).encode("utf-8")
