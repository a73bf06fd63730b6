"""Writing a served model: its weights, optional OOD detector, figures and model card, as one set.

:func:`publish` stages every file and swaps the card last (``training.staging``): a failure or a
kill at any point leaves the previous set served.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Callable

import keras
import numpy as np

from core.serving import cards, ood_probes
from core.serving.modality_guard import GUARD_KIND, K_NEIGHBOURS, KEEP_QUANTILE, fit_modality_guard
from core.serving.ood import OODDetectorError
from core.tasks import get_task
from training import ood_negatives
from training.staging import PublishSet

#: Probe images of each kind used to measure a detector's detection rate.
PROBES_PER_KIND = 25

log = logging.getLogger(__name__)


def save_keras(model: keras.Model, path: Path) -> str:
    """Save a model as ``.keras`` (into a staging folder); returns the file's sha256."""
    model.save(path)
    return cards.sha256_file(path)


def fit_ood(train: dict, val: dict, path: Path, probe: Callable[[list[np.ndarray]], tuple] | None = None,
            test: dict | None = None, task_id: str | None = None) -> dict | None:
    """Fit the modality guard (``core.serving.modality_guard``); None (with a warning) if it cannot be fitted.

    Args:
        train, val: scored splits (``features``, ``y``, ``images``: prepared images of a random sample).
        path: where the guard's ``.ood.npz`` goes.
        probe: raw uint8 images -> (features, prepared images), as for an upload; prepares the gate's negatives
            and measures the detection rate on ``core.serving.ood_probes`` images (seed 0, never fitted on).
        test: the scored test split (``features``, ``images``), for the rate of in-distribution
            images wrongly refused.
        task_id: the task whose modality the negatives and probes must not look like.

    Returns:
        The card's ``ood`` section: method, parts, negatives, file, sha256, threshold, and (with ``probe``) the
        detection rate overall and per probe kind, plus the test false-rejection rate.
    """
    negatives, described = (None, None), {}
    if probe is not None and task_id is not None:
        raw, described = ood_negatives.gate_negatives(task_id, get_task(task_id).modality)
        negatives = _in_chunks(probe, raw)
    try:
        guard = fit_modality_guard(train["features"], train["images"], val["features"], val["images"], *negatives)
    except (OODDetectorError, KeyError, ValueError, np.linalg.LinAlgError) as exc:
        log.warning("No out-of-distribution guard for this model: %s", exc)
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    digest = guard.save(path)
    section = {"method": GUARD_KIND, "file": path.name, "sha256": digest, "threshold": float(guard.threshold),
               "parts": [*(f"{n} ({K_NEIGHBOURS}th-neighbour distance)" for n in guard.references),
                         *(["modality gate (logistic regression)"] if guard.gate_coef is not None else [])],
               "gate_negatives": described, "keep_quantile_per_part": KEEP_QUANTILE}
    if test is not None:
        n = len(test.get("images", ()))
        refused = guard.is_out_of_distribution(test["features"][:n], test.get("images"))
        section["test_false_rejection_rate"] = float(refused.mean())
        section["test_images_checked"] = int(n)
    if probe is not None and task_id is not None:
        section.update(probe_detection_rates(guard, probe, task_id))
    return section


def _in_chunks(probe: Callable[[list[np.ndarray]], tuple], images: list[np.ndarray], size: int = 64) -> tuple:
    parts = [probe(images[i:i + size]) for i in range(0, len(images), size)]
    return np.concatenate([f for f, _ in parts]), np.concatenate([im for _, im in parts])


def probe_detection_rates(detector, probe: Callable[[list[np.ndarray]], tuple], task_id: str,
                          per_kind: int = PROBES_PER_KIND) -> dict:
    """Share of each kind of probe image the detector refuses (what the card reports)."""
    kinds, images = zip(*ood_probes.probe_images(task_id, per_kind=per_kind, seed=0))
    flagged = detector.is_out_of_distribution(*_in_chunks(probe, list(images)))
    kinds = np.array(kinds)
    per = {kind: float(flagged[kinds == kind].mean()) for kind in ood_probes.PROBES}
    return {"detection_rate": float(flagged.mean()), "detection_rate_by_kind": per,
            "probe_set": f"core.serving.ood_probes, {per_kind} images per kind, seed 0"}


def publish(model: keras.Model | None, folder: Path, name: str, card_fields: dict,
            ood_fitter: Callable[[Path], dict | None] | None = None, keep_weights: str | None = None,
            figures: dict[str, str | Path] | None = None) -> Path:
    """Publish ``<folder>/<name>.card.json`` with its weights, OOD detector and figures, all or nothing.

    Args:
        model: the softmax classifier to serve (None with ``keep_weights``).
        folder: ``<models_dir>/<task_id>``.
        name: the model (run) name.
        card_fields: every card key except keras_file, sha256, ood and plots; ``training_run.plots``
            names the run's figures, which are copied beside the model.
        ood_fitter: writes the OOD detector at the path it is given and returns the card's ``ood``
            section (see :func:`fit_ood`), or None for no detector.
        keep_weights: the served ``.keras`` file name to keep (recalibration: the weights do not change).
        figures: figure name -> PNG to copy beside the model (default: the run's ``training_run.plots``).

    Returns:
        Path of the written card.

    Raises:
        core.serving.cards.CardError: the card would be invalid; the previous set stays served, nothing is left.
    """
    with PublishSet(folder, name) as stage:
        if keep_weights is None:
            staged_keras = stage.path("keras")
            digest, keras_file = save_keras(model, staged_keras), stage.final_name("keras")
        else:
            digest, keras_file = cards.sha256_file(folder / keep_weights), keep_weights
        ood = ood_fitter(stage.path("ood.npz")) if ood_fitter is not None else None
        if ood is not None:
            ood = {**ood, "file": stage.final_name("ood.npz")}
        if figures is None:
            figures = (card_fields.get("training_run") or {}).get("plots") or {}
        plots = {figure: stage.final_name(f"{figure}.png") for figure in figures}
        card = cards.build_card(**card_fields, keras_file=keras_file, sha256=digest, ood=ood, plots=plots)
        for figure, source in figures.items():
            shutil.copyfile(source, stage.path(f"{figure}.png"))
        if keep_weights is None:
            stage.place(staged_keras)
        if ood is not None:
            stage.place(stage.path("ood.npz"))
        for figure in plots:
            stage.place(stage.path(f"{figure}.png"))
        return stage.commit(card)
