"""Typed configs of the training scripts, built from defaults < YAML file < command-line flags.

The dataclasses live here; ``training.cli`` turns flags and YAML into them.

Each script has one dataclass. Scripts that train (cross-validation, backbone comparison) hold a
:class:`TrainConfig` by composition, so every training flag means the same thing everywhere; on
the command line and in YAML the composed fields are written flat (``--epochs 3``, ``epochs: 3``)
or, in YAML, under a ``train:`` section.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Sequence


class ConfigError(ValueError):
    """A config value or file that the training scripts cannot use."""


def _opt(default: Any, help: str, choices: Sequence[str] | None = None) -> Any:
    """A dataclass field carrying its CLI help text (and allowed values) as metadata."""
    return field(default=default, metadata={"help": help, "choices": tuple(choices or ())})


@dataclass
class TrainConfig:
    """Everything that decides how one classifier is trained (saved as JSON beside the model)."""

    task: str = _opt(None, "task id from core.tasks, e.g. brain_mri_4class")
    data: str = _opt(None, "dataset root in any layout core.data reads (public layout or class-per-folder)")
    extra_data: list[str] | None = _opt(
        None, "further dataset folders of the same task read with --data (e.g. exported clinician feedback)")
    model: str = _opt("small_cnn", "classifier architecture (a key of core.models.CLASSIFIERS)")
    run: str | None = _opt(None, "run name: the model is published as <models_dir>/<task>/<run>.card.json "
                                  "(default: model name)")
    models_dir: str | None = _opt(None, "where served models go (default: core.paths.MODELS_DIR)")
    runs_dir: str | None = _opt(None, "checkpoints, history and plots (default: core.paths.RUNS_DIR/<task>/<run>)")
    epochs: int = _opt(25, "epochs of the first (or only) phase")
    batch_size: int = _opt(32, "images per batch (global, across replicas)")
    learning_rate: float = _opt(1e-4, "Adam learning rate of the first phase")
    fine_tune_epochs: int = _opt(0, "epochs of the second phase (backbone top unfrozen); 0 = one phase")
    fine_tune_learning_rate: float = _opt(1e-5, "Adam learning rate of the fine-tuning phase")
    fine_tune_layers: int | None = _opt(None, "top backbone layers unfrozen for fine-tuning (default: per model)")
    fine_tune_batchnorm: bool = _opt(
        False, "also train the BatchNorm layers of the unfrozen blocks (helps far from ImageNet, e.g. MRI)")
    lr_schedule: str = _opt("constant", "learning-rate schedule within each phase", ("constant", "cosine"))
    class_weights: bool = _opt(False, "weight classes 'balanced' (scikit-learn) against class imbalance")
    early_stopping_patience: int | None = _opt(
        None, "stop after this many epochs without val-loss gain, keeping the best weights")
    seed: int = _opt(42, "seed of splits, augmentation and weight initialisation")
    image_size: int | None = _opt(None, "square input size in pixels (default: the task's input size)")
    weights: str = _opt("imagenet", "backbone initialisation: imagenet, none, or a .weights.h5/.keras path")
    val_fraction: float = _opt(0.15, "fraction of images held out for early stopping and calibration")
    test_fraction: float = _opt(0.15, "fraction of images held out for the test metrics")
    respect_source: bool = _opt(False, "use the dataset's own Testing split as the test set (Kaggle MRI)")
    dedupe: bool = _opt(True, "drop test/val images that duplicate a training image (perceptual hash)")
    limit: int | None = _opt(None, "use at most this many images per class (quick runs)")
    max_steps: int | None = _opt(None, "at most this many batches per epoch (quick runs)")
    default: bool = _opt(False, "mark this model as the task's default in its card")
    kind: str | None = _opt(None, "training data kind (default: detected)", ("real", "synthetic-phantoms"))
    generator_seed: int | None = _opt(None, "phantom generator seed (default: read from the phantom folder)")
    resume: bool = _opt(False, "continue an interrupted run from its last completed epoch")
    distribute: str = _opt("auto", "tf.distribute strategy", ("auto", "mirrored", "multiworker", "none"))
    mixed_precision: str = _opt("auto", "mixed_float16 compute (auto = when a GPU is present)", ("auto", "on", "off"))
    jit_compile: str = _opt("auto", "XLA compilation (auto = when a GPU is present)", ("auto", "on", "off"))
    ood: bool = _opt(True, "fit the out-of-distribution detector on the training features")
    plots: bool = _opt(True, "draw the run's figures (history, confusion matrix, ROC, reliability)")
    latency_samples: int = _opt(100, "test images timed one by one for the latency figures")
    verbose: int = _opt(1, "Keras progress output: 0 silent, 1 progress bar, 2 one line per epoch")

    def validate(self) -> TrainConfig:
        """Check values a run cannot start with; returns self.

        Raises:
            ConfigError: naming the field and what to change.
        """
        if not self.task:
            raise ConfigError("No task given: pass --task (e.g. --task brain_mri_4class).")
        if not self.data:
            raise ConfigError("No dataset given: pass --data with the folder the dataset was unpacked into.")
        _check_choices(self)
        for name in ("epochs", "batch_size", "latency_samples"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}.")
        for name in ("fine_tune_epochs",):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be 0 or more, got {getattr(self, name)}.")
        for name in ("limit", "max_steps", "image_size", "early_stopping_patience", "fine_tune_layers"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"{name} must be at least 1 (or left unset), got {value}.")
        fractions_ok = 0 < self.val_fraction < 1 and 0 <= self.test_fraction < 1
        if not fractions_ok or self.val_fraction + self.test_fraction >= 1:
            raise ConfigError(
                f"val_fraction ({self.val_fraction}) and test_fraction ({self.test_fraction}) must each lie in "
                "[0, 1), val_fraction above 0, and leave images for training."
            )
        if self.learning_rate <= 0 or self.fine_tune_learning_rate <= 0:
            raise ConfigError("Learning rates must be positive.")
        return self

    @property
    def run_name(self) -> str:
        """The run name, defaulting to the model name."""
        return self.run or self.model


@dataclass
class EvaluateConfig:
    """A served or saved model evaluated on a dataset folder."""

    task: str = _opt(None, "task id from core.tasks")
    data: str = _opt(None, "dataset root in any layout core.data reads")
    model: str | None = _opt(None, "served model name (default: the task's default model) or a .keras path")
    card: str | None = _opt(None, "model card of a .keras path (default: <model>.card.json beside it)")
    models_dir: str | None = _opt(None, "where served models are looked up (default: core.paths.MODELS_DIR)")
    out: str | None = _opt(None, "report folder (default: core.paths.RUNS_DIR/<task>/eval-<model>)")
    split: str = _opt("all", "images evaluated: all of them, or only the dataset's Testing split", ("all", "test"))
    limit: int | None = _opt(None, "use at most this many images per class")
    batch_size: int = _opt(32, "images per prediction batch")
    latency_samples: int = _opt(100, "images timed one by one for the latency figures")
    seed: int = _opt(42, "seed of the --limit subsample")

    def validate(self) -> EvaluateConfig:
        """Check values an evaluation cannot start with; returns self."""
        if not self.task or not self.data:
            raise ConfigError("Pass both --task and --data (the dataset folder to evaluate on).")
        _check_choices(self)
        if self.batch_size < 1 or self.latency_samples < 1:
            raise ConfigError("batch_size and latency_samples must be at least 1.")
        return self


@dataclass
class CrossValidateConfig:
    """k-fold cross-validation: one fresh model per fold, all with the same training config."""

    train: TrainConfig = field(default_factory=TrainConfig)
    folds: int = _opt(10, "number of folds (subject-grouped where the dataset has subject ids)")
    out: str | None = _opt(None, "report folder (default: core.paths.RUNS_DIR/<task>/cv-<run>)")

    def validate(self) -> CrossValidateConfig:
        """Check values cross-validation cannot start with; returns self."""
        self.train.validate()
        if self.folds < 2:
            raise ConfigError(f"folds must be at least 2, got {self.folds}.")
        return self


@dataclass
class CompareConfig:
    """Several backbones trained and tested on one task with one training config."""

    train: TrainConfig = field(default_factory=TrainConfig)
    models: list[str] = _opt(None, "comma-separated architectures, e.g. mobilenet_v2,resnet50,xception")
    out: str | None = _opt(None, "report folder (default: core.paths.RUNS_DIR/<task>/compare-<run>)")
    publish: bool = _opt(False, "also save every trained model to models/ with its card")

    def validate(self) -> CompareConfig:
        """Check values a comparison cannot start with; returns self."""
        self.train.validate()
        if not self.models:
            raise ConfigError("No models to compare: pass --models, e.g. --models mobilenet_v2,resnet50.")
        return self


def _check_choices(cfg: Any) -> None:
    for f in dataclasses.fields(cfg):
        choices = f.metadata.get("choices")
        value = getattr(cfg, f.name)
        if choices and value is not None and value not in choices:
            raise ConfigError(f"{f.name} must be one of {', '.join(choices)}; got '{value}'.")
