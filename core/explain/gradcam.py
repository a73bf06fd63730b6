"""Grad-CAM and Grad-CAM++ as one compiled forward + backward pass (after keras-io's grad_cam.py).

Each builder takes a ``core.explain.engine.CamGraph`` and returns a ``tf.function`` with a fixed
signature ``(images, class_index) -> (logits, features, raw maps)``: the logits the prediction
is made from and the map of the explained class come from the same forward pass, so a heat
map costs one backward pass through the layers above the explained map, not a second model run.
"""

from __future__ import annotations

from typing import Callable

import tensorflow as tf

# Keeps the Grad-CAM++ denominators away from 0/0 where a gradient vanishes.
_EPS = 1e-12


def _forward_backward(graph, images: tf.Tensor, class_index: tf.Tensor):
    with tf.GradientTape() as tape:
        fmap, logits, features = graph.outputs(images)
        # -1 means "the predicted class": chosen inside the graph, so no second pass is needed.
        chosen = tf.where(class_index < 0, tf.argmax(logits, axis=-1, output_type=tf.int32), class_index)
        # The class logit, not its probability: softmax saturates and its gradient vanishes.
        score = tf.gather(logits, chosen, axis=1, batch_dims=1)
    # Gradient of each image's score w.r.t. its own feature map (images do not interact).
    grads = tape.gradient(score, fmap)
    return logits, features, fmap, grads


def _gradcam_maps(fmap: tf.Tensor, grads: tf.Tensor) -> tf.Tensor:
    # Channel weight = average gradient over the map: how much the score rises with that channel.
    weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
    # Weighted sum of channels; only positive evidence for the class is kept.
    return tf.nn.relu(tf.reduce_sum(fmap * weights, axis=-1))


def _gradcam_plus_plus_maps(fmap: tf.Tensor, grads: tf.Tensor) -> tf.Tensor:
    # Chattopadhay et al. (2018), eq. 19, with exp(score) dropped: it cancels in the alphas
    # and only rescales the map, which is normalised later (and it overflows for large logits).
    g2, g3 = grads ** 2, grads ** 3
    total = tf.reduce_sum(fmap, axis=(1, 2), keepdims=True)
    denom = 2.0 * g2 + g3 * total
    # Where the second derivative is 0 the alpha is 0; avoid 0/0 there.
    alphas = g2 / tf.where(tf.equal(g2, 0.0), tf.ones_like(denom), denom)
    norm = tf.reduce_sum(alphas, axis=(1, 2), keepdims=True)
    alphas = alphas / tf.where(tf.equal(norm, 0.0), tf.ones_like(norm), norm)
    # Per-pixel alphas weight only positive gradients, then are pooled into one weight per channel.
    weights = tf.reduce_sum(alphas * tf.nn.relu(grads), axis=(1, 2), keepdims=True)
    return tf.nn.relu(tf.reduce_sum(fmap * weights, axis=-1))


def _compile(graph, maps: Callable) -> Callable:
    @tf.function(input_signature=graph.signature, reduce_retracing=True)
    def cam_pass(images, class_index):
        logits, features, fmap, grads = _forward_backward(graph, images, class_index)
        return logits, features, maps(fmap, grads)
    return cam_pass


def gradcam_pass(graph) -> Callable:
    """Compiled Grad-CAM pass of a ``CamGraph`` (see the module docstring)."""
    return _compile(graph, _gradcam_maps)


def gradcam_plus_plus_pass(graph) -> Callable:
    """Compiled Grad-CAM++ pass of a ``CamGraph`` (see the module docstring)."""
    return _compile(graph, _gradcam_plus_plus_maps)
