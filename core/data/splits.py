"""Seeded, stratified train/val/test splits and k folds, grouped by subject when known.

Images of one subject (one patient in C-NMC) share staining, scanner and anatomy; if
they land in two splits, test accuracy measures memory of the patient, not skill. So
whenever a ``subject`` is known, splitting is done on subjects (StratifiedGroupKFold),
and an image with an unknown subject is its own group.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, train_test_split

from core.data.errors import DatasetError

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
#: ``source`` value of the published test folder (Kaggle Brain Tumor MRI).
PUBLISHED_TEST = "testing"


def _check_table(df: pd.DataFrame) -> None:
    if not isinstance(df, pd.DataFrame) or "label" not in df.columns:
        raise DatasetError("Expected the table from read_dataset (a DataFrame with a 'label' column).")
    if df.empty:
        raise DatasetError("The dataset table is empty: there is nothing to split.")


def subject_groups(df: pd.DataFrame) -> np.ndarray | None:
    """Group id per row: the subject where known, else the row's own path; None if no subject is known.

    Args:
        df: table with ``subject`` (and ``path``) columns.

    Returns:
        (N,) array of group ids, or None when the table has no subject ids at all.
    """
    if "subject" not in df.columns:
        return None
    subjects = df["subject"].fillna("").astype(str).to_numpy()
    if not (subjects != "").any():
        return None
    own = df["path"].astype(str).to_numpy() if "path" in df.columns else np.arange(len(df)).astype(str)
    return np.array([f"subject:{s}" if s else f"image:{p}" for s, p in zip(subjects, own)])


def _check_counts(df: pd.DataFrame, groups: np.ndarray | None, needed: int, what: str) -> None:
    """Each class needs at least ``needed`` images (or subjects) to appear in every part."""
    unit = "subjects" if groups is not None else "images"
    keys = pd.Series(groups if groups is not None else np.arange(len(df)), index=df.index)
    counts = keys.groupby(df["label"].to_numpy()).nunique()
    too_few = counts[counts < needed]
    if not too_few.empty:
        listed = ", ".join(f"'{label}' has {n}" for label, n in too_few.items())
        raise DatasetError(
            f"Too few {unit} per class for {what}: {listed}; at least {needed} per class are needed. "
            f"Add data for these classes, or ask for fewer parts."
        )


def _holdout(df: pd.DataFrame, n_held: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions (kept, held out) with about ``n_held`` held out, stratified (and grouped)."""
    positions = np.arange(len(df))
    if n_held <= 0:
        return positions, positions[:0]
    fraction = n_held / len(df)
    labels = df["label"].to_numpy()
    groups = subject_groups(df)
    try:
        if groups is None:
            kept, held = train_test_split(positions, test_size=n_held, random_state=seed,
                                          stratify=labels)
            return np.sort(kept), np.sort(held)
        # k folds of which one is held out: the fraction is met to within one fold's rounding.
        n_splits = max(2, round(1 / fraction))
        splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        kept, held = next(splitter.split(positions, labels, groups))
        return kept, held
    except ValueError as error:  # sklearn's message is about arrays, not about the dataset
        raise DatasetError(
            f"Cannot hold out {fraction:.0%} of {len(df)} images stratified by class: {error} "
            f"Use a larger dataset or a different fraction."
        ) from error


def _check_fractions(val_fraction: float, test_fraction: float) -> None:
    for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0 <= value < 1:
            raise DatasetError(f"{name} must be in [0, 1), got {value}.")
    if val_fraction + test_fraction >= 1:
        raise DatasetError(
            f"val_fraction + test_fraction = {val_fraction + test_fraction} leaves nothing to train on; "
            "it must be below 1."
        )


def split_dataset(df: pd.DataFrame, val_fraction: float = 0.15, test_fraction: float = 0.15,
                  seed: int = 42, respect_source: bool = False) -> dict[str, pd.DataFrame]:
    """Split a dataset table into train, val and test.

    Args:
        df: the table from read_dataset.
        val_fraction: share of all images for validation (of the non-test images when
            respect_source=True).
        test_fraction: share of all images for testing (ignored when respect_source=True).
        seed: makes the split reproducible.
        respect_source: use the published test folder (``source == "Testing"``) as test.

    Returns:
        {"train", "val", "test"} -> DataFrames (index reset); no subject is in two of them.

    Raises:
        DatasetError: bad fractions, too few images/subjects per class, or no published test
            folder when respect_source=True.
    """
    _check_table(df)
    _check_fractions(val_fraction, 0.0 if respect_source else test_fraction)
    if respect_source:
        is_test = df.get("source", pd.Series("", index=df.index)).astype(str).str.lower() == PUBLISHED_TEST
        if not is_test.any():
            raise DatasetError(
                "respect_source=True needs a published test folder (source 'Testing', as in the Kaggle "
                "Brain Tumor MRI dataset); this dataset has none. Use respect_source=False."
            )
        rest, test = df[~is_test.to_numpy()], df[is_test.to_numpy()]
        n_val = round(val_fraction * len(rest))
    else:
        needed = 1 + (val_fraction > 0) + (test_fraction > 0)
        _check_counts(df, subject_groups(df), needed, f"a {needed}-way split")
        kept, held = _holdout(df, round(test_fraction * len(df)), seed)
        rest, test = df.iloc[kept], df.iloc[held]
        n_val = round(val_fraction * len(df))
    if val_fraction > 0:
        _check_counts(rest, subject_groups(rest), 2, "a train/val split")
    kept, held = _holdout(rest, n_val, seed)
    parts = {"train": rest.iloc[kept], "val": rest.iloc[held], "test": test}
    for name, part in parts.items():
        missing = set(df["label"]) - set(part["label"])
        if len(part) and missing:
            log.warning("Split '%s' has no images of class(es) %s.", name, ", ".join(sorted(missing)))
    log.info("Split %d images: %s.", len(df), ", ".join(f"{k} {len(v)}" for k, v in parts.items()))
    return {name: part.reset_index(drop=True) for name, part in parts.items()}


def kfold_splits(df: pd.DataFrame, k: int = 10, seed: int = 42) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified k folds for cross-validation, grouped by subject when subjects are known.

    Args:
        df: the table from read_dataset.
        k: number of folds (>= 2).
        seed: makes the folds reproducible.

    Returns:
        k pairs (train positions, test positions) into ``df`` (use ``df.iloc``).

    Raises:
        DatasetError: k < 2, or a class with fewer than k images (subjects).
    """
    _check_table(df)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 2:
        raise DatasetError(f"k must be an integer of at least 2, got {k!r}.")
    groups = subject_groups(df)
    _check_counts(df, groups, k, f"{k}-fold cross-validation")
    labels = df["label"].to_numpy()
    positions = np.zeros(len(df))
    if groups is None:
        folds = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(positions, labels)
    else:
        folds = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed).split(
            positions, labels, groups)
    return [(np.asarray(train), np.asarray(test)) for train, test in folds]
