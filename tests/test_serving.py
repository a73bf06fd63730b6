"""Serving contracts: typed cards, checked artefacts, conformal sets, and one result per uploaded image."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core import paths
from core.serving import INTEGRITY_SENTENCE, ModelIntegrityError, conformal
from core.serving.cards import CardError, ClassifierCard, read_card, write_card
from core.serving.gan_cards import GeneratorCard
from core.serving.loader import load_generator_checked
from core.serving.served import PredictionError, load_model
from tests.test_inference import TASK, _write_detector, install, mri_image

INTEGRITY_START = INTEGRITY_SENTENCE.split("{what}")[1].split(":")[0]  # " does not match the sha256 in its card"


@pytest.mark.parametrize("card_path", sorted(paths.MODELS_DIR.glob("*/*.card.json")), ids=lambda p: p.parent.name)
def test_every_shipped_classifier_card_reads_as_a_typed_card_without_absolute_paths(card_path):
    card = ClassifierCard.read(card_path)
    assert card.class_names and card.keras_file.endswith(".keras")
    assert "/work/" not in json.dumps(card.to_json())  # older cards are migrated on read


@pytest.mark.parametrize("card_path", sorted(paths.MODELS_DIR.glob("*/gan/*.card.json")), ids=lambda p: p.stem)
def test_every_shipped_generator_card_reads_and_round_trips(card_path):
    card = GeneratorCard.read(card_path)
    assert GeneratorCard.from_json(card.to_json()) == card


def test_a_card_holding_an_absolute_machine_path_is_refused_on_write(tmp_path):
    card = read_card(sorted(paths.MODELS_DIR.glob("*/*.card.json"))[0])
    card["training_run"] = {"dir": "/home/someone/runs/x"}
    with pytest.raises(CardError, match="absolute machine paths at training_run.dir"):
        write_card(card, tmp_path / "x.card.json")
    assert not (tmp_path / "x.card.json").exists()


def test_a_generator_card_naming_a_class_the_task_lacks_is_refused():
    card = GeneratorCard.read(sorted(paths.MODELS_DIR.glob("*/gan/*.card.json"))[0]).to_json()
    with pytest.raises(CardError, match="class_id 'dragon'"):
        GeneratorCard.from_json({**card, "class_id": "dragon"})


def test_a_tampered_generator_is_refused_with_the_integrity_sentence(tmp_path):
    source = sorted(paths.MODELS_DIR.glob("*/gan/*.card.json"))[0]
    card = GeneratorCard.read(source)
    (tmp_path / card.keras_file).write_bytes((source.parent / card.keras_file).read_bytes()[:-10])
    card.write(tmp_path / source.name)
    with pytest.raises(ModelIntegrityError, match=f"generator file {card.keras_file}{INTEGRITY_START}"):
        load_generator_checked(tmp_path / source.name)


def test_conformal_sets_reach_their_coverage_and_grow_with_ambiguity():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 1, (2000, 4)) + np.eye(4)[rng.integers(0, 4, 2000)] * 2.5
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = np.array([rng.choice(4, p=p) for p in probs])  # labels drawn from the probabilities: calibrated
    section = conformal.conformal_section(probs[:1000], y[:1000], probs[1000:], y[1000:], level=0.9)
    assert 0.87 <= section["test_coverage"] <= 0.95
    assert 1.0 < section["test_mean_set_size"] < 4.0
    members = conformal.prediction_sets(np.array([[0.97, 0.01, 0.01, 0.01], [0.4, 0.35, 0.2, 0.05]]),
                                        section["threshold"])
    assert conformal.class_set(members[0], "abcd") == ("a",)
    assert len(conformal.class_set(members[1], "abcd")) > 1


def test_too_few_validation_images_for_the_level_are_refused_plainly():
    with pytest.raises(conformal.ConformalError, match="too few for 90% coverage"):
        conformal.fit_threshold(np.full((5, 2), 0.5), np.zeros(5, int), 0.9)


def test_a_model_with_a_conformal_section_reports_its_set_and_calls_a_wide_set_uncertain(tmp_path):
    install(tmp_path, "wide", bias=(0, 0.2, 0, 0), conformal={"level": 0.9, "method": conformal.METHOD,
                                                              "threshold": 0.8})
    install(tmp_path, "sharp", bias=(0, 10, 0, 0), conformal={"level": 0.9, "method": conformal.METHOD,
                                                               "threshold": 0.8})
    wide = load_model(TASK.id, "wide", models_dir=tmp_path, warm_up=False).predict(mri_image())
    sharp = load_model(TASK.id, "sharp", models_dir=tmp_path, warm_up=False).predict(mri_image())
    assert wide.prediction_set == TASK.classes and wide.uncertain  # class order, all four plausible
    assert sharp.prediction_set == ("meningioma",) and not sharp.uncertain


def test_a_model_without_a_conformal_section_reports_its_top_class_as_the_set(tmp_path):
    install(tmp_path, "plain")
    prediction = load_model(TASK.id, models_dir=tmp_path, warm_up=False).predict(mri_image())
    assert prediction.prediction_set == ("meningioma",)


def test_one_bad_image_in_a_batch_costs_only_itself(tmp_path):
    install(tmp_path, "tiny")
    served = load_model(TASK.id, models_dir=tmp_path, warm_up=False)
    results = served.predict_batch([mri_image(1), np.zeros((3,), np.uint8), mri_image(2)])
    assert results[0].label == results[2].label == "meningioma"
    assert isinstance(results[1], PredictionError) and "could not be prepared" in str(results[1])
    with pytest.raises(PredictionError):
        served.predict(np.zeros((3,), np.uint8))


@pytest.mark.parametrize("damage", ["truncated", "nan threshold"])
def test_a_damaged_ood_file_is_refused_with_the_integrity_sentence(tmp_path, damage):
    folder = tmp_path / TASK.id
    folder.mkdir()
    digest = _write_detector(folder, threshold=float("nan") if damage == "nan threshold" else 5.0)
    if damage == "truncated":
        data = (folder / "tiny.ood.npz").read_bytes()[:200]
        (folder / "tiny.ood.npz").write_bytes(data)
        digest = __import__("hashlib").sha256(data).hexdigest()  # re-signed card: only the file is wrong
    install(tmp_path, "tiny", ood={"method": "mahalanobis", "file": "tiny.ood.npz", "sha256": digest,
                                   "threshold": 1.0})
    with pytest.raises(ModelIntegrityError, match=f"detector file tiny.ood.npz{INTEGRITY_START}"):
        load_model(TASK.id, models_dir=tmp_path, warm_up=False)


def test_core_inference_keeps_its_public_names():
    import core.inference as old

    for name in ("load_model", "ServedModel", "Prediction", "ModelIntegrityError", "list_models"):
        assert hasattr(old, name), name
    assert Path(old.__file__).stat().st_size < 2000  # a re-export, not a second implementation
