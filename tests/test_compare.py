"""Comparing backbones: one row per model, trained and tested on the same split."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from training.config import CompareConfig, ConfigError, TrainConfig


def test_compare_gives_one_row_per_model_with_the_papers_columns(phantom_dataset, tiny):
    from training.compare import compare

    root = phantom_dataset("brain_mri_binary")
    cfg = tiny(CompareConfig(train=TrainConfig(task="brain_mri_binary", data=str(root)),
                             models=["small_cnn", "cnn_lstm"]))
    table = compare(cfg)

    assert table["model"].tolist() == ["small_cnn", "cnn_lstm"]
    assert table["accuracy"].between(0, 1).all() and table["macro_f1"].between(0, 1).all()
    assert (table["params"] > 0).all() and (table["train_seconds"] > 0).all()
    assert (table["inference_mean_ms"] > 0).all()
    assert table.loc[0, "params"] != table.loc[1, "params"]  # two different architectures were built

    files = table.attrs["files"]
    assert pd.read_csv(files["csv"])["model"].tolist() == ["small_cnn", "cnn_lstm"]
    saved = json.loads(Path(files["json"]).read_text())
    assert [r["accuracy"] for r in saved["rows"]] == pytest.approx(table["accuracy"].tolist())
    markdown = Path(files["markdown"]).read_text()
    assert "| Small CNN (thesis) |" in markdown and "| CNN + LSTM |" in markdown
    assert not Path(cfg.train.models_dir).exists()  # nothing served without --publish


def test_an_unknown_backbone_is_refused_before_anything_trains(tmp_path):
    from training.compare import compare

    cfg = CompareConfig(train=TrainConfig(task="breast_us", data=str(tmp_path)), models=["mobilenet_v2", "resnet5O"],
                        out=str(tmp_path / "out"))
    with pytest.raises(ConfigError, match="Unknown classifier 'resnet5O'"):
        compare(cfg)
    assert not (tmp_path / "out").exists()
