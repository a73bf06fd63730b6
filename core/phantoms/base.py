"""Records shared by the phantom generators: what one image carries, how hard the set is."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

import numpy as np

#: Version of the generator, recorded in model cards of demo weights trained on phantoms.
GENERATOR_VERSION = "1.0"

#: File written beside a generated dataset saying how it was made (seed, version, difficulty).
MANIFEST_NAME = "phantoms.json"


@dataclass(frozen=True)
class Difficulty:
    """How hard a phantom set is to classify.

    Attributes:
        noise: multiplier of acquisition noise and texture (speckle grain, Rician noise, bias
            field, stain variation); 0 is clean, 1 is typical, 2 is very noisy.
        overlap: 0..1, how far each class's feature ranges (lesion size, contrast, shape,
            position, chromatin) extend towards the other classes'; 0 keeps them disjoint.
        label_noise: fraction of images whose drawn content belongs to another class than their
            label (as mislabelled cases in real sets); caps achievable accuracy at about 1 - this.
    """

    noise: float = 1.0
    overlap: float = 0.35
    label_noise: float = 0.02

    def __post_init__(self) -> None:
        if not (np.isfinite(self.noise) and 0.0 <= self.noise <= 5.0):
            raise ValueError(f"Difficulty.noise must be between 0 and 5, got {self.noise}.")
        if not 0.0 <= self.overlap <= 1.0:
            raise ValueError(f"Difficulty.overlap must be between 0 and 1, got {self.overlap}.")
        if not 0.0 <= self.label_noise <= 0.5:
            raise ValueError(
                f"Difficulty.label_noise must be a fraction between 0 and 0.5, got {self.label_noise}."
            )


#: Named presets; "medium" is the default everywhere.
DIFFICULTIES: Mapping[str, Difficulty] = MappingProxyType({
    "easy": Difficulty(noise=0.5, overlap=0.0, label_noise=0.0),
    "medium": Difficulty(noise=1.0, overlap=0.35, label_noise=0.02),
    "hard": Difficulty(noise=1.6, overlap=0.85, label_noise=0.08),
})


def resolve_difficulty(difficulty: str | Difficulty) -> Difficulty:
    """A preset name or a Difficulty -> Difficulty; ValueError naming the presets otherwise."""
    if isinstance(difficulty, Difficulty):
        return difficulty
    try:
        return DIFFICULTIES[difficulty]
    except (KeyError, TypeError):
        raise ValueError(
            f"Unknown difficulty '{difficulty}'. Use one of: {', '.join(DIFFICULTIES)}, "
            "or a core.phantoms.Difficulty(noise=..., overlap=..., label_noise=...)."
        ) from None


@dataclass(frozen=True, eq=False)
class Phantom:
    """One synthetic labelled image.

    Attributes:
        image: uint8 HxWx3 RGB.
        mask: uint8 HxW with values 0/255 for tasks whose dataset ships masks (breast_us: the
            union of the lesion masks, all zero for a normal image); None otherwise.
        label: the class the image is filed under.
        head_box: brain MRI only: (x0, y0, x1, y1) pixel box of the head including the skull,
            x1/y1 exclusive, so ``image[y0:y1, x0:x1]`` is the head; None for other modalities.
        drawn_label: the class whose structure was actually drawn; differs from ``label`` only
            for the ``label_noise`` fraction of images.
        lesion_mask: uint8 HxW 0/255 of the lesion for brain MRI (tumour core, no oedema; all
            zero for no tumour) and breast ultrasound, to check that explanations point at the
            lesion; None for blood smears (the whole cell is the object).
        lesion_masks: one mask per lesion (BUSI writes the second as ``_mask_1``).
    """

    image: np.ndarray
    mask: np.ndarray | None
    label: str
    head_box: tuple[int, int, int, int] | None = None
    drawn_label: str | None = None
    lesion_mask: np.ndarray | None = None
    lesion_masks: tuple[np.ndarray, ...] = field(default=())


@dataclass
class Drawing:
    """What a modality renderer returns before it is labelled."""

    image: np.ndarray  # uint8 HxWx3
    lesion_masks: list[np.ndarray] = field(default_factory=list)  # uint8 0/255 each
    head_box: tuple[int, int, int, int] | None = None
