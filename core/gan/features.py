"""The one fixed feature extractor behind every FID and KID of the project.

ImageNet MobileNet v1, alpha 0.25, no top, global average pooling (256 features), from the
offline weight file ``mobilenet_2_5_224_tf_no_top.h5``. The same network scores every task and
every run, so a generator's FID can be read against another task's, against a held-out real
reference, and against last week's run. (A task's own classifier would change with each retraining
and its features are tuned to separate classes, not to describe images.)
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from core import paths
from core.gan.quality import GANQualityError, _as_images
from core.serving.cards import sha256_file

#: The weight file, looked up in ``$MEDIMG_WEIGHTS`` (default ``../shared/weights``) or a given folder.
WEIGHTS_FILE = "mobilenet_2_5_224_tf_no_top.h5"
#: MobileNet's native input side; smaller images are upsampled to it.
INPUT_SIDE = 224
ALPHA = 0.25
EXTRACTOR_NAME = "ImageNet MobileNet v1 alpha 0.25, 224 px, global average pool"


def weights_path(weights: str | os.PathLike | None = None) -> Path:
    """The weight file: ``weights`` as a file or a folder holding it, else ``core.paths.WEIGHTS_DIR``.

    Raises:
        GANQualityError: the file is not there (the message names it and where it was looked for).
    """
    where = Path(weights) if weights else paths.WEIGHTS_DIR
    path = where / WEIGHTS_FILE if where.is_dir() or not where.suffix else where
    if not path.is_file():
        raise GANQualityError(
            f"FID/KID need the ImageNet MobileNet weights file {WEIGHTS_FILE}, which is not at {path}. "
            "Put it there, set $MEDIMG_WEIGHTS to the folder holding it, or pass its path."
        )
    return path


class FeatureExtractor:
    """(N, H, W[, C]) uint8 images -> (N, 256) float32 features of the fixed MobileNet.

    Attributes:
        description: the card's ``extractor`` section (name, file, sha256, feature size).
    """

    def __init__(self, weights: str | os.PathLike | None = None):
        import keras
        import tensorflow as tf

        path = weights_path(weights)
        self.model = keras.applications.MobileNet(
            input_shape=(INPUT_SIDE, INPUT_SIDE, 3), alpha=ALPHA, include_top=False,
            weights=str(path), pooling="avg")
        spec = tf.TensorSpec([None, None, None, 3], tf.float32)
        # One traced function: resize, then MobileNet's own scaling to [-1, 1].
        self._fn = tf.function(lambda x: self.model(
            tf.image.resize(x, (INPUT_SIDE, INPUT_SIDE)) / 127.5 - 1.0, training=False), input_signature=[spec])
        self.description = {"name": EXTRACTOR_NAME, "weights_file": WEIGHTS_FILE, "weights_sha256": sha256_file(path),
                            "feature_dim": int(self.model.output_shape[-1]), "input_side": INPUT_SIDE}

    def __call__(self, images, batch_size: int = 64) -> np.ndarray:
        """Features of a batch of images (grey is repeated to RGB).

        Args:
            images: (N, H, W[, C]) uint8 images, C in 1, 3.
            batch_size: images per pass.

        Returns:
            (N, 256) float32 features.
        """
        imgs = _as_images(images, "images")
        if imgs.shape[-1] == 1:
            imgs = np.repeat(imgs, 3, axis=-1)
        out = [self._fn(imgs[i:i + batch_size].astype(np.float32)).numpy()
               for i in range(0, len(imgs), batch_size)]
        return np.concatenate(out, axis=0).astype(np.float32)
