"""Typed configs of the GAN scripts: train a generator, generate images, the augmentation experiment.

Built like :mod:`training.config` (defaults < ``--config`` YAML < flags, one flag per field through
:mod:`training.cli`). The experiment composes a :class:`~training.config.TrainConfig`, so every
classifier flag means what it means in ``training.train_classifier``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.tasks import get_task
from training.config import ConfigError, TrainConfig, _check_choices, _opt

#: modality -> channels the generator draws: MRI and ultrasound are grey, smears are stained colour.
GAN_CHANNELS: dict[str, int] = {"brain_mri": 1, "breast_us": 1, "blood_smear": 3}

#: Which real images a generator learns from.
GAN_SPLITS = ("train", "all")


def _check_task_and_class(task_id: str | None, class_id: str | None = None, need_class: bool = False) -> None:
    if not task_id:
        raise ConfigError("No task given: pass --task (e.g. --task brain_mri_binary).")
    task = get_task(task_id)
    if need_class and not class_id:
        raise ConfigError(f"No class given: pass --class-id, one of {', '.join(task.classes)} "
                          "(one generator per class).")
    if class_id:
        try:
            task.class_index(class_id)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None


def _at_least(cfg, minimum: int, *names: str) -> None:
    for name in names:
        value = getattr(cfg, name)
        if value is not None and value < minimum:
            raise ConfigError(f"{name} must be at least {minimum}, got {value}.")


@dataclass
class GanConfig:
    """One DCGAN generator for one class (saved as JSON beside the generator)."""

    task: str = _opt(None, "task id from core.tasks, e.g. brain_mri_binary")
    class_id: str = _opt(None, "the class the generator imitates (one generator per class), e.g. yes")
    data: str = _opt(None, "dataset root in any layout core.data reads (public layout or class-per-folder)")
    out: str | None = _opt(None, "folder for <class>.keras, its card and grid (default: <models_dir>/<task>/gan)")
    models_dir: str | None = _opt(None, "served models root, the default output's parent "
                                        "(default: core.paths.MODELS_DIR)")
    runs_dir: str | None = _opt(None, "checkpoints, sample grids and loss curves "
                                      "(default: core.paths.RUNS_DIR/<task>/gan-<class>)")
    image_size: int = _opt(64, "generated image side in pixels (a multiple of 16, at least 32)")
    channels: int | None = _opt(None, "1 (grey) or 3 (colour); default: grey for MRI/ultrasound, colour for smears")
    latent_dim: int = _opt(100, "length of the latent vector")
    epochs: int = _opt(50, "training epochs")
    batch_size: int = _opt(32, "real images per batch")
    learning_rate: float = _opt(2e-4, "Adam learning rate of both networks (DCGAN paper: 2e-4)")
    beta_1: float = _opt(0.5, "Adam beta_1 of both networks (DCGAN paper: 0.5)")
    label_smoothing: float = _opt(0.1, "one-sided smoothing of the discriminator's real labels")
    seed: int = _opt(42, "seed of the split (as train_classifier's --seed), weights, latents and samples")
    split: str = _opt("train", "learn from the classifier's training split only (no test image leaks into "
                               "synthetic data) or from all images", GAN_SPLITS)
    val_fraction: float = _opt(0.15, "validation fraction of the split (as train_classifier's)")
    test_fraction: float = _opt(0.15, "test fraction of the split (as train_classifier's)")
    respect_source: bool = _opt(False, "use the dataset's own Testing split as the test set (Kaggle MRI)")
    limit: int | None = _opt(None, "use at most this many images per class before splitting (as train_classifier's)")
    sample_every: int = _opt(5, "write a sample grid from fixed latents every this many epochs")
    grid: int = _opt(4, "side of the sample grids (grid x grid images)")
    quality_samples: int = _opt(500, "generated images scored for fidelity, memorisation and diversity "
                                     "(protocol: 500+)")
    weights: str | None = _opt(None, "ImageNet MobileNet weight file (or its folder) of the fixed FID/KID extractor "
                                     "(default: $MEDIMG_WEIGHTS, else ../shared/weights)")
    score: bool = _opt(True, "score the generator with the quality protocol (FID/KID, MS-SSIM, memorisation)")
    jit_compile: str = _opt("auto", "XLA-compile the train step (auto = only on a GPU; on CPU it is 3.5x slower)",
                            ("auto", "on", "off"))
    kind: str | None = _opt(None, "training data kind (default: detected)", ("real", "synthetic-phantoms"))
    generator_seed: int | None = _opt(None, "phantom generator seed (default: read from the phantom folder)")
    resume: bool = _opt(False, "continue an interrupted run from its last completed epoch")
    verbose: int = _opt(1, "Keras progress output: 0 silent, 1 progress bar, 2 one line per epoch")

    def validate(self) -> GanConfig:
        """Check values a run cannot start with; returns self.

        Raises:
            ConfigError: naming the field and what to change.
        """
        _check_task_and_class(self.task, self.class_id, need_class=True)
        if not self.data:
            raise ConfigError("No dataset given: pass --data with the folder the dataset was unpacked into.")
        _check_choices(self)
        _at_least(self, 1, "latent_dim", "epochs", "batch_size", "sample_every", "grid", "limit")
        _at_least(self, 2, "quality_samples")
        if self.channels not in (None, 1, 3):
            raise ConfigError(f"channels must be 1 (grey) or 3 (colour), got {self.channels}.")
        if self.learning_rate <= 0:
            raise ConfigError(f"learning_rate must be positive, got {self.learning_rate}.")
        return self

    @property
    def gan_channels(self) -> int:
        """Channels of the generated images: the flag, else the modality's default."""
        return self.channels or GAN_CHANNELS.get(get_task(self.task).modality, 3)


@dataclass
class GenerateConfig:
    """Synthetic images from trained generators, written class-per-folder."""

    task: str = _opt(None, "task id from core.tasks")
    out: str = _opt(None, "output folder; images go to <out>/<class>/syn_<class>_<seed>_<index>.png")
    n: int = _opt(100, "images per class")
    classes: list[str] | None = _opt(None, "comma-separated classes (default: every class with a generator)")
    generators: str | None = _opt(None, "folder holding <class>.keras and <class>.card.json "
                                        "(default: <models_dir>/<task>/gan)")
    models_dir: str | None = _opt(None, "served models root (default: core.paths.MODELS_DIR)")
    seed: int = _opt(0, "seed of the latent vectors (the same seed gives the same images)")
    batch_size: int = _opt(64, "images per generator forward pass")

    def validate(self) -> GenerateConfig:
        """Check values generation cannot start with; returns self."""
        _check_task_and_class(self.task)
        if not self.out:
            raise ConfigError("No output folder given: pass --out (images go to <out>/<class>/).")
        for class_id in self.classes or ():
            _check_task_and_class(self.task, class_id)
        _at_least(self, 1, "n", "batch_size")
        if self.seed < 0:
            raise ConfigError(f"seed must be 0 or more, got {self.seed}.")
        return self


@dataclass
class GanExperimentConfig:
    """Stratified k-fold CV x seeds: one classifier trained on real images only and on real + synthetic."""

    train: TrainConfig = field(default_factory=TrainConfig)
    mode: str = _opt("add", "add: --n-per-class synthetic images to every class; balance: top up every class "
                            "to the largest one", ("add", "balance"))
    n_per_class: int = _opt(100, "synthetic images added to each class (mode add)")
    folds: int = _opt(5, "stratified cross-validation folds; both arms are paired on each fold's test images")
    folds_run: int | None = _opt(None, "run only the first N folds (a compute budget); the report says so")
    fold_ids: list[int] | None = _opt(None, "run only these folds (comma-separated, 1-based), e.g. one per process "
                                            "with a shared --out and --gan-cache; a last run with --resume merges them")
    seeds: int = _opt(3, "training seeds per fold and arm (seed, seed + 1, ...)")
    gan_epochs: int = _opt(50, "generator training epochs (generators are trained inside each fold)")
    gan_size: int = _opt(64, "generator image side")
    gan_batch_size: int = _opt(32, "generator batch size")
    gan_cache: str | None = _opt(None, "folder of per-fold generators reused when their card shows the same fold "
                                       "images and schedule (e.g. shared by the add and balance runs)")
    results: str | None = _opt(None, "also write <results>/<task>_<mode>.json and .md (e.g. results/gan_augmentation)")
    out: str | None = _opt(None, "report folder (default: core.paths.RUNS_DIR/<task>/gan-augment-<run>)")

    def validate(self) -> GanExperimentConfig:
        """Check values the experiment cannot start with; returns self."""
        self.train.validate()
        _check_choices(self)
        _at_least(self, 1, "n_per_class", "gan_epochs", "gan_batch_size", "seeds", "folds_run")
        _at_least(self, 2, "folds")
        if any(not str(k).isdigit() or not 1 <= int(k) <= self.folds for k in self.fold_ids or ()):
            raise ConfigError(f"fold_ids must be between 1 and folds ({self.folds}); got {self.fold_ids}.")
        if self.folds_run is not None and self.folds_run > self.folds:
            raise ConfigError(f"folds_run ({self.folds_run}) cannot exceed folds ({self.folds}).")
        return self
