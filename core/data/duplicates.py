"""Leakage guard: the same image (or a re-saved, resized, brightened copy) in two splits.

Public medical datasets are assembled from several sources and contain copies; a copy
of a training image in the test split inflates test accuracy. Exact copies are found by
the sha256 of the file bytes, near copies by the perceptual hash (DCT pHash) of the
decoded pixels, which survives resizing, recompression and mild brightness changes.
"""

from __future__ import annotations

import hashlib

import imagehash
import numpy as np
import pandas as pd
from PIL import Image

from core.data._images import load_image
from core.data.errors import DatasetError
from core.data.splits import SPLITS

COLUMNS = ("path_a", "split_a", "path_b", "split_b", "distance", "kind")
#: Rows of one split compared per block, to bound memory on 10k-image datasets.
_BLOCK = 1024


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


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
        sha = {p: _sha256(p) for p in unique}
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

