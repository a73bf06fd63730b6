"""Is training bound by the model or by the input pipeline? Images per second, three ways.

1. ``pipeline``: ``training.train_classifier.train`` itself, fed by ``core.data.make_dataset``
   (files decoded and preprocessed once, cached, shuffled, augmented on the fly, prefetched).
2. ``in-memory``: Keras ``fit`` on the same model (same architecture, seed, optimizer, loss, batch)
   with the whole training set already in memory as tensors, no augmentation: the ceiling.
3. ``in-memory + augmentation``: the same tensors with the same augmentation as (1), for reference.

Only the training part of each epoch is timed (from the epoch's start to its last training batch;
validation, checkpoints and the first epoch, which decodes and traces, are left out). The three
feeds run ``--repeats`` times, interleaved, and each reports its fastest epoch: on a shared machine
other jobs only ever slow an epoch down, so the fastest one is the least disturbed estimate.
Prints a Markdown table and the ratio pipeline / in-memory.

    nice -n 15 python -m benchmarks.training [--task brain_mri_4class] [--per-class 150] [--size 64]
        [--model small_cnn] [--epochs 4] [--batch-size 32] [--repeats 2] [--data DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path
from typing import Sequence

import keras
import numpy as np
import tensorflow as tf

from core.data import load_arrays
from core.data.pipeline import augment_batch
from core.models import build_classifier, logits_model
from core.tasks import get_task
from training import datasets
from training.config import TrainConfig
from training.train_classifier import train


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


def steady_rate(timer: EpochTimer, images: int) -> float:
    """Images per second of the fastest epoch after the first (which decodes, fills the cache and traces)."""
    return images / min(timer.seconds[1:] or timer.seconds)


def run_pipeline(cfg: TrainConfig) -> tuple[float, int]:
    """train_classifier on the dataset; returns (images/s, training images)."""
    timer = EpochTimer()
    metrics = train(cfg, callbacks=[timer])
    n_train = metrics["split_sizes"]["train"]
    return steady_rate(timer, n_train), n_train


def run_in_memory(cfg: TrainConfig, augment: bool) -> float:
    """Keras fit on tensors holding the same training split; returns images/s."""
    task = get_task(cfg.task)
    data = datasets.prepare_data(cfg)
    size = datasets.input_size(cfg, task)
    images, labels = load_arrays(data.splits["train"], task, size)
    x = tf.constant(images.astype(np.float32))
    y = tf.one_hot(labels, task.num_classes)
    keras.utils.set_random_seed(cfg.seed)
    model = logits_model(build_classifier(cfg.model, task, (*size, task.channels), weights=None))
    model.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate),
                  loss=keras.losses.CategoricalCrossentropy(from_logits=True), jit_compile=False)
    timer = EpochTimer()
    if augment:  # the same per-batch augmentation as the pipeline, applied to the in-memory tensors
        seeds = tf.data.Dataset.random(seed=cfg.seed, rerandomize_each_iteration=True).batch(2)
        batches = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(images), seed=cfg.seed).batch(cfg.batch_size)
        data = tf.data.Dataset.zip(batches, seeds).map(lambda b, s: (augment_batch(b[0], s), b[1]),
                                                       num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
        model.fit(data, epochs=cfg.epochs, verbose=0, callbacks=[timer])
    else:
        model.fit(x, y, batch_size=cfg.batch_size, epochs=cfg.epochs, shuffle=True, verbose=0, callbacks=[timer])
    return steady_rate(timer, len(images))


def main(argv: Sequence[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.training", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="brain_mri_4class")
    parser.add_argument("--data", type=Path, help="dataset folder (default: phantoms written to a temp folder)")
    parser.add_argument("--per-class", type=int, default=150, help="phantoms per class when --data is not given")
    parser.add_argument("--size", type=int, default=64, help="model input size")
    parser.add_argument("--model", default="small_cnn")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2, help="interleaved runs of the three feeds")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = args.data
        if root is None:
            from core.phantoms import write_dataset

            root = write_dataset(args.task, Path(tmp) / "phantoms", per_class=args.per_class, seed=0, size=args.size)
        cfg = TrainConfig(task=args.task, data=str(root), model=args.model, epochs=args.epochs,
                          batch_size=args.batch_size, image_size=args.size, weights="none", ood=False, plots=False,
                          latency_samples=1, verbose=0, dedupe=False, distribute="none", mixed_precision="off",
                          jit_compile="off", models_dir=str(Path(tmp) / "models"), runs_dir=str(Path(tmp) / "run"),
                          kind="synthetic-phantoms", generator_seed=0)
        rates: dict[str, list[float]] = {"pipeline": [], "memory": [], "memory_aug": []}
        for repeat in range(args.repeats):
            rate, n_train = run_pipeline(dataclasses.replace(cfg, run=f"bench{repeat}"))
            rates["pipeline"].append(rate)
            rates["memory"].append(run_in_memory(cfg, augment=False))
            rates["memory_aug"].append(run_in_memory(cfg, augment=True))
    pipeline, memory, memory_aug = (max(rates[k]) for k in ("pipeline", "memory", "memory_aug"))
    rows = [{"feed": "train_classifier (tf.data: cached, augmented on the fly)", "img_per_s": pipeline},
            {"feed": "Keras fit, tensors in memory, no augmentation", "img_per_s": memory},
            {"feed": "Keras fit, tensors in memory, same augmentation", "img_per_s": memory_aug}]
    print(f"\n{args.task}, {args.model} at {args.size} px, batch {args.batch_size}, {n_train} training images, "
          f"fastest of epochs 2-{args.epochs} in {args.repeats} runs, TF {tf.__version__}, devices: "
          f"{', '.join(d.device_type for d in tf.config.list_physical_devices())}\n")
    print("| feed | images/s |\n|---|---:|")
    for row in rows:
        print(f"| {row['feed']} | {row['img_per_s']:.0f} |")
    print(f"\npipeline / in-memory: {pipeline / memory:.1%}; pipeline / in-memory with augmentation: "
          f"{pipeline / memory_aug:.1%}")
    return rows


if __name__ == "__main__":
    main()
