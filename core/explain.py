"""Where did the model look? Grad-CAM, Grad-CAM++ and Score-CAM heat maps, and overlays.

``class_activation_map`` is a pure function: (model, batch, class) -> heat maps in
[0, 1] at the input resolution. Colouring them over the image is ``overlay``'s job.
The maps come from tf-keras-vis; this module decides which layer to explain, removes
the softmax so saturated probabilities still give gradients, and normalises the result.
"""

from __future__ import annotations

import contextlib
import threading
import warnings
import weakref
from dataclasses import dataclass, field
from typing import Sequence

import cv2
import keras
import numpy as np
from tf_keras_vis.gradcam import Gradcam
from tf_keras_vis.gradcam_plus_plus import GradcamPlusPlus
from tf_keras_vis.scorecam import Scorecam
from tf_keras_vis.utils.model_modifiers import ReplaceToLinear
from tf_keras_vis.utils.scores import CategoricalScore

from core.models.head import LOGITS_LAYER
from core.models.layers import BackboneNormalization

#: Score-CAM runs one forward pass per feature map; the most varied 32 carry the signal.
SCORECAM_MAX_N = 32


class ExplainError(ValueError):
    """A heat map was asked of a model, input, class or setting that cannot give one."""


@dataclass(frozen=True)
class CamMethod:
    """One heat-map algorithm.

    Attributes:
        visualizer: the tf-keras-vis class; it is given the model with a linear output
            (Score-CAM applies its own softmax to it, the gradient methods use the logit).
        call_kwargs: extra arguments of the visualizer call.
    """

    visualizer: type
    call_kwargs: dict = field(default_factory=dict)


#: UI name -> algorithm.
CAM_METHODS: dict[str, CamMethod] = {
    "gradcam": CamMethod(Gradcam),
    "gradcam++": CamMethod(GradcamPlusPlus),
    "scorecam": CamMethod(Scorecam, {"max_N": SCORECAM_MAX_N}),
}

# Building a visualizer clones or re-wires the model, too slow to repeat per click.
# Keyed weakly on the model so a dropped model frees its visualizers too.
_CACHE: "weakref.WeakKeyDictionary[keras.Model, dict]" = weakref.WeakKeyDictionary()
_CACHE_LOCK = threading.Lock()


def _is_image_layer(layer: keras.layers.Layer) -> bool:
    if isinstance(layer, (keras.layers.InputLayer, BackboneNormalization)):
        return False
    try:
        return len(layer.output.shape) == 4
    except (AttributeError, ValueError):  # a layer called more than once has no single output
        return False


def find_target_layer(model: keras.Model) -> str:
    """The layer Grad-CAM explains: the last one with a 4-D (image-like) output.

    Args:
        model: any single-input Keras image classifier.

    Returns:
        The layer's name.

    Raises:
        ExplainError: the model has no such layer (not a convolutional network).
    """
    for layer in reversed(model.layers):
        if _is_image_layer(layer):
            return layer.name
    raise ExplainError(
        f"Model '{model.name}' has no layer with a 4-D (height x width x channels) output, so "
        "there is no feature map to build a heat map from; it is not a convolutional network."
    )


def _visualizer(model: keras.Model, method: str):
    with _CACHE_LOCK:
        per_model = _CACHE.setdefault(model, {})
        if method not in per_model:
            per_model[method] = _linear_visualizer(model, CAM_METHODS[method])
        viz = per_model[method]
    if viz.model is not model and not _shares_weights(viz.model, model):
        # A clone holds a weight snapshot; refresh it so a model trained since is explained as is.
        viz.model.set_weights(model.get_weights())
    return viz


def _linear_visualizer(model: keras.Model, spec: CamMethod):
    if LOGITS_LAYER in {layer.name for layer in model.layers}:
        # Our classifiers expose their logits: a view on the same layers, no copy needed.
        logits = keras.Model(model.inputs, model.get_layer(LOGITS_LAYER).output)
        return spec.visualizer(logits)
    # Other models: a clone with the output activation made linear (softmax saturates to
    # 0/1 for confident predictions and its gradient vanishes). The functional view gives
    # Sequential models the ``output_names`` that ReplaceToLinear looks up.
    functional = keras.Model(model.inputs, model.outputs)
    return spec.visualizer(functional, model_modifier=ReplaceToLinear(), clone=True)


def _shares_weights(a: keras.Model, b: keras.Model) -> bool:
    return bool(a.weights) and a.weights[0] is b.weights[0]


@contextlib.contextmanager
def _quiet_keras():
    # tf-keras-vis calls predict() with a progress bar and feeds inputs as a list, which
    # Keras warns about; neither is news to a clinician or a log.
    was_interactive = keras.config.is_interactive_logging_enabled()
    keras.config.disable_interactive_logging()
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The structure of `inputs`")
            yield
    finally:
        if was_interactive:
            keras.config.enable_interactive_logging()


def _check_inputs(model: keras.Model, batch, class_index, method: str, layer: str | None):
    if method not in CAM_METHODS:
        raise ExplainError(f"Unknown heat-map method '{method}'; choose one of: {', '.join(CAM_METHODS)}.")
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ExplainError(f"Heat maps need a model with one image input and one output; "
                           f"'{model.name}' has {len(model.inputs)} and {len(model.outputs)}.")
    batch = np.asarray(batch, dtype=np.float32)
    if batch.ndim == 3:
        batch = batch[None]
    expected = tuple(model.inputs[0].shape[1:])
    if batch.ndim != 4 or any(e is not None and e != b for e, b in zip(expected, batch.shape[1:])):
        raise ExplainError(f"Model '{model.name}' expects images of shape {expected}; got a batch "
                           f"of shape {batch.shape}. Preprocess the image for this model first.")
    if not np.isfinite(batch).all():
        raise ExplainError("The image contains NaN or infinite values.")
    n_classes = int(model.outputs[0].shape[-1])
    indices = [class_index] * len(batch) if np.ndim(class_index) == 0 else list(class_index)
    if len(indices) != len(batch) or not all(
            isinstance(i, (int, np.integer)) and 0 <= i < n_classes for i in indices):
        raise ExplainError(f"class_index must be an integer in [0, {n_classes}) or one per image; "
                           f"got {class_index!r} for {len(batch)} image(s).")
    layer = layer or find_target_layer(model)
    try:
        target = model.get_layer(layer)
    except ValueError:
        raise ExplainError(f"Model '{model.name}' has no layer named '{layer}'.") from None
    if isinstance(target, keras.Model):
        raise ExplainError(f"Layer '{layer}' is a nested sub-model, whose inside Grad-CAM cannot "
                           "reach; rebuild the classifier with core.models.build_classifier.")
    if not _is_image_layer(target):
        raise ExplainError(f"Layer '{layer}' does not output a 4-D feature map; pick a convolutional layer.")
    return batch, [int(i) for i in indices], layer


def class_activation_map(model: keras.Model, batch: np.ndarray, class_index: int | Sequence[int],
                         method: str = "gradcam", layer: str | None = None) -> np.ndarray:
    """Heat maps of where ``model`` found evidence for a class.

    Args:
        model: a single-input, single-output Keras classifier (ours or any functional one).
        batch: (N, H, W, C) model-ready images (or one (H, W, C) image), as fed to ``model``.
        class_index: the class to explain, for all images or one per image.
        method: a key of ``CAM_METHODS``.
        layer: name of the layer to explain; None finds the last 4-D layer.

    Returns:
        (N, H, W) float32 in [0, 1] at the input resolution; all zeros where the model
        found no positive evidence.

    Raises:
        ExplainError: unknown method or layer, wrong image shape, class out of range.
    """
    batch, indices, layer = _check_inputs(model, batch, class_index, method, layer)
    spec = CAM_METHODS[method]
    kwargs = dict(spec.call_kwargs)
    if "max_N" in kwargs:
        # Score-CAM cannot pick more maps than the layer has channels.
        kwargs["max_N"] = min(kwargs["max_N"], int(model.get_layer(layer).output.shape[-1]))
    viz = _visualizer(model, method)
    with _quiet_keras():
        cams = viz(
            CategoricalScore(indices), batch,
            penultimate_layer=layer,
            # Explain exactly the chosen layer, not the nearest Conv2D before it.
            seek_penultimate_conv_layer=False,
            # Resize to the input so the map lines up with the image.
            expand_cam=True,
            # We normalise ourselves: tf-keras-vis' min-max would stretch a flat map to noise.
            normalize_cam=False,
            **kwargs,
        )
    cams = np.nan_to_num(np.asarray(cams, dtype=np.float32).reshape(batch.shape[:3]))
    # Only positive evidence counts; interpolation can undershoot below zero.
    cams = np.maximum(cams, 0.0)
    peak = cams.max(axis=(1, 2), keepdims=True)
    # Scale each map by its own peak; a map with no evidence stays all zeros (not 0/0).
    return np.divide(cams, peak, out=np.zeros_like(cams), where=peak > 0)


#: UI name -> OpenCV colour map.
COLORMAPS: dict[str, int] = {
    "jet": cv2.COLORMAP_JET,
    "turbo": cv2.COLORMAP_TURBO,
    "inferno": cv2.COLORMAP_INFERNO,
    "viridis": cv2.COLORMAP_VIRIDIS,
    "hot": cv2.COLORMAP_HOT,
}


def _as_rgb(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 1):
        return cv2.cvtColor(image.reshape(image.shape[:2]), cv2.COLOR_GRAY2RGB)
    if image.ndim == 3 and image.shape[2] in (3, 4):
        return np.ascontiguousarray(image[..., :3])
    raise ExplainError(f"Expected a grey or RGB image (H, W[, 1|3|4]); got shape {image.shape}.")


def overlay(image_uint8: np.ndarray, heatmap: np.ndarray, alpha: float = 0.4,
            colormap: str = "jet") -> np.ndarray:
    """Colour a heat map and blend it over the image it explains.

    Args:
        image_uint8: (H, W), (H, W, 1) or (H, W, 3) uint8 image.
        heatmap: 2-D map in [0, 1] (any size; resized to the image).
        alpha: weight of the heat map, 0 (image only) to 1 (heat map only).
        colormap: a key of ``COLORMAPS``.

    Returns:
        (H, W, 3) uint8 RGB.

    Raises:
        ExplainError: wrong dtype or shape, alpha out of range, unknown colour map.
    """
    image = np.asarray(image_uint8)
    if image.dtype != np.uint8:
        raise ExplainError(f"overlay needs a uint8 image (0-255); got {image.dtype}.")
    heatmap = np.asarray(heatmap, dtype=np.float32)
    if heatmap.ndim != 2 or heatmap.size == 0 or not np.isfinite(heatmap).all():
        raise ExplainError(f"The heat map must be a finite 2-D array; got shape {heatmap.shape}.")
    if not 0.0 <= alpha <= 1.0:
        raise ExplainError(f"alpha must lie in [0, 1]; got {alpha}.")
    if colormap not in COLORMAPS:
        raise ExplainError(f"Unknown colour map '{colormap}'; choose one of: {', '.join(COLORMAPS)}.")
    rgb = _as_rgb(image)
    height, width = rgb.shape[:2]
    levels = np.uint8(np.round(255 * np.clip(heatmap, 0.0, 1.0)))
    levels = cv2.resize(levels, (width, height), interpolation=cv2.INTER_LINEAR)
    colored = cv2.cvtColor(cv2.applyColorMap(levels, COLORMAPS[colormap]), cv2.COLOR_BGR2RGB)
    return cv2.addWeighted(rgb, 1.0 - alpha, colored, alpha, 0.0)


def heatmap(served_model, image: np.ndarray, class_name: str | None = None,
            method: str = "gradcam") -> np.ndarray:
    """Class-activation map of a served model for one decoded image.

    The image goes through the model card's own preprocessing first, so the map lines up
    with the model-ready image (``served_model.prepare(image).image``), not the upload.

    Args:
        served_model: a ``core.inference.ServedModel``.
        image: uint8 RGB pixels from ``core.io.load_image``.
        class_name: class id to explain; None explains the predicted class.
        method: a key of ``CAM_METHODS``.

    Returns:
        (H, W) float32 in [0, 1] at the model input size.

    Raises:
        ExplainError: unknown class or method.
    """
    prepared = served_model.prepare(image).image
    if class_name is None:
        class_name = served_model.predict(image).top_class
    if class_name not in served_model.class_names:
        raise ExplainError(f"Class '{class_name}' is not one of this model's classes: "
                           f"{', '.join(served_model.class_names)}.")
    index = list(served_model.class_names).index(class_name)
    # The served graph takes 0..255 float images; its normalisation layer does the rest.
    return class_activation_map(served_model.keras_model, prepared[None].astype(np.float32), index, method)[0]
