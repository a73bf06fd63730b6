"""The DCGAN augmentation experiment: both arms on one split, synthetic images in training only, a plain verdict."""

from __future__ import annotations

import dataclasses
import json

import pandas as pd
import pytest

from training.config import ConfigError, TrainConfig
from training.gan_augment_experiment import REAL, AUGMENTED, synthetic_counts, verdict
from training.gan_config import GanExperimentConfig

TASK = "brain_mri_binary"


def _experiment(phantom_dataset, tiny, **overrides) -> GanExperimentConfig:
    train = TrainConfig(task=TASK, data=str(phantom_dataset(TASK)), model="small_cnn", run="gan_aug")
    cfg = tiny(GanExperimentConfig(train=train), n_per_class=4, seeds=2, train_gans=True, gan_epochs=1,
               gan_size=32, gan_batch_size=8)
    return dataclasses.replace(cfg, **overrides)


def test_the_experiment_compares_both_arms_on_the_same_real_test_images(phantom_dataset, tiny, tmp_path):
    from training.gan_augment_experiment import run_experiment

    result = run_experiment(_experiment(phantom_dataset, tiny))

    report = (tmp_path / "report" / "experiment.md").read_text()
    assert result["verdict"]["sentence"] in report
    assert result["verdict"]["sentence"].startswith("Synthetic augmentation ")
    assert ("did NOT improve" in report) == (result["verdict"]["outcome"] != "improved")
    assert f"| metric | {REAL} | {AUGMENTED} |" in report
    for row in ("accuracy", "precision (macro)", "recall (macro)", "F1 (macro)", "loss (test log loss)",
                "sensitivity (yes)", "specificity (no)"):
        assert f"| {row} |" in report
    saved = json.loads((tmp_path / "report" / "experiment.json").read_text())
    assert saved["verdict"] == result["verdict"] and result["seeds"] == [42, 43]
    for arm in (REAL, AUGMENTED):
        accuracy = result["arms"][arm]["summary"]["accuracy"]
        assert accuracy["n"] == 2 and 0 <= accuracy["mean"] <= 1 and accuracy["std"] >= 0
    diff = (result["arms"][AUGMENTED]["summary"]["accuracy"]["mean"]
            - result["arms"][REAL]["summary"]["accuracy"]["mean"])
    assert result["verdict"]["difference"] == pytest.approx(diff)

    for seed in result["seeds"]:
        real = pd.read_csv(tmp_path / "report" / "real" / f"seed_{seed}" / "splits.csv")
        augmented = pd.read_csv(tmp_path / "report" / "augmented" / f"seed_{seed}" / "splits.csv")
        synthetic = augmented[augmented["path"].str.contains("/syn_")]
        assert set(synthetic["split"]) == {"train"} and len(synthetic) == 8  # 4 per class, training only
        for split in ("val", "test"):  # the same real images score both arms
            assert sorted(real[real["split"] == split]["path"]) == sorted(augmented[augmented["split"] == split]["path"])
    # Generators were trained here on the experiment's own training split.
    for class_id in ("no", "yes"):
        card = json.loads((tmp_path / "report" / "generators" / f"{class_id}.card.json").read_text())
        assert card["training_data"]["split"] == {"used": "given table"}
        assert card["n_real_images"] == int((real[real["split"] == "train"]["label"] == class_id).sum())


def test_without_trained_generators_the_experiment_says_which_script_to_run(phantom_dataset, tiny, tmp_path):
    from training.gan_augment_experiment import run_experiment

    cfg = _experiment(phantom_dataset, tiny, train_gans=False, generators=str(tmp_path / "none"))
    with pytest.raises(ConfigError, match="training.train_gan"):
        run_experiment(cfg)
    assert not (tmp_path / "report" / "real").exists()  # refused before any classifier was trained


@pytest.mark.parametrize("real, augmented, outcome, phrase", [
    ((0.91, 0.02), (0.90, 0.03), "no_improvement", "did NOT improve accuracy: real-only 0.910 +- 0.020 vs "
                                                   "real+synthetic 0.900 +- 0.030 (difference -0.010, within one"),
    ((0.91, 0.02), (0.93, 0.03), "no_improvement", "did NOT improve"),
    ((0.90, 0.01), (0.95, 0.02), "improved", "Synthetic augmentation improved accuracy"),
    ((0.95, 0.01), (0.80, 0.02), "worse", "did NOT improve accuracy; it made it worse"),
])
def test_the_verdict_calls_a_gain_within_the_noise_no_improvement(real, augmented, outcome, phrase):
    result = verdict({"mean": real[0], "std": real[1]}, {"mean": augmented[0], "std": augmented[1]})
    assert result["outcome"] == outcome
    assert phrase in result["sentence"]


def test_balance_tops_every_class_up_to_the_largest_and_add_adds_the_same_to_each():
    train = pd.DataFrame({"label": ["benign"] * 10 + ["malignant"] * 4 + ["normal"] * 7})
    classes = ("benign", "malignant", "normal")
    assert synthetic_counts("balance", train, classes, 100) == {"malignant": 6, "normal": 3}
    assert synthetic_counts("add", train, classes, 5) == {"benign": 5, "malignant": 5, "normal": 5}
    with pytest.raises(ConfigError, match="already balanced"):
        synthetic_counts("balance", pd.DataFrame({"label": ["benign", "malignant", "normal"]}), classes, 1)


@pytest.mark.parametrize("overrides, message", [
    ({"seeds": 1}, "seeds must be at least 2"),
    ({"mode": "double"}, "mode must be one of"),
    ({"n_per_class": 0}, "n_per_class must be at least 1"),
])
def test_an_experiment_config_it_cannot_run_is_refused(overrides, message):
    cfg = GanExperimentConfig(train=TrainConfig(task=TASK, data="somewhere"), **overrides)
    with pytest.raises(ConfigError, match=message):
        cfg.validate()


@pytest.mark.slow
def test_balance_mode_with_three_seeds_tops_up_the_minority_classes_end_to_end(tiny, tmp_path):
    """BUSI-like imbalance (the ultrasound thesis' setting), the default three seeds, generators trained here."""
    from core.phantoms import write_dataset
    from tests.conftest import PHANTOM_SEED
    from training.gan_augment_experiment import run_experiment

    root = write_dataset("breast_us", tmp_path / "busi", per_class={"benign": 16, "malignant": 8, "normal": 6},
                         seed=PHANTOM_SEED, size=48)
    train = TrainConfig(task="breast_us", data=str(root), model="small_cnn", run="gan_balance")
    cfg = dataclasses.replace(tiny(GanExperimentConfig(train=train)), mode="balance", train_gans=True,
                              gan_epochs=2, gan_size=32, gan_batch_size=8)
    cfg.train.limit = None  # keep the imbalance

    result = run_experiment(cfg)

    counts = result["synthetic_per_class"]
    assert set(counts) == {"malignant", "normal"} and min(counts.values()) > 0  # benign is the largest class
    assert result["seeds"] == [42, 43, 44] and not any("Only" in w for w in result["warnings"])
    augmented = pd.read_csv(tmp_path / "report" / "augmented" / "seed_42" / "splits.csv")
    train_counts = augmented[augmented["split"] == "train"]["label"].value_counts()
    assert train_counts["benign"] == train_counts["malignant"] == train_counts["normal"]
    assert "Synthetic augmentation" in (tmp_path / "report" / "experiment.md").read_text()
