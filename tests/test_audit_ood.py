"""The OOD audit measures a served model's guard on its test split, other modalities and probes, into its card."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.serving.cards import read_card
from training import audit_ood, train_classifier
from training.config import TrainConfig


@pytest.fixture()
def served_breast_model(tmp_path, tiny, phantom_dataset):
    root = phantom_dataset("breast_us", per_class=8, size=64)
    cfg = tiny(TrainConfig(task="breast_us", data=str(root), model="small_cnn", run="audited"))
    train_classifier.train(cfg)
    return cfg


def test_the_audit_writes_refusal_rates_into_the_card(served_breast_model, phantom_dataset, tmp_path):
    cfg = served_breast_model
    data_root = tmp_path / "real"
    data_root.mkdir()
    # a brain MRI folder in its published layout stands in for the other modality
    (data_root / "br35h").symlink_to(Path(phantom_dataset("brain_mri_binary", per_class=8, size=64)))
    splits = Path(cfg.runs_dir) / "splits.csv"
    section = audit_ood.main(["--task", "breast_us", "--model", "audited", "--models-dir", cfg.models_dir,
                              "--splits", str(splits), "--data-root", str(data_root), "--per-source", "10",
                              "--probes-per-kind", "3"])
    card = read_card(Path(cfg.models_dir) / "breast_us" / "audited.card.json")
    written = card["ood"]["evaluation"]
    assert json.loads(json.dumps(section)) == written
    assert written["test_wrongly_refused"]["n"] > 0
    assert set(written["other_modalities_refused"]) == {"brain MRI (Br35H), audit half", "blood-smear cells (phantoms)"}
    assert set(written["probes_refused"]) == {"blank", "noise", "natural photo", "other modality"}
    for rate in [written["test_wrongly_refused"], *written["other_modalities_refused"].values(),
                 *written["probes_refused"].values()]:
        assert 0 <= rate["refused"] <= rate["n"] and 0.0 <= rate["rate"] <= 1.0


def test_a_missing_splits_file_is_a_sentence_not_a_traceback(capsys):
    with pytest.raises(SystemExit) as stop:
        audit_ood.main(["--task", "breast_us", "--splits", "/nonexistent/splits.csv"])
    assert stop.value.code != 0
    err = capsys.readouterr().err
    assert "does not exist" in err and "Traceback" not in err
