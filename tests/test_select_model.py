"""The served model is chosen on validation accuracy; the test split is reported for the winner only."""

from __future__ import annotations

import json

import numpy as np
import pytest

from training import select_model


def _run(folder, name, val, test, params=1000):
    folder.mkdir(parents=True)
    # validation logits: correct class scored 2.0 on a fraction `val` of 20 images
    y = np.zeros(20, int)
    logits = np.zeros((20, 2))
    logits[: round(20 * val), 0] = 2.0
    np.savez(folder / "scores.npz", val_logits=logits, val_y=y)
    (folder / "config.json").write_text(json.dumps(
        {"run": name, "model": name, "weights": "none", "image_size": 64}))
    (folder / "metrics.json").write_text(json.dumps({
        "val_accuracy": val, "train_seconds": 120.0, "params": params, "epochs_run": 3,
        "split_sizes": {"train": 80, "val": 20, "test": 100},
        "test": {"accuracy": test, "per_class": {"a": {"recall": test}, "b": {"recall": test}}}}))
    return str(folder)


def test_the_best_validation_run_wins_even_when_another_tests_better(tmp_path):
    # b has the lower validation log-loss (more images confidently right) but the worse test accuracy
    runs = [_run(tmp_path / "a", "a", val=0.90, test=0.99), _run(tmp_path / "b", "b", val=0.95, test=0.80)]
    report = select_model.main(["--task", "breast_us", "--runs", ",".join(runs), "--out", str(tmp_path / "out")])
    assert report["winner"] == "b"
    assert report["winner_test"]["accuracy"] == 0.80
    lo, hi = report["winner_test"]["ci95"]
    assert lo < 0.80 < hi and hi - lo < 0.2
    assert "_test" not in json.dumps(report["candidates"])  # losers' test figures are not reported
    markdown = (tmp_path / "out" / "breast_us.md").read_text()
    assert "Served: **b**" in markdown and "Command: `python -m training.select_model" in markdown


def test_an_unfinished_run_is_named(tmp_path, capsys):
    (tmp_path / "half").mkdir()
    with pytest.raises(SystemExit):
        select_model.main(["--task", "breast_us", "--runs", str(tmp_path / "half")])
    assert "has no config.json" in capsys.readouterr().err


def test_log_loss_separates_runs_that_accuracy_cannot(tmp_path):
    a = _run(tmp_path / "a", "a", val=0.90, test=0.5)
    b = _run(tmp_path / "b", "b", val=0.90, test=0.5)
    with np.load(tmp_path / "b" / "scores.npz") as s:
        logits = s["val_logits"] * 2  # same decisions, more confident where right
    np.savez(tmp_path / "b" / "scores.npz", val_logits=logits, val_y=np.zeros(20, int))
    report = select_model.main(["--task", "breast_us", "--runs", f"{a},{b}", "--out", str(tmp_path / "out")])
    assert report["winner"] == "b"


def test_wilson_interval_matches_the_textbook_value():
    lo, hi = select_model.wilson_interval(90, 100)
    assert lo == pytest.approx(0.8256, abs=1e-3) and hi == pytest.approx(0.9448, abs=1e-3)
