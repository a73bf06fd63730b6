"""Is training bound by the model or by the input pipeline? Images per second, three feeds, epoch by epoch.

1. ``pipeline``: ``training.train_classifier.train`` itself, fed by ``core.data.make_dataset``
   (files decoded and preprocessed once, cached, shuffled, augmented on the fly, prefetched).
2. ``in-memory``: Keras ``fit`` on the same model (same architecture, seed, optimizer, loss, batch)
   with the whole training split already in memory as float32 tensors, no augmentation: the ceiling.
3. ``in-memory + augmentation``: the same split in memory (uint8, as the pipeline caches it) given the
   pipeline's augmentation, for reference.

The feeds take turns: after each epoch of ``train_classifier`` a callback runs one epoch of each
in-memory model, so the three epochs of a round are measured within a few seconds of each other.
On a shared machine whose speed drifts (other tenants, CPU steal) a paired ratio per round is far
steadier than comparing runs made minutes apart. Only the training part of an epoch is timed
(validation and checkpoints are left out), and the first round (decoding, cache filling, tracing) is
dropped. Prints a Markdown table with the median images/s of each feed and the median (and
interquartile range) of the per-round ratio to the in-memory ceiling, then the process CPU time per
batch of the input pipeline alone (no model), with and without augmentation.

    nice -n 15 python -m benchmarks.training [--task brain_mri_4class] [--per-class 300] [--size 64]
        [--model small_cnn] [--epochs 12] [--batch-size 32] [--data DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Sequence

import keras
import numpy as np
import tensorflow as tf

from core import data as core_data
from core.data import load_arrays
from core.data.pipeline import augment_batch
from core.models import build_classifier, logits_model
from core.tasks import get_task
from training import datasets
from training.config import TrainConfig
from training.train_classifier import train

FEEDS = {"pipeline": "train_classifier (tf.data: cached, augmented on the fly)",
         "memory": "Keras fit, tensors in memory, no augmentation",
         "memory_aug": "Keras fit, tensors in memory, same augmentation"}


class EpochTimer(keras.callbacks.Callback):
    """Seconds from each epoch's start to its last training batch (validation excluded)."""

    def __init__(self):
        super().__init__()
        self.seconds: list[float] = []
        self._start = self._last = 0.0

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        self._start = self._last = time.perf_counter()

    def on_train_batch_end(self, batch: int, logs=None) -> None:
        self._last = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        self.seconds.append(self._last - self._start)


class InMemoryFeed:
    """A freshly initialised copy of the pipeline's model, trained one epoch at a time on in-memory tensors."""

    def __init__(self, cfg: TrainConfig, images: np.ndarray, labels: np.ndarray, augment: bool):
        task = get_task(cfg.task)
        keras.utils.set_random_seed(cfg.seed)
        self.model = logits_model(build_classifier(cfg.model, task, images.shape[1:], weights=None))
        self.model.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate),
                           loss=keras.losses.CategoricalCrossentropy(from_logits=True), jit_compile=False)
        self.images, self.timer, self.rates = len(images), EpochTimer(), []
        targets = tf.one_hot(labels, task.num_classes)
        if augment:  # uint8 in memory, augmented and cast per batch exactly as make_dataset does
            seeds = tf.data.Dataset.random(seed=cfg.seed, rerandomize_each_iteration=True).batch(2)
            batches = (tf.data.Dataset.from_tensor_slices((tf.constant(images), targets))
                       .shuffle(len(images), seed=cfg.seed).batch(cfg.batch_size))
            data = tf.data.Dataset.zip(batches, seeds).map(
                lambda b, s: (tf.cast(augment_batch(b[0], s), tf.float32), b[1]),
                num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
            self._fit_args = {"x": data, "shuffle": False}  # tf.data shuffles
        else:
            self._fit_args = {"x": tf.constant(images.astype(np.float32)), "y": targets,
                              "batch_size": cfg.batch_size, "shuffle": True}

    def run_epoch(self, epoch: int) -> None:
        self.model.fit(**self._fit_args, initial_epoch=epoch, epochs=epoch + 1, verbose=0, callbacks=[self.timer])
        self.rates.append(self.images / self.timer.seconds[-1])


class TakeTurns(keras.callbacks.Callback):
    """After each epoch of the run it is attached to, one epoch of each in-memory feed."""

    def __init__(self, feeds: Sequence[InMemoryFeed]):
        super().__init__()
        self.feeds = feeds

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        for feed in self.feeds:
            feed.run_epoch(epoch)


def measure(cfg: TrainConfig, data: datasets.PreparedData) -> tuple[dict[str, list[float]], int]:
    """Per-round images/s of the three feeds (first round dropped) and the number of training images."""
    task = get_task(cfg.task)
    size = datasets.input_size(cfg, task)
    images, labels = load_arrays(data.splits["train"], task, size)
    memory, memory_aug = InMemoryFeed(cfg, images, labels, False), InMemoryFeed(cfg, images, labels, True)
    timer = EpochTimer()
    train(cfg, callbacks=[timer, TakeTurns([memory, memory_aug])])
    # train_classifier streams full batches: an epoch is steps x batch images (the last one topped up)
    per_epoch = datasets.steps_per_epoch(len(images), cfg) * cfg.batch_size
    pipeline = [per_epoch / s for s in timer.seconds]
    return {"pipeline": pipeline[1:], "memory": memory.rates[1:], "memory_aug": memory_aug.rates[1:]}, len(images)


def input_cpu_ms(cfg: TrainConfig, data: datasets.PreparedData, passes: int = 3) -> dict[str, float]:
    """Process CPU milliseconds per batch of the input pipeline alone (no model): the training stream
    (cached, shuffled, augmented) and, for reference, the same split without shuffling or augmentation.
    One pass fills the cache first; on a 2-core CPU each of these milliseconds is taken from the training step."""
    train_ds, _, steps = datasets.pipelines(data, cfg)
    plain = core_data.make_dataset(data.splits["train"], cfg.task, datasets.input_size(cfg, get_task(cfg.task)),
                                   cfg.batch_size, training=False)
    costs = {}
    for name, ds in (("augmented", train_ds.take(steps)), ("plain", plain)):
        for _ in ds:  # decode and cache
            pass
        start, batches = time.process_time(), 0
        for _ in range(passes):
            for _ in ds:
                batches += 1
        costs[name] = (time.process_time() - start) * 1000 / batches
    return costs


def summarise(rates: dict[str, list[float]]) -> list[dict]:
    """One row per feed: median images/s, and the median and quartiles of its per-round ratio to ``memory``."""
    rows = []
    for name, label in FEEDS.items():
        ratios = np.asarray(rates[name]) / np.asarray(rates["memory"])
        q25, q50, q75 = np.percentile(ratios, [25, 50, 75])
        rows.append({"feed": name, "label": label, "img_per_s": float(np.median(rates[name])),
                     "ratio": float(q50), "ratio_q25": float(q25), "ratio_q75": float(q75)})
    return rows


def main(argv: Sequence[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.training", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="brain_mri_4class")
    parser.add_argument("--data", type=Path, help="dataset folder (default: phantoms written to a temp folder)")
    parser.add_argument("--per-class", type=int, default=300, help="phantoms per class when --data is not given")
    parser.add_argument("--size", type=int, default=64, help="model input size")
    parser.add_argument("--model", default="small_cnn")
    parser.add_argument("--epochs", type=int, default=12, help="rounds (the first is dropped)")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args(argv)
    if args.epochs < 2:
        parser.error("--epochs must be at least 2: the first round (decoding, tracing) is dropped.")
    with tempfile.TemporaryDirectory() as tmp:
        root = args.data
        if root is None:
            from core.phantoms import write_dataset

            root = write_dataset(args.task, Path(tmp) / "phantoms", per_class=args.per_class, seed=0, size=args.size)
        cfg = TrainConfig(task=args.task, data=str(root), model=args.model, epochs=args.epochs,
                          batch_size=args.batch_size, image_size=args.size, weights="none", ood=False, plots=False,
                          latency_samples=1, verbose=0, dedupe=False, distribute="none", mixed_precision="off",
                          jit_compile="off", models_dir=str(Path(tmp) / "models"), runs_dir=str(Path(tmp) / "run"),
                          kind="synthetic-phantoms", generator_seed=0, run="bench")
        data = datasets.prepare_data(cfg)  # the split train_classifier will draw from the same config
        rates, n_train = measure(cfg, data)
        cpu = input_cpu_ms(cfg, data)
    rows = summarise(rates)
    print(f"\n{args.task}, {args.model} at {args.size} px, batch {args.batch_size}, {n_train} training images, "
          f"{args.epochs - 1} rounds (epochs 2-{args.epochs} of each feed, taking turns), TF {tf.__version__}, "
          f"devices: {', '.join(d.device_type for d in tf.config.list_physical_devices())}\n")
    print("| feed | images/s (median) | / in-memory (median of rounds) | interquartile range |\n|---|---:|---:|---:|")
    for row in rows:
        print(f"| {row['label']} | {row['img_per_s']:.0f} | {row['ratio']:.1%} | "
              f"{row['ratio_q25']:.1%}-{row['ratio_q75']:.1%} |")
    print(f"\ninput pipeline alone, process CPU per batch: {cpu['augmented']:.2f} ms training stream (cached, "
          f"shuffled, augmented), {cpu['plain']:.2f} ms without shuffling or augmentation")
    return rows


if __name__ == "__main__":
    main()
