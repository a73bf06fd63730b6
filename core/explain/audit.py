"""The ``explanations`` section of a model card: is the map faithful, and does it look at the patient?

``explanation_section`` runs a served model's heat maps over test images (with lesion masks where
the dataset has them) and returns: the layer used, pointing game, energy inside the lesion,
deletion / insertion AUC, and the shortcut audit (heat outside the anatomy, on padding or on
burned-in marks), with a contact sheet of the worst images saved beside the card.
``layer_selection`` scores candidate feature maps on held-out lesion images (the validation split,
never the test split) so the explained layer is chosen before the test figures are measured once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from core.atomic import atomic_write
from core.explain import alignment, faithfulness
from core.explain.anatomy import shortcut_mask
from core.explain.engine import explained_layer, run_pass
from core.explain.explanation import explain_prepared
from core.explain.layers import candidate_layers
from core.explain.overlay import overlay
from core.explain.registry import ExplainError

#: A model is flagged when, on average, more of its heat than this lies off the anatomy.
SHORTCUT_FLAG = 0.3
#: Deletion / insertion curves cost 2 x CURVE_STEPS forward passes per image: a subset suffices.
CURVE_IMAGES = 24
#: Images on the contact sheet of the worst shortcuts.
SHEET_IMAGES = 8
BATCH = 16
#: Feature maps tried by ``layer_selection``, deepest first (MobileNet at 224 px: blocks 13 down to 10).
SELECTION_CANDIDATES = 8


def _shortcut_fraction(cam_at_input: np.ndarray, image: np.ndarray, geometry, recipe: str) -> float:
    allowed = alignment.to_model_space(~shortcut_mask(image, recipe), geometry, cam_at_input.shape)
    total = float(cam_at_input.sum())
    return float(cam_at_input[~allowed].sum() / total) if total > 0 else 0.0


def _predict_probs(served):
    def predict(batch: np.ndarray) -> np.ndarray:
        logits = np.concatenate([served.logits_and_features(batch[i:i + 64])[0] for i in range(0, len(batch), 64)])
        z = logits / float(served.temperature)
        z = np.exp(z - z.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)
    return predict


def contact_sheet(tiles: Sequence[np.ndarray], captions: Sequence[str], side: int = 192) -> np.ndarray:
    """Tiles side by side (two rows at most), each resized to ``side`` and captioned."""
    cells = []
    for tile, caption in zip(tiles, captions):
        cell = cv2.resize(tile, (side, side), interpolation=cv2.INTER_AREA)
        cv2.putText(cell, caption, (4, side - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
        cells.append(cell)
    if not cells:
        return np.zeros((side, side, 3), np.uint8)
    per_row = (len(cells) + 1) // 2
    cells += [np.zeros_like(cells[0])] * (2 * per_row - len(cells))
    rows = [np.hstack(cells[i:i + per_row]) for i in range(0, len(cells), per_row)]
    return np.vstack([r for r in rows if r.size])


def _evaluate(served, images, masks, classes, method, layer):
    rows = []
    for start in range(0, len(images), BATCH):
        chunk = images[start:start + BATCH]
        prepared = [served.prepare(image) for image in chunk]
        batch = np.stack([p.image for p in prepared]).astype(np.float32)
        wanted = [-1 if c is None else served.class_names.index(c) for c in classes[start:start + BATCH]]
        logits, _, cams, _ = run_pass(served.keras_model, batch, wanted, method, layer)
        for i, (image, prep) in enumerate(zip(chunk, prepared)):
            explanation = explain_prepared(served, image, prep, logits[i], cams[i], method, layer, wanted[i])
            raw = alignment.to_model_input(cams[i], served.input_size)
            rows.append({"image": image, "prepared": prep, "explanation": explanation, "raw": raw,
                         "mask": None if masks is None else masks[start + i],
                         "shortcut": _shortcut_fraction(raw, image, prep.geometry, served.task.preprocessing)})
    return rows


def _pointing_and_energy(rows) -> tuple[float, float]:
    """Mean pointing-game hit and mean share of heat inside the mask over evaluated rows with a mask."""
    hits = [faithfulness.pointing_hit(r["explanation"].heatmap, r["mask"]) for r in rows]
    energy = [faithfulness.energy_inside(r["explanation"].heatmap, r["mask"]) for r in rows]
    return float(np.mean(hits)), float(np.mean(energy))


def _lesion_scores(served, rows) -> dict:
    with_mask = [r for r in rows if r["mask"] is not None and np.any(r["mask"])]
    if not with_mask:
        return {}
    pointing, energy = _pointing_and_energy(with_mask)
    curves = [faithfulness.deletion_insertion(_predict_probs(served), r["prepared"].image, r["raw"],
                                              served.class_names.index(r["explanation"].class_name))
              for r in with_mask[:CURVE_IMAGES]]
    return {
        "images_with_lesion_mask": len(with_mask),
        "pointing_game": pointing,
        "pointing_game_centre_baseline": float(np.mean([faithfulness.centre_hit(r["mask"]) for r in with_mask])),
        "pointing_tolerance": f"mask dilated by {faithfulness.POINTING_TOLERANCE:.0%} of the image side",
        "energy_in_mask": energy,
        "deletion_auc": float(np.mean([c[0] for c in curves])),
        "insertion_auc": float(np.mean([c[1] for c in curves])),
        "curve_images": len(curves),
    }


def layer_selection(served, images: Sequence[np.ndarray], masks: Sequence[np.ndarray | None],
                    classes: Sequence[str | None] | None = None, method: str = "gradcam",
                    candidates: Sequence[str] | None = None, data: str = "validation split") -> dict:
    """Choose the feature map to explain by how well its maps point at lesions on held-out images.

    Each candidate layer (default: the ``SELECTION_CANDIDATES`` deepest maps of at least
    ``layers.MIN_SIDE`` cells) is scored on the images that have a lesion mask; the highest pointing
    game wins, ties broken by energy inside the mask, then by depth. Pass validation images: the test
    split is measured afterwards, once, at the chosen layer.

    Args:
        served: a ``core.serving.ServedModel``.
        images, masks: decoded uploads and their lesion masks (None or empty where there is none).
        classes: class to explain per image (e.g. the lesion's class); None: the predicted class.
        method: the CAM method scored.
        candidates: layer names to try; default as above.
        data: words saying which images these are (goes into the card).

    Returns:
        ``{"chosen", "method", "criterion", "data", "images", "candidates": [{layer, layer_size,
        pointing_game, energy_in_mask}, ...]}``.

    Raises:
        ExplainError: no image has a lesion mask, or no candidate layer.
    """
    classes = list(classes) if classes is not None else [None] * len(images)
    keep = [i for i, m in enumerate(masks) if m is not None and np.any(m)]
    if not keep:
        raise ExplainError(f"None of the {len(images)} images of the {data} has a lesion mask, so there is "
                           "nothing to choose the explained layer on.")
    candidates = list(candidates or candidate_layers(served.keras_model)[:SELECTION_CANDIDATES])
    if not candidates:
        raise ExplainError(f"Model '{served.name}' has no feature map to choose from.")
    scored = []
    for layer in candidates:
        rows = _evaluate(served, [images[i] for i in keep], [masks[i] for i in keep], [classes[i] for i in keep],
                         method, layer)
        pointing, energy = _pointing_and_energy(rows)
        scored.append({"layer": layer, "layer_size": list(rows[0]["explanation"].layer_size),
                       "pointing_game": pointing, "energy_in_mask": energy})
    best = max(range(len(scored)), key=lambda i: (scored[i]["pointing_game"], scored[i]["energy_in_mask"], -i))
    return {"chosen": scored[best]["layer"], "method": method,
            "criterion": "highest pointing game, then energy in mask, then the deeper layer",
            "data": data, "images": len(keep), "candidates": scored}


def explanation_section(served, images: Sequence[np.ndarray], masks: Sequence[np.ndarray | None] | None = None,
                        method: str = "gradcam", sheet_path: str | Path | None = None,
                        data: str = "test split", classes: Sequence[str | None] | None = None,
                        layer: str | None = None) -> dict:
    """Measure a served model's explanations on test images and return the card's ``explanations`` section.

    Args:
        served: a ``core.serving.ServedModel``.
        images: decoded uint8 uploads (the test split).
        masks: lesion mask per image at the image's size (None or all-zero where there is no lesion).
        method: the CAM method measured.
        sheet_path: where to save the contact sheet of the worst shortcut images (PNG), or None.
        data: a words description of the images (goes into the card).
        classes: class id to explain per image (e.g. the true lesion class); None: the predicted class.
        layer: the feature map to explain; None: the automatic choice, checked on these images.

    Returns:
        A JSON-ready dict (see the module docstring); ``contact_sheet`` names the PNG relative to the card.
    """
    images = list(images)
    probes = np.stack([served.prepare(im).image for im in images[:BATCH]]).astype(np.float32) if images else None
    layer = layer or explained_layer(served.keras_model, probes)
    classes = list(classes) if classes is not None else [None] * len(images)
    rows = _evaluate(served, images, masks, classes, method, layer)
    shortcut = [r["shortcut"] for r in rows]
    section = {
        "method": method, "layer": layer,
        "layer_size": list(rows[0]["explanation"].layer_size) if rows else None,
        "data": data, "images": len(rows),
        **_lesion_scores(served, rows),
        "shortcut_audit": {
            "energy_outside_anatomy": float(np.mean(shortcut)) if rows else None,
            "definition": "share of heat on letterbox padding, on background outside the head, the scanned "
                          "field or the cell, or on burned-in text and calipers",
            "flag_threshold": SHORTCUT_FLAG,
            "flagged": bool(rows and np.mean(shortcut) > SHORTCUT_FLAG),
        },
    }
    if sheet_path is not None and rows:
        worst = sorted(rows, key=lambda r: -r["shortcut"])[:SHEET_IMAGES]
        # The raw map on the model input: padding and background heat stay visible here.
        tiles = [overlay(r["prepared"].image, r["raw"] / max(r["raw"].max(), 1e-12), 0.45) for r in worst]
        sheet = contact_sheet(tiles, [f"{r['shortcut']:.0%} off anatomy" for r in worst])
        sheet_path = Path(sheet_path)
        ok, png = cv2.imencode(".png", cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
        with atomic_write(sheet_path) as fh:
            fh.write(png.tobytes())
        section["shortcut_audit"]["contact_sheet"] = sheet_path.name
    return section
