"""The pipeline's augmentation is one composed resampling per image: each part does what its name says,
and OpenCV's resampling gives what TensorFlow's would."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from core.data.pipeline import MAX_ROTATION_DEGREES, affine_transforms, augment_batch, warp_batch

IMAGE = np.random.default_rng(0).uniform(0, 255, (1, 8, 10, 3)).astype("float32")


def resample(angle: float = 0.0, dx: float = 0.0, dy: float = 0.0, flip: float = 0.0) -> np.ndarray:
    return warp_batch(IMAGE, affine_transforms([angle], [dx], [dy], [flip], 8, 10))


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
    # tf.data.Dataset.random gives seeds of either sign
    assert np.array_equal(augment_batch(batch, tf.constant([-7, 2**62], tf.int64)),
                          augment_batch(batch, tf.constant([-7, 2**62], tf.int64)))
    assert np.array_equal(first, again) and not np.allclose(first, other)
    assert first.shape == batch.shape and MAX_ROTATION_DEGREES == pytest.approx(10.0)
    # at most 10 degrees and 5 % shifts: each augmented image stays close to its source on average
    assert float(tf.reduce_mean(tf.abs(first - batch))) < float(tf.reduce_mean(tf.abs(batch - tf.reverse(batch, [1]))))


def _random_transforms(n: int, height: int, width: int) -> np.ndarray:
    rng = np.random.default_rng(1)
    parts = [rng.uniform(-0.2, 0.2, n), rng.uniform(-3, 3, n), rng.uniform(-3, 3, n), np.arange(n) % 2]
    return affine_transforms(*parts, height, width)


def test_opencv_resampling_gives_what_tensorflow_gives():
    images = np.random.default_rng(2).uniform(0, 255, (6, 32, 40, 3)).astype("float32")
    transforms = _random_transforms(6, 32, 40)
    reference = tf.raw_ops.ImageProjectiveTransformV3(images=images, transforms=transforms, output_shape=[32, 40],
                                                      fill_value=0.0, interpolation="BILINEAR",
                                                      fill_mode="NEAREST").numpy()
    assert np.abs(warp_batch(images, transforms) - reference).max() < 0.01
    # on uint8 (how the pipeline resamples its cached images) the only difference is rounding to whole levels
    as_bytes = images.astype(np.uint8)
    reference = tf.raw_ops.ImageProjectiveTransformV3(images=as_bytes.astype(np.float32), transforms=transforms,
                                                      output_shape=[32, 40], fill_value=0.0,
                                                      interpolation="BILINEAR", fill_mode="NEAREST").numpy()
    warped = warp_batch(as_bytes, transforms)
    assert warped.dtype == np.uint8 and np.abs(warped - reference).max() <= 1.0


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_augmentation_keeps_shape_and_dtype_for_grey_colour_and_image_plus_outline(channels):
    batch = np.random.default_rng(3).integers(0, 255, (4, 16, 16, channels), dtype=np.uint8)
    out = augment_batch(tf.constant(batch), tf.constant([5, 6]))
    assert out.dtype == tf.uint8 and tuple(out.shape) == batch.shape
