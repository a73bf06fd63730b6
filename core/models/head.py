"""The one classification head every classifier ends with, and views onto it.

Fixed layer names are the contract with the rest of the project: out-of-distribution
detection and GAN quality scores read ``features``, training with a ``from_logits`` loss
reads ``logits``, the served output is ``probs``, and freezing treats every layer that is
not part of the head (nor the input normalisation) as backbone.
"""

from __future__ import annotations

import keras
from keras import layers

#: Global average pooling of the backbone's last feature map (transfer models only).
AVG_POOL_LAYER = "avg_pool"
#: The penultimate feature vector, present in every classifier.
FEATURES_LAYER = "features"
#: Dropout between the features and the logits (transfer models).
DROPOUT_LAYER = "head_dropout"
#: Linear class scores.
LOGITS_LAYER = "logits"
#: Softmax probabilities: the model output, in the task's class order.
PROBS_LAYER = "probs"

HEAD_LAYERS = (AVG_POOL_LAYER, FEATURES_LAYER, DROPOUT_LAYER, LOGITS_LAYER, PROBS_LAYER)

#: Dropout before the dense layer of the transfer head, as in the reference papers.
TRANSFER_HEAD_DROPOUT = 0.4


def classification_head(features, num_classes: int, dropout: float = 0.0):
    """Logits and softmax on top of a feature vector.

    Args:
        features: 2-D tensor, the output of the layer named ``features``.
        num_classes: size of the output (the task's number of classes).
        dropout: rate of the ``head_dropout`` layer; 0 leaves it out.

    Returns:
        The ``probs`` tensor.
    """
    x = layers.Dropout(dropout, name=DROPOUT_LAYER)(features) if dropout > 0 else features
    logits = layers.Dense(num_classes, name=LOGITS_LAYER)(x)
    # float32 softmax keeps probabilities exact even under a mixed-precision policy.
    return layers.Activation("softmax", dtype="float32", name=PROBS_LAYER)(logits)


def pooled_head(feature_map, num_classes: int, dropout: float = TRANSFER_HEAD_DROPOUT):
    """The transfer-learning head: global average pooling, dropout, dense, softmax.

    Args:
        feature_map: 4-D output of a backbone's last block.
        num_classes: size of the output.
        dropout: rate of the dropout before the dense layer.

    Returns:
        The ``probs`` tensor.
    """
    pooled = layers.GlobalAveragePooling2D(name=AVG_POOL_LAYER)(feature_map)
    # The same vector under the project-wide name, so every model exposes ``features``.
    features = layers.Identity(name=FEATURES_LAYER)(pooled)
    return classification_head(features, num_classes, dropout)


def _head_view(model: keras.Model, layer_name: str) -> keras.Model:
    try:
        layer = model.get_layer(layer_name)
    except ValueError:
        raise ValueError(
            f"Model '{model.name}' has no layer named '{layer_name}'; it was not built by "
            "core.models.build_classifier."
        ) from None
    # Shares the layers (and so the weights) with ``model``: training one trains the other.
    inputs = model.input if len(model.inputs) == 1 else model.inputs
    return keras.Model(inputs, layer.output, name=f"{model.name}_{layer_name}")


def logits_model(model: keras.Model) -> keras.Model:
    """The classifier up to its ``logits`` layer, for ``from_logits=True`` losses.

    Args:
        model: a classifier from ``build_classifier``.

    Returns:
        A model sharing ``model``'s weights whose output is the linear class scores.
    """
    return _head_view(model, LOGITS_LAYER)


def features_model(model: keras.Model) -> keras.Model:
    """The classifier up to its penultimate ``features`` layer (OOD, GAN quality).

    Args:
        model: a classifier from ``build_classifier``.

    Returns:
        A model sharing ``model``'s weights whose output is the (batch, d) feature vector.
    """
    return _head_view(model, FEATURES_LAYER)
