"""The one per-epoch CSV log of the training scripts (classifier ``history.csv``, GAN ``losses.csv``).

One row per finished epoch (1-based ``epoch``, any fixed columns, then Keras' logs), the file
rewritten atomically each epoch. After ``--resume``, rows of epochs about to be retrained (they
finished after the last backup) are dropped before the first new epoch, so the file never holds an
epoch twice.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import keras
import pandas as pd

from core.atomic import atomic_write


class CsvHistory(keras.callbacks.Callback):
    """Appends one row per finished epoch to a CSV file.

    Attributes:
        epochs_seen: 1-based epochs begun in this process (what a resumed run actually trained).
    """

    def __init__(self, path: str | Path, columns: Callable[[keras.callbacks.Callback], dict] | None = None):
        """
        Args:
            path: the CSV file.
            columns: callback -> fixed columns of the row (e.g. phase and learning rate), before Keras' logs.
        """
        super().__init__()
        self.path = Path(path)
        self.columns = columns or (lambda callback: {})
        self.epochs_seen: list[int] = []

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        if not self.epochs_seen and self.path.is_file():
            old = pd.read_csv(self.path)
            self._write(old[old["epoch"] <= epoch])
        self.epochs_seen.append(epoch + 1)

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        row = {"epoch": epoch + 1, **self.columns(self)}
        row.update({k: float(v) for k, v in (logs or {}).items() if k not in row})
        old = pd.read_csv(self.path) if self.path.is_file() else pd.DataFrame()
        self._write(pd.concat([old, pd.DataFrame([row])], ignore_index=True))

    def _write(self, df: pd.DataFrame) -> None:
        with atomic_write(self.path, "w") as fh:
            df.to_csv(fh, index=False)
