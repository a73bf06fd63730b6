"""The model card: what a served model is, checked before anything trusts it."""

import hashlib
import json

import pytest

from core.serving.cards import REQUIRED_KEYS, CardError, build_card, read_card, sha256_file, validate_card, write_card


def card_fields(**overrides):
    """Fields of a valid card for the 4-class brain MRI task (tests override what they probe)."""
    fields = dict(
        task_id="brain_mri_4class", name="tiny_cnn", class_names=["glioma", "meningioma", "notumor", "pituitary"],
        input_shape=[32, 32, 3], preprocessing={"id": "brain_mri", "params": {}},
        architecture="small_cnn", backbone=None,
        training_data={"dataset": "phantoms", "kind": "synthetic-phantoms", "generator_version": "1", "seed": 0,
                       "root": "data/phantoms"},
        split_sizes={"train": 8, "val": 4, "test": 4}, test_metrics={"accuracy": 0.75},
        calibration={"temperature": 1.5, "ece_before": 0.2, "ece_after": 0.05},
        latency_ms={"min_ms": 1.0, "mean_ms": 2.0, "median_ms": 2.0, "max_ms": 3.0, "n": 3},
        params=1234, keras_file="tiny_cnn.keras", sha256="0" * 64,
    )
    fields.update(overrides)
    return fields


def test_a_complete_card_round_trips_through_json(tmp_path):
    card = build_card(**card_fields(default=True))
    assert set(REQUIRED_KEYS) <= set(card)
    assert card["library_versions"]["keras"] and card["library_versions"]["tensorflow"]
    assert card["command"] and card["created"]
    path = write_card(card, tmp_path / "tiny_cnn.card.json")
    assert read_card(path) == card
    assert [p.name for p in tmp_path.iterdir()] == ["tiny_cnn.card.json"]  # no temporary file left behind


def test_missing_keys_are_all_named():
    fields = card_fields()
    del fields["sha256"], fields["split_sizes"]
    with pytest.raises(CardError, match="missing keys: split_sizes, sha256"):
        build_card(**fields)


def test_class_names_out_of_the_task_order_are_rejected():
    card = build_card(**card_fields())
    card["class_names"] = ["meningioma", "glioma", "notumor", "pituitary"]
    problems = validate_card(card)
    assert len(problems) == 1 and "output order" in problems[0] and "wrong class" in problems[0]


@pytest.mark.parametrize("overrides, expected", [
    ({"task_id": "chest_xray"}, "not a known task"),
    ({"training_data": {"dataset": "phantoms", "kind": "synthetic-phantoms"}}, "generator_version"),
    ({"training_data": {"dataset": "x", "kind": "scraped"}}, "real, synthetic-phantoms"),
    ({"calibration": {"temperature": 0}}, "positive 'temperature'"),
    ({"uncertainty_threshold": 1.5}, "between 0 and 1"),
    ({"keras_file": "../elsewhere/m.keras"}, "bare '<name>.keras'"),
    ({"sha256": "abc"}, "64-character"),
    ({"input_shape": [32, 32, 1]}, "input_shape"),
    ({"preprocessing": {"id": "breast_us", "params": {}}}, "recipe of task"),
    ({"ood": {"file": "m.ood.npz", "threshold": 3.0}}, "sha256"),
    ({"default": "yes"}, "true or false"),
])
def test_each_kind_of_invalid_card_is_explained(overrides, expected):
    with pytest.raises(CardError, match="Invalid model card") as info:
        build_card(**card_fields(**overrides))
    assert expected in str(info.value)


def test_an_invalid_card_is_never_written(tmp_path):
    card = build_card(**card_fields())
    card["calibration"] = {}
    with pytest.raises(CardError, match="temperature"):
        write_card(card, tmp_path / "tiny_cnn.card.json")
    assert not list(tmp_path.iterdir())


def test_unreadable_cards_name_the_file(tmp_path):
    broken = tmp_path / "broken.card.json"
    broken.write_text("{not json")
    with pytest.raises(CardError, match="broken.card.json cannot be read as JSON"):
        read_card(broken)
    with pytest.raises(CardError, match="does not exist"):
        read_card(tmp_path / "absent.card.json")
    broken.write_text(json.dumps({"task_id": "brain_mri_4class"}))
    assert read_card(broken, validate=False) == {"task_id": "brain_mri_4class"}
    with pytest.raises(CardError, match="broken.card.json is invalid"):
        read_card(broken)


def test_sha256_of_a_file_is_the_standard_digest(tmp_path):
    path = tmp_path / "weights.keras"
    path.write_bytes(b"weights" * 1000)
    assert sha256_file(path, chunk_size=100) == hashlib.sha256(b"weights" * 1000).hexdigest()
