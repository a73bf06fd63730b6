"""Serving: find the models of a task, check them, load them safely and predict.

A served model is ``MODELS_DIR/<task_id>/<name>.keras`` with ``<name>.card.json`` beside it.
Its card decides the class order, input size, temperature, uncertainty threshold and the
optional out-of-distribution detector; the ``.keras`` file is refused unless its sha256
matches the card, and it is loaded with ``safe_mode=True`` (no arbitrary code).

A :class:`ServedModel` is immutable after loading and predicts through one compiled
``tf.function`` with a fixed input signature, so one instance can be shared by every
Streamlit session (``st.cache_resource``) and threads.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import keras
import numpy as np
import tensorflow as tf

from core import paths
from core.calibration import apply_temperature
from core.cards import CARD_SUFFIX, DEFAULT_UNCERTAINTY_THRESHOLD, sha256_file
from core.model_store import (
    ModelCardError,
    ModelIntegrityError,
    ModelNotFoundError,
    ServingError,
    list_model_problems,
    list_models,
    select_card,
)
from core.preprocess import Prepared, prepare
from core.tasks import Task, get_task

__all__ = [
    "ModelCardError", "ModelIntegrityError", "ModelNotFoundError", "Prediction", "ServedModel", "ServingError",
    "list_model_problems", "list_models", "load_model",
]

logger = logging.getLogger(__name__)

#: Images per forward pass in ``predict_batch``; bounds memory for large uploads.
BATCH_SIZE = 32

#: (features, prepared images) -> OOD scores, higher = stranger.
OodScorer = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Prediction:
    """The calibrated answer for one image.

    Attributes:
        label: predicted class id, or None when the image is out of distribution.
        probabilities: class id -> calibrated probability, in the task's class order.
        confidence: the highest calibrated probability.
        uncertain: ``confidence`` is below the model card's uncertainty threshold.
        out_of_distribution: the OOD detector says the image is not of this modality.
        ood_score: the detector's score (higher = stranger), None without a detector.
        top_class: the most probable class id, kept even when ``label`` is None.
        display_names: class id -> display name, for :attr:`display_label`.
    """

    label: str | None
    probabilities: Mapping[str, float]
    confidence: float
    uncertain: bool
    out_of_distribution: bool = False
    ood_score: float | None = None
    top_class: str | None = None
    display_names: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def display_label(self) -> str:
        """What to print as the answer: the class name, flagged when uncertain or refused."""
        if self.label is None:
            return "Not recognised (out of distribution)"
        name = self.display_names.get(self.label, self.label)
        return f"{name} (uncertain)" if self.uncertain else name


def _load_mahalanobis(section: Mapping, folder: Path) -> OodScorer:
    from core.ood import OODDetectorError, load_detector

    try:
        detector = load_detector(folder / section["file"], sha256=section.get("sha256"))
    except (KeyError, OODDetectorError) as exc:
        raise ModelIntegrityError(f"Out-of-distribution detector of this model: {exc}") from None
    return detector.score


#: card ``ood.method`` -> loader of a scoring function ((features, images) -> scores, higher = stranger).
OOD_LOADERS: dict[str, Callable[[Mapping, Path], OodScorer]] = {"mahalanobis": _load_mahalanobis}


def _ood_scorer(card: Mapping, folder: Path) -> OodScorer | None:
    section = card.get("ood")
    if not section:
        return None
    method = section.get("method", "mahalanobis")
    if method not in OOD_LOADERS:
        raise ModelCardError(f"Model card {card['name']}{CARD_SUFFIX} asks for OOD method '{method}'; "
                             f"known methods: {', '.join(OOD_LOADERS)}.")
    return OOD_LOADERS[method](section, folder)


class ServedModel:
    """A checked, loaded classifier with its card; safe to share between threads.

    Attributes:
        card: the model card (dict).
        task: the core.tasks.Task the model answers.
        keras_model: the loaded keras.Model (raw 0..255 RGB in, softmax out).
        name: model name (file stem).
        class_names: class ids in output order.
        input_size: (height, width) the images are prepared to.
    """

    def __init__(self, card: Mapping, keras_model: keras.Model, ood_scorer: OodScorer | None = None):
        self.card = dict(card)
        self.task: Task = get_task(card["task_id"])
        self.keras_model = keras_model
        self.name: str = card["name"]
        self.class_names: tuple[str, ...] = tuple(card["class_names"])
        height, width, channels = card["input_shape"]
        self.input_size: tuple[int, int] = (height, width)
        self.channels: int = channels
        self.temperature = float(card["calibration"]["temperature"])
        self.uncertainty_threshold = float(card.get("uncertainty_threshold", DEFAULT_UNCERTAINTY_THRESHOLD))
        self._ood_scorer = ood_scorer
        self._ood_threshold = float(card["ood"]["threshold"]) if ood_scorer is not None else None
        try:
            # One model with both outputs, built once: a forward pass gives calibration and OOD inputs.
            head = keras.Model(keras_model.inputs, [keras_model.get_layer("logits").output,
                                                     keras_model.get_layer("features").output])
        except (ValueError, AttributeError) as exc:
            raise ModelCardError(f"Model {self.name}.keras lacks the 'logits'/'features' layers every "
                                 f"classifier of this project has ({exc}).") from None
        spec = tf.TensorSpec([None, height, width, channels], tf.float32)
        # A fixed signature traces once; model.predict per image would rebuild a dataset each call.
        self._forward = tf.function(
            lambda x: [tf.cast(t, tf.float32) for t in head(x, training=False)], input_signature=[spec]
        )

    @property
    def is_demo(self) -> bool:
        """True for weights trained on synthetic phantoms (the app must say so)."""
        return self.card["training_data"].get("kind") == "synthetic-phantoms"

    def prepare(self, image: np.ndarray) -> Prepared:
        """Run the task's preprocessing at the card's input size.

        Args:
            image: uint8 (H, W) or (H, W, 1|3|4) RGB, as core.io.load_image returns.

        Returns:
            Prepared(image uint8 (H, W, 3) model-ready, steps).
        """
        return prepare(image, self.task, size=self.input_size)

    def logits_and_features(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Raw logits and penultimate features of already-prepared images.

        Args:
            batch: (n, H, W, 3) prepared images, 0..255 (any numeric dtype).

        Returns:
            ``(logits (n, classes), features (n, d))`` as float32 numpy arrays.
        """
        batch = np.asarray(batch, dtype=np.float32)
        expected = (*self.input_size, self.channels)
        if batch.ndim != 4 or batch.shape[1:] != expected:
            raise ValueError(f"Model {self.name} expects prepared images of shape (n, {expected[0]}, "
                             f"{expected[1]}, {expected[2]}), got {batch.shape}; use ServedModel.prepare.")
        logits, features = self._forward(tf.constant(batch))
        return logits.numpy(), features.numpy()

    def _predictions(self, logits: np.ndarray, features: np.ndarray, images: np.ndarray) -> list[Prediction]:
        probs = apply_temperature(logits, self.temperature)
        scores = self._ood_scorer(features, images) if self._ood_scorer is not None else [None] * len(probs)
        out = []
        for row, score in zip(probs, scores):
            top = self.class_names[int(row.argmax())]
            ood = score is not None and float(score) > self._ood_threshold
            out.append(Prediction(
                label=None if ood else top,
                probabilities={c: float(p) for c, p in zip(self.class_names, row)},
                confidence=float(row.max()),
                uncertain=bool(row.max() < self.uncertainty_threshold),
                out_of_distribution=ood,
                ood_score=None if score is None else float(score),
                top_class=top,
                display_names=self.task.class_names,
            ))
        return out

    def predict_batch(self, images: Sequence[np.ndarray]) -> list[Prediction]:
        """Calibrated predictions for decoded images (preprocessed here).

        Args:
            images: uint8 images as core.io.load_image returns them.

        Returns:
            One Prediction per image, in order.
        """
        prepared = [self.prepare(image).image for image in images]
        out: list[Prediction] = []
        for start in range(0, len(prepared), BATCH_SIZE):
            batch = np.stack(prepared[start:start + BATCH_SIZE]).astype(np.float32)
            out += self._predictions(*self.logits_and_features(batch), batch)
        return out

    def predict(self, image: np.ndarray) -> Prediction:
        """Calibrated prediction for one decoded image (see :meth:`predict_batch`)."""
        return self.predict_batch([image])[0]

    def warm_up(self) -> None:
        """Run one dummy batch so the first clinician upload does not pay for tracing."""
        self.logits_and_features(np.zeros((1, *self.input_size, self.channels), np.float32))

    def __repr__(self) -> str:
        return f"ServedModel(task={self.task.id!r}, name={self.name!r})"


#: Modules whose import registers the project's serialisable layers, which safe_mode loading needs.
_LAYER_MODULES = ("core.models", "core.models.layers")


def _register_custom_layers() -> None:
    for module in _LAYER_MODULES:
        if importlib.util.find_spec(module) is not None:
            importlib.import_module(module)


def load_model(task_id: str, name: str | None = None, models_dir: str | Path | None = None,
               warm_up: bool = True) -> ServedModel:
    """Load a served model after checking its card and its file's integrity.

    Args:
        task_id: the task.
        name: model name; None picks the card marked ``default``, else the best test accuracy.
        models_dir: root holding ``<task_id>/`` folders; defaults to ``core.paths.MODELS_DIR``.
        warm_up: trace the forward pass now rather than on the first prediction.

    Returns:
        The ServedModel.

    Raises:
        ModelNotFoundError: no (valid) model for the task, or no model of that name.
        ModelIntegrityError: the .keras differs from its card's sha256, or cannot be loaded.
        ModelCardError: the card is invalid or does not fit the model (a ModelIntegrityError).
    """
    task = get_task(task_id)
    root = Path(models_dir) if models_dir is not None else paths.MODELS_DIR
    card = select_card(task.id, name, root)
    folder = root / task.id
    keras_path = folder / card["keras_file"]
    if not keras_path.is_file():
        raise ModelNotFoundError(f"Model card {card['name']}{CARD_SUFFIX} names {keras_path.name}, which is not in "
                                 f"{folder}; put the .keras file beside its card.")
    if sha256_file(keras_path) != card["sha256"]:
        raise ModelIntegrityError(f"{keras_path.name} does not match the sha256 in its model card: the file was "
                                  "modified or corrupted after the card was written.")
    _register_custom_layers()
    try:
        keras_model = keras.models.load_model(keras_path, safe_mode=True, compile=False)
    except Exception as exc:  # Keras raises many types for a bad archive; all mean "cannot serve this file"
        raise ModelIntegrityError(f"{keras_path.name} could not be loaded safely ({type(exc).__name__}: "
                                  f"{str(exc).splitlines()[0] if str(exc) else 'no detail'}).") from exc
    _check_model_fits_card(keras_model, card)
    served = ServedModel(card, keras_model, _ood_scorer(card, folder))
    if warm_up:
        served.warm_up()
    return served


def _check_model_fits_card(keras_model: keras.Model, card: Mapping) -> None:
    """The architecture must agree with the card, or the class mapping would be wrong."""
    in_shape = tuple(keras_model.inputs[0].shape[1:])
    out_shape = tuple(keras_model.outputs[0].shape[1:])
    problems = []
    if any(d is not None and d != c for d, c in zip(in_shape, card["input_shape"])) or len(in_shape) != 3:
        problems.append(f"its input is {in_shape} but the card says {tuple(card['input_shape'])}")
    if out_shape != (len(card["class_names"]),):
        problems.append(f"it outputs {out_shape} scores but the card lists {len(card['class_names'])} classes")
    if problems:
        raise ModelCardError(f"Model {card['keras_file']} does not fit its card: {'; '.join(problems)}.")
