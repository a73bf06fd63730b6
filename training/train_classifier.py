"""Train one classifier on a task's dataset and publish it with its model card.

    python -m training.train_classifier --task brain_mri_4class --data data/brain-tumor-mri \\
        --model resnet50 --epochs 10 --fine-tune-epochs 10 --respect-source

``main()`` parses; :func:`train` does the work and returns the metrics (tests call it).
Outputs: ``<models_dir>/<task>/<run>.keras`` + ``<run>.card.json`` (+ ``<run>.ood.npz``),
and in the run folder ``config.json``, ``history.csv``, ``metrics.json`` and the plots.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import keras
import numpy as np

from core import paths
from core.models import build_classifier, get_spec, model_info
from core.preprocess import prepare
from core.serving.cards import read_card
from core.tasks import get_task
from training import datasets, loop, publish, scoring
from training.cli import run, to_command, to_dict, write_json_atomic
from training.config import ConfigError, TrainConfig
from training.runtime import runtime

log = logging.getLogger(__name__)
MODULE = "training.train_classifier"
#: Prepared images per split kept in memory for the OOD detector's input statistics.
OOD_STAT_IMAGES = 1000


@dataclass
class RunResult:
    """One trained and scored model (not yet published)."""

    model: keras.Model
    metrics: dict
    fit: loop.FitResult
    data: datasets.PreparedData
    card_fields: dict
    train_features: dict | None  # None unless cfg.ood
    val_features: dict
    is_chief: bool = True
    test_scores: dict | None = None


def run_dir_for(cfg: TrainConfig) -> Path:
    """The run folder: ``--runs-dir`` or ``RUNS_DIR/<task>/<run>``."""
    return Path(cfg.runs_dir) if cfg.runs_dir else paths.RUNS_DIR / cfg.task / cfg.run_name


def models_dir_for(cfg: TrainConfig) -> Path:
    """``<models_dir>/<task>``, where the served model goes."""
    return (Path(cfg.models_dir) if cfg.models_dir else paths.MODELS_DIR) / cfg.task


def resolve_weights(cfg: TrainConfig) -> str | None:
    """``--weights`` as build_classifier takes it; "imagenet" means nothing to from-scratch models."""
    weights = cfg.weights
    if weights.lower() == "none":
        return None
    if weights == "imagenet" and not get_spec(cfg.model).pretrained:
        log.info("'%s' has no ImageNet weights; it starts from random weights.", cfg.model)
        return None
    return weights


def _builder(cfg: TrainConfig, weights: str | None = None) -> Callable[[], keras.Model]:
    task = get_task(cfg.task)
    shape = (*datasets.input_size(cfg, task), task.channels)
    return lambda: build_classifier(cfg.model, task, shape, weights=weights)


def check_model_config(cfg: TrainConfig) -> None:
    """Refuse an unknown architecture or a too small input before any data is read.

    Raises:
        ConfigError: naming the architecture and what to change.
    """
    try:
        spec = get_spec(cfg.model)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    size = min(datasets.input_size(cfg, get_task(cfg.task)))
    if size < spec.min_size:
        raise ConfigError(f"'{cfg.model}' needs inputs of at least {spec.min_size} px; --image-size is {size}.")


def _float32_copy(cfg: TrainConfig, model: keras.Model) -> keras.Model:
    """The same weights in a float32 model: mixed-precision compute suits GPUs, not the app's CPU."""
    copy = _builder(cfg)()
    copy.set_weights(model.get_weights())
    return copy


def score_splits(cfg: TrainConfig, model: keras.Model, data: datasets.PreparedData) -> tuple[dict, dict]:
    """Logits/features of every split needed, and the test latency."""
    task = get_task(cfg.task)
    forward = scoring.model_forward(model)
    size = datasets.input_size(cfg, task)
    # Training features are only needed to fit the OOD detector; skip the extra pass otherwise.
    scored = {
        # The training split is shuffled so the images kept for the OOD guard sample every class.
        name: scoring.collect(forward, datasets.core_data.make_dataset(
            df.sample(frac=1.0, random_state=cfg.seed) if name == "train" else df, task, size, cfg.batch_size,
            training=False, cache=False),
            keep_images=OOD_STAT_IMAGES if cfg.ood else (min(cfg.latency_samples, 64) if name == "test" else 0))
        for name, df in data.splits.items() if name != "train" or cfg.ood
    }
    return scored, scoring.measure_latency(forward, scored["test"]["images"], cfg.latency_samples)


def run_card_fields(cfg: TrainConfig, data: datasets.PreparedData, metrics: dict, run_dir: Path) -> dict:
    task, spec = get_task(cfg.task), get_spec(cfg.model)
    size = list(datasets.input_size(cfg, task))
    backbone = None if not spec.pretrained else {
        "name": cfg.model, "display_name": spec.display_name, "weights": cfg.weights,
        "fine_tune_layers": cfg.fine_tune_layers or spec.fine_tune_layers}
    return dict(
        task_id=task.id, name=cfg.run_name, class_names=list(task.classes), input_shape=[*size, task.channels],
        preprocessing={"id": task.preprocessing, "params": {"size": size}}, architecture=cfg.model,
        backbone=backbone, training_data=data.training_data, split_sizes=data.split_sizes,
        test_metrics=metrics["test"], calibration=metrics["calibration"], latency_ms=metrics["latency_ms"],
        params=metrics["params"], flops=metrics["flops"], default=cfg.default, conformal=metrics["conformal"],
        training_run={"dir": str(run_dir), "config": str(run_dir / "config.json"),
                      "history": str(run_dir / loop.HISTORY_FILE), "plots": metrics["plots"],
                      "train_seconds": metrics["train_seconds"]},
    )


def fit_and_score(cfg: TrainConfig, run_dir: Path, data: datasets.PreparedData,
                  callbacks: Sequence[keras.callbacks.Callback] = ()) -> RunResult:
    """Train a fresh model on ``data`` and score it on its test split (nothing is published).

    Args:
        cfg: the validated training config.
        run_dir: checkpoints, history and plots go here.
        data: the split tables (from :func:`training.datasets.prepare_data`).
        callbacks: extra Keras callbacks (run after checkpointing).

    Returns:
        RunResult; ``metrics`` holds accuracy, the full test report, calibration, latency,
        params, flops and training time.
    """
    task = get_task(cfg.task)
    classes = list(task.classes)
    with runtime(cfg.distribute, cfg.mixed_precision, cfg.jit_compile, cfg.seed) as rt:
        run_dir = rt.private_dir(run_dir)
        train_ds, val_ds, steps = datasets.pipelines(data, cfg)
        weights = None
        if cfg.class_weights:
            weights = loop.balanced_class_weights(datasets.labels_of(data.splits["train"], task.id), task.num_classes)
        fit = loop.fit_classifier(cfg, _builder(cfg, resolve_weights(cfg)), train_ds, val_ds, steps, run_dir, rt,
                                  weights, callbacks)
    model = _float32_copy(cfg, fit.model) if rt.mixed_precision else fit.model
    scored, latency = score_splits(cfg, model, data)
    calib, report, before, after = scoring.calibrated_report(scored["val"], scored["test"], classes)
    conformal = scoring.conformal_report(scored["val"], scored["test"], calib["temperature"])
    figures = scoring.write_plots(run_dir, classes, scored["test"]["y"], after, before, fit.history) \
        if cfg.plots else {}
    info = model_info(model)
    metrics = {
        "accuracy": report["accuracy"], "macro_f1": report["macro"]["f1"], "weighted_f1": report["weighted"]["f1"],
        "test": report, "calibration": calib, "latency_ms": latency, "params": info["params"],
        "flops": info["flops"], "train_seconds": fit.train_seconds, "epochs_run": fit.epochs_run,
        "split_sizes": data.split_sizes, "plots": figures, "conformal": conformal,
        "replicas": rt.replicas, "dtype_policy": rt.policy,
    }
    metrics["val_accuracy"] = scoring.save_scores(scored, run_dir / "scores.npz")  # for training.select_model
    write_json_atomic(metrics, run_dir / "metrics.json")
    datasets.write_splits(data, run_dir / "splits.csv")
    return RunResult(model, metrics, fit, data, run_card_fields(cfg, data, metrics, run_dir),
                     scored.get("train"), scored["val"], rt.is_chief, scored["test"])


def upload_features(cfg: TrainConfig, model: keras.Model) -> Callable[[list[np.ndarray]], tuple]:
    """Raw images -> (penultimate features, prepared images), preprocessed as the app does an upload."""
    task = get_task(cfg.task)
    size = datasets.input_size(cfg, task)
    forward = scoring.model_forward(model)

    def features(images: list[np.ndarray]) -> np.ndarray:
        batch = np.stack([prepare(image, task.id, size).image for image in images]).astype(np.float32)
        return forward(batch)[1], batch

    return features


def train(cfg: TrainConfig, command: str | None = None,
          callbacks: Sequence[keras.callbacks.Callback] = ()) -> dict:
    """Train, calibrate, test and publish one classifier.

    Args:
        cfg: the training config.
        command: the command line recorded in the card (default: rebuilt from ``cfg``).
        callbacks: extra Keras callbacks (tests use them to simulate a kill).

    Returns:
        The metrics dict (also in ``<run dir>/metrics.json``), plus ``keras_file``, ``card_file``
        and ``ood`` (None for the non-chief workers of a multi-worker run, which publish nothing).
    """
    cfg.validate()
    check_model_config(cfg)
    run_dir = run_dir_for(cfg)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(to_dict(cfg), run_dir / "config.json")
    data = datasets.prepare_data(cfg)
    result = fit_and_score(cfg, run_dir, data, callbacks)
    if not result.is_chief:  # its checkpoints only mattered until the run finished
        shutil.rmtree(result.card_fields["training_run"]["dir"], ignore_errors=True)
        return {**result.metrics, "keras_file": None, "card_file": None, "ood": None}
    folder = models_dir_for(cfg)
    fitter = None
    if cfg.ood:
        def fitter(path: Path) -> dict | None:
            return publish.fit_ood(result.train_features, result.val_features, path,
                                   probe=upload_features(cfg, result.model), test=result.test_scores, task_id=cfg.task)
    card_path = publish.publish(result.model, folder, cfg.run_name,
                                {**result.card_fields, "command": command or to_command(MODULE, cfg)}, fitter)
    write_json_atomic(to_dict(cfg), folder / f"{cfg.run_name}.config.json")
    loop.reset_checkpoints(run_dir)
    card = read_card(card_path)
    return {**result.metrics, "keras_file": str(folder / card["keras_file"]), "card_file": str(card_path),
            "ood": card["ood"]}


def _summary(cfg: TrainConfig, metrics: dict) -> str:
    return (f"{cfg.task}/{cfg.run_name}: test accuracy {metrics['accuracy']:.4f}, macro F1 {metrics['macro_f1']:.4f}, "
            f"T={metrics['calibration']['temperature']:.2f}; card: {metrics['card_file']}")


def main(argv: Sequence[str] | None = None) -> dict:
    """Command-line entry: parse flags (and ``--config``), train, print a summary."""
    return run(TrainConfig, train, argv, module=MODULE,
               description="Train one classifier and publish it with its card.",
               report=_summary)


if __name__ == "__main__":
    main()
