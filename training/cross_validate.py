"""k-fold cross-validation: a fresh model per fold, one training config, mean +- std per metric.

    python -m training.cross_validate --task breast_us --data data/busi --model mobilenet_v2 \\
        --folds 10 --epochs 10 --fine-tune-epochs 10

Folds are stratified and, where the dataset names subjects (C-NMC), grouped so that no
subject is in the training and the test part of one fold. Inside a fold a validation part is
held out of the training part for early stopping and calibration. Nothing is written to
``models/``; each fold's run folder holds its history, plots, metrics and ``splits.csv``.
Writes ``cv.json`` and ``cv.md``; ``--resume`` skips folds that already finished.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path
from typing import Sequence

import numpy as np

from core import paths
from core.data import kfold_splits
from training import datasets, loop
from training.cli import run, to_dict, write_json_atomic, write_text_atomic
from training.config import CrossValidateConfig
from training.train_classifier import check_model_config, fit_and_score

log = logging.getLogger(__name__)
MODULE = "training.cross_validate"

#: summary name -> how to read it from a fold's metrics.
SUMMARY_METRICS = {
    "accuracy": lambda m: m["accuracy"],
    "macro_precision": lambda m: m["test"]["macro"]["precision"],
    "macro_recall": lambda m: m["test"]["macro"]["recall"],
    "macro_specificity": lambda m: m["test"]["macro"]["specificity"],
    "macro_f1": lambda m: m["test"]["macro"]["f1"],
    "weighted_f1": lambda m: m["test"]["weighted"]["f1"],
    "macro_roc_auc": lambda m: m["test"]["macro"]["roc_auc"],
    "ece_after": lambda m: m["calibration"]["ece_after"],
    "latency_mean_ms": lambda m: m["latency_ms"]["mean_ms"],
    "train_seconds": lambda m: m["train_seconds"],
}


def summarise(fold_metrics: list[dict]) -> dict[str, dict]:
    """Mean, sample standard deviation, min and max of each summary metric over the folds.

    Folds where a metric is undefined (None, e.g. ROC-AUC of a class absent from the fold) are
    left out of that metric, and ``n`` says how many folds it covers.
    """
    out = {}
    for name, read in SUMMARY_METRICS.items():
        values = np.array([v for v in (read(m) for m in fold_metrics) if v is not None], dtype=np.float64)
        if len(values) == 0:
            out[name] = {"mean": None, "std": None, "min": None, "max": None, "n": 0}
            continue
        out[name] = {"mean": float(values.mean()), "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
                     "min": float(values.min()), "max": float(values.max()), "n": int(len(values))}
    return out


def _fmt(value: float | None, digits: int = 4) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def to_markdown(result: dict) -> str:
    """Fold-by-fold table with a mean +- std row."""
    names = list(SUMMARY_METRICS)
    lines = [f"# {result['folds']}-fold cross-validation of `{result['model']}` on `{result['task']}`", "",
             f"Grouped by subject: {'yes' if result['grouped_by_subject'] else 'no (no subject ids)'}; "
             f"{result['n_images']} images.", "",
             "| fold | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for i, fold in enumerate(result["fold_metrics"], start=1):
        lines.append(f"| {i} | " + " | ".join(_fmt(SUMMARY_METRICS[n](fold)) for n in names) + " |")
    summary = result["summary"]
    lines.append("| **mean +- std** | " + " | ".join(
        f"{_fmt(summary[n]['mean'])} +- {_fmt(summary[n]['std'])}" for n in names) + " |")
    return "\n".join(lines) + "\n"


def cross_validate(cfg: CrossValidateConfig) -> dict:
    """Train and test one fresh model per fold and summarise.

    Args:
        cfg: the cross-validation config (its ``train`` part configures every fold).

    Returns:
        ``summary`` (metric -> mean, std, min, max, n), ``fold_metrics`` (one metrics dict per
        fold), ``accuracy_mean``/``accuracy_std``, ``folds``, ``files``.
    """
    cfg.validate()
    train_cfg = dataclasses.replace(cfg.train, ood=False, default=False)
    check_model_config(train_cfg)
    out = Path(cfg.out) if cfg.out else paths.RUNS_DIR / train_cfg.task / f"cv-{train_cfg.run_name}"
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(to_dict(cfg), out / "config.json")
    df = datasets.read_table(train_cfg)
    folds = kfold_splits(df, cfg.folds, train_cfg.seed)
    fold_metrics = []
    for i, (train_idx, test_idx) in enumerate(folds, start=1):
        fold_dir = out / f"fold_{i:02d}"
        done = fold_dir / "metrics.json"
        if train_cfg.resume and done.is_file():
            log.info("Fold %d/%d finished before; reusing %s.", i, len(folds), done)
            fold_metrics.append(json.loads(done.read_text(encoding="utf-8")))
            continue
        log.info("Fold %d/%d: %d training+validation images, %d test images.", i, len(folds),
                 len(train_idx), len(test_idx))
        data = datasets.fold_data(train_cfg, df, train_idx, test_idx)
        result = fit_and_score(train_cfg, fold_dir, data)
        loop.reset_checkpoints(fold_dir)  # the fold is scored; its checkpoints are only disk space now
        fold_metrics.append(result.metrics)
    summary = summarise(fold_metrics)
    result = {
        "task": train_cfg.task, "model": train_cfg.model, "folds": cfg.folds, "n_images": int(len(df)),
        "grouped_by_subject": bool((df["subject"].astype(str) != "").any()),
        "accuracy_mean": summary["accuracy"]["mean"], "accuracy_std": summary["accuracy"]["std"],
        "summary": summary, "fold_metrics": fold_metrics,
        "files": {"json": str(out / "cv.json"), "markdown": str(out / "cv.md")},
    }
    write_json_atomic(result, out / "cv.json")
    write_text_atomic(to_markdown(result), out / "cv.md")
    return result


def _summary(cfg: CrossValidateConfig, result: dict) -> str:
    return (f"{result['folds']}-fold accuracy {result['accuracy_mean']:.4f} +- {result['accuracy_std']:.4f}; "
            f"report: {result['files']['markdown']}")


def main(argv: Sequence[str] | None = None) -> dict:
    """Command-line entry: parse flags (and ``--config``), cross-validate, print mean +- std."""
    return run(CrossValidateConfig, cross_validate, argv, module=MODULE,
               description="k-fold cross-validation of a classifier.", report=_summary)


if __name__ == "__main__":
    main()
