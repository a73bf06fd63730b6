"""Custom layers shared by every classifier.

Each model owns its input normalisation as its first layer, so a saved ``.keras`` file
takes raw 0-255 RGB pixels and nobody downstream has to remember which backbone wants
which scaling. The layer is registered serialisable and free of Python lambdas, so
``keras.models.load_model(path, safe_mode=True)`` accepts it.
"""

from __future__ import annotations

from typing import Callable

import keras
from keras import ops

#: Name of the normalisation layer in every classifier; Grad-CAM and freezing skip it.
NORMALIZATION_LAYER = "normalization"

# ImageNet channel statistics used by Keras' own ``preprocess_input`` functions.
_CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)
_TORCH_MEAN = (0.485, 0.456, 0.406)
_TORCH_STD = (0.229, 0.224, 0.225)


def _tf_mode(x):
    return x / 127.5 - 1.0


def _caffe_mode(x):
    # Caffe-trained weights (ResNet50, VGG) expect BGR channel order, mean-centred, unscaled.
    bgr = ops.flip(x, axis=-1)
    return bgr - ops.convert_to_tensor(_CAFFE_BGR_MEAN, dtype=x.dtype)


def _torch_mode(x):
    mean = ops.convert_to_tensor(_TORCH_MEAN, dtype=x.dtype)
    std = ops.convert_to_tensor(_TORCH_STD, dtype=x.dtype)
    return (x / 255.0 - mean) / std


def _unit_mode(x):
    return x / 255.0


#: mode -> transform of raw 0..255 RGB; the first three match ``keras.applications`` modes.
NORMALIZATION_MODES: dict[str, Callable] = {
    "tf": _tf_mode,
    "caffe": _caffe_mode,
    "torch": _torch_mode,
    "unit": _unit_mode,
}


@keras.saving.register_keras_serializable(package="medimg")
class BackboneNormalization(keras.layers.Layer):
    """Scale raw RGB pixels (float, 0..255) the way a backbone was trained to see them.

    Args:
        mode: one of ``NORMALIZATION_MODES`` ("tf" -> [-1, 1], "caffe" -> BGR minus the
            ImageNet mean, "torch" -> ImageNet mean/std, "unit" -> [0, 1]).
    """

    def __init__(self, mode: str = "unit", **kwargs):
        super().__init__(**kwargs)
        if mode not in NORMALIZATION_MODES:
            raise ValueError(
                f"Unknown normalisation mode '{mode}'; known modes: {', '.join(NORMALIZATION_MODES)}."
            )
        self.mode = mode

    def call(self, inputs):
        return NORMALIZATION_MODES[self.mode](ops.cast(inputs, self.compute_dtype))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self) -> dict:
        return {**super().get_config(), "mode": self.mode}
