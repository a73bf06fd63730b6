"""The out-of-distribution detector rejects what is far from every class and keeps the rest."""

import numpy as np
import pytest

from core.ood import OODDetectorError, fit_detector, load_detector


def _clusters(rng, n_per_class, centres, spread=1.0):
    feats = np.concatenate([rng.normal(c, spread, size=(n_per_class, len(c))) for c in centres])
    labels = np.repeat(np.arange(len(centres)), n_per_class)
    return feats, labels


@pytest.fixture()
def fitted():
    rng = np.random.default_rng(0)
    centres = [np.full(40, 0.0), np.full(40, 6.0), np.r_[np.full(20, 6.0), np.full(20, -6.0)]]
    train, labels = _clusters(rng, 60, centres)
    val, _ = _clusters(rng, 30, centres)
    test, _ = _clusters(rng, 30, centres)
    return fit_detector(train, labels, val), test, rng


def test_in_distribution_features_are_kept(fitted):
    detector, test, _ = fitted
    assert detector.is_out_of_distribution(test).mean() < 0.05


def test_features_far_from_every_class_are_rejected(fitted):
    detector, _, rng = fitted
    strangers = rng.normal(30.0, 1.0, size=(20, 40))
    assert detector.is_out_of_distribution(strangers).all()
    assert detector.score(strangers).min() > detector.threshold


def test_saved_detector_round_trips_and_refuses_a_modified_file(fitted, tmp_path):
    detector, test, _ = fitted
    path = tmp_path / "m.ood.npz"
    digest = detector.save(path)
    again = load_detector(path, sha256=digest)
    np.testing.assert_allclose(again.score(test), detector.score(test))
    path.write_bytes(path.read_bytes() + b"x")
    with pytest.raises(OODDetectorError, match="does not match its model card"):
        load_detector(path, sha256=digest)


def test_features_of_the_wrong_width_get_a_clear_error(fitted):
    detector, _, _ = fitted
    with pytest.raises(OODDetectorError, match=r"shape \(n, 40\)"):
        detector.score(np.zeros((2, 7)))
