"""Images that are NOT of a task's modality, to fit the modality gate and to audit it on a disjoint half.

Real images of the other modalities come from ``$MEDIMG_DATA`` when it is there: each dataset's files, sorted by
path, are split by position into a fitting half (even positions) and an audit half (odd positions), so the
audit (``training.audit_ood``) never measures the gate on an image it was fitted on. Synthetic negatives come
from ``core.serving.ood_probes`` with seed 1 (the audit and the card's probe rates use seed 0).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from core import paths
from core.data import read_dataset
from core.data._images import load_image
from core.serving import ood_probes

log = logging.getLogger(__name__)

#: modality -> (what it is, task whose reader reads it, folder under $MEDIMG_DATA).
REAL_SOURCES = {
    "brain_mri": [("brain MRI (Kaggle Brain Tumor MRI)", "brain_mri_4class", "brain_tumor_mri"),
                  ("brain MRI (Br35H)", "brain_mri_binary", "br35h")],
    "breast_us": [("breast ultrasound (BUSI)", "breast_us", "busi")],
}
FIT, AUDIT = 0, 1
#: Probe sizes and seed of the synthetic negatives the gate is fitted on.
SYNTHETIC_SIZES = (128, 256)
SYNTHETIC_SEED = 1


def other_modality_files(modality: str, half: int, per_source: int, seed: int = 0,
                         root: Path | None = None) -> dict[str, list[str]]:
    """Real files of every other modality found under ``root`` (default ``$MEDIMG_DATA``), one half of each.

    Args:
        modality: the task's modality; its own datasets are skipped.
        half: ``FIT`` (even positions) or ``AUDIT`` (odd positions).
        per_source: at most this many files of each dataset (a seeded sample of the half).
        seed: sampling seed.
        root: folder holding the datasets.

    Returns:
        What each source is -> file paths (empty when no real data is at hand).
    """
    root = Path(root) if root else paths.REAL_DATA_DIR
    found = {}
    for other, sources in REAL_SOURCES.items():
        if other == modality:
            continue
        for what, reader_task, folder in sources:
            if not (root / folder).is_dir():
                continue
            files = sorted(read_dataset(root / folder, reader_task)["path"].astype(str))[half::2]
            rng = np.random.default_rng(seed)
            found[what] = [files[i] for i in sorted(rng.permutation(len(files))[:per_source])]
    return found


def gate_negatives(task_id: str, modality: str, per_source: int = 150, per_kind: int = 30) -> tuple[list, dict]:
    """Raw uint8 negatives for fitting the gate, and a description of them for the card."""
    images = [image for size in SYNTHETIC_SIZES
              for _, image in ood_probes.probe_images(task_id, per_kind=per_kind, seed=SYNTHETIC_SEED, size=size)]
    described = {"synthetic probes (blank, noise, photo-like, other-modality phantoms)": len(images)}
    for what, files in other_modality_files(modality, FIT, per_source).items():
        images += [load_image(path) for path in files]
        described[f"{what}, fitting half"] = len(files)
    return images, described
