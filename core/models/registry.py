"""The classifier registry: one dict from architecture name to how to build it.

Every entry takes raw RGB pixels (float 0..255) and normalises them in its first layer,
ends with the shared head (``features`` -> ``logits`` -> ``probs``) and outputs the
task's classes in the task's order.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import MappingProxyType
from typing import Callable, Mapping

import keras

from core.models.cnn_lstm import build_cnn_lstm
from core.models.imagenet import check_weights_argument
from core.models.small_cnn import build_small_cnn
from core.models.transfer import build_transfer
from core.tasks import Task, get_task


@dataclass(frozen=True)
class ClassifierSpec:
    """How to build one architecture.

    Attributes:
        builder: (input_shape, num_classes, normalization[, weights]) -> keras.Model.
        default_size: input height = width when none is given.
        min_size: smallest height/width the architecture accepts.
        normalization: ``BackboneNormalization`` mode (matches Keras' ``preprocess_input``).
        pretrained: whether ImageNet weights exist (transfer backbones).
        fine_tune_layers: backbone layers unfrozen by default in phase 2 (its top block(s)).
        display_name: what the app shows.
    """

    builder: Callable[..., keras.Model]
    default_size: int
    min_size: int
    normalization: str
    pretrained: bool
    fine_tune_layers: int | None
    display_name: str


def _transfer(name: str, size: int, min_size: int, mode: str, top: int, display: str) -> ClassifierSpec:
    return ClassifierSpec(partial(build_transfer, name), size, min_size, mode, True, top, display)


#: name -> spec. Sizes and modes follow each ``keras.applications`` model; the fine-tune
#: depth is the backbone's last block(s), counted in layers of ``backbone_layers``.
CLASSIFIERS: Mapping[str, ClassifierSpec] = MappingProxyType({
    # Three pooled conv blocks: 8 px is the least that survives three 2x2 poolings.
    "small_cnn": ClassifierSpec(build_small_cnn, 64, 8, "unit", False, None, "Small CNN (thesis)"),
    "cnn_lstm": ClassifierSpec(build_cnn_lstm, 64, 8, "unit", False, None, "CNN + LSTM"),
    # Blocks 13-16 and Conv_1: the last stride-2 stage.
    "mobilenet_v2": _transfer("mobilenet_v2", 224, 32, "tf", 38, "MobileNetV2"),
    # ImageNet weights from core.paths.WEIGHTS_DIR (checked by sha256); the last four depthwise-separable
    # blocks (conv_dw_10 .. conv_pw_13) are fine-tuned: 4 x 6 layers plus the stride-2 padding.
    "mobilenet": _transfer("mobilenet", 224, 32, "tf", 25, "MobileNet v1 (width 0.25, ImageNet)"),
    # conv5 stage.
    "resnet50": _transfer("resnet50", 224, 32, "caffe", 32, "ResNet-50"),
    # conv5 stage and the post-activation.
    "resnet101v2": _transfer("resnet101v2", 224, 32, "tf", 36, "ResNet-101 V2"),
    # Exit-flow blocks 13-14.
    "xception": _transfer("xception", 299, 71, "tf", 16, "Xception"),
    # The top two inception blocks (mixed9, mixed10), as in the Keras fine-tuning guide.
    "inception_v3": _transfer("inception_v3", 299, 75, "tf", 62, "Inception V3"),
    # block5.
    "vgg19": _transfer("vgg19", 224, 32, "caffe", 5, "VGG-19"),
    # The last three normal cells.
    "nasnet_large": _transfer("nasnet_large", 331, 32, "tf", 136, "NASNet-Large"),
})


def get_spec(name: str) -> ClassifierSpec:
    """The registry entry of ``name``; ValueError listing the known names otherwise."""
    try:
        return CLASSIFIERS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"Unknown classifier '{name}'. Known classifiers: {', '.join(CLASSIFIERS)}."
        ) from None


def _check_input_shape(name: str, spec: ClassifierSpec, input_shape) -> tuple[int, int, int]:
    if input_shape is None:
        return (spec.default_size, spec.default_size, 3)
    try:
        height, width, channels = (int(v) for v in input_shape)
    except (TypeError, ValueError):
        raise ValueError(
            f"input_shape must be (height, width, 3); got {input_shape!r}."
        ) from None
    if channels != 3:
        raise ValueError(
            f"'{name}' takes RGB images, so input_shape must end in 3 channels; got {channels}. "
            "Grey-scale images are repeated into 3 channels by core.preprocess."
        )
    if min(height, width) < spec.min_size:
        raise ValueError(
            f"'{name}' needs inputs of at least {spec.min_size}x{spec.min_size} pixels; got "
            f"{height}x{width}. Use a larger input_shape (its default is "
            f"{spec.default_size}x{spec.default_size})."
        )
    return (height, width, channels)


def build_classifier(name: str, task: str | Task, input_shape: tuple[int, int, int] | None = None,
                     weights: str | Path | None = None) -> keras.Model:
    """Build an uncompiled classifier for a task.

    Args:
        name: a key of ``CLASSIFIERS``.
        task: task id or ``Task``; fixes the number and order of the outputs.
        input_shape: (height, width, 3); None uses the architecture's default size.
        weights: None (random), "imagenet" (transfer backbones) or a path to a weights
            file: backbone weights for transfer models, whole-model weights otherwise.

    Returns:
        A ``keras.Model`` named ``name`` mapping raw 0..255 RGB images to class
        probabilities (layer ``probs``), with ``features`` and ``logits`` layers.

    Raises:
        ValueError: unknown name, bad input shape or weights argument.
        core.tasks.UnknownTaskError: unknown task id.
        ImageNetWeightsUnavailable: ImageNet weights could not be downloaded.
    """
    spec = get_spec(name)
    task = get_task(task)
    shape = _check_input_shape(name, spec, input_shape)
    weights = check_weights_argument(name, weights, spec.pretrained)
    if spec.pretrained:
        return spec.builder(shape, task.num_classes, spec.normalization, weights=weights)
    model = spec.builder(shape, task.num_classes, spec.normalization)
    if weights is not None:
        try:
            model.load_weights(weights)
        except (ValueError, KeyError, OSError) as exc:
            raise ValueError(f"The weights file '{weights}' does not fit '{name}' for task "
                             f"'{task.id}' at input {shape}: {exc}") from exc
    return model
