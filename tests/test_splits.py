"""Splits: stratified, seeded, no subject and no image copy in two splits."""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
import pytest

from core.data import (
    DatasetError,
    drop_cross_split_duplicates,
    find_cross_split_duplicates,
    kfold_splits,
    read_dataset,
    split_dataset,
)
from core.phantoms import write_dataset


def _table(counts: dict[str, int], subjects_per_class: int | None = None, source: str = "") -> pd.DataFrame:
    rows = []
    for label, n in counts.items():
        for i in range(n):
            subject = f"{label}{i % subjects_per_class}" if subjects_per_class else ""
            rows.append({"path": f"/d/{label}/{i:04d}.png", "label": label, "subject": subject,
                         "source": source})
    return pd.DataFrame(rows)


def test_split_sizes_follow_the_fractions_and_cover_every_image():
    df = _table({"a": 60, "b": 40})
    parts = split_dataset(df, val_fraction=0.15, test_fraction=0.15, seed=0)
    assert list(parts) == ["train", "val", "test"]
    assert [len(parts[k]) for k in parts] == [70, 15, 15]
    assert sorted(pd.concat(parts.values())["path"]) == sorted(df["path"])


def test_splits_are_stratified():
    df = _table({"a": 80, "b": 20})
    parts = split_dataset(df, 0.2, 0.2, seed=1)
    for part in parts.values():
        assert part["label"].value_counts(normalize=True)["b"] == pytest.approx(0.2, abs=0.03)


def test_same_seed_same_split_other_seed_other_split():
    df = _table({"a": 30, "b": 30})
    first, again, other = (split_dataset(df, seed=s) for s in (7, 7, 8))
    assert all(first[k].equals(again[k]) for k in first)
    assert set(first["test"]["path"]) != set(other["test"]["path"])


def test_no_subject_appears_in_two_splits():
    df = _table({"all": 120, "hem": 80}, subjects_per_class=10)
    parts = split_dataset(df, 0.15, 0.15, seed=3)
    subjects = {name: set(part["subject"]) for name, part in parts.items()}
    assert not subjects["train"] & subjects["val"]
    assert not subjects["train"] & subjects["test"]
    assert not subjects["val"] & subjects["test"]
    assert all(set(part["label"]) == {"all", "hem"} for part in parts.values())
    # grouping keeps the fractions roughly right (one subject is ~5 % of the images)
    assert 0.08 < len(parts["test"]) / len(df) < 0.25


def test_respect_source_uses_the_published_testing_folder():
    df = pd.concat([_table({"glioma": 20, "notumor": 20}, source="Training"),
                    _table({"glioma": 5, "notumor": 5}, source="Testing").assign(
                        path=lambda t: t["path"].str.replace("/d/", "/t/"))], ignore_index=True)
    parts = split_dataset(df, val_fraction=0.25, respect_source=True, seed=0)
    assert set(parts["test"]["source"]) == {"Testing"} and len(parts["test"]) == 10
    assert set(parts["train"]["source"]) == set(parts["val"]["source"]) == {"Training"}
    assert len(parts["val"]) == 10


def test_respect_source_without_a_published_test_folder_is_an_error():
    with pytest.raises(DatasetError, match="no.*published test|published test folder"):
        split_dataset(_table({"a": 10, "b": 10}), respect_source=True)


def test_zero_validation_fraction_gives_an_empty_val_split():
    parts = split_dataset(_table({"a": 10, "b": 10}), val_fraction=0, test_fraction=0.2)
    assert len(parts["val"]) == 0 and len(parts["test"]) == 4


@pytest.mark.parametrize("counts", [{"a": 20, "b": 2}, {"a": 20, "b": 1}])
def test_a_class_too_small_to_split_is_a_clear_error(counts):
    with pytest.raises(DatasetError, match="'b' has"):
        split_dataset(_table(counts), 0.15, 0.15)


@pytest.mark.parametrize("val, test", [(-0.1, 0.1), (0.1, 1.0), (0.5, 0.5)])
def test_bad_fractions_are_rejected(val, test):
    with pytest.raises(DatasetError, match="fraction"):
        split_dataset(_table({"a": 10, "b": 10}), val, test)


def test_kfold_every_image_is_tested_exactly_once_and_folds_are_stratified():
    df = _table({"a": 50, "b": 30, "c": 20})
    folds = kfold_splits(df, k=5, seed=0)
    assert len(folds) == 5
    tested = np.concatenate([test for _, test in folds])
    assert sorted(tested) == list(range(len(df)))
    for train, test in folds:
        assert not set(train) & set(test)
        assert df.iloc[test]["label"].value_counts().to_dict() == {"a": 10, "b": 6, "c": 4}


def test_kfold_keeps_subjects_together():
    df = _table({"all": 60, "hem": 60}, subjects_per_class=6)
    for train, test in kfold_splits(df, k=3, seed=0):
        assert not set(df.iloc[train]["subject"]) & set(df.iloc[test]["subject"])


def test_kfold_is_deterministic_with_a_seed():
    df = _table({"a": 20, "b": 20})
    assert all(np.array_equal(x[1], y[1]) for x, y in zip(kfold_splits(df, 4, 5), kfold_splits(df, 4, 5)))


def test_kfold_with_more_folds_than_a_class_has_images_is_a_clear_error():
    with pytest.raises(DatasetError, match="10-fold.*'b' has 4"):
        kfold_splits(_table({"a": 40, "b": 4}), k=10)
    with pytest.raises(DatasetError, match="subjects"):
        kfold_splits(_table({"a": 40, "b": 40}, subjects_per_class=3), k=5)


def test_empty_table_is_a_clear_error():
    with pytest.raises(DatasetError, match="empty"):
        split_dataset(_table({}).reindex(columns=["path", "label", "subject", "source"]))


# --- leakage guard ------------------------------------------------------------------------

def _scene(seed: int) -> np.ndarray:
    """A distinct, smooth 64x64 picture (random blobs), so pHash has structure to see."""
    rng = np.random.default_rng(seed)
    image = np.zeros((64, 64, 3), np.uint8)
    for _ in range(6):
        x, y, r = rng.integers(0, 64), rng.integers(0, 64), rng.integers(5, 18)
        cv2.circle(image, (int(x), int(y)), int(r), tuple(int(c) for c in rng.integers(40, 255, 3)), -1)
    return cv2.GaussianBlur(image, (5, 5), 0)


def _save(path, image) -> str:
    cv2.imwrite(str(path), image)
    return str(path)


@pytest.fixture
def leaky_splits(tmp_path):
    train = [_save(tmp_path / f"train_{i}.png", _scene(i)) for i in range(4)]
    exact = tmp_path / "test_exact.png"
    exact.write_bytes(open(train[0], "rb").read())
    brighter = cv2.resize(np.clip(_scene(1).astype(int) + 12, 0, 255).astype(np.uint8), (80, 80))
    near = _save(tmp_path / "test_near.jpg", brighter)
    test = [str(exact), near] + [_save(tmp_path / f"test_{i}.png", _scene(100 + i)) for i in range(3)]
    val = [_save(tmp_path / f"val_{i}.png", _scene(200 + i)) for i in range(2)]
    def table(paths: list[str]) -> pd.DataFrame:
        return pd.DataFrame({"path": paths, "label": "a", "subject": "", "source": ""})

    return {"train": table(train), "val": table(val), "test": table(test)}, train


def test_exact_and_near_copies_across_splits_are_reported(leaky_splits):
    splits, train = leaky_splits
    report = find_cross_split_duplicates(splits)
    assert list(report.columns) == ["path_a", "split_a", "path_b", "split_b", "distance", "kind"]
    pairs = {(row.path_a, row.path_b.rsplit("/", 1)[1], row.kind) for row in report.itertuples()}
    assert pairs == {(train[0], "test_exact.png", "exact"), (train[1], "test_near.jpg", "near")}
    assert set(report["split_a"]) == {"train"} and set(report["split_b"]) == {"test"}


def test_dropping_duplicates_removes_them_from_test_never_from_train(leaky_splits):
    splits, _ = leaky_splits
    cleaned, report = drop_cross_split_duplicates(splits)
    assert len(report) == 2
    assert cleaned["train"].equals(splits["train"]) and cleaned["val"].equals(splits["val"])
    assert len(cleaned["test"]) == 3
    assert not cleaned["test"]["path"].str.contains("exact|near").any()
    assert find_cross_split_duplicates(cleaned).empty


def test_unrelated_images_are_not_flagged(leaky_splits):
    splits, _ = leaky_splits
    splits["test"] = splits["test"].iloc[2:]
    assert find_cross_split_duplicates(splits).empty


def test_bad_duplicate_threshold_is_rejected(leaky_splits):
    with pytest.raises(DatasetError, match="max_distance"):
        find_cross_split_duplicates(leaky_splits[0], max_distance=65)


def test_phantom_cnmc_split_keeps_every_subject_in_one_split(tmp_path):
    df = read_dataset(write_dataset("blood_smear", tmp_path, per_class=24, seed=0, size=32), "blood_smear")
    parts = split_dataset(df, 0.2, 0.2, seed=0)
    owners = pd.concat([p.assign(split=name) for name, p in parts.items()]).groupby("subject")["split"]
    assert owners.nunique().max() == 1
    assert sum(len(p) for p in parts.values()) == len(df)
