"""Recalibrating a served model refits its confidence and its guard on its own splits, weights untouched."""

from __future__ import annotations

import numpy as np
import pytest

from core.serving.cards import read_card
from core.serving.served import load_model
from training.config import ConfigError, TrainConfig
from training.recalibrate import RecalibrateConfig, recalibrate
from training.train_classifier import train


@pytest.fixture
def trained(phantom_dataset, tiny):
    data = phantom_dataset("brain_mri_binary", per_class=24)
    cfg = tiny(TrainConfig(task="brain_mri_binary", data=str(data), run="recal"), limit=24, val_fraction=0.4,
               test_fraction=0.3)
    metrics = train(cfg)
    return cfg, metrics


def test_recalibration_refits_temperature_conformal_sets_and_ood_and_records_its_command(trained):
    cfg, metrics = trained
    before = read_card(metrics["card_file"])
    result = recalibrate(RecalibrateConfig(task=cfg.task, model="recal", data=cfg.data, models_dir=cfg.models_dir),
                         command="python -m training.recalibrate --task brain_mri_binary --model recal --data D")
    after = read_card(result["card_file"])
    assert after["sha256"] == before["sha256"] and after["keras_file"] == before["keras_file"]
    assert after["command"] == before["command"]  # how the weights were made does not change
    assert after["recalibration"]["command"].startswith("python -m training.recalibrate")
    assert after["conformal"]["level"] == 0.9 and 0 <= after["conformal"]["test_coverage"] <= 1
    assert after["ood"]["file"] != before["ood"]["file"] and after["ood"]["sha256"]
    served = load_model(cfg.task, "recal", cfg.models_dir, warm_up=False)
    assert len(served.predict(np.zeros((48, 48, 3), np.uint8)).prediction_set) >= 1


def test_recalibration_on_another_dataset_folder_is_refused_plainly(trained, phantom_dataset):
    cfg, _ = trained
    other = phantom_dataset("brain_mri_binary", per_class=8)
    with pytest.raises(ConfigError, match="differ from those in the card"):
        recalibrate(RecalibrateConfig(task=cfg.task, model="recal", data=str(other), models_dir=cfg.models_dir))
