"""A model card's test figures in a clinician's words: what each number is, as a percentage, and what it means.

One registry (:data:`MEASURES`) names each figure, says what it means and reads it from a card; the
Models page, its comparison table and the PDF all print from it, so they cannot disagree. Rates are
percentages of held-out test images; calibration error is in percentage points, the same value the
reliability figure's legend gives as a fraction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import pandas as pd

from core.tasks import Task, UnknownTaskError, get_task
from core.ui.cards import MISSING, _get, _number, provenance

Card = Mapping[str, Any]


def _pct(value: Any, digits: int = 1) -> str:
    return f"{100 * value:.{digits}f} %" if isinstance(value, (int, float)) else MISSING


def _test_images(card: Card) -> Any:
    return _get(card, "test_metrics.n") or _get(card, "split_sizes.test")


def _accuracy(card: Card) -> str:
    n = _test_images(card)
    return _pct(_get(card, "test_metrics.accuracy")) + (f" of {n:,} test images" if isinstance(n, int) else "")


def _calibration(card: Card) -> str:
    after, before = _get(card, "calibration.ece_after"), _get(card, "calibration.ece_before")
    if not isinstance(after, (int, float)):
        return MISSING
    text = f"{100 * after:.1f} points (ECE {after:.3f})"
    return text + (f"; {100 * before:.1f} before calibration" if isinstance(before, (int, float)) else "")


def _refusals(card: Card) -> str:
    ood = card.get("ood") or {}
    if not ood:
        return "no check: every image gets a class"
    caught, wrong = ood.get("detection_rate"), ood.get("test_false_rejection_rate")
    text = f"refuses {_pct(caught)} of foreign test images (blank, noise, photos, other modalities)"
    return text + (f"; wrongly refuses {_pct(wrong)} of genuine ones" if isinstance(wrong, (int, float)) else "")


def _prediction_set(card: Card) -> str:
    section = card.get("conformal") or {}
    if not section:
        return "not calibrated for sets"
    covered = section.get("test_coverage")
    return (f"aims to hold the true class {_pct(section.get('level'), 0)} of the time"
            + (f"; did so for {_pct(covered)} of test images" if isinstance(covered, (int, float)) else ""))


def _heat_on_lesion(card: Card) -> str:
    section = card.get("explanations") or {}
    hit = section.get("pointing_game")
    if not isinstance(hit, (int, float)):
        return "not measured: no lesion outlines for these images" if section else MISSING
    centre = section.get("pointing_game_centre_baseline")
    return (f"hottest point on the lesion in {_pct(hit, 0)} of {section.get('images_with_lesion_mask')} test "
            f"images; {_pct(section.get('energy_in_mask'), 0)} of the heat inside the outline"
            + (f"; always pointing at the centre would score {_pct(centre, 0)}" if isinstance(centre, float) else ""))


def _heat_off_anatomy(card: Card) -> str:
    shortcut = _get(card, "explanations.shortcut_audit") or {}
    share = shortcut.get("energy_outside_anatomy")
    if not isinstance(share, (int, float)):
        return MISSING
    return f"{_pct(share, 0)} of the heat" + (" (FLAGGED: the maps look outside the patient)"
                                              if shortcut.get("flagged") else "")


def _latency(card: Card) -> str:
    ms = _number(card, "latency_ms.mean_ms", "latency_ms")
    return f"{ms:.0f} ms" if ms is not None else MISSING


@dataclass(frozen=True)
class Measure:
    """One figure of a model card, for people.

    Attributes:
        label: what the figure is called on the page.
        meaning: one sentence on how to read it.
        read: card -> the figure as text.
    """

    label: str
    meaning: str
    read: Callable[[Card], str]


#: The figures the Models page and the report show, in reading order.
MEASURES: tuple[Measure, ...] = (
    Measure("Trained on", "The images the model learnt from.", provenance),
    Measure("Correct answers", "Share of held-out test images given their true class.", _accuracy),
    Measure("Average sensitivity", "Share of each class's test images found, averaged over classes.",
            lambda c: _pct(_number(c, "test_metrics.macro.recall"))),
    Measure("Ranking quality (ROC-AUC)", "How often an image of a class scores above one of another class; "
            "50 % is chance, 100 % perfect.", lambda c: _pct(_number(c, "test_metrics.macro.roc_auc",
                                                                       "test_metrics.roc_auc"))),
    Measure("Calibration error", "How far stated probabilities stray from how often they are right, on "
            "average (0 = perfectly honest).", _calibration),
    Measure("Uncertain below", "A top class under this calibrated probability is reported as uncertain.",
            lambda c: _pct(c.get("uncertainty_threshold"), 0)),
    Measure("Prediction set", "The classes the model cannot rule out, at this coverage.", _prediction_set),
    Measure("Foreign images", "The check that refuses images unlike the training images.", _refusals),
    Measure("Heat map on the lesion", "The Grad-CAM map checked against radiologists' lesion outlines (pointing "
            "game), against a map that always points at the image centre.", _heat_on_lesion),
    Measure("Heat off the patient", "Share of the map on padding, background, burned-in text or calipers; "
            "above 30 % the model is flagged as looking at shortcuts.", _heat_off_anatomy),
    Measure("Time per image", "Measured on the machine that trained it.", _latency),
)


def measures_table(card: Card) -> pd.DataFrame:
    """One model's figures: rows ``Measure.label``, columns value and meaning."""
    return pd.DataFrame({"value": [m.read(card) for m in MEASURES], "what it means": [m.meaning for m in MEASURES]},
                        index=pd.Index([m.label for m in MEASURES], name="measure"))


def comparison_table(cards: Sequence[Card]) -> pd.DataFrame:
    """Models side by side: one column per model (by name), one row per measure, values as text."""
    return pd.DataFrame({str(c.get("name", i)): [m.read(c) for m in MEASURES] for i, c in enumerate(cards)},
                        index=pd.Index([m.label for m in MEASURES], name="measure"))


def _task_or_none(task_id: Any) -> Task | None:
    try:
        return get_task(task_id)
    except UnknownTaskError:
        return None


#: Per-class columns: card key -> how the page names it.
PER_CLASS = {"recall": "found (sensitivity)", "specificity": "correctly excluded (specificity)",
             "precision": "right when named (precision)", "support": "test images"}


def per_class_frame(card: Card) -> pd.DataFrame:
    """Per-class test figures as percentages (rows: class display names); empty when the card has none."""
    per_class = _get(card, "test_metrics.per_class") or {}
    task = _task_or_none(card.get("task_id"))
    rows = {}
    for class_id, metrics in per_class.items():
        name = task.class_names.get(class_id, class_id) if task else class_id
        rows[name] = {label: (str(metrics.get(key, MISSING)) if key == "support" else _pct(metrics.get(key)))
                      for key, label in PER_CLASS.items()}
    return pd.DataFrame.from_dict(rows, orient="index")


def confusion_frame(card: Card) -> pd.DataFrame | None:
    """Test confusion matrix (rows true, columns predicted) labelled with class names, or None."""
    matrix = _get(card, "test_metrics.confusion_matrix")
    if not matrix:
        return None
    names = card.get("class_names") or [str(i) for i in range(len(matrix))]
    task = _task_or_none(card.get("task_id"))
    labels = [task.class_names.get(n, n) if task else n for n in names]
    return pd.DataFrame(matrix, index=pd.Index(labels, name="true class"),
                        columns=pd.Index(labels, name="given as"))
