"""Heat maps: every classifier can be explained, maps point at the evidence, overlays blend."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from core import explain
from core.explain import CAM_METHODS, ExplainError, class_activation_map, engine, find_target_layer, overlay
from core.models import CLASSIFIERS, build_classifier

TASK_ID = "breast_us"


def _images(shape, n=1, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, (n, *shape)).astype("float32")


def _assert_heatmap(cam: np.ndarray, n: int, size: tuple[int, int]) -> None:
    assert cam.shape == (n, *size) and cam.dtype == np.float32
    assert np.isfinite(cam).all() and cam.min() >= 0.0 and cam.max() <= 1.0


@pytest.mark.parametrize(
    "name",
    # NASNet-Large takes ~10 s to build and explain here; it shares the transfer builder.
    [pytest.param(n, marks=pytest.mark.slow) if n == "nasnet_large" else n for n in CLASSIFIERS],
)
def test_gradcam_reaches_inside_every_registry_classifier(name):
    """The guard against "Graph disconnected": the backbone is part of the classifier graph."""
    size = max(CLASSIFIERS[name].min_size, 32)
    model = build_classifier(name, TASK_ID, (size, size, 3))
    cam = class_activation_map(model, _images((size, size, 3)), class_index=1)
    _assert_heatmap(cam, 1, (size, size))


@pytest.fixture(scope="module")
def small_cnn():
    return build_classifier("small_cnn", TASK_ID, (32, 32, 3))


@pytest.mark.parametrize("method", list(CAM_METHODS))
def test_every_method_gives_one_map_per_image_at_input_resolution(small_cnn, method):
    cam = class_activation_map(small_cnn, _images((32, 32, 3), n=2), class_index=[0, 2], method=method)
    _assert_heatmap(cam, 2, (32, 32))


def test_a_single_image_without_batch_axis_is_accepted(small_cnn):
    _assert_heatmap(class_activation_map(small_cnn, _images((32, 32, 3))[0], 0), 1, (32, 32))


def test_target_layer_is_the_last_feature_map_not_the_normalisation():
    assert find_target_layer(build_classifier("small_cnn", TASK_ID, (32, 32, 3))) == "pool3"
    # The LSTM reads rows of a reshaped map; the last 4-D layer is the pooling before it.
    assert find_target_layer(build_classifier("cnn_lstm", TASK_ID, (32, 32, 3))) == "pool3"
    assert find_target_layer(build_classifier("mobilenet_v2", TASK_ID, (32, 32, 3))) == "out_relu"


def _foreign_model() -> keras.Model:
    """A plain Keras conv net with a softmax Dense output and auto-generated layer names."""
    return keras.Sequential([
        keras.Input((32, 32, 3)),
        keras.layers.Rescaling(1 / 255),
        keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
        # Max pooling learns "is there a bright square anywhere" in a few epochs.
        keras.layers.GlobalMaxPooling2D(),
        keras.layers.Dense(2, activation="softmax"),
    ])


@pytest.mark.parametrize("method", ["gradcam", "scorecam"])
def test_a_keras_file_the_project_did_not_build_can_be_explained(tmp_path, method):
    path = tmp_path / "foreign.keras"
    _foreign_model().save(path)
    model = keras.models.load_model(path, safe_mode=True)
    cam = class_activation_map(model, _images((32, 32, 3)), class_index=1, method=method)
    _assert_heatmap(cam, 1, (32, 32))


def _square_images(n: int, rng: np.random.Generator):
    """Noise images; label 1 images carry a bright 8x8 square in a random half."""
    images = rng.uniform(0, 60, (n, 32, 32, 3)).astype("float32")
    labels = np.arange(n) % 2
    for i in np.flatnonzero(labels):
        top, left = rng.integers(4, 20), rng.integers(2, 6) + 16 * rng.integers(0, 2)
        images[i, top:top + 8, left:left + 8] = 255.0
    return images, labels


def test_gradcam_of_a_trained_model_peaks_on_the_evidence():
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    model = _foreign_model()
    probe = np.full((2, 32, 32, 3), 30.0, dtype="float32")
    probe[0, 12:20, 3:11] = 255.0    # square in the left half
    probe[1, 12:20, 21:29] = 255.0   # square in the right half
    class_activation_map(model, probe, 1)  # explained once untrained: later maps must see the training

    images, labels = _square_images(256, rng)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(images, labels, epochs=6, batch_size=32, verbose=0)
    assert history.history["accuracy"][-1] > 0.9, "the toy model must learn the square first"

    cam = class_activation_map(model, probe, class_index=1)
    left, right = cam[:, :, :16].sum(axis=(1, 2)), cam[:, :, 16:].sum(axis=(1, 2))
    assert left[0] > 2 * right[0], "square on the left: the map must weigh the left half"
    assert right[1] > 2 * left[1], "square on the right: the map must weigh the right half"


def test_a_model_without_evidence_gives_an_all_zero_map_not_nan():
    model = keras.Sequential([
        keras.Input((16, 16, 3)),
        keras.layers.Conv2D(4, 3, padding="same", kernel_initializer="zeros", activation="relu"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(2, activation="softmax"),
    ])
    for method in CAM_METHODS:
        cam = class_activation_map(model, _images((16, 16, 3)), 0, method=method)
        assert cam.shape == (1, 16, 16) and not cam.any()


def test_explainer_is_prepared_once_per_model_and_method(small_cnn):
    class_activation_map(small_cnn, _images((32, 32, 3)), 0)
    layer = engine.explained_layer(small_cnn)
    prepared = engine._CACHE[small_cnn][(layer, "gradcam")]
    class_activation_map(small_cnn, _images((32, 32, 3), seed=1), 1)
    assert engine._CACHE[small_cnn][(layer, "gradcam")] is prepared


def test_a_nested_sub_model_is_refused_with_advice():
    inner = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Conv2D(4, 3)], name="backbone")
    outer = keras.Sequential([keras.Input((16, 16, 3)), inner, keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(2, activation="softmax")])
    with pytest.raises(ExplainError, match="nested sub-model"):
        class_activation_map(outer, _images((16, 16, 3)), 0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "lime"}, "choose one of: gradcam, gradcam\\+\\+, scorecam"),
        ({"class_index": 3}, r"integer in \[0, 3\)"),
        ({"layer": "logits"}, "does not output a 4-D feature map"),
        ({"layer": "nope"}, "no layer named 'nope'"),
        ({"batch": np.zeros((1, 64, 64, 3), "float32")}, r"expects images of shape \(32, 32, 3\)"),
    ],
)
def test_bad_requests_are_refused_with_a_clear_message(small_cnn, kwargs, message):
    args = {"batch": _images((32, 32, 3)), "class_index": 0, **kwargs}
    with pytest.raises(ExplainError, match=message):
        class_activation_map(small_cnn, **args)


def test_a_model_without_feature_maps_cannot_be_explained():
    dense = keras.Sequential([keras.Input((8,)), keras.layers.Dense(2, activation="softmax")])
    with pytest.raises(ExplainError, match="no layer with a 4-D"):
        find_target_layer(dense)


def test_overlay_is_an_rgb_uint8_image_of_the_original_size():
    grey = np.random.default_rng(0).integers(0, 256, (40, 30), dtype=np.uint8)
    blended = overlay(grey, np.random.default_rng(1).uniform(size=(8, 8)))
    assert blended.shape == (40, 30, 3) and blended.dtype == np.uint8


def test_overlay_with_alpha_zero_returns_the_image_unchanged():
    image = np.random.default_rng(0).integers(0, 256, (20, 24, 3), dtype=np.uint8)
    np.testing.assert_array_equal(overlay(image, np.ones((5, 5)), alpha=0.0), image)


def test_overlay_with_alpha_one_shows_only_the_colour_map():
    image = np.zeros((10, 10, 3), dtype=np.uint8)
    hot = overlay(image, np.ones((10, 10)), alpha=1.0, colormap="jet")
    cold = overlay(image, np.zeros((10, 10)), alpha=1.0, colormap="jet")
    assert hot[..., 0].min() > 100 and hot[..., 2].max() < 10    # jet's top is red
    assert cold[..., 2].min() > 100 and cold[..., 0].max() < 10  # jet's bottom is blue


@pytest.mark.parametrize(
    ("image", "heatmap", "kwargs", "message"),
    [
        (np.zeros((8, 8, 3), np.float32), np.zeros((4, 4)), {}, "uint8"),
        (np.zeros((8, 8, 3), np.uint8), np.zeros((1, 4, 4)), {}, "2-D"),
        (np.zeros((8, 8, 3), np.uint8), np.zeros((4, 4)), {"alpha": 1.5}, r"\[0, 1\]"),
        (np.zeros((8, 8, 3), np.uint8), np.zeros((4, 4)), {"colormap": "rainbow"}, "Unknown colour map"),
    ],
)
def test_overlay_refuses_bad_input(image, heatmap, kwargs, message):
    with pytest.raises(ExplainError, match=message):
        overlay(image, heatmap, **kwargs)


def test_the_finest_map_of_at_least_7x7_is_explained_not_the_4x4_blob():
    """MobileNetV2 at 128 px ends on a 4 x 4 map; the heat map comes from an 8 x 8 one."""
    model = build_classifier("mobilenet_v2", TASK_ID, (128, 128, 3))
    layer = engine.explained_layer(model)
    assert tuple(model.get_layer(layer).output.shape[1:3]) == (8, 8)
    assert find_target_layer(model) == "out_relu"  # the last map, 4 x 4, is not the one used
    _, _, cams, used = engine.run_pass(model, _images((128, 128, 3)), None)
    assert used == layer and cams.shape == (1, 8, 8)
    # A small CNN whose last map is already 16 x 16 keeps it.
    assert engine.explained_layer(build_classifier("small_cnn", TASK_ID, (128, 128, 3))) == "pool3"


def _reference(model, batch, index, layer, visualizer):
    """tf-keras-vis on the logits view, at the layer's resolution, unnormalised."""
    from tf_keras_vis.utils.scores import CategoricalScore

    logits = keras.Model(model.inputs, model.get_layer("logits").output)
    cam = visualizer(logits)(CategoricalScore([index] * len(batch)), batch, penultimate_layer=layer,
                             seek_penultimate_conv_layer=False, expand_cam=False, normalize_cam=False)
    return np.asarray(cam, np.float32)


@pytest.mark.parametrize("method", ["gradcam", "gradcam++"])
def test_the_compiled_pass_equals_the_tf_keras_vis_reference(small_cnn, method):
    from tf_keras_vis.gradcam import Gradcam
    from tf_keras_vis.gradcam_plus_plus import GradcamPlusPlus

    batch = _images((32, 32, 3), n=3, seed=4)
    _, _, ours, layer = engine.run_pass(small_cnn, batch, 1, method)
    reference = _reference(small_cnn, batch, 1, layer, {"gradcam": Gradcam, "gradcam++": GradcamPlusPlus}[method])
    assert ours.shape == reference.shape
    for a, b in zip(ours, reference):  # Grad-CAM++ differs by exp(score), a per-image factor
        scale = b.max() / a.max() if method == "gradcam++" and a.max() > 0 else 1.0
        np.testing.assert_allclose(a * scale, b, rtol=1e-3, atol=1e-4 * max(b.max(), 1e-6))


def test_scorecam_agrees_with_the_tf_keras_vis_reference_in_shape_of_the_map(small_cnn):
    from tf_keras_vis.scorecam import Scorecam

    batch = _images((32, 32, 3), n=2, seed=5)
    _, _, ours, layer = engine.run_pass(small_cnn, batch, 0, "scorecam")
    logits = keras.Model(small_cnn.inputs, small_cnn.get_layer("logits").output)
    from tf_keras_vis.utils.scores import CategoricalScore
    reference = np.asarray(Scorecam(logits)(CategoricalScore([0, 0]), batch, penultimate_layer=layer,
                                           seek_penultimate_conv_layer=False, expand_cam=False,
                                           normalize_cam=False, max_N=32), np.float32)
    for a, b in zip(ours, reference):
        if a.max() > 0 and b.max() > 0:  # masks are up-sampled slightly differently: compare the pattern
            assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.9


def test_a_new_cam_method_is_one_registry_entry_and_the_app_offers_it(small_cnn, monkeypatch):
    import tensorflow as tf

    from core.explain.registry import CamMethod

    def builder(graph):
        @tf.function(input_signature=graph.signature)
        def cam_pass(images, class_index):
            fmap, logits, features = graph.outputs(images)
            return logits, features, tf.reduce_mean(tf.nn.relu(fmap), axis=-1)  # "mean activation" CAM
        return cam_pass

    monkeypatch.setitem(CAM_METHODS, "mean_activation", CamMethod("Mean activation", builder))
    assert explain.labels()["mean_activation"] == "Mean activation"
    _assert_heatmap(class_activation_map(small_cnn, _images((32, 32, 3)), 0, method="mean_activation"), 1, (32, 32))


def test_importing_the_explain_package_does_not_load_tensorflow():
    import subprocess
    import sys

    code = ("import sys, core.explain as e; e.overlay; e.labels(); "
            "sys.exit(int('tensorflow' in sys.modules or 'keras' in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_the_overlay_can_carry_a_colour_bar_that_says_what_red_and_blue_mean():
    image = np.zeros((120, 100, 3), np.uint8)
    drawn = overlay(image, np.zeros((120, 100)), legend=("strongest evidence", "none"))
    assert drawn.shape[0] == 120 and drawn.shape[1] > 100
    bar = drawn[:, 100:]
    column = bar[:, 10]
    coloured = column[(column.max(axis=1) - column.min(axis=1)) > 60]  # the ramp, not the white margin
    assert coloured[0, 0] > coloured[0, 2] and coloured[-1, 2] > coloured[-1, 0]  # red on top, blue at bottom
