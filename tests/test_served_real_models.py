"""The served real-data models do on a fixed sample of their own test split what their cards say (realdata).

The test split is rebuilt from the training config saved beside each model (seed, fractions, copy grouping) on
the dataset in $MEDIMG_DATA, so these are images the model never trained on.
"""

from __future__ import annotations

import dataclasses
import json

import pytest

from core import paths
from core.data._images import load_image
from core.inference import load_model
from training import datasets
from training.cli import from_dict
from training.config import TrainConfig
from training.select_model import wilson_interval

#: Test images per task, every k-th of the sorted test split.
SAMPLE = 80


@pytest.mark.realdata
@pytest.mark.parametrize("task_id", ["brain_mri_4class", "brain_mri_binary", "breast_us"])
def test_the_served_model_answers_its_test_sample_as_its_card_says(real_data, task_id):
    model = load_model(task_id)
    card = model.card
    assert card["training_data"]["kind"] == "real"
    saved = json.loads((paths.MODELS_DIR / task_id / f"{model.name}.config.json").read_text())
    cfg = dataclasses.replace(from_dict(TrainConfig, {**saved, "data": str(real_data(task_id))}), resume=False)
    data = datasets.prepare_data(cfg.validate())
    assert data.split_sizes == card["split_sizes"]
    assert data.training_data["file_list_sha256"] == card["training_data"]["file_list_sha256"]
    test = data.splits["test"].sort_values("path").reset_index(drop=True)
    sample = test.iloc[:: max(1, len(test) // SAMPLE)].head(SAMPLE)
    results = model.predict_batch([load_image(p) for p in sample["path"]])
    refused = sum(r.out_of_distribution for r in results)
    correct = sum(r.top_class == label for r, label in zip(results, sample["label"]))
    assert refused <= 0.05 * len(sample)
    n = card["test_metrics"].get("n") or card["split_sizes"]["test"]
    low, _ = wilson_interval(round(card["test_metrics"]["accuracy"] * n), n)
    # a sample of 80 scatters around the card's figure: allow its own sampling spread below the card's interval
    assert correct / len(sample) >= low - 0.08, (correct, len(sample), low)
