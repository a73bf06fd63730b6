"""Explanations of a served model for an uploaded image: prediction and heat map from one pass.

The map is drawn on the upload (mapped back through the card's crop and letterbox), is 0 on
padding and background, and is scaled by the class's evidence: the predicted class peaks at 1,
another class at its probability relative to the predicted one, so a class the model gives
0 % never shows a full-strength hotspot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from core.explain import alignment
from core.explain.anatomy import anatomy_mask
from core.explain.engine import explained_layer, run_pass
from core.explain.registry import ExplainError, get_method

#: Below this probability a class is said to have no evidence, whatever its map shows.
NO_EVIDENCE_PROBABILITY = 0.01


@dataclass(frozen=True)
class Explanation:
    """Where a served model found evidence for one class of one uploaded image.

    Attributes:
        heatmap: float32 (upload H, upload W) in [0, 1]; 1 = the strongest evidence for the
            predicted class in this image; 0 outside the region and anatomy the model saw.
        model_heatmap: the same at the model input size, padding zeroed (what the model saw).
        class_name: the explained class id.
        method: the CAM method key; ``label`` its display name.
        layer: the feature map it was computed at, and ``layer_size`` its (h, w).
        probability: the calibrated probability of ``class_name``.
        strength: the map's peak (the class's evidence relative to the predicted class).
        no_evidence: the model found (almost) no evidence for this class: say so, do not paint.
        outside_anatomy: fraction of the map's energy that fell outside the anatomy or on padding.
        prediction: the ``Prediction`` computed in the same pass.
    """

    heatmap: np.ndarray
    model_heatmap: np.ndarray
    class_name: str
    method: str
    label: str
    layer: str
    layer_size: tuple[int, int]
    probability: float
    strength: float
    no_evidence: bool
    outside_anatomy: float
    prediction: Any = None

    @property
    def legend(self) -> tuple[str, str]:
        """Colour-bar texts for ``core.explain.overlay(..., legend=...)``."""
        return ("strongest evidence", "none")

    @property
    def caption(self) -> str:
        """One sentence saying what the colours mean for this class."""
        if self.no_evidence and self.probability < NO_EVIDENCE_PROBABILITY:
            return (f"No evidence for this class: the model gives it {self.probability:.0%}, "
                    "so there is nothing to show.")
        if self.no_evidence:
            return (f"{self.label} finds no region that raises '{self.class_name}' ({self.probability:.0%}) in "
                    "this image: the answer does not rest on a place the map can show.")
        text = (f"{self.label} for '{self.class_name}' ({self.probability:.0%}): red = where the model found the "
                f"most evidence for the predicted class in this image, blue = none")
        if self.strength < 0.99:
            text += f"; this class reaches {self.strength:.0%} of that strength"
        if self.outside_anatomy > 0.25:
            text += f". Caution: {self.outside_anatomy:.0%} of the evidence lies outside the anatomy"
        return text + "."


def _class_index(served, class_name: str | None) -> int:
    if class_name is None:
        return -1
    if class_name not in served.class_names:
        raise ExplainError(f"Class '{class_name}' is not one of this model's classes: "
                           f"{', '.join(served.class_names)}.")
    return list(served.class_names).index(class_name)


def card_layer(served) -> str:
    """The layer named by the card's ``explanations`` section, else the automatic choice."""
    section = served.card.get("explanations") or {}
    return section.get("layer") or explained_layer(served.keras_model)


def _energy_outside(cam: np.ndarray, inside: np.ndarray) -> float:
    total = float(cam.sum())
    return float(cam[~inside].sum() / total) if total > 0 else 0.0


def explain_prepared(served, image: np.ndarray, prepared, logits: np.ndarray, cam: np.ndarray,
                     method: str, layer: str, index: int, prediction=None) -> Explanation:
    """Build the Explanation of one image from its pass outputs (used by :func:`explain` and the audit)."""
    probs = _probabilities(served, logits)
    index = int(probs.argmax()) if index < 0 else index
    size = served.input_size
    model_map = alignment.to_model_input(cam, size)
    anatomy = anatomy_mask(image, served.task.preprocessing)
    inside = alignment.to_model_space(anatomy, prepared.geometry, size)
    outside = _energy_outside(model_map, inside)
    strength = float(probs[index] / probs.max())
    peak = model_map.max()
    # The class's own shape, scaled to its evidence relative to the predicted class.
    model_map = model_map / peak * strength if peak > 0 else np.zeros_like(model_map)
    model_map = np.where(inside, model_map, 0.0).astype(np.float32)  # padding and background carry no heat
    upload = alignment.to_upload(model_map, prepared.geometry) * anatomy
    return Explanation(
        heatmap=np.clip(upload, 0, 1).astype(np.float32), model_heatmap=np.clip(model_map, 0, 1),
        class_name=served.class_names[index], method=method, label=get_method(method).label, layer=layer,
        layer_size=tuple(int(d) for d in cam.shape), probability=float(probs[index]),
        strength=strength if peak > 0 else 0.0,
        no_evidence=bool(peak <= 0 or probs[index] < NO_EVIDENCE_PROBABILITY),
        outside_anatomy=outside, prediction=prediction)


def _probabilities(served, logits: np.ndarray) -> np.ndarray:
    # The card's temperature, as the served prediction uses it.
    z = np.asarray(logits, np.float64) / float(getattr(served, "temperature", 1.0))
    z = np.exp(z - z.max())
    return z / z.sum()


def explain(served, image: np.ndarray, class_name: str | None = None, method: str = "gradcam") -> Explanation:
    """Prediction and heat map of a served model for one decoded image, from one compiled pass.

    Args:
        served: a ``core.serving.ServedModel``.
        image: uint8 pixels from ``core.io.load_image`` (the upload).
        class_name: class id to explain; None explains the predicted class.
        method: a key of ``core.explain.CAM_METHODS``.

    Returns:
        An :class:`Explanation`; its ``prediction`` is the served model's calibrated Prediction.

    Raises:
        ExplainError: unknown class or method.
    """
    get_method(method)
    if getattr(served, "keras_model", None) is None:  # served through TF Serving without local weights
        raise ExplainError("This model is served remotely and its .keras file is not beside its card here; "
                           "heat maps need the weights locally (gradients cannot come from TF Serving).")
    index = _class_index(served, class_name)
    prepared = served.prepare(image)
    batch = prepared.image[None].astype(np.float32)
    layer = card_layer(served)
    logits, features, cams, layer = run_pass(served.keras_model, batch, None if index < 0 else index, method, layer)
    # The same logits and features give the served Prediction (calibration, OOD, conformal set).
    to_predictions = getattr(served, "_predictions", None)  # ServedModel's own calibration + OOD + sets
    prediction = to_predictions(logits, features, batch)[0] if to_predictions is not None else None
    return explain_prepared(served, image, prepared, logits[0], cams[0], method, layer, index, prediction)


def heatmap(served, image: np.ndarray, class_name: str | None = None, method: str = "gradcam") -> np.ndarray:
    """Class-activation map of a served model for one decoded image, at the upload's size.

    Args:
        served: a ``core.serving.ServedModel``.
        image: uint8 RGB pixels from ``core.io.load_image``.
        class_name: class id to explain; None explains the predicted class.
        method: a key of ``CAM_METHODS``.

    Returns:
        (H, W) float32 in [0, 1] at the uploaded image's size (see :class:`Explanation`).

    Raises:
        ExplainError: unknown class or method.
    """
    return explain(served, image, class_name, method).heatmap
