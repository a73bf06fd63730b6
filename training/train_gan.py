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

import hashlib
import logging
import os
import shlex
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

import keras
import numpy as np
import pandas as pd
import tensorflow as tf

from core import data as core_data
from core import paths
from core.gan.generation import image_grid, save_png_atomic
from core.gan.protocol import score_generator
from core.gan.quality import GANQualityError
from core.models import dcgan
from core.serving.cards import library_versions
from core.serving.gan_cards import GeneratorCard
from core.tasks import get_task
from training import datasets
from training.cli import run, to_command, to_dict, write_json_atomic
from training.config import TrainConfig
from training.gan_config import GanConfig
from training.gan_progress import SampleGrids, Timing, plot_losses
from training.generate import generators_dir
from training.history import CsvHistory
from training.publish import save_keras

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


def classifier_config(cfg: GanConfig) -> TrainConfig:
    """The classifier config whose split and data description the generator shares (same data, seed, fractions)."""
    return TrainConfig(
        task=cfg.task, data=cfg.data, seed=cfg.seed, val_fraction=cfg.val_fraction, test_fraction=cfg.test_fraction,
        respect_source=cfg.respect_source, limit=cfg.limit, kind=cfg.kind, generator_seed=cfg.generator_seed)


def classifier_split(cfg: GanConfig) -> datasets.PreparedData:
    """The split train_classifier makes with the same data, seed, fractions, limit and de-duplication."""
    return datasets.prepare_data(classifier_config(cfg))


def real_table(cfg: GanConfig) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """The real images of the class the generator learns from, those it never sees, and how they were chosen.

    Returns:
        (training images of the class, held-out images of the class (val + test; empty with
        ``--split all``), the card's ``split`` section).

    Raises:
        core.data.DatasetError: unreadable dataset, too few images to split, or none of the class.
    """
    section = {"used": cfg.split, "seed": cfg.seed, "val_fraction": cfg.val_fraction,
               "test_fraction": cfg.test_fraction, "respect_source": cfg.respect_source, "limit": cfg.limit}
    if cfg.split == "train":
        splits = classifier_split(cfg).splits
        section["dedupe"] = True  # as train_classifier's default: copies of one picture stay in one split
        df, heldout = splits["train"], pd.concat([splits["val"], splits["test"]], ignore_index=True)
    else:
        df = datasets.limit_per_class(core_data.read_dataset(cfg.data, cfg.task), cfg.limit, cfg.seed)
        heldout = df.iloc[:0]

    def of_class(table: pd.DataFrame) -> pd.DataFrame:
        return table[table["label"] == cfg.class_id].reset_index(drop=True)

    return of_class(df), of_class(heldout), section


def load_real(table: pd.DataFrame, cfg: GanConfig, need: int = 2) -> np.ndarray:
    """The class's images, decoded once and preprocessed by the task's recipe at the GAN size.

    Returns:
        uint8 (N, S, S, channels).
    """
    if len(table) < need:
        raise core_data.DatasetError(
            f"Only {len(table)} image(s) of class '{cfg.class_id}' to learn from (split '{cfg.split}'); "
            "a generator needs at least 2. Add images or use --split all.")
    if not len(table):
        return np.zeros((0, cfg.image_size, cfg.image_size, cfg.gan_channels), np.uint8)
    images, _ = core_data.load_arrays(table, cfg.task, cfg.image_size)
    if cfg.gan_channels == 1:  # the recipes give equal RGB channels for grey modalities
        images = np.rint(images.astype(np.float32).mean(axis=-1, keepdims=True)).astype(np.uint8)
    return images


#: ``losses.csv``: one row per finished epoch (see training.history).
LossLog = CsvHistory


def _build(cfg: GanConfig) -> dcgan.DCGAN:
    jit = {"on": True, "off": False}.get(cfg.jit_compile)  # auto: XLA only on a GPU
    gan = dcgan.build_dcgan(cfg.image_size, cfg.gan_channels, cfg.latent_dim, cfg.label_smoothing,
                            cfg.learning_rate, cfg.beta_1, seed=cfg.seed, jit_compile=jit)
    gan(np.zeros((1, cfg.latent_dim), np.float32))  # BackupAndRestore needs a built model
    # Optimizers create their slots lazily; built now, a checkpoint restores them (not just the weights).
    # The unused default optimizer of Model.compile is built too so saved and loaded states line up.
    gan.d_optimizer.build(gan.discriminator.trainable_variables)
    gan.g_optimizer.build(gan.generator.trainable_variables)
    if gan.optimizer is not None and not gan.optimizer.built:
        gan.optimizer.build(gan.trainable_variables)
    return gan


def fit_gan(cfg: GanConfig, real: np.ndarray, run_dir: Path,
            callbacks: Sequence[keras.callbacks.Callback] = ()) -> tuple[dcgan.DCGAN, list[int], dict]:
    """Train a fresh (or, with ``--resume``, the checkpointed) DCGAN on real images.

    Args:
        cfg: the GAN config.
        real: uint8 (N, S, S, C) images of the class.
        run_dir: checkpoints, samples and ``losses.csv`` go here.
        callbacks: extra callbacks, run after checkpointing (tests use them to simulate a kill).

    Returns:
        (the trained DCGAN, 1-based epochs run in this call, the ``speed`` section).
    """
    backup = run_dir / CHECKPOINT_DIR
    if not cfg.resume:
        shutil.rmtree(backup, ignore_errors=True)
        (run_dir / LOSS_FILE).unlink(missing_ok=True)
    keras.utils.set_random_seed(cfg.seed)
    gan = _build(cfg)
    # Decoded once (load_real) and scaled once: each epoch only shuffles and slices memory.
    ds = (tf.data.Dataset.from_tensor_slices(dcgan.to_gan_range(real)).cache()
          .shuffle(len(real), seed=cfg.seed, reshuffle_each_iteration=True).batch(cfg.batch_size)
          .prefetch(tf.data.AUTOTUNE))
    timing = Timing()
    losses = LossLog(run_dir / LOSS_FILE)
    latents = dcgan.fixed_latents(cfg.grid ** 2, cfg.latent_dim, cfg.seed)
    gan.fit(ds, epochs=cfg.epochs, verbose=cfg.verbose, shuffle=False, callbacks=[  # tf.data shuffles
        keras.callbacks.BackupAndRestore(str(backup)),  # saves every epoch, deleted once training ends
        losses, timing, SampleGrids(run_dir / "samples", latents, cfg.sample_every, cfg.epochs, cfg.grid), *callbacks])
    speed = dict(timing.summary(), jit_compile=bool(gan.jit_compile), batch_size=cfg.batch_size,
                 steps_per_epoch=-(-len(real) // cfg.batch_size))
    return gan, losses.epochs_seen, speed


def portable(command: str) -> str:
    """A command line without this machine's folders (cards travel; absolute paths do not).

    Each absolute path becomes ``$MEDIMG_DATA/...`` under the real-data root, relative inside the
    project, or its bare name elsewhere (:func:`training.datasets.portable_path`).
    """
    def word(token: str) -> str:
        if not os.path.isabs(token):
            return shlex.quote(token)
        token = datasets.portable_path(token)
        return f'"{token}"' if token.startswith("$") else shlex.quote(token)

    return " ".join(word(t) for t in shlex.split(command))


def portable_config(cfg: GanConfig) -> dict:
    """The config saved beside the generator, its folders written as a card writes them (no machine paths)."""
    values = to_dict(cfg)
    for key in ("data", "out", "models_dir", "runs_dir", "weights"):
        if values.get(key):
            values[key] = datasets.portable_path(values[key])
    return values


def _card(cfg: GanConfig, table: pd.DataFrame, split: dict, quality: dict, speed: dict, keras_path: Path,
          digest: str, command: str, run_dir: Path) -> dict:
    task = get_task(cfg.task)
    layout = core_data.detect_layout(cfg.data) if Path(cfg.data).is_dir() else None
    training_data = datasets.describe_training_data(classifier_config(cfg), task, layout)
    training_data.update(n_real_images=int(len(table)), split=split, class_images_sha256=table_digest(table))
    return {
        "kind": CARD_KIND, "schema_version": 2, "task_id": task.id, "class_id": cfg.class_id,
        "class_name": task.class_names[cfg.class_id], "name": cfg.class_id, "image_size": cfg.image_size,
        "channels": cfg.gan_channels, "latent_dim": cfg.latent_dim, "epochs": cfg.epochs,
        "batch_size": cfg.batch_size, "learning_rate": cfg.learning_rate, "beta_1": cfg.beta_1,
        "label_smoothing": cfg.label_smoothing, "seed": cfg.seed, "data_root": datasets.portable_path(cfg.data),
        "n_real_images": int(len(table)), "training_data": training_data, "quality": quality, "speed": speed,
        "keras_file": keras_path.name, "sha256": digest, "grid_file": f"{cfg.class_id}_grid.png",
        "training_run": {"dir": datasets.portable_path(run_dir), "losses": LOSS_FILE, "loss_plot": "losses.png",
                         "samples": "samples"},
        "command": portable(command), "library_versions": library_versions(),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def table_digest(table: pd.DataFrame) -> str:
    """sha256 of the sorted file names (relative to nothing machine-specific) and labels learnt from."""
    rows = sorted(f"{Path(p).name}\t{label}" for p, label in zip(table["path"].astype(str), table["label"]))
    return hashlib.sha256("\n".join(rows).encode("utf-8")).hexdigest()


def _quality(cfg: GanConfig, generator: keras.Model, real: np.ndarray, heldout: np.ndarray, closest: Path) -> dict:
    """The protocol's figures, or null figures with the reason when they cannot be computed (no weight file)."""
    if not cfg.score:
        return {"fid": None, "kid": None, "reason": "not scored (--no-score)"}
    try:
        return score_generator(generator, real, heldout if len(heldout) >= 2 else None, closest,
                               n_generated=cfg.quality_samples, seed=cfg.seed + 1, weights=cfg.weights)
    except GANQualityError as exc:
        log.warning("Quality protocol not run: %s", exc)
        return {"fid": None, "kid": None, "reason": str(exc)}


def train_gan(cfg: GanConfig, command: str | None = None, table: pd.DataFrame | None = None,
              callbacks: Sequence[keras.callbacks.Callback] = ()) -> dict:
    """Train one class's DCGAN, score it and publish the generator with its card and grid.

    Args:
        cfg: the GAN config.
        command: the command line recorded in the card (default: rebuilt from ``cfg``).
        table: the real images to learn from (rows of the class are used), instead of reading
            and splitting ``cfg.data``; the experiment passes its own training split (no held-out reference then).
        callbacks: extra Keras callbacks.

    Returns:
        ``keras_file``, ``card_file``, ``grid_file``, ``closest_pairs_file``, ``losses_csv``,
        ``losses_png``, ``sha256``, ``quality``, ``speed``, ``n_real_images``, ``epochs_run``.
    """
    cfg.validate()
    dcgan.build_generator(cfg.image_size, cfg.gan_channels, cfg.latent_dim)  # refuses a bad size before any work
    run_dir, out = run_dir_for(cfg), out_dir_for(cfg)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(to_dict(cfg), run_dir / "config.json")
    if table is None:
        table, heldout_table, split = real_table(cfg)
    else:
        table, split = table[table["label"] == cfg.class_id].reset_index(drop=True), {"used": "given table"}
        heldout_table = table.iloc[:0]
    real, heldout = load_real(table, cfg), load_real(heldout_table, cfg, need=0)
    log.info("Training the '%s' generator of %s on %d real images.", cfg.class_id, cfg.task, len(real))
    gan, epochs_run, speed = fit_gan(cfg, real, run_dir, callbacks)
    plot_losses(run_dir / LOSS_FILE, run_dir / "losses.png")
    generator = gan.generator
    keras_path = out / f"{cfg.class_id}.keras"
    staged = keras_path.with_name(f".{keras_path.stem}.staged.keras")  # a reader never sees half a file
    out.mkdir(parents=True, exist_ok=True)
    digest = save_keras(generator, staged)
    os.replace(staged, keras_path)
    grid = dcgan.generate(generator, cfg.grid ** 2, seed=cfg.seed)
    grid_path = save_png_atomic(image_grid(grid, cfg.grid), out / f"{cfg.class_id}_grid.png",
                                {"synthetic": "true", "generator_sha256": digest, "seed": cfg.seed,
                                 "task": cfg.task, "class": cfg.class_id})
    closest = out / f"{cfg.class_id}_closest.png"
    quality = _quality(cfg, generator, real, heldout, closest)
    write_json_atomic(portable_config(cfg), out / f"{cfg.class_id}.config.json")
    card = _card(cfg, table, split, quality, speed, keras_path, digest, command or to_command(MODULE, cfg), run_dir)
    card_path = GeneratorCard.from_json(card).write(out / f"{cfg.class_id}.card.json")  # last: the app reads it first
    return {"keras_file": str(keras_path), "card_file": str(card_path), "grid_file": str(grid_path),
            "closest_pairs_file": str(closest) if closest.exists() else None, "sha256": digest,
            "losses_csv": str(run_dir / LOSS_FILE), "losses_png": str(run_dir / "losses.png"),
            "quality": quality, "speed": speed, "n_real_images": int(len(real)), "epochs_run": epochs_run}


def _summary(cfg: GanConfig, result: dict) -> str:
    fid, ref = result["quality"].get("fid"), result["quality"].get("reference_fid")
    return (f"{cfg.task}/{cfg.class_id}: generator {result['keras_file']} "
            f"(FID {'n/a' if fid is None else f'{fid:.2f}'}, held-out real {'n/a' if ref is None else f'{ref:.2f}'}); "
            f"card: {result['card_file']}")


def main(argv: Sequence[str] | None = None) -> dict:
    """Command-line entry: parse flags (and ``--config``), train, print a summary."""
    return run(GanConfig, train_gan, argv, module=MODULE,
               description="Train the DCGAN generator of one class and publish it with its card.", report=_summary)


if __name__ == "__main__":
    main()
