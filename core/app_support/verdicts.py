"""What the app says about a prediction, and the sentence it shows for any failure."""

from __future__ import annotations

import importlib
import io
import logging
import traceback
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import pandas as pd
from PIL import Image

from core.tasks import Task, get_task

logger = logging.getLogger("core.app_support")


@dataclass(frozen=True)
class Verdict:
    """What the app says about one prediction.

    Attributes:
        status: ``"classified"``, ``"uncertain"`` or ``"out_of_distribution"`` (keys of STATUS_TEXT).
        headline: one sentence for the clinician.
        label: predicted class id, None when the image was refused.
        label_name: display name of ``label``.
        note: the clinical note of ``label`` (None when refused).
    """

    status: str
    headline: str
    label: str | None
    label_name: str | None
    note: str | None


@dataclass
class FileResult:
    """One analysed file: either a prediction or the sentence explaining why there is none.

    Attributes:
        name: the file name as the user gave it (never a server path).
        prediction: a ``core.inference.Prediction``, or None on error.
        error: the clinician-facing error sentence, or None.
        image: the ``core.io.LoadedImage`` that was read, if reading succeeded.
    """

    name: str
    prediction: Any = None
    error: str | None = None
    image: Any = None


#: status -> headline template; ``{name}``, ``{pct}`` and ``{modality}`` are filled in.
STATUS_TEXT: Mapping[str, str] = {
    "classified": "Predicted: {name} ({pct} calibrated probability)",
    "uncertain": ("Uncertain. Predicted: {name}, but at only {pct} calibrated probability, below the "
                  "model's confidence threshold; treat it as inconclusive"),
    "out_of_distribution": "This does not look like a {modality} image; it was not classified.",
}


def verdict(task: Task | str, prediction: Any) -> Verdict:
    """Turn a Prediction into what the clinician reads.

    Args:
        task: the task (or its id) the prediction belongs to.
        prediction: an object with ``label``, ``confidence``, ``uncertain`` and ``out_of_distribution``.

    Returns:
        The Verdict; an out-of-distribution image carries no class label.
    """
    task = get_task(task)
    if prediction.out_of_distribution or prediction.label is None:
        return Verdict("out_of_distribution",
                       STATUS_TEXT["out_of_distribution"].format(modality=task.modality_name),
                       None, None, None)
    status = "uncertain" if prediction.uncertain else "classified"
    name = task.class_names[prediction.label]
    headline = STATUS_TEXT[status].format(name=name, pct=f"{prediction.confidence:.0%}")
    return Verdict(status, headline, prediction.label, name, task.clinical_notes[prediction.label])


def probability_frame(task: Task | str, prediction: Any) -> pd.DataFrame:
    """Calibrated probability of every class, in task order, indexed by display name."""
    task = get_task(task)
    probs = [float(prediction.probabilities[c]) for c in task.classes]
    return pd.DataFrame({"probability": probs},
                        index=pd.Index([task.class_names[c] for c in task.classes], name="class"))


#: DICOM metadata the app may show, with its label; anything else (names, ids, dates) is never shown.
DICOM_FIELDS: Mapping[str, str] = {
    "modality": "Modality",
    "pixel_spacing_mm": "Pixel spacing (mm)",
    "rows": "Rows",
    "columns": "Columns",
    "frames": "Frames",
    "body_part": "Body part",
    "photometric_interpretation": "Photometric interpretation",
}


def dicom_facts(metadata: Mapping[str, Any] | None, image_format: str = "DICOM") -> dict[str, str]:
    """The allow-listed, human-labelled acquisition facts of a DICOM file.

    Args:
        metadata: ``LoadedImage.metadata``.
        image_format: ``LoadedImage.format``; other formats have no acquisition facts to show.

    Returns:
        label -> text, in DICOM_FIELDS order; empty for non-DICOM files.
    """
    if image_format != "DICOM":
        return {}
    facts = {}
    for key, label in DICOM_FIELDS.items():
        value = (metadata or {}).get(key)
        if value is None or value == "":
            continue
        if isinstance(value, (list, tuple)):
            value = " x ".join(f"{float(v):g}" for v in value)
        facts[label] = str(value)
    return facts


def png_bytes(pixels: np.ndarray) -> bytes:
    """Encode an HxW or HxWx3 uint8 array as PNG bytes (in memory)."""
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(pixels, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


#: (module, exception class, sentence template): the failures the app explains in its own words.
FAILURE_TEMPLATES: tuple[tuple[str, str, str], ...] = (
    ("core.io", "InvalidImageError", "{exc}"),
    ("core.inference", "ModelIntegrityError",
     "The model cannot be used safely: {exc} Retrain it or restore its files."),
    ("core.inference", "ModelNotFoundError",
     "{exc} The About page explains how to train a model and drop it into models/."),
    ("core.explain", "ExplainError", "No explanation could be drawn for this model: {exc}"),
    ("core.tasks", "UnknownTaskError", "{exc}"),
)


def _failure_templates() -> dict[type, str]:
    """Exception type -> template; imported lazily, and one broken module cannot hide the others."""
    templates = {}
    for module, name, template in FAILURE_TEMPLATES:
        try:
            templates[getattr(importlib.import_module(module), name)] = template
        except (ImportError, AttributeError):
            logger.warning("Cannot import %s.%s; its failures get the generic sentence.", module, name)
    return templates


def describe_failure(exc: BaseException, action: str = "analysing the image") -> str:
    """The sentence the app shows for a failure; unexpected ones are logged (type and stack only).

    Args:
        exc: what was raised.
        action: what the user was doing, used in the fallback sentence.

    Returns:
        A sentence for the clinician; never a traceback.
    """
    for kind, template in _failure_templates().items():
        if isinstance(exc, kind):
            return template.format(exc=str(exc).strip())
    # Neither the message nor the source lines are logged (either could quote a patient's file);
    # the type and the frames (file, line, function) are enough to find the bug.
    frames = "\n".join(f"  {f.filename}:{f.lineno} in {f.name}" for f in traceback.extract_tb(exc.__traceback__))
    logger.error("Unexpected %s while %s:\n%s", type(exc).__name__, action, frames)
    return (f"Something unexpected went wrong while {action}. The problem was logged; "
            "try again, or try another file or model.")
