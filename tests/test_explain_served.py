"""Heat maps of a served model, as a clinician sees them: on the uploaded image, honest about weak evidence.

The toy served models have hand-set weights so the right answer is known: a 1x1 convolution
turns each pixel into "bright" and "dark" evidence, averaged into the logits.
"""

from __future__ import annotations

import cv2
import keras
import numpy as np
import pytest

from core import explain
from core.explain import faithfulness

TASK = "brain_mri_binary"  # classes (no, yes); preprocessing: head crop, denoise, letterbox
SIZE = 32
LESION = (200, 70)  # (x, y) in the upload


def _toy_model(logit_weights, logit_bias) -> keras.Model:
    """Channel 0 fires on bright pixels (> 150), channel 1 on black ones (< 25)."""
    image = keras.Input((SIZE, SIZE, 3), name="image")
    conv = keras.layers.Conv2D(2, 1, activation="relu", name="evidence")
    pooled = keras.layers.GlobalAveragePooling2D(name="avg_pool")(conv(image))
    features = keras.layers.Identity(name="features")(pooled)
    dense = keras.layers.Dense(2, name="logits")
    logits = dense(features)
    model = keras.Model(image, keras.layers.Activation("softmax", name="probs")(logits))
    per_grey = np.full((1, 1, 3, 1), 1 / (3 * 10.0), np.float32)  # 0.1 per grey level, averaged over RGB
    conv.set_weights([np.concatenate([per_grey, -per_grey], axis=-1), np.array([-15.0, 2.5], np.float32)])
    dense.set_weights([np.asarray(logit_weights, np.float32), np.asarray(logit_bias, np.float32)])
    return model


def _serve(tmp_path, model: keras.Model, name: str, task_id: str = TASK):
    from core.serving import cards, load_model
    from core.tasks import get_task

    task = get_task(task_id)
    folder = tmp_path / task_id
    folder.mkdir(exist_ok=True)
    model.save(folder / f"{name}.keras")
    card = cards.build_card(
        task_id=task_id, name=name, class_names=list(task.classes), input_shape=[SIZE, SIZE, 3],
        preprocessing={"id": task.preprocessing, "params": {}}, architecture="toy", backbone=None,
        training_data={"dataset": "core.phantoms", "kind": "synthetic-phantoms", "seed": 0, "generator_version": "t"},
        split_sizes={}, test_metrics={"accuracy": 0.5}, calibration={"temperature": 1.0},
        latency_ms={}, params=model.count_params(), keras_file=f"{name}.keras",
        sha256=cards.sha256_file(folder / f"{name}.keras"), command="test",
    )
    cards.write_card(card, folder / f"{name}.card.json")
    return load_model(task_id, name, models_dir=tmp_path)


def _upload() -> tuple[np.ndarray, np.ndarray]:
    """An off-centre head on a wide black frame (so the model input is letterboxed), with a bright lesion."""
    image = np.zeros((150, 260, 3), np.uint8)
    cv2.ellipse(image, (180, 80), (60, 45), 0, 0, 360, (90, 90, 90), -1)
    lesion = np.zeros(image.shape[:2], np.uint8)
    cv2.circle(lesion, LESION, 9, 255, -1)
    image[lesion > 0] = 250
    return image, lesion > 0


@pytest.fixture(scope="module")
def bright_model(tmp_path_factory):
    """'yes' = bright evidence: the lesion."""
    return _serve(tmp_path_factory.mktemp("models"), _toy_model([[0.0, 30.0], [0.0, 0.0]], [0.0, 0.0]), "bright")


def test_the_map_is_at_the_upload_size_and_lights_up_where_the_lesion_is(bright_model):
    image, lesion = _upload()
    shown = explain.explain(bright_model, image)
    assert shown.class_name == "yes" and shown.heatmap.shape == image.shape[:2]
    y, x = np.unravel_index(np.argmax(shown.heatmap), shown.heatmap.shape)
    assert abs(x - LESION[0]) <= 6 and abs(y - LESION[1]) <= 6, "the hotspot must sit on the lesion in the upload"
    assert faithfulness.pointing_hit(shown.heatmap, lesion)
    assert faithfulness.energy_inside(shown.heatmap, faithfulness.dilate(lesion, 0.05)) > 0.8
    assert shown.heatmap.max() == pytest.approx(1.0, abs=1e-3)


def test_nothing_outside_the_region_the_model_saw_is_painted(bright_model):
    image, _ = _upload()
    heat = explain.heatmap(bright_model, image)
    assert not heat[:, :115].any(), "left of the head the model saw nothing"
    assert not heat[130:].any() and not heat[:30].any()


def test_padding_and_background_carry_no_heat_even_when_the_model_looks_there(tmp_path):
    """A model whose evidence is black pixels: its raw map lives on the letterbox and background."""
    served = _serve(tmp_path, _toy_model([[0.0, 0.0], [0.0, 3.0]], [0.0, 0.0]), "dark")
    image, _ = _upload()
    shown = explain.explain(served, image)
    head = np.zeros(image.shape[:2], np.uint8)
    cv2.ellipse(head, (180, 80), (56, 41), 0, 0, 360, 1, -1)
    outside = cv2.dilate(head, np.ones((9, 9), np.uint8)) == 0
    assert not shown.heatmap[outside].any()
    assert shown.outside_anatomy > 0.5, "the card and caption must still say where this model looked"
    assert "outside the anatomy" in shown.caption


def test_a_class_at_zero_probability_is_not_painted_as_a_full_strength_hotspot(tmp_path):
    """'yes' has positive evidence on the dark pixels but a bias that keeps it near 0 %."""
    served = _serve(tmp_path, _toy_model([[3.0, 0.0], [0.0, 1.0]], [5.0, -30.0]), "weak")
    image, _ = _upload()
    shown = explain.explain(served, image, class_name="yes")
    assert shown.probability < 0.01 and shown.no_evidence
    assert shown.heatmap.max() < 0.02
    assert "No evidence for this class" in shown.caption
    # The per-map normalisation the app used to apply would have painted it at full strength:
    prepared = served.prepare(image).image[None]
    assert explain.class_activation_map(served.keras_model, prepared, 1).max() == pytest.approx(1.0)


def test_the_prediction_comes_from_the_same_pass_and_matches_the_served_one(bright_model):
    image, _ = _upload()
    shown = explain.explain(bright_model, image)
    served = bright_model.predict(image)
    assert shown.prediction.top_class == served.top_class
    for c in bright_model.class_names:
        assert shown.prediction.probabilities[c] == pytest.approx(served.probabilities[c], abs=1e-5)


def test_an_unknown_class_is_refused_with_the_model_s_classes(bright_model):
    with pytest.raises(explain.ExplainError, match="no, yes"):
        explain.heatmap(bright_model, _upload()[0], class_name="glioma")


def test_the_card_section_reports_layer_pointing_game_and_shortcuts(bright_model, tmp_path):
    image, lesion = _upload()
    section = explain.explanation_section(bright_model, [image, image[:, ::-1].copy()],
                                          [lesion, lesion[:, ::-1].copy()], sheet_path=tmp_path / "sheet.png")
    assert section["layer"] == "evidence" and section["layer_size"] == [SIZE, SIZE]
    assert section["pointing_game"] == 1.0 and section["energy_in_mask"] > 0.3
    assert section["pointing_game_centre_baseline"] == 0.0  # the lesion is off-centre: the baseline misses
    assert section["deletion_auc"] < section["insertion_auc"]
    assert section["shortcut_audit"]["flagged"] is False
    assert (tmp_path / "sheet.png").stat().st_size > 0


def test_the_audit_command_writes_the_section_into_an_already_served_card(tmp_path, phantom_dataset):
    from core.models import build_classifier
    from core.serving import cards, load_model
    from training import audit_explanations

    root = phantom_dataset("breast_us", per_class=6, size=64)
    _serve(tmp_path, build_classifier("small_cnn", "breast_us", (SIZE, SIZE, 3)), "audited", "breast_us")
    audit_explanations.main(["--task", "breast_us", "--data", str(root), "--models-dir", str(tmp_path),
                             "--model", "audited"])
    card = cards.read_card(tmp_path / "breast_us" / "audited.card.json")
    section = card["explanations"]
    # At 32 px the last map (pool3) is 4 x 4: the 8 x 8 map before it is explained, and the card says so.
    assert (section["layer"], section["layer_size"]) == ("conv3", [8, 8])
    assert section["images"] > 0 and "shortcut_audit" in section
    assert (tmp_path / "breast_us" / section["shortcut_audit"]["contact_sheet"]).is_file()
    assert load_model("breast_us", "audited", models_dir=tmp_path).card["explanations"] == section


def test_the_layer_is_chosen_by_pointing_game_on_held_out_lesions(bright_model):
    image, lesion = _upload()
    selection = explain.layer_selection(bright_model, [image, image], [lesion, None], candidates=["evidence"])
    assert selection["chosen"] == "evidence" and selection["images"] == 1  # only images with a mask count
    (row,) = selection["candidates"]
    assert row["pointing_game"] == 1.0 and row["layer_size"] == [SIZE, SIZE] and row["energy_in_mask"] > 0.3


def test_choosing_a_layer_without_any_lesion_mask_says_so(bright_model):
    with pytest.raises(explain.ExplainError, match="None of the 1 images .* has a lesion mask"):
        explain.layer_selection(bright_model, [_upload()[0]], [None])


def test_the_audit_chooses_the_layer_on_the_validation_split_and_records_it(tmp_path, phantom_dataset):
    from core.models import build_classifier
    from core.serving import cards
    from training import audit_explanations

    root = phantom_dataset("breast_us", per_class=8, size=64)
    _serve(tmp_path, build_classifier("small_cnn", "breast_us", (SIZE, SIZE, 3)), "chosen", "breast_us")
    audit_explanations.main(["--task", "breast_us", "--data", str(root), "--models-dir", str(tmp_path),
                             "--model", "chosen", "--choose-layer"])
    section = cards.read_card(tmp_path / "breast_us" / "chosen.card.json")["explanations"]
    selection = section["layer_selection"]
    assert "val split" in selection["data"] and selection["images"] > 0
    assert section["layer"] == selection["chosen"] == max(
        selection["candidates"], key=lambda r: (r["pointing_game"], r["energy_in_mask"]))["layer"]
    assert "test split" in section["data"]


def test_the_audit_refuses_both_a_layer_and_choose_layer(tmp_path):
    from training import audit_explanations

    with pytest.raises(SystemExit) as stopped:
        audit_explanations.main(["--task", "breast_us", "--data", str(tmp_path), "--layer", "conv3",
                                 "--choose-layer"])
    assert stopped.value.code != 0
