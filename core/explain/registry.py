"""The CAM-method registry: one entry per heat-map algorithm, with the label the app shows.

Importing this module costs no TensorFlow: an entry names its implementation as
``"module:function"`` and it is imported only when a map is computed, so pages can list the
methods without pulling in the model stack. A new method is one entry here (its builder may
live in any module).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable


class ExplainError(ValueError):
    """A heat map was asked of a model, input, class or setting that cannot give one."""


@dataclass(frozen=True)
class CamMethod:
    """One heat-map algorithm.

    Attributes:
        label: what the method chooser and reports call it.
        builder: ``"module:function"`` (or the function itself) taking a
            ``core.explain.engine.CamGraph`` and returning a ``tf.function`` pass
            ``(images float32 (n, H, W, C), class_index int32 (n,), -1 = predicted)
            -> (logits (n, k), features (n, d), raw maps (n, h, w))``.
        description: one sentence for the help text: what the colours are computed from.
    """

    label: str
    builder: str | Callable
    description: str = ""

    def build(self, graph) -> Callable:
        """The compiled pass of this method on one model (see ``builder``)."""
        builder = self.builder
        if isinstance(builder, str):
            module, _, name = builder.partition(":")
            builder = getattr(importlib.import_module(module), name)
        return builder(graph)


#: method key -> algorithm. The UI offers exactly these, labelled with ``label``.
CAM_METHODS: dict[str, CamMethod] = {
    "gradcam": CamMethod(
        "Grad-CAM", "core.explain.gradcam:gradcam_pass",
        "Feature maps weighted by the average gradient of the class score (Selvaraju et al. 2017)."),
    "gradcam++": CamMethod(
        "Grad-CAM++", "core.explain.gradcam:gradcam_plus_plus_pass",
        "Feature maps weighted by positive higher-order gradients; better for several lesions "
        "(Chattopadhay et al. 2018)."),
    "scorecam": CamMethod(
        "Score-CAM", "core.explain.scorecam:scorecam_pass",
        "Feature maps weighted by how much the class probability rises when only that map's region "
        "is shown; gradient-free (Wang et al. 2020)."),
}


def get_method(key: str) -> CamMethod:
    """The registered method ``key``.

    Raises:
        ExplainError: no such method (the message lists the known ones).
    """
    try:
        return CAM_METHODS[key]
    except KeyError:
        raise ExplainError(f"Unknown heat-map method '{key}'; choose one of: {', '.join(CAM_METHODS)}.") from None


def labels() -> dict[str, str]:
    """Method key -> label, in registry order (what the method chooser offers)."""
    return {key: method.label for key, method in CAM_METHODS.items()}
