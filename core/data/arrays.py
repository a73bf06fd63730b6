"""Small datasets as in-memory arrays (CPU training, tests, the app's evaluation page).

TensorFlow-free, so callers that only need arrays stay light.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.data._images import load_image
from core.data.errors import DatasetError
from core.preprocess import Size, parse_size, prepare
from core.tasks import Task, get_task


def label_indices(df: pd.DataFrame, task_id: str | Task) -> np.ndarray:
    """Class ids of a table as positions in the task's output order.

    Args:
        df: table with a ``label`` column of class ids (e.g. "glioma").
        task_id: the task fixing the class order.

    Returns:
        int64 array (N,).

    Raises:
        DatasetError: a label that is not a class of the task.
    """
    task = get_task(task_id)
    position = {c: i for i, c in enumerate(task.classes)}
    unknown = sorted(set(df["label"].astype(str)) - set(position))
    if unknown:
        raise DatasetError(
            f"Label(s) {', '.join(unknown)} are not classes of task '{task.id}' "
            f"({', '.join(task.classes)})."
        )
    return np.array([position[label] for label in df["label"].astype(str)], dtype=np.int64)


def load_arrays(df: pd.DataFrame, task_id: str | Task, size: Size | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
    """Decode and preprocess every image of a table into memory.

    Args:
        df: table with ``path`` and ``label`` columns (from read_dataset / split_dataset).
        task_id: task giving the class order and the preprocessing recipe.
        size: model input side or (height, width); default the task's input_size.

    Returns:
        (X uint8 [N, H, W, 3], y int64 [N]) in the table's row order.

    Raises:
        DatasetError: unknown label or unreadable file (named in the message).
    """
    task = get_task(task_id)
    height, width = parse_size(size if size is not None else task.input_size)
    y = label_indices(df, task)
    X = np.zeros((len(df), height, width, 3), dtype=np.uint8)
    for i, path in enumerate(df["path"].astype(str)):
        X[i] = prepare(load_image(path), task, (height, width)).image
    return X, y
