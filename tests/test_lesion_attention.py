"""Outline-guided fine-tuning: a served model learns to look inside the lesion and is published beside its parent."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf

from training.config import ConfigError, TrainConfig
from training.lesion_attention import LesionAttentionConfig, outside_share

TASK = "breast_us"


def _share(energy: np.ndarray, outline: np.ndarray, has_lesion=(1.0,)) -> float:
    fmap = tf.constant(energy[None, :, :, None].astype(np.float32))
    masks = tf.constant(outline[None, :, :, None].astype(np.float32))
    return float(outside_share(fmap, masks, tf.constant(has_lesion, tf.float32)))


def test_the_penalty_is_the_share_of_activation_outside_the_outline():
    outline = np.zeros((32, 32))
    outline[8:16, 8:16] = 1
    on_lesion, off_lesion = np.zeros((8, 8)), np.zeros((8, 8))
    on_lesion[2:4, 2:4] = 1.0  # the outline's cells on the 8 x 8 map
    off_lesion[6:, 6:] = 1.0  # the far corner
    assert _share(on_lesion, outline) == pytest.approx(0.0, abs=1e-6)
    assert _share(off_lesion, outline) == pytest.approx(1.0, abs=1e-6)
    assert _share(on_lesion + off_lesion, outline) == pytest.approx(0.5, abs=1e-6)


def test_images_without_an_outline_add_no_penalty():
    assert _share(np.ones((8, 8)), np.zeros((32, 32)), has_lesion=(0.0,)) == 0.0


@pytest.fixture(scope="module")
def parent(phantom_dataset, tmp_path_factory):
    """A small CNN trained on breast phantoms (whose lesions have outlines), served from a temporary folder."""
    from tests.conftest import _tiny_train
    from training.train_classifier import train

    tmp = tmp_path_factory.mktemp("lesion")
    root = phantom_dataset(TASK, per_class=10, size=64)
    cfg = _tiny_train(TrainConfig(task=TASK, data=str(root), run="parent", limit=None), tmp)
    train(cfg)
    return root, tmp / "models", tmp / "runs"


def test_the_guided_model_is_published_beside_its_parent_and_tested_on_the_same_images(parent):
    from core.serving import cards, load_model
    from training import lesion_attention

    root, models, runs = parent
    result = lesion_attention.main(["--task", TASK, "--model", "parent", "--data", str(root),
                                    "--models-dir", str(models), "--epochs", "2", "--batch-size", "8",
                                    "--runs-dir", str(runs / "parent_lesion")])
    folder = models / TASK
    card = cards.read_card(folder / "parent_lesion.card.json")
    parent_card = cards.read_card(folder / "parent.card.json")
    section = card["fine_tuning"]
    assert section["parent"] == "parent" and section["parent_sha256"] == parent_card["sha256"]
    assert section["outlined_training_images"] > 0 and 1 <= section["epoch_kept"] <= 2
    assert section["epoch_kept_by"] == "lowest validation cross-entropy"
    assert card["split_sizes"] == parent_card["split_sizes"]  # the parent's split recipe, so its test images
    assert card["training_data"]["file_list_sha256"] == parent_card["training_data"]["file_list_sha256"]
    assert card["test_metrics"]["accuracy"] == pytest.approx(result["accuracy"])
    saved = json.loads((folder / "parent_lesion.config.json").read_text())
    assert saved["run"] == "parent_lesion"  # recalibrate and the audits rebuild the same splits from it
    assert load_model(TASK, "parent_lesion", models_dir=models).card["sha256"] != parent_card["sha256"]


def test_the_parent_and_the_guided_model_can_be_ranked_by_select_model(parent, tmp_path):
    from training import lesion_attention, select_model

    root, models, runs = parent
    lesion_attention.main(["--task", TASK, "--model", "parent", "--data", str(root), "--models-dir", str(models),
                           "--epochs", "1", "--batch-size", "8", "--run", "guided", "--runs-dir", str(runs / "guided")])
    report = select_model.main(["--task", TASK, "--runs", f"{runs / 'parent'},{runs / 'guided'}",
                                "--out", str(tmp_path)])
    assert {r["run"] for r in report["candidates"]} == {"parent", "guided"}
    assert all(r["val_log_loss"] > 0 for r in report["candidates"])


def test_a_parent_without_its_split_recipe_is_refused(parent, tmp_path):
    from training.lesion_attention import parent_config

    with pytest.raises(ConfigError, match="split recipe"):
        parent_config(LesionAttentionConfig(task=TASK, model="parent", data="x"), tmp_path)


@pytest.mark.parametrize("overrides, message", [
    ({"model": None}, "Pass --task, --model"),
    ({"weight": -1.0}, "--weight must be >= 0"),
    ({"keep_by": "accuracy"}, "--keep-by must be"),
])
def test_bad_settings_are_refused_before_anything_runs(overrides, message):
    cfg = LesionAttentionConfig(task=TASK, model="m", data="d")
    for key, value in overrides.items():
        setattr(cfg, key, value)
    with pytest.raises(ConfigError, match=message):
        cfg.validate()
