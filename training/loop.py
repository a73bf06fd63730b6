"""The fit loop: one or two phases, checkpoints every epoch, resumable after a kill.

Transfer models train in two phases (AUCMEDI, Keras' transfer-learning guide): the
backbone frozen while the new head settles, then the top of the backbone fine-tuned at
a lower learning rate. Every model is trained on its ``logits`` layer with a
``from_logits`` loss, which is numerically safer than differentiating through the
softmax and gives the logits temperature scaling needs afterwards.

Epochs are numbered globally (phase 2 continues at ``epochs``), so ``history.csv`` and
``BackupAndRestore`` agree on where a resumed run stands.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from core import models as core_models
from training import checkpoints
from training.config import TrainConfig
from training.history import CsvHistory
from training.runtime import Runtime

HISTORY_FILE = "history.csv"
CHECKPOINT_DIR = "checkpoints"


@dataclass(frozen=True)
class Phase:
    """One ``fit`` call of the schedule.

    Attributes:
        name: "train" (single phase), "frozen" or "fine_tune".
        first_epoch: global index (0-based) of its first epoch.
        epochs: how many epochs it runs.
        learning_rate: Adam's initial learning rate.
        backbone_trainable: False freezes the backbone; True unfreezes its top layers; None
            leaves every layer as built (trainable).
    """

    name: str
    first_epoch: int
    epochs: int
    learning_rate: float
    backbone_trainable: bool | None


@dataclass
class FitResult:
    """What training produced: the served (softmax) model and its history."""

    model: keras.Model
    history: pd.DataFrame
    train_seconds: float
    epochs_run: list[int] = field(default_factory=list)
    phases: list[str] = field(default_factory=list)


def plan_phases(cfg: TrainConfig, has_backbone: bool) -> list[Phase]:
    """The schedule for a config: two phases for a backbone with fine-tuning epochs, else one.

    Args:
        cfg: the training config.
        has_backbone: whether the architecture wraps a (possibly pretrained) backbone.

    Returns:
        The phases in order.
    """
    pretrained = cfg.weights.lower() != "none"
    if has_backbone and cfg.fine_tune_epochs > 0:
        return [
            Phase("frozen", 0, cfg.epochs, cfg.learning_rate, False),
            Phase("fine_tune", cfg.epochs, cfg.fine_tune_epochs, cfg.fine_tune_learning_rate, True),
        ]
    # One phase: a pretrained backbone stays frozen (feature extraction); a random one trains whole.
    return [Phase("train", 0, cfg.epochs, cfg.learning_rate, False if has_backbone and pretrained else None)]


class EpochLog(CsvHistory):
    """``history.csv`` of a classifier: each row also names its phase and learning rate."""

    def __init__(self, path: Path, phase: str):
        super().__init__(path, lambda cb: {
            "phase": phase, "learning_rate": float(keras.ops.convert_to_numpy(cb.model.optimizer.learning_rate))})


class ScheduleResync(keras.callbacks.Callback):
    """After a resume, moves the optimizer's step counter to where the schedule had got to.

    BackupAndRestore restores weights and the epoch but not the optimizer, so without this a
    cosine schedule would restart from its peak learning rate.
    """

    def __init__(self, first_epoch: int, steps_per_epoch: int):
        super().__init__()
        self.first_epoch, self.steps_per_epoch, self.done = first_epoch, steps_per_epoch, False

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        if not self.done:
            self.done = True
            expected = (epoch - self.first_epoch) * self.steps_per_epoch
            if int(self.model.optimizer.iterations.numpy()) < expected:
                self.model.optimizer.iterations.assign(expected)


def _optimizer(phase: Phase, cfg: TrainConfig, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    lr: float | keras.optimizers.schedules.LearningRateSchedule = phase.learning_rate
    if cfg.lr_schedule == "cosine":
        lr = keras.optimizers.schedules.CosineDecay(phase.learning_rate, decay_steps=phase.epochs * steps_per_epoch)
    return keras.optimizers.Adam(learning_rate=lr)


def _done_marker(run_dir: Path, phase: Phase) -> Path:
    return run_dir / CHECKPOINT_DIR / f"{phase.name}.done.weights.h5"


def _save_weights_atomic(model: keras.Model, path: Path) -> None:
    tmp = path.with_name(f".partial-{path.name}")  # keras wants the .weights.h5 suffix
    model.save_weights(tmp)
    os.replace(tmp, path)


def reset_checkpoints(run_dir: Path) -> None:
    """Delete the run's checkpoints (once the model is published they are only disk space)."""
    shutil.rmtree(run_dir / CHECKPOINT_DIR, ignore_errors=True)


def adopt_chief_checkpoints(chief_dir: Path, worker_dir: Path) -> None:
    """Make a non-chief worker resume from the chief's checkpoints, not its own.

    Workers of a killed multi-worker run may have died an epoch apart; if each resumed from
    its own backup they would disagree on the epoch and wait on each other forever. The
    chief's state is the one that was published, so every worker starts from it (this needs
    the run folder on a filesystem all workers share, as tf.distribute's guide assumes).
    """
    source = chief_dir / CHECKPOINT_DIR
    if source.is_dir():
        shutil.rmtree(worker_dir / CHECKPOINT_DIR, ignore_errors=True)
        shutil.copytree(source, worker_dir / CHECKPOINT_DIR)


def reset_run(run_dir: Path) -> None:
    """Forget an earlier attempt of this run (checkpoints and history) so it starts fresh."""
    reset_checkpoints(run_dir)
    (run_dir / HISTORY_FILE).unlink(missing_ok=True)


def fit_classifier(
    cfg: TrainConfig,
    build: Callable[[], keras.Model],
    train_ds: tf.data.Dataset,
    val_ds: tf.data.Dataset,
    steps_per_epoch: int,
    run_dir: Path,
    rt: Runtime,
    class_weight: dict[int, float] | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
) -> FitResult:
    """Train a fresh classifier through its phases, checkpointing every epoch.

    Args:
        cfg: the training config (epochs, rates, schedule, patience, resume, verbose).
        build: returns the softmax classifier (called inside the strategy's scope).
        train_ds: batched (image, one-hot) training data, endless (``steps_per_epoch`` batches make an epoch).
        val_ds: batched validation data (early stopping watches its loss).
        steps_per_epoch: batches per epoch.
        run_dir: where checkpoints and history.csv go (this worker's private folder).
        rt: strategy and XLA switch (training.runtime).
        class_weight: class index -> loss weight, or None.
        callbacks: extra callbacks, run after the built-in ones (which checkpoint first).

    Returns:
        FitResult with the trained softmax model and the full history (all attempts).
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    if not cfg.resume:
        reset_run(run_dir)
    elif not rt.is_chief:
        adopt_chief_checkpoints(rt.chief_dir(run_dir), run_dir)
    if cfg.resume:
        checkpoints.recover(run_dir / CHECKPOINT_DIR)  # damaged files fall back to the last good state
    with rt.strategy.scope():
        model = build()
        trainable_model = core_models.logits_model(model)
    spec = core_models.get_spec(cfg.model)
    phases = plan_phases(cfg, has_backbone=spec.pretrained)
    history_path = run_dir / HISTORY_FILE
    started, epochs_run, phases_run = time.perf_counter(), [], []
    for phase in phases:
        marker = _done_marker(run_dir, phase)
        if phase.backbone_trainable is False:
            core_models.set_backbone_trainable(model, False)
        elif phase.backbone_trainable:
            core_models.set_backbone_trainable(model, True, top_layers=cfg.fine_tune_layers or spec.fine_tune_layers,
                                               train_batchnorm=cfg.fine_tune_batchnorm)
        if marker.is_file():  # finished before the interruption: take its result, skip it
            trainable_model.load_weights(marker)
            continue
        with rt.strategy.scope():
            trainable_model.compile(
                optimizer=_optimizer(phase, cfg, steps_per_epoch),
                loss=keras.losses.CategoricalCrossentropy(from_logits=True),
                metrics=[keras.metrics.CategoricalAccuracy(name="accuracy")],
                jit_compile=rt.jit_compile,
            )
        log = EpochLog(history_path, phase.name)
        phase_callbacks = [
            log,
            keras.callbacks.BackupAndRestore(str(run_dir / CHECKPOINT_DIR / phase.name), delete_checkpoint=False,
                                             double_checkpoint=True),
            ScheduleResync(phase.first_epoch, steps_per_epoch),
        ]
        if cfg.early_stopping_patience:
            phase_callbacks.append(keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=cfg.early_stopping_patience, restore_best_weights=True))
        trainable_model.fit(
            train_ds, validation_data=val_ds, epochs=phase.first_epoch + phase.epochs, steps_per_epoch=steps_per_epoch,
            initial_epoch=phase.first_epoch, class_weight=class_weight, shuffle=False,  # tf.data shuffles
            callbacks=[*phase_callbacks, *callbacks], verbose=cfg.verbose,
        )
        _save_weights_atomic(trainable_model, marker)
        shutil.rmtree(run_dir / CHECKPOINT_DIR / phase.name, ignore_errors=True)
        epochs_run += log.epochs_seen
        phases_run.append(phase.name)
    history = pd.read_csv(history_path) if history_path.is_file() else pd.DataFrame()
    return FitResult(model, history, time.perf_counter() - started, epochs_run, phases_run)


def balanced_class_weights(labels: np.ndarray, n_classes: int) -> dict[int, float]:
    """scikit-learn's 'balanced' weights; classes absent from training keep weight 1."""
    from sklearn.utils.class_weight import compute_class_weight

    present = np.unique(labels)
    weights = compute_class_weight("balanced", classes=present, y=labels)
    out = {i: 1.0 for i in range(n_classes)}
    out.update({int(c): float(w) for c, w in zip(present, weights)})
    return out
