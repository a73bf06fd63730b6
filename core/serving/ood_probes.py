"""Images a classifier must refuse: the probe set for the out-of-distribution detector.

Four kinds, each something a clinician might really upload by mistake: a blank frame,
pure noise, a natural-looking photograph, and an image of another modality (a smear in
the brain task). The detection rate on this set is written into each model card.
"""

from __future__ import annotations

from typing import Callable

import cv2
import numpy as np

from core.phantoms import make_image
from core.tasks import TASKS, get_task

Probe = Callable[[np.random.Generator, int, str], np.ndarray]


def _blank(rng: np.random.Generator, size: int, task_id: str) -> np.ndarray:
    level = int(rng.choice([0, 128, 255]))
    return np.full((size, size, 3), level, np.uint8)


def _noise(rng: np.random.Generator, size: int, task_id: str) -> np.ndarray:
    if rng.random() < 0.5:
        return rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    grey = rng.normal(128, 60, (size, size, 1)).clip(0, 255).astype(np.uint8)
    return np.repeat(grey, 3, axis=2)


def _natural(rng: np.random.Generator, size: int, task_id: str) -> np.ndarray:
    """A landscape-like photo: sky gradient, horizon, coloured objects, soft texture."""
    sky_top, sky_bottom = rng.uniform(120, 255, 3), rng.uniform(60, 220, 3)
    ramp = np.linspace(0, 1, size)[:, None, None]
    img = sky_top * (1 - ramp) + sky_bottom * ramp
    img = np.broadcast_to(img, (size, size, 3)).copy()
    horizon = int(rng.uniform(0.4, 0.75) * size)
    img[horizon:] = rng.uniform(30, 160, 3)
    for _ in range(int(rng.integers(3, 8))):
        colour = tuple(float(c) for c in rng.uniform(0, 255, 3))
        centre = (int(rng.integers(0, size)), int(rng.integers(0, size)))
        if rng.random() < 0.5:
            radius = int(rng.integers(size // 20 + 1, size // 5 + 2))
            cv2.circle(img, centre, radius, colour, -1)
        else:
            w, h = rng.integers(size // 10 + 1, size // 3 + 2, 2)
            cv2.rectangle(img, centre, (centre[0] + int(w), centre[1] + int(h)), colour, -1)
    texture = cv2.GaussianBlur(rng.normal(0, 25, (size, size)).astype(np.float32), (0, 0), 2)
    return (img + texture[..., None]).clip(0, 255).astype(np.uint8)


def _other_modality(rng: np.random.Generator, size: int, task_id: str) -> np.ndarray:
    modality = get_task(task_id).modality
    others = sorted(t.id for t in TASKS.values() if t.modality != modality)
    other = get_task(others[int(rng.integers(len(others)))])
    label = other.classes[int(rng.integers(other.num_classes))]
    return make_image(other.id, label, rng, size=size).image


#: kind -> generator of one probe image.
PROBES: dict[str, Probe] = {
    "blank": _blank,
    "noise": _noise,
    "natural photo": _natural,
    "other modality": _other_modality,
}


def probe_images(task_id: str, per_kind: int = 10, seed: int = 0, size: int = 128) -> list[tuple[str, np.ndarray]]:
    """Deterministic probe set for one task.

    Args:
        task_id: the task whose modality the probes must not look like.
        per_kind: images of each kind.
        seed: random seed; same seed, same images.
        size: side of the square images.

    Returns:
        (kind, uint8 RGB image) pairs, grouped by kind.
    """
    get_task(task_id)
    out = []
    for k, (kind, probe) in enumerate(PROBES.items()):
        rng = np.random.default_rng([seed, k])
        out.extend((kind, probe(rng, size, task_id)) for _ in range(per_kind))
    return out
