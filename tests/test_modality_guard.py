"""The modality guard accepts images like its training images and refuses other kinds, by design and on disk."""

from __future__ import annotations

import numpy as np
import pytest

from core.phantoms.generate import make_image
from core.serving import ood_probes
from core.serving.modality_guard import ModalityGuard, fit_modality_guard
from core.serving.ood import OODDetectorError, load_detector

SIZE = 64


def _brains(n, seed):
    rng = np.random.default_rng(seed)
    images = np.stack([make_image("brain_mri_4class", ("glioma", "notumor")[i % 2], rng, size=SIZE).image
                       for i in range(n)])
    # stand-in penultimate features: a coarse, class-agnostic description of the picture
    features = images.reshape(n, 8, SIZE // 8, 8, SIZE // 8, 3).mean(axis=(2, 4, 5)).reshape(n, -1)
    return features.astype(np.float32), images


def _features_of(images):
    n = len(images)
    return images.reshape(n, 8, SIZE // 8, 8, SIZE // 8, 3).mean(axis=(2, 4, 5)).reshape(n, -1).astype(np.float32)


@pytest.fixture(scope="module")
def guard():
    train_f, train_i = _brains(60, 0)
    val_f, val_i = _brains(100, 1)
    negatives = np.stack([im for _, im in ood_probes.probe_images("brain_mri_4class", per_kind=8, seed=1, size=SIZE)])
    return fit_modality_guard(train_f, train_i, val_f, val_i, _features_of(negatives), negatives)


def test_new_images_of_the_modality_are_accepted(guard):
    features, images = _brains(40, 2)
    assert guard.is_out_of_distribution(features, images).mean() <= 0.1


@pytest.mark.parametrize("kind", list(ood_probes.PROBES))
def test_other_kinds_of_image_are_refused(guard, kind):
    probes = np.stack([im for k, im in ood_probes.probe_images("brain_mri_4class", per_kind=10, seed=0, size=SIZE)
                       if k == kind])
    assert guard.is_out_of_distribution(_features_of(probes), probes).mean() >= 0.9


def test_the_guard_scores_the_same_after_a_round_trip_through_its_file(guard, tmp_path):
    features, images = _brains(10, 3)
    guard.save(tmp_path / "guard.ood.npz")
    loaded = load_detector(tmp_path / "guard.ood.npz")
    assert isinstance(loaded, ModalityGuard)
    np.testing.assert_allclose(loaded.score(features, images), guard.score(features, images), rtol=1e-2)
    assert all(np.isfinite(t) and t > 0 for t in loaded.thresholds)


def test_the_guard_needs_the_images_and_enough_training_images(guard):
    features, images = _brains(3, 4)
    with pytest.raises(OODDetectorError, match="prepared images"):
        guard.score(features, None)
    with pytest.raises(OODDetectorError, match="training"):
        fit_modality_guard(features, images, features, images)


def test_the_guard_file_holds_no_pictures_of_the_training_images(guard, tmp_path):
    guard.save(tmp_path / "guard.ood.npz")
    with np.load(tmp_path / "guard.ood.npz") as npz:
        stored = [key for key in npz.files if key.startswith("ref_")]
        assert stored == ["ref_features", "ref_statistics"]
        assert all(npz[key].shape[1] <= 64 for key in stored)  # 48 stand-in features, 20 statistics: no thumbnails
