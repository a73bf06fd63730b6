"""Contact sheet of image pairs by perceptual-hash distance: look at it to choose the duplicate threshold.

    python -m core.data.duplicate_sheet --task breast_us --data $MEDIMG_DATA/busi --out runs/dupes-busi.png

Each row holds up to six sampled pairs of one distance band (0, 1-3, 4, 5-6, 7-8 bits of 64), captioned with the
distance and both labels. Pairs at or under ``core.data.duplicates.MAX_DISTANCE`` are what the splitter keeps in
one split: every pair shown there should be the same picture.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from core.atomic import atomic_write
from core.data._images import load_image
from core.data.duplicates import MAX_DISTANCE, _phash
from core.data.readers import read_dataset

BANDS = ((0, 0), (1, 3), (4, 4), (5, 6), (7, 8))
TILE = 96
PAIRS_PER_BAND = 6


def pair_distances(paths: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i, j, distance) of every pair i < j within 8 bits of each other."""
    hashes = np.array([_phash(p) for p in paths], dtype=np.uint64)
    rows, cols, dist = [], [], []
    for start in range(0, len(hashes), 512):
        d = np.bitwise_count(hashes[start:start + 512, None] ^ hashes[None, :])
        i, j = np.nonzero(d <= 8)
        keep = start + i < j
        rows.append(start + i[keep])
        cols.append(j[keep])
        dist.append(d[i[keep], j[keep]])
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(dist)


def _tile(path: str) -> np.ndarray:
    return cv2.resize(load_image(path), (TILE, TILE), interpolation=cv2.INTER_AREA)


def contact_sheet(paths: list[str], labels: list[str], seed: int = 0) -> np.ndarray:
    """RGB uint8 sheet: one row of sampled pairs per distance band."""
    rows_i, cols_j, dist = pair_distances(paths)
    rng = np.random.default_rng(seed)
    blank = np.zeros((TILE + 4, 2 * TILE + 4, 3), np.uint8)
    rows = []
    for low, high in BANDS:
        idx = np.nonzero((dist >= low) & (dist <= high))[0]
        pick = rng.choice(idx, min(PAIRS_PER_BAND, len(idx)), replace=False) if len(idx) else []
        tiles = []
        for k in pick:
            a, b = rows_i[k], cols_j[k]
            pair = np.concatenate([_tile(paths[a]), _tile(paths[b])], axis=1)
            caption = f"{dist[k]}{'*' if dist[k] <= MAX_DISTANCE else ''} {labels[a][:4]}/{labels[b][:4]}"
            cv2.putText(pair, caption, (2, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 0), 1)
            tiles.append(np.pad(pair, ((2, 2), (2, 2), (0, 0))))
        tiles += [blank] * (PAIRS_PER_BAND - len(tiles))
        rows.append(np.concatenate(tiles, axis=1))
    return np.concatenate(rows, axis=0)


def main(argv: Sequence[str] | None = None) -> Path:
    """Command-line entry: read the dataset, write the sheet, print where it is."""
    parser = argparse.ArgumentParser(prog="python -m core.data.duplicate_sheet", description=__doc__.splitlines()[0])
    parser.add_argument("--task", required=True)
    parser.add_argument("--data", required=True, help="dataset folder in any layout core.data reads")
    parser.add_argument("--out", required=True, help="PNG to write")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    df = read_dataset(args.data, args.task)
    sheet = contact_sheet(df["path"].astype(str).tolist(), df["label"].astype(str).tolist(), args.seed)
    ok, png = cv2.imencode(".png", cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(out) as handle:
        handle.write(png.tobytes())
    print(f"pairs by pHash distance (* = called a copy, threshold {MAX_DISTANCE}): {out}")
    return out


if __name__ == "__main__":
    main()
