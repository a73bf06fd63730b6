"""Read a dataset folder, as published, into one table of labelled image paths.

Each public layout has a reader with a ``detect(root)`` test; ``read_dataset`` tries
them in registry order (most specific first, the generic class-per-folder layout
last) unless one is forced. Everything not taken as a sample (masks, notes, folders
of other classes, names the layout cannot parse) is reported, never silently dropped.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd

from core.data.errors import DatasetError
from core.tasks import Task, get_task

log = logging.getLogger(__name__)

COLUMNS = ("path", "label", "subject", "source")

#: BUSI masks: ``benign (1)_mask.png``, ``benign (1)_mask_1.png``.
_MASK = re.compile(r"_mask(_\d+)?$", re.IGNORECASE)
#: C-NMC cells: ``UID_11_10_1_all.bmp``, ``UID_H10_43_1_hem.bmp`` (subject, image, cell, class).
_CNMC_NAME = re.compile(r"^UID_([A-Za-z]*\d+)_(\d+)_(\d+)_([A-Za-z]+)$", re.IGNORECASE)

Record = dict[str, str]
Skipped = list[tuple[str, str]]


def _children(folder: Path) -> list[Path]:
    return sorted(folder.iterdir(), key=lambda p: p.name)


def _subdir(folder: Path, name: str) -> Path | None:
    """The child folder called ``name``, ignoring case (published zips vary)."""
    if not folder.is_dir():
        return None
    for child in _children(folder):
        if child.is_dir() and child.name.lower() == name.lower():
            return child
    return None


def _self_or_child(root: Path, name: str) -> Path | None:
    """Accept the root pointing at the dataset folder itself or at its parent."""
    if root.name.lower() == name.lower():
        return root
    return _subdir(root, name)


def _is_sample(path: Path, task: Task, skipped: Skipped) -> bool:
    if path.name.startswith("."):
        skipped.append((str(path), "hidden file"))
        return False
    if path.suffix.lower() not in task.file_types:
        skipped.append((str(path), f"not an image file ({path.suffix or 'no extension'})"))
        return False
    if _MASK.search(path.stem):
        skipped.append((str(path), "segmentation mask, not a sample"))
        return False
    return True


def _read_class_folders(base: Path, task: Task, source: str, skipped: Skipped,
                        ignore: tuple[str, ...] = ()) -> list[Record]:
    """``base/<class>/**/<image>``; class folders matched to the task case-insensitively."""
    by_name = {c.lower(): c for c in task.classes}
    records: list[Record] = []
    for child in _children(base):
        if not child.is_dir():
            if child.name.lower() not in ignore:
                skipped.append((str(child), "file outside a class folder"))
            continue
        label = by_name.get(child.name.lower())
        if label is None:
            if child.name.lower() not in ignore:
                skipped.append((str(child), f"folder is not a class of task '{task.id}' "
                                            f"({', '.join(task.classes)})"))
            continue
        for path in sorted(child.rglob("*")):
            if path.is_file() and _is_sample(path, task, skipped):
                records.append({"path": str(path), "label": label, "subject": "", "source": source})
    return records


# --- Kaggle Brain Tumor MRI: Training/<class>/Tr-gl_0001.jpg, Testing/<class>/Te-gl_0001.jpg

_KAGGLE_SPLITS = ("Training", "Testing")


def _detect_kaggle(root: Path) -> bool:
    return any(_subdir(root, s) is not None for s in _KAGGLE_SPLITS)


def _read_kaggle(root: Path, task: Task, skipped: Skipped) -> list[Record]:
    records: list[Record] = []
    for split in _KAGGLE_SPLITS:
        folder = _subdir(root, split)
        if folder is not None:
            records += _read_class_folders(folder, task, split, skipped)
    for child in _children(root):
        if child.name.lower() not in {s.lower() for s in _KAGGLE_SPLITS}:
            skipped.append((str(child), "not a Training/Testing folder"))
    return records


# --- Br35H / "brain_tumor_dataset": yes/, no/ (any case), mixed-case names with spaces

_BR35H_FOLDERS = ("brain_tumor_dataset", "br35h")


def _br35h_base(root: Path) -> Path | None:
    if _subdir(root, "yes") is not None and _subdir(root, "no") is not None:
        return root
    for name in _BR35H_FOLDERS:
        child = _subdir(root, name)
        if child is not None and _subdir(child, "yes") is not None:
            return child
    return None


def _read_br35h(root: Path, task: Task, skipped: Skipped) -> list[Record]:
    # The navoneel zip holds yes/no twice (at the top and in brain_tumor_dataset/): read one copy.
    base = _br35h_base(root) or root
    return _read_class_folders(base, task, "", skipped)


# --- BUSI: Dataset_BUSI_with_GT/<class>/benign (1).png (+ _mask.png, _mask_1.png)

_BUSI_FOLDER = "Dataset_BUSI_with_GT"


def _read_busi(root: Path, task: Task, skipped: Skipped) -> list[Record]:
    return _read_class_folders(_self_or_child(root, _BUSI_FOLDER) or root, task, "", skipped)


# --- C-NMC 2019: C-NMC_training_data/fold_<k>/{all,hem}/UID_<subject>_<n>_<m>_<class>.bmp

_CNMC_FOLDER = "C-NMC_training_data"


def _cnmc_base(root: Path) -> Path | None:
    base = _self_or_child(root, _CNMC_FOLDER)
    if base is not None:
        return base
    return root if any(p.is_dir() and p.name.lower().startswith("fold_") for p in _children(root)) else None


def _read_cnmc(root: Path, task: Task, skipped: Skipped) -> list[Record]:
    base = _cnmc_base(root) or root
    records: list[Record] = []
    for fold in _children(base):
        if not (fold.is_dir() and fold.name.lower().startswith("fold_")):
            skipped.append((str(fold), "not a fold_<k> folder"))
            continue
        for record in _read_class_folders(fold, task, fold.name, skipped):
            match = _CNMC_NAME.match(Path(record["path"]).stem)
            if match is None:
                skipped.append((record["path"], "name is not UID_<subject>_<image>_<cell>_<class>"))
            elif match.group(4).lower() != record["label"]:
                skipped.append((record["path"], f"name says '{match.group(4)}' but the folder "
                                                f"says '{record['label']}'"))
            else:
                records.append({**record, "subject": match.group(1).upper()})
    return records


# --- generic: <root>/<class>/* for any task (synthetic folders, user data)

def _detect_class_folders(root: Path) -> bool:
    return any(p.is_dir() for p in _children(root))


def _read_generic(root: Path, task: Task, skipped: Skipped) -> list[Record]:
    return _read_class_folders(root, task, "", skipped)


@dataclass(frozen=True)
class Layout:
    """One on-disk dataset layout.

    Attributes:
        name: registry key, accepted as ``read_dataset(..., layout=name)``.
        example: what a valid folder looks like, for error messages.
        detect: True when ``root`` looks like this layout.
        read: (root, task, skipped) -> records; appends (path, reason) to skipped.
    """

    name: str
    example: str
    detect: Callable[[Path], bool]
    read: Callable[[Path, Task, Skipped], list[Record]]


_LAYOUTS = (
    Layout("cnmc", "C-NMC_training_data/fold_0/all/UID_11_10_1_all.bmp",
           lambda root: _cnmc_base(root) is not None, _read_cnmc),
    Layout("busi", "Dataset_BUSI_with_GT/benign/benign (1).png",
           lambda root: _self_or_child(root, _BUSI_FOLDER) is not None, _read_busi),
    Layout("kaggle_brain_mri", "Training/glioma/Tr-gl_0001.jpg and Testing/glioma/Te-gl_0001.jpg",
           _detect_kaggle, _read_kaggle),
    Layout("br35h", "yes/Y1.jpg and no/no 1.jpg (optionally inside brain_tumor_dataset/)",
           lambda root: _br35h_base(root) is not None, _read_br35h),
    Layout("class_folders", "<class>/<image> for each class of the task, e.g. glioma/img1.png",
           _detect_class_folders, _read_generic),
)

#: layout name -> Layout, in detection order (most specific first).
LAYOUTS: dict[str, Layout] = {layout.name: layout for layout in _LAYOUTS}


def detect_layout(root: str | Path) -> str | None:
    """Name of the first layout whose ``detect`` accepts ``root``, or None."""
    root = Path(root)
    return next((name for name, layout in LAYOUTS.items() if layout.detect(root)), None)


def _no_images_message(root: Path, task: Task, tried: str, skipped: Skipped) -> str:
    reasons = Counter(reason for _, reason in skipped)
    found = "; ".join(f"{n} x {reason}" for reason, n in reasons.most_common(3))
    layouts = "\n".join(f"  - {name}: {layout.example}" for name, layout in LAYOUTS.items())
    return (
        f"No images for task '{task.id}' (classes: {', '.join(task.classes)}) were found in "
        f"'{root}' (layout tried: {tried}). " + (f"Skipped: {found}. " if found else "")
        + f"A valid dataset folder looks like one of:\n{layouts}"
    )


def read_dataset(root: str | Path, task_id: str | Task, layout: str | None = None) -> pd.DataFrame:
    """List a dataset's labelled images.

    Args:
        root: the dataset folder as unpacked (or, for BUSI and C-NMC, its parent).
        task_id: the task whose classes the folders are matched against.
        layout: force a key of LAYOUTS instead of detecting it.

    Returns:
        DataFrame sorted by path with columns path, label (class id), subject ("" if
        unknown), source (published split folder, e.g. "Training" or "fold_0", else "");
        ``attrs``: "skipped" [(path, reason)], "layout", "task", "root".

    Raises:
        DatasetError: root missing, unknown layout, or no images for the task's classes.
    """
    task = get_task(task_id)
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DatasetError(f"Dataset folder '{root}' does not exist or is not a folder.")
    if layout is not None and layout not in LAYOUTS:
        raise DatasetError(f"Unknown dataset layout '{layout}'; choose one of: {', '.join(LAYOUTS)}.")
    name = layout or detect_layout(root)
    skipped: Skipped = []
    records = LAYOUTS[name].read(root, task, skipped) if name else []
    if not records:
        raise DatasetError(_no_images_message(root, task, name or "none matched", skipped))
    df = pd.DataFrame.from_records(records, columns=list(COLUMNS))
    df = df.sort_values("path", kind="stable").reset_index(drop=True)
    df.attrs.update(skipped=sorted(skipped), layout=name, task=task.id, root=str(root))
    counts = ", ".join(f"{c}: {n}" for c, n in df["label"].value_counts().reindex(task.classes).fillna(0)
                       .astype(int).items())
    log.info("Read %d images from '%s' (layout %s; %s); skipped %d entries.",
             len(df), root, name, counts, len(skipped))
    return df
