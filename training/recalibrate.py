"""Refit a served classifier's temperature, conformal sets and OOD detector on its own splits.

    python -m training.recalibrate --task brain_mri_4class --model mobilenet_real --data $MEDIMG_DATA/brain_tumor_mri

The weights do not change. The splits are rebuilt from the training config saved beside the model
(``<name>.config.json``: seed, fractions, dedupe, limit) on the dataset folder given, and must give
the split sizes the card records, so temperature and conformal threshold are fitted on the same
validation images as in training and measured on the same test images. The new card keeps the
training command and records this command under ``recalibration``; it is published with a new OOD
file and figures as one set (``training.publish``), so a failure leaves the previous card served.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from core import paths
from core.serving import conformal
from core.serving.cards import read_card
from core.serving.served import load_model
from training import datasets, publish, scoring
from training.cli import from_dict, run
from training.config import ConfigError, TrainConfig, _opt
from training.train_classifier import score_splits, upload_features

log = logging.getLogger(__name__)
MODULE = "training.recalibrate"

#: Card keys the publication rewrites (the rest is carried over unchanged).
REWRITTEN = ("keras_file", "sha256", "ood", "plots")


@dataclass
class RecalibrateConfig:
    """Which served model to recalibrate, on which dataset folder."""

    task: str = _opt(None, "task id from core.tasks")
    model: str = _opt(None, "served model name (its <name>.config.json must sit beside its card)")
    data: str = _opt(None, "the dataset folder the model was trained on (any path; $MEDIMG_DATA/... for real data)")
    models_dir: str | None = _opt(None, "served models root (default: core.paths.MODELS_DIR)")
    level: float = _opt(conformal.DEFAULT_LEVEL, "coverage of the conformal prediction sets")
    ood: bool = _opt(True, "refit the out-of-distribution detector (else the model is served without one)")

    def validate(self) -> RecalibrateConfig:
        """Check the values a recalibration cannot start with; returns self."""
        if not self.task or not self.model or not self.data:
            raise ConfigError("Pass --task, --model (a served model name) and --data (its dataset folder).")
        if not Path(self.data).is_dir():
            raise ConfigError(f"The dataset folder {self.data} does not exist; pass the folder the model was "
                              "trained on.")
        if not 0 < self.level < 1:
            raise ConfigError(f"--level must lie strictly between 0 and 1, got {self.level}.")
        return self


def training_config(cfg: RecalibrateConfig, folder: Path) -> TrainConfig:
    """The model's saved training config, pointed at ``cfg.data``.

    Raises:
        ConfigError: no ``<name>.config.json`` beside the card.
    """
    path = folder / f"{cfg.model}.config.json"
    if not path.is_file():
        raise ConfigError(f"{path.name} is not beside the model's card, so its splits cannot be rebuilt; "
                          "retrain the model with python -m training.train_classifier instead.")
    saved = json.loads(path.read_text(encoding="utf-8"))
    train_cfg = from_dict(TrainConfig, {**saved, "data": cfg.data, "models_dir": str(folder.parent), "resume": False})
    return dataclasses.replace(train_cfg, ood=cfg.ood).validate()


def recalibrate(cfg: RecalibrateConfig, command: str | None = None) -> dict:
    """Refit and republish; returns the new card's calibration, conformal and ood sections.

    Raises:
        ConfigError: the rebuilt splits differ from the card's (another dataset folder).
        core.serving.ServingError: the served model fails its checks.
    """
    root = Path(cfg.models_dir) if cfg.models_dir else paths.MODELS_DIR
    served = load_model(cfg.task, cfg.model, root, warm_up=False)
    folder, card = root / served.task.id, served.card
    train_cfg = training_config(cfg, folder)
    data = datasets.prepare_data(train_cfg)
    if data.split_sizes != card["split_sizes"]:
        raise ConfigError(f"The splits rebuilt from {cfg.data} ({data.split_sizes}) differ from those in the card "
                          f"({card['split_sizes']}); pass the dataset folder the model was trained on.")
    scored, _ = score_splits(train_cfg, served.keras_model, data)
    classes = list(served.class_names)
    calib, report, before, after = scoring.calibrated_report(scored["val"], scored["test"], classes)
    sets = scoring.conformal_report(scored["val"], scored["test"], calib["temperature"], cfg.level)
    fitter = None
    if cfg.ood:
        def fitter(path: Path) -> dict | None:
            probe = upload_features(train_cfg, served.keras_model)
            return publish.fit_ood(scored["train"], scored["val"], path, probe=probe, test=scored["test"],
                                   task_id=served.task.id)
    fields = {k: v for k, v in card.items() if k not in REWRITTEN}
    fields.update(calibration=calib, test_metrics=report, conformal=sets, recalibration={
        "command": command or f"python -m {MODULE} --task {cfg.task} --model {cfg.model} --data {cfg.data}",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "data_root": datasets.portable_path(cfg.data)})
    with tempfile.TemporaryDirectory() as tmp:
        figures = {name: folder / file for name, file in (card.get("plots") or {}).items()}
        figures.update(scoring.write_plots(Path(tmp), classes, scored["test"]["y"], after, before))
        card_path = publish.publish(None, folder, cfg.model, fields, fitter, keep_weights=card["keras_file"],
                                    figures=figures)
    new = read_card(card_path)
    return {"card_file": str(card_path), "calibration": new["calibration"], "conformal": new.get("conformal"),
            "ood": new["ood"]}


def _summary(cfg: RecalibrateConfig, result: dict) -> str:
    calib, sets = result["calibration"], result["conformal"]
    conformal_text = (f"conformal {sets['level']:.0%} sets: coverage {sets['test_coverage']:.3f}, mean size "
                      f"{sets['test_mean_set_size']:.2f}") if sets else "no conformal sets (too few validation images)"
    return (f"{cfg.task}/{cfg.model}: T={calib['temperature']:.3f}, ECE {calib['ece_after']:.3f} on test; "
            f"{conformal_text}; OOD {'refitted' if result['ood'] else 'none'}; card: {result['card_file']}")


def main(argv: Sequence[str] | None = None) -> dict:
    """Command-line entry: parse flags, recalibrate, print the new figures."""
    return run(RecalibrateConfig, recalibrate, argv, module=MODULE,
               description="Refit temperature, conformal sets and OOD detector of a served model.", report=_summary)


if __name__ == "__main__":
    main()
