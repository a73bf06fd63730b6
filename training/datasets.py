"""From a config to split tables and tf.data pipelines, plus what the card says about the data."""

from __future__ import annotations

import hashlib
import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from core import data as core_data
from core.data import duplicates
from core.digest import sha256_file
from core.serving.provenance import portable_path
from core.tasks import Task, get_task
from training.config import ConfigError, TrainConfig

log = logging.getLogger(__name__)

KIND_REAL = "real"
KIND_PHANTOMS = "synthetic-phantoms"


@dataclass
class PreparedData:
    """Split tables of one run and the provenance the model card records.

    Attributes:
        splits: "train", "val", "test" -> tables from core.data (path, label, subject, source).
        training_data: the card's ``training_data`` section.
        duplicates: cross-split duplicate pairs that were dropped (empty without --dedupe).
    """

    splits: dict[str, pd.DataFrame]
    training_data: dict
    duplicates: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def split_sizes(self) -> dict[str, int]:
        return {name: int(len(df)) for name, df in self.splits.items()}


def input_size(cfg: TrainConfig, task: Task) -> tuple[int, int]:
    """(height, width) of the model input: the config's square size, else the task's."""
    return (cfg.image_size, cfg.image_size) if cfg.image_size else tuple(task.input_size)


def limit_per_class(df: pd.DataFrame, limit: int | None, seed: int) -> pd.DataFrame:
    """At most ``limit`` images of each class, drawn with a seed (whole table when None)."""
    if not limit:
        return df
    parts = [group.sample(n=min(limit, len(group)), random_state=seed) for _, group in df.groupby("label", sort=True)]
    return pd.concat(parts).sort_values("path", kind="stable").reset_index(drop=True)


def _phantom_manifest(root: Path) -> dict | None:
    """What core.phantoms wrote about a folder it generated, or None for a real dataset."""
    try:
        from core import phantoms
    except ImportError:
        return None
    reader = getattr(phantoms, "read_manifest", None)
    if reader is not None:
        return reader(root)
    name = getattr(phantoms, "MANIFEST_NAME", "phantoms.json")
    for folder in (root, *root.parents[:2]):
        if (folder / name).is_file():
            return json.loads((folder / name).read_text(encoding="utf-8"))
    return None


def describe_training_data(cfg: TrainConfig, task: Task, layout: str | None) -> dict:
    """The card's ``training_data`` section: real dataset or phantoms (detected or from flags).

    Raises:
        ConfigError: ``--kind synthetic-phantoms`` on a folder that carries no generator seed,
            and no ``--generator-seed`` was given.
    """
    root = Path(cfg.data)
    manifest = _phantom_manifest(root)
    kind = cfg.kind or (KIND_PHANTOMS if manifest else KIND_REAL)
    section = {"dataset": task.dataset.name, "kind": kind, "root": portable_path(root), "layout": layout}
    if cfg.extra_data:
        section["extra_roots"] = [portable_path(extra) for extra in cfg.extra_data]
    if kind == KIND_REAL:
        section.update(citation=task.dataset.citation, licence=task.dataset.licence)
    if kind == KIND_PHANTOMS:
        manifest = manifest or {}
        seed = cfg.generator_seed if cfg.generator_seed is not None else manifest.get("seed")
        if seed is None:
            raise ConfigError(
                f"'{root}' is declared synthetic phantoms but records no generator seed; pass --generator-seed."
            )
        section.update(
            dataset=f"synthetic phantoms in the layout of {task.dataset.name}",
            generator_version=str(manifest.get("generator_version") or _generator_version()),
            seed=int(seed),
        )
    return section


def file_list_digest(paths_: list[str], sha256s: list[str] | None = None) -> str:
    """sha256 over the sorted sha256s of the files: names the exact images used, whatever their paths.

    ``sha256s`` are the files' digests when already known (the duplicate grouping computes them).
    """
    digests = sorted(sha256s if sha256s is not None else (sha256_file(p) for p in paths_))
    return hashlib.sha256("\n".join(digests).encode()).hexdigest()


def _generator_version() -> str:
    try:
        from core import phantoms

        return str(getattr(phantoms, "GENERATOR_VERSION", None) or phantoms.__version__)
    except (ImportError, AttributeError):
        import core

        return core.__version__


def prepare_data(cfg: TrainConfig) -> PreparedData:
    """Read, subsample, split and de-duplicate the dataset of a config.

    Args:
        cfg: the training config (data, task, limit, fractions, seed, respect_source, dedupe).

    Returns:
        PreparedData with non-empty train, val and test tables.

    Raises:
        core.data.DatasetError: unreadable dataset or too few images for the split.
    """
    df = read_table(cfg)
    splits = core_data.split_dataset(df, cfg.val_fraction, cfg.test_fraction, cfg.seed, cfg.respect_source)
    return finish_splits(cfg, splits, df.attrs.get("layout"), df.attrs)


def read_table(cfg: TrainConfig) -> pd.DataFrame:
    """The dataset table of a config, limited per class when ``--limit`` is set."""
    df = core_data.read_dataset(cfg.data, cfg.task)
    layout = df.attrs.get("layout")
    for extra in cfg.extra_data or ():
        # e.g. training.export_feedback's class-per-folder export beside the public dataset
        more = core_data.read_dataset(extra, cfg.task)
        df = pd.concat([df, more.assign(source=more.get("source", "").astype(str) + f" [{Path(extra).name}]")],
                       ignore_index=True)
    df = limit_per_class(df, cfg.limit, cfg.seed)
    read = len(df)
    summary = None
    if cfg.dedupe:
        # Copies of one picture share a group id used as subject, so every split keeps them together.
        df, summary = duplicates.group_duplicates(df)
    df.attrs.update(layout=layout, images_read=read, duplicate_groups=summary)
    return df


def fold_data(cfg: TrainConfig, df: pd.DataFrame, train_idx: np.ndarray, test_idx: np.ndarray) -> PreparedData:
    """One cross-validation fold: its test part as given, a validation part held out of the rest."""
    rest = df.iloc[train_idx].reset_index(drop=True)
    splits = core_data.split_dataset(rest, cfg.val_fraction, 0.0, cfg.seed)
    splits["test"] = df.iloc[test_idx].reset_index(drop=True)
    attrs = {**df.attrs, "images_read": None}  # a fold uses part of the table: no read-count check
    return finish_splits(cfg, splits, df.attrs.get("layout"), attrs)


def finish_splits(cfg: TrainConfig, splits: dict[str, pd.DataFrame], layout: str | None,
                  attrs: dict | None = None) -> PreparedData:
    """Check no copy straddles two splits, no split is empty, every image is accounted for; describe the data.

    Copies were grouped before splitting (:func:`read_table`); any left across splits (a published test
    folder is kept as published) are dropped from the later split and counted as images.

    Raises:
        core.data.DatasetError: an empty split, or images lost between reading and splitting.
    """
    attrs = attrs or {}
    pairs = pd.DataFrame()
    if cfg.dedupe:
        splits, pairs = core_data.drop_cross_split_duplicates(splits, duplicates.MAX_DISTANCE)
        if len(pairs):
            log.warning("Dropped %d val/test images that copy an image of an earlier split.",
                        pairs["path_b"].nunique())
    empty = [name for name, part in splits.items() if part.empty]
    if empty:
        raise core_data.DatasetError(
            f"The {' and '.join(empty)} split{'s are' if len(empty) > 1 else ' is'} empty after splitting "
            f"(and removing duplicates); add images or change --val-fraction/--test-fraction."
        )
    section = describe_training_data(cfg, get_task(cfg.task), layout)
    summary = attrs.get("duplicate_groups")
    cross = int(pairs["path_b"].nunique()) if len(pairs) else 0
    conflicts = summary.dropped_label_conflicts if summary else 0
    section["duplicates_dropped"] = cross + conflicts
    section["duplicates"] = {**(summary.to_dict() if summary else {}), "dropped_across_splits": cross}
    kept = sum(len(part) for part in splits.values())
    read = attrs.get("images_read")
    if read is not None:
        if read != kept + cross + conflicts:
            raise core_data.DatasetError(
                f"{read} images were read but the splits hold {kept} and {cross + conflicts} were dropped: "
                "images were lost while splitting. This is a bug; please report it with the dataset layout."
            )
        section["images_read"] = int(read)
    used = pd.concat(list(splits.values()), ignore_index=True)
    section["images_per_class"] = {str(k): int(v) for k, v in used["label"].value_counts().sort_index().items()}
    known = used["sha256"].tolist() if "sha256" in used.columns and used["sha256"].notna().all() else None
    section["file_list_sha256"] = file_list_digest(used["path"].astype(str).tolist(), known)
    return PreparedData(splits, section, pairs)


def write_splits(data: PreparedData, path: Path) -> Path:
    """Which image went to which split (path, label, subject, split), for audit and reuse."""
    table = pd.concat([df.assign(split=name) for name, df in data.splits.items()], ignore_index=True)
    tmp = path.with_name(f".{path.name}.tmp")
    table.to_csv(tmp, index=False)
    tmp.replace(path)
    return path


def steps_per_epoch(n_images: int, cfg: TrainConfig) -> int:
    """Batches in one epoch, capped by ``max_steps``."""
    steps = math.ceil(n_images / cfg.batch_size)
    return min(steps, cfg.max_steps) if cfg.max_steps else steps


def pipelines(data: PreparedData, cfg: TrainConfig):
    """tf.data pipelines and train steps per epoch: train shuffled, augmented and endless (an epoch is
    the steps given to ``fit``: one pass over the images, or ``max_steps`` batches), val in order."""
    task = get_task(cfg.task)
    size = input_size(cfg, task)
    train = core_data.make_dataset(data.splits["train"], task, size, cfg.batch_size, training=True, seed=cfg.seed,
                                   repeat=True)
    val = core_data.make_dataset(data.splits["val"], task, size, cfg.batch_size, training=False, seed=cfg.seed)
    if cfg.max_steps:
        val = val.take(cfg.max_steps)
    return train, val, steps_per_epoch(len(data.splits["train"]), cfg)


def labels_of(df: pd.DataFrame, task_id: str) -> np.ndarray:
    """Class positions of a table in the task's output order."""
    return core_data.label_indices(df, task_id)
