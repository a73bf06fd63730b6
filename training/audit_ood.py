"""Measure a served model's out-of-distribution guard on real images and write the figures into its card.

    python -m training.audit_ood --task breast_us --model mobilenet_real \\
        --splits runs/breast_us/mobilenet_real/splits.csv

What a clinician needs to know of the guard, each as a rate over real images:
- wrongly refused: real test images of the task itself (the model's own held-out split) that it refuses;
- refused other modalities: real images of the other modalities in ``$MEDIMG_DATA`` (brain MRIs under
  ``breast_us``, breast ultrasounds under the brain tasks; the half the modality gate was not fitted on),
  blood-smear cells (phantoms: no real smear data here),
  and the synthetic probes of ``core.serving.ood_probes`` (blank, noise, photo-like, other-modality drawings).
The rates land in the card's ``ood.evaluation`` section; the card's other fields and the model files are untouched.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from core import paths
from core.io import load_image
from core.serving import ood_probes
from core.serving.cards import read_card, write_card
from training import ood_negatives
from training.cli import run
from training.config import ConfigError, _opt

log = logging.getLogger(__name__)
MODULE = "training.audit_ood"

@dataclass
class AuditOodConfig:
    """Which served model to audit, and on which images."""

    task: str = _opt(None, "task id of the served model")
    model: str | None = _opt(None, "served model name (default: the task's default model)")
    models_dir: str | None = _opt(None, "where served models are looked up (default: core.paths.MODELS_DIR)")
    splits: str | None = _opt(None, "splits.csv of the run that trained the model (its test rows are audited)")
    data_root: str | None = _opt(None, "folder holding the real datasets (default: $MEDIMG_DATA)")
    per_source: int = _opt(300, "at most this many images of each other-modality source")
    probes_per_kind: int = _opt(50, "synthetic probe images of each kind")
    seed: int = _opt(0, "seed of the subsamples and the probes")
    write: bool = _opt(True, "write the figures into the model card")

    def validate(self) -> AuditOodConfig:
        if not self.task:
            raise ConfigError("No task given: pass --task (e.g. --task breast_us).")
        if self.splits and not Path(self.splits).is_file():
            raise ConfigError(f"The splits file '{self.splits}' does not exist.")
        return self


def _refused(model, images: Sequence[np.ndarray]) -> tuple[int, int]:
    results = model.predict_batch(list(images))
    scored = [r for r in results if hasattr(r, "out_of_distribution")]
    return sum(bool(r.out_of_distribution) for r in scored), len(scored)


def _rate(refused: int, n: int) -> dict:
    return {"refused": int(refused), "n": int(n), "rate": float(refused / n) if n else None}


def _load_all(paths_: Sequence[str]) -> list[np.ndarray]:
    return [load_image(Path(p).read_bytes()) for p in paths_]


def _smear_phantoms(n: int, seed: int) -> list[np.ndarray]:
    from core.phantoms.generate import make_image

    rng = np.random.default_rng(seed)
    return [make_image("blood_smear", ("all", "hem")[i % 2], rng).image for i in range(n)]


def audit(cfg: AuditOodConfig) -> dict:
    """Refusal rates of the served model's OOD guard; written into its card unless ``write`` is False."""
    from core.inference import load_model

    model = load_model(cfg.task, cfg.model, cfg.models_dir)
    root = Path(cfg.data_root) if cfg.data_root else paths.REAL_DATA_DIR
    section: dict = {}
    if cfg.splits:
        table = pd.read_csv(cfg.splits)
        test = table.loc[table["split"] == "test", "path"].astype(str).tolist()
        section["test_wrongly_refused"] = _rate(*_refused(model, _load_all(test)))
    others = {}
    for what, files in ood_negatives.other_modality_files(model.task.modality, ood_negatives.AUDIT,
                                                          cfg.per_source, cfg.seed, root).items():
        others[f"{what}, audit half"] = _rate(*_refused(model, _load_all(files)))
    if model.task.modality != "blood_smear":
        others["blood-smear cells (phantoms)"] = _rate(*_refused(model, _smear_phantoms(100, cfg.seed)))
    section["other_modalities_refused"] = others
    probes = ood_probes.probe_images(cfg.task, per_kind=cfg.probes_per_kind, seed=cfg.seed)
    section["probes_refused"] = {
        kind: _rate(*_refused(model, [image for k, image in probes if k == kind]))
        for kind in ood_probes.PROBES
    }
    if cfg.write:
        folder = Path(cfg.models_dir) if cfg.models_dir else paths.MODELS_DIR
        card_file = folder / cfg.task / f"{model.name}.card.json"
        card = read_card(card_file)
        card.setdefault("ood", {})["evaluation"] = section
        write_card(card, card_file)
    return section


def main(argv: Sequence[str] | None = None) -> dict:
    """Command-line entry."""
    result = run(AuditOodConfig, audit, argv, module=MODULE,
                 description="Measure a served model's out-of-distribution guard on real images.")
    for name, value in result.items():
        print(name, value)
    return result


if __name__ == "__main__":
    main()
