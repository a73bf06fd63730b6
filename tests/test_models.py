"""Classifier registry: every architecture builds, predicts, saves and freezes as specified.

Table-driven over ``CLASSIFIERS`` like the Keras applications tests: all with
``weights=None`` at the smallest input each backbone accepts, built once per session.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
from keras.applications import imagenet_utils

from core.models import (
    CLASSIFIERS,
    FEATURES_LAYER,
    LOGITS_LAYER,
    NORMALIZATION_LAYER,
    PROBS_LAYER,
    BackboneNormalization,
    ImageNetWeightsUnavailable,
    backbone_layers,
    backbone_model,
    build_classifier,
    logits_model,
    model_info,
    set_backbone_trainable,
)
from core.models import imagenet as imagenet_module
from core.paths import KERAS_WEIGHTS_DIR
from core.tasks import TASKS, UnknownTaskError

TASK = TASKS["brain_mri_4class"]
TRANSFER = [name for name, spec in CLASSIFIERS.items() if spec.pretrained]
# Files over 150 MB (NASNet-Large 343 MB, ResNet-101 V2 170 MB) take 10-25 s to write and
# read back on two CPU cores; the same builder and layers are covered by the lighter entries.
HEAVY_TO_SAVE = {"nasnet_large", "resnet101v2"}


def small_size(name: str) -> int:
    return max(CLASSIFIERS[name].min_size, 32)


@pytest.fixture(scope="module")
def built():
    """name -> classifier at its smallest input, each built once for the whole module."""
    cache: dict[str, keras.Model] = {}

    def get(name: str) -> keras.Model:
        if name not in cache:
            size = small_size(name)
            cache[name] = build_classifier(name, TASK.id, (size, size, 3), weights=None)
        return cache[name]

    return get


def raw_images(model: keras.Model, n: int = 2, seed: int = 0) -> np.ndarray:
    shape = (n, *model.input_shape[1:])
    return np.random.default_rng(seed).uniform(0, 255, shape).astype("float32")


@pytest.mark.parametrize(
    "name",
    # NASNet-Large's eager forward pass alone takes ~10 s here; its structure is checked below.
    [pytest.param(n, marks=pytest.mark.slow) if n == "nasnet_large" else n for n in CLASSIFIERS],
)
def test_every_classifier_outputs_probabilities_for_the_task_classes(built, name):
    model = built(name)
    probs = np.asarray(model(raw_images(model), training=False))
    assert probs.shape == (2, TASK.num_classes)
    assert np.all(probs >= 0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("name", list(CLASSIFIERS))
def test_every_classifier_normalises_raw_pixels_itself_and_ends_in_the_shared_head(built, name):
    model = built(name)
    first = model.layers[1]
    assert isinstance(first, BackboneNormalization) and first.name == NORMALIZATION_LAYER
    assert first.mode == CLASSIFIERS[name].normalization
    assert len(model.get_layer(FEATURES_LAYER).output.shape) == 2
    logits = model.get_layer(LOGITS_LAYER)
    assert isinstance(logits, keras.layers.Dense) and logits.units == TASK.num_classes
    assert logits.activation is keras.activations.linear
    assert model.layers[-1].name == PROBS_LAYER and model.output_names == [PROBS_LAYER]


@pytest.mark.parametrize("name", TRANSFER)
def test_transfer_backbones_are_part_of_the_classifier_graph_not_a_nested_model(built, name):
    model = built(name)
    assert not any(isinstance(layer, keras.Model) for layer in model.layers)
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert len(convs) >= 5, "the backbone's convolutions must be layers of the classifier"
    spec = CLASSIFIERS[name]
    assert 0 < spec.fine_tune_layers < len(backbone_layers(model))


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=pytest.mark.slow) if n in HEAVY_TO_SAVE else n for n in CLASSIFIERS],
)
def test_saved_classifier_reloads_in_safe_mode_with_identical_outputs(built, name, tmp_path):
    model = built(name)
    path = tmp_path / f"{name}.keras"
    model.save(path)
    reloaded = keras.models.load_model(path, safe_mode=True)
    images = raw_images(model)
    np.testing.assert_allclose(
        np.asarray(reloaded(images, training=False)), np.asarray(model(images, training=False)),
        rtol=1e-5, atol=1e-6,
    )
    assert isinstance(reloaded.get_layer(NORMALIZATION_LAYER), BackboneNormalization)


def test_small_cnn_reproduces_the_thesis_parameter_count():
    """The thesis table, reproduced layer by layer, for 64x64x3 inputs and 2 classes:
    conv 3x3x3x32+32 = 896; conv 3x3x32x32+32 = 9,248 (twice); dense 8*8*32*32+32 = 65,568;
    dense 32*2+2 = 66. Total 85,026; the normalisation layer adds no parameters.
    """
    model = build_classifier("small_cnn", "brain_mri_binary", (64, 64, 3))
    expected = [0, 896, 0, 9248, 0, 9248, 0, 0, 8 * 8 * 32 * 32 + 32, 32 * 2 + 2, 0]
    assert [layer.count_params() for layer in model.layers[1:]] == expected
    assert model.count_params() == 85_026


def test_cnn_lstm_reads_feature_map_rows_with_two_lstms_of_40_units():
    model = build_classifier("cnn_lstm", "brain_mri_binary", (64, 64, 3))
    lstms = [layer for layer in model.layers if isinstance(layer, keras.layers.LSTM)]
    assert [(lstm.units, lstm.dropout) for lstm in lstms] == [(40, 0.2), (40, 0.2)]
    assert lstms[-1].name == FEATURES_LAYER
    assert model.get_layer("rows").output.shape[1] == 8  # 64 px after three 2x2 poolings


def test_logits_model_shares_weights_and_its_softmax_is_the_output():
    model = build_classifier("small_cnn", "breast_us", (32, 32, 3))
    images = raw_images(model)
    logits = np.asarray(logits_model(model)(images))
    np.testing.assert_allclose(keras.ops.softmax(logits).numpy(), np.asarray(model(images)), atol=1e-6)
    assert logits_model(model).get_layer("conv1").kernel is model.get_layer("conv1").kernel


@pytest.mark.parametrize("task_id", list(TASKS))
def test_output_size_follows_the_task(task_id):
    model = build_classifier("small_cnn", task_id, (32, 32, 3))
    assert model.output_shape == (None, TASKS[task_id].num_classes)


@pytest.mark.parametrize("mode", ["tf", "caffe", "torch"])
def test_normalisation_matches_keras_preprocess_input(mode):
    images = np.random.default_rng(1).uniform(0, 255, (2, 8, 8, 3)).astype("float32")
    ours = np.asarray(BackboneNormalization(mode)(images))
    np.testing.assert_allclose(ours, imagenet_utils.preprocess_input(images.copy(), mode=mode), rtol=1e-5, atol=1e-4)


def test_unit_normalisation_maps_pixels_to_zero_one():
    images = np.array([[[[0.0, 127.5, 255.0]]]], dtype="float32")
    np.testing.assert_allclose(np.asarray(BackboneNormalization("unit")(images)), [[[[0.0, 0.5, 1.0]]]])


def test_unknown_classifier_lists_the_known_ones():
    with pytest.raises(ValueError, match="Known classifiers: small_cnn, cnn_lstm, mobilenet_v2"):
        build_classifier("alexnet", TASK.id)


def test_unknown_task_is_refused():
    with pytest.raises(UnknownTaskError, match="Known tasks"):
        build_classifier("small_cnn", "chest_xray")


def test_too_small_input_names_the_backbones_minimum():
    with pytest.raises(ValueError, match=r"'inception_v3' needs inputs of at least 75x75 pixels; got 64x64"):
        build_classifier("inception_v3", TASK.id, (64, 64, 3))


def test_grey_scale_input_shape_is_refused_with_advice():
    with pytest.raises(ValueError, match="3 channels; got 1"):
        build_classifier("mobilenet_v2", TASK.id, (96, 96, 1))


def test_imagenet_is_refused_for_models_trained_from_scratch():
    with pytest.raises(ValueError, match="no ImageNet weights"):
        build_classifier("small_cnn", TASK.id, weights="imagenet")


def test_missing_weights_file_is_named(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        build_classifier("mobilenet_v2", TASK.id, (32, 32, 3), weights=tmp_path / "absent.weights.h5")


def test_offline_imagenet_request_says_which_file_to_fetch_and_where_to_put_it(monkeypatch):
    wanted = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_96_no_top.h5"
    if (KERAS_WEIGHTS_DIR / wanted).exists():
        pytest.skip(f"{wanted} is already cached, so nothing is downloaded")

    def offline(*args, **kwargs):
        import urllib.error
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    # Simulate no network the same way everywhere (CI may be online).
    monkeypatch.setattr(imagenet_module._keras_file_utils, "urlretrieve", offline)
    with pytest.raises(ImageNetWeightsUnavailable) as err:
        build_classifier("mobilenet_v2", TASK.id, (96, 96, 3), weights="imagenet")
    message = str(err.value)
    assert wanted in message
    assert f"https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v2/{wanted}" in message
    assert str(KERAS_WEIGHTS_DIR) in message and "weights='<path" in message
    assert not (KERAS_WEIGHTS_DIR / wanted).exists(), "no half-written weights file is left behind"


def test_a_saved_backbone_weights_file_loads_into_a_new_classifier(tmp_path):
    source = build_classifier("mobilenet_v2", "breast_us", (32, 32, 3))
    path = tmp_path / "mobilenet_v2_backbone.weights.h5"
    backbone_model(source).save_weights(path)
    loaded = build_classifier("mobilenet_v2", TASK.id, (32, 32, 3), weights=path)
    for ours, theirs in zip(backbone_model(loaded).get_weights(), backbone_model(source).get_weights()):
        np.testing.assert_array_equal(ours, theirs)


def test_a_weights_file_of_another_backbone_is_refused(tmp_path):
    path = tmp_path / "vgg19_backbone.weights.h5"
    backbone_model(build_classifier("vgg19", TASK.id, (32, 32, 3))).save_weights(path)
    with pytest.raises(ValueError, match="does not fit the 'mobilenet_v2' backbone"):
        build_classifier("mobilenet_v2", TASK.id, (32, 32, 3), weights=path)


def _bn_params(layers) -> int:
    return sum(layer.count_params() for layer in layers if isinstance(layer, keras.layers.BatchNormalization))


def test_two_phase_schedule_freezes_then_opens_the_top_blocks_with_batchnorm_frozen():
    model = build_classifier("mobilenet_v2", TASK.id, (32, 32, 3))
    head_params = 1280 * TASK.num_classes + TASK.num_classes

    assert set_backbone_trainable(model, False) == 0
    assert model_info(model)["trainable_params"] == head_params

    top = CLASSIFIERS["mobilenet_v2"].fine_tune_layers
    set_backbone_trainable(model, True, top_layers=top)
    opened = backbone_layers(model)[-top:]
    expected = head_params + sum(layer.count_params() for layer in opened) - _bn_params(opened)
    assert model_info(model)["trainable_params"] == expected
    assert not any(layer.trainable for layer in backbone_layers(model)[:-top])

    set_backbone_trainable(model, True, fine_tune_fraction=1.0)
    assert model_info(model)["trainable_params"] == model.count_params() - _bn_params(model.layers)
    assert not any(layer.trainable for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization))


def test_freezing_rejects_contradictory_settings():
    model = build_classifier("small_cnn", TASK.id, (32, 32, 3))
    with pytest.raises(ValueError, match="either top_layers or fine_tune_fraction"):
        set_backbone_trainable(model, True, top_layers=2, fine_tune_fraction=0.5)
    with pytest.raises(ValueError, match="only apply when trainable=True"):
        set_backbone_trainable(model, False, top_layers=2)


def test_small_cnn_flops_match_the_arithmetic_of_its_layers():
    model = build_classifier("small_cnn", "brain_mri_binary", (64, 64, 3))
    macs = (64 * 64 * 32 * 27) + (32 * 32 * 32 * 288) + (16 * 16 * 32 * 288) + (2048 * 32) + (32 * 2)
    info = model_info(model)
    assert info["params"] == info["trainable_params"] == 85_026
    assert math.isclose(info["flops"], 2 * macs, rel_tol=0.10)


def test_mobilenet_v2_flops_match_the_published_300_million_multiply_adds():
    info = model_info(build_classifier("mobilenet_v2", TASK.id, (224, 224, 3)))
    assert math.isclose(info["flops"], 2 * 300e6, rel_tol=0.10)


def test_a_backbone_trained_from_scratch_follows_batch_statistics_faster():
    """Pretrained statistics move slowly on purpose; random ones must not lag the weights."""
    from core.models.transfer import SCRATCH_BN_MOMENTUM

    model = build_classifier("mobilenet_v2", "breast_us", input_shape=(64, 64, 3), weights=None)
    momenta = {layer.momentum for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)}
    assert momenta == {SCRATCH_BN_MOMENTUM}
