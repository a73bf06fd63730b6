"""Quality of synthetic images: fidelity (FID, KID), memorisation, diversity (MS-SSIM)."""

from __future__ import annotations

import cv2
import keras
import numpy as np
import pytest

from core import gan_quality as q
from core.gan_quality import GANQualityError

NOISE_LEVELS = (1.0, 2.0, 4.0)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_fid_of_a_feature_set_with_itself_is_zero(rng):
    feats = rng.standard_normal((300, 16)) * 3 + 1
    scale = np.trace(np.cov(feats, rowvar=False))
    assert q.frechet_distance(feats, feats) < 1e-6 * scale


def test_fid_grows_with_the_noise_added_to_the_generated_features(rng):
    real = rng.standard_normal((300, 16))
    fids = [q.frechet_distance(real, real + rng.standard_normal(real.shape) * s) for s in (0.5, 1.0, 2.0)]
    assert 0 < fids[0] < fids[1] < fids[2]


def test_fid_stays_finite_with_fewer_images_than_feature_dimensions(rng):
    # Typical for small medical classes: 32 images, 64-dimensional features.
    feats = rng.standard_normal((32, 64))
    other = rng.standard_normal((32, 64)) + 0.5
    assert q.frechet_distance(feats, feats) < 1e-6 * np.trace(np.cov(feats, rowvar=False))
    assert np.isfinite(q.frechet_distance(feats, other)) and q.frechet_distance(feats, other) > 0


def test_fid_refuses_features_from_different_layers(rng):
    with pytest.raises(GANQualityError, match="same classifier layer"):
        q.frechet_distance(rng.standard_normal((10, 8)), rng.standard_normal((10, 9)))
    with pytest.raises(GANQualityError, match=r"\(n, d\)"):
        q.frechet_distance(rng.standard_normal(10), rng.standard_normal(10))


def test_kid_is_about_zero_for_matching_sets_and_grows_with_noise(rng):
    real = rng.standard_normal((600, 16))
    same_distribution = rng.standard_normal((600, 16))
    kids = [q.kernel_inception_distance(real, same_distribution + rng.standard_normal(real.shape) * s)
            for s in NOISE_LEVELS]
    assert 0 < kids[0] < kids[1] < kids[2]
    # Unbiased: ~0 for two samples of one distribution, and for the very same set only
    # slightly negative (the estimate leaves out each sample's comparison with itself).
    assert abs(q.kernel_inception_distance(real, same_distribution)) < 0.25 * kids[0]
    identical = q.kernel_inception_distance(real, real)
    assert identical <= 0 and abs(identical) < 0.25 * kids[0]


def test_kid_metric_matches_the_function_and_averages_its_updates(rng):
    real, generated = rng.standard_normal((64, 8)), rng.standard_normal((48, 8)) * 2
    metric = q.KernelInceptionDistance()
    metric.update_state(real, generated)
    assert float(metric.result()) == pytest.approx(q.kernel_inception_distance(real, generated), rel=1e-4)
    metric.update_state(real, real + 5.0)
    expected = (q.kernel_inception_distance(real, generated) + q.kernel_inception_distance(real, real + 5.0)) / 2
    assert float(metric.result()) == pytest.approx(expected, rel=1e-4)
    metric.reset_state()
    assert float(metric.result()) == 0.0


def _tiny_classifier() -> keras.Model:
    inp = keras.Input((32, 32, 3))
    x = keras.layers.Rescaling(1 / 255.0)(inp)
    x = keras.layers.Conv2D(4, 3, activation="relu")(x)
    feats = keras.layers.GlobalAveragePooling2D(name="features")(x)
    return keras.Model(inp, keras.layers.Dense(2, activation="softmax", name="probs")(feats))


def test_classifier_features_resize_grey_images_and_match_their_rgb_copies(rng):
    model = _tiny_classifier()
    grey = rng.integers(0, 256, (5, 64, 64, 1), dtype=np.uint8)
    feats = q.classifier_features(model, grey, batch_size=2)
    assert feats.shape == (5, 4) and feats.dtype == np.float32
    rgb = np.repeat(grey, 3, axis=-1)
    np.testing.assert_allclose(feats, q.classifier_features(model, rgb), rtol=1e-5, atol=1e-6)
    assert not np.allclose(feats[0], feats[1])


def test_classifier_features_name_the_missing_layer():
    with pytest.raises(GANQualityError, match="no layer named 'penultimate'"):
        q.classifier_features(_tiny_classifier(), np.zeros((2, 32, 32), np.uint8), layer="penultimate")


def test_a_generated_copy_of_a_real_image_is_found_at_distance_zero(rng, tmp_path):
    real = rng.integers(0, 256, (20, 64, 64, 1), dtype=np.uint8)
    generated = rng.integers(0, 256, (10, 64, 64, 1), dtype=np.uint8)
    generated[3] = real[7]
    distances, indices = q.nearest_real_distances(generated, real)
    assert distances.shape == indices.shape == (10,)
    assert distances[3] == 0.0 and indices[3] == 7
    assert np.all(np.delete(distances, 3) > 0.05)

    out = q.save_closest_pairs_png(generated, real, distances, indices, tmp_path / "qc" / "pairs.png", k=4)
    picture = cv2.imread(str(out))
    assert picture is not None and picture.shape[1] > picture.shape[0]
    assert [p.name for p in out.parent.iterdir()] == ["pairs.png"]  # no temp file left


def test_memorisation_check_compares_feature_vectors_as_given(rng):
    real = rng.standard_normal((30, 8))
    distances, indices = q.nearest_real_distances(real[[4, 9]] + 1e-3, real)
    assert indices.tolist() == [4, 9] and np.all(distances < 1e-2)


def test_closest_pairs_refuses_distances_from_another_set(rng, tmp_path):
    images = rng.integers(0, 256, (4, 32, 32), dtype=np.uint8)
    with pytest.raises(GANQualityError, match="one entry per generated image"):
        q.save_closest_pairs_png(images, images, np.zeros(3), np.zeros(3, int), tmp_path / "p.png")
    assert not (tmp_path / "p.png").exists()


def test_ms_ssim_is_one_for_identical_images_and_low_for_independent_noise(rng):
    one = rng.integers(0, 256, (1, 64, 64, 1), dtype=np.uint8)
    assert q.mean_pairwise_ms_ssim(np.repeat(one, 5, axis=0)) == pytest.approx(1.0, abs=1e-5)
    noise = rng.integers(0, 256, (8, 64, 64, 3), dtype=np.uint8)
    assert q.mean_pairwise_ms_ssim(noise, max_pairs=10, seed=1) < 0.2


def test_ms_ssim_uses_fewer_scales_on_small_images():
    assert len(q.ms_ssim_power_factors(224, 224)) == 5
    assert len(q.ms_ssim_power_factors(64, 64)) == 3
    assert len(q.ms_ssim_power_factors(32, 32)) == 2
    assert sum(q.ms_ssim_power_factors(64, 64)) == pytest.approx(1.0)
    with pytest.raises(GANQualityError, match="at least 11 px"):
        q.ms_ssim_power_factors(8, 8)


def test_ms_ssim_needs_at_least_two_images():
    with pytest.raises(GANQualityError, match="at least 2 images"):
        q.mean_pairwise_ms_ssim(np.zeros((1, 64, 64), np.uint8))
