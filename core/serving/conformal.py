"""Split-conformal prediction sets: the classes a calibrated model cannot rule out, at a stated coverage.

Method LAC ("least ambiguous set-valued classifier", Sadinle et al. 2019), the split-conformal
recipe MAPIE calls ``lac``: on the validation split, the non-conformity score of an image is
``1 - p(true class)``; the threshold ``q`` is its ``ceil((n + 1) * level) / n`` empirical quantile;
a new image's set is every class with ``p >= 1 - q``. If validation and test images are
exchangeable, the set holds the true class with probability >= ``level``. We add one rule MAPIE
leaves to the caller: a set is never empty (the top class is always in it), which can only raise
coverage. Written here rather than taken from MAPIE because the served model already gives
calibrated probabilities and the whole method is a quantile; the card records the method.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np

#: Coverage the sets are fitted for.
DEFAULT_LEVEL = 0.90

METHOD = "split-conformal LAC (score 1 - p(true class)), never empty"


class ConformalError(ValueError):
    """Probabilities, labels or a conformal section that cannot be used."""


def fit_threshold(val_probs: np.ndarray, val_y: np.ndarray, level: float = DEFAULT_LEVEL) -> float:
    """The LAC score threshold ``q`` from validation probabilities.

    Args:
        val_probs: (n, k) calibrated probabilities of the validation split.
        val_y: (n,) integer true classes.
        level: target coverage in (0, 1).

    Returns:
        ``q`` in [0, 1]; a class is in a set when ``p >= 1 - q``.

    Raises:
        ConformalError: wrong shapes, too few images for the level, or a level outside (0, 1).
    """
    probs, y = np.asarray(val_probs, dtype=np.float64), np.asarray(val_y)
    if probs.ndim != 2 or y.shape != (len(probs),) or len(probs) == 0:
        raise ConformalError(f"Expected (n, k) probabilities and n labels, got {probs.shape} and {y.shape}.")
    if not 0 < level < 1:
        raise ConformalError(f"The coverage level must lie strictly between 0 and 1, got {level}.")
    n = len(probs)
    rank = math.ceil((n + 1) * level)
    if rank > n:
        raise ConformalError(f"{n} validation images are too few for {level:.0%} coverage "
                             f"(at least {math.ceil(level / (1 - level))} are needed).")
    scores = np.sort(1.0 - probs[np.arange(n), y])
    return float(scores[rank - 1])


def prediction_sets(probs: np.ndarray, threshold: float) -> np.ndarray:
    """Boolean (n, k) membership of each class in each image's set (never an empty row).

    Args:
        probs: (n, k) calibrated probabilities.
        threshold: ``q`` from :func:`fit_threshold`.

    Returns:
        (n, k) bool.
    """
    probs = np.asarray(probs, dtype=np.float64)
    members = probs >= 1.0 - threshold
    members[np.arange(len(probs)), probs.argmax(axis=1)] = True
    return members


def class_set(row: np.ndarray, class_names: Sequence[str]) -> tuple[str, ...]:
    """Class ids of one membership row, in class order."""
    return tuple(name for name, member in zip(class_names, row) if member)


def conformal_section(val_probs: np.ndarray, val_y: np.ndarray, test_probs: np.ndarray, test_y: np.ndarray,
                      level: float = DEFAULT_LEVEL) -> dict:
    """Fit on validation, measure on test: the card's ``conformal`` section.

    Args:
        val_probs, val_y: calibrated validation probabilities and labels (fitting).
        test_probs, test_y: calibrated test probabilities and labels (measuring only).
        level: target coverage.

    Returns:
        ``level``, ``method``, ``threshold``, ``fitted_on``, ``n_fit``, ``test_coverage``,
        ``test_mean_set_size`` and ``test_share_uncertain`` (sets of more than one class).
    """
    threshold = fit_threshold(val_probs, val_y, level)
    members = prediction_sets(test_probs, threshold)
    test_y = np.asarray(test_y)
    return {
        "level": float(level), "method": METHOD, "threshold": threshold, "fitted_on": "validation",
        "n_fit": int(len(val_y)),
        "test_coverage": float(members[np.arange(len(test_y)), test_y].mean()),
        "test_mean_set_size": float(members.sum(axis=1).mean()),
        "test_share_uncertain": float((members.sum(axis=1) > 1).mean()),
    }


def check_section(section: Mapping | None) -> list[str]:
    """Problems of a card's ``conformal`` section (empty when absent or valid)."""
    if section is None:
        return []
    if not isinstance(section, Mapping):
        return ["conformal must be null or a section with 'level' and 'threshold'."]
    problems = []
    level, threshold = section.get("level"), section.get("threshold")
    if not (isinstance(level, (int, float)) and 0 < level < 1):
        problems.append(f"conformal level {level!r} must lie strictly between 0 and 1.")
    if not (isinstance(threshold, (int, float)) and math.isfinite(threshold) and 0 <= threshold <= 1):
        problems.append(f"conformal threshold {threshold!r} must be a number between 0 and 1.")
    return problems
