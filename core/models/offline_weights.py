"""ImageNet weight files kept on disk, found by name and checked by sha256 before Keras reads them.

Hospital and CI machines have no internet, so a backbone whose ImageNet file is shipped beside the
project (``core.paths.WEIGHTS_DIR``, ``$MEDIMG_WEIGHTS``) or in Keras' own folder is loaded from there.
Every file is compared with the ``MANIFEST.sha256`` of its folder when the manifest lists it (and with
the digest recorded here otherwise), so a truncated or swapped file is refused before training on it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

from core import paths
from core.digest import sha256_file

MANIFEST_NAME = "MANIFEST.sha256"


class WeightsFileError(ValueError):
    """An offline weights file is missing or is not the file it claims to be."""


@dataclass(frozen=True)
class OfflineWeights:
    """One published ImageNet weights file.

    Attributes:
        file_name: Keras' own name for it (what ``keras.applications`` downloads).
        sha256: the published file's digest.
        source: where a user with internet gets it.
    """

    file_name: str
    sha256: str
    source: str


#: registry name -> the ImageNet file it loads when asked for ``weights="imagenet"`` offline.
OFFLINE_WEIGHTS: Mapping[str, OfflineWeights] = MappingProxyType({
    "mobilenet": OfflineWeights(
        "mobilenet_2_5_224_tf_no_top.h5",
        "dbdb03ee2a22fd895301636cd328b234bb3a9952358f436d82f46b81e0d5b0bf",
        "https://storage.googleapis.com/tensorflow/keras-applications/mobilenet/mobilenet_2_5_224_tf_no_top.h5",
    ),
})


def manifest_digest(path: Path) -> str | None:
    """The digest ``MANIFEST.sha256`` beside ``path`` records for it, or None if none does."""
    manifest = path.parent / MANIFEST_NAME
    if not manifest.is_file():
        return None
    for line in manifest.read_text(encoding="utf-8", errors="replace").splitlines():
        parts = line.split()
        if len(parts) == 2 and Path(parts[1]).name == path.name:
            return parts[0].lower()
    return None


def verify_weights_file(path: str | Path, expected: str | None = None) -> Path:
    """Check that a weights file exists and matches its manifest (or ``expected``).

    Args:
        path: the weights file.
        expected: digest to require when no manifest beside the file lists it.

    Returns:
        The path, as a ``Path``.

    Raises:
        WeightsFileError: the file is missing or its sha256 differs from the record.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise WeightsFileError(f"The weights file '{path}' does not exist.")
    wanted = manifest_digest(path) or expected
    if wanted is not None and sha256_file(path) != wanted:
        raise WeightsFileError(
            f"The weights file '{path}' does not match its recorded sha256 ({wanted[:12]}...): it is damaged or "
            "a different file. Copy it again from its source."
        )
    return path


def offline_imagenet_file(backbone: str) -> Path | None:
    """The checked ImageNet file of ``backbone`` on this machine, or None if it has no offline entry.

    Looks in ``core.paths.WEIGHTS_DIR`` then in Keras' weights folder.

    Raises:
        WeightsFileError: the backbone has an entry but its file is in neither folder, or is damaged.
    """
    entry = OFFLINE_WEIGHTS.get(backbone)
    if entry is None:
        return None
    candidates = [paths.WEIGHTS_DIR / entry.file_name, paths.KERAS_WEIGHTS_DIR / entry.file_name]
    for candidate in candidates:
        if candidate.is_file():
            return verify_weights_file(candidate, entry.sha256)
    raise WeightsFileError(
        f"The ImageNet weights for '{backbone}' ({entry.file_name}) were not found in "
        f"{' or '.join(str(c.parent) for c in candidates)}. Download {entry.source} and put it in one of those "
        "folders (or set $MEDIMG_WEIGHTS), or pass --weights <path to the file>."
    )
