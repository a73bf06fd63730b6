"""make_image: one labelled phantom for any task, through a registry of modality renderers."""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..tasks import Task, get_task
from . import brain, breast, smear
from .base import Difficulty, Drawing, Phantom, resolve_difficulty

Renderer = Callable[..., Drawing]

#: modality -> renderer(kind, rng, (h, w), difficulty, **options) -> Drawing
RENDERERS: dict[str, Renderer] = {
    "brain_mri": brain.render,
    "breast_us": breast.render,
    "blood_smear": smear.render,
}

#: modality -> default (height, width); breast frames vary in size as real ones do.
DEFAULT_SHAPES: dict[str, Callable[[np.random.Generator], tuple[int, int]]] = {
    "brain_mri": lambda rng: (256, 256),
    "breast_us": breast.default_shape,
    "blood_smear": lambda rng: (450, 450),
}

#: task id -> class -> the drawn kinds it stands for (tasks not listed draw the class itself).
KINDS_OF_CLASS: dict[str, dict[str, tuple[str, ...]]] = {
    "brain_mri_binary": {"no": ("notumor",), "yes": ("glioma", "meningioma", "pituitary")},
}

#: modalities whose public dataset ships a lesion mask beside each image.
MASKED_MODALITIES = frozenset({"breast_us"})

MIN_SIZE, MAX_SIZE = 16, 4096


def resolve_shape(size: int | tuple[int, int] | None, task: Task,
                  rng: np.random.Generator) -> tuple[int, int]:
    """``size`` (int = square, or (height, width)) or the modality default -> (height, width)."""
    if size is None:
        return DEFAULT_SHAPES[task.modality](rng)
    shape = (size, size) if isinstance(size, (int, np.integer)) else tuple(size)
    if len(shape) != 2 or not all(isinstance(s, (int, np.integer)) and MIN_SIZE <= s <= MAX_SIZE
                                  for s in shape):
        raise ValueError(
            f"Image size {size!r} is not valid: give an int or a (height, width) pair of ints "
            f"between {MIN_SIZE} and {MAX_SIZE} pixels."
        )
    return int(shape[0]), int(shape[1])


def make_image(task_id: str | Task, label: str, rng: np.random.Generator,
               size: int | tuple[int, int] | None = None, difficulty: str | Difficulty = "medium",
               *, n_lesions: int | None = None, subject_seed: int | None = None) -> Phantom:
    """Draw one synthetic labelled image.

    Args:
        task_id: a task id (see core.tasks.TASKS) or Task.
        label: one of the task's classes.
        rng: numpy Generator; the same generator state gives the same image.
        size: int (square) or (height, width); None: 256 for brain MRI, about 256 (varying) for
            breast ultrasound, 450 for blood smears.
        difficulty: "easy", "medium", "hard" or a Difficulty.
        n_lesions: breast ultrasound only: 2 draws a second lesion (BUSI's ``_mask_1``).
        subject_seed: blood smears only: images sharing it share one subject's stain.

    Returns:
        A Phantom (image, mask, label, head_box, drawn_label, lesion_mask, lesion_masks).

    Raises:
        UnknownTaskError: unknown task id.
        ValueError: unknown label (the message lists the classes), bad size or difficulty.
    """
    task = get_task(task_id)
    task.class_index(label)  # raises a ValueError listing the classes
    diff = resolve_difficulty(difficulty)
    if n_lesions not in (None, 1, 2):
        raise ValueError(f"n_lesions must be 1 or 2 (BUSI has at most two lesion masks), got {n_lesions!r}.")
    drawn = label
    if rng.random() < diff.label_noise:  # a mislabelled case: content of another class
        others = [c for c in task.classes if c != label]
        drawn = others[int(rng.integers(len(others)))]
    kinds = KINDS_OF_CLASS.get(task.id, {}).get(drawn, (drawn,))
    kind = kinds[int(rng.integers(len(kinds)))] if len(kinds) > 1 else kinds[0]
    shape = resolve_shape(size, task, rng)
    drawing = RENDERERS[task.modality](kind, rng, shape, diff, n_lesions=n_lesions,
                                       subject_seed=subject_seed)
    lesion_masks = tuple(drawing.lesion_masks)
    union = None
    if task.modality != "blood_smear":
        union = np.zeros(shape, np.uint8)
        for m in lesion_masks:
            union = np.maximum(union, m)
    return Phantom(
        image=drawing.image,
        mask=union if task.modality in MASKED_MODALITIES else None,
        label=label,
        head_box=drawing.head_box,
        drawn_label=drawn,
        lesion_mask=union,
        lesion_masks=lesion_masks,
    )
