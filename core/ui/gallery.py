"""The GAN gallery's data: which generators and pre-rendered grids exist, sampling, interpolation.

Layout (written by the GAN training script): ``models/<task>/gan/<class>.keras`` with its card
``<class>.card.json`` and a pre-rendered ``<class>_grid.png``. A task without them simply has no
gallery; nothing here requires them to exist.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core import paths
from core.tasks import get_task

GAN_FOLDER = "gan"


@dataclass(frozen=True)
class GanAssets:
    """What exists for one class of one task.

    Attributes:
        class_id: the class the generator imitates.
        generator: the generator's ``.keras`` file, if trained.
        grid: the pre-rendered sample grid, if rendered.
        card: the generator's card (dict), if present.
    """

    class_id: str
    generator: Path | None
    grid: Path | None
    card: dict | None


def _read_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def gan_assets(task_id: str) -> dict[str, GanAssets]:
    """Generators and grids of a task, per class in task order; only classes with something.

    Args:
        task_id: the task.

    Returns:
        class id -> GanAssets (empty when the task has no GAN output at all).
    """
    task = get_task(task_id)
    folder = paths.task_models_dir(task.id) / GAN_FOLDER
    found = {}
    for class_id in task.classes:
        generator, grid = folder / f"{class_id}.keras", folder / f"{class_id}_grid.png"
        card_path = folder / f"{class_id}.card.json"
        assets = GanAssets(class_id, generator if generator.is_file() else None,
                           grid if grid.is_file() else None,
                           _read_json(card_path) if card_path.is_file() else None)
        if assets.generator or assets.grid:
            found[class_id] = assets
    return found


def load_generator(path: str | Path, sha256: str | None = None) -> Any:
    """Load a generator safely (``safe_mode``), after checking its sha256 when the card gives one.

    Args:
        path: the generator's ``.keras`` file.
        sha256: the digest its card records (None skips the check).

    Returns:
        The keras.Model.

    Raises:
        ModelIntegrityError: the file does not match its card or cannot be loaded.
    """
    import keras

    from core.serving.cards import sha256_file
    from core.inference import ModelIntegrityError

    path = Path(path)
    if sha256 and sha256_file(path) != sha256:
        raise ModelIntegrityError(f"The generator {path.name} does not match the sha256 in its card: "
                                  "it was modified or corrupted after training.")
    try:
        return keras.models.load_model(path, safe_mode=True, compile=False)
    except Exception as exc:  # Keras raises many types for a bad archive; all mean "cannot use it"
        raise ModelIntegrityError(f"The generator {path.name} could not be loaded safely "
                                  f"({type(exc).__name__}).") from exc


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


def quality_summary(card: dict | None) -> str | None:
    """One sentence on how good a generator is, from its card (None when the card has no figures).

    MS-SSIM near 1 means the generator repeats itself (mode collapse); real images of one class
    give the reference value. FID/KID are computed on the task classifier's own features.
    """
    quality = (card or {}).get("quality") or {}
    fid = (quality.get("fidelity") or {}).get("fid")
    diversity = quality.get("diversity") or {}
    parts = []
    if fid is not None:
        parts.append(f"FID {fid:.1f} on the classifier's features (lower is closer to real)")
    if diversity.get("ms_ssim_generated") is not None and diversity.get("ms_ssim_real") is not None:
        parts.append(f"MS-SSIM {diversity['ms_ssim_generated']:.2f} between samples vs "
                     f"{diversity['ms_ssim_real']:.2f} between real images (near 1 = repetitive)")
    if not parts:
        return None
    epochs = (card or {}).get("epochs")
    trained = f"Trained {epochs} epochs on {(card.get('training_data') or {}).get('kind', 'unknown')} data. " \
        if epochs else ""
    return trained + "; ".join(parts) + "."
