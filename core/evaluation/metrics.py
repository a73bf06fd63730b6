"""Classification metrics a clinician or a reviewer asks for, computed by scikit-learn.

One report dict carries everything the model card, the evaluation script and the app show:
accuracy, per-class precision / recall (= sensitivity) / specificity / F1 / ROC-AUC, their macro
and support-weighted averages, log loss and the confusion matrix. Specificity is derived from
the confusion matrix because scikit-learn has no scorer for it.
"""

from __future__ import annotations

import statistics
from typing import Sequence

import numpy as np
from numpy.typing import ArrayLike
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    log_loss,
    precision_recall_fscore_support,
    roc_auc_score,
)

#: Per-class keys averaged into the "macro" and "weighted" rows.
AVERAGED_KEYS = ("precision", "recall", "specificity", "f1", "roc_auc")


class MetricsError(ValueError):
    """Labels or probabilities that cannot be scored (wrong shape, unknown class, empty)."""


def check_predictions(y_true: ArrayLike, y_prob: ArrayLike, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Validate labels against a probability matrix.

    Args:
        y_true: (n,) integer class indices.
        y_prob: (n, n_classes) probabilities, rows summing to 1.
        n_classes: number of classes the model outputs.

    Returns:
        ``(y_true, y_prob)`` as int64 and float64 arrays.

    Raises:
        MetricsError: naming what is wrong.
    """
    y_true = np.asarray(y_true)
    y_prob = np.asarray(y_prob, dtype=np.float64)
    if y_true.ndim != 1 or len(y_true) == 0:
        raise MetricsError(f"Expected a non-empty 1-D array of true labels, got shape {y_true.shape}.")
    if y_prob.ndim != 2 or y_prob.shape != (len(y_true), n_classes):
        raise MetricsError(
            f"Expected probabilities of shape ({len(y_true)}, {n_classes}) "
            f"(one row per label, one column per class), got {y_prob.shape}."
        )
    if not np.issubdtype(y_true.dtype, np.integer):
        raise MetricsError("True labels must be integer class indices (0 .. n_classes-1).")
    if y_true.min() < 0 or y_true.max() >= n_classes:
        raise MetricsError(f"True labels must lie in 0..{n_classes - 1}; got {y_true.min()}..{y_true.max()}.")
    if not np.all(np.isfinite(y_prob)) or not np.allclose(y_prob.sum(axis=1), 1.0, atol=1e-3):
        raise MetricsError("Every probability row must be finite and sum to 1 (pass softmax outputs, not logits).")
    return y_true.astype(np.int64), y_prob


def _specificities(cm: np.ndarray) -> list[float | None]:
    """TN / (TN + FP) per class, one-vs-rest; None when no sample is negative for the class."""
    total = cm.sum()
    out: list[float | None] = []
    for i in range(len(cm)):
        fp = cm[:, i].sum() - cm[i, i]
        tn = total - cm[i, :].sum() - cm[:, i].sum() + cm[i, i]
        out.append(float(tn / (tn + fp)) if tn + fp > 0 else None)
    return out


def _roc_aucs(y_true: np.ndarray, y_prob: np.ndarray, class_names: Sequence[str],
              notes: list[str]) -> list[float | None]:
    """One-vs-rest ROC-AUC per class; None (with a note) where it is undefined."""
    out: list[float | None] = []
    for i, name in enumerate(class_names):
        positives = y_true == i
        if positives.all() or not positives.any():
            # AUC needs both positives and negatives for the class.
            notes.append(f"ROC-AUC of '{name}' is undefined: the evaluation set has "
                         f"{'only' if positives.all() else 'no'} samples of that class.")
            out.append(None)
        else:
            out.append(float(roc_auc_score(positives, y_prob[:, i])))
    return out


def _average(per_class: dict, key: str, weights: np.ndarray | None) -> float | None:
    """Mean of a per-class metric over the classes where it is defined."""
    weights = np.ones(len(per_class)) if weights is None else np.asarray(weights, dtype=np.float64)
    pairs = [(m[key], w) for m, w in zip(per_class.values(), weights) if m[key] is not None]
    if not pairs or sum(w for _, w in pairs) == 0:
        return None
    values, kept_weights = zip(*pairs)
    return float(np.average(values, weights=kept_weights))


def classification_report(y_true: ArrayLike, y_prob: ArrayLike, class_names: Sequence[str]) -> dict:
    """Every metric of a classifier on one evaluation set.

    Args:
        y_true: (n,) integer class indices.
        y_prob: (n, k) predicted probabilities in ``class_names`` order.
        class_names: class ids in model output order.

    Returns:
        JSON-serialisable dict: ``n``, ``class_names``, ``accuracy``, ``per_class`` (class ->
        precision, recall, sensitivity, specificity, f1, roc_auc, support), ``macro``, ``weighted``,
        ``log_loss``, ``confusion_matrix`` (rows true, columns predicted) and ``notes``.
        Undefined values (e.g. ROC-AUC of a class absent from ``y_true``) are None with a note.

    Raises:
        MetricsError: inputs of the wrong shape or range.
    """
    class_names = list(class_names)
    y_true, y_prob = check_predictions(y_true, y_prob, len(class_names))
    labels = list(range(len(class_names)))
    y_pred = y_prob.argmax(axis=1)
    notes: list[str] = []
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    cm = confusion_matrix(y_true, y_pred, labels=labels)
    specificity = _specificities(cm)
    aucs = _roc_aucs(y_true, y_prob, class_names, notes)
    per_class = {
        name: {
            "precision": float(precision[i]), "recall": float(recall[i]), "sensitivity": float(recall[i]),
            "specificity": specificity[i], "f1": float(f1[i]), "roc_auc": aucs[i], "support": int(support[i]),
        }
        for i, name in enumerate(class_names)
    }
    for i, name in enumerate(class_names):
        if specificity[i] is None:
            notes.append(f"Specificity of '{name}' is undefined: every sample belongs to that class.")
    return {
        "n": int(len(y_true)),
        "class_names": class_names,
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "per_class": per_class,
        "macro": {k: _average(per_class, k, None) for k in AVERAGED_KEYS},
        "weighted": {k: _average(per_class, k, support) for k in AVERAGED_KEYS},
        "log_loss": float(log_loss(y_true, y_prob, labels=labels)),
        "confusion_matrix": cm.astype(int).tolist(),
        "notes": notes,
    }


def reliability_bins(y_true: ArrayLike, y_prob: ArrayLike, n_bins: int = 15) -> dict[str, np.ndarray]:
    """Top-label confidence histogram used by the ECE and the reliability diagram.

    Args:
        y_true: (n,) integer class indices.
        y_prob: (n, k) probabilities.
        n_bins: equal-width confidence bins on [0, 1].

    Returns:
        ``edges`` (n_bins+1,), ``confidence`` and ``accuracy`` (mean per bin, NaN when empty), ``count``.
    """
    if n_bins < 1:
        raise MetricsError(f"n_bins must be at least 1, got {n_bins}.")
    y_prob = np.asarray(y_prob, dtype=np.float64)
    y_true, y_prob = check_predictions(y_true, y_prob, y_prob.shape[-1] if y_prob.ndim == 2 else 0)
    confidence = y_prob.max(axis=1)
    correct = (y_prob.argmax(axis=1) == y_true).astype(np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # Right-closed bins so a confidence of exactly 1.0 lands in the last bin.
    index = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, n_bins - 1)
    count = np.bincount(index, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(index, weights=confidence, minlength=n_bins) / count
        mean_acc = np.bincount(index, weights=correct, minlength=n_bins) / count
    return {"edges": edges, "confidence": mean_conf, "accuracy": mean_acc, "count": count}


def expected_calibration_error(y_true: ArrayLike, y_prob: ArrayLike, n_bins: int = 15) -> float:
    """Expected calibration error of the top-label confidence (Guo et al. 2017).

    Args:
        y_true: (n,) integer class indices.
        y_prob: (n, k) probabilities.
        n_bins: equal-width confidence bins.

    Returns:
        Sum over bins of |accuracy - confidence| weighted by the bin's share of samples, in [0, 1].
    """
    bins = reliability_bins(y_true, y_prob, n_bins)
    filled = bins["count"] > 0
    gaps = np.abs(bins["accuracy"][filled] - bins["confidence"][filled])
    return float(np.sum(gaps * bins["count"][filled]) / bins["count"].sum())


def latency_summary(seconds_list: Sequence[float]) -> dict:
    """Summarise measured latencies.

    Args:
        seconds_list: durations in seconds.

    Returns:
        ``min_ms``, ``mean_ms``, ``median_ms``, ``max_ms`` (milliseconds) and ``n``.
    """
    values = [float(s) for s in seconds_list]
    if not values or any(not np.isfinite(v) or v < 0 for v in values):
        raise MetricsError("Latency needs at least one finite, non-negative duration in seconds.")
    return {
        "min_ms": 1000 * min(values), "mean_ms": 1000 * statistics.fmean(values),
        "median_ms": 1000 * statistics.median(values), "max_ms": 1000 * max(values), "n": len(values),
    }


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def to_markdown(report: dict, class_names: Sequence[str]) -> str:
    """Render a :func:`classification_report` as Markdown tables.

    Args:
        report: the dict returned by :func:`classification_report`.
        class_names: labels to print for the classes, in output order (ids or display names).

    Returns:
        Markdown: metrics per class with macro/weighted rows, accuracy, log loss, confusion matrix, notes.
    """
    keys = list(report["per_class"])
    if len(class_names) != len(keys):
        raise MetricsError(f"Expected {len(keys)} class names for this report, got {len(class_names)}.")
    lines = [
        "| class | precision | recall (sensitivity) | specificity | F1 | ROC-AUC | support |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, key in zip(class_names, keys):
        m = report["per_class"][key]
        lines.append(f"| {label} | {_fmt(m['precision'])} | {_fmt(m['recall'])} | {_fmt(m['specificity'])} "
                     f"| {_fmt(m['f1'])} | {_fmt(m['roc_auc'])} | {m['support']} |")
    for row in ("macro", "weighted"):
        m = report[row]
        lines.append(f"| *{row} avg* | {_fmt(m['precision'])} | {_fmt(m['recall'])} | {_fmt(m['specificity'])} "
                     f"| {_fmt(m['f1'])} | {_fmt(m['roc_auc'])} | {report['n']} |")
    lines += ["", f"**Accuracy:** {_fmt(report['accuracy'])} on {report['n']} images; "
                  f"**log loss:** {_fmt(report['log_loss'])}", "",
              "Confusion matrix (rows: true class, columns: predicted class):", "",
              "| true \\ predicted | " + " | ".join(class_names) + " |",
              "|---|" + "---:|" * len(class_names)]
    for label, row in zip(class_names, report["confusion_matrix"]):
        lines.append(f"| {label} | " + " | ".join(str(v) for v in row) + " |")
    lines += [""] + [f"- {note}" for note in report.get("notes", [])]
    return "\n".join(lines).rstrip() + "\n"
