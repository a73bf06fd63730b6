"""Evaluation figures: training curves, confusion matrix, ROC curves, reliability diagram.

Figures are built on ``matplotlib.figure.Figure`` with the Agg canvas, never through pyplot's
global state, so the training scripts and the app's threads can draw at the same time. Every
PNG is written to a temporary file and renamed, so a crash never leaves half an image.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from numpy.typing import ArrayLike
from sklearn.metrics import ConfusionMatrixDisplay, RocCurveDisplay

from core.atomic import atomic_write
from core.evaluation.metrics import MetricsError, check_predictions, expected_calibration_error, reliability_bins

if TYPE_CHECKING:
    import pandas as pd

#: History columns plotted side by side: panel title -> (train column, validation column).
HISTORY_PANELS = {"accuracy": ("accuracy", "val_accuracy"), "loss": ("loss", "val_loss")}


class PlotError(ValueError):
    """Data that cannot be drawn (missing columns, wrong shapes)."""


def _new_figure(width: float, height: float, ncols: int = 1) -> tuple[Figure, list]:
    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(1, ncols, i + 1) for i in range(ncols)]
    return fig, axes


def _save_atomic(fig: Figure, out_png: str | Path) -> Path:
    """Write ``fig`` as PNG via a temporary file in the same folder, then rename."""
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    with atomic_write(out_png) as fh:
        fig.savefig(fh, format="png")
    return out_png


def plot_history(history_df: pd.DataFrame, out_png: str | Path) -> Path:
    """Accuracy and loss per epoch, training and validation.

    Args:
        history_df: pandas DataFrame (or dict of lists) with Keras history columns such as
            ``accuracy``, ``val_accuracy``, ``loss``, ``val_loss``; one row per epoch.
        out_png: where to write the figure.

    Returns:
        The written path.
    """
    columns: Mapping[str, Sequence[float]] = {k: list(history_df[k]) for k in history_df.keys()}
    panels = {title: cols for title, cols in HISTORY_PANELS.items() if any(c in columns for c in cols)}
    if not panels:
        raise PlotError("The training history has no 'accuracy' or 'loss' column to plot; "
                        f"it has: {', '.join(map(str, columns)) or 'nothing'}.")
    fig, axes = _new_figure(5 * len(panels), 3.5, ncols=len(panels))
    for ax, (title, cols) in zip(axes, panels.items()):
        for col, split in zip(cols, ("training", "validation")):
            if col in columns:
                values = columns[col]
                ax.plot(range(1, len(values) + 1), values, marker="o", label=split)
        ax.set(title=title, xlabel="epoch", ylabel=title)
        ax.legend()
        ax.grid(alpha=0.3)
    return _save_atomic(fig, out_png)


def plot_confusion_matrix(cm: ArrayLike, class_names: Sequence[str], out_png: str | Path) -> Path:
    """Confusion matrix with counts (rows: true class, columns: predicted class).

    Args:
        cm: (k, k) counts, e.g. ``report["confusion_matrix"]``.
        class_names: k labels in output order.
        out_png: where to write the figure.

    Returns:
        The written path.
    """
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape != (len(class_names), len(class_names)):
        raise PlotError(f"Expected a {len(class_names)}x{len(class_names)} confusion matrix, got shape {cm.shape}.")
    size = 2.5 + 0.8 * len(class_names)
    fig, (ax,) = _new_figure(size + 1, size)
    ConfusionMatrixDisplay(cm, display_labels=list(class_names)).plot(ax=ax, cmap="Blues", colorbar=True)
    ax.set(xlabel="predicted class", ylabel="true class")
    ax.tick_params(axis="x", labelrotation=30)
    return _save_atomic(fig, out_png)


def plot_roc(y_true: ArrayLike, y_prob: ArrayLike, class_names: Sequence[str], out_png: str | Path) -> Path:
    """One-vs-rest ROC curve per class (only the positive class for a binary task).

    Classes absent from ``y_true`` (or covering all of it) have no ROC curve and are skipped.

    Args:
        y_true: (n,) integer class indices.
        y_prob: (n, k) probabilities.
        class_names: k labels in output order.
        out_png: where to write the figure.

    Returns:
        The written path.
    """
    try:
        y_true, y_prob = check_predictions(y_true, y_prob, len(class_names))
    except MetricsError as exc:
        raise PlotError(str(exc)) from None
    # With two classes both one-vs-rest curves are the same curve; draw the positive one.
    classes = [1] if len(class_names) == 2 else range(len(class_names))
    fig, (ax,) = _new_figure(5, 4.5)
    for i in classes:
        positives = y_true == i
        if positives.any() and not positives.all():
            RocCurveDisplay.from_predictions(positives, y_prob[:, i], name=str(class_names[i]), ax=ax)
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="chance")
    ax.set(title="ROC (one vs rest)", xlabel="1 - specificity", ylabel="sensitivity")
    ax.legend(loc="lower right", fontsize="small")
    return _save_atomic(fig, out_png)


def plot_reliability(y_true: ArrayLike, y_prob_before: ArrayLike, y_prob_after: ArrayLike | None, out_png: str | Path,
                     n_bins: int = 15) -> Path:
    """Reliability diagram: accuracy against confidence, before and after calibration.

    Args:
        y_true: (n,) integer class indices.
        y_prob_before: (n, k) uncalibrated probabilities.
        y_prob_after: (n, k) calibrated probabilities, or None to draw only the first.
        out_png: where to write the figure.
        n_bins: confidence bins; 15 as in the card's ECE (``calibrate``), so the legend and the card agree.

    Returns:
        The written path.
    """
    series = {"before calibration": y_prob_before, "after calibration": y_prob_after}
    fig, (ax,) = _new_figure(5, 4.5)
    width = 1.0 / n_bins
    try:
        for offset, (name, prob) in zip((0.0, 0.5), ((n, p) for n, p in series.items() if p is not None)):
            bins = reliability_bins(y_true, prob, n_bins)
            ece = expected_calibration_error(y_true, prob, n_bins)
            centres = bins["edges"][:-1] + width * (0.25 + offset)
            ax.bar(centres, np.nan_to_num(bins["accuracy"]), width=width / 2, alpha=0.8,
                   label=f"{name} (ECE {ece:.3f})")
    except MetricsError as exc:
        raise PlotError(str(exc)) from None
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    ax.set(xlim=(0, 1), ylim=(0, 1), title="Reliability diagram", xlabel="confidence", ylabel="accuracy")
    ax.legend(loc="upper left", fontsize="small")
    return _save_atomic(fig, out_png)
