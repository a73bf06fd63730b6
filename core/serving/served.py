"""A served classifier: load it checked, predict calibrated answers with sets and an OOD verdict.

A served model is ``MODELS_DIR/<task_id>/<name>.keras`` with ``<name>.card.json`` beside it.
Its card decides the class order, input size, temperature, conformal threshold, uncertainty
threshold and the optional out-of-distribution detector; every file is checked by
:mod:`core.serving.loader` before it is used.

A :class:`ServedModel` is immutable after loading and predicts through one traced
:class:`core.serving.forward.Forward`, so one instance can be shared by every Streamlit
session (``st.cache_resource``) and threads.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from core import paths
from core.preprocess import Prepared, prepare
from core.serving import conformal
from core.serving.calibration import apply_temperature
from core.serving.cards import CARD_SUFFIX, DEFAULT_UNCERTAINTY_THRESHOLD
from core.serving.errors import ModelCardError, ModelNotFoundError, ServingError
from core.serving.forward import Forward
from core.serving.loader import load_keras_checked, load_ood_checked
from core.serving.modality_guard import GUARD_KIND
from core.serving.store import select_card
from core.tasks import Task, get_task

logger = logging.getLogger(__name__)

#: Images per forward pass in ``predict_batch``; bounds memory for large uploads.
BATCH_SIZE = 32

#: (features, prepared images) -> OOD scores, higher = stranger.
OodScorer = Callable[[np.ndarray, np.ndarray], np.ndarray]


class PredictionError(ServingError):
    """One image of a batch could not be analysed; the others still were."""


@dataclass(frozen=True)
class Prediction:
    """The calibrated answer for one image.

    Attributes:
        label: predicted class id, or None when the image is out of distribution.
        probabilities: class id -> calibrated probability, in the task's class order.
        confidence: the highest calibrated probability.
        uncertain: the conformal set holds more than one class (without a conformal section:
            ``confidence`` is below the card's uncertainty threshold).
        out_of_distribution: the OOD detector says the image is not what the model was trained on.
        ood_score: the detector's score (higher = stranger), None without a detector.
        top_class: the most probable class id, kept even when ``label`` is None.
        display_names: class id -> display name, for :attr:`display_label`.
        prediction_set: class ids the model cannot rule out at the card's conformal level, in class
            order (just the top class without a conformal section).
    """

    label: str | None
    probabilities: Mapping[str, float]
    confidence: float
    uncertain: bool
    out_of_distribution: bool = False
    ood_score: float | None = None
    top_class: str | None = None
    display_names: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    prediction_set: tuple[str, ...] = ()

    @property
    def display_label(self) -> str:
        """What to print as the answer: the class name, flagged when uncertain or refused."""
        if self.label is None:
            return "Not recognised (out of distribution)"
        name = self.display_names.get(self.label, self.label)
        return f"{name} (uncertain)" if self.uncertain else name


def _mahalanobis(section: Mapping, folder: Path) -> OodScorer:  # also loads the modality guard
    return load_ood_checked(folder, section).score


#: card ``ood.method`` -> loader of a scoring function ((features, images) -> scores, higher = stranger).
#: Both detectors load through the same checked loader, which reads the kind from the file itself.
OOD_LOADERS: dict[str, Callable[[Mapping, Path], OodScorer]] = {"mahalanobis": _mahalanobis,
                                                                GUARD_KIND: _mahalanobis}


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

    def __init__(self, card: Mapping, keras_model, ood_scorer: OodScorer | None = None, forward=None):
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
        section = card.get("conformal") or {}
        self.conformal_threshold: float | None = section.get("threshold")
        self._ood_scorer = ood_scorer
        self._ood_threshold = float(card["ood"]["threshold"]) if ood_scorer is not None else None
        if forward is not None:  # e.g. core.serving.remote.RemoteForward: same call, answered elsewhere
            self._forward = forward
            return
        try:
            self._forward = Forward(keras_model)
        except ValueError as exc:
            raise ModelCardError(f"Model {self.name}.keras: {exc}") from None

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
        try:
            return self._forward(batch)
        except ValueError as exc:
            raise ValueError(f"Model {self.name}: {exc} Use ServedModel.prepare.") from None

    def _predictions(self, logits: np.ndarray, features: np.ndarray, images: np.ndarray) -> list[Prediction]:
        probs = apply_temperature(logits, self.temperature)
        scores = self._ood_scorer(features, images) if self._ood_scorer is not None else [None] * len(probs)
        if self.conformal_threshold is not None:
            members = conformal.prediction_sets(probs, self.conformal_threshold)
        else:
            members = probs == probs.max(axis=1, keepdims=True)
        out = []
        for row, score, member in zip(probs, scores, members):
            top = self.class_names[int(row.argmax())]
            ood = score is not None and float(score) > self._ood_threshold
            classes = conformal.class_set(member, self.class_names)
            # With a conformal section, "uncertain" means more than one class cannot be ruled out.
            wide = len(classes) > 1 if self.conformal_threshold is not None else row.max() < self.uncertainty_threshold
            out.append(Prediction(
                label=None if ood else top,
                probabilities={c: float(p) for c, p in zip(self.class_names, row)},
                confidence=float(row.max()),
                uncertain=bool(wide),
                out_of_distribution=ood,
                ood_score=None if score is None else float(score),
                top_class=top,
                display_names=self.task.class_names,
                prediction_set=classes,
            ))
        return out

    def _predict_prepared(self, batch: np.ndarray) -> list[Prediction | PredictionError]:
        try:
            return list(self._predictions(*self.logits_and_features(batch), batch))
        except Exception:  # noqa: BLE001  one image may break a batch: retry one by one so only it fails
            if len(batch) == 1:
                logger.exception("Prediction failed for one image")
                return [PredictionError("This image could not be analysed by the model; try another export of it.")]
            return [item for i in range(len(batch)) for item in self._predict_prepared(batch[i:i + 1])]

    def predict_batch(self, images: Sequence[np.ndarray]) -> list[Prediction | PredictionError]:
        """Calibrated predictions for decoded images (preprocessed here); one bad image never costs the others.

        Args:
            images: uint8 images as core.io.load_image returns them.

        Returns:
            One item per image, in order: its Prediction, or a PredictionError saying why it could not be analysed.
        """
        out: list[Prediction | PredictionError | None] = [None] * len(images)
        ready: list[tuple[int, np.ndarray]] = []
        for i, image in enumerate(images):
            try:
                ready.append((i, self.prepare(image).image))
            except Exception as exc:  # noqa: BLE001  any failure of one image is that image's answer
                out[i] = PredictionError(f"This image could not be prepared for the model: {str(exc)[:200]}")
        for start in range(0, len(ready), BATCH_SIZE):
            chunk = ready[start:start + BATCH_SIZE]
            batch = np.stack([image for _, image in chunk]).astype(np.float32)
            for (i, _), item in zip(chunk, self._predict_prepared(batch)):
                out[i] = item
        return out

    def predict(self, image: np.ndarray) -> Prediction:
        """Calibrated prediction for one decoded image (see :meth:`predict_batch`).

        Raises:
            PredictionError: the image could not be analysed.
        """
        result = self.predict_batch([image])[0]
        if isinstance(result, PredictionError):
            raise result
        return result

    def warm_up(self) -> None:
        """Run one dummy batch so the first clinician upload does not pay for tracing."""
        self.logits_and_features(np.zeros((1, *self.input_size, self.channels), np.float32))

    def __repr__(self) -> str:
        return f"ServedModel(task={self.task.id!r}, name={self.name!r})"


def load_model(task_id: str, name: str | None = None, models_dir: str | Path | None = None,
               warm_up: bool = True) -> ServedModel:
    """Load a served model after checking its card and every file it depends on.

    Args:
        task_id: the task.
        name: model name; None picks the card marked ``default``, else the best test accuracy.
        models_dir: root holding ``<task_id>/`` folders; defaults to ``core.paths.MODELS_DIR``.
        warm_up: trace the forward pass now rather than on the first prediction.

    Returns:
        The ServedModel.

    Raises:
        ModelNotFoundError: no (valid) model for the task, or no model of that name.
        ModelIntegrityError: the .keras or OOD file differs from its card's sha256, or cannot be loaded.
        ModelCardError: the card is invalid or does not fit the model (a ModelIntegrityError).
    """
    from core.serving.remote import load_remote, serving_url

    if serving_url():  # MEDIMG_SERVING_URL: predictions come from TensorFlow Serving
        return load_remote(task_id, name, models_dir, warm_up=warm_up)
    task = get_task(task_id)
    root = Path(models_dir) if models_dir is not None else paths.MODELS_DIR
    card = select_card(task.id, name, root)
    folder = root / task.id
    keras_path = folder / card["keras_file"]
    if not keras_path.is_file():
        raise ModelNotFoundError(f"Model card {card['name']}{CARD_SUFFIX} names {keras_path.name}, which is not in "
                                 f"{folder}; put the .keras file beside its card.")
    keras_model = load_keras_checked(keras_path, card["sha256"])
    check_model_fits_card(keras_model, card)
    served = ServedModel(card, keras_model, _ood_scorer(card, folder))
    if warm_up:
        served.warm_up()
    return served


def check_model_fits_card(keras_model: Any, card: Mapping) -> None:
    """The architecture must agree with the card, or the class mapping would be wrong.

    Raises:
        ModelCardError: input shape or number of outputs differ from the card.
    """
    in_shape = tuple(keras_model.inputs[0].shape[1:])
    out_shape = tuple(keras_model.outputs[0].shape[1:])
    problems = []
    if any(d is not None and d != c for d, c in zip(in_shape, card["input_shape"])) or len(in_shape) != 3:
        problems.append(f"its input is {in_shape} but the card says {tuple(card['input_shape'])}")
    if out_shape != (len(card["class_names"]),):
        problems.append(f"it outputs {out_shape} scores but the card lists {len(card['class_names'])} classes")
    if problems:
        raise ModelCardError(f"Model {card['keras_file']} does not fit its card: {'; '.join(problems)}.")
