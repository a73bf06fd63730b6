"""Quality of synthetic images: fidelity (FID, KID), memorisation, diversity (MS-SSIM), the fixed extractor."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from core import paths
from core.gan import memorisation as m
from core.gan import quality as q
from core.gan.quality import GANQualityError

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


def test_fid_refuses_features_from_different_extractors(rng):
    with pytest.raises(GANQualityError, match="same feature extractor"):
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


def test_the_fixed_extractor_names_the_missing_weight_file_and_where_it_looked(tmp_path):
    from core.gan.features import FeatureExtractor

    with pytest.raises(GANQualityError, match=r"mobilenet_2_5_224_tf_no_top\.h5.*MEDIMG_WEIGHTS"):
        FeatureExtractor(tmp_path / "empty")


@pytest.mark.realdata
def test_the_fixed_extractor_gives_256_features_and_grey_equals_its_rgb_copy(rng):
    from core.gan.features import WEIGHTS_FILE, FeatureExtractor

    if not (paths.WEIGHTS_DIR / WEIGHTS_FILE).is_file():
        pytest.skip(f"{WEIGHTS_FILE} is not in $MEDIMG_WEIGHTS ({paths.WEIGHTS_DIR})")
    extractor = FeatureExtractor()
    grey = rng.integers(0, 256, (3, 64, 64, 1), dtype=np.uint8)
    feats = extractor(grey, batch_size=2)
    assert feats.shape == (3, 256) and feats.dtype == np.float32 and not np.allclose(feats[0], feats[1])
    np.testing.assert_allclose(feats, extractor(np.repeat(grey, 3, axis=-1)), rtol=1e-5, atol=1e-5)
    assert extractor.description["weights_file"] == WEIGHTS_FILE and len(extractor.description["weights_sha256"]) == 64


def test_a_generated_copy_of_a_real_image_is_found_at_distance_zero(rng, tmp_path):
    real = rng.integers(0, 256, (20, 64, 64, 1), dtype=np.uint8)
    generated = rng.integers(0, 256, (10, 64, 64, 1), dtype=np.uint8)
    generated[3] = real[7]
    distances, indices = m.nearest_real_distances(generated, real)
    assert distances.shape == indices.shape == (10,)
    assert distances[3] == 0.0 and indices[3] == 7
    assert np.all(np.delete(distances, 3) > 0.05)

    out = m.save_closest_pairs_png(generated, real, distances, indices, tmp_path / "qc" / "pairs.png", k=4)
    picture = cv2.imread(str(out))
    assert picture is not None and picture.shape[1] > picture.shape[0]
    assert [p.name for p in out.parent.iterdir()] == ["pairs.png"]  # no temp file left


def test_memorisation_check_compares_feature_vectors_as_given(rng):
    real = rng.standard_normal((30, 8))
    distances, indices = m.nearest_real_distances(real[[4, 9]] + 1e-3, real)
    assert indices.tolist() == [4, 9] and np.all(distances < 1e-2)


def test_closest_pairs_refuses_distances_from_another_set(rng, tmp_path):
    images = rng.integers(0, 256, (4, 32, 32), dtype=np.uint8)
    with pytest.raises(GANQualityError, match="one entry per generated image"):
        m.save_closest_pairs_png(images, images, np.zeros(3), np.zeros(3, int), tmp_path / "p.png")
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


def test_a_generator_that_copies_training_images_has_a_high_memorised_fraction(rng):
    real = rng.integers(0, 256, (40, 32, 32, 1), dtype=np.uint8)
    copies = real[:10].copy()
    novel = rng.integers(0, 256, (20, 32, 32, 1), dtype=np.uint8)  # new images like the real ones
    reference = m.real_to_real_distances(real)
    assert reference.shape == (40,) and np.all(reference > 0)
    fraction, threshold = m.memorised_fraction(m.nearest_real_distances(copies, real)[0], reference)
    assert fraction == 1.0 and threshold > 0
    # The threshold is the 5th percentile of real-to-real distances: new real-like images are rarely flagged.
    assert m.memorised_fraction(m.nearest_real_distances(novel, real)[0], reference)[0] <= 0.2


def test_real_to_real_distances_leave_each_image_out_but_see_its_duplicates(rng):
    real = rng.integers(0, 256, (6, 32, 32), dtype=np.uint8)
    real[5] = real[2]  # an exact duplicate, as Br35H has
    distances = m.real_to_real_distances(real)
    assert distances[2] == distances[5] == 0.0 and np.all(np.delete(distances, [2, 5]) > 0)
