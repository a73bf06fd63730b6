"""Compiled CAM passes on a model's own layers, built once per (model, layer, method).

A ``CamGraph`` is one Keras view of the classifier with three outputs: the explained feature
map, the class logits (softmax removed: saturated probabilities have vanishing gradients) and the
penultimate features (for the OOD detector). Each registered method turns it into one
``tf.function`` with a fixed input signature, so a prediction and its heat map come from the same
forward pass, traced once and reused by every request.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import Callable, Sequence

import keras
import numpy as np
import tensorflow as tf

from core.explain.layers import MIN_SIDE, candidate_layers, choose_layer, find_target_layer
from core.explain.registry import ExplainError, get_method
from core.models.head import FEATURES_LAYER, LOGITS_LAYER


@dataclass
class CamGraph:
    """What a CAM method needs from a model.

    Attributes:
        model: the classifier.
        layer: name of the explained feature map.
        view: keras.Model image -> [feature map, pre-logits, features].
        to_logits: pre-logits -> logits (identity for our classifiers; the last Dense for a
            foreign model whose softmax is fused into it).
        input_shape: (H, W, C).
    """

    model: keras.Model
    layer: str
    view: keras.Model
    to_logits: Callable
    input_shape: tuple[int, int, int]

    def outputs(self, images: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """(feature map, logits, features) as float32, inference mode."""
        fmap, pre, features = self.view(images, training=False)
        return tf.cast(fmap, tf.float32), tf.cast(self.to_logits(pre), tf.float32), tf.cast(features, tf.float32)

    @property
    def signature(self) -> list[tf.TensorSpec]:
        """The fixed input signature every pass is traced with."""
        return [tf.TensorSpec([None, *self.input_shape], tf.float32), tf.TensorSpec([None], tf.int32)]


def _symbolic_outputs(model: keras.Model) -> tuple[list, dict]:
    """(inputs, layer name -> output tensor) of one consistent graph of ``model``.

    A loaded Sequential model keeps layer outputs from more than one build, so a view mixing
    them would compute the explained map and the logits on separate branches (no gradient
    between them); re-applying its layers to a fresh input gives one graph with the same weights.
    """
    if not isinstance(model, keras.Sequential):
        return model.inputs, {layer.name: layer.output for layer in model.layers}
    inputs = keras.Input(tuple(model.inputs[0].shape[1:]), dtype=model.inputs[0].dtype)
    tensors, x = {}, inputs
    for layer in model.layers:
        x = tensors[layer.name] = layer(x)
    return [inputs], tensors


def _logits_and_features(model: keras.Model, tensors: dict):
    names = [layer.name for layer in model.layers]
    if LOGITS_LAYER in tensors:  # every classifier of this project
        return tensors[LOGITS_LAYER], (lambda t: t), tensors.get(FEATURES_LAYER, tensors[LOGITS_LAYER])
    last = model.layers[-1]
    before = tensors[names[-2]] if len(names) > 1 and isinstance(model, keras.Sequential) else last.input
    activation = getattr(getattr(last, "activation", None), "__name__", "")
    if isinstance(last, keras.layers.Activation) and activation in ("softmax", "sigmoid"):
        return before, (lambda t: t), before
    if isinstance(last, keras.layers.Dense) and activation in ("softmax", "sigmoid"):
        # The softmax is fused into the last Dense: recompute its pre-activation from its weights.
        def dense_logits(pre, layer=last):
            out = tf.matmul(tf.cast(pre, layer.kernel.dtype), layer.kernel)
            return out + layer.bias if layer.use_bias else out
        return before, dense_logits, before
    return tensors[names[-1]], (lambda t: t), tensors[names[-1]]


def _check_model(model: keras.Model) -> None:
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ExplainError(f"Heat maps need a model with one image input and one output; "
                           f"'{model.name}' has {len(model.inputs)} and {len(model.outputs)}.")


def cam_graph(model: keras.Model, layer: str) -> CamGraph:
    """The three-output view of ``model`` explaining ``layer``.

    Raises:
        ExplainError: no such layer, a nested sub-model, or a layer without a 4-D output.
    """
    _check_model(model)
    try:
        target = model.get_layer(layer)
    except ValueError:
        raise ExplainError(f"Model '{model.name}' has no layer named '{layer}'.") from None
    if isinstance(target, keras.Model):
        raise ExplainError(f"Layer '{layer}' is a nested sub-model, whose inside Grad-CAM cannot "
                           "reach; rebuild the classifier with core.models.build_classifier.")
    try:
        shape = target.output.shape
    except (AttributeError, ValueError):
        shape = ()
    if len(shape) != 4:
        raise ExplainError(f"Layer '{layer}' does not output a 4-D feature map; pick a convolutional layer.")
    inputs, tensors = _symbolic_outputs(model)
    pre, to_logits, features = _logits_and_features(model, tensors)
    view = keras.Model(inputs, [tensors[layer], pre, features])
    return CamGraph(model, layer, view, to_logits, tuple(int(d) for d in model.inputs[0].shape[1:]))


# Tracing costs seconds; keep one compiled pass per (model, layer, method), dropped with the model.
_CACHE: weakref.WeakKeyDictionary[keras.Model, dict] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def compiled_pass(model: keras.Model, layer: str, method: str) -> Callable:
    """The cached ``tf.function`` of ``method`` on ``model`` at ``layer`` (built on first use)."""
    spec = get_method(method)
    with _LOCK:
        per_model = _CACHE.setdefault(model, {})
        key = (layer, method)
        if key not in per_model:
            graphs = per_model.setdefault("graphs", {})
            if layer not in graphs:
                graphs[layer] = cam_graph(model, layer)
            per_model[key] = spec.build(graphs[layer])
        return per_model[key]


def _has_evidence(model: keras.Model, layer: str, probes: np.ndarray) -> bool:
    _, _, cams = compiled_pass(model, layer, "gradcam")(tf.constant(probes, tf.float32),
                                                         tf.fill([len(probes)], -1))
    return bool(np.asarray(cams).max() > 0)


def explained_layer(model: keras.Model, probes: np.ndarray | None = None, min_side: int = MIN_SIDE) -> str:
    """The layer heat maps of ``model`` are computed at, remembered per model.

    Args:
        model: the classifier.
        probes: model-ready images to check the class evidence on (first call only).
        min_side: the smallest map side accepted.

    Returns:
        The layer's name (see ``core.explain.layers.choose_layer``).
    """
    _check_model(model)
    with _LOCK:
        chosen = _CACHE.setdefault(model, {}).get("layer")
    if chosen is None:
        chosen = choose_layer(model, min_side, probes, lambda name, x: _has_evidence(model, name, x))
        with _LOCK:
            _CACHE[model]["layer"] = chosen
    return chosen


def _check_batch(model: keras.Model, batch) -> np.ndarray:
    batch = np.asarray(batch, dtype=np.float32)
    if batch.ndim == 3:
        batch = batch[None]
    expected = tuple(model.inputs[0].shape[1:])
    if batch.ndim != 4 or any(e is not None and e != b for e, b in zip(expected, batch.shape[1:])):
        raise ExplainError(f"Model '{model.name}' expects images of shape {expected}; got a batch "
                           f"of shape {batch.shape}. Preprocess the image for this model first.")
    if not np.isfinite(batch).all():
        raise ExplainError("The image contains NaN or infinite values.")
    return batch


def _check_classes(model: keras.Model, class_index, n: int) -> np.ndarray:
    n_classes = int(model.outputs[0].shape[-1])
    indices = [class_index] * n if np.ndim(class_index) == 0 else list(class_index)
    if class_index is None:
        return np.full(n, -1, np.int32)
    if len(indices) != n or not all(isinstance(i, (int, np.integer)) and -1 <= i < n_classes for i in indices):
        raise ExplainError(f"class_index must be an integer in [0, {n_classes}) or one per image; "
                           f"got {class_index!r} for {n} image(s).")
    return np.asarray(indices, np.int32)


def run_pass(model: keras.Model, batch, class_index: int | Sequence[int] | None = None,
             method: str = "gradcam", layer: str | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """One compiled forward (+ backward) pass: logits, features and raw maps together.

    Args:
        model: a single-input, single-output Keras classifier.
        batch: (n, H, W, C) or (H, W, C) model-ready images.
        class_index: class to explain, for all images or one per image (-1: that image's predicted
            class); None: each image's predicted class.
        method: a key of ``CAM_METHODS``.
        layer: the feature map to explain; None: :func:`explained_layer`.

    Returns:
        ``(logits (n, k), features (n, d), raw maps (n, h, w) >= 0 at the layer's resolution, layer)``.

    Raises:
        ExplainError: unknown method or layer, wrong image shape, class out of range.
    """
    get_method(method)
    _check_model(model)
    batch = _check_batch(model, batch)
    indices = _check_classes(model, class_index, len(batch))
    layer = layer or explained_layer(model)
    logits, features, cams = compiled_pass(model, layer, method)(tf.constant(batch), tf.constant(indices))
    cams = np.maximum(np.nan_to_num(np.asarray(cams, np.float32)), 0.0)
    return np.asarray(logits, np.float32), np.asarray(features, np.float32), cams, layer


def resize_maps(cams: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(n, h, w) maps -> (n, H, W) by bilinear interpolation, clipped at 0 (interpolation can undershoot)."""
    out = tf.image.resize(np.asarray(cams, np.float32)[..., None], size, method="bilinear")[..., 0]
    return np.maximum(out.numpy(), 0.0)


def class_activation_map(model: keras.Model, batch: np.ndarray, class_index: int | Sequence[int] | None,
                         method: str = "gradcam", layer: str | None = None) -> np.ndarray:
    """Heat maps of where ``model`` found evidence for a class, each scaled to its own peak.

    Args:
        model: a single-input, single-output Keras classifier (ours or any functional one).
        batch: (N, H, W, C) model-ready images (or one (H, W, C) image), as fed to ``model``.
        class_index: the class to explain, for all images or one per image; None: the predicted class.
        method: a key of ``CAM_METHODS``.
        layer: name of the layer to explain; None picks the finest map that still carries evidence.

    Returns:
        (N, H, W) float32 in [0, 1] at the input resolution; all zeros where the model
        found no positive evidence.

    Raises:
        ExplainError: unknown method or layer, wrong image shape, class out of range.
    """
    if layer is None:
        _check_model(model)
        find_target_layer(model)  # a model without any 4-D layer is refused in words
        layer = (candidate_layers(model) or [None])[0]
    _, _, cams, _ = run_pass(model, batch, class_index, method, layer)
    cams = resize_maps(cams, tuple(int(d) for d in model.inputs[0].shape[1:3]))
    peak = cams.max(axis=(1, 2), keepdims=True)
    # A map with no evidence stays all zeros (not 0/0).
    return np.divide(cams, peak, out=np.zeros_like(cams), where=peak > 0).astype(np.float32)
