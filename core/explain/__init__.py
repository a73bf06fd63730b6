"""Explanations: where a classifier found its evidence, drawn on the image the clinician uploaded.

Owns the CAM-method registry (``registry``: each method with its UI label), the compiled
Grad-CAM / Grad-CAM++ / Score-CAM passes on a model's own layers (``engine``, ``gradcam``,
``scorecam``), the choice of the explained feature map (``layers``), mapping maps back through
the card's crop and letterbox onto the upload (``alignment``, ``anatomy``), overlays with a
colour bar (``overlay``), and measures of faithfulness and shortcuts (``faithfulness``, ``audit``).
May import ``core.models``, ``core.preprocess`` and ``core.tasks``; never Streamlit.

Importing this package costs no TensorFlow: ``overlay``, ``CAM_METHODS`` and ``ExplainError``
are light; the model-facing names below load their modules on first use.
"""

from __future__ import annotations

import importlib

from core.explain.overlay import COLORMAPS, colour_bar, overlay
from core.explain.registry import CAM_METHODS, CamMethod, ExplainError, get_method, labels

#: Public names whose modules import TensorFlow, loaded on first access.
_LAZY = {
    "heatmap": "core.explain.explanation",
    "explain": "core.explain.explanation",
    "Explanation": "core.explain.explanation",
    "class_activation_map": "core.explain.engine",
    "run_pass": "core.explain.engine",
    "explained_layer": "core.explain.engine",
    "find_target_layer": "core.explain.layers",
    "choose_layer": "core.explain.layers",
    "explanation_section": "core.explain.audit",
    "layer_selection": "core.explain.audit",
}

__all__ = ["CAM_METHODS", "COLORMAPS", "CamMethod", "ExplainError", "colour_bar", "get_method", "labels",
           "overlay", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'core.explain' has no attribute '{name}'")
