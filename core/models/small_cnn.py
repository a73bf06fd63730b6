"""The thesis CNN for 64x64 brain MRI (tumour yes/no), reproduced layer by layer.

Three 3x3 convolutions with 32 filters, each followed by 2x2 max pooling, a 32-unit dense
layer and the class scores. It is trained with a ``from_logits`` loss on ``logits``.
"""

from __future__ import annotations

import keras
from keras import layers

from core.models.head import FEATURES_LAYER, classification_head
from core.models.layers import NORMALIZATION_LAYER, BackboneNormalization

CONV_BLOCKS = 3
CONV_FILTERS = 32
DENSE_UNITS = 32


def build_small_cnn(input_shape: tuple[int, int, int], num_classes: int,
                    normalization: str = "unit") -> keras.Model:
    """Build the thesis CNN.

    Args:
        input_shape: (height, width, 3) of raw 0..255 images.
        num_classes: number of task classes.
        normalization: ``BackboneNormalization`` mode of the first layer.

    Returns:
        An uncompiled ``keras.Model`` named ``small_cnn`` whose output is ``probs``.
    """
    inputs = keras.Input(shape=input_shape, name="image")
    x = BackboneNormalization(normalization, name=NORMALIZATION_LAYER)(inputs)
    for block in range(1, CONV_BLOCKS + 1):
        x = layers.Conv2D(CONV_FILTERS, 3, padding="same", activation="relu", name=f"conv{block}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{block}")(x)
    x = layers.Flatten(name="flatten")(x)
    features = layers.Dense(DENSE_UNITS, activation="relu", name=FEATURES_LAYER)(x)
    return keras.Model(inputs, classification_head(features, num_classes), name="small_cnn")
