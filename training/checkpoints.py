"""Resuming from checkpoints that a kill or a full disk may have damaged.

Keras' ``BackupAndRestore(double_checkpoint=True)`` keeps the previous epoch's backup beside the
latest and falls back to it when the latest cannot be read. This module checks a run's checkpoint
folder before ``--resume`` uses it, so that no damaged file reaches Keras: a damaged latest backup
with a good previous one is left to Keras' fallback; with no good backup the phase restarts from
its beginning (the end of the previous phase, whose weights are kept); a damaged "phase done"
file is removed so that the phase runs again. Each fallback is logged as a sentence.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

log = logging.getLogger(__name__)

LATEST, METADATA = "latest.weights.h5", "training_metadata.json"


def readable_weights(path: Path) -> bool:
    """True when ``path`` is an HDF5 weights file whose every dataset can be read."""
    import h5py

    try:
        with h5py.File(path, "r") as h5:
            h5.visititems(lambda _, item: item[()] if isinstance(item, h5py.Dataset) else None)
        return True
    except Exception:  # noqa: BLE001  truncated or garbled files raise OSError, KeyError, ValueError...
        return False


def _readable_json(path: Path) -> bool:
    try:
        json.loads(path.read_text(encoding="utf-8"))
        return True
    except (OSError, ValueError):
        return False


def _backup_ok(folder: Path, suffix: str = "") -> bool:
    weights, metadata = folder / (LATEST + suffix), folder / (METADATA + suffix)
    return weights.is_file() and readable_weights(weights) and (not metadata.exists() or _readable_json(metadata))


def recover(checkpoint_dir: Path) -> list[str]:
    """Make a run's checkpoint folder safe to resume from, falling back past damaged files.

    Args:
        checkpoint_dir: ``<run>/checkpoints`` (one sub-folder per phase, ``<phase>.done.weights.h5`` files).

    Returns:
        The sentences logged, one per fallback taken (empty when everything was readable).
    """
    said = []
    if not checkpoint_dir.is_dir():
        return said
    for marker in sorted(checkpoint_dir.glob("*.done.weights.h5")):
        if not readable_weights(marker):
            marker.unlink()
            said.append(f"The end-of-phase checkpoint {marker.name} was damaged; that phase will run again.")
    for phase in sorted(p for p in checkpoint_dir.iterdir() if p.is_dir()):
        if not any(phase.iterdir()) or _backup_ok(phase):
            continue
        if _backup_ok(phase, ".bkp"):
            for name in (LATEST, METADATA):  # Keras copies the .bkp over these when they fail to load
                (phase / name).unlink(missing_ok=True)
                if (phase / f"{name}.bkp").exists():
                    shutil.copyfile(phase / f"{name}.bkp", phase / name)
            said.append(f"The latest checkpoint of phase '{phase.name}' was damaged; resuming from the epoch before.")
        else:
            shutil.rmtree(phase)
            said.append(f"No readable checkpoint of phase '{phase.name}' is left; that phase restarts from its "
                        "beginning (earlier phases are kept).")
    for sentence in said:
        log.warning(sentence)
    return said
