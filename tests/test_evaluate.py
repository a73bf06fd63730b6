"""Evaluating a model on a dataset folder: the numbers are scikit-learn's, the reports are written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support, roc_auc_score

from training.config import EvaluateConfig, TrainConfig

TASK = "brain_mri_4class"


@pytest.fixture(scope="module")
def trained(phantom_dataset, tmp_path_factory):
    """A small CNN trained for one epoch on 4-class phantoms, served from a temporary models folder."""
    from tests.conftest import _tiny_train
    from training.train_classifier import train

    tmp = tmp_path_factory.mktemp("evaluate")
    root = phantom_dataset(TASK)
    cfg = _tiny_train(TrainConfig(task=TASK, data=str(root), run="eval_cnn"), tmp)
    metrics = train(cfg)
    return root, tmp / "models", metrics


def test_metrics_equal_scikit_learn_on_the_models_own_predictions(trained, tmp_path):
    from core.data import load_arrays, read_dataset
    from core.inference import load_model
    from core.serving.calibration import apply_temperature
    from training.evaluate import evaluate

    root, models, _ = trained
    result = evaluate(EvaluateConfig(task=TASK, data=str(root), model="eval_cnn", models_dir=str(models),
                                     out=str(tmp_path / "eval"), latency_samples=3))

    served = load_model(TASK, "eval_cnn", models)
    X, y = load_arrays(read_dataset(root, TASK), TASK, served.input_size)
    logits, _ = served.logits_and_features(X)
    prob = apply_temperature(logits, served.temperature)
    pred = prob.argmax(axis=1)
    precision, recall, f1, support = precision_recall_fscore_support(y, pred, labels=range(4), zero_division=0)
    assert result["n"] == len(y) == 32
    assert result["accuracy"] == pytest.approx(accuracy_score(y, pred))
    assert result["confusion_matrix"] == confusion_matrix(y, pred, labels=range(4)).tolist()
    for i, name in enumerate(served.class_names):
        row = result["per_class"][name]
        assert (row["precision"], row["recall"], row["f1"], row["support"]) == pytest.approx(
            (precision[i], recall[i], f1[i], support[i]))
        assert row["roc_auc"] == pytest.approx(roc_auc_score(y == i, prob[:, i]))
    assert result["macro"]["f1"] == pytest.approx(f1.mean())
    assert result["weighted"]["f1"] == pytest.approx(np.average(f1, weights=support))
    assert result["params"] == served.keras_model.count_params()
    lat = result["latency_ms"]
    assert lat["n"] == 3 and 0 < lat["min_ms"] <= lat["mean_ms"] <= lat["max_ms"]


def test_the_report_is_written_as_json_markdown_and_plots(trained, tmp_path):
    from training.evaluate import main

    root, models, _ = trained
    out = tmp_path / "report"
    result = main(["--task", TASK, "--data", str(root), "--model", "eval_cnn", "--models-dir", str(models),
                   "--out", str(out), "--split", "test", "--latency-samples", "2"])
    assert result["n"] == 8  # only the published Testing/ folder: 2 of every 8 images per class
    markdown = (out / "report.md").read_text()
    assert "| Glioma |" in markdown and "latency per image" in markdown and f"{result['params']:,}" in markdown
    for name in ("report.json", "confusion_matrix.png", "roc.png", "reliability.png"):
        assert (out / name).stat().st_size > 0


def test_a_keras_file_outside_the_models_folder_is_evaluated_with_its_card(trained, tmp_path):
    from core.inference import ModelIntegrityError
    from training.evaluate import evaluate

    root, models, _ = trained
    elsewhere = tmp_path / "shared"
    elsewhere.mkdir()
    card = json.loads((models / TASK / "eval_cnn.card.json").read_text())
    shutil.copy(models / TASK / card["keras_file"], elsewhere / "copy.keras")
    shutil.copy(models / TASK / "eval_cnn.card.json", elsewhere / "copy.card.json")
    cfg = EvaluateConfig(task=TASK, data=str(root), model=str(elsewhere / "copy.keras"), out=str(tmp_path / "e"),
                         latency_samples=1, split="test")
    result = evaluate(cfg)
    assert result["model"] == "eval_cnn" and result["n"] == 8  # the card names the model, whatever the file name
    with open(elsewhere / "copy.keras", "ab") as fh:
        fh.write(b"tampered")
    with pytest.raises(ModelIntegrityError, match="does not match the sha256"):
        evaluate(cfg)


def test_asking_for_the_published_test_folder_of_a_dataset_without_one_is_explained(trained, phantom_dataset,
                                                                                     tmp_path):
    from core.data import DatasetError
    from training.evaluate import evaluate

    _, models, _ = trained
    flat = tmp_path / "flat"
    for cls_dir in (Path(phantom_dataset(TASK)) / "Training").iterdir():
        shutil.copytree(cls_dir, flat / cls_dir.name)
    with pytest.raises(DatasetError, match="published Testing folder"):
        evaluate(EvaluateConfig(task=TASK, data=str(flat), model="eval_cnn", models_dir=str(models),
                                split="test", out=str(tmp_path / "e")))
