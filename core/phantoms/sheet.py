"""Contact sheets (a labelled grid per task, to look at the phantoms) and the app's sample images."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..tasks import TASKS, Task, get_task
from .base import DIFFICULTIES, Difficulty, resolve_difficulty
from .generate import make_image
from .layouts import image_rng, save_image

LABEL_WIDTH, TITLE_HEIGHT, GAP = 215, 34, 4


def _fit(image: np.ndarray, tile: tuple[int, int]) -> np.ndarray:
    """Letterbox an image into a (height, width) tile, keeping its aspect ratio."""
    th, tw = tile
    h, w = image.shape[:2]
    k = min(th / h, tw / w)
    nh, nw = max(1, round(h * k)), max(1, round(w * k))
    resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA if k < 1 else cv2.INTER_LINEAR)
    out = np.zeros((th, tw, 3), np.uint8)
    y0, x0 = (th - nh) // 2, (tw - nw) // 2
    out[y0:y0 + nh, x0:x0 + nw] = resized
    return out


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has a single bitmap size
        return ImageFont.load_default()


def contact_sheet(task: str | Task, out_png: str | os.PathLike, per_class: int = 6, seed: int = 0,
                  size: int | tuple[int, int] | None = None,
                  difficulty: str | Difficulty = "medium") -> Path:
    """Write a grid PNG of phantoms: one row per class, the class name on the left.

    Args:
        task: task id or Task.
        out_png: path of the PNG to write (atomically).
        per_class: images per row (>= 1).
        seed: seed of the images (the same as write_dataset's for the first images of each class).
        size: image size (int or (height, width)); tiles are that size, 256 px when None.
        difficulty: preset name or Difficulty.

    Returns:
        The path written.
    """
    task = get_task(task)
    if per_class < 1:
        raise ValueError(f"A contact sheet needs at least one image per class, got {per_class}.")
    diff = resolve_difficulty(difficulty)
    tile = (size, size) if isinstance(size, int) else tuple(size) if size else (256, 256)
    rows = len(task.classes)
    height = TITLE_HEIGHT + rows * (tile[0] + GAP)
    width = LABEL_WIDTH + per_class * (tile[1] + GAP)
    sheet = Image.new("RGB", (width, height), (24, 24, 24))
    pen = ImageDraw.Draw(sheet)
    pen.text((8, 8), f"{task.display_name}  (phantoms, difficulty: {_name(diff)}, seed {seed})",
             fill=(235, 235, 235), font=_font(18))
    for r, label in enumerate(task.classes):
        top = TITLE_HEIGHT + r * (tile[0] + GAP)
        pen.text((8, top + tile[0] // 2 - 10), task.class_names[label], fill=(255, 220, 120), font=_font(18))
        for i in range(per_class):
            rng = image_rng(seed, task.id, r, i)
            ph = make_image(task, label, rng, size, diff)
            sheet.paste(Image.fromarray(_fit(ph.image, tile)), (LABEL_WIDTH + i * (tile[1] + GAP), top))
    return save_image(np.asarray(sheet), Path(out_png))


def _name(diff: Difficulty) -> str:
    return next((k for k, v in DIFFICULTIES.items() if v == diff), str(diff))


def write_samples(out_dir: str | os.PathLike, seed: int = 2026,
                  size: int | tuple[int, int] | None = None) -> Path:
    """Write the app's bundled examples: ``<task_id>/<class>_<n>.png``, two per class per task.

    They are drawn at medium difficulty without label noise, so each file shows its class.

    Args:
        out_dir: folder to write into (e.g. core.paths.SAMPLES_DIR).
        seed: seed of the samples.
        size: int or (height, width); None: each modality's usual size.

    Returns:
        ``out_dir`` as a Path.
    """
    out = Path(out_dir)
    clean = replace(resolve_difficulty("medium"), label_noise=0.0)
    for task in TASKS.values():
        for ci, label in enumerate(task.classes):
            for n in (1, 2):
                ph = make_image(task, label, image_rng(seed, task.id, ci, n, 2), size, clean)
                save_image(ph.image, out / task.id / f"{label}_{n}.png")
    return out
