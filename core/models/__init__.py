"""Classifier builders: one registry, one shared head, normalisation inside the model.

Typical use::

    from core.models import build_classifier, logits_model, set_backbone_trainable
    model = build_classifier("mobilenet_v2", "breast_us", (224, 224, 3), weights="imagenet")
    set_backbone_trainable(model, False)          # phase 1: train the head only
"""

from core.models.head import (
    AVG_POOL_LAYER,
    DROPOUT_LAYER,
    FEATURES_LAYER,
    LOGITS_LAYER,
    PROBS_LAYER,
    features_model,
    logits_model,
)
from core.models.imagenet import ImageNetWeightsUnavailable
from core.models.info import model_info
from core.models.layers import NORMALIZATION_LAYER, NORMALIZATION_MODES, BackboneNormalization
from core.models.registry import CLASSIFIERS, ClassifierSpec, build_classifier, get_spec
from core.models.transfer import backbone_layers, backbone_model, set_backbone_trainable

__all__ = [
    "AVG_POOL_LAYER", "DROPOUT_LAYER", "FEATURES_LAYER", "LOGITS_LAYER", "PROBS_LAYER",
    "NORMALIZATION_LAYER", "NORMALIZATION_MODES", "BackboneNormalization",
    "CLASSIFIERS", "ClassifierSpec", "build_classifier", "get_spec",
    "ImageNetWeightsUnavailable", "model_info",
    "backbone_layers", "backbone_model", "set_backbone_trainable",
    "features_model", "logits_model",
]
