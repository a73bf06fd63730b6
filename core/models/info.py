"""Size and cost of a model: parameters and forward FLOPs for one image.

FLOPs are counted analytically as 2 x multiply-accumulates of the weighted layers
(convolutions, dense, recurrent). Graph profilers miss work inside the LSTM's while loop
and cannot freeze every Keras 3 graph, whereas the arithmetic below is exact for the
layers that dominate the cost; element-wise work (BatchNorm, activations, pooling, adds)
is left out, as in the published MAC counts of the Keras applications.
"""

from __future__ import annotations

import math
from typing import Callable

import keras
from keras import layers


def _spatial(shape) -> int:
    return math.prod(int(d) for d in shape[1:-1])


def _conv_macs(layer) -> int:
    kernel = math.prod(layer.kernel_size)
    in_channels = int(layer.input.shape[-1])
    groups = getattr(layer, "groups", 1)
    return _spatial(layer.output.shape) * layer.filters * kernel * in_channels // groups


def _conv_transpose_macs(layer) -> int:
    # Every input pixel is scattered through the whole kernel into every output channel.
    kernel = math.prod(layer.kernel_size)
    return _spatial(layer.input.shape) * int(layer.input.shape[-1]) * kernel * layer.filters


def _depthwise_macs(layer) -> int:
    kernel = math.prod(layer.kernel_size)
    depth = int(layer.input.shape[-1]) * layer.depth_multiplier
    return _spatial(layer.output.shape) * depth * kernel


def _separable_macs(layer) -> int:
    kernel = math.prod(layer.kernel_size)
    depth = int(layer.input.shape[-1]) * layer.depth_multiplier
    return _spatial(layer.output.shape) * depth * (kernel + layer.filters)


def _dense_macs(layer) -> int:
    positions = math.prod(int(d) for d in layer.output.shape[1:-1]) or 1
    return positions * int(layer.input.shape[-1]) * layer.units


def _recurrent_macs(gates: int) -> Callable:
    def count(layer) -> int:
        steps, features = int(layer.input.shape[1]), int(layer.input.shape[-1])
        units = layer.cell.units
        # Each step multiplies the input and the previous state into every gate.
        return steps * gates * units * (features + units)
    return count


#: layer class -> multiply-accumulates of one forward pass of one image.
MAC_COUNTERS: dict[type, Callable] = {
    layers.Conv1D: _conv_macs,
    layers.Conv2D: _conv_macs,
    layers.Conv3D: _conv_macs,
    layers.Conv2DTranspose: _conv_transpose_macs,
    layers.DepthwiseConv2D: _depthwise_macs,
    layers.SeparableConv2D: _separable_macs,
    layers.Dense: _dense_macs,
    layers.LSTM: _recurrent_macs(4),
    layers.GRU: _recurrent_macs(3),
    layers.SimpleRNN: _recurrent_macs(1),
}


def _layer_macs(layer) -> int:
    if isinstance(layer, keras.Model):
        return sum(_layer_macs(inner) for inner in layer.layers)
    for cls in type(layer).__mro__:
        if cls in MAC_COUNTERS:
            return MAC_COUNTERS[cls](layer)
    return 0


def model_info(model: keras.Model) -> dict:
    """Parameters and forward cost of a model.

    Args:
        model: a built Keras model with a fixed input size.

    Returns:
        ``{"params", "trainable_params", "flops"}``: total and trainable parameter counts,
        and floating-point operations (2 x MACs) for one image.
    """
    trainable = sum(math.prod(w.shape) for w in model.trainable_weights)
    return {
        "params": int(model.count_params()),
        "trainable_params": int(trainable),
        "flops": int(2 * sum(_layer_macs(layer) for layer in model.layers)),
    }
