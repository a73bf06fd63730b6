"""The one forward pass of a classifier: a prepared batch in, float32 logits and features out.

Serving, evaluation, out-of-distribution fitting and GAN scoring all read the shared head's
``logits`` and ``features`` layers through :class:`Forward`, so a number in a model card, an
evaluation report and the app is computed the same way.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from core.models.head import FEATURES_LAYER, LOGITS_LAYER


class Forward:
    """A traced ``(n, H, W, C) -> (logits (n, k), features (n, d))`` pass over a classifier.

    One model with both outputs is built once; a fixed input signature traces once, so one
    instance can be shared by threads (``model.predict`` per image would rebuild a dataset each call).

    Attributes:
        input_shape: ``(H, W, C)`` the model takes.
    """

    def __init__(self, model: keras.Model):
        try:
            head = keras.Model(model.inputs, [model.get_layer(LOGITS_LAYER).output,
                                              model.get_layer(FEATURES_LAYER).output])
        except (ValueError, AttributeError) as exc:
            raise ValueError(f"Model '{model.name}' lacks the '{LOGITS_LAYER}'/'{FEATURES_LAYER}' layers every "
                             f"classifier of this project has ({exc}).") from None
        self.input_shape: tuple[int, int, int] = tuple(int(d) for d in model.inputs[0].shape[1:])
        spec = tf.TensorSpec([None, *self.input_shape], tf.float32)
        self._fn = tf.function(lambda x: [tf.cast(t, tf.float32) for t in head(x, training=False)],
                               input_signature=[spec])

    def __call__(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Logits and features of already-prepared images.

        Args:
            batch: (n, H, W, C) prepared images, 0..255 (any numeric dtype).

        Returns:
            ``(logits (n, k), features (n, d))`` as float32 numpy arrays.
        """
        batch = np.asarray(batch, dtype=np.float32)
        if batch.ndim != 4 or batch.shape[1:] != self.input_shape:
            raise ValueError(f"Expected prepared images of shape (n, {', '.join(map(str, self.input_shape))}), "
                             f"got {batch.shape}.")
        logits, features = self._fn(tf.constant(batch))
        return logits.numpy(), features.numpy()

    def features(self, batch: np.ndarray, batch_size: int = 64) -> np.ndarray:
        """Penultimate features only, in chunks (GAN scoring, OOD fitting).

        Args:
            batch: (n, H, W, C) prepared images.
            batch_size: images per pass, to bound memory.

        Returns:
            (n, d) float32 features.
        """
        chunks = [self(batch[i:i + batch_size])[1] for i in range(0, len(batch), batch_size)]
        return np.concatenate(chunks) if chunks else np.zeros((0, 0), np.float32)
