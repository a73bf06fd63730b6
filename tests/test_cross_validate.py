"""k-fold cross-validation: fresh model per fold, subject-grouped folds, mean +- std reported."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from training.config import CrossValidateConfig, TrainConfig


def test_three_folds_on_cnmc_keep_every_subject_on_one_side_and_report_mean_and_std(phantom_dataset, tiny):
    from training.cross_validate import cross_validate

    root = phantom_dataset("blood_smear")
    cfg = tiny(CrossValidateConfig(train=TrainConfig(task="blood_smear", data=str(root)), folds=3), folds=3)
    cfg.train.val_fraction = 0.5  # two subjects per class remain for train + val inside a fold
    result = cross_validate(cfg)

    assert result["folds"] == 3 and len(result["fold_metrics"]) == 3 and result["grouped_by_subject"]
    accuracies = [m["accuracy"] for m in result["fold_metrics"]]
    assert result["accuracy_mean"] == pytest.approx(np.mean(accuracies))
    assert result["accuracy_std"] == pytest.approx(np.std(accuracies, ddof=1))
    assert result["summary"]["macro_f1"]["n"] == 3

    out = Path(cfg.out)
    tested = []
    for fold in range(1, 4):
        splits = pd.read_csv(out / f"fold_{fold:02d}" / "splits.csv", dtype={"subject": str})
        test_subjects = set(splits.loc[splits["split"] == "test", "subject"])
        fit_subjects = set(splits.loc[splits["split"] != "test", "subject"])
        assert test_subjects and not test_subjects & fit_subjects
        tested += splits.loc[splits["split"] == "test", "path"].tolist()
    assert sorted(tested) == sorted(set(tested)) and len(tested) == 16  # every image tested exactly once

    assert not Path(cfg.train.models_dir).exists()  # folds are never served
    assert json.loads((out / "cv.json").read_text())["accuracy_mean"] == result["accuracy_mean"]
    assert "mean +- std" in (out / "cv.md").read_text()


def test_the_summary_skips_folds_where_a_metric_is_undefined():
    from training.cross_validate import summarise

    def fold(acc, auc):
        report = {"macro": {"precision": 0.5, "recall": 0.5, "specificity": 0.5, "f1": acc, "roc_auc": auc},
                  "weighted": {"f1": acc}}
        return {"accuracy": acc, "test": report, "calibration": {"ece_after": 0.1},
                "latency_ms": {"mean_ms": 2.0}, "train_seconds": 1.0}

    summary = summarise([fold(0.6, 0.7), fold(0.8, None), fold(1.0, 0.9)])
    assert summary["accuracy"] == pytest.approx({"mean": 0.8, "std": 0.2, "min": 0.6, "max": 1.0, "n": 3})
    assert summary["macro_roc_auc"]["n"] == 2 and summary["macro_roc_auc"]["mean"] == pytest.approx(0.8)


def test_more_folds_than_subjects_per_class_is_refused_with_the_reason(phantom_dataset, tiny):
    from core.data import DatasetError
    from training.cross_validate import cross_validate

    cfg = tiny(CrossValidateConfig(train=TrainConfig(task="blood_smear", data=str(phantom_dataset("blood_smear")))),
               folds=5)
    with pytest.raises(DatasetError, match="Too few subjects per class"):
        cross_validate(cfg)
