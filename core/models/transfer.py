"""Transfer learning on Keras applications, built into the classifier's own graph.

The application is called on the normalised input tensor (``input_tensor=``), so its
layers become layers of the classifier itself rather than one nested sub-model. That is
what lets Grad-CAM reach any convolution (a nested model gives "Graph disconnected") and
lets freezing pick individual blocks.
"""

from __future__ import annotations

import math
import warnings
from functools import partial
from typing import Callable

import keras
from keras import layers

from core.models.head import AVG_POOL_LAYER, HEAD_LAYERS, TRANSFER_HEAD_DROPOUT, pooled_head
from core.models.imagenet import imagenet_download_guard
from core.models.layers import NORMALIZATION_LAYER, BackboneNormalization
from core.models.offline_weights import offline_imagenet_file, verify_weights_file

#: registry name -> ``keras.applications`` constructor.
APPLICATIONS: dict[str, Callable[..., keras.Model]] = {
    # MobileNet v1 at width 0.25: 218k backbone parameters, trainable on a CPU in minutes.
    "mobilenet": partial(keras.applications.MobileNet, alpha=0.25),
    "mobilenet_v2": keras.applications.MobileNetV2,
    "resnet50": keras.applications.ResNet50,
    "resnet101v2": keras.applications.ResNet101V2,
    "xception": keras.applications.Xception,
    "inception_v3": keras.applications.InceptionV3,
    "vgg19": keras.applications.VGG19,
    "nasnet_large": keras.applications.NASNetLarge,
}


def build_transfer(name: str, input_shape: tuple[int, int, int], num_classes: int,
                   normalization: str, weights: str | None = None,
                   dropout: float = TRANSFER_HEAD_DROPOUT) -> keras.Model:
    """A Keras application without its top, plus the shared pooled head.

    Args:
        name: key of ``APPLICATIONS``.
        input_shape: (height, width, 3) of raw 0..255 images (already validated).
        num_classes: number of task classes.
        normalization: ``BackboneNormalization`` mode matching the application.
        weights: None, "imagenet" or a checked path to backbone weights.
        dropout: head dropout rate.

    Returns:
        An uncompiled ``keras.Model`` named ``name`` whose output is ``probs``.

    Raises:
        ImageNetWeightsUnavailable: ImageNet weights could not be fetched.
        ValueError: a weights file does not fit this backbone.
    """
    weights = _local_weights(name, weights)
    inputs = keras.Input(shape=input_shape, name="image")
    normalized = BackboneNormalization(normalization, name=NORMALIZATION_LAYER)(inputs)
    with warnings.catch_warnings(record=True) as caught:
        # A mismatched file makes Keras warn once per layer before it fails; we keep
        # those warnings only if loading succeeds, and replace them by one error if not.
        warnings.simplefilter("always")
        try:
            with imagenet_download_guard(name):
                # input_shape alongside input_tensor lets MobileNetV2 pick its size-specific weights.
                backbone = APPLICATIONS[name](include_top=False, weights=weights,
                                              input_tensor=normalized, input_shape=input_shape)
        except (ValueError, KeyError, OSError) as exc:
            if weights in (None, "imagenet"):
                raise
            detail = str(exc).splitlines()[0][:300]
            raise ValueError(
                f"The weights file '{weights}' does not fit the '{name}' backbone without its "
                f"top (include_top=False): {detail}"
            ) from exc
    for warning in caught:
        warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    if weights is None:
        _follow_batch_statistics_faster(backbone)
    # backbone.output is a tensor of our graph; wrapping it again would nest a Model.
    return keras.Model(inputs, pooled_head(backbone.output, num_classes, dropout), name=name)


def _local_weights(name: str, weights: str | None) -> str | None:
    """"imagenet" becomes the checked offline file where one is registered; a given path is checked too."""
    if weights == "imagenet":
        local = offline_imagenet_file(name)
        return weights if local is None else str(local)
    if weights is not None:
        verify_weights_file(weights)
    return weights


#: BatchNormalization momentum for backbones trained from scratch.
SCRATCH_BN_MOMENTUM = 0.9


def _follow_batch_statistics_faster(backbone: keras.Model) -> None:
    """Lower the BatchNorm momentum of a backbone that starts from random weights.

    The applications use momentum 0.99-0.999, tuned for fine-tuning pretrained statistics over
    many steps; from scratch on a small dataset the moving averages then lag the weights for
    dozens of epochs and validation accuracy sits at chance while training accuracy climbs.
    """
    for layer in backbone.layers:
        if isinstance(layer, layers.BatchNormalization):
            layer.momentum = SCRATCH_BN_MOMENTUM


def backbone_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The layers a two-phase schedule freezes, bottom to top.

    Args:
        model: a classifier from ``build_classifier``.

    Returns:
        Every layer except the input, the normalisation and the shared head.
    """
    return [
        layer for layer in model.layers
        if not isinstance(layer, layers.InputLayer)
        and layer.name != NORMALIZATION_LAYER and layer.name not in HEAD_LAYERS
    ]


def backbone_model(model: keras.Model) -> keras.Model:
    """Input to the backbone's last feature map, sharing weights with ``model``.

    Its ``save_weights(...weights.h5)`` file can be passed back as ``weights=<path>``.
    """
    try:
        pool = model.get_layer(AVG_POOL_LAYER)
    except ValueError:
        raise ValueError(f"Model '{model.name}' has no '{AVG_POOL_LAYER}' layer: not a transfer model.") from None
    return keras.Model(model.inputs, pool.input, name=f"{model.name}_backbone")


def _layers_to_unfreeze(count: int, top_layers: int | None, fine_tune_fraction: float | None) -> int:
    if top_layers is not None and fine_tune_fraction is not None:
        raise ValueError("Give either top_layers or fine_tune_fraction, not both.")
    if top_layers is not None:
        if not isinstance(top_layers, int) or top_layers < 0:
            raise ValueError(f"top_layers must be a non-negative integer; got {top_layers!r}.")
        return min(top_layers, count)
    if fine_tune_fraction is not None:
        if not 0.0 <= fine_tune_fraction <= 1.0:
            raise ValueError(f"fine_tune_fraction must lie in [0, 1]; got {fine_tune_fraction}.")
        return math.ceil(fine_tune_fraction * count)
    return count


def set_backbone_trainable(model: keras.Model, trainable: bool, *, top_layers: int | None = None,
                           fine_tune_fraction: float | None = None, train_batchnorm: bool = False) -> int:
    """Freeze the backbone (phase 1) or unfreeze its top (phase 2); the head stays trainable.

    BatchNormalization layers stay frozen when unfreezing: with the small batches of
    fine-tuning their statistics would drift away from what the pretrained weights expect
    (in Keras 3 a frozen BN layer also runs in inference mode). Re-compile the model after
    calling this, as Keras reads ``trainable`` at compile time.

    Args:
        model: a classifier from ``build_classifier``.
        trainable: False freezes the whole backbone; True unfreezes its top.
        top_layers: unfreeze this many backbone layers counted from the top.
        fine_tune_fraction: or this fraction of them (rounded up); neither: all of them.
        train_batchnorm: let the unfrozen BatchNormalization layers learn too; worth it when the images
            are far from ImageNet's (grey MRI) and the batches are not tiny.

    Returns:
        The number of backbone layers now trainable.
    """
    model.trainable = True
    backbone = backbone_layers(model)
    if not trainable:
        if top_layers is not None or fine_tune_fraction is not None:
            raise ValueError("top_layers and fine_tune_fraction only apply when trainable=True.")
        n_open = 0
    else:
        n_open = _layers_to_unfreeze(len(backbone), top_layers, fine_tune_fraction)
    first_open = len(backbone) - n_open
    for index, layer in enumerate(backbone):
        is_bn = isinstance(layer, layers.BatchNormalization)
        layer.trainable = index >= first_open and (train_batchnorm or not is_bn)
        if is_bn and layer.trainable:
            # ImageNet's 0.99 lags for hundreds of steps on grey scans: validation would use stale statistics.
            layer.momentum = SCRATCH_BN_MOMENTUM
    return sum(layer.trainable for layer in backbone)
