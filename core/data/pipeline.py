"""tf.data input pipelines: decode, preprocess, cache, shuffle, batch, augment, prefetch.

The only module of core.data that imports TensorFlow. Decoding and preprocessing run
the same Python code as the app (core.io + core.preprocess) inside tf.numpy_function,
so what the model is trained on is exactly what it is later shown.
"""

from __future__ import annotations

import cv2
import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from core.data._images import load_image
from core.data.arrays import label_indices, load_arrays
from core.data.errors import DatasetError
from core.preprocess import Size, parse_size, prepare
from core.tasks import Task, get_task

__all__ = ["augment_batch", "augmentation_layers", "load_arrays", "make_dataset", "warp_batch"]

#: Per-epoch shuffle buffer (decoded images); the path order is fully shuffled once before.
SHUFFLE_BUFFER = 1024
#: The MRI paper's augmentation (ImageDataGenerator): rotation up to 10 degrees, 5 % shifts, horizontal flip.
MAX_ROTATION_DEGREES, MAX_SHIFT, FLIP = 10.0, 0.05, True


def augmentation_layers(seed: int = 42) -> keras.Sequential:
    """The MRI paper's augmentation as Keras layers (for models that augment inside; the pipeline uses
    :func:`augment_batch`, the same distribution in one resampling): rotation up to 10 degrees, 5 % shifts,
    horizontal flip.

    Args:
        seed: seeds each random layer.

    Returns:
        keras.Sequential named "augmentation"; identity unless called with training=True.
    """
    # "nearest" fill as in ImageDataGenerator, which the paper used: no artificial black wedges.
    return keras.Sequential(
        [
            keras.layers.RandomRotation(10 / 360, fill_mode="nearest", seed=seed, name="rotate"),
            keras.layers.RandomTranslation(0.05, 0.05, fill_mode="nearest", seed=seed + 1, name="shift"),
            keras.layers.RandomFlip("horizontal", seed=seed + 2, name="flip"),
        ],
        name="augmentation",
    )


def affine_transforms(angles: np.ndarray, shifts_x: np.ndarray, shifts_y: np.ndarray, flips: np.ndarray,
                      height: float, width: float) -> np.ndarray:
    """One output-to-input affine transform per image: rotate about the centre, shift, then flip.

    Args:
        angles: (B,) radians; shifts_x, shifts_y: (B,) pixels; flips: (B,) 1.0 to mirror left-right, else 0.0.
        height, width: image size in pixels.

    Returns:
        (B, 8) float32 transforms in ImageProjectiveTransformV3's layout (the last two, projective, are zero).
    """
    angles, shifts_x, shifts_y, flips = (np.asarray(v, np.float64) for v in (angles, shifts_x, shifts_y, flips))
    cos, sin = np.cos(angles), np.sin(angles)
    sign = 1.0 - 2.0 * flips  # x -> width - 1 - x when mirrored
    offset = flips * (width - 1.0)
    cx, cy = (width - 1.0) / 2.0, (height - 1.0) / 2.0
    x0 = cos * (offset - shifts_x - cx) + sin * (shifts_y + cy) + cx
    y0 = sin * (offset - shifts_x - cx) - cos * (shifts_y + cy) + cy
    zeros = np.zeros_like(angles)
    return np.stack([cos * sign, -sin, x0, sin * sign, cos, y0, zeros, zeros], axis=1).astype(np.float32)


def random_transforms(seed: np.ndarray, batch: int, height: int, width: int) -> np.ndarray:
    """The paper's augmentation drawn for one batch: rotation, shift and flip composed per image.

    Args:
        seed: (2,) integers (any sign); the same seed draws the same transforms.
        batch, height, width: batch size and image size in pixels.

    Returns:
        (B, 8) float32 transforms (see :func:`affine_transforms`).
    """
    rng = np.random.default_rng(np.asarray(seed, np.int64).view(np.uint64))
    limit = np.deg2rad(MAX_ROTATION_DEGREES)
    angles = rng.uniform(-limit, limit, batch)
    shifts_x = rng.uniform(-MAX_SHIFT, MAX_SHIFT, batch) * width
    shifts_y = rng.uniform(-MAX_SHIFT, MAX_SHIFT, batch) * height
    flips = (rng.random(batch) < (0.5 if FLIP else 0.0)).astype(np.float64)
    return affine_transforms(angles, shifts_x, shifts_y, flips, height, width)


def warp_batch(images: np.ndarray, transforms: np.ndarray) -> np.ndarray:
    """Resample each image of a batch with OpenCV: bilinear, borders filled with the nearest pixel.

    Args:
        images: (B, H, W, C) uint8 or float32, C at most 4.
        transforms: (B, 8) output-to-input transforms as ImageProjectiveTransformV3 takes them
            (the projective terms must be zero).

    Returns:
        A new (B, H, W, C) array of the same dtype.
    """
    out = np.empty_like(images)
    height, width = images.shape[1:3]
    for image, transform, target in zip(images, transforms, out):
        # cv2 drops a trailing single channel; a (H, W) view of the output keeps the shape
        cv2.warpAffine(image, transform[:6].reshape(2, 3).astype(np.float64), (width, height),
                       dst=target if target.shape[-1] > 1 else target[..., 0],
                       flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
    return out


def _augment(images: np.ndarray, seed: np.ndarray) -> np.ndarray:
    return warp_batch(images, random_transforms(seed, *images.shape[:3]))


def augment_batch(images: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """The paper's augmentation as one resampling per image (rotation, shift and flip composed).

    Three Keras layers resample each image two times and copy it a third; one composed affine
    transform per image resamples it once. The transforms are drawn and composed in NumPy and
    applied by OpenCV (fixed-point on uint8) in a single call into Python per batch: drawn with
    TensorFlow ops, some thirty small ones per batch, they cost more CPU than the resampling itself.
    On a CPU, where the augmentation shares the cores with the training step, that is what keeps it
    from bounding training speed (benchmarks/training.py).

    Args:
        images: (B, H, W, C) uint8 or float32, C at most 4.
        seed: (2,) int seed of this batch (stateless: the same seed gives the same batch).

    Returns:
        The augmented batch, same shape and dtype; borders are filled with the nearest pixel.
    """
    warped = tf.numpy_function(_augment, [images, seed], images.dtype, stateful=False)
    return tf.ensure_shape(warped, images.shape)


def make_dataset(df: pd.DataFrame, task_id: str | Task, size: Size | None = None, batch_size: int = 32,
                 training: bool = False, seed: int = 42, cache: bool | str = True,
                 one_hot: bool = True, repeat: bool = False) -> tf.data.Dataset:
    """Build a batched dataset of (float32 images in 0..255, labels).

    Args:
        df: table with ``path`` and ``label`` columns (from read_dataset / split_dataset).
        task_id: task giving the class order and the preprocessing recipe.
        size: model input side or (height, width); default the task's input_size.
        batch_size: images per batch (the last batch may be smaller).
        training: shuffle (seeded, reshuffled each epoch) and augment; otherwise keep order.
        seed: seeds shuffling and augmentation.
        cache: True caches decoded images in memory, a path caches them to that file, False not at all.
        one_hot: labels as float32 one-hot (N, C) instead of int32 class positions.
        repeat: (training only) an endless stream of full batches, each pass over the images
            reshuffled; give ``fit`` ``steps_per_epoch``. Keras then keeps one iterator for the
            whole run, so neither the shuffle buffer nor the prefetch restarts cold at each epoch.

    Returns:
        tf.data.Dataset of (images [B, H, W, 3] float32, labels [B, C] or [B]).

    Raises:
        DatasetError: empty table, unknown label or bad batch size; an unreadable file
            fails at iteration time with its path in the error.
    """
    task = get_task(task_id)
    height, width = parse_size(size if size is not None else task.input_size)
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise DatasetError(f"batch_size must be a positive integer, got {batch_size!r}.")
    if len(df) == 0:
        raise DatasetError("The dataset table is empty: there are no images to feed.")
    labels = label_indices(df, task).astype(np.int32)
    paths = df["path"].astype(str).tolist()

    def decode(path: bytes) -> np.ndarray:
        return prepare(load_image(path.decode()), task, (height, width)).image

    def load(path: tf.Tensor, label: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        image = tf.numpy_function(decode, [path], tf.uint8, stateful=False)
        return tf.ensure_shape(image, (height, width, 3)), label

    ds = tf.data.Dataset.from_tensor_slices((paths, labels))
    if training:  # paths are sorted by class: mix them fully once, cheaply, before decoding
        ds = ds.shuffle(len(paths), seed=seed, reshuffle_each_iteration=False)
    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if cache:
        ds = ds.cache(cache if isinstance(cache, str) else "")
    if training:
        ds = ds.shuffle(min(len(paths), SHUFFLE_BUFFER), seed=seed, reshuffle_each_iteration=True)
        if repeat:
            ds = ds.repeat()
    ds = ds.batch(batch_size)

    def to_model(images: tf.Tensor, label: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        target = tf.one_hot(label, task.num_classes, dtype=tf.float32) if one_hot else label
        return tf.cast(images, tf.float32), target

    if not training:
        return ds.map(to_model, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
    # One stateless seed per batch, new each epoch but reproducible from ``seed``.
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)

    def to_model_augmented(images: tf.Tensor, label: tf.Tensor, batch_seed: tf.Tensor):
        return to_model(augment_batch(images, batch_seed), label)  # resampled as uint8: the cheaper way

    ds = tf.data.Dataset.zip(ds, seeds).map(lambda batch, s: to_model_augmented(*batch, s),
                                            num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)
