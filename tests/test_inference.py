"""Serving: the app finds a model, refuses unsafe ones, and reports calibrated answers under the right class."""

from concurrent.futures import ThreadPoolExecutor

import keras
import numpy as np
import pytest

from core.inference import (
    ModelCardError,
    ModelIntegrityError,
    ModelNotFoundError,
    Prediction,
    list_model_problems,
    list_models,
    load_model,
)
from core.serving.cards import build_card, sha256_file, write_card
from core.serving.ood import MahalanobisDetector
from core.tasks import get_task

TASK = get_task("brain_mri_4class")
SIZE = 32
FEATURES = 4


def tiny_classifier(bias, seed=None):
    """The project's layer contract on a toy CNN; with seed=None the output is ``bias`` whatever the image."""
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Conv2D(FEATURES, 3, activation="relu")(x)
    features = keras.layers.GlobalAveragePooling2D(name="features")(x)
    logits = keras.layers.Dense(len(bias), name="logits")(features)
    model = keras.Model(inputs, keras.layers.Activation("softmax", name="probs")(logits))
    rng = np.random.default_rng(seed or 0)
    kernel = rng.normal(0, 3, (FEATURES, len(bias))) if seed is not None else np.zeros((FEATURES, len(bias)))
    model.get_layer("logits").set_weights([kernel.astype("float32"), np.asarray(bias, "float32")])
    return model


def install(root, name, bias=(0, 10, 0, 0), seed=None, accuracy=0.9, model=None, **card_overrides):
    """Save a model (default: a tiny_classifier) and its card as ``root/<task>/<name>.keras`` + ``.card.json``."""
    folder = root / TASK.id
    folder.mkdir(parents=True, exist_ok=True)
    model = model if model is not None else tiny_classifier(bias, seed)
    keras_path = folder / f"{name}.keras"
    model.save(keras_path)
    fields = dict(
        task_id=TASK.id, name=name, class_names=list(TASK.classes), input_shape=[SIZE, SIZE, 3],
        preprocessing={"id": TASK.preprocessing, "params": {}}, architecture="tiny_cnn", backbone=None,
        training_data={"dataset": "phantoms", "kind": "synthetic-phantoms", "generator_version": "1", "seed": 0,
                       "root": "data/phantoms"},
        split_sizes={"train": 8, "val": 4, "test": 4}, test_metrics={"accuracy": accuracy},
        calibration={"temperature": 1.0, "ece_before": 0.1, "ece_after": 0.05}, latency_ms=None,
        params=model.count_params(), keras_file=keras_path.name, sha256=sha256_file(keras_path),
    )
    fields.update(card_overrides)
    write_card(build_card(**fields), folder / f"{name}.card.json")
    return keras_path


def mri_image(seed=0, size=64):
    """A bright textured head on black, so the brain crop finds it."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    head = (yy - size / 2) ** 2 + (xx - size / 2) ** 2 < (size * 0.4) ** 2
    image = np.where(head[..., None], rng.integers(60, 255, (size, size, 3)), 0)
    return image.astype(np.uint8)


def test_a_model_dropped_in_the_folder_is_listed_and_answers_under_its_class_name(tmp_path):
    install(tmp_path, "tiny")
    assert [c["name"] for c in list_models(TASK.id, tmp_path)] == ["tiny"]
    served = load_model(TASK.id, models_dir=tmp_path)
    prediction = served.predict(mri_image())
    assert isinstance(prediction, Prediction)
    assert list(prediction.probabilities) == list(TASK.classes)
    assert sum(prediction.probabilities.values()) == pytest.approx(1.0)
    # Output index 1 is strongly on: the answer must be the card's class 1, meningioma.
    assert prediction.label == "meningioma" and prediction.display_label == "Meningioma"
    assert prediction.confidence > 0.99 and not prediction.uncertain
    assert not prediction.out_of_distribution and prediction.ood_score is None
    assert served.is_demo and served.input_size == (SIZE, SIZE)


def test_a_card_with_classes_in_another_order_is_refused_with_the_reason(tmp_path):
    install(tmp_path, "permuted", class_names=list(TASK.classes))
    card_path = tmp_path / TASK.id / "permuted.card.json"
    card_path.write_text(card_path.read_text().replace('"glioma"', '"tmp"').replace('"meningioma"', '"glioma"')
                         .replace('"tmp"', '"meningioma"'))
    assert list_models(TASK.id, tmp_path) == []
    (problem,) = list_model_problems(TASK.id, tmp_path)
    assert problem.name == "permuted" and "output order" in " ".join(problem.problems)
    with pytest.raises(ModelCardError, match="output order"):
        load_model(TASK.id, "permuted", models_dir=tmp_path)
    with pytest.raises(ModelNotFoundError, match="permuted.card.json was rejected"):
        load_model(TASK.id, models_dir=tmp_path)


def test_a_modified_model_file_is_refused_before_loading(tmp_path):
    keras_path = install(tmp_path, "tiny")
    with open(keras_path, "ab") as fh:
        fh.write(b"\0")
    with pytest.raises(ModelIntegrityError, match="tiny.keras .*modified or corrupted"):
        load_model(TASK.id, models_dir=tmp_path)


def test_missing_models_say_where_to_put_one(tmp_path):
    with pytest.raises(ModelNotFoundError, match=f"{TASK.id}.*card.json"):
        load_model(TASK.id, models_dir=tmp_path)
    keras_path = install(tmp_path, "tiny")
    with pytest.raises(ModelNotFoundError, match="no model named 'other'.*available: tiny"):
        load_model(TASK.id, "other", models_dir=tmp_path)
    keras_path.unlink()
    assert list_models(TASK.id, tmp_path) == []
    assert "tiny.keras is missing" in " ".join(list_model_problems(TASK.id, tmp_path)[0].problems)


def test_the_default_model_is_the_flagged_one_else_the_most_accurate(tmp_path):
    install(tmp_path, "good", accuracy=0.9)
    install(tmp_path, "fair", accuracy=0.8)
    assert load_model(TASK.id, models_dir=tmp_path, warm_up=False).name == "good"
    install(tmp_path, "fair", accuracy=0.8, default=True)
    assert load_model(TASK.id, models_dir=tmp_path, warm_up=False).name == "fair"
    assert [c["name"] for c in list_models(TASK.id, tmp_path)] == ["fair", "good"]


def test_the_card_temperature_softens_probabilities_without_changing_the_answer(tmp_path):
    # Logit 2 against three zeros: 71 % at T=1, 35 % at T=4 (below the 0.6 threshold).
    install(tmp_path, "sharp", bias=(0, 2, 0, 0))
    install(tmp_path, "soft", bias=(0, 2, 0, 0), calibration={"temperature": 4.0})
    image = mri_image()
    sharp = load_model(TASK.id, "sharp", models_dir=tmp_path).predict(image)
    soft = load_model(TASK.id, "soft", models_dir=tmp_path).predict(image)
    assert sharp.label == soft.label == "meningioma"
    assert sharp.confidence == pytest.approx(np.exp(2) / (np.exp(2) + 3), abs=1e-5)
    assert soft.confidence == pytest.approx(np.exp(0.5) / (np.exp(0.5) + 3), abs=1e-5)
    assert not sharp.uncertain and soft.uncertain
    assert soft.display_label == "Meningioma (uncertain)"


def test_a_batch_gives_the_same_answers_as_one_image_at_a_time(tmp_path):
    install(tmp_path, "random", bias=(0, 0, 0, 0), seed=3)
    served = load_model(TASK.id, models_dir=tmp_path)
    images = [mri_image(seed) for seed in range(5)]
    batch = served.predict_batch(images)
    singles = [served.predict(image) for image in images]
    for b, s in zip(batch, singles):
        assert b.label == s.label
        assert list(b.probabilities.values()) == pytest.approx(list(s.probabilities.values()), abs=1e-5)
    assert len({round(b.confidence, 4) for b in batch}) > 1  # the images really differ
    # Streamlit shares one ServedModel between sessions: concurrent calls must not mix answers.
    with ThreadPoolExecutor(max_workers=4) as pool:
        threaded = list(pool.map(served.predict, images * 2))
    for t, s in zip(threaded, singles * 2):
        assert t.probabilities == pytest.approx(s.probabilities, abs=1e-5)
    with pytest.raises(ValueError, match=r"shape \(n, 32, 32, 3\)"):
        served.logits_and_features(np.zeros((1, 16, 16, 3)))


def _write_detector(folder, threshold):
    detector = MahalanobisDetector(pca_mean=np.zeros(FEATURES), components=np.eye(FEATURES),
                                   class_means=np.zeros((1, FEATURES)), precision=np.eye(FEATURES),
                                   threshold=threshold)
    return detector.save(folder / "tiny.ood.npz")


def test_an_image_the_ood_detector_rejects_gets_no_label(tmp_path):
    (tmp_path / TASK.id).mkdir()
    # A feature threshold of ~0 makes every image's score/threshold ratio exceed the card's 1.0.
    digest = _write_detector(tmp_path / TASK.id, threshold=1e-12)
    ood = {"method": "mahalanobis", "file": "tiny.ood.npz", "sha256": digest, "threshold": 1.0,
           "detection_rate": 1.0}
    install(tmp_path, "tiny", ood=ood)
    prediction = load_model(TASK.id, models_dir=tmp_path).predict(mri_image())
    assert prediction.out_of_distribution and prediction.label is None
    assert prediction.top_class == "meningioma" and prediction.ood_score >= 0
    assert "out of distribution" in prediction.display_label
    _write_detector(tmp_path / TASK.id, threshold=5.0)  # a different file than the card's sha256
    with pytest.raises(ModelIntegrityError, match="tiny.ood.npz does not match the sha256 in its card"):
        load_model(TASK.id, models_dir=tmp_path)


def test_a_card_that_does_not_describe_its_weights_is_refused(tmp_path):
    install(tmp_path, "tiny", input_shape=[48, 48, 3])
    with pytest.raises(ModelCardError, match=r"input is \(32, 32, 3\) but the card says \(48, 48, 3\)"):
        load_model(TASK.id, models_dir=tmp_path)



def test_a_project_classifier_round_trips_through_safe_loading(tmp_path):
    from core.models import build_classifier

    model = build_classifier("small_cnn", TASK.id, (SIZE, SIZE, 3))  # custom normalisation layer inside
    install(tmp_path, "small", model=model)
    served = load_model(TASK.id, models_dir=tmp_path)
    image = mri_image()
    expected = model.predict(served.prepare(image).image[None].astype("float32"), verbose=0)[0]
    assert list(served.predict(image).probabilities.values()) == pytest.approx(list(expected), abs=1e-5)
