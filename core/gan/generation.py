"""Synthetic images from a trained generator: the checked loader, samples, latent interpolation, marked PNGs.

A generator is served only with its card beside it (``<class>.keras`` + ``<class>.card.json``):
the loader refuses a generator without a card or whose sha256 differs from the card's. Every
image written to disk is named ``syn_...`` and carries PNG text ``synthetic=true`` so it is never
taken for a patient's scan.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
from PIL import Image, PngImagePlugin

from core.atomic import atomic_write
from core.serving.errors import ModelIntegrityError

SYNTHETIC_PREFIX = "syn_"


def card_path_of(generator_path: str | os.PathLike) -> Path:
    """``<class>.card.json`` beside ``<class>.keras``."""
    path = Path(generator_path)
    return path.with_name(f"{path.stem}.card.json")


def read_generator_card(generator_path: str | os.PathLike) -> dict:
    """The card of a generator file, required.

    Raises:
        ModelIntegrityError: no card, an unreadable card, or a card without a sha256.
    """
    card_path = card_path_of(generator_path)
    if not card_path.is_file():
        raise ModelIntegrityError(f"The generator {Path(generator_path).name} has no card ({card_path.name}) beside "
                                  "it, so what it learnt from and whether it was modified cannot be checked; it is "
                                  "not used. Publish it again with python -m training.train_gan.")
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelIntegrityError(
            f"The generator card {card_path.name} cannot be read ({type(exc).__name__}).") from None
    if not isinstance(card, dict) or not card.get("sha256"):
        raise ModelIntegrityError(f"The generator card {card_path.name} records no sha256 for the generator.")
    return card


def load_generator(path: str | os.PathLike) -> tuple[Any, dict]:
    """Load a generator in safe mode after checking it against its card.

    Args:
        path: the generator's ``.keras`` file.

    Returns:
        (keras.Model, its card).

    Raises:
        ModelIntegrityError: missing file or card, or a sha256 that differs from the card's.
    """
    from core.serving.loader import load_generator_checked

    card = read_generator_card(path)
    return load_generator_checked(path, card["sha256"]), card


def _as_rgb(images: np.ndarray) -> list[np.ndarray]:
    return [np.repeat(im, 3, axis=-1) if im.shape[-1] == 1 else im for im in images]


def generate_samples(generator: Any, n: int, seed: int) -> list[np.ndarray]:
    """``n`` synthetic images, reproducible for a seed, as uint8 HxWx3 arrays."""
    from core.models.dcgan import generate

    return _as_rgb(generate(generator, n, seed=seed))


def _slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    # Spherical interpolation: Gaussian latents live near a sphere, and a straight line
    # between two of them passes through low-norm points the generator never saw.
    cos = np.dot(a / np.linalg.norm(a), b / np.linalg.norm(b))
    omega = np.arccos(np.clip(cos, -1.0, 1.0))
    if np.sin(omega) < 1e-6:
        return (1 - t) * a + t * b
    return (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)


def interpolate(generator: Any, seed_a: int, seed_b: int, steps: int) -> list[np.ndarray]:
    """Images along the path between the latent points of two seeds (both ends included).

    Args:
        generator: a DCGAN generator.
        seed_a: seed of the first latent point (the same point ``generate_samples(.., 1, seed_a)`` uses).
        seed_b: seed of the last latent point.
        steps: number of images, at least 2.

    Returns:
        ``steps`` uint8 HxWx3 images.
    """
    from core.models.dcgan import fixed_latents, from_gan_range

    if steps < 2:
        raise ValueError(f"Interpolation needs at least 2 steps, got {steps}.")
    dim = int(generator.input_shape[-1])
    a, b = fixed_latents(1, dim, seed_a)[0], fixed_latents(1, dim, seed_b)[0]
    latents = np.stack([_slerp(a, b, t) for t in np.linspace(0.0, 1.0, steps)]).astype(np.float32)
    return _as_rgb(from_gan_range(generator(latents, training=False)))


def synthetic_name(class_id: str, seed: int, index: int) -> str:
    """``syn_<class>_<seed>_<index>.png``: the name alone says the image is synthetic."""
    return f"{SYNTHETIC_PREFIX}{class_id}_{seed}_{index}.png"


def save_png_atomic(image: np.ndarray, path: str | os.PathLike, text: Mapping[str, object] | None = None) -> Path:
    """Write a uint8 image (H, W), (H, W, 1) or (H, W, 3) as PNG with text chunks, via temp file + rename.

    Args:
        image: uint8 pixels.
        path: destination ``.png``.
        text: PNG text metadata (values are written as strings).

    Returns:
        The written path.
    """
    path = Path(path)
    array = np.asarray(image)
    if array.dtype != np.uint8 or array.ndim not in (2, 3):
        raise ValueError(f"Expected a uint8 (H, W[, C]) image to save as {path.name}; got {array.dtype} {array.shape}.")
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    info = PngImagePlugin.PngInfo()
    for key, value in (text or {}).items():
        info.add_text(str(key), str(value))
    with atomic_write(path) as fh:
        Image.fromarray(array).save(fh, format="PNG", pnginfo=info)
    return path


def image_grid(images: np.ndarray, cols: int, gap: int = 2) -> np.ndarray:
    """Tile (N, H, W, C) uint8 images into one image, ``cols`` per row, separated by black gaps."""
    images = np.asarray(images)
    n, h, w, c = images.shape
    rows = -(-n // cols)
    grid = np.zeros((rows * h + (rows - 1) * gap, cols * w + (cols - 1) * gap, c), np.uint8)
    for i, image in enumerate(images):
        r, col = divmod(i, cols)
        grid[r * (h + gap):r * (h + gap) + h, col * (w + gap):col * (w + gap) + w] = image
    return grid


def write_synthetic_pngs(images: np.ndarray, targets: Sequence[Path], marks: Mapping[str, object]) -> list[Path]:
    """Save generated images, each marked ``synthetic=true`` with ``marks`` and its ``index``.

    Args:
        images: (N, H, W, C) uint8 generated images.
        targets: N destination paths (named by :func:`synthetic_name`).
        marks: PNG text every file carries (generator sha256, seed, task, class).

    Returns:
        The paths written, in order.
    """
    for index, (image, target) in enumerate(zip(images, targets)):
        save_png_atomic(image, target, {"synthetic": "true", **marks, "index": index})
    return list(targets)
