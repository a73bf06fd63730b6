"""The gallery speaks to a clinician: card figures in plain words, the experiment's verdict, checked generators."""

from __future__ import annotations

import json

import pytest

from core.ui.gallery import experiment_verdicts, plain_words

GOOD = {"fid": 30.0, "reference_fid": 25.0, "ms_ssim_generated": 0.22, "ms_ssim_real": 0.19, "memorised_fraction": 0.0}


@pytest.mark.parametrize("quality, phrase", [
    (GOOD, "about as close to the real training scans as new real scans do"),
    (GOOD, "Samples are about as varied as real scans"),
    (GOOD, "No sample is a copy of a training image"),
    (dict(GOOD, fid=60.0), "recognisably scan-like but less realistic"),
    (dict(GOOD, fid=200.0), "far from real scans"),
    (dict(GOOD, ms_ssim_generated=0.95), "nearly all alike"),
    (dict(GOOD, ms_ssim_generated=0.5), "less varied than real scans"),
    (dict(GOOD, memorised_fraction=0.12), "12% of samples are closer to a training image"),
])
def test_card_figures_become_sentences_a_clinician_can_read(quality, phrase):
    card = {"epochs": 100, "n_real_images": 79, "training_data": {"kind": "real", "dataset": "BUSI"},
            "quality": quality}
    words = plain_words(card)
    assert words[0] == "Learnt from 79 real training images of BUSI for 100 epochs."
    assert any(phrase in w for w in words)


def test_a_card_without_figures_says_nothing():
    assert plain_words(None) == [] and plain_words({"quality": {"fid": None}}) == []


def test_the_experiment_verdict_is_stated_with_its_interval(tmp_path):
    result = {"mode": "balance", "folds": 5, "seeds": [42], "mean_difference": 0.004, "ci95": [-0.02, 0.028],
              "model": "small_cnn", "comparison": {"accuracy": {"real_mean": 0.589}}}
    (tmp_path / "breast_us_balance.json").write_text(json.dumps(result))
    (tmp_path / "breast_us_add.json").write_text(json.dumps(dict(result, mode="add", ci95=[0.01, 0.03],
                                                                 mean_difference=0.02)))
    (tmp_path / "brain_mri_binary_add.json").write_text(json.dumps(result))
    sentences = experiment_verdicts("breast_us", tmp_path)
    assert sentences == [
        "Adding synthetic images to every class helps the classifier: +2.0 points accuracy, 95 % CI +1.0 to +3.0 "
        "(5 folds x 1 seed(s); small_cnn classifier at 59% accuracy without them; real test images).",
        "Topping up the smaller classes does not help the classifier: +0.4 points accuracy, 95 % CI -2.0 to +2.8 "
        "(5 folds x 1 seed(s); small_cnn classifier at 59% accuracy without them; real test images).",
    ]
    assert experiment_verdicts("blood_smear", tmp_path) == []


def test_the_verdict_against_duplicated_real_images_follows_when_the_control_arm_ran(tmp_path):
    result = {"mode": "balance", "folds": 5, "seeds": [42, 43, 44], "mean_difference": 0.024, "ci95": [0.001, 0.047],
              "control": {"comparison": {"accuracy": {"mean_difference": -0.003, "ci95": [-0.03, 0.024]}}}}
    (tmp_path / "breast_us_balance.json").write_text(json.dumps(result))
    (sentence,) = experiment_verdicts("breast_us", tmp_path)
    assert sentence.startswith("Topping up the smaller classes helps the classifier: +2.4 points accuracy")
    assert sentence.endswith("Compared with adding as many copies of real training images instead, synthetic images "
                             "do no better: -0.3 points accuracy, 95 % CI -3.0 to +2.4.")


def test_a_generator_without_its_card_or_with_another_digest_is_refused(tmp_path):
    from core.gan.generation import load_generator
    from core.models.dcgan import build_generator
    from core.serving.errors import ModelIntegrityError

    path = tmp_path / "yes.keras"
    build_generator(32, 1).save(path)
    with pytest.raises(ModelIntegrityError, match="has no card"):
        load_generator(path)
    (tmp_path / "yes.card.json").write_text(json.dumps({"sha256": "0" * 64}))
    with pytest.raises(ModelIntegrityError, match="does not match the sha256"):
        load_generator(path)
