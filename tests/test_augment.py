"""The pipeline's augmentation is one composed resampling per batch: each part does what its name says."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from core.data.pipeline import MAX_ROTATION_DEGREES, affine_transforms, augment_batch

IMAGE = np.random.default_rng(0).uniform(0, 255, (1, 8, 10, 3)).astype("float32")


def resample(angle: float = 0.0, dx: float = 0.0, dy: float = 0.0, flip: float = 0.0) -> np.ndarray:
    transforms = affine_transforms(*(tf.constant([v], tf.float32) for v in (angle, dx, dy, flip)),
                                   tf.constant(8.0), tf.constant(10.0))
    return tf.raw_ops.ImageProjectiveTransformV3(images=IMAGE, transforms=transforms, output_shape=[8, 10],
                                                 fill_value=0.0, interpolation="BILINEAR",
                                                 fill_mode="NEAREST").numpy()


def test_no_rotation_shift_or_flip_leaves_the_image_untouched():
    assert np.array_equal(resample(), IMAGE)


def test_flip_mirrors_left_right_and_shift_moves_whole_pixels():
    assert np.array_equal(resample(flip=1.0), IMAGE[:, :, ::-1])
    assert np.array_equal(resample(dx=2.0)[:, :, 2:], IMAGE[:, :, :-2])
    assert np.array_equal(resample(dy=1.0)[:, 1:], IMAGE[:, :-1])


def test_rotation_turns_about_the_centre():
    assert np.allclose(resample(angle=np.pi), IMAGE[:, ::-1, ::-1], atol=1e-3)


def test_a_batch_seed_decides_the_augmentation_and_it_stays_small():
    batch = tf.constant(np.repeat(IMAGE, 16, axis=0))
    first, again = augment_batch(batch, tf.constant([1, 2])), augment_batch(batch, tf.constant([1, 2]))
    other = augment_batch(batch, tf.constant([3, 4]))
    assert np.array_equal(first, again) and not np.allclose(first, other)
    assert first.shape == batch.shape and MAX_ROTATION_DEGREES == pytest.approx(10.0)
    # at most 10 degrees and 5 % shifts: each augmented image stays close to its source on average
    assert float(tf.reduce_mean(tf.abs(first - batch))) < float(tf.reduce_mean(tf.abs(batch - tf.reverse(batch, [1]))))
