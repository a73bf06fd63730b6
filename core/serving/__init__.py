"""Serving: find, verify and load served artefacts, and predict with them.

Owns the typed cards and their schema (``cards``, ``card_schema``, ``gan_cards``, ``provenance``: digests,
library versions, portable paths), the served-model folder (``store``), one checked loader per artefact
kind with one error family (``loader``, ``errors``), the one classifier forward pass (``forward``;
``remote`` answers it through TensorFlow Serving when ``$MEDIMG_SERVING_URL`` is set), temperature
scaling (``calibration``), conformal prediction sets (``conformal``), the out-of-distribution detector and
its probe images (``ood``, ``ood_probes``) and the served model itself (``served``). It may import
``core.paths``, ``core.tasks``, ``core.preprocess``, ``core.atomic``, ``core.models`` (layer registration,
head names), ``core.evaluation.metrics`` and ``core.phantoms`` (probes); never ``core.ui``, Streamlit or
``training``. Importing this package is light: TensorFlow is loaded only by ``forward``, ``served`` and the
loaders when they run.
"""

from __future__ import annotations

import importlib
from typing import Any

from core.serving.errors import (
    INTEGRITY_SENTENCE,
    ArtefactError,
    ModelCardError,
    ModelIntegrityError,
    ModelNotFoundError,
    ServingError,
)
from core.serving.store import CardProblem, list_model_problems, list_models, scan_models, select_card

#: Names served lazily so that listing cards never imports TensorFlow.
_LAZY = {"Prediction": "core.serving.served", "PredictionError": "core.serving.served",
         "ServedModel": "core.serving.served", "load_model": "core.serving.served",
         "Forward": "core.serving.forward"}

__all__ = [
    "INTEGRITY_SENTENCE", "ArtefactError", "CardProblem", "Forward", "ModelCardError", "ModelIntegrityError",
    "ModelNotFoundError", "Prediction", "PredictionError", "ServedModel", "ServingError", "list_model_problems",
    "list_models", "load_model", "scan_models", "select_card",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'core.serving' has no attribute {name!r}")
