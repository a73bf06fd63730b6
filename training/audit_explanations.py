"""Measure a served model's heat maps on its test split and write the ``explanations`` section of its card.

    python -m training.audit_explanations --task breast_us --model mobilenet_busi --data ../shared/data/busi
    python -m training.audit_explanations --task brain_mri_binary --data ../shared/data/br35h \\
        --masks ../shared/data/br35h_masks
    python -m training.audit_explanations --task breast_us --data ../shared/data/busi --choose-layer

The test split is re-derived exactly as training made it, from the config saved beside the model
(``<name>.config.json``: seed, fractions, dedupe) applied to ``--data``. Lesion masks are read beside
the images (BUSI ``<case>_mask*.png``) or from ``--masks`` (``<image stem>.png`` anywhere below it).
The section holds the layer explained, pointing game, energy in mask, deletion / insertion AUC
and the shortcut audit; the contact sheet of the worst images is saved as ``<name>.explanations.png``.
With ``--choose-layer`` the explained layer is first chosen on the model's *validation* split (best
pointing game on its lesion masks, ``core.explain.audit.layer_selection``) and the table of candidates
goes into the section as ``layer_selection``; the test split is then measured once, at that layer.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from core.explain import CAM_METHODS
from core.io import load_image
from training.cli import from_dict, run
from training.config import ConfigError, TrainConfig

log = logging.getLogger(__name__)
MODULE = "training.audit_explanations"


def _opt(default, help_text: str, choices: Sequence[str] = ()):
    return field(default=default, metadata={"help": help_text, "choices": tuple(choices)})


@dataclass
class AuditConfig:
    """Which served model to audit, on which data."""

    task: str = _opt(None, "task id from core.tasks")
    data: str = _opt(None, "dataset root the model was trained from (its test split is audited)")
    model: str | None = _opt(None, "served model name (default: the task's default model)")
    models_dir: str | None = _opt(None, "where served models are looked up (default: core.paths.MODELS_DIR)")
    masks: str | None = _opt(None, "folder of lesion masks named <image stem>.png (default: beside the images)")
    method: str = _opt("gradcam", "CAM method measured", tuple(CAM_METHODS))
    limit: int | None = _opt(None, "audit at most this many test images")
    layer: str | None = _opt(None, "feature map to explain (default: the card's, else the automatic choice)")
    choose_layer: bool = _opt(False, "choose the layer on the validation split's lesion masks before the test")
    dry_run: bool = _opt(False, "print the section without rewriting the card")

    def validate(self) -> AuditConfig:
        """Check what an audit cannot start without; returns self."""
        if not self.task or not self.data:
            raise ConfigError("Pass both --task and --data (the dataset folder the model was trained from).")
        if self.method not in CAM_METHODS:
            raise ConfigError(f"--method must be one of {', '.join(CAM_METHODS)}.")
        if self.layer and self.choose_layer:
            raise ConfigError("Pass either --layer or --choose-layer, not both.")
        return self


def model_split(served, folder: Path, data: str, limit: int | None, split: str = "test"):
    """A split (default the test table) of the model's own recipe applied to ``data`` (defaults when no
    config is saved)."""
    from training.datasets import prepare_data

    saved = folder / f"{served.name}.config.json"
    values = json.loads(saved.read_text()) if saved.is_file() else {"task": served.task.id}
    known = {f.name for f in dataclasses.fields(TrainConfig)}
    cfg = from_dict(TrainConfig, {k: v for k, v in values.items() if k in known})
    cfg.data, cfg.task = str(data), served.task.id
    table = prepare_data(cfg).splits[split]
    how = (f"{split} split re-derived from {saved.name} (seed {cfg.seed}, test fraction {cfg.test_fraction}, "
           f"dedupe {cfg.dedupe})" if saved.is_file() else f"{split} split with the default recipe (no saved config)")
    return (table.head(limit) if limit else table), how


def mask_index(masks_dir: Path | None) -> dict[str, list[Path]]:
    """Image stem -> outline files found below ``masks_dir`` (empty without one: outlines sit beside images)."""
    index: dict[str, list[Path]] = {}
    for p in (masks_dir.rglob("*.png") if masks_dir else []):
        index.setdefault(p.stem, []).append(p)
    return index


def mask_for(path: Path, shape, masks_dir: Path | None, index: dict) -> np.ndarray | None:
    """The lesion outline of one image at its size (union of its outline files), or None when it has none."""
    candidates = list(path.parent.glob(f"{path.stem}_mask*.png")) if masks_dir is None else index.get(path.stem, [])
    if not candidates:
        return None
    mask = np.zeros(shape[:2], bool)
    for candidate in candidates:
        grey = cv2.imread(str(candidate), cv2.IMREAD_GRAYSCALE)
        if grey is not None:
            mask |= cv2.resize(grey, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST) > 127
    return mask


def write_explanations(served, folder: Path, images, masks, classes=None, method: str = "gradcam",
                       data: str = "test split", dry_run: bool = False, layer: str | None = None,
                       selection: dict | None = None) -> dict:
    """Compute a served model's ``explanations`` section, save its contact sheet and rewrite its card.

    Training can call this right after publishing (``load_model`` the new model, pass its test images).

    Args:
        served: the loaded ``core.serving.ServedModel``.
        folder: ``<models_dir>/<task>`` holding its card.
        images, masks, classes: test uploads, lesion masks (None where none), class to explain (None: predicted).
        method: the CAM method measured.
        data: words saying which images these are (goes into the card).
        dry_run: compute only; write nothing.
        layer: the feature map to explain (None: the automatic choice).
        selection: how ``layer`` was chosen (``core.explain.audit.layer_selection``), kept in the section.

    Returns:
        The section.
    """
    from core.explain.audit import explanation_section
    from core.serving import cards

    sheet = None if dry_run else folder / f"{served.name}.explanations.png"
    section = explanation_section(served, images, masks, method, sheet_path=sheet, data=data, classes=classes,
                                  layer=layer)
    if selection is not None:
        section["layer_selection"] = selection
    if not dry_run:
        card_path = folder / f"{served.name}{cards.CARD_SUFFIX}"
        card = cards.read_card(card_path)
        card["explanations"] = section
        cards.write_card(card, card_path)
    return section


def _lesion_images(table, masks_dir: Path | None):
    """Decoded images, lesion masks (None where none) and the class to explain of a split's table."""
    index = mask_index(masks_dir)
    images, masks, classes = [], [], []
    for path, label in zip(table["path"], table["label"]):
        image = load_image(path)
        mask = mask_for(Path(path), image.shape, masks_dir, index)
        images.append(image)
        masks.append(mask)
        # On a lesion image the lesion's class is explained; elsewhere what the app would show.
        classes.append(label if mask is not None and mask.any() else None)
    return images, masks, classes


def audit(cfg: AuditConfig) -> dict:
    """Audit the model of ``cfg`` on its test split and rewrite its card (unless ``dry_run``).

    Returns:
        The ``explanations`` section.
    """
    from core import paths
    from core.explain.audit import layer_selection
    from core.explain.explanation import card_layer
    from core.serving import load_model

    cfg.validate()
    served = load_model(cfg.task, cfg.model, cfg.models_dir)
    folder = Path(cfg.models_dir or paths.MODELS_DIR) / cfg.task
    masks_dir = Path(cfg.masks) if cfg.masks else None
    dataset = served.card["training_data"].get("dataset", "the dataset")
    layer, selection = cfg.layer, None
    if cfg.choose_layer:
        val, how = model_split(served, folder, cfg.data, None, split="val")
        selection = layer_selection(served, *_lesion_images(val, masks_dir), cfg.method, data=f"{dataset}: {how}")
        layer = selection["chosen"]
        log.info("Layer %s chosen on %d validation lesion images.", layer, selection["images"])
    elif layer is None and served.card.get("explanations", {}).get("layer"):
        layer = card_layer(served)
    table, how = model_split(served, folder, cfg.data, cfg.limit)
    images, masks, classes = _lesion_images(table, masks_dir)
    return write_explanations(served, folder, images, masks, classes, cfg.method, f"{dataset}: {how}",
                              cfg.dry_run, layer, selection)


def _summary(cfg: AuditConfig, section: dict) -> str:
    shortcut = section["shortcut_audit"]
    parts = [f"{section['images']} test images, layer {section['layer']} {section['layer_size']}"
             + (" (chosen on the validation split)" if "layer_selection" in section else "")]
    if "pointing_game" in section:
        parts.append(f"pointing game {section['pointing_game']:.0%} on {section['images_with_lesion_mask']} "
                     f"lesion masks, energy in mask {section['energy_in_mask']:.0%}, deletion AUC "
                     f"{section['deletion_auc']:.3f}, insertion AUC {section['insertion_auc']:.3f}")
    parts.append(f"heat off the anatomy {shortcut['energy_outside_anatomy']:.0%}"
                 + (" (FLAGGED)" if shortcut["flagged"] else ""))
    return "; ".join(parts)


def main(argv: Sequence[str] | None = None) -> dict:
    """Command-line entry: parse flags, audit, print the headline."""
    return run(AuditConfig, audit, argv, module=MODULE, description=__doc__.splitlines()[0], report=_summary)


if __name__ == "__main__":
    main()
