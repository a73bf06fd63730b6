"""The DCGAN augmentation experiment: k-fold CV x seeds, generators trained inside each fold, a paired verdict."""

from __future__ import annotations

import dataclasses
import json

import pandas as pd
import pytest

from training.config import ConfigError, TrainConfig
from training.gan_augment_experiment import AUGMENTED, CONTROL, REAL, synthetic_counts
from training.gan_config import GanExperimentConfig
from training.gan_stats import paired_comparison, verdict

TASK = "brain_mri_binary"


def _experiment(phantom_dataset, tiny, **overrides) -> GanExperimentConfig:
    train = TrainConfig(task=TASK, data=str(phantom_dataset(TASK)), model="small_cnn", run="gan_aug")
    cfg = tiny(GanExperimentConfig(train=train), n_per_class=4, folds=2, seeds=1, gan_epochs=1, gan_size=32,
               gan_batch_size=8)
    return dataclasses.replace(cfg, **overrides)


def test_each_fold_pairs_both_arms_on_its_real_test_images_and_its_generators_see_only_its_training_part(
        phantom_dataset, tiny, tmp_path):
    from training.gan_augment_experiment import run_experiment

    cfg = _experiment(phantom_dataset, tiny, results=str(tmp_path / "results"))
    result = run_experiment(cfg, command="python -m training.gan_augment_experiment --task brain_mri_binary")

    saved = json.loads((tmp_path / "results" / f"{TASK}_add.json").read_text())
    assert saved["folds"] == 2 and saved["seeds"] == [42] and saved["complete"]
    assert {"mean_difference", "ci95", "p_value", "data_digest", "command", "per_fold"} <= saved.keys()
    assert saved["verdict"] == result["verdict"] and len(saved["ci95"]) == 2
    for fold in saved["per_fold"]:
        run = fold["runs"][0]
        assert 0 <= run[REAL]["accuracy"] <= 1 and 0 <= run[AUGMENTED]["accuracy"] <= 1
        assert {"sensitivity (yes)", "sensitivity (no)"} <= run[REAL].keys()
        assert 0 <= run[CONTROL]["accuracy"] <= 1  # the duplicated-real control arm, same fold and seed
    control = saved["control"]
    assert control["arm"] == CONTROL and control["extra_per_class"] == {"no": 4, "yes": 4}
    assert "more than as many duplicated real images" in control["verdict"]["sentence"]
    report = (tmp_path / "results" / f"{TASK}_add.md").read_text()
    assert result["verdict"]["sentence"] in report and "What was run:** 2 of 2 folds x 1 seed(s)" in report
    assert control["verdict"]["sentence"] in report

    test_images = []
    for k in (1, 2):
        real = pd.read_csv(tmp_path / "report" / f"fold_{k}" / "real" / "seed_42" / "splits.csv")
        augmented = pd.read_csv(tmp_path / "report" / f"fold_{k}" / "augmented" / "seed_42" / "splits.csv")
        synthetic = augmented[augmented["path"].str.contains("/syn_")]
        assert set(synthetic["split"]) == {"train"} and len(synthetic) == 8  # 4 per class, training only
        for split in ("val", "test"):  # the same real images score both arms
            same = sorted(augmented[augmented["split"] == split]["path"])
            assert sorted(real[real["split"] == split]["path"]) == same
        test_images.append(set(real[real["split"] == "test"]["path"]))
        duplicated = pd.read_csv(tmp_path / "report" / f"fold_{k}" / "control" / "seed_42" / "splits.csv")
        real_train, dup_train = real[real["split"] == "train"], duplicated[duplicated["split"] == "train"]
        assert len(dup_train) == len(real_train) + 8 and set(dup_train["path"]) == set(real_train["path"])
        assert (dup_train["label"].value_counts() - real_train["label"].value_counts()).to_dict() == {"no": 4, "yes": 4}
        for class_id in ("no", "yes"):  # each generator learnt from exactly its fold's training images
            card = json.loads((tmp_path / "report" / "generators" / f"fold_{k}" / f"{class_id}.card.json").read_text())
            assert card["n_real_images"] == int((real[real["split"] == "train"]["label"] == class_id).sum())
    assert not test_images[0] & test_images[1]  # folds test disjoint images


def test_generators_of_a_fold_are_reused_by_a_second_mode_with_the_same_fold_images(phantom_dataset, tiny, tmp_path,
                                                                                     caplog):
    from training.gan_augment_experiment import run_experiment

    cache = tmp_path / "gans"
    run_experiment(_experiment(phantom_dataset, tiny, gan_cache=str(cache), folds_run=1))
    before = {p.name: p.stat().st_mtime_ns for p in (cache / "fold_1").glob("*.keras")}
    caplog.set_level("INFO")
    run_experiment(_experiment(phantom_dataset, tiny, gan_cache=str(cache), folds_run=1, n_per_class=2,
                               out=str(tmp_path / "second")))
    assert {p.name: p.stat().st_mtime_ns for p in (cache / "fold_1").glob("*.keras")} == before
    assert "Reusing the 'yes' generator" in caplog.text


def test_the_paired_comparison_gives_the_mean_difference_its_95_ci_and_paired_tests():
    from scipy import stats

    real, augmented = [0.80, 0.82, 0.78, 0.85, 0.81], [0.83, 0.84, 0.80, 0.86, 0.85]
    c = paired_comparison(real, augmented)
    diffs = [b - a for a, b in zip(real, augmented)]
    assert c["n_pairs"] == 5 and c["mean_difference"] == pytest.approx(sum(diffs) / 5)
    assert c["ci95"][0] < c["mean_difference"] < c["ci95"][1]
    assert c["p_value"] == pytest.approx(stats.ttest_rel(augmented, real).pvalue)
    assert c["p_value_wilcoxon"] == pytest.approx(stats.wilcoxon(diffs).pvalue)
    assert paired_comparison([0.9], [0.8])["ci95"] is None  # one fold: no interval


@pytest.mark.parametrize("real, augmented, outcome, phrase", [
    ([0.80, 0.82, 0.78, 0.85, 0.81], [0.83, 0.84, 0.80, 0.86, 0.85], "improved", "Synthetic augmentation helps"),
    ([0.80, 0.82, 0.78, 0.85, 0.81], [0.82, 0.80, 0.79, 0.84, 0.82], "no_improvement", "does NOT help the classifier:"),
    ([0.90, 0.92, 0.88, 0.91, 0.93], [0.80, 0.83, 0.79, 0.82, 0.84], "worse", "it hurts it"),
])
def test_the_verdict_says_helps_only_when_the_whole_interval_is_above_zero(real, augmented, outcome, phrase):
    result = verdict(paired_comparison(real, augmented))
    assert result["outcome"] == outcome and phrase in result["sentence"]
    assert "points accuracy (95 % CI" in result["sentence"]


@pytest.mark.parametrize("control, augmented, phrase", [
    ([0.80, 0.82, 0.78, 0.85, 0.81], [0.83, 0.84, 0.80, 0.86, 0.85], "help the classifier more than"),
    ([0.80, 0.82, 0.78, 0.85, 0.81], [0.82, 0.80, 0.79, 0.84, 0.82], "do NOT help the classifier more than"),
    ([0.90, 0.92, 0.88, 0.91, 0.93], [0.80, 0.83, 0.79, 0.82, 0.84], "help the classifier LESS than"),
])
def test_against_the_control_the_verdict_names_what_synthetic_images_were_compared_with(control, augmented, phrase):
    sentence = verdict(paired_comparison(control, augmented), versus="as many duplicated real images")["sentence"]
    assert f"{phrase} as many duplicated real images" in sentence


def test_balance_tops_every_class_up_to_the_largest_and_add_adds_the_same_to_each():
    train = pd.DataFrame({"label": ["benign"] * 10 + ["malignant"] * 4 + ["normal"] * 7})
    classes = ("benign", "malignant", "normal")
    assert synthetic_counts("balance", train, classes, 100) == {"malignant": 6, "normal": 3}
    assert synthetic_counts("add", train, classes, 5) == {"benign": 5, "malignant": 5, "normal": 5}
    with pytest.raises(ConfigError, match="already balanced"):
        synthetic_counts("balance", pd.DataFrame({"label": ["benign", "malignant", "normal"]}), classes, 1)


@pytest.mark.parametrize("overrides, message", [
    ({"seeds": 0}, "seeds must be at least 1"),
    ({"folds": 1}, "folds must be at least 2"),
    ({"folds": 5, "folds_run": 6}, "cannot exceed folds"),
    ({"mode": "double"}, "mode must be one of"),
    ({"n_per_class": 0}, "n_per_class must be at least 1"),
])
def test_an_experiment_config_it_cannot_run_is_refused(overrides, message):
    cfg = GanExperimentConfig(train=TrainConfig(task=TASK, data="somewhere"), **overrides)
    with pytest.raises(ConfigError, match=message):
        cfg.validate()
