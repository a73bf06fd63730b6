"""write_dataset: phantoms written in each task's public dataset layout and naming.

The readers in core.data are exercised on exactly the folders, names and formats of the real
sets (Kaggle brain MRI, Br35H, BUSI, C-NMC 2019), so a test that passes on phantoms means the
reader works on the download. Each image has its own seed, derived from (seed, task, class,
index), so adding classes or images never changes the images already there.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

import numpy as np
from PIL import Image
from tqdm import tqdm

from ..atomic import atomic_write
from ..tasks import Task, get_task
from . import breast
from .base import GENERATOR_VERSION, MANIFEST_NAME, Difficulty
from .generate import make_image

#: file suffix (lower case) -> (Pillow format, save options); fixed options keep files byte-stable.
FORMATS: dict[str, tuple[str, dict]] = {
    ".jpg": ("JPEG", {"quality": 92, "subsampling": 0}),
    ".jpeg": ("JPEG", {"quality": 92, "subsampling": 0}),
    ".png": ("PNG", {"compress_level": 6}),
    ".bmp": ("BMP", {}),
}

#: Kaggle brain MRI file-name codes.
KAGGLE_CODES = {"glioma": "gl", "meningioma": "me", "notumor": "no", "pituitary": "pi"}

#: Br35H's mixed naming, cycled per image (n is the image number).
BR35H_NAMES = {
    "yes": ("Y{n}.jpg", "Y{n}.jpg", "Y{n}.JPG", "Y{n}.jpg", "Y{n}.jpeg"),
    "no": ("no {n}.jpg", "No{n}.jpg", "N{n}.jpg", "{n} no.jpeg", "N{n}.JPG"),
}

#: Every how many lesion images BUSI-style phantoms carry a second lesion (``_mask_1``).
BUSI_SECOND_LESION_EVERY = 10


@dataclass
class Item:
    """One image to write: where, which class, which per-class index, how to draw it."""

    path: Path
    label: str
    index: int
    options: dict = field(default_factory=dict)
    shape: tuple[int, int] | None = None
    mask_paths: tuple[Path, ...] = ()


def image_rng(seed: int, task_id: str, class_index: int, index: int, stream: int = 0) -> np.random.Generator:
    """The generator of one image: independent of every other image's."""
    return np.random.default_rng(
        np.random.SeedSequence([seed, zlib.crc32(task_id.encode()), class_index, index, stream]))


def save_image(array: np.ndarray, path: Path) -> Path:
    """Write an image atomically (temp file, then rename) in the format its suffix names."""
    try:
        fmt, options = FORMATS[path.suffix.lower()]
    except KeyError:
        raise ValueError(f"Cannot write '{path.name}': use one of {', '.join(FORMATS)}.") from None
    with atomic_write(path) as fh:
        Image.fromarray(array).save(fh, format=fmt, **options)
    return path


def _kaggle(task: Task, counts: Mapping[str, int], out: Path, seed: int):
    items = []
    for label, n in counts.items():
        n_test = 0 if n < 2 else max(1, round(0.2 * n))
        code = KAGGLE_CODES[label]
        for i in range(n):
            if i < n - n_test:
                rel = Path("Training", label, f"Tr-{code}_{i + 1:04d}.jpg")
            else:
                rel = Path("Testing", label, f"Te-{code}_{i - (n - n_test) + 1:04d}.jpg")
            items.append(Item(out / rel, label, i))
    return out, items


def _br35h(task: Task, counts: Mapping[str, int], out: Path, seed: int):
    items = []
    for label, n in counts.items():
        names = BR35H_NAMES[label]
        items += [Item(out / label / names[i % len(names)].format(n=i + 1), label, i) for i in range(n)]
    return out, items


def _busi(task: Task, counts: Mapping[str, int], out: Path, seed: int):
    root = out / "Dataset_BUSI_with_GT"
    items = []
    for label, n in counts.items():
        for i in range(n):
            stem = f"{label} ({i + 1})"
            two = label != "normal" and i % BUSI_SECOND_LESION_EVERY == 3
            masks = [root / label / f"{stem}_mask.png"] + ([root / label / f"{stem}_mask_1.png"] if two else [])
            shape = breast.default_shape(image_rng(seed, task.id, task.class_index(label), i, 1), busi=True)
            items.append(Item(root / label / f"{stem}.png", label, i, {"n_lesions": 2 if two else 1},
                              shape, tuple(masks)))
    return root, items


def _cnmc(task: Task, counts: Mapping[str, int], out: Path, seed: int):
    root = out / "C-NMC_training_data"
    items = []
    for label, n in counts.items():
        ci = task.class_index(label)
        n_subjects = max(min(n, 3), math.ceil(n / 8))
        taken = [0] * max(n_subjects, 1)
        for i in range(n):
            j = i % n_subjects  # each subject's images stay in one fold, as in C-NMC
            subject = f"H{j + 1}" if label == "hem" else str(j + 1)
            image_no, cell_no = taken[j] // 3 + 1, taken[j] % 3 + 1
            taken[j] += 1
            name = f"UID_{subject}_{image_no}_{cell_no}_{label}.bmp"
            stain = int(np.random.SeedSequence([seed, ci, 1_000_000 + j]).generate_state(1)[0])
            items.append(Item(root / f"fold_{j % 3}" / label / name, label, i, {"subject_seed": stain}))
    return root, items


Planner = Callable[[Task, Mapping[str, int], Path, int], "tuple[Path, list[Item]]"]

#: task id -> planner of its public layout.
LAYOUTS: dict[str, Planner] = {
    "brain_mri_4class": _kaggle,
    "brain_mri_binary": _br35h,
    "breast_us": _busi,
    "blood_smear": _cnmc,
}


def class_counts(task: Task, per_class: int | Mapping[str, int]) -> dict[str, int]:
    """``per_class`` (one count for all, or class -> count for every class) -> class -> count."""
    if isinstance(per_class, Mapping):
        unknown = set(per_class) - set(task.classes)
        missing = set(task.classes) - set(per_class)
        if unknown or missing:
            raise ValueError(
                f"per_class for task '{task.id}' must give a count for each of its classes "
                f"({', '.join(task.classes)}); unknown: {sorted(unknown) or 'none'}, "
                f"missing: {sorted(missing) or 'none'}."
            )
        counts = {c: per_class[c] for c in task.classes}
    else:
        counts = {c: per_class for c in task.classes}
    for c, n in counts.items():
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"The image count for class '{c}' must be a whole number >= 0, got {n!r}.")
    return {c: int(n) for c, n in counts.items()}


def write_dataset(task: str | Task, out_dir: str | os.PathLike, per_class: int | Mapping[str, int],
                  seed: int, size: int | tuple[int, int] | None = None,
                  difficulty: str | Difficulty = "medium", progress: bool = False) -> Path:
    """Write a labelled phantom set in the task's public layout.

    Args:
        task: task id or Task.
        out_dir: folder to write into (created; existing files of the same names are replaced).
        per_class: images per class, or class -> count for every class (imbalanced sets).
        seed: non-negative int; the same seed gives byte-identical files.
        size: int or (height, width); None: the dataset's usual size (brain 256, BUSI about
            450 x 500 varying, C-NMC 450).
        difficulty: "easy", "medium", "hard" or a Difficulty.
        progress: show a tqdm progress bar.

    Returns:
        The dataset root a reader takes: ``out_dir`` for the Kaggle set (holding Training/ and
        Testing/) and Br35H (holding yes/ and no/); ``out_dir/Dataset_BUSI_with_GT`` for BUSI;
        ``out_dir/C-NMC_training_data`` (holding fold_0..fold_2) for C-NMC.
    """
    task = get_task(task)
    counts = class_counts(task, per_class)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a whole number >= 0, got {seed!r}.")
    root, items = LAYOUTS[task.id](task, counts, Path(out_dir), int(seed))
    root.mkdir(parents=True, exist_ok=True)
    for item in tqdm(items, desc=task.id, unit="img", disable=not progress):
        rng = image_rng(int(seed), task.id, task.class_index(item.label), item.index)
        shape = item.shape if size is None and item.shape else size
        ph = make_image(task, item.label, rng, shape, difficulty, **item.options)
        save_image(ph.image, item.path)
        if item.mask_paths:
            masks = list(ph.lesion_masks) or [ph.mask]
            for k, mask_path in enumerate(item.mask_paths):
                save_image(masks[k] if k < len(masks) else np.zeros_like(ph.mask), mask_path)
    write_manifest(Path(out_dir), task, counts, int(seed), size, difficulty)
    return root


def write_manifest(out_dir: Path, task: Task, counts: Mapping[str, int], seed: int,
                   size: int | tuple[int, int] | None, difficulty: str | Difficulty) -> Path:
    """Record how a phantom folder was made, so a model trained on it can say so in its card.

    The training scripts find this file in the dataset root or up to two folders above it.
    """
    level = difficulty if isinstance(difficulty, str) else dataclasses.asdict(difficulty)
    manifest = {
        "generator": "core.phantoms", "generator_version": GENERATOR_VERSION, "task": task.id,
        "seed": seed, "per_class": dict(counts), "size": size, "difficulty": level,
    }
    path = out_dir / MANIFEST_NAME
    with atomic_write(path, "w") as fh:
        json.dump(manifest, fh, indent=2)
    return path
