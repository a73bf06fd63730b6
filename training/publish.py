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
from typing import Callable

import keras
import numpy as np

from core.serving import cards, ood_probes
from core.atomic import atomic_write
from core.serving.ood import OODDetectorError, fit_ood_detector

#: Probe images of each kind used to measure a detector's detection rate.
PROBES_PER_KIND = 25

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


def fit_ood(train: dict, val: dict, path: Path, probe: Callable[[list[np.ndarray]], tuple] | None = None,
            test: dict | None = None, task_id: str | None = None) -> dict | None:
    """Fit the Mahalanobis detector on training features; None (with a warning) if it cannot be fitted.

    Args:
        train, val: scored splits (``features``, ``y`` and, for the input-statistics part, ``images``).
        path: where the detector's ``.ood.npz`` goes.
        probe: raw uint8 images -> (features, prepared images), as for an upload; measures the
            detection rate on ``core.serving.ood_probes`` images (blank, noise, natural photos, other modalities).
        test: the scored test split (``features``, ``images``), for the rate of in-distribution
            images wrongly refused.
        task_id: the task whose modality the probes must not look like.

    Returns:
        The card's ``ood`` section: method, file, sha256, threshold, and (with ``probe``) the
        detection rate overall and per probe kind, plus the test false-rejection rate.
    """
    try:
        detector = fit_ood_detector(train["features"], train["y"], val["features"],
                                    train.get("images"), val.get("images"))
    except (OODDetectorError, ValueError, np.linalg.LinAlgError) as exc:
        log.warning("No out-of-distribution detector for this model: %s", exc)
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    digest = detector.save(path)
    section = {"method": "mahalanobis", "file": path.name, "sha256": digest, "threshold": float(detector.threshold),
               "parts": ["penultimate features"] + (["input image statistics"] if detector.inputs else [])}
    if test is not None:
        n = len(test.get("images", ())) or len(test["features"])
        refused = detector.is_out_of_distribution(test["features"][:n], test.get("images"))
        section["test_false_rejection_rate"] = float(refused.mean())
    if probe is not None and task_id is not None:
        section.update(probe_detection_rates(detector, probe, task_id))
    return section


def probe_detection_rates(detector, probe: Callable[[list[np.ndarray]], tuple], task_id: str,
                          per_kind: int = PROBES_PER_KIND) -> dict:
    """Share of each kind of probe image the detector refuses (what the card reports)."""
    kinds, images = zip(*ood_probes.probe_images(task_id, per_kind=per_kind, seed=0))
    flagged = detector.is_out_of_distribution(*probe(list(images)))
    kinds = np.array(kinds)
    per = {kind: float(flagged[kinds == kind].mean()) for kind in ood_probes.PROBES}
    return {"detection_rate": float(flagged.mean()), "detection_rate_by_kind": per,
            "probe_set": f"core.serving.ood_probes, {per_kind} images per kind, seed 0"}


def ship_plots(run_plots: dict, folder: Path, name: str) -> dict[str, str]:
    """Copy a run's figures beside the served model, so they travel with it (run folders are not shipped).

    Returns:
        figure name -> file name relative to the card's folder.
    """
    shipped = {}
    for figure, source in run_plots.items():
        target = folder / f"{name}.{figure}.png"
        with atomic_write(target) as fh:
            fh.write(Path(source).read_bytes())
        shipped[figure] = target.name
    return shipped


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
        core.serving.cards.CardError: the card would be invalid; the .keras file is removed again.
    """
    keras_path = folder / f"{name}.keras"
    digest = save_keras_atomic(model, keras_path)
    plots = ship_plots((card_fields.get("training_run") or {}).get("plots") or {}, folder, name)
    try:
        card = cards.build_card(**card_fields, keras_file=keras_path.name, sha256=digest, ood=ood, plots=plots)
        return cards.write_card(card, cards.card_path_for(keras_path))
    except cards.CardError:
        keras_path.unlink(missing_ok=True)
        raise
