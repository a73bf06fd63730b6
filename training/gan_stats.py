"""Paired comparison of two arms measured on the same folds: mean difference, 95 % CI, paired tests, verdict.

The unit of pairing is the fold: both arms are scored on the same real test images of a fold, so
fold-to-fold difficulty cancels in the difference. Training seeds within a fold are averaged
first (they share the fold's test images, so they are not independent pairs).
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from scipy import stats


def paired_comparison(baseline: Sequence[float | None], treated: Sequence[float | None]) -> dict:
    """Mean of ``treated - baseline`` over pairs, with a t-based 95 % CI and two paired tests.

    Args:
        baseline: one value per fold (real-only arm); None where undefined.
        treated: the same folds' values (real + synthetic arm).

    Returns:
        ``n_pairs``, ``mean_difference``, ``ci95`` ([low, high]), ``p_value`` (paired t-test,
        scipy.stats.ttest_rel), ``p_value_wilcoxon`` (scipy.stats.wilcoxon), ``differences``;
        figures are None when fewer than 2 pairs are defined.
    """
    pairs = [(a, b) for a, b in zip(baseline, treated) if a is not None and b is not None]
    diffs = np.array([b - a for a, b in pairs], dtype=np.float64)
    out = {"n_pairs": int(len(diffs)), "differences": diffs.tolist(),
           "mean_difference": float(diffs.mean()) if len(diffs) else None,
           "ci95": None, "p_value": None, "p_value_wilcoxon": None}
    if len(diffs) < 2:
        return out
    sem = diffs.std(ddof=1) / math.sqrt(len(diffs))
    half = float(stats.t.ppf(0.975, len(diffs) - 1) * sem)
    out["ci95"] = [float(diffs.mean() - half), float(diffs.mean() + half)]
    if np.allclose(diffs, 0.0):
        out["p_value"] = out["p_value_wilcoxon"] = 1.0  # identical arms: no evidence of any difference
        return out
    out["p_value"] = float(stats.ttest_rel([b for _, b in pairs], [a for a, _ in pairs]).pvalue) \
        if sem > 0 else 0.0
    out["p_value_wilcoxon"] = float(stats.wilcoxon(diffs).pvalue)
    return out


def verdict(comparison: dict, metric: str = "accuracy", unit: float = 100.0, unit_name: str = "points",
            versus: str | None = None) -> dict:
    """A plain sentence: does the treated arm help? "Helps" only when the whole 95 % CI is above zero.

    Args:
        comparison: from :func:`paired_comparison`.
        metric: the metric's name, used in the sentence.
        unit: multiplier for the figures (100: fractions shown as percentage points).
        unit_name: the unit's name.
        versus: what the synthetic arm is compared with when it is not the real-only arm (e.g. "as many
            duplicated real images"): the sentence then says whether synthetic images beat it.

    Returns:
        ``metric``, ``outcome`` ("improved", "no_improvement", "worse" or "undetermined"),
        ``difference``, ``ci95``, ``p_value`` and ``sentence``.
    """
    diff, ci, p = comparison["mean_difference"], comparison["ci95"], comparison["p_value"]
    base = {"metric": metric, "difference": diff, "ci95": ci, "p_value": p}
    if diff is None or ci is None:
        return dict(base, outcome="undetermined",
                    sentence=f"Too few paired folds to say whether synthetic augmentation changes {metric}.")
    figures = (f"{diff * unit:+.1f} {unit_name} {metric} (95 % CI {ci[0] * unit:+.1f} to {ci[1] * unit:+.1f}; "
               f"paired t-test p = {p:.2g}, {comparison['n_pairs']} folds)")
    if versus:
        helps, hurts, neither = (f"Synthetic images help the classifier more than {versus}",
                                 f"Synthetic images help the classifier LESS than {versus}",
                                 f"Synthetic images do NOT help the classifier more than {versus}")
    else:
        helps, hurts, neither = ("Synthetic augmentation helps the classifier",
                                 "Synthetic augmentation does NOT help the classifier; it hurts it",
                                 "Synthetic augmentation does NOT help the classifier")
    if ci[0] > 0:
        outcome, sentence = "improved", f"{helps}: {figures}."
    elif ci[1] < 0:
        outcome, sentence = "worse", f"{hurts}: {figures}."
    else:
        outcome, sentence = "no_improvement", f"{neither}: {figures}; the interval includes no change."
    return dict(base, outcome=outcome, sentence=sentence)
