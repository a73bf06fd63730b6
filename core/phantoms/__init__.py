"""Synthetic labelled images for every task, written in the public datasets' layouts.

No real dataset can be downloaded where the project is built and tested, so each task has a
deterministic generator of images that look like the modality and carry the class-specific,
anatomically motivated structure a CNN must learn (the lesion or the cell, not a colour or a
corner). Difficulty is tunable (noise, class overlap, label noise) so metrics stay informative.

    >>> import numpy as np
    >>> from core.phantoms import make_image, write_dataset
    >>> ph = make_image("brain_mri_4class", "glioma", np.random.default_rng(0), size=64)
    >>> ph.image.shape, ph.image.dtype.name
    ((64, 64, 3), 'uint8')

Command line: ``python -m core.phantoms --task breast_us --out data/busi --per-class 50 --seed 0``.
"""

from .base import DIFFICULTIES, GENERATOR_VERSION, MANIFEST_NAME, Difficulty, Phantom, resolve_difficulty
from .generate import make_image
from .layouts import LAYOUTS, image_rng, save_image, write_dataset, write_manifest
from .sheet import contact_sheet, write_samples

__all__ = [
    "DIFFICULTIES", "Difficulty", "GENERATOR_VERSION", "LAYOUTS", "MANIFEST_NAME", "Phantom", "contact_sheet",
    "image_rng", "make_image", "resolve_difficulty", "save_image", "write_dataset", "write_manifest", "write_samples",
]
