"""What a GAN run shows while it trains: sample grids from fixed latents, loss curves, and how long it took."""

from __future__ import annotations

import os
import time
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import tensorflow as tf
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from core.atomic import atomic_write
from core.gan.generation import image_grid, save_png_atomic
from core.models import dcgan


class Timing(keras.callbacks.Callback):
    """Wall-clock and process CPU seconds of the epochs run, for the card's ``speed`` section."""

    def on_train_begin(self, logs=None) -> None:
        self.wall, self.cpu, self.epochs = time.perf_counter(), time.process_time(), 0

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        self.epochs += 1

    def summary(self) -> dict:
        wall, cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu
        return {"epochs_timed": self.epochs, "wall_seconds": round(wall, 1), "cpu_seconds": round(cpu, 1),
                "epochs_per_second": round(self.epochs / wall, 4) if wall > 0 else None,
                "device": "GPU" if tf.config.list_physical_devices("GPU") else "CPU",
                "cpu_threads": (tf.config.threading.get_intra_op_parallelism_threads()
                                or int(os.environ.get("TF_NUM_INTRAOP_THREADS", 0)) or os.cpu_count())}


class SampleGrids(keras.callbacks.Callback):
    """Every ``every`` epochs (and after the last), a grid from the same latents, to watch training."""

    def __init__(self, folder: Path, latents: np.ndarray, every: int, last_epoch: int, cols: int):
        super().__init__()
        self.folder, self.latents, self.every = Path(folder), latents, every
        self.last_epoch, self.cols = last_epoch, cols

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
