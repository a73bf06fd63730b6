"""What the app says about a prediction, and the sentence it shows for any failure."""

from __future__ import annotations

import io
import logging
import sys
import traceback
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
import pandas as pd
from PIL import Image

from core.tasks import Task, get_task

logger = logging.getLogger("core.ui")


@dataclass(frozen=True)
class Verdict:
    """What the app says about one prediction.

    Attributes:
        status: ``"classified"``, ``"uncertain"`` or ``"out_of_distribution"`` (keys of STATUS_TEXT).
        headline: one sentence for the clinician.
        label: predicted class id, None when the image was refused.
        label_name: display name of ``label``.
        note: the clinical note of ``label``, only for a confident single-class answer (else None).
        candidates: the prediction set in words ("Glioma or meningioma - 90 % set"), None without one.
        reason: why the image was refused (None otherwise).
    """

    status: str
    headline: str
    label: str | None
    label_name: str | None
    note: str | None
    candidates: str | None = None
    reason: str | None = None


@dataclass
class FileResult:
    """One analysed file: either a prediction or the sentence explaining why there is none.

    Attributes:
        name: how the file is called on screen ("image 2 (3fa2c1)", or its own name if the user allowed it).
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
    "classified": "{name}: {pct} calibrated probability",
    "uncertain": ("Uncertain: {name} at only {pct} calibrated probability, below the model's confidence "
                  "threshold; treat the result as inconclusive"),
    "out_of_distribution": "Not classified: this does not look like a {modality} image",
}

#: Why an image is refused, in words a clinician can act on.
REFUSAL_REASON = ("The model's out-of-distribution check found this image unlike the {modality} images it "
                  "was trained on (another modality, a blank or damaged frame, or a photo), so no class is "
                  "given. Check the file and the task chosen in the sidebar.")

#: The one-line meaning of "calibrated", shown beside every probability.
CALIBRATED_HELP = ("Calibrated: on held-out test images, answers given about 80 % were right about 80 % of "
                   "the time.")


def percent(p: float) -> str:
    """A probability for people: whole percent, never a certain-looking "100 %" or "0 %".

    Args:
        p: a probability in [0, 1].

    Returns:
        ">99 %", "<1 %" or e.g. "63 %".
    """
    if p > 0.99:
        return ">99 %"
    if p < 0.01:
        return "<1 %"
    return f"{round(p * 100):.0f} %"


def _candidates(task: Task, prediction: Any, level: float | None) -> tuple[list[str], str | None]:
    """The prediction set (class ids, most probable first) and its wording; ([], None) without a level."""
    members = list(getattr(prediction, "prediction_set", None) or [])
    if not members or not level:
        return members, None
    members.sort(key=lambda c: -float(prediction.probabilities.get(c, 0.0)))
    names = [task.class_names.get(c, c) for c in members]
    words = names[0] + (" alone" if len(names) == 1 else "")
    if len(names) > 1:
        words = ", ".join(names[:-1]) + " or " + names[-1][:1].lower() + names[-1][1:]
    return members, f"{words} - {round(float(level) * 100):.0f} % set"


def verdict(task: Task | str, prediction: Any, card: Mapping[str, Any] | None = None) -> Verdict:
    """Turn a Prediction into what the clinician reads.

    Args:
        task: the task (or its id) the prediction belongs to.
        prediction: an object with ``label``, ``confidence``, ``uncertain``, ``out_of_distribution`` and
            ``probabilities`` (and ``prediction_set``, the classes the model cannot rule out).
        card: the model's card; its ``conformal.level`` names the prediction set's coverage.

    Returns:
        The Verdict; an out-of-distribution image carries no class label but a reason; the clinical note
        is given only for a confident answer whose prediction set (if any) holds that class alone.
    """
    task = get_task(task)
    if prediction.out_of_distribution or prediction.label is None:
        return Verdict("out_of_distribution",
                       STATUS_TEXT["out_of_distribution"].format(modality=task.modality_name),
                       None, None, None, reason=REFUSAL_REASON.format(modality=task.modality_name))
    status = "uncertain" if prediction.uncertain else "classified"
    name = task.class_names[prediction.label]
    headline = STATUS_TEXT[status].format(name=name, pct=percent(prediction.confidence))
    level = ((card or {}).get("conformal") or {}).get("level")
    members, candidates = _candidates(task, prediction, level)
    confident = status == "classified" and len(members) <= 1
    return Verdict(status, headline, prediction.label, name,
                   task.clinical_notes[prediction.label] if confident else None, candidates)


def probability_frame(task: Task | str, prediction: Any) -> pd.DataFrame:
    """Calibrated probability of every class in task order: display name, percent (0-100) and its label."""
    task = get_task(task)
    probs = [float(prediction.probabilities[c]) for c in task.classes]
    return pd.DataFrame({"class": [task.class_names[c] for c in task.classes],
                         "percent": [100 * p for p in probs], "label": [percent(p) for p in probs]})


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
    ("core.serving.errors", "ModelIntegrityError",
     "The model cannot be used safely: {exc} Retrain it or restore its files."),
    ("core.serving.errors", "ModelNotFoundError",
     "{exc} The About page explains how to train a model and drop it into models/."),
    ("core.explain.registry", "ExplainError", "No explanation could be drawn for this model: {exc}"),
    ("core.tasks", "UnknownTaskError", "{exc}"),
)


def _failure_templates() -> dict[type, str]:
    """Exception type -> template, for the modules already imported (an exception of a module never
    imported cannot have been raised, and importing it here could pull TensorFlow into a page)."""
    templates = {}
    for module, name, template in FAILURE_TEMPLATES:
        kind = getattr(sys.modules.get(module), name, None)
        if isinstance(kind, type):
            templates[kind] = template
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
