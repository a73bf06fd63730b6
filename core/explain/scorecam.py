"""Score-CAM (Wang et al. 2020), batched: all masked copies of an image go through the model at once.

Gradient-free: each of the most varied feature maps is up-sampled into a mask, the image is
shown through it, and the map is weighted by the class probability that masked image earns.
The ``MAX_MAPS`` maps with the largest spatial spread carry the signal (Faster Score-CAM, as
tf-keras-vis does); one compiled pass runs the unmasked and all masked images.
"""

from __future__ import annotations

from typing import Callable

import tensorflow as tf

#: Feature maps used per image: one masked forward pass each.
MAX_MAPS = 32


def scorecam_pass(graph) -> Callable:
    """Compiled, batched Score-CAM pass of a ``core.explain.engine.CamGraph``."""
    height, width, channels = graph.input_shape
    n_maps = min(MAX_MAPS, int(graph.view.outputs[0].shape[-1]))

    @tf.function(input_signature=graph.signature, reduce_retracing=True)
    def cam_pass(images, class_index):
        fmap, logits, features = graph.outputs(images)
        chosen = tf.where(class_index < 0, tf.argmax(logits, axis=-1, output_type=tf.int32), class_index)
        # The maps that vary most across the image say the most about where things are.
        spread = tf.math.reduce_std(fmap, axis=(1, 2))
        top = tf.math.top_k(spread, n_maps).indices
        maps = tf.gather(fmap, top, axis=-1, batch_dims=1)                       # (n, h, w, m)
        masks = tf.image.resize(maps, (height, width), method="bilinear")         # (n, H, W, m)
        low = tf.reduce_min(masks, axis=(1, 2), keepdims=True)
        high = tf.reduce_max(masks, axis=(1, 2), keepdims=True)
        # Each mask in [0, 1], so the masked image is the image shown through that map.
        masks = (masks - low) / (high - low + 1e-7)
        masks = tf.transpose(masks, (0, 3, 1, 2))[..., None]                     # (n, m, H, W, 1)
        masked = tf.reshape(images[:, None] * masks, (-1, height, width, channels))
        _, masked_logits, _ = graph.outputs(masked)
        probs = tf.reshape(tf.nn.softmax(masked_logits), (tf.shape(images)[0], n_maps, -1))
        # A map's weight: the probability of the explained class when only its region is shown.
        weights = tf.gather(probs, chosen, axis=2, batch_dims=1)                  # (n, m)
        cams = tf.nn.relu(tf.reduce_sum(maps * weights[:, None, None, :], axis=-1))
        return logits, features, cams

    return cam_pass
