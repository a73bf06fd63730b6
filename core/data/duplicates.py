"""Leakage guard: the same image (or a re-saved, resized, brightened copy) in two splits.

Public medical datasets are assembled from several sources and contain copies; a copy
of a training image in the test split inflates test accuracy. Exact copies are found by
the sha256 of the file bytes, near copies by the perceptual hash (DCT pHash) of the
decoded pixels, which survives resizing, recompression and mild brightness changes.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

import imagehash
import numpy as np
import pandas as pd
from PIL import Image
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from core.data._images import load_image
from core.digest import sha256_file
from core.data.errors import DatasetError
from core.data.splits import SPLITS

COLUMNS = ("path_a", "split_a", "path_b", "split_b", "distance", "kind")
#: Largest pHash Hamming distance (of 64 bits) called a copy. Validated on the real brain MRI, Br35H and BUSI
#: folders by contact sheets of sampled pairs (``python -m core.data.duplicate_sheet``): at 0-4 every sampled pair is
#: the same picture re-encoded, re-windowed or resized; from 6 on, different slices of similar heads appear.
MAX_DISTANCE = 4
#: ``subject`` given to the members of one duplicate group, so grouped splitting keeps them together.
GROUP_PREFIX = "dup:"
#: Rows of one split compared per block, to bound memory on 10k-image datasets.
_BLOCK = 1024


def _phash(path: str) -> np.uint64:
    bits = imagehash.phash(Image.fromarray(load_image(path))).hash.flatten()
    return np.uint64(int("".join("1" if b else "0" for b in bits), 2))


def _ordered(splits: dict[str, pd.DataFrame]) -> list[str]:
    """Train first, then val, then test (then any other name): duplicates leave the later split."""
    rank = {name: i for i, name in enumerate(SPLITS)}
    return sorted(splits, key=lambda name: (rank.get(name, len(rank)), list(splits).index(name)))


def find_cross_split_duplicates(splits: dict[str, pd.DataFrame], max_distance: int = 4) -> pd.DataFrame:
    """Pairs of identical or near-identical images that sit in different splits.

    Args:
        splits: split name -> table with a ``path`` column (as split_dataset returns).
        max_distance: largest pHash Hamming distance (of 64 bits) still called a copy.

    Returns:
        DataFrame with columns path_a, split_a, path_b, split_b, distance, kind
        ("exact": same bytes; "near": same picture re-encoded); split_a is always the
        earlier split (train < val < test).

    Raises:
        DatasetError: bad max_distance, or a file that cannot be read.
    """
    if isinstance(max_distance, bool) or not isinstance(max_distance, (int, np.integer)) \
            or not 0 <= max_distance <= 64:
        raise DatasetError(f"max_distance must be an integer from 0 to 64, got {max_distance!r}.")
    names = _ordered(splits)
    paths = {name: splits[name]["path"].astype(str).tolist() for name in names}
    unique = sorted({p for ps in paths.values() for p in ps})
    try:
        sha = {p: sha256_file(p) for p in unique}
    except OSError as error:
        raise DatasetError(f"Cannot read '{error.filename}' to check for duplicates: {error.strerror}.") \
            from error
    phash = {p: _phash(p) for p in unique}
    rows = []
    for i, name_a in enumerate(names):
        hashes_a = np.array([phash[p] for p in paths[name_a]], dtype=np.uint64)
        for name_b in names[i + 1:]:
            hashes_b = np.array([phash[p] for p in paths[name_b]], dtype=np.uint64)
            for start in range(0, len(hashes_a), _BLOCK):
                block = hashes_a[start:start + _BLOCK]
                distances = np.bitwise_count(block[:, None] ^ hashes_b[None, :])
                for ia, ib in zip(*np.nonzero(distances <= max_distance)):
                    path_a, path_b = paths[name_a][start + ia], paths[name_b][ib]
                    kind = "exact" if sha[path_a] == sha[path_b] else "near"
                    rows.append((path_a, name_a, path_b, name_b, int(distances[ia, ib]), kind))
    report = pd.DataFrame(rows, columns=list(COLUMNS))
    return report.sort_values(["split_b", "path_b", "path_a"], kind="stable").reset_index(drop=True)


def drop_cross_split_duplicates(splits: dict[str, pd.DataFrame], max_distance: int = 4
                                ) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """Remove cross-split copies from the later split (val or test), never from train.

    Args:
        splits: split name -> table with a ``path`` column.
        max_distance: as in find_cross_split_duplicates.

    Returns:
        (new splits with the same keys and index reset, report of the pairs found, one
        row per pair; the image dropped is ``path_b`` from ``split_b``).
    """
    report = find_cross_split_duplicates(splits, max_distance)
    new_splits = {}
    for name, table in splits.items():
        drop = set(report.loc[report["split_b"] == name, "path_b"])
        keep = ~table["path"].astype(str).isin(drop)
        new_splits[name] = table[keep.to_numpy()].reset_index(drop=True)
    return new_splits, report



@dataclass(frozen=True)
class DuplicateSummary:
    """What grouping copies did to a dataset table (the card's ``duplicates`` section).

    Attributes:
        max_distance: pHash threshold used.
        groups: groups of two or more copies of one picture.
        images_in_groups: images that belong to such a group (kept together in one split).
        dropped_label_conflicts: images dropped because copies of one picture carry different labels.
    """

    max_distance: int
    groups: int
    images_in_groups: int
    dropped_label_conflicts: int

    def to_dict(self) -> dict:
        return asdict(self)


def duplicate_groups(paths: list[str], max_distance: int = MAX_DISTANCE,
                     sha256s: list[str] | None = None) -> np.ndarray:
    """Group id per image: images linked by equal bytes or a pHash distance <= ``max_distance`` share one.

    Args:
        paths: image files.
        max_distance: pHash Hamming threshold (0-64).
        sha256s: the files' digests when the caller already has them.

    Returns:
        (N,) int array; a group of size one is an image with no copy.

    Raises:
        DatasetError: a file that cannot be read.
    """
    if not paths:
        return np.zeros(0, dtype=int)
    try:
        sha = sha256s if sha256s is not None else [sha256_file(p) for p in paths]
    except OSError as error:
        raise DatasetError(f"Cannot read '{error.filename}' to check for duplicates: {error.strerror}.") from error
    hashes = np.array([_phash(p) for p in paths], dtype=np.uint64)
    rows, cols = [], []
    for start in range(0, len(hashes), _BLOCK):
        block = hashes[start:start + _BLOCK]
        close = np.nonzero(np.bitwise_count(block[:, None] ^ hashes[None, :]) <= max_distance)
        rows.append(close[0] + start)
        cols.append(close[1])
    by_bytes: dict[str, int] = {}
    for i, digest in enumerate(sha):  # exact copies whose pixels hash apart (e.g. a damaged decode) still link
        rows.append(np.array([i]))
        cols.append(np.array([by_bytes.setdefault(digest, i)]))
    r, c = np.concatenate(rows), np.concatenate(cols)
    graph = coo_matrix((np.ones(len(r), dtype=np.int8), (r, c)), shape=(len(paths), len(paths)))
    return connected_components(graph, directed=False)[1]


def group_duplicates(df: pd.DataFrame, max_distance: int = MAX_DISTANCE) -> tuple[pd.DataFrame, DuplicateSummary]:
    """Tie copies of one picture together before splitting, so that no copy straddles two splits.

    Rows of a duplicate group with no subject id get ``subject = "dup:<n>"`` (grouped splitting keeps a
    subject in one split); groups whose copies carry different labels are dropped as ambiguous.

    Args:
        df: table from read_dataset (``path``, ``label``, ``subject`` columns).
        max_distance: pHash Hamming threshold.

    Returns:
        (the table without the ambiguous rows, with a ``sha256`` column, and its summary);
        ``len(df) == len(result) + dropped``.
    """
    if isinstance(max_distance, bool) or not isinstance(max_distance, (int, np.integer)) \
            or not 0 <= max_distance <= 64:
        raise DatasetError(f"max_distance must be an integer from 0 to 64, got {max_distance!r}.")
    paths = df["path"].astype(str).tolist()
    try:
        sha = [sha256_file(p) for p in paths]
    except OSError as error:
        raise DatasetError(f"Cannot read '{error.filename}' to check for duplicates: {error.strerror}.") from error
    groups = duplicate_groups(paths, max_distance, sha)
    sizes = np.bincount(groups) if len(groups) else np.zeros(0, dtype=int)
    in_group = sizes[groups] > 1
    labels_per_group = pd.Series(df["label"].to_numpy()).groupby(groups).nunique()
    conflict = labels_per_group.reindex(groups).to_numpy() > 1
    out = df.copy()
    subject = out["subject"].fillna("").astype(str) if "subject" in out.columns else pd.Series("", index=out.index)
    tie = in_group & (subject.to_numpy() == "")
    subject[tie] = [f"{GROUP_PREFIX}{g}" for g in groups[tie]]
    out["subject"] = subject.to_numpy()
    out["sha256"] = sha  # the card's file-list digest reuses it instead of reading every file again
    out = out[~conflict].reset_index(drop=True)
    out.attrs.update(df.attrs)
    summary = DuplicateSummary(int(max_distance), int((sizes > 1).sum()), int(in_group.sum()), int(conflict.sum()))
    return out, summary
