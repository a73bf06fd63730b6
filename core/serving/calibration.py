"""Temperature scaling (Guo et al. 2017): one scalar T that makes softmax confidences honest.

Fine-tuned CNNs are overconfident: a "97 %" that is right 80 % of the time misleads a
clinician. Dividing the logits by a T > 1 fitted on the validation split softens the
probabilities without changing any prediction (the argmax is invariant to T).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax

from core.evaluation.metrics import expected_calibration_error

#: Search range of T; wider than any sensible network needs, narrow enough to stay numerically safe.
T_BOUNDS = (0.05, 20.0)


class CalibrationError(ValueError):
    """Logits, labels or a temperature that cannot be used for calibration."""


def _check_logits(logits) -> np.ndarray:
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim != 2 or logits.shape[0] == 0 or logits.shape[1] < 2:
        raise CalibrationError(f"Expected logits of shape (n, classes) with n >= 1 and classes >= 2, "
                               f"got {logits.shape}.")
    if not np.all(np.isfinite(logits)):
        raise CalibrationError("Logits contain NaN or infinite values; the model output is broken.")
    return logits


def _check_labels(y_true, logits: np.ndarray) -> np.ndarray:
    y_true = np.asarray(y_true)
    if y_true.shape != (logits.shape[0],) or not np.issubdtype(y_true.dtype, np.integer):
        raise CalibrationError(f"Expected {logits.shape[0]} integer labels (one per logit row), "
                               f"got shape {y_true.shape} of {y_true.dtype}.")
    if y_true.min() < 0 or y_true.max() >= logits.shape[1]:
        raise CalibrationError(f"Labels must lie in 0..{logits.shape[1] - 1}.")
    return y_true


def _nll(logits: np.ndarray, y_true: np.ndarray, temperature: float) -> float:
    """Mean negative log-likelihood of the true class at temperature T."""
    log_p = log_softmax(logits / temperature, axis=1)
    return float(-log_p[np.arange(len(y_true)), y_true].mean())


def fit_temperature(logits: ArrayLike, y_true: ArrayLike) -> float:
    """Temperature minimising the NLL of held-out (validation) logits.

    Args:
        logits: (n, k) pre-softmax outputs of the ``logits`` layer on the validation split.
        y_true: (n,) integer class indices.

    Returns:
        T > 0 (T > 1 softens an overconfident model, T < 1 sharpens an underconfident one).

    Raises:
        CalibrationError: wrong shapes, non-finite logits or out-of-range labels.
    """
    logits = _check_logits(logits)
    y_true = _check_labels(y_true, logits)
    # Searching log T keeps the optimiser symmetric between softening and sharpening.
    result = minimize_scalar(
        lambda log_t: _nll(logits, y_true, float(np.exp(log_t))),
        bounds=tuple(np.log(T_BOUNDS)), method="bounded", options={"xatol": 1e-4},
    )
    return float(np.exp(result.x))


def apply_temperature(logits: ArrayLike, temperature: float) -> np.ndarray:
    """Calibrated probabilities ``softmax(logits / T)``.

    Args:
        logits: (n, k) or (k,) logits.
        temperature: T > 0 from :func:`fit_temperature` (or a model card).

    Returns:
        float64 probabilities of the same shape, summing to 1 along the last axis.
    """
    if not np.isfinite(temperature) or temperature <= 0:
        raise CalibrationError(f"The temperature must be a positive number, got {temperature}.")
    logits = np.asarray(logits, dtype=np.float64)
    return softmax(logits / temperature, axis=-1)


def calibrate(val_logits: ArrayLike, val_y: ArrayLike, eval_logits: ArrayLike | None = None,
              eval_y: ArrayLike | None = None, n_bins: int = 15) -> dict:
    """Fit T on validation logits and measure the ECE it gives, for the model card.

    Args:
        val_logits: (n, k) validation logits T is fitted on.
        val_y: (n,) validation labels.
        eval_logits: optional (m, k) logits of a split T never saw (the test split), where
            the ECE is measured; without them the ECE is measured on the validation split.
        eval_y: (m,) labels for ``eval_logits``.
        n_bins: ECE bins.

    Returns:
        ``temperature``, ``ece_before``, ``ece_after`` and ``ece_split`` ("test" or "validation").
    """
    temperature = fit_temperature(val_logits, val_y)
    split = "validation" if eval_logits is None else "test"
    logits, labels = (val_logits, val_y) if eval_logits is None else (eval_logits, eval_y)
    logits = _check_logits(logits)
    labels = _check_labels(labels, logits)
    return {
        "temperature": temperature,
        "ece_before": expected_calibration_error(labels, apply_temperature(logits, 1.0), n_bins),
        "ece_after": expected_calibration_error(labels, apply_temperature(logits, temperature), n_bins),
        "ece_split": split,
    }
