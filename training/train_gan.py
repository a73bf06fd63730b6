"""Train the DCGAN of one class and publish its generator with a card, a gallery grid and quality figures.

    python -m training.train_gan --task brain_mri_binary --class-id yes --data data/br35h --epochs 100

``main()`` parses; :func:`train_gan` does the work and returns the numbers (tests call it).
Outputs in ``<out>`` (default ``models/<task>/gan/``): ``<class>.keras`` (the generator),
``<class>.card.json``, ``<class>.config.json``, ``<class>_grid.png`` (gallery) and
``<class>_closest.png`` (memorisation check). In the run folder: ``checkpoints/`` (every epoch;
``--resume`` continues from the last one), ``samples/epoch_XXXX.png`` (fixed latents),
``losses.csv`` and ``losses.png``.

By default the generator learns only from the *training* part of the split train_classifier
makes with the same ``--seed``/fractions/``--limit``, so no validation or test image can leak
into synthetic training data.
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

import keras
import numpy as np
import pandas as pd
import tensorflow as tf
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from core.atomic import atomic_write
from core import data as core_data
from core import paths
from core.cards import library_versions
from core.models import dcgan
from core.tasks import get_task
from training import datasets
from training.cli import parse_config, to_command, to_dict, write_json_atomic
from training.gan_config import GanConfig
from training.gan_scoring import score_generator
from training.generate import generators_dir, image_grid, save_png_atomic
from training.publish import save_keras_atomic

log = logging.getLogger(__name__)
MODULE = "training.train_gan"
CARD_KIND = "dcgan-generator"
CHECKPOINT_DIR = "checkpoints"
LOSS_FILE = "losses.csv"


def out_dir_for(cfg: GanConfig) -> Path:
    """Where the generator, its card and grid go: ``--out`` or ``<models_dir>/<task>/gan``."""
    return Path(cfg.out) if cfg.out else generators_dir(cfg.task, cfg.models_dir)


def run_dir_for(cfg: GanConfig) -> Path:
    """Checkpoints, samples and loss curves: ``--runs-dir`` or ``RUNS_DIR/<task>/gan-<class>``."""
    return Path(cfg.runs_dir) if cfg.runs_dir else paths.RUNS_DIR / cfg.task / f"gan-{cfg.class_id}"


def real_table(cfg: GanConfig) -> tuple[pd.DataFrame, dict]:
    """The real images of the class the generator learns from, and how they were chosen.

    Returns:
        (table of the class's images, the card's ``split`` section).

    Raises:
        core.data.DatasetError: unreadable dataset, too few images to split, or none of the class.
    """
    df = datasets.limit_per_class(core_data.read_dataset(cfg.data, cfg.task), cfg.limit, cfg.seed)
    section = {"used": cfg.split, "seed": cfg.seed, "val_fraction": cfg.val_fraction,
               "test_fraction": cfg.test_fraction, "respect_source": cfg.respect_source, "limit": cfg.limit}
    if cfg.split == "train":
        df = core_data.split_dataset(df, cfg.val_fraction, cfg.test_fraction, cfg.seed, cfg.respect_source)["train"]
    return df[df["label"] == cfg.class_id].reset_index(drop=True), section


def load_real(table: pd.DataFrame, cfg: GanConfig) -> np.ndarray:
    """The class's images, preprocessed by the task's recipe at the GAN size: uint8 (N, S, S, channels)."""
    if len(table) < 2:
        raise core_data.DatasetError(
            f"Only {len(table)} image(s) of class '{cfg.class_id}' to learn from (split '{cfg.split}'); "
            "a generator needs at least 2. Add images or use --split all.")
    images, _ = core_data.load_arrays(table, cfg.task, cfg.image_size)
    if cfg.gan_channels == 1:  # the recipes give equal RGB channels for grey modalities
        images = np.rint(images.astype(np.float32).mean(axis=-1, keepdims=True)).astype(np.uint8)
    return images


class LossLog(keras.callbacks.Callback):
    """One row per finished epoch in ``losses.csv``; on resume, rows of epochs about to be redone go first."""

    def __init__(self, path: Path):
        super().__init__()
        self.path = Path(path)
        self.epochs_begun: list[int] = []

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        if not self.epochs_begun and self.path.is_file():
            old = pd.read_csv(self.path)
            self._write(old[old["epoch"] <= epoch])
        self.epochs_begun.append(epoch + 1)

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        row = pd.DataFrame([{"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()}}])
        old = pd.read_csv(self.path) if self.path.is_file() else pd.DataFrame()
        self._write(pd.concat([old, row], ignore_index=True))

    def _write(self, df: pd.DataFrame) -> None:
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        df.to_csv(tmp, index=False)
        os.replace(tmp, self.path)


class SampleGrids(keras.callbacks.Callback):
    """Every ``every`` epochs (and after the last), a grid from the same latents, to watch training."""

    def __init__(self, folder: Path, latents: np.ndarray, every: int, last_epoch: int, cols: int):
        super().__init__()
        self.folder, self.latents, self.every, self.last_epoch, self.cols = Path(folder), latents, every, last_epoch, cols

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        if (epoch + 1) % self.every and epoch + 1 != self.last_epoch:
            return
        images = dcgan.from_gan_range(self.model.generator(self.latents, training=False))
        save_png_atomic(image_grid(images, self.cols), self.folder / f"epoch_{epoch + 1:04d}.png",
                        {"synthetic": "true", "epoch": epoch + 1})


def plot_losses(csv_path: Path, out_png: Path) -> Path:
    """Generator and discriminator loss per epoch (written atomically)."""
    df = pd.read_csv(csv_path)
    fig = Figure(figsize=(6, 3.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for column, label in (("d_loss", "discriminator"), ("g_loss", "generator")):
        if column in df:
            ax.plot(df["epoch"], df[column], marker="o", markersize=3, label=label)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("loss (binary cross-entropy)")
    ax.legend()
    fig.tight_layout()
    with atomic_write(out_png) as fh:
        fig.savefig(fh, format="png")
    return out_png


def _build(cfg: GanConfig) -> dcgan.DCGAN:
    gan = dcgan.build_dcgan(cfg.image_size, cfg.gan_channels, cfg.latent_dim, cfg.label_smoothing,
                            cfg.learning_rate, cfg.beta_1, seed=cfg.seed)
    gan(np.zeros((1, cfg.latent_dim), np.float32))  # BackupAndRestore needs a built model
    # Optimizers create their slots lazily; built now, a checkpoint restores them (not just the weights).
    # The unused default optimizer of Model.compile is built too so saved and loaded states line up.
    gan.d_optimizer.build(gan.discriminator.trainable_variables)
    gan.g_optimizer.build(gan.generator.trainable_variables)
    if gan.optimizer is not None and not gan.optimizer.built:
        gan.optimizer.build(gan.trainable_variables)
    return gan


def fit_gan(cfg: GanConfig, real: np.ndarray, run_dir: Path,
            callbacks: Sequence[keras.callbacks.Callback] = ()) -> tuple[dcgan.DCGAN, list[int]]:
    """Train a fresh (or, with ``--resume``, the checkpointed) DCGAN on real images.

    Args:
        cfg: the GAN config.
        real: uint8 (N, S, S, C) images of the class.
        run_dir: checkpoints, samples and ``losses.csv`` go here.
        callbacks: extra callbacks, run after checkpointing (tests use them to simulate a kill).

    Returns:
        (the trained DCGAN, 1-based epochs run in this call).
    """
    backup = run_dir / CHECKPOINT_DIR
    if not cfg.resume:
        shutil.rmtree(backup, ignore_errors=True)
        (run_dir / LOSS_FILE).unlink(missing_ok=True)
    keras.utils.set_random_seed(cfg.seed)
    gan = _build(cfg)
    ds = (tf.data.Dataset.from_tensor_slices(dcgan.to_gan_range(real))
          .shuffle(len(real), seed=cfg.seed, reshuffle_each_iteration=True).batch(cfg.batch_size)
          .prefetch(tf.data.AUTOTUNE))
    losses = LossLog(run_dir / LOSS_FILE)
    latents = dcgan.fixed_latents(cfg.grid ** 2, cfg.latent_dim, cfg.seed)
    gan.fit(ds, epochs=cfg.epochs, verbose=cfg.verbose, shuffle=False, callbacks=[  # tf.data shuffles
        keras.callbacks.BackupAndRestore(str(backup)),  # saves every epoch, deleted once training ends
        losses, SampleGrids(run_dir / "samples", latents, cfg.sample_every, cfg.epochs, cfg.grid), *callbacks])
    return gan, losses.epochs_begun


def _card(cfg: GanConfig, table: pd.DataFrame, split: dict, quality: dict, keras_path: Path, digest: str,
          command: str, run_dir: Path) -> dict:
    task = get_task(cfg.task)
    layout = core_data.detect_layout(cfg.data) if Path(cfg.data).is_dir() else None
    # describe_training_data reads only data, kind and generator_seed, which GanConfig shares with TrainConfig.
    training_data = datasets.describe_training_data(cfg, task, layout)
    training_data.update(n_real_images=int(len(table)), split=split)
    return {
        "kind": CARD_KIND, "schema_version": 1, "task_id": task.id, "class_id": cfg.class_id,
        "class_name": task.class_names[cfg.class_id], "name": cfg.class_id, "image_size": cfg.image_size,
        "channels": cfg.gan_channels, "latent_dim": cfg.latent_dim, "epochs": cfg.epochs,
        "batch_size": cfg.batch_size, "learning_rate": cfg.learning_rate, "beta_1": cfg.beta_1,
        "label_smoothing": cfg.label_smoothing, "seed": cfg.seed, "data_root": str(cfg.data),
        "n_real_images": int(len(table)), "training_data": training_data, "quality": quality,
        "keras_file": keras_path.name, "sha256": digest, "grid_file": f"{cfg.class_id}_grid.png",
        "training_run": {"dir": str(run_dir), "losses": str(run_dir / LOSS_FILE),
                         "loss_plot": str(run_dir / "losses.png"), "samples": str(run_dir / "samples")},
        "command": command, "library_versions": library_versions(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def train_gan(cfg: GanConfig, command: str | None = None, table: pd.DataFrame | None = None,
              callbacks: Sequence[keras.callbacks.Callback] = ()) -> dict:
    """Train one class's DCGAN, score it and publish the generator with its card and grid.

    Args:
        cfg: the GAN config.
        command: the command line recorded in the card (default: rebuilt from ``cfg``).
        table: the real images to learn from (rows of the class are used), instead of reading
            and splitting ``cfg.data``; the experiment passes its own training split.
        callbacks: extra Keras callbacks.

    Returns:
        ``keras_file``, ``card_file``, ``grid_file``, ``closest_pairs_file``, ``losses_csv``,
        ``losses_png``, ``sha256``, ``quality``, ``n_real_images``, ``epochs_run``.
    """
    cfg.validate()
    dcgan.build_generator(cfg.image_size, cfg.gan_channels, cfg.latent_dim)  # refuses a bad size before any work
    run_dir, out = run_dir_for(cfg), out_dir_for(cfg)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(to_dict(cfg), run_dir / "config.json")
    if table is None:
        table, split = real_table(cfg)
    else:
        table, split = table[table["label"] == cfg.class_id].reset_index(drop=True), {"used": "given table"}
    real = load_real(table, cfg)
    log.info("Training the '%s' generator of %s on %d real images.", cfg.class_id, cfg.task, len(real))
    gan, epochs_run = fit_gan(cfg, real, run_dir, callbacks)
    plot_losses(run_dir / LOSS_FILE, run_dir / "losses.png")
    generator = gan.generator
    keras_path = out / f"{cfg.class_id}.keras"
    digest = save_keras_atomic(generator, keras_path)
    grid = dcgan.generate(generator, cfg.grid ** 2, seed=cfg.seed)
    grid_path = save_png_atomic(image_grid(grid, cfg.grid), out / f"{cfg.class_id}_grid.png",
                                {"synthetic": "true", "generator_sha256": digest, "seed": cfg.seed,
                                 "task": cfg.task, "class": cfg.class_id})
    closest = out / f"{cfg.class_id}_closest.png"
    quality = score_generator(cfg, generator, real, closest)
    write_json_atomic(to_dict(cfg), out / f"{cfg.class_id}.config.json")
    card = _card(cfg, table, split, quality, keras_path, digest, command or to_command(MODULE, cfg), run_dir)
    card_path = write_json_atomic(card, out / f"{cfg.class_id}.card.json")  # last: the app reads it first
    return {"keras_file": str(keras_path), "card_file": str(card_path), "grid_file": str(grid_path),
            "closest_pairs_file": str(closest) if closest.exists() else None, "sha256": digest,
            "losses_csv": str(run_dir / LOSS_FILE), "losses_png": str(run_dir / "losses.png"),
            "quality": quality, "n_real_images": int(len(real)), "epochs_run": epochs_run}


def main(argv: Sequence[str] | None = None) -> dict:
    """Command-line entry: parse flags (and ``--config``), train, print a summary."""
    cfg = parse_config(GanConfig, argv, "python -m " + MODULE,
                       "Train the DCGAN generator of one class and publish it with its card.")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = list(sys.argv[1:] if argv is None else argv)
    result = train_gan(cfg, command=shlex.join(["python", "-m", MODULE, *args]))
    fid = result["quality"]["fidelity"].get("fid")
    print(f"{cfg.task}/{cfg.class_id}: generator {result['keras_file']} "
          f"(FID {'n/a' if fid is None else f'{fid:.2f}'}); card: {result['card_file']}")
    return result


if __name__ == "__main__":
    main()
