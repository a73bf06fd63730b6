"""Evaluate a served (or saved) classifier on a dataset folder: the metrics of the papers' tables.

    python -m training.evaluate --task brain_mri_4class --data data/brain-tumor-mri --split test
    python -m training.evaluate --task breast_us --data data/busi --model runs/x/model.keras

Accuracy, per-class precision / recall / F1 / specificity, macro and weighted averages,
one-vs-rest ROC-AUC, confusion matrix (core.evaluation.metrics, i.e. scikit-learn), latency per image
(min / mean / max ms, the MRI paper's table 6) and the parameter count. Predictions are the
model's calibrated ones, made exactly as the app makes them (core.inference.ServedModel).
Writes ``report.json``, ``report.md`` and the plots to the report folder.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Sequence

from core import paths
from core.data import DatasetError, make_dataset, read_dataset
from core.data.splits import PUBLISHED_TEST
from core.evaluation.metrics import classification_report, to_markdown
from core.models import model_info
from core.serving import cards
from core.serving.calibration import apply_temperature
from core.serving.errors import ModelIntegrityError
from core.serving.loader import load_keras_checked
from core.serving.served import ServedModel, check_model_fits_card, load_model
from training import scoring
from training.cli import run, to_dict, write_json_atomic, write_text_atomic
from training.config import EvaluateConfig
from training.datasets import limit_per_class

log = logging.getLogger(__name__)
MODULE = "training.evaluate"


def load_served(cfg: EvaluateConfig) -> ServedModel:
    """The model to evaluate: a served name (or the task's default), or a ``.keras`` path with its card.

    Raises:
        core.inference.ServingError: no such model, or a file that does not match its card.
    """
    if cfg.model is None or not cfg.model.endswith(".keras"):
        return load_model(cfg.task, cfg.model, cfg.models_dir)
    keras_path = Path(cfg.model)
    card_path = Path(cfg.card) if cfg.card else cards.card_path_for(keras_path)
    card = cards.read_card(card_path)
    if card["task_id"] != cfg.task:
        raise ModelIntegrityError(f"{card_path.name} is a model for task '{card['task_id']}', not '{cfg.task}'.")
    if keras_path.parent.name == cfg.task and card["keras_file"] == keras_path.name:
        # In a models folder: let core.serving run every check it runs for the app.
        return load_model(cfg.task, card["name"], keras_path.parent.parent)
    keras_model = load_keras_checked(keras_path, card["sha256"])
    check_model_fits_card(keras_model, card)
    return ServedModel(card, keras_model)


def _select(df, split: str):
    if split == "all":
        return df
    chosen = df[df["source"].astype(str).str.lower() == PUBLISHED_TEST]
    if chosen.empty:
        raise DatasetError("--split test needs the dataset's published Testing folder (Kaggle brain MRI); "
                           "this dataset has none. Use --split all.")
    return chosen.reset_index(drop=True)


def _markdown(result: dict, served: ServedModel) -> str:
    lat = result["latency_ms"]
    names = [served.task.class_names[c] for c in served.class_names]
    return "\n".join([
        f"# Evaluation of `{served.name}` on `{result['data']}`", "",
        f"Task `{served.task.id}`; architecture `{served.card['architecture']}`; "
        f"{result['params']:,} parameters; trained on {served.card['training_data']['kind']} data; "
        f"temperature {served.temperature:.3f}.", "",
        to_markdown(result, names),
        "| latency per image | min | mean | median | max |", "|---|---:|---:|---:|---:|",
        f"| ms ({lat['n']} images, batch 1) | {lat['min_ms']:.2f} | {lat['mean_ms']:.2f} "
        f"| {lat['median_ms']:.2f} | {lat['max_ms']:.2f} |", "",
    ])


def evaluate(cfg: EvaluateConfig) -> dict:
    """Score a model on a dataset folder and write the report.

    Args:
        cfg: the evaluation config.

    Returns:
        core.evaluation.metrics.classification_report of the calibrated predictions, plus ``latency_ms``,
        ``params``, ``flops``, ``model``, ``data`` and ``files`` (written paths).
    """
    cfg.validate()
    served = load_served(cfg)
    out = Path(cfg.out) if cfg.out else paths.RUNS_DIR / cfg.task / f"eval-{served.name}"
    df = limit_per_class(_select(read_dataset(cfg.data, cfg.task), cfg.split), cfg.limit, cfg.seed)
    ds = make_dataset(df, served.task, served.input_size, cfg.batch_size, training=False, cache=False)
    scored = scoring.collect(served.logits_and_features, ds, keep_images=min(cfg.latency_samples, 64))
    probs = apply_temperature(scored["logits"], served.temperature)
    result = classification_report(scored["y"], probs, served.class_names)
    info = model_info(served.keras_model)
    result.update(
        model=served.name, task=served.task.id, data=str(cfg.data), split=cfg.split,
        latency_ms=scoring.measure_latency(served.logits_and_features, scored["images"], cfg.latency_samples),
        params=info["params"], flops=info["flops"], config=to_dict(cfg),
    )
    files = scoring.write_plots(out, list(served.class_names), scored["y"], probs)
    files["json"] = str(out / "report.json")
    files["markdown"] = str(out / "report.md")
    result["files"] = files
    write_json_atomic(result, out / "report.json")
    write_text_atomic(_markdown(result, served), out / "report.md")
    return result


def _summary(cfg: EvaluateConfig, result: dict) -> str:
    return (f"{result['model']} on {result['n']} images: accuracy {result['accuracy']:.4f}, "
            f"macro F1 {result['macro']['f1']:.4f}, mean latency {result['latency_ms']['mean_ms']:.1f} ms; "
            f"report: {result['files']['markdown']}")


def main(argv: Sequence[str] | None = None) -> dict:
    """Command-line entry: parse flags (and ``--config``), evaluate, print the headline."""
    return run(EvaluateConfig, evaluate, argv, module=MODULE, description="Evaluate a classifier on a dataset folder.",
               report=_summary)


if __name__ == "__main__":
    main()
