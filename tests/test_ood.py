"""The out-of-distribution detector rejects what is far from every class and keeps the rest."""

import numpy as np
import pytest

from core.serving.ood import OODDetectorError, fit_detector, fit_ood_detector, image_statistics, load_detector


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
    np.testing.assert_allclose(again.features.score(test), detector.score(test))
    path.write_bytes(path.read_bytes() + b"x")
    with pytest.raises(OODDetectorError, match="does not match its model card"):
        load_detector(path, sha256=digest)


def test_features_of_the_wrong_width_get_a_clear_error(fitted):
    detector, _, _ = fitted
    with pytest.raises(OODDetectorError, match=r"shape \(n, 40\)"):
        detector.score(np.zeros((2, 7)))


def _grey_scans(rng, n, size=32):
    """Grey, centred bright discs on black with speckle: a stand-in for one modality."""
    yy, xx = np.mgrid[0:size, 0:size]
    out = []
    for _ in range(n):
        r = rng.uniform(0.3, 0.4) * size
        disc = ((yy - size / 2) ** 2 + (xx - size / 2) ** 2) < r ** 2
        grey = disc * rng.uniform(120, 180) + rng.normal(0, 12, (size, size))
        out.append(np.repeat(grey.clip(0, 255)[..., None], 3, axis=2))
    return np.stack(out).astype(np.uint8)


def test_blank_noise_and_coloured_images_are_refused_by_the_input_statistics_part():
    """Features alone miss an image that merely resembles a class; the picture itself gives it away."""
    rng = np.random.default_rng(1)
    train_img, val_img, test_img = _grey_scans(rng, 300), _grey_scans(rng, 100), _grey_scans(rng, 200)
    # Features that cannot tell anything apart: everything lands in the same cluster.
    def feats(n: int) -> np.ndarray:
        return rng.normal(0, 1, (n, 8))

    detector = fit_ood_detector(feats(300), np.arange(300) % 2, feats(100), train_img, val_img)
    assert detector.is_out_of_distribution(feats(200), test_img).mean() < 0.05
    blank = np.zeros((3, 32, 32, 3), np.uint8)
    noise = rng.integers(0, 256, (3, 32, 32, 3)).astype(np.uint8)
    purple = _grey_scans(rng, 3)
    purple[..., 1] //= 3  # the same shapes, stained like a smear
    for strangers in (blank, noise, purple):
        assert detector.is_out_of_distribution(feats(3), strangers).all()


def test_the_combined_detector_round_trips_through_its_file(tmp_path):
    rng = np.random.default_rng(2)
    imgs = _grey_scans(rng, 60)
    detector = fit_ood_detector(rng.normal(0, 1, (60, 5)), np.arange(60) % 3, rng.normal(0, 1, (20, 5)),
                                imgs, imgs[:20])
    digest = detector.save(tmp_path / "d.ood.npz")
    again = load_detector(tmp_path / "d.ood.npz", sha256=digest)
    probe_feats = rng.normal(0, 1, (4, 5))
    np.testing.assert_allclose(again.score(probe_feats, imgs[:4]), detector.score(probe_feats, imgs[:4]))
    assert image_statistics(imgs[:2]).shape == (2, 20)
