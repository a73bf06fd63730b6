"""Clinician feedback back to training: predict, answer with "keep the image", export, retrain on the export."""

from __future__ import annotations

import hashlib
import io
import json

import numpy as np
import pytest
from PIL import Image

from core.feedback import FeedbackStore, PredictionRecord, dispose_all, pixel_sha256, record_of
from tests.conftest import PHANTOM_SEED
from training.export_feedback import MANIFEST, main

TASK = "brain_mri_binary"
TINY = ["--epochs", "1", "--image-size", "32", "--batch-size", "8", "--val-fraction", "0.25",
        "--test-fraction", "0.25", "--verbose", "0", "--latency-samples", "2", "--no-plots", "--weights", "none",
        "--model", "small_cnn", "--kind", "synthetic-phantoms", "--generator-seed", str(PHANTOM_SEED)]


def train(data, tmp_path, run: str) -> dict:
    from training.train_classifier import main as train_main

    return train_main(["--task", TASK, "--data", str(data), "--run", run, "--limit", "8",
                       "--models-dir", str(tmp_path / "models"), "--runs-dir", str(tmp_path / "runs" / run), *TINY])


@pytest.fixture(scope="module")
def served(phantom_dataset, tmp_path_factory):
    """A tiny classifier trained on the phantoms, loaded as the app loads it; and the phantoms' root."""
    from core.inference import load_model

    root, folder = phantom_dataset(TASK), tmp_path_factory.mktemp("first")
    train(root, folder, "first")
    return load_model(TASK, "first", models_dir=folder / "models", warm_up=False), root


@pytest.fixture()
def answered(served, tmp_path):
    """A feedback database where a clinician answered the model's verdict on every phantom, keeping it."""
    from core.data import read_dataset
    from core.io import load_image

    model, root = served
    store = FeedbackStore(f"sqlite:///{tmp_path / 'feedback.sqlite3'}")
    truth = {}
    for path, label in read_dataset(root, TASK)[["path", "label"]].itertuples(index=False):
        pixels = load_image(path)
        record = record_of(model.card, model.predict(pixels), pixels)
        answer = "agree" if record.model_answer == label else label  # the clinician knows the truth
        store.add(record, answer, initials="QA", pixels=pixels)
        truth[record.image_sha256] = label
    flipped = pixels[::-1].copy()
    store.add(record_of(model.card, model.predict(flipped), flipped), "poor_image_quality",
              pixels=flipped)  # kept, but not training data
    yield store, truth
    dispose_all()


def test_kept_answers_are_exported_class_per_folder_and_retrain_a_model(answered, tmp_path, capsys):
    store, truth = answered
    out = tmp_path / "export"
    manifest = main(["--task", TASK, "--out", str(out), "--db-url", store.engine.url.render_as_string(False)])
    assert "16 images" in capsys.readouterr().out

    assert {i["image_sha256"]: i["class"] for i in manifest["images"]} == truth
    assert manifest["per_class"] == {"no": 8, "yes": 8}
    assert manifest["agreed"] + manifest["corrected"] == 16 and manifest["conflicts"] == []
    assert json.loads((out / MANIFEST).read_text()) == json.loads(json.dumps(manifest))
    for item in manifest["images"]:  # every file is the pixels the clinician saw, under the class they gave
        data = (out / item["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == item["png_sha256"]
        assert pixel_sha256(np.asarray(Image.open(io.BytesIO(data)))) == item["image_sha256"]
        assert item["file"].startswith(item["class"] + "/") and item["models"][0].startswith("first@")

    from core.data import read_dataset

    listed = read_dataset(out, TASK)  # core.data reads the export as it is: every image, under its class
    assert sorted(zip(listed["path"], listed["label"])) == sorted(
        (str(out / i["file"]), i["class"]) for i in manifest["images"])
    metrics = train(out, tmp_path, "retrained")  # train_classifier --data <export>
    card = json.loads((tmp_path / "models" / TASK / "retrained.card.json").read_text())
    assert card["training_data"]["root"].endswith("export")
    assert sum(card["split_sizes"].values()) + card["training_data"].get("duplicates_dropped", 0) == 16
    assert 0.0 <= metrics["accuracy"] <= 1.0


def test_an_image_answered_with_two_classes_is_left_out_and_listed(answered, tmp_path):
    store, truth = answered
    digest, label = next(iter(truth.items()))
    [entry] = [e for e in store.entries() if e["image_sha256"] == digest]
    other = "yes" if label == "no" else "no"
    pixels = np.asarray(Image.open(io.BytesIO(dict(
        (e["id"], png) for e, png in store.kept_images(TASK))[entry["id"]])))
    fields = {k: entry[k] for k in PredictionRecord.__dataclass_fields__}
    store.add(PredictionRecord(**fields), other, pixels=pixels)  # a second clinician disagrees

    manifest = main(["--task", TASK, "--out", str(tmp_path / "export"),
                     "--db-url", store.engine.url.render_as_string(False)])
    assert digest not in {i["image_sha256"] for i in manifest["images"]} and len(manifest["images"]) == 15
    assert manifest["conflicts"] == [{"image_sha256": digest, "answers": sorted([label, other]),
                                      "entry_ids": [entry["id"], entry["id"] + 17]}]


@pytest.mark.parametrize("setup, message", [
    ("non-empty", "is not an empty folder"),
    ("no-images", "No kept image with a class answer"),
])
def test_the_command_line_answers_a_fixable_mistake_with_one_sentence(tmp_path, capsys, setup, message):
    out = tmp_path / "out"
    if setup == "non-empty":
        out.mkdir()
        (out / "old.png").write_bytes(b"")
    with pytest.raises(SystemExit) as stop:
        main(["--task", TASK, "--out", str(out), "--db-url", f"sqlite:///{tmp_path / 'empty.sqlite3'}"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err
    dispose_all()
