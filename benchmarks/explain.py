"""Explanations benchmark: cost of a heat map against a prediction, and faithfulness against lesion masks.

For every served model (``models/<task>/``) and every registered CAM method, in one run:
- time: median ms of ``ServedModel.predict`` and of ``core.explain.explain`` (prediction + map from
  one compiled pass) on the same upload, interleaved, and their ratio;
- faithfulness on real images with lesion masks (BUSI ``<case>_mask.png``; Br35H tumour masks in
  ``br35h_masks/yes/``) and on phantoms (their lesion masks are known): pointing game, energy in
  mask, deletion / insertion AUC, and the shortcut audit (heat off the anatomy).

Real images may include the model's own training images (this run does not know its split);
``python -m training.audit_explanations`` measures the test split for the card.

Usage: python -m benchmarks.explain [--data ../shared/data] [--n 40] [--tasks breast_us ...] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from pathlib import Path

import numpy as np

from core import paths
from core.explain import CAM_METHODS
from core.explain.audit import explanation_section
from core.explain.explanation import card_layer, explain
from core.explain.layers import find_target_layer
from core.io import load_image

#: task -> (real data reader, class explained on a lesion image); see the module docstring.
LESION_CLASSES = {"brain_mri_binary": ("yes",), "brain_mri_4class": ("glioma", "meningioma", "pituitary"),
                  "breast_us": ("benign", "malignant")}


def _grey_mask(path: Path, shape) -> np.ndarray:
    import cv2

    mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    return cv2.resize(mask, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST) > 127


def busi_cases(root: Path, n: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray, str]]:
    """(image, lesion mask, class) of ``n`` seeded BUSI benign/malignant cases (masks ``_mask*.png`` united)."""
    base = root / "busi" / "Dataset_BUSI_with_GT"
    files = sorted(p for c in ("benign", "malignant") for p in (base / c).glob("*).png"))
    rng = np.random.default_rng(seed)
    out = []
    for path in rng.permutation(files)[:n]:
        path = Path(path)
        image = load_image(path)
        mask = np.zeros(image.shape[:2], bool)
        for m in path.parent.glob(f"{path.stem}_mask*.png"):
            mask |= _grey_mask(m, image.shape)
        out.append((image, mask, path.parent.name))
    return out


def br35h_cases(root: Path, n: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray, str]]:
    """(image, tumour mask, "yes") of ``n`` seeded Br35H tumour images that have a mask."""
    masks = sorted((root / "br35h_masks" / "yes").glob("*.png"))
    rng = np.random.default_rng(seed)
    out = []
    for mask_path in rng.permutation(masks):
        if len(out) == n:
            break
        mask_path = Path(mask_path)
        image_path = next((p for p in (root / "br35h" / "yes").glob(mask_path.stem + ".*")), None)
        if image_path is None:
            continue
        image = load_image(image_path)
        out.append((image, _grey_mask(mask_path, image.shape), "yes"))
    return out


def phantom_cases(task_id: str, n: int, seed: int = 7) -> list[tuple[np.ndarray, np.ndarray, str]]:
    """(image, lesion mask, class) of ``n`` lesion phantoms of a task."""
    from core.phantoms.generate import make_image

    rng = np.random.default_rng(seed)
    classes = LESION_CLASSES[task_id]
    out = []
    for i in range(n):
        phantom = make_image(task_id, classes[i % len(classes)], rng)
        if phantom.lesion_mask is not None and phantom.lesion_mask.any() and phantom.drawn_label == phantom.label:
            out.append((phantom.image, phantom.lesion_mask > 0, phantom.label))
    return out


def _before(served):
    """The path this replaced: tf-keras-vis Grad-CAM, eager, at the last 4-D layer, after a prediction."""
    import keras
    from tf_keras_vis.gradcam import Gradcam
    from tf_keras_vis.utils.scores import CategoricalScore

    from core.explain.layers import find_target_layer

    model = served.keras_model
    viz = Gradcam(keras.Model(model.inputs, model.get_layer("logits").output))
    layer = find_target_layer(model)

    def call(image):
        index = served.class_names.index(served.predict(image).top_class)
        batch = served.prepare(image).image[None].astype(np.float32)
        viz(CategoricalScore([index]), batch, penultimate_layer=layer, seek_penultimate_conv_layer=False)
    return call


def _timing(served, image, repeats: int) -> dict:
    methods = list(CAM_METHODS)
    before = _before(served)
    calls = {"predict": lambda: served.predict(image), "before": lambda: before(image)}
    calls.update({m: (lambda m=m: explain(served, image, method=m)) for m in methods})
    for call in calls.values():
        call()  # trace once
    times = {k: [] for k in calls}
    for _ in range(repeats):  # interleaved, so a noisy neighbour slows every column alike
        for key, call in calls.items():
            start = time.perf_counter()
            call()
            times[key].append(time.perf_counter() - start)
    med = {k: 1000 * float(np.median(v)) for k, v in times.items()}
    return {"predict_ms": med["predict"], "before_ms": med["before"], **{f"{m}_ms": med[m] for m in methods},
            **{f"{m}_ratio": med[m] / med["predict"] for m in methods}}


def _cases(task_id: str, data: Path, n: int) -> dict[str, list]:
    sets = {"phantoms": phantom_cases(task_id, n)}
    if task_id == "breast_us" and (data / "busi").is_dir():
        sets["BUSI"] = busi_cases(data, n)
    if task_id.startswith("brain_mri") and (data / "br35h_masks").is_dir():
        sets["Br35H"] = br35h_cases(data, n)
    return sets


def _explained_class(served, task_id: str, image: np.ndarray, label: str) -> str:
    """The lesion's class; for a Br35H "yes" under the 4-class model, its most probable tumour class."""
    if label in served.class_names:
        return label
    probs = served.predict(image).probabilities
    return max(LESION_CLASSES[task_id], key=lambda c: probs[c])


def run(data: Path, n: int, tasks: list[str], repeats: int, scorecam_n: int, models_dir: Path | None = None,
        methods: list[str] | None = None) -> list[dict]:
    """Every served model of ``tasks`` x every method: timing and faithfulness rows."""
    from core.serving import list_models, load_model

    rows = []
    for task_id in tasks:
        cards = list_models(task_id, models_dir)
        sets = _cases(task_id, data, n) if cards else {}
        for card in cards:
            served = load_model(task_id, card["name"], models_dir)
            timing = _timing(served, sets["phantoms"][0][0], repeats)
            # "gradcam@last": the last 4-D layer, as before this change (a coarse map on small inputs).
            for method in methods or [*CAM_METHODS, "gradcam@last"]:
                for set_name, cases in sets.items():
                    cases = cases[:scorecam_n] if method == "scorecam" else cases
                    images, masks, labels = zip(*cases)
                    classes = [_explained_class(served, task_id, im, label) for im, label in zip(images, labels)]
                    # the layer the app explains (the card's), or the last 4-D layer for "@last"
                    layer = find_target_layer(served.keras_model) if method == "gradcam@last" else card_layer(served)
                    section = explanation_section(served, images, masks, method.split("@")[0], classes=classes,
                                                  data=set_name, layer=layer)
                    timing_key = method.split("@")[0]
                    rows.append({"task": task_id, "model": served.name, "method": method, "data": set_name,
                                 "ms": timing[f"{timing_key}_ms"], "predict_ms": timing["predict_ms"],
                                 "before_ms": timing["before_ms"],
                                 "ratio": timing[f"{timing_key}_ratio"], **_flat(section)})
                    print(_line(rows[-1]), flush=True)
    return rows


def _flat(section: dict) -> dict:
    return {"layer": f"{section['layer']} {section['layer_size']}", "n": section.get("images_with_lesion_mask", 0),
            "pointing": section.get("pointing_game"), "energy": section.get("energy_in_mask"),
            "deletion": section.get("deletion_auc"), "insertion": section.get("insertion_auc"),
            "off_anatomy": section["shortcut_audit"]["energy_outside_anatomy"]}


HEADER = ("| task | model | method | data | layer | n | ms (predict) | x predict | before: tf-keras-vis ms "
          "| pointing | energy in mask | deletion AUC | insertion AUC | heat off anatomy |\n|" + "---|" * 14)


def _fmt(value, pct=False) -> str:
    if value is None:
        return "-"
    return f"{value:.0%}" if pct else f"{value:.3f}"


def _line(r: dict) -> str:
    return (f"| {r['task']} | {r['model']} | {r['method']} | {r['data']} | {r['layer']} | {r['n']} | "
            f"{r['ms']:.0f} ({r['predict_ms']:.0f}) | {r['ratio']:.2f} | {r['before_ms']:.0f} | "
            f"{_fmt(r['pointing'], True)} | "
            f"{_fmt(r['energy'], True)} | {_fmt(r['deletion'])} | {_fmt(r['insertion'])} | "
            f"{_fmt(r['off_anatomy'], True)} |")


def main(argv: list[str] | None = None) -> None:
    """Parse flags, run, print a Markdown table (and write JSON with ``--json``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("MEDIMG_DATA", paths.REAL_DATA_DIR)))
    parser.add_argument("--n", type=int, default=40, help="lesion images per data set")
    parser.add_argument("--scorecam-n", type=int, default=12, help="images per data set for Score-CAM (slow)")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--tasks", nargs="+", default=list(LESION_CLASSES))
    parser.add_argument("--models-dir", type=Path, help="served models root (default: core.paths.MODELS_DIR)")
    parser.add_argument("--methods", nargs="+", help="CAM methods (default: all, plus gradcam@last)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    print(HEADER, flush=True)
    rows = run(args.data, args.n, args.tasks, args.repeats, args.scorecam_n, args.models_dir, args.methods)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
