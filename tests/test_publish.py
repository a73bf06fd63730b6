"""Publishing a retrained model over a served one is all or nothing, whatever step fails."""

from __future__ import annotations

import numpy as np
import pytest

from core.serving.served import load_model
from tests.test_inference import SIZE, TASK, mri_image, tiny_classifier
from training import publish, staging

STEPS = ["place tiny.keras", "place tiny.ood.npz", "place tiny.history.png", "write card", "swap card"]


class InjectedFailure(Exception):
    """Stands for a crash, a full disk or a kill at one step."""


def card_fields(tmp_path) -> dict:
    figure = tmp_path / "history.png"
    figure.write_bytes(b"\x89PNG fake figure")
    return dict(
        task_id=TASK.id, name="tiny", class_names=list(TASK.classes), input_shape=[SIZE, SIZE, 3],
        preprocessing={"id": TASK.preprocessing, "params": {}}, architecture="tiny_cnn", backbone=None,
        training_data={"dataset": "phantoms", "kind": "synthetic-phantoms", "generator_version": "1", "seed": 0},
        split_sizes={"train": 8, "val": 4, "test": 4}, test_metrics={"accuracy": 0.9},
        calibration={"temperature": 1.0}, latency_ms=None, params=1, command="test",
        training_run={"plots": {"history": str(figure)}},
    )


def ood_fitter(path):
    from core.serving.ood import MahalanobisDetector

    detector = MahalanobisDetector(np.zeros(4), np.eye(4), np.zeros((1, 4)), np.eye(4), threshold=1e9)
    return {"method": "mahalanobis", "file": path.name, "sha256": detector.save(path), "threshold": 1.0}


def served_answer(models):
    return load_model(TASK.id, "tiny", models_dir=models, warm_up=False).predict(mri_image()).label


@pytest.fixture
def served_v1(tmp_path):
    models = tmp_path / "models"
    publish.publish(tiny_classifier((0, 10, 0, 0)), models / TASK.id, "tiny", card_fields(tmp_path), ood_fitter)
    assert served_answer(models) == "meningioma"
    return models


@pytest.mark.parametrize("step", STEPS)
def test_a_failure_at_any_step_leaves_the_previous_model_served_and_nothing_behind(served_v1, tmp_path, step,
                                                                                    monkeypatch):
    before = sorted(p.name for p in (served_v1 / TASK.id).iterdir())

    def fail(at):
        if at == step:
            raise InjectedFailure(at)

    monkeypatch.setattr(staging, "STEP_HOOK", fail)
    with pytest.raises(InjectedFailure):
        publish.publish(tiny_classifier((10, 0, 0, 0)), served_v1 / TASK.id, "tiny", card_fields(tmp_path), ood_fitter)
    assert sorted(p.name for p in (served_v1 / TASK.id).iterdir()) == before  # no temp or half-placed files
    assert served_answer(served_v1) == "meningioma"


def test_a_kill_that_left_leftovers_still_serves_the_previous_model_and_the_next_publication_cleans_up(
        served_v1, tmp_path, monkeypatch):
    before = sorted(p.name for p in (served_v1 / TASK.id).iterdir())
    monkeypatch.setattr(staging, "STEP_HOOK", lambda at: (_ for _ in ()).throw(InjectedFailure(at))
                        if at == "write card" else None)
    monkeypatch.setattr(staging.PublishSet, "__exit__", lambda *args: None)  # kill -9: no cleanup runs
    with pytest.raises(InjectedFailure):
        publish.publish(tiny_classifier((10, 0, 0, 0)), served_v1 / TASK.id, "tiny", card_fields(tmp_path), ood_fitter)
    assert sorted(p.name for p in (served_v1 / TASK.id).iterdir()) != before
    assert served_answer(served_v1) == "meningioma"
    monkeypatch.undo()
    assert staging.clean_leftovers(served_v1 / TASK.id, "tiny")
    assert sorted(p.name for p in (served_v1 / TASK.id).iterdir()) == before


def test_a_successful_publication_serves_the_new_model_and_removes_the_previous_files(served_v1, tmp_path):
    before = {p.name for p in (served_v1 / TASK.id).iterdir()} - {"tiny.card.json"}
    publish.publish(tiny_classifier((10, 0, 0, 0)), served_v1 / TASK.id, "tiny", card_fields(tmp_path), ood_fitter)
    assert served_answer(served_v1) == "glioma"
    after = {p.name for p in (served_v1 / TASK.id).iterdir()}
    assert not before & after and len(after) == 4  # card, weights, OOD file, figure
