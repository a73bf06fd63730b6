"""Scoring a trained classifier: logits and features of a split, latency, calibration, plots.

Training and evaluation both score through a ``Forward`` (prepared batch -> logits, features),
so the numbers in a model card and in an evaluation report are computed the same way.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Callable

import keras
import numpy as np

from core.evaluation import metrics, plots
from core.serving import calibration, conformal
from core.serving.forward import Forward as ServingForward

#: prepared float32 batch (n, H, W, 3) -> (logits (n, k), features (n, d)) as numpy.
Forward = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]

log = logging.getLogger(__name__)

PLOT_FILES = {
    "history": "history.png",
    "confusion_matrix": "confusion_matrix.png",
    "roc": "roc.png",
    "reliability": "reliability.png",
}


def model_forward(model: keras.Model) -> Forward:
    """The one traced forward pass of ``core.serving.forward`` (float32 logits and features, as the app computes)."""
    return ServingForward(model)


def collect(forward: Forward, batches: Iterable, keep_images: int = 0) -> dict[str, np.ndarray]:
    """Run ``forward`` over (images, labels) batches.

    Args:
        forward: see :data:`Forward`.
        batches: a tf.data.Dataset (or iterable) of (images, one-hot or integer labels).

    Returns:
        ``logits`` (n, k), ``features`` (n, d), ``y`` (n,) int, and the first ``keep_images``
        prepared ``images`` as uint8 (for the latency measurement and the OOD input statistics).
    """
    logits, features, labels, images = [], [], [], []
    kept = 0
    for x, y in batches:
        x = np.asarray(x, dtype=np.float32)
        lg, ft = forward(x)
        logits.append(lg)
        features.append(ft)
        y = np.asarray(y)
        labels.append(y.argmax(axis=1) if y.ndim == 2 else y)
        if kept < keep_images:
            # Prepared images are whole numbers 0..255: uint8 keeps a thousand of them small.
            images.append(x[: keep_images - kept].astype(np.uint8))
            kept += len(images[-1])
    return {"logits": np.concatenate(logits), "features": np.concatenate(features),
            "y": np.concatenate(labels).astype(np.int64),
            "images": np.concatenate(images) if images else np.zeros((0, *x.shape[1:]), np.uint8)}


def save_scores(scored: dict, path: Path) -> float:
    """Write the validation and test logits and labels that ``training.select_model`` ranks runs by.

    Args:
        scored: split name -> :func:`collect` output (``val`` and ``test`` at least).
        path: the ``scores.npz`` to write (atomically).

    Returns:
        The validation accuracy of the raw logits.
    """
    from core.atomic import atomic_write

    arrays = {f"{split}_{key}": scored[split][key] for split in ("val", "test") for key in ("logits", "y")}
    with atomic_write(path) as fh:
        np.savez(fh, **arrays)
    val = scored["val"]
    return float((val["logits"].argmax(1) == val["y"]).mean()) if len(val["y"]) else float("nan")


def measure_latency(forward: Forward, images: np.ndarray, n: int) -> dict:
    """Per-image inference time, one image per forward pass, after a warm-up call.

    Args:
        forward: see :data:`Forward`.
        images: prepared images (at least one).
        n: how many images to time (the first n, cycling if there are fewer).

    Returns:
        core.evaluation.metrics.latency_summary: min_ms, mean_ms, median_ms, max_ms, n.
    """
    forward(images[:1])  # tracing and first-call allocation are not inference time
    seconds = []
    for i in range(n):
        one = images[i % len(images)][None]
        start = time.perf_counter()
        forward(one)
        seconds.append(time.perf_counter() - start)
    return metrics.latency_summary(seconds)


def calibrated_report(val: dict, test: dict, class_names: list[str]) -> tuple[dict, dict, np.ndarray, np.ndarray]:
    """Fit the temperature on validation logits, then score the test split with it.

    Returns:
        (calibration section, test metrics report, test probabilities before, after).
    """
    section = calibration.calibrate(val["logits"], val["y"], test["logits"], test["y"])
    before = calibration.apply_temperature(test["logits"], 1.0)
    after = calibration.apply_temperature(test["logits"], section["temperature"])
    report = metrics.classification_report(test["y"], after, class_names)
    report["ece"] = section["ece_after"]
    return section, report, before, after


def conformal_report(val: dict, test: dict, temperature: float, level: float = conformal.DEFAULT_LEVEL) -> dict | None:
    """Split-conformal sets fitted on validation (calibrated probabilities), measured on test; None if too few images.

    Returns:
        The card's ``conformal`` section (see ``core.serving.conformal.conformal_section``), or None.
    """
    try:
        return conformal.conformal_section(calibration.apply_temperature(val["logits"], temperature), val["y"],
                                           calibration.apply_temperature(test["logits"], temperature), test["y"], level)
    except conformal.ConformalError as exc:
        log.warning("No conformal prediction sets for this model: %s", exc)
        return None


def write_plots(out_dir: Path, class_names: list[str], y: np.ndarray, prob_after: np.ndarray,
                prob_before: np.ndarray | None = None, history=None) -> dict[str, str]:
    """The standard figures of a run or an evaluation; returns figure name -> written path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    if history is not None and len(history):
        written["history"] = plots.plot_history(history, out_dir / PLOT_FILES["history"])
    cm = metrics.classification_report(y, prob_after, class_names)["confusion_matrix"]
    written["confusion_matrix"] = plots.plot_confusion_matrix(cm, class_names, out_dir / PLOT_FILES["confusion_matrix"])
    written["roc"] = plots.plot_roc(y, prob_after, class_names, out_dir / PLOT_FILES["roc"])
    before = prob_before if prob_before is not None else prob_after
    after = prob_after if prob_before is not None else None
    written["reliability"] = plots.plot_reliability(y, before, after, out_dir / PLOT_FILES["reliability"])
    return {name: str(path) for name, path in written.items()}
