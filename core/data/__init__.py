"""Datasets: read the published layouts, split without leakage, feed models.

Readers, splits, duplicates and arrays import without TensorFlow; the tf.data
pipeline (make_dataset, augmentation_layers) is loaded on first use.
"""

from __future__ import annotations

from typing import Any

from core.data.arrays import label_indices, load_arrays
from core.data.duplicates import drop_cross_split_duplicates, find_cross_split_duplicates
from core.data.errors import DatasetError
from core.data.readers import LAYOUTS, Layout, detect_layout, read_dataset
from core.data.splits import SPLITS, kfold_splits, split_dataset, subject_groups

_PIPELINE = ("make_dataset", "augmentation_layers")

__all__ = [
    "DatasetError", "LAYOUTS", "Layout", "SPLITS", "augmentation_layers", "detect_layout",
    "drop_cross_split_duplicates", "find_cross_split_duplicates", "kfold_splits", "label_indices",
    "load_arrays", "make_dataset", "read_dataset", "split_dataset", "subject_groups",
]


def __getattr__(name: str) -> Any:
    # Importing TensorFlow takes seconds and memory the app's pages and light tests don't need.
    if name in _PIPELINE:
        from core.data import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'core.data' has no attribute '{name}'")
