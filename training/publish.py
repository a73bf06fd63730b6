"""Writing a served model: ``<run>.keras``, its optional OOD detector and its model card.

Files appear complete or not at all (write to a temporary name in the same folder, then
rename), and the card, which the app reads first, is written last.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

import keras
import numpy as np

from core import cards
from core.ood import OODDetectorError, fit_detector

log = logging.getLogger(__name__)


def save_keras_atomic(model: keras.Model, path: Path) -> str:
    """Save a model as ``.keras`` through a temporary folder beside it; returns the file's sha256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_dir = Path(tempfile.mkdtemp(prefix=f".{path.stem}.", dir=path.parent))
    try:
        tmp = tmp_dir / path.name  # Keras insists on the .keras suffix
        model.save(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    return cards.sha256_file(path)


def fit_ood(train: dict, val: dict, path: Path) -> dict | None:
    """Fit the Mahalanobis detector on training features; None (with a warning) if it cannot be fitted.

    Returns:
        The card's ``ood`` section: method, file, sha256, threshold.
    """
    try:
        detector = fit_detector(train["features"], train["y"], val["features"])
    except (OODDetectorError, ValueError, np.linalg.LinAlgError) as exc:
        log.warning("No out-of-distribution detector for this model: %s", exc)
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    digest = detector.save(path)
    return {"method": "mahalanobis", "file": path.name, "sha256": digest, "threshold": float(detector.threshold)}


def publish(model: keras.Model, folder: Path, name: str, card_fields: dict, ood: dict | None = None) -> Path:
    """Write ``<folder>/<name>.keras`` and ``<name>.card.json``.

    Args:
        model: the softmax classifier to serve.
        folder: ``<models_dir>/<task_id>``.
        name: the model (run) name.
        card_fields: every card key except keras_file, sha256 and ood.
        ood: the detector section from :func:`fit_ood` (its file already beside the model), or None.

    Returns:
        Path of the written card.

    Raises:
        core.cards.CardError: the card would be invalid; the .keras file is removed again.
    """
    keras_path = folder / f"{name}.keras"
    digest = save_keras_atomic(model, keras_path)
    try:
        card = cards.build_card(**card_fields, keras_file=keras_path.name, sha256=digest, ood=ood)
        return cards.write_card(card, cards.card_path_for(keras_path))
    except cards.CardError:
        keras_path.unlink(missing_ok=True)
        raise
