"""A CNN whose feature-map rows are read as a sequence by two LSTMs.

The convolutions find local texture; reading the rows of the last feature map top to
bottom lets the LSTMs relate structures across the image (e.g. a mass and the midline),
which a single global pooling would average away.
"""

from __future__ import annotations

import keras
from keras import layers

from core.models.head import FEATURES_LAYER, classification_head
from core.models.layers import NORMALIZATION_LAYER, BackboneNormalization

CONV_FILTERS = (32, 64, 64)
LSTM_UNITS = 40
LSTM_DROPOUT = 0.2


def build_cnn_lstm(input_shape: tuple[int, int, int], num_classes: int,
                   normalization: str = "unit") -> keras.Model:
    """Build the CNN-LSTM classifier.

    Args:
        input_shape: (height, width, 3) of raw 0..255 images.
        num_classes: number of task classes.
        normalization: ``BackboneNormalization`` mode of the first layer.

    Returns:
        An uncompiled ``keras.Model`` named ``cnn_lstm`` whose output is ``probs``; its last
        LSTM is the ``features`` layer.
    """
    inputs = keras.Input(shape=input_shape, name="image")
    x = BackboneNormalization(normalization, name=NORMALIZATION_LAYER)(inputs)
    for block, filters in enumerate(CONV_FILTERS, start=1):
        x = layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv{block}")(x)
        x = layers.MaxPooling2D(2, name=f"pool{block}")(x)
    rows, cols, channels = x.shape[1:]
    # One time step per feature-map row, each step seeing the whole row's features.
    x = layers.Reshape((rows, cols * channels), name="rows")(x)
    x = layers.LSTM(LSTM_UNITS, return_sequences=True, dropout=LSTM_DROPOUT, name="lstm1")(x)
    features = layers.LSTM(LSTM_UNITS, dropout=LSTM_DROPOUT, name=FEATURES_LAYER)(x)
    return keras.Model(inputs, classification_head(features, num_classes), name="cnn_lstm")
