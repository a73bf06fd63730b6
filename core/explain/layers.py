"""Which feature map to explain.

The last convolutional map is the most class-specific but, on small inputs, coarse (4 x 4 for
MobileNetV2 at 128 px: a blob the size of a quarter of the brain). ``choose_layer`` takes the
deepest map that is still at least ``MIN_SIDE`` cells on a side, skipping layers that only
reshape, pad or normalise, and checks on probe images that the class score still depends on it.
"""

from __future__ import annotations

import keras
import numpy as np

from core.explain.registry import ExplainError
from core.models.layers import BackboneNormalization

#: The coarsest map the served models are explained at (cells per side).
MIN_SIDE = 7

# Layers whose output is a re-framing of the previous map rather than new evidence: explaining
# them adds padding borders (ZeroPadding) or un-activated affine copies (BatchNorm).
_PASS_THROUGH = (keras.layers.InputLayer, BackboneNormalization, keras.layers.ZeroPadding2D,
                 keras.layers.BatchNormalization, keras.layers.Dropout, keras.layers.Rescaling,
                 keras.layers.Cropping2D)


def _spatial_shape(layer: keras.layers.Layer) -> tuple[int, int] | None:
    try:
        shape = layer.output.shape
    except (AttributeError, ValueError):  # a layer called more than once has no single output
        return None
    if len(shape) != 4:
        return None
    return shape[1], shape[2]


def _is_image_layer(layer: keras.layers.Layer) -> bool:
    return not isinstance(layer, (keras.layers.InputLayer, BackboneNormalization)) and _spatial_shape(layer) is not None


def find_target_layer(model: keras.Model) -> str:
    """The last layer with a 4-D (image-like) output, whatever its size.

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


def _is_evidence_layer(layer: keras.layers.Layer) -> bool:
    if isinstance(layer, _PASS_THROUGH) or isinstance(layer, keras.Model) or not _is_image_layer(layer):
        return False
    activation = getattr(layer, "activation", None)
    # A convolution without its non-linearity is half a block; its activation layer follows.
    return activation is None or getattr(activation, "__name__", "") != "linear"


def candidate_layers(model: keras.Model, min_side: int = MIN_SIDE) -> list[str]:
    """Layers worth explaining, deepest first: non-linear or merged maps of at least ``min_side``.

    Args:
        model: a single-input convolutional classifier.
        min_side: the smallest map side accepted.

    Returns:
        Layer names, deepest first; empty when no map is that large.
    """
    out = []
    for layer in reversed(model.layers):
        shape = _spatial_shape(layer)
        if _is_evidence_layer(layer) and None not in shape and min(shape) >= min_side:
            out.append(layer.name)
    return out


def choose_layer(model: keras.Model, min_side: int = MIN_SIDE, probes: np.ndarray | None = None,
                 carries_evidence=None) -> str:
    """The finest feature map that still carries class evidence.

    The deepest map of at least ``min_side`` cells per side; when ``probes`` and
    ``carries_evidence`` are given, maps on which no probe image gets any positive
    Grad-CAM are passed over for the next candidate. Without any map that large (tiny inputs),
    the last 4-D layer.

    Args:
        model: a single-input convolutional classifier.
        min_side: the smallest map side accepted.
        probes: (n, H, W, C) model-ready images to check the evidence on.
        carries_evidence: ``(layer name, probes) -> bool``; see ``core.explain.engine``.

    Returns:
        The layer's name.

    Raises:
        ExplainError: the model has no 4-D layer at all.
    """
    fallback = find_target_layer(model)
    candidates = candidate_layers(model, min_side)
    if probes is not None and carries_evidence is not None:
        for name in candidates[:4]:  # a few steps back at most: further is texture, not class
            if carries_evidence(name, probes):
                return name
    return candidates[0] if candidates else fallback
