"""Temperature scaling makes an overconfident model's probabilities honest without changing its answers."""

import numpy as np
import pytest

from core.evaluation.metrics import expected_calibration_error
from core.serving.calibration import CalibrationError, apply_temperature, calibrate, fit_temperature


def _calibrated_logits(n=3000, classes=3, seed=0):
    """Logits whose softmax is the true label distribution (labels are drawn from it)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0.0, 1.5, size=(n, classes))
    probs = apply_temperature(logits, 1.0)
    labels = np.array([rng.choice(classes, p=p) for p in probs])
    return logits, labels


def test_overconfident_logits_get_a_temperature_above_one_and_a_lower_ece():
    logits, labels = _calibrated_logits()
    overconfident = 5.0 * logits  # same ranking, so the same errors, but far too sure
    t = fit_temperature(overconfident, labels)
    assert t > 1.0
    assert t == pytest.approx(5.0, rel=0.15)
    before = expected_calibration_error(labels, apply_temperature(overconfident, 1.0))
    after = expected_calibration_error(labels, apply_temperature(overconfident, t))
    assert after < before / 2


def test_already_calibrated_logits_keep_a_temperature_near_one():
    logits, labels = _calibrated_logits(seed=1)
    assert fit_temperature(logits, labels) == pytest.approx(1.0, abs=0.15)


def test_temperature_changes_probabilities_but_never_the_predicted_class():
    logits, _ = _calibrated_logits(n=200)
    soft = apply_temperature(logits, 3.0)
    sharp = apply_temperature(logits, 1.0)
    np.testing.assert_array_equal(soft.argmax(axis=1), sharp.argmax(axis=1))
    np.testing.assert_allclose(soft.sum(axis=1), 1.0)
    assert soft.max(axis=1).mean() < sharp.max(axis=1).mean()


def test_calibrate_reports_ece_on_the_split_it_was_not_fitted_on():
    val_logits, val_y = _calibrated_logits(n=1000, seed=2)
    test_logits, test_y = _calibrated_logits(n=1000, seed=3)
    result = calibrate(4.0 * val_logits, val_y, 4.0 * test_logits, test_y)
    assert result["ece_split"] == "test"
    assert result["temperature"] > 1.0
    assert result["ece_after"] < result["ece_before"]


def test_bad_inputs_get_clear_errors():
    with pytest.raises(CalibrationError, match="positive"):
        apply_temperature(np.zeros((2, 3)), 0.0)
    with pytest.raises(CalibrationError, match="shape"):
        fit_temperature(np.zeros(5), np.zeros(5, dtype=int))
    with pytest.raises(CalibrationError, match="integer labels"):
        fit_temperature(np.zeros((4, 3)), np.zeros(3, dtype=int))
    with pytest.raises(CalibrationError, match="NaN"):
        fit_temperature(np.full((2, 3), np.nan), np.zeros(2, dtype=int))
