"""What a clinician answers about: the verdict shown, reduced to what may be stored.

A :class:`PredictionRecord` holds the model's identity, the image's pixel digest and the calibrated
answer, and nothing that could name a patient or a file: no file name, no DICOM attribute. The pixels
themselves are stored only on request, re-encoded as a PNG without metadata chunks.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from core.feedback.schema import MAX_COMMENT, MAX_INITIALS, OTHER_ANSWERS, OUT_OF_DISTRIBUTION
from core.tasks import get_task

#: The answer meaning "the verdict shown is right".
AGREE = "agree"


class FeedbackError(Exception):
    """Feedback that cannot be recorded, read or exported; the message is a sentence for the user."""


@dataclass(frozen=True)
class PredictionRecord:
    """The verdict a clinician answers, as stored (no file name, no DICOM identifier).

    Attributes:
        task_id: the task.
        model_name: served model name.
        model_sha256: digest of the served ``.keras`` file (from its card).
        image_sha256: :func:`pixel_sha256` of the decoded image.
        predicted_class: the most probable class id.
        status: ``classified``, ``uncertain`` or ``out_of_distribution``.
        probabilities: class id -> calibrated probability.
        prediction_set: class ids of the conformal prediction set, None when the model has none.
        ood: the detector refused the image as another modality.
        ood_score: the detector's score, None without a detector.
    """

    task_id: str
    model_name: str
    model_sha256: str
    image_sha256: str
    predicted_class: str
    status: str
    probabilities: Mapping[str, float] = field(default_factory=dict)
    prediction_set: Sequence[str] | None = None
    ood: bool = False
    ood_score: float | None = None

    @property
    def model_answer(self) -> str:
        """The model's answer: its class, or ``not_this_modality`` when it refused the image."""
        return OUT_OF_DISTRIBUTION if self.ood else self.predicted_class


def pixel_sha256(pixels: np.ndarray) -> str:
    """Digest of decoded pixels (shape included): the same scan gives the same digest whatever its file format."""
    array = np.ascontiguousarray(pixels, dtype=np.uint8)
    digest = hashlib.sha256(repr(array.shape).encode())
    digest.update(array.tobytes())
    return digest.hexdigest()


def png_bytes(pixels: np.ndarray) -> bytes:
    """Lossless PNG of the pixels with no text or metadata chunks (nothing but the image survives)."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def record_of(card: Mapping[str, Any], prediction: Any, pixels: np.ndarray) -> PredictionRecord:
    """The storable record of one prediction of a served model.

    Args:
        card: the served model's card (``task_id``, ``name``, ``sha256``).
        prediction: a serving ``Prediction`` (``probabilities``, ``top_class``, ``uncertain``,
            ``out_of_distribution``, ``ood_score``; ``prediction_set`` when conformal sets exist).
        pixels: the decoded image the model saw.

    Returns:
        The PredictionRecord.
    """
    probabilities = {str(k): float(v) for k, v in prediction.probabilities.items()}
    top = prediction.top_class or max(probabilities, key=probabilities.get)
    ood = bool(prediction.out_of_distribution)
    status = "out_of_distribution" if ood else "uncertain" if prediction.uncertain else "classified"
    prediction_set = getattr(prediction, "prediction_set", None)
    return PredictionRecord(
        task_id=card["task_id"], model_name=card["name"], model_sha256=card["sha256"],
        image_sha256=pixel_sha256(pixels), predicted_class=top, status=status, probabilities=probabilities,
        prediction_set=None if prediction_set is None else [str(c) for c in prediction_set],
        ood=ood, ood_score=None if prediction.ood_score is None else float(prediction.ood_score),
    )


def answer_choices(task_id: str) -> dict[str, str]:
    """What a clinician may answer instead of "agree": every class of the task, then OTHER_ANSWERS (id -> label)."""
    task = get_task(task_id)
    return {**{c: task.class_names[c] for c in task.classes}, **OTHER_ANSWERS}


def resolve_answer(record: PredictionRecord, answer: str) -> tuple[str, bool]:
    """The clinician's answer as stored, and whether it agrees with the model.

    Args:
        record: the verdict answered.
        answer: ``agree``, a class id of the task, or a key of OTHER_ANSWERS.

    Returns:
        ``(answer id, agreed)``; "agree" becomes the model's own answer.

    Raises:
        FeedbackError: the answer is none of those.
    """
    if answer == AGREE:
        return record.model_answer, True
    if answer not in answer_choices(record.task_id):
        raise FeedbackError(f"'{answer}' is not an answer for this task: choose Agree, one of its classes, "
                            f"or {' / '.join(OTHER_ANSWERS.values())}.")
    return answer, answer == record.model_answer


def clean_text(comment: str, initials: str) -> tuple[str, str]:
    """Trimmed comment and initials, refused when too long for the form's limits."""
    comment, initials = (comment or "").strip(), (initials or "").strip()
    if len(comment) > MAX_COMMENT:
        raise FeedbackError(f"The comment is {len(comment)} characters long; keep it under {MAX_COMMENT}.")
    if len(initials) > MAX_INITIALS:
        raise FeedbackError(f"Initials are at most {MAX_INITIALS} characters.")
    return comment, initials
